"""The OPC UA collector's errors: the project's tree (facility.errors) with a short stable
``error_code`` for counters and health readings.

    CommError      OpcuaCommError      refused, timeout, closed, session_lost, stale
    ConfigError    OpcuaConfigError    untrusted_certificate, security_rejected, auth_failed,
                                       no_endpoint, bad_security
    ProtocolError  OpcuaProtocolError  the server's status name, e.g. BadTooManySubscriptions
"""

from __future__ import annotations

from facility.errors import CommError, ConfigError, ProtocolError


class OpcuaCommError(CommError):
    """The server cannot be reached, or the session died."""

    def __init__(self, message: str, error_code: str) -> None:
        super().__init__(message)
        self.error_code = error_code


class OpcuaConfigError(ConfigError):
    """Something only the operator can fix: trust, credentials, security settings."""

    def __init__(self, message: str, error_code: str) -> None:
        super().__init__(message)
        self.error_code = error_code


class OpcuaProtocolError(ProtocolError):
    """The server answered a service call with a Bad status."""

    def __init__(self, message: str, error_code: str, status: int | None = None) -> None:
        super().__init__(message, status)
        self.error_code = error_code


OPCUA_ERRORS = (OpcuaCommError, OpcuaConfigError, OpcuaProtocolError)  # for except clauses
