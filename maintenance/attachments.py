"""Photos and signatures of work orders: a content-addressed file store with checks.

A file is kept under ``<root>/<aa>/<sha256>`` (``root`` is ``<var_dir>/attachments`` by
default): the same photo sent twice (a retried upload) is one file, and a file whose bytes no
longer match its name is detected by ``verify``. ``check_image`` is the server's own look at
what a phone sent — the size limit and the real type from the first bytes (JPEG, PNG, WebP),
never the file name or the ``Content-Type`` the client claims.

Writes are atomic (a temporary file in the same folder, fsync, rename), so a crash leaves
either no file or the whole file. For several dashboard hosts, point ``root`` at a shared
folder, or put an S3-compatible store behind the same three calls (docs/technician.md); the
database keeps only checksums, so files can be moved between stores without touching it.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from facility.errors import ConfigError, StorageError

MAX_BYTES = 10 * 1024 * 1024  # a phone photo resized on the device is well under 1 MB
SHA256_RE = re.compile(r"[0-9a-f]{64}")


class AttachmentError(ConfigError):
    """A file that is not accepted (too big, empty, not an image); nothing was stored."""


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    mime: str


def sniff_image(data: bytes) -> str | None:
    """The image type of ``data`` by its magic bytes (None: not JPEG, PNG or WebP)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_image(data: bytes, *, what: str = "photo", max_bytes: int = MAX_BYTES) -> str:
    """The image type of an upload, or AttachmentError saying what was expected."""
    if not data:
        raise AttachmentError(f"{what}: the upload is empty; expected a JPEG, PNG or WebP image")
    if len(data) > max_bytes:
        raise AttachmentError(
            f"{what}: {len(data) / 1048576:.1f} MB is too large; at most "
            f"{max_bytes / 1048576:.0f} MB"
        )
    mime = sniff_image(data)
    if mime is None:
        raise AttachmentError(
            f"{what}: not an image (the first bytes are not those of a JPEG, PNG or WebP "
            "file); expected a photo from the camera"
        )
    return mime


class AttachmentStore:
    """Files by checksum under ``root`` (created on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        if not SHA256_RE.fullmatch(sha256):
            raise AttachmentError(f"attachment {sha256[:80]!r}: expected a sha256 checksum")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes, *, what: str = "photo", max_bytes: int = MAX_BYTES) -> StoredFile:
        """Check and store ``data``; the same bytes again are the same file."""
        mime = check_image(data, what=what, max_bytes=max_bytes)
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path(sha256)
        if target.exists() and self._matches(target, sha256):
            return StoredFile(sha256, len(data), mime)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageError(f"attachment store {self.root}: cannot write: {exc}") from exc
        return StoredFile(sha256, len(data), mime)

    def read(self, sha256: str) -> bytes:
        """The file's bytes; StorageError if it is missing or no longer matches its checksum."""
        target = self.path(sha256)
        try:
            data = target.read_bytes()
        except OSError as exc:
            raise StorageError(f"attachment {sha256}: cannot read: {exc}") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StorageError(f"attachment {sha256}: the file does not match its checksum")
        return data

    def verify(self, sha256: str) -> bool:
        """Whether the stored file exists and matches its checksum."""
        target = self.path(sha256)
        return target.exists() and self._matches(target, sha256)

    @staticmethod
    def _matches(target: Path, sha256: str) -> bool:
        digest = hashlib.sha256()
        with target.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 16), b""):
                digest.update(block)
        return digest.hexdigest() == sha256
