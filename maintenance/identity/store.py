"""Users and sessions in the SQL database, every change and refusal in the audit trail.

``UserStore(url)``:

- ``add``/``set_password``/``set_roles``/``set_disabled`` change users; each needs a
  principal with the ``users`` permission (a person may change their own password). The very
  first user may be added without one, and must be an admin: that is how an installation
  gets its first account (``facility users add``); there is no default password anywhere.
  The last enabled admin cannot be disabled or lose the role.
- ``authenticate`` checks a password: five wrong answers in a row lock the account for
  15 minutes, twenty failures from one address in ten minutes refuse that address; every
  attempt is audited; the message never says whether the name or the password was wrong.
- ``open_session``/``resolve``/``revoke``: browser sessions and CLI/API tokens. The secret is
  given out once and stored as its SHA-256; expiry (absolute, and idle for browsers) is
  decided here, on the server. Disabling a user or changing their password ends their
  sessions.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from facility.errors import AuthError, PermissionDenied
from maintenance.db import ConflictError, Database, DatabaseUser, Tx
from maintenance.identity import passwords
from maintenance.identity.audit import AuditRecord, audit_row, bounded, record_of
from maintenance.identity.roles import (
    USER_NAME_RE,
    USER_NAME_RULE,
    Permission,
    Principal,
    Role,
    Source,
    parse_roles,
    parse_sites,
)
from maintenance.identity_schema import (
    SESSION_KINDS,
    SessionRow,
    UserRow,
    audit_query,
    expired_sessions,
    recent_failures,
    user_sessions,
)

log = logging.getLogger(__name__)

LOCK_AFTER = 5  # consecutive wrong passwords
LOCK_FOR = timedelta(minutes=15)
REMOTE_LIMIT = 20  # failed sign-ins from one address ...
REMOTE_WINDOW = timedelta(minutes=10)  # ... within this window
TOUCH_EVERY = timedelta(seconds=60)  # last_seen is written at most this often
REFUSED = "sign-in refused: wrong user name or password, or the account is locked or disabled"


@dataclass(frozen=True, slots=True)
class User:
    """A user as listed (never with the hash)."""

    name: str
    display_name: str
    roles: frozenset[Role]
    sites: frozenset[str]
    disabled: bool
    locked_until: datetime | None
    failed_logins: int
    created_at: datetime
    last_login_at: datetime | None
    contact: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Ticket:
    """A new session: ``token`` is shown once (cookie or token file), then only its hash."""

    token: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SessionInfo:
    principal: Principal
    csrf_token: str
    expires_at: datetime
    kind: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _user(row: UserRow) -> User:
    return User(
        row.name,
        row.display_name,
        frozenset(Role(r) for r in row.roles),
        frozenset(row.sites),
        row.disabled,
        _utc(row.locked_until),
        row.failed_logins,
        _utc(row.created_at) or row.created_at,
        _utc(row.last_login_at),
        dict(row.contact),
    )


def check_name(name: str) -> str:
    """The user name, or ValueError naming the rule."""
    if not USER_NAME_RE.fullmatch(name):
        raise ValueError(f"user name {bounded(name, 60)!r}: expected {USER_NAME_RULE}")
    return name


class UserStore(DatabaseUser):
    """Users, sessions and the audit trail in the database at ``url``."""

    def __init__(
        self,
        url: str,
        *,
        migrate: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.url = url
        self._db = Database.open(url, migrate=migrate)
        self._clock = clock or (lambda: datetime.now(UTC))

    # --- users ---------------------------------------------------------------------------

    def users(self) -> list[User]:
        with self._db.transaction() as tx:
            return [_user(r) for r in tx.rows(UserRow, order_by=["name"])]

    def user(self, name: str) -> User | None:
        with self._db.transaction() as tx:
            row = self._row(tx, name)
            return _user(row) if row else None

    def count(self) -> int:
        with self._db.transaction() as tx:
            return len(tx.rows(UserRow))

    def add(
        self,
        name: str,
        roles: Iterable[str],
        sites: Iterable[str] = ("*",),
        *,
        by: Principal | None,
        password: str | None = None,
        display_name: str = "",
        contact: Mapping[str, Any] | None = None,
    ) -> tuple[User, str]:
        """Add a user; returns it and its password (generated when none is given).

        ValueError for a bad name, role, estate or password; ConflictError if the name is
        taken; PermissionDenied unless ``by`` may manage users (or this is the first user,
        an admin).
        """
        check_name(name)
        role_set = parse_roles(roles)
        site_set = parse_sites(sites)
        secret = password if password is not None else passwords.generate_password()
        passwords.check_policy(secret, name)
        hashed = passwords.hash_password(secret)
        now = self._clock()
        with self._db.transaction(write=True) as tx:
            first = not tx.rows(UserRow)
            if by is None:
                if not first:
                    raise PermissionDenied(
                        "adding a user needs an admin signed in (facility login); only the "
                        "first user of an installation is added without one"
                    )
                if Role.ADMIN not in role_set:
                    raise PermissionDenied("the first user must be an admin (--role admin)")
            else:
                by.require(Permission.USERS)
            if self._row(tx, name) is not None:
                raise ConflictError(f"user {name!r} exists already")
            row = UserRow(
                name=name,
                display_name=bounded(display_name or name, 100),
                roles=sorted(role_set),
                sites=sorted(site_set),
                contact=dict(contact or {}),
                password_hash=hashed,
                disabled=False,
                failed_logins=0,
                locked_until=None,
                created_at=now,
                password_changed_at=now,
                last_login_at=None,
            )
            tx.add(row)
            detail = {"roles": sorted(role_set), "sites": sorted(site_set), "first": first}
            tx.add(audit_row(by or name, "user_add", f"user:{name}", detail, at=now))
            tx.flush()
            return _user(row), secret

    def set_password(self, name: str, new: str | None, *, by: Principal) -> str:
        """Set (or, with ``new`` None, generate) a password; ends the user's sessions."""
        if by.name != name:
            by.require(Permission.USERS)
        secret = new if new is not None else passwords.generate_password()
        passwords.check_policy(secret, name)
        hashed = passwords.hash_password(secret)
        now = self._clock()
        with self._db.transaction(write=True) as tx:
            row = self._existing(tx, name)
            row.password_hash = hashed
            row.password_changed_at = now
            row.failed_logins = 0
            row.locked_until = None
            ended = self._end_sessions(tx, row, now)
            tx.add(audit_row(by, "user_passwd", f"user:{name}", {"sessions_ended": ended}, at=now))
        return secret

    def set_roles(
        self,
        name: str,
        roles: Iterable[str] | None = None,
        sites: Iterable[str] | None = None,
        *,
        by: Principal,
    ) -> User:
        by.require(Permission.USERS)
        role_set = parse_roles(roles) if roles is not None else None
        site_set = parse_sites(sites) if sites is not None else None
        now = self._clock()
        with self._db.transaction(write=True) as tx:
            row = self._existing(tx, name)
            before = {"roles": list(row.roles), "sites": list(row.sites)}
            if role_set is not None:
                if Role.ADMIN.value in row.roles and Role.ADMIN not in role_set:
                    self._keep_an_admin(tx, row)
                row.roles = sorted(role_set)
            if site_set is not None:
                row.sites = sorted(site_set)
            after = {"roles": list(row.roles), "sites": list(row.sites)}
            self._end_sessions(tx, row, now)  # a narrower role must not live on in a cookie
            tx.add(audit_row(by, "user_role", f"user:{name}", {"from": before, "to": after}))
            return _user(row)

    def set_disabled(self, name: str, disabled: bool, *, by: Principal) -> User:
        by.require(Permission.USERS)
        now = self._clock()
        with self._db.transaction(write=True) as tx:
            row = self._existing(tx, name)
            if disabled and Role.ADMIN.value in row.roles:
                self._keep_an_admin(tx, row)
            row.disabled = disabled
            if not disabled:
                row.failed_logins = 0
                row.locked_until = None
            ended = self._end_sessions(tx, row, now) if disabled else 0
            action = "user_disable" if disabled else "user_enable"
            tx.add(audit_row(by, action, f"user:{name}", {"sessions_ended": ended}, at=now))
            return _user(row)

    # --- signing in ------------------------------------------------------------------------

    def authenticate(
        self,
        name: str,
        password: str,
        *,
        source: Source,
        remote: str | None = None,
    ) -> Principal:
        """The principal for ``name`` if ``password`` is right; AuthError otherwise."""
        now = self._clock()
        # a refusal is committed (counter, lock, audit row) before it is raised
        with self._db.transaction(write=True) as tx:
            refusal = self._check(tx, name, password, source=source, remote=remote, now=now)
            if isinstance(refusal, AuthError):
                pass
            else:
                row = refusal
                row.failed_logins = 0
                row.locked_until = None
                row.last_login_at = now
                if row.password_hash and passwords.needs_rehash(row.password_hash):
                    row.password_hash = passwords.hash_password(password)
                principal = self._principal(row, source, remote)
                tx.add(audit_row(principal, "login", "login", {}, at=now))
        if isinstance(refusal, AuthError):
            raise refusal
        return principal

    def _check(
        self,
        tx: Tx,
        name: str,
        password: str,
        *,
        source: Source,
        remote: str | None,
        now: datetime,
    ) -> UserRow | AuthError:
        """The user row if the password is right, else the refusal (recorded in ``tx``)."""
        if remote and self._remote_blocked(tx, remote, now):
            refused: dict[str, Any] = {"reason": "too many failed sign-ins from this address"}
            tx.add(
                audit_row(
                    bounded(name, 60),
                    "login_refused",
                    "login",
                    refused,
                    at=now,
                    source=source,
                    remote=remote,
                )
            )
            minutes = int(REMOTE_WINDOW.total_seconds() // 60)
            return AuthError(
                f"sign-in refused: too many failed attempts from this address; "
                f"try again in {minutes} minutes"
            )
        row = self._row(tx, name) if USER_NAME_RE.fullmatch(name) else None
        good = passwords.verify_password(row.password_hash if row else None, password)
        locked = row is not None and (_utc(row.locked_until) or now) > now
        if row is not None and good and not row.disabled and not locked:
            return row
        reason = (
            "unknown user"
            if row is None
            else "disabled"
            if row.disabled
            else "locked"
            if locked
            else "wrong password"
        )
        detail: dict[str, Any] = {"reason": reason}
        if row is not None and not good and not locked:
            row.failed_logins += 1
            detail["failed_in_a_row"] = row.failed_logins
            if row.failed_logins >= LOCK_AFTER:
                row.locked_until = now + LOCK_FOR
                detail["locked_until"] = row.locked_until.isoformat()
                log.warning(
                    "user %s locked for %d min after %d failed sign-ins",
                    row.name,
                    LOCK_FOR.total_seconds() // 60,
                    row.failed_logins,
                )
        actor = row.name if row else bounded(name, 60)
        tx.add(
            audit_row(actor, "login_failed", "login", detail, at=now, source=source, remote=remote)
        )
        return AuthError(REFUSED)

    def open_session(
        self,
        principal: Principal,
        *,
        kind: str,
        ttl: timedelta,
        idle: timedelta | None = None,
    ) -> Ticket:
        """A new session or token for an authenticated ``principal``."""
        if kind not in SESSION_KINDS:
            raise ValueError(f"session kind {kind!r}: expected one of {', '.join(SESSION_KINDS)}")
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self._clock()
        with self._db.transaction(write=True) as tx:
            row = self._existing(tx, principal.name)
            tx.execute(expired_sessions(now))
            tx.add(
                SessionRow(
                    token_hash=token_hash(token),
                    user_id=row.id,
                    kind=kind,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + ttl,
                    idle_s=int(idle.total_seconds()) if idle else 0,
                    last_seen_at=now,
                    remote=principal.remote[:100] if principal.remote else None,
                    revoked_at=None,
                )
            )
            tx.add(
                audit_row(
                    principal,
                    "session_open",
                    f"user:{principal.name}",
                    {"kind": kind, "expires_at": (now + ttl).isoformat()},
                    at=now,
                )
            )
        return Ticket(token, csrf, now + ttl)

    def resolve(
        self,
        token: str,
        *,
        source: Source,
        remote: str | None = None,
        kinds: Iterable[str] = SESSION_KINDS,
    ) -> SessionInfo:
        """Who holds ``token``; AuthError if it is unknown, revoked, expired or idle too
        long, or its user is disabled."""
        if not token or len(token) > 200:
            raise AuthError("not signed in")
        now = self._clock()
        with self._db.transaction() as tx:
            session = tx.get(SessionRow, token_hash(token))
            user = tx.get(UserRow, session.user_id) if session else None
        if session is None or user is None or session.kind not in set(kinds):
            raise AuthError("not signed in (unknown or ended session)")
        if session.revoked_at is not None or user.disabled:
            raise AuthError("the session has ended (signed out, disabled or password changed)")
        expires = _utc(session.expires_at) or now
        seen = _utc(session.last_seen_at) or now
        if expires <= now:
            raise AuthError("the session has expired: sign in again")
        if session.idle_s and seen + timedelta(seconds=session.idle_s) <= now:
            raise AuthError("the session ended after a time without activity: sign in again")
        if now - seen >= TOUCH_EVERY:
            with self._db.transaction(write=True) as tx:
                fresh = tx.get(SessionRow, session.token_hash)
                if fresh is not None:
                    fresh.last_seen_at = now
        return SessionInfo(
            self._principal(user, source, remote), session.csrf_token, expires, session.kind
        )

    def revoke(self, token: str, *, by: Principal | None = None) -> bool:
        """End the session holding ``token`` (sign out); False if there was none."""
        now = self._clock()
        with self._db.transaction(write=True) as tx:
            session = tx.get(SessionRow, token_hash(token))
            if session is None or session.revoked_at is not None:
                return False
            session.revoked_at = now
            user = tx.get(UserRow, session.user_id)
            name = user.name if user else "?"
            tx.add(
                audit_row(by or name, "session_end", f"user:{name}", {"kind": session.kind}, at=now)
            )
            return True

    # --- the audit trail -------------------------------------------------------------------

    def audit(
        self,
        actor: Principal | str,
        action: str,
        entity: str,
        detail: Mapping[str, Any] | None = None,
        *,
        source: Source | None = None,
        remote: str | None = None,
    ) -> None:
        """Record something that changed nothing in this database: a refusal, a command
        handed to the alarm engine, a forged request."""
        with self._db.transaction(write=True) as tx:
            tx.add(
                audit_row(
                    actor, action, entity, detail, at=self._clock(), source=source, remote=remote
                )
            )

    def audit_log(
        self,
        *,
        entity: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        limit: int = 200,
    ) -> list[AuditRecord]:
        """The newest entries first."""
        with self._db.transaction() as tx:
            rows = tx.execute(audit_query(entity=entity, actor=actor, action=action, limit=limit))
            return [record_of(r) for (r,) in rows]

    # --- inside --------------------------------------------------------------------------------

    @staticmethod
    def _row(tx: Tx, name: str) -> UserRow | None:
        rows = tx.rows(UserRow, name=name)
        return rows[0] if rows else None

    def _existing(self, tx: Tx, name: str) -> UserRow:
        row = self._row(tx, name)
        if row is None:
            raise ValueError(f"no user {bounded(name, 60)!r} (facility users list shows them)")
        return row

    @staticmethod
    def _keep_an_admin(tx: Tx, row: UserRow) -> None:
        admins = [
            r
            for r in tx.rows(UserRow, disabled=False)
            if Role.ADMIN.value in r.roles and r.id != row.id
        ]
        if not admins:
            raise PermissionDenied(f"{row.name} is the last enabled admin: add another admin first")

    @staticmethod
    def _end_sessions(tx: Tx, row: UserRow, now: datetime) -> int:
        ended = 0
        for (session,) in tx.execute(user_sessions(row.id)):
            session.revoked_at = now
            ended += 1
        return ended

    def _remote_blocked(self, tx: Tx, remote: str, now: datetime) -> bool:
        count = tx.execute(recent_failures(remote, now - REMOTE_WINDOW)).scalar_one()
        return int(count) >= REMOTE_LIMIT

    @staticmethod
    def _principal(row: UserRow, source: Source, remote: str | None) -> Principal:
        return Principal(
            row.name,
            frozenset(Role(r) for r in row.roles),
            frozenset(row.sites),
            source,
            remote,
            row.display_name,
        )
