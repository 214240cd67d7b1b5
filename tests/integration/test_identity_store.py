"""Users, sign-in, sessions and the audit trail on a real SQLite database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from facility.errors import AuthError, PermissionDenied
from maintenance.db import ConflictError
from maintenance.identity.roles import Permission, Role, Source
from maintenance.identity.store import LOCK_AFTER, REFUSED, REMOTE_LIMIT, UserStore

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[UserStore]:
    with UserStore(f"sqlite:///{tmp_path / 'facility.db'}", clock=clock) as store:
        store.add("li.ming", ["admin"], by=None, password=PASSWORD)
        yield store


def admin(store: UserStore):  # type: ignore[no-untyped-def]
    return store.authenticate("li.ming", PASSWORD, source=Source.CLI)


def test_the_first_user_must_be_an_admin_and_later_ones_need_one(tmp_path: Path) -> None:
    with UserStore(f"sqlite:///{tmp_path / 'f.db'}") as fresh:
        with pytest.raises(PermissionDenied, match="first user must be an admin"):
            fresh.add("wang.wei", ["operator"], by=None)
        _, generated = fresh.add("li.ming", ["admin"], by=None)
        assert len(generated) >= 16
        with pytest.raises(PermissionDenied, match="needs an admin signed in"):
            fresh.add("wang.wei", ["operator"], by=None)
        boss = fresh.authenticate("li.ming", generated, source=Source.CLI)
        fresh.add("wang.wei", ["operator"], ["HT"], by=boss, password="another-pass-1")
        wang = fresh.authenticate("wang.wei", "another-pass-1", source=Source.CLI)
        with pytest.raises(PermissionDenied, match="may not users"):
            fresh.add("zhao.li", ["admin"], by=wang)
        with pytest.raises(ConflictError):
            fresh.add("wang.wei", ["viewer"], by=boss)


def test_passwords_are_stored_as_argon2_hashes_only(tmp_path: Path, store: UserStore) -> None:
    with sqlite3.connect(tmp_path / "facility.db") as db:
        (stored,) = db.execute("SELECT password_hash FROM users").fetchone()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_five_wrong_passwords_lock_the_account_and_each_is_audited(
    store: UserStore, clock: Clock
) -> None:
    for _ in range(LOCK_AFTER):
        with pytest.raises(AuthError, match="sign-in refused"):
            store.authenticate("li.ming", "wrong-password!", source=Source.DASHBOARD, remote="h")
    with pytest.raises(AuthError) as locked:
        store.authenticate("li.ming", PASSWORD, source=Source.DASHBOARD, remote="h")
    assert str(locked.value) == REFUSED  # the same words: nothing tells name from password
    failed = store.audit_log(action="login_failed")
    assert len(failed) == LOCK_AFTER + 1
    assert failed[0].detail["reason"] == "locked"
    assert failed[0].remote == "h"
    assert failed[1].detail["failed_in_a_row"] == LOCK_AFTER
    assert "locked_until" in failed[1].detail
    clock.now += timedelta(minutes=16)
    assert store.authenticate("li.ming", PASSWORD, source=Source.CLI).name == "li.ming"


def test_one_address_trying_many_names_is_refused(store: UserStore) -> None:
    for i in range(REMOTE_LIMIT):
        with pytest.raises(AuthError):
            store.authenticate(f"user{i}", "guess-guess", source=Source.DASHBOARD, remote="1.2.3.4")
    with pytest.raises(AuthError, match="too many failed attempts from this address"):
        store.authenticate("li.ming", PASSWORD, source=Source.DASHBOARD, remote="1.2.3.4")
    # another address is not affected
    assert store.authenticate("li.ming", PASSWORD, source=Source.DASHBOARD, remote="5.6.7.8")


def test_a_huge_user_name_is_refused_and_recorded_bounded(store: UserStore) -> None:
    with pytest.raises(AuthError):
        store.authenticate("a" * 500_000, "x", source=Source.DASHBOARD)
    entry = store.audit_log(action="login_failed")[0]
    assert len(entry.actor) < 100
    assert "500000 characters" in entry.actor
    with pytest.raises(ValueError, match="user name"):
        store.add("b" * 500_000, ["viewer"], by=admin(store))


def test_sessions_expire_on_the_server_absolutely_and_when_idle(
    store: UserStore, clock: Clock
) -> None:
    ticket = store.open_session(
        admin(store), kind="browser", ttl=timedelta(hours=12), idle=timedelta(minutes=30)
    )
    info = store.resolve(ticket.token, source=Source.DASHBOARD)
    assert info.principal.name == "li.ming"
    assert info.csrf_token == ticket.csrf_token
    clock.now += timedelta(minutes=29)
    store.resolve(ticket.token, source=Source.DASHBOARD)  # activity keeps it alive
    clock.now += timedelta(minutes=29)
    store.resolve(ticket.token, source=Source.DASHBOARD)
    clock.now += timedelta(minutes=31)
    with pytest.raises(AuthError, match="without activity"):
        store.resolve(ticket.token, source=Source.DASHBOARD)
    cli = store.open_session(admin(store), kind="cli", ttl=timedelta(hours=12))
    clock.now += timedelta(hours=11)
    assert store.resolve(cli.token, source=Source.CLI).kind == "cli"
    clock.now += timedelta(hours=2)
    with pytest.raises(AuthError, match="expired"):
        store.resolve(cli.token, source=Source.CLI)


@pytest.mark.parametrize("token", ["", "x", "A" * 43, "A" * 100_000])
def test_unknown_or_tampered_tokens_are_refused(store: UserStore, token: str) -> None:
    with pytest.raises(AuthError, match="not signed in"):
        store.resolve(token, source=Source.DASHBOARD)


def test_disabling_or_a_new_password_ends_sessions(store: UserStore) -> None:
    boss = admin(store)
    store.add("wang.wei", ["operator"], by=boss, password="operator-pass-1")
    wang = store.authenticate("wang.wei", "operator-pass-1", source=Source.CLI)
    first = store.open_session(wang, kind="cli", ttl=timedelta(hours=1))
    store.set_password("wang.wei", "operator-pass-2", by=wang)  # one's own password
    with pytest.raises(AuthError, match="ended"):
        store.resolve(first.token, source=Source.CLI)
    second = store.open_session(wang, kind="cli", ttl=timedelta(hours=1))
    with pytest.raises(PermissionDenied):
        store.set_password("li.ming", "stolen-pass-1", by=wang)
    store.set_disabled("wang.wei", True, by=boss)
    with pytest.raises(AuthError, match="ended"):
        store.resolve(second.token, source=Source.CLI)
    with pytest.raises(AuthError):
        store.authenticate("wang.wei", "operator-pass-2", source=Source.CLI)


def test_a_role_change_takes_effect_at_once_and_the_last_admin_stays(store: UserStore) -> None:
    boss = admin(store)
    with pytest.raises(PermissionDenied, match="last enabled admin"):
        store.set_roles("li.ming", ["viewer"], by=boss)
    with pytest.raises(PermissionDenied, match="last enabled admin"):
        store.set_disabled("li.ming", True, by=boss)
    store.add("zhao.li", ["viewer"], ["JU"], by=boss, password="viewer-pass-1")
    zhao = store.authenticate("zhao.li", "viewer-pass-1", source=Source.DASHBOARD)
    assert not zhao.can(Permission.ALARM_ACK, "JU")
    updated = store.set_roles("zhao.li", ["operator"], ["JU", "HT"], by=boss)
    assert updated.roles == {Role.OPERATOR}
    assert updated.sites == {"JU", "HT"}
    change = store.audit_log(action="user_role")[0]
    assert change.actor == "li.ming"
    assert change.detail["from"]["roles"] == ["viewer"]
    with pytest.raises(ValueError, match="unknown role"):
        store.set_roles("zhao.li", ["root"], by=boss)


def test_the_audit_trail_cannot_be_changed_or_deleted(tmp_path: Path, store: UserStore) -> None:
    assert store.audit_log()
    store.audit("li.ming", "x", "y")  # adding is what it is for
    with (
        sqlite3.connect(tmp_path / "facility.db") as db,
        pytest.raises(sqlite3.IntegrityError, match="append-only"),
    ):
        db.execute("UPDATE audit_log SET actor = 'someone else'")
    with (
        sqlite3.connect(tmp_path / "facility.db") as db,
        pytest.raises(sqlite3.IntegrityError, match="append-only"),
    ):
        db.execute("DELETE FROM audit_log")
