"""Who may do what, where: the permission table, read as a table."""

from __future__ import annotations

import pytest

from facility.errors import PermissionDenied
from maintenance.identity.roles import (
    ALL_SITES,
    Permission,
    Principal,
    Role,
    parse_roles,
    parse_sites,
)

P = Permission
# role -> every permission it holds; anything not listed is refused
EXPECTED: dict[Role, set[Permission]] = {
    Role.VIEWER: {P.VIEW},
    Role.OPERATOR: {P.VIEW, P.ALARM_ACK, P.ALARM_SHELVE, P.ALARM_COMMENT},
    Role.TECHNICIAN: {P.VIEW, P.ALARM_COMMENT, P.WO_WORK_OWN},
    Role.SUPERVISOR: {
        P.VIEW, P.ALARM_ACK, P.ALARM_SHELVE, P.ALARM_COMMENT, P.ALARM_RESET, P.ALARM_SERVICE,
        P.WO_WORK_OWN, P.WO_WORK_ANY, P.WO_ASSIGN, P.WO_VERIFY, P.REPORTS,
    },
    Role.MANAGER: {P.VIEW, P.REPORTS},
    Role.ADMIN: {P.VIEW, P.USERS, P.LEDGER, P.PROFILES},
}  # fmt: skip


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
def test_each_role_holds_exactly_its_permissions(role: Role, permission: Permission) -> None:
    person = Principal("x", frozenset({role}), frozenset({ALL_SITES}))
    assert person.can(permission) == (permission in EXPECTED[role])
    if permission not in EXPECTED[role]:
        with pytest.raises(PermissionDenied, match=permission.value):
            person.require(permission)


def test_roles_add_up() -> None:
    both = Principal("x", frozenset({Role.ADMIN, Role.OPERATOR}), frozenset({ALL_SITES}))
    assert both.can(P.USERS)
    assert both.can(P.ALARM_ACK)
    assert not both.can(P.ALARM_SERVICE)


def test_an_estate_scope_limits_every_permission() -> None:
    ju = Principal("t", frozenset({Role.SUPERVISOR}), frozenset({"JU"}))
    assert ju.can(P.ALARM_ACK, "JU")
    assert ju.can(P.ALARM_ACK, "ju")
    assert not ju.can(P.ALARM_ACK, "HT")
    assert not ju.can(P.VIEW, "HT")
    with pytest.raises(PermissionDenied, match="estate HT"):
        ju.require(P.VIEW, "HT")
    assert ju.visible_sites(["HT", "JU", "HY"]) == ["JU"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["root"], "unknown role 'root'"),
        ([], "at least one role"),
        (["x" * 500_000], "unknown role"),
    ],
)
def test_unknown_roles_are_refused_by_name(values: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_roles(values)
    assert len(str(info.value)) < 200  # a huge input is not echoed back


@pytest.mark.parametrize(
    ("values", "message"),
    [([], "at least one estate"), (["*", "HT"], "alone"), (["H T"], "site code")],
)
def test_bad_scopes_are_refused(values: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_sites(values)
