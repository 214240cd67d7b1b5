"""``facility profiles``: check, list and document device profiles."""

from __future__ import annotations

from pathlib import Path

import click

from device_profiles.doc import GENERATED_MARK, render_docs
from device_profiles.loader import CheckResult, check_paths, library_paths
from device_profiles.models import DeviceProfile
from facility.config import Settings
from facility.errors import ProfileError

DEFAULT_DOC_DIR = Path("docs/devices")

_paths_argument = click.argument(
    "paths", nargs=-1, type=click.Path(path_type=Path, exists=False, dir_okay=True)
)


def _shown(path: Path) -> str:
    """A path as the user should read it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _check(paths: tuple[Path, ...]) -> CheckResult:
    """Check the profiles named by ``paths``; default: the shipped library and the site
    folders (``[profiles] dirs``)."""
    if paths:
        return check_paths(list(paths))
    settings: Settings = click.get_current_context().find_root().obj
    return check_paths([Path(_shown(p)) for p in library_paths(settings.profiles.dirs)])


def generated_files(directory: Path) -> list[Path]:
    """The Markdown files in ``directory`` written by ``profiles doc`` (they carry its mark)."""
    if not directory.is_dir():
        return []
    return sorted(
        path
        for path in directory.glob("*.md")
        if GENERATED_MARK in path.read_text(encoding="utf-8")
    )


def _valid(paths: tuple[Path, ...]) -> dict[str, DeviceProfile]:
    result = _check(paths)
    if result.issues:
        raise ProfileError(result.issues)
    return result.profiles


@click.group()
def group() -> None:
    """Validate and document device profiles."""


@group.command()
@_paths_argument
def check(paths: tuple[Path, ...]) -> None:
    """Validate profiles (files or directories; default: the shipped library and the site
    folders of ``[profiles] dirs``).

    Prints every problem as ``file:line: field: message`` and exits 1 if there is any.
    """
    result = _check(paths)
    for issue in result.issues:
        click.echo(str(issue))
    if result.issues:
        files = {issue.file for issue in result.issues}
        errors = "error" if len(result.issues) == 1 else "errors"
        click.echo(
            f"{len(result.issues)} {errors} in {len(files)} file(s); "
            f"{len(result.profiles)} of {len(result.files)} profiles OK"
        )
        raise SystemExit(1)
    click.echo(f"{len(result.profiles)} profiles OK")


@group.command("list")
@_paths_argument
def list_profiles(paths: tuple[Path, ...]) -> None:
    """List profiles: id, class, protocol, points, alarms, PM plans."""
    profiles = _valid(paths)
    width = max((len(pid) for pid in profiles), default=2)
    click.echo(f"{'id':<{width}}  class  protocol  points  alarms  pm_plans")
    for pid, profile in sorted(profiles.items()):
        click.echo(
            f"{pid:<{width}}  {profile.device_class.value:<5}  {profile.protocol:<8}  "
            f"{len(profile.points):>6}  {len(profile.alarms):>6}  {len(profile.pm_plans):>8}"
        )


@group.command()
@_paths_argument
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_DOC_DIR,
    show_default=True,
    help="Directory to write one Markdown file per profile (and README.md) into.",
)
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Write nothing; exit 1 if the files in --out differ from what would be written.",
)
def doc(paths: tuple[Path, ...], out_dir: Path, check_only: bool) -> None:
    """Write a Markdown register-map reference per profile (default: the shipped library and
    the site folders)."""
    docs = render_docs(_valid(paths))
    changed = [
        name
        for name, text in docs.items()
        if not (out_dir / name).is_file() or (out_dir / name).read_text(encoding="utf-8") != text
    ]
    orphans = [p.name for p in generated_files(out_dir) if p.name not in docs]
    if check_only:
        for name in changed:
            click.echo(
                f"{out_dir / name}: out of date; run `facility profiles doc --out {out_dir}`"
            )
        for name in orphans:
            click.echo(f"{out_dir / name}: no such profile any more; remove the file")
        if changed or orphans:
            raise SystemExit(1)
        click.echo(f"{len(docs)} files in {out_dir} up to date")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in changed:
        # Write then rename: a reader never sees half a file.
        target = out_dir / name
        partial = target.with_name(f".{name}.tmp")
        partial.write_text(docs[name], encoding="utf-8")
        partial.replace(target)
    for name in orphans:
        (out_dir / name).unlink()
    click.echo(
        f"{len(changed)} of {len(docs)} files written to {out_dir}"
        + (f", {len(orphans)} removed" if orphans else "")
    )
