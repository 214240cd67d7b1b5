"""The project's one exception tree.

Library errors (pymodbus ``isError()`` responses, asyncua ``UaStatusCodeError``, HTTP errors,
SQLAlchemy errors) are translated into these classes in the module that wraps the library;
nothing above that module sees a library exception.

    FacilityError
     ├── ConfigError            bad configuration, profile, ledger row or command argument
     │    ├── ProfileError      a device profile that does not validate
     │    └── LedgerError       a ledger import/number request that cannot be applied
     ├── CommError              cannot reach a device, broker or server (connect, timeout)
     │    └── DeviceBusyError   the device answered "busy, try later" (Modbus exception 6)
     ├── ProtocolError          the peer answered, but with an error or a malformed frame
     └── StorageError           the database, spool or historian refused or lost a write
"""

from __future__ import annotations

from dataclasses import dataclass


class FacilityError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(FacilityError):
    """Configuration, profile, ledger or argument that does not validate."""


@dataclass(frozen=True)
class Issue:
    """One validation problem, located in its source: ``file:line: field: message``."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class IssuesError(ConfigError):
    """Several located problems found at once (a profile or an import is checked whole)."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class ProfileError(IssuesError):
    """A device profile that does not validate."""


class LedgerError(IssuesError):
    """A ledger change that cannot be applied (nothing was changed)."""


class CommError(FacilityError):
    """A device or server could not be reached or did not answer in time."""


class DeviceBusyError(CommError):
    """The device answered that it is busy (Modbus exception 6)."""


class ProtocolError(FacilityError):
    """The peer answered with an error (e.g. a Modbus exception code) or a malformed frame."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class StorageError(FacilityError):
    """The database, spool or historian refused or lost a write."""


class AuthError(FacilityError):
    """Who is acting could not be established: unknown user, wrong password, locked account,
    expired or tampered session/token. The message never says which of user and password was
    wrong."""


class PermissionDenied(AuthError):
    """The person is known, but their role or estate scope does not allow the action."""
