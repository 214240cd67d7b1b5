"""OPC UA security settings and the collector's certificate folders (no asyncua here).

    <pki_dir>/                     default <var_dir>/pki/collector
        own/cert.der               the collector's application certificate (made on first run)
        own/key.pem                its private key (PKCS#8, unencrypted: protect the folder)
        trusted/                   server certificates the collector trusts (.der or .pem)
        rejected/                  server certificates it refused, to inspect and move

Trust-on-first-use is off by default: a server whose certificate is not in ``trusted/`` is
refused, its certificate is saved in ``rejected/`` and the message says which file to move
where. With ``trust_on_first_use`` the first certificate seen is copied to ``trusted/``
(logged), and a later, different one is refused as usual.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from collectors.opcua.errors import OpcuaConfigError

log = logging.getLogger(__name__)

DEFAULT_APPLICATION_URI = "urn:facility:collector"
_PEM_RE = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)


class SecurityPolicy(StrEnum):
    NONE = "None"
    BASIC256SHA256 = "Basic256Sha256"


class SecurityMode(StrEnum):
    NONE = "None"
    SIGN = "Sign"
    SIGN_AND_ENCRYPT = "SignAndEncrypt"


def default_pki_dir(var_dir: Path) -> Path:
    return var_dir / "pki" / "collector"


@dataclass(frozen=True)
class OpcuaSecurity:
    """How the collector secures its OPC UA sessions and who it logs in as.

    ``policy`` None goes with ``mode`` None; Basic256Sha256 with Sign or SignAndEncrypt.
    ``password`` belongs in the environment, never in a file (it is kept out of ``repr``).
    """

    policy: SecurityPolicy = SecurityPolicy.NONE
    mode: SecurityMode = SecurityMode.NONE
    pki_dir: Path = field(default_factory=lambda: default_pki_dir(Path("var")))
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    trust_on_first_use: bool = False
    application_uri: str = DEFAULT_APPLICATION_URI

    def __post_init__(self) -> None:
        try:
            policy = SecurityPolicy(self.policy)
        except ValueError:
            names = ", ".join(p.value for p in SecurityPolicy)
            raise OpcuaConfigError(
                f"OPC UA security policy {self.policy!r}: expected one of {names}", "bad_security"
            ) from None
        try:
            mode = SecurityMode(self.mode)
        except ValueError:
            names = ", ".join(m.value for m in SecurityMode)
            raise OpcuaConfigError(
                f"OPC UA security mode {self.mode!r}: expected one of {names}", "bad_security"
            ) from None
        if (policy is SecurityPolicy.NONE) != (mode is SecurityMode.NONE):
            raise OpcuaConfigError(
                f"OPC UA security policy {policy.value} with mode {mode.value}: expected policy "
                "None with mode None, or Basic256Sha256 with mode Sign or SignAndEncrypt",
                "bad_security",
            )
        if self.password is not None and not self.username:
            raise OpcuaConfigError(
                "OPC UA password given without a username: expected both or neither",
                "bad_security",
            )
        object.__setattr__(self, "policy", policy)
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "pki_dir", Path(self.pki_dir))

    @property
    def secured(self) -> bool:
        return self.policy is not SecurityPolicy.NONE

    @property
    def own_certificate(self) -> Path:
        return self.pki_dir / "own" / "cert.der"

    @property
    def own_private_key(self) -> Path:
        return self.pki_dir / "own" / "key.pem"

    @property
    def trusted_dir(self) -> Path:
        return self.pki_dir / "trusted"

    @property
    def rejected_dir(self) -> Path:
        return self.pki_dir / "rejected"


def der_of(data: bytes) -> bytes:
    """A certificate file's content as DER (PEM is unwrapped; DER returned as is)."""
    match = _PEM_RE.search(data)
    if match is None:
        return data
    try:
        return base64.b64decode(b"".join(match.group(1).split()), validate=True)
    except binascii.Error:
        return data


def thumbprint(der: bytes) -> str:
    """The SHA-1 thumbprint OPC UA uses to name certificates, upper-case hex."""
    return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()


def trusted_thumbprints(folder: Path) -> set[str]:
    """Thumbprints of the certificates in ``folder`` (.der, .pem, .crt, .cer)."""
    if not folder.is_dir():
        return set()
    found = set()
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in (".der", ".pem", ".crt", ".cer"):
            found.add(thumbprint(der_of(path.read_bytes())))
    return found


def certificate_file_name(subject: str, der: bytes) -> str:
    """``<subject>_<thumbprint>.der`` with the subject reduced to safe file-name characters."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", subject).strip("_")[:60] or "server"
    return f"{safe}_{thumbprint(der)[:16]}.der"


def check_server_certificate(security: OpcuaSecurity, url: str, der: bytes, subject: str) -> None:
    """Accept a server certificate that is in ``trusted/``; refuse any other with a message
    naming the file to move (saved in ``rejected/``), unless trust-on-first-use applies."""
    trusted = trusted_thumbprints(security.trusted_dir)
    if thumbprint(der) in trusted:
        return
    name = certificate_file_name(subject, der)
    if security.trust_on_first_use and not trusted:
        security.trusted_dir.mkdir(parents=True, exist_ok=True)
        (security.trusted_dir / name).write_bytes(der)
        log.warning(
            "opcua url=%s trusted on first use: server certificate %s (%s) saved in %s",
            url,
            subject,
            thumbprint(der),
            security.trusted_dir,
        )
        return
    security.rejected_dir.mkdir(parents=True, exist_ok=True)
    rejected = security.rejected_dir / name
    rejected.write_bytes(der)
    raise OpcuaConfigError(
        f"OPC UA server {url}: its certificate {subject} (SHA-1 {thumbprint(der)}) is not "
        f"trusted; if it is the right server, move {rejected} into {security.trusted_dir}/ "
        "(the collector retries on its own)",
        "untrusted_certificate",
    )
