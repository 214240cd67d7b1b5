"""Load profile files into frozen models; every error names file, line and field.

The text is read within bounds, with the line of every location (``yaml_source``), migrated
to the current ``schema_version`` (``migrations``) and validated by the pydantic models;
each error becomes an ``Issue`` (``error_text``) such as::

    pump.yaml:31: points[3] (discharge_pressure).modbus.type: unknown data type 'float';
        expected one of: bool, int16, uint16, ...

All the errors of a file are reported together, including the cross-checks between points,
alarms and plans for the parts that did validate. This module also finds the profile files
(the shipped library, then the site folders) and checks that each id is used once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from device_profiles.error_text import Located, describe, field_text, validation_issues
from device_profiles.migrations import migrate
from device_profiles.models import (
    AlarmDefinition,
    DeviceProfile,
    PmPlan,
    Point,
    Problem,
    cross_check,
)
from device_profiles.yaml_source import compose, size_issue, structure_issue, yaml_issue
from facility.errors import Issue, ProfileError

log = logging.getLogger(__name__)

LIBRARY_DIR = Path(__file__).parent / "library"
PROFILE_SUFFIXES = (".yaml", ".yml")


# --- partial cross-checks ----------------------------------------------------------------


def _partial_cross_check(data: Mapping[str, Any]) -> list[Problem]:
    """The whole-profile checks over the items that validate on their own.

    pydantic only runs the whole-profile validator when every field is valid; checking the
    valid items anyway reports overlaps, duplicates and bad references in the same pass.
    """

    def each(key: str, model: type[BaseModel]) -> tuple[list[Any], list[str]]:
        raw = data.get(key)
        items: list[Any] = []
        invalid: list[str] = []
        for item in raw if isinstance(raw, list) else ():
            try:
                items.append(model.model_validate(item))
            except ValidationError:
                items.append(None)
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    invalid.append(item["name"])
        return items, invalid

    points, invalid_points = each("points", Point)
    alarms, invalid_alarms = each("alarms", AlarmDefinition)
    plans, _ = each("pm_plans", PmPlan)
    protocol = data.get("protocol")
    return cross_check(
        protocol if protocol in ("modbus", "opcua") else None,
        None,  # bad poll periods are reported on their own; absent ones default to all
        points,
        alarms,
        plans,
        invalid_points,
        invalid_alarms,
    )


# --- public API ----------------------------------------------------------------------------


def parse_profile(text: str, file: str) -> tuple[DeviceProfile | None, list[Issue]]:
    """Validate profile YAML text; ``file`` names it in issues and its stem is the id.

    Returns the profile (None if any issue) and every issue found, ordered by line.
    Input beyond the limits of facility/limits.py (size, nesting, aliases) is refused with
    one located issue before anything is built.
    """
    too_large = size_issue(len(text.encode("utf-8", "surrogatepass")), file)
    if too_large is not None:
        return None, [too_large]
    try:
        try:
            beyond = structure_issue(text, file)
        except yaml.YAMLError:
            beyond = structure_issue(text, file, yaml.SafeLoader)
    except yaml.YAMLError as exc:
        return None, [yaml_issue(exc, file, text)]
    if beyond is not None:
        return None, [beyond]
    try:
        try:
            data, lines, found = compose(text)
        except yaml.YAMLError:
            data, lines, found = compose(text, yaml.SafeLoader)
    except yaml.YAMLError as exc:
        return None, [yaml_issue(exc, file, text)]
    if data is None:
        return None, [Issue(file, None, "", "empty file; expected a device profile")]
    if not isinstance(data, dict):
        return None, [
            Issue(
                file,
                lines.get(()),
                "",
                f"expected a mapping of profile fields (schema_version, id, ...), "
                f"got {describe(data)}",
            )
        ]
    issues = [Issue(file, line, field_text(data, loc), message) for loc, line, message in found]
    stem = Path(file).stem
    profile_id = data.get("id")
    if isinstance(profile_id, str) and profile_id != stem:
        issues.append(
            Issue(
                file,
                lines.get(("id",)),
                "id",
                f"profile id {profile_id!r} must equal the file name {stem!r}; "
                f"rename the file to {profile_id}.yaml or set id: {stem}",
            )
        )
    migrated, migration = migrate(data)
    located = Located(file, data, migrated, lines, migration)
    issues.extend(located.issue(loc, msg) for loc, msg in migration.problems)
    if migration.from_version is None:
        return None, _ordered(issues)
    profile: DeviceProfile | None = None
    try:
        profile = DeviceProfile.model_validate(migrated)
    except ValidationError as exc:
        invalid, whole_ran = validation_issues(exc, located)
        issues.extend(invalid)
        if not whole_ran:
            for problem in _partial_cross_check(migrated):
                see = located.see(problem.see) if problem.see is not None else None
                issues.append(located.issue(problem.loc, problem.render(see)))
    if issues:
        return None, _ordered(issues)
    if migration.from_version != migrated["schema_version"]:
        log.info(
            "profile=%s migrated from schema_version %s in memory", stem, migration.from_version
        )
    return profile, []


def _ordered(issues: list[Issue]) -> list[Issue]:
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda i: i.line if i.line is not None else 0)


def validate_profile(path: Path) -> tuple[DeviceProfile | None, list[Issue]]:
    """Read and validate one profile file; never raises for a bad file."""
    try:
        # never read a file far beyond the limit into memory
        too_large = size_issue(path.stat().st_size, str(path))
        if too_large is not None:
            return None, [too_large]
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Issue(str(path), None, "", "no such file")]
    except UnicodeDecodeError as exc:
        return None, [
            Issue(str(path), None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        ]
    except OSError as exc:
        return None, [Issue(str(path), None, "", f"cannot be read: {exc.strerror}")]
    return parse_profile(text, str(path))


def load_profile(path: Path) -> DeviceProfile:
    """Load and validate one profile file; raise ProfileError listing every issue."""
    profile, issues = validate_profile(path)
    if profile is None:
        raise ProfileError(issues)
    return profile


def profile_files(paths: Iterable[Path]) -> tuple[list[Path], list[Issue]]:
    """The profile files named by ``paths`` (files, or directories of ``*.yaml``)."""
    files: list[Path] = []
    issues: list[Issue] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in PROFILE_SUFFIXES)
            if not found:
                issues.append(Issue(str(path), None, "", "no profile files (*.yaml) here"))
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            issues.append(Issue(str(path), None, "", "no such file or directory"))
    return files, issues


@dataclass(frozen=True)
class CheckResult:
    """Profiles that validated (by id), every issue found, and the files read."""

    profiles: dict[str, DeviceProfile]
    issues: list[Issue]
    files: list[Path]


def check_paths(paths: Iterable[Path]) -> CheckResult:
    """Validate the profiles named by ``paths`` (files or directories); never raises.

    Issues come in the order of ``paths``, then of the files in each directory.
    """
    profiles: dict[str, DeviceProfile] = {}
    issues: list[Issue] = []
    checked: list[Path] = []
    where: dict[str, Path] = {}
    for named in paths:
        files, missing = profile_files([named])
        issues.extend(missing)
        for path in files:
            checked.append(path)
            profile, found = validate_profile(path)
            issues.extend(found)
            if profile is None:
                continue
            if profile.id in where:
                issues.append(
                    Issue(
                        str(path),
                        None,
                        "id",
                        f"profile id {profile.id!r} is also used by {where[profile.id]}; "
                        "expected each id once",
                    )
                )
                continue
            profiles[profile.id] = profile
            where[profile.id] = path
    return CheckResult(profiles, issues, checked)


def check_profiles(paths: Iterable[Path]) -> list[Issue]:
    """Every issue of the profiles named by ``paths`` (files or directories); [] when valid."""
    return check_paths(paths).issues


def load_profiles(paths: Iterable[Path]) -> dict[str, DeviceProfile]:
    """Every profile named by ``paths``, keyed by id; ProfileError listing all issues."""
    result = check_paths(paths)
    if result.issues:
        raise ProfileError(result.issues)
    return result.profiles


def site_profile_dirs() -> list[Path]:
    """The site profile folders of this process's configuration (``[profiles] dirs``)."""
    from facility.config import active_settings

    return list(active_settings().profiles.dirs)


def library_paths(site_dirs: Sequence[Path] | None = None) -> list[Path]:
    """The shipped library, then the site folders (default: ``[profiles] dirs``).

    The shipped models come first, so a site file that reuses a shipped id is the one
    reported (naming both files). An existing but empty site folder is fine (a new site);
    a folder that does not exist is an error, like any path named that is not there.
    """
    dirs = site_profile_dirs() if site_dirs is None else list(site_dirs)
    return [LIBRARY_DIR] + [
        d for d in dirs if not d.is_dir() or any(p.suffix in PROFILE_SUFFIXES for p in d.iterdir())
    ]


def load_library(
    directory: Path | None = None, *, site_dirs: Sequence[Path] | None = None
) -> dict[str, DeviceProfile]:
    """Every profile of the library, keyed by profile id: the shipped models and the site
    folders' (``site_dirs``, default ``[profiles] dirs``); or only those of ``directory``."""
    if directory is not None:
        return load_profiles([directory])
    return load_profiles(library_paths(site_dirs))
