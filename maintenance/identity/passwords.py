"""Passwords: argon2id through ``argon2-cffi`` (the library's current defaults: RFC 9106's
low-memory profile), a length policy, and generated passwords for new accounts.

Only this module imports argon2. Verification always does the full KDF work, also for an
unknown user (against a dummy hash), so the time taken does not tell whether a name exists.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 256  # a KDF over megabytes of input is a denial of service, not a password

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def check_policy(password: str, user: str) -> None:
    """ValueError saying what a new password lacks."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"password: at least {MIN_LENGTH} characters are needed")
    if len(password) > MAX_LENGTH:
        raise ValueError(f"password: at most {MAX_LENGTH} characters")
    if user.lower() in password.lower():
        raise ValueError("password: must not contain the user name")
    if len(set(password)) < 4:
        raise ValueError("password: too few different characters")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; a missing or damaged hash never matches (and costs
    the same time as a real check)."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def generate_password() -> str:
    """A random password for a new or reset account (about 96 bits)."""
    return secrets.token_urlsafe(12)
