"""The identity tables of the one SQL schema (declared on ``maintenance.schema.Base``).

``users`` holds each person: roles and estates as JSON lists, the argon2 hash (never the
password), the failed-login counter and lock. ``user_sessions`` holds signed-in sessions
(browser) and tokens (CLI, API) by the SHA-256 of their secret, so a copy of the database
does not let anyone sign in; expiry is decided here, on the server, not by a cookie.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Delete,
    ForeignKey,
    Integer,
    Select,
    String,
    delete,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from maintenance.schema import AuditRow, Base

SESSION_KINDS = ("browser", "cli", "api")


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    roles: Mapped[list[str]] = mapped_column(JSON)
    sites: Mapped[list[str]] = mapped_column(JSON)
    contact: Mapped[dict[str, Any]] = mapped_column(JSON)  # e-mail, robot webhook, ...
    password_hash: Mapped[str | None] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean)
    failed_logins: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SessionRow(Base):
    __tablename__ = "user_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    idle_s: Mapped[int] = mapped_column(Integer)  # 0: no idle limit
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    remote: Mapped[str | None] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def recent_failures(remote: str, since: datetime) -> Select[int]:
    """How many sign-ins failed from ``remote`` since ``since`` (the per-address limit)."""
    return (
        select(func.count())
        .select_from(AuditRow)
        .where(
            AuditRow.action == "login_failed",
            AuditRow.remote == remote,
            AuditRow.at >= since,
        )
    )


def audit_query(
    *, entity: str | None, actor: str | None, action: str | None, limit: int
) -> Select[AuditRow]:
    query = select(AuditRow)
    if entity is not None:
        query = query.where(AuditRow.entity == entity)
    if actor is not None:
        query = query.where(AuditRow.actor == actor)
    if action is not None:
        query = query.where(AuditRow.action == action)
    return query.order_by(AuditRow.id.desc()).limit(limit)


def expired_sessions(now: datetime) -> Delete:
    return delete(SessionRow).where(SessionRow.expires_at < now)


def user_sessions(user_id: int) -> Select[SessionRow]:
    return select(SessionRow).where(SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None))
