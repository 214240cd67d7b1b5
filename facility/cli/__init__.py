"""The ``facility`` command line: a thin root over the parts' command groups.

Each part owns its commands (``collectors/cli/``, ``gateway/cli/``, ``maintenance/cli/``,
``simulators/cli.py``, ``device_profiles/cli.py``, ``dashboards/cli.py``, ``devtools/demo.py``);
the root names each group's module by one line and imports it only when invoked, so
``facility --help`` stays fast, a broken optional part cannot take down the others, and this
ground-floor package imports no part. Errors from the project's exception tree are printed as
one clear message and exit non-zero; a traceback is never the user-facing answer.
"""

from __future__ import annotations

import errno
import importlib
import logging
import sys
from pathlib import Path
from typing import Any

import click

from facility.config import activate, load_settings
from facility.errors import FacilityError, StorageError

# name -> ("module" or "module:attribute" (default: group), help). One line per command
# group, the way plugins register; the strings are imported only when the group is invoked.
GROUPS: dict[str, tuple[str, str]] = {
    "profiles": ("device_profiles.cli", "Validate and document device profiles."),
    "ledger": ("maintenance.cli.ledger", "The ledger of numbered assets: import, export, number."),
    "sim": ("simulators.cli", "Run the simulated estates and inject faults."),
    "collect": ("collectors.cli.collect", "Poll devices and publish their readings to MQTT."),
    "probe": ("collectors.cli.probe", "Work out a point's type, word order and scale."),
    "gateway": ("gateway.cli.gateway", "MQTT into InfluxDB (historian) and the alarm engine."),
    "history": ("gateway.cli.history", "Query a point's history (any range, or as CSV)."),
    "alarms": ("gateway.cli.alarms", "List, acknowledge and shelve alarms; alarm KPIs."),
    "bus": ("gateway.cli.bus", "The MQTT bus: broker accounts and ACL (closed bus)."),
    # maintenance's commands (maintenance/cli/), wired to the plant's telemetry one floor up
    "pm": ("gateway.cli.plant:pm", "Preventive-maintenance plans and the work-order generator."),
    "wo": ("gateway.cli.plant:wo", "Work orders: list, show, assign, start, complete, close."),
    "report": ("gateway.cli.report_wiring:report", "Daily checks, weekly and monthly reports."),
    "users": ("maintenance.cli.users", "Users, roles and estates; the audit trail."),
    "login": ("maintenance.cli.users:login", "Sign in: later commands act as you."),
    "logout": ("maintenance.cli.users:logout", "End your session."),
    "whoami": ("maintenance.cli.users:whoami", "Who the commands act as."),
    "demo": ("devtools.demo", "Run the whole system on the demo estates (make demo)."),
    "dashboard": (
        "dashboards.cli",
        "The Dash dashboard: live status, alarms, work orders, history, KPIs.",
    ),
}


# what main() needs to word an error after click's context is gone
_state: dict[str, Path] = {}
# what SQLite says when a database or spool file cannot be created or written
_SQLITE_CANNOT_WRITE = ("unable to open database file", "attempt to write a readonly database")


class LazyGroup(click.Group):
    """A click group that imports subcommand groups on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *GROUPS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in GROUPS:
            module_name, _, attribute = GROUPS[cmd_name][0].partition(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                # the group's own module (or its part) is missing, not something it imports
                missing = exc.name or ""
                if not (module_name == missing or module_name.startswith(missing + ".")):
                    raise
                raise click.UsageError(f"'{cmd_name}' is not part of this build yet") from None
            command: click.Command = getattr(module, attribute or "group")
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, help_text) in sorted(GROUPS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="facility.toml to read (default: $FACILITY_CONFIG or ./facility.toml).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: bool) -> None:
    """Facility telemetry and maintenance for residential estates."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    if not verbose:
        # libraries' routine chatter (migrations run, sessions opened) is not news to a user
        logging.getLogger("alembic").setLevel(logging.WARNING)
        # pymodbus logs an ERROR with a hex dump on every timeout and asyncua a traceback on
        # every lost server (PITFALLS): the collector says once per device when it goes and
        # once when it comes back; the libraries' own account is for -v
        for noisy in ("asyncua", "pymodbus"):
            logging.getLogger(noisy).setLevel(logging.CRITICAL)
    ctx.obj = activate(load_settings(config_path))
    _state["var_dir"] = ctx.obj.paths.var_dir


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI, turning project errors into one message and exit code 2."""
    try:
        return cli.main(args=argv, prog_name="facility", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (FacilityError, OSError, BaseExceptionGroup) as exc:
        message = user_error(exc)
        if message is None:
            raise  # a bug: its traceback is the useful answer
        click.echo(f"error: {message}", err=True)
        sys.exit(2)


def user_error(exc: BaseException) -> str | None:
    """The message for an error the user can act on, or None if it is a bug.

    Project errors say themselves; a file-system error names its path and what is needed (the
    spool and database directories are created under ``[paths] var_dir``); a task group that
    failed only with such errors says each once.
    """
    if isinstance(exc, StorageError) and any(m in str(exc) for m in _SQLITE_CANNOT_WRITE):
        # SQLite says only "unable to open database file": say what it needs
        return f"{exc} (its directory must exist and be writable by this user{_var_hint()})"
    if isinstance(exc, FacilityError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        return path_error(exc, _state.get("var_dir"))
    if isinstance(exc, BaseExceptionGroup):
        messages = [user_error(e) for e in exc.exceptions]
        if messages and all(m is not None for m in messages):
            return "\n".join(dict.fromkeys(m for m in messages if m is not None))
    return None


def path_error(exc: OSError, var_dir: Path | None) -> str:
    """One line for a file that cannot be created, opened or written."""
    path = Path(exc.filename)
    if isinstance(exc, PermissionError):
        what = "permission denied: this user needs write access to it"
    elif isinstance(exc, NotADirectoryError | FileExistsError):
        what = "cannot be created: part of the path is a file, not a directory"
    elif exc.errno == errno.EROFS:
        what = "read-only file system: it needs a writable one"
    else:
        what = (exc.strerror or str(exc)).lower()
    message = f"{path}: {what}"
    if var_dir is not None and path.is_relative_to(var_dir):
        message += (
            f" (runtime data lives under [paths] var_dir = {var_dir}, "
            "$FACILITY_PATHS__VAR_DIR: it must be a directory this user can write)"
        )
    return message


def _var_hint() -> str:
    var_dir = _state.get("var_dir")
    if var_dir is None:
        return ""
    return f"; runtime data lives under [paths] var_dir = {var_dir}, $FACILITY_PATHS__VAR_DIR"


if __name__ == "__main__":
    main()
