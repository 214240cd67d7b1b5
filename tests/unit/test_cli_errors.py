"""How the CLI words errors a user can act on (one line, path and what is needed)."""

from __future__ import annotations

import errno
from pathlib import Path

from facility.cli import path_error, user_error
from facility.errors import ConfigError, StorageError


def test_file_system_errors_name_the_path_and_what_is_needed() -> None:
    var = Path("/srv/facility/var")
    denied = PermissionError(errno.EACCES, "Permission denied", str(var / "gateway"))
    assert path_error(denied, var).startswith(
        "/srv/facility/var/gateway: permission denied: this user needs write access to it "
        "(runtime data lives under [paths] var_dir = /srv/facility/var"
    )
    read_only = OSError(errno.EROFS, "Read-only file system", "/mnt/ro/x.spool")
    assert path_error(read_only, var) == (
        "/mnt/ro/x.spool: read-only file system: it needs a writable one"
    )


def test_sqlite_that_cannot_open_says_the_directory_must_be_writable() -> None:
    error = StorageError("spool /v/collector/c.spool: cannot open: unable to open database file")
    message = user_error(error)
    assert message is not None
    assert message.startswith(str(error))
    assert "must exist and be writable by this user" in message


def test_a_task_group_of_user_errors_is_said_once_and_a_bug_is_not_hidden() -> None:
    group = ExceptionGroup("tasks", [ConfigError("bad port"), ConfigError("bad port")])
    assert user_error(group) == "bad port"
    assert user_error(ExceptionGroup("tasks", [ConfigError("x"), KeyError("bug")])) is None
    assert user_error(OSError("no filename: a bug")) is None
