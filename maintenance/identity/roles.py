"""Who may do what, where: roles, permissions and estate scopes (pure).

A user holds one or more roles and a scope of estates (site codes, or every estate). A
``Principal`` is a signed-in person as the acting code sees them: their name, roles, scope
and where the action comes from (dashboard, CLI, API). Every action that changes something
asks ``principal.require(permission, site)`` before it touches anything; the answer depends
on nothing but this table, so it is tested as a table (tests/unit/test_identity_roles.py).

Roles are not a ladder: a manager reads reports but does not acknowledge alarms; an admin
manages users, the ledger and profiles but does not operate the plant (separation of
duties). A person who does both holds both roles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from facility.errors import PermissionDenied

ALL_SITES = "*"
USER_NAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,39}$")
USER_NAME_RULE = (
    "2-40 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter"
)


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    TECHNICIAN = "technician"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"
    ADMIN = "admin"


class Permission(StrEnum):
    VIEW = "view"  # live status, alarms, orders, asset history of the scope's estates
    ALARM_ACK = "alarm.ack"
    ALARM_SHELVE = "alarm.shelve"  # shelve and unshelve
    ALARM_COMMENT = "alarm.comment"
    ALARM_RESET = "alarm.reset"  # reset latched alarms
    ALARM_SERVICE = "alarm.service"  # remove from / return to service
    WO_WORK_OWN = "wo.work_own"  # accept, start, record, complete orders assigned to oneself
    WO_WORK_ANY = "wo.work_any"  # the same on anyone's orders
    WO_ASSIGN = "wo.assign"  # assign, raise, cancel, hold others' orders
    WO_VERIFY = "wo.verify"  # verify, close, reopen
    REPORTS = "reports"  # reports and KPIs
    USERS = "users"  # add, disable, change roles, reset passwords
    LEDGER = "ledger"  # import, number, change asset status
    PROFILES = "profiles"  # device profiles and alarm definitions


_OPERATE = {Permission.VIEW, Permission.ALARM_ACK, Permission.ALARM_SHELVE}
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.VIEW}),
    Role.OPERATOR: frozenset(_OPERATE | {Permission.ALARM_COMMENT}),
    Role.TECHNICIAN: frozenset({Permission.VIEW, Permission.ALARM_COMMENT, Permission.WO_WORK_OWN}),
    Role.SUPERVISOR: frozenset(
        _OPERATE
        | {
            Permission.ALARM_COMMENT,
            Permission.ALARM_RESET,
            Permission.ALARM_SERVICE,
            Permission.WO_WORK_OWN,
            Permission.WO_WORK_ANY,
            Permission.WO_ASSIGN,
            Permission.WO_VERIFY,
            Permission.REPORTS,
        }
    ),
    Role.MANAGER: frozenset({Permission.VIEW, Permission.REPORTS}),
    Role.ADMIN: frozenset(
        {Permission.VIEW, Permission.USERS, Permission.LEDGER, Permission.PROFILES}
    ),
}


class Source(StrEnum):
    """Where an action comes from (the audit trail's ``source``)."""

    DASHBOARD = "dashboard"
    CLI = "cli"
    API = "api"
    SYSTEM = "system"  # the services themselves: scheduler, alarm engine, demo set-up


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    """Roles from their names; PermissionDenied-free ValueError naming the unknown one."""
    roles = set()
    for value in values:
        name = value.strip().lower()
        try:
            roles.add(Role(name))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise ValueError(f"unknown role {value[:40]!r}: expected one of {known}") from None
    if not roles:
        raise ValueError("at least one role is needed")
    return frozenset(roles)


def parse_sites(values: Iterable[str]) -> frozenset[str]:
    """A scope: site codes (upper-cased) or ``*`` for every estate."""
    sites = {v.strip().upper() for v in values if v.strip()}
    if not sites:
        raise ValueError("at least one estate is needed (a site code, or * for all)")
    if ALL_SITES in sites and len(sites) > 1:
        raise ValueError("'*' means every estate: give it alone")
    for site in sites:
        if site != ALL_SITES and not re.fullmatch(r"[A-Z]{2,4}", site):
            raise ValueError(f"estate {site[:20]!r}: expected a site code like HT, or *")
    return frozenset(sites)


@dataclass(frozen=True, slots=True)
class Principal:
    """A person acting now, as established by a session, a token or a password."""

    name: str
    roles: frozenset[Role]
    sites: frozenset[str]
    source: Source = Source.CLI
    remote: str | None = None  # address the action came from, when there is one
    display_name: str = ""
    permissions: frozenset[Permission] = field(init=False)

    def __post_init__(self) -> None:
        granted: set[Permission] = set()
        for role in self.roles:
            granted |= ROLE_PERMISSIONS[role]
        object.__setattr__(self, "permissions", frozenset(granted))

    @property
    def all_sites(self) -> bool:
        return ALL_SITES in self.sites

    def sees(self, site: str | None) -> bool:
        """Whether ``site`` is in this person's scope (None: no particular estate)."""
        return site is None or self.all_sites or site.upper() in self.sites

    def can(self, permission: Permission, site: str | None = None) -> bool:
        return permission in self.permissions and self.sees(site)

    def require(self, permission: Permission, site: str | None = None) -> None:
        """Return quietly, or raise PermissionDenied saying what is missing."""
        if permission not in self.permissions:
            roles = ", ".join(sorted(self.roles)) or "none"
            raise PermissionDenied(
                f"{self.name} (roles: {roles}) may not {permission.value}: "
                f"it needs one of the roles {', '.join(roles_with(permission))}"
            )
        if not self.sees(site):
            raise PermissionDenied(
                f"{self.name} may not act on estate {site}: their estates are "
                f"{', '.join(sorted(self.sites))}"
            )

    def visible_sites(self, sites: Iterable[str]) -> list[str]:
        """The given site codes this person may see, in order."""
        return [s for s in sites if self.sees(s)]


def roles_with(permission: Permission) -> list[str]:
    return [role.value for role, granted in ROLE_PERMISSIONS.items() if permission in granted]


def system_principal(name: str) -> Principal:
    """A service acting on its own account (scheduler, alarm engine, demo set-up)."""
    return Principal(name, frozenset(Role), frozenset({ALL_SITES}), Source.SYSTEM)


def actor_name(actor: str | Principal) -> str:
    return actor.name if isinstance(actor, Principal) else actor
