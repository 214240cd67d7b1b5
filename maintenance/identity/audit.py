"""The audit trail: one append-only row per change, sign-in and refusal, naming the person,
the time, where it came from (dashboard / CLI / API / system) and what changed.

``audit_row`` is written inside the transaction of the change it records, so the change and
its record stand or fall together. Text from outside (a name someone typed, a reason) is
bounded before it is stored: a 500 K-character "user name" is recorded as its first
characters and its length, never in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from maintenance.identity.roles import Principal, Source
from maintenance.schema import AuditRow

MAX_TEXT = 200


def bounded(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` if short, else its start and its length (for names and reasons from outside)."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 30]}… ({len(text)} characters)"


def _bounded_detail(detail: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in detail.items():
        out[bounded(str(key), 60)] = bounded(value, 1000) if isinstance(value, str) else value
    return out


def audit_row(
    actor: Principal | str,
    action: str,
    entity: str,
    detail: Mapping[str, Any] | None = None,
    *,
    at: datetime | None = None,
    source: Source | None = None,
    remote: str | None = None,
) -> AuditRow:
    """The row recording ``actor`` doing ``action`` on ``entity``."""
    if isinstance(actor, Principal):
        name, source, remote = actor.name, source or actor.source, remote or actor.remote
    else:
        name = actor
    return AuditRow(
        at=at or datetime.now(UTC),
        actor=bounded(name, 100),
        action=action[:50],
        entity=bounded(entity),
        detail=_bounded_detail(detail or {}),
        source=(source or Source.SYSTEM).value,
        remote=bounded(remote, 100) if remote else None,
    )


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audit entry, as read back."""

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    detail: Mapping[str, Any]
    source: str
    remote: str | None


def record_of(row: AuditRow) -> AuditRecord:
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    return AuditRecord(
        row.id, at, row.actor, row.action, row.entity, row.detail, row.source, row.remote
    )
