"""The closed bus: which broker account may publish or read which topic, computed, not typed.

Every service logs in to the broker with its own account (:class:`BusAccount`) and the
broker's ACL lets it publish and read only what its job needs. The rules are derived from
the same topic helpers the services use (``facility.payload``, ``facility.resend``,
``facility.heartbeat``, the alarm and work-order modules), so a topic renamed in code is
renamed in the ACL too. The output is mosquitto's ``acl_file`` text (:func:`mosquitto_acl`);
the rules themselves (:func:`account_rules`) are plain data for any broker.

What each role may do (``<S>`` = one of its sites, ``<id>`` = its service id)::

    collector   write facility/v1/<S>/+ (readings), facility/v1/events/resend/<S>,
                      its status facility/v1/status/collector/<id>
                read  facility/v1/ctl/resend/<S> (the historian's resend requests)
    gateway     read  facility/v1/<S>/+, facility/v1/events/resend/<S>
                write facility/v1/ctl/resend/<S>, facility/v1/events/deadletter/<id>,
                      its status
    alarms      read  facility/v1/<S>/+, facility/v1/ctl/alarm-commands/<S>, every status
                write facility/v1/alarms/<S>/+/+, facility/v1/events/alarms/<S> (and the
                      system alarms' SYS), facility/v1/ctl/alarm-replies/+/+, its status,
                      notifier status
    scheduler   write facility/v1/events/workorders/<S>, facility/v1/events/reports/<S>
                      (and the company's), its status
    dashboard   read  facility/v1/<S>/+, every status, its own reply topics
                write facility/v1/ctl/alarm-commands/<S>, its status
    commander   write facility/v1/ctl/alarm-commands/<S>; read its own reply topics (the CLI)
    reader      read  facility/v1/<S>/+ only (a Telegraf, a user's own pipeline: docs/telegraf.md)
    test        readwrite # (tests and tools only; never in a deployment's ACL)

Only the services that authenticate people (the dashboard and the CLI's command account)
may publish alarm commands; the gateway and the alarm engine may only *read* readings, so
no account but a site's collector can put a fire alarm state on ``facility/v1/HT/...``; and
no rule but a collector's readings overlaps the readings' wildcard ``facility/v1/+/+``.
Replies go to ``facility/v1/ctl/alarm-replies/<account>/<request>``, readable by that account
only; the engine may write replies only there, whatever ``reply_to`` a command names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from facility.errors import ConfigError
from facility.heartbeat import SITE_RE, ServiceKind
from facility.topics import (
    ALARM_REPLY_PREFIX,
    READINGS_WILDCARD,
    STATUS_WILDCARD,
    TOPIC_PREFIX,
    alarm_command_topic,
    alarm_event_topic,
    alarm_reply_prefix,
    dead_letter_topic,
    filters_overlap,
    notifier_status_topic,
    report_notice_topic,
    resend_report_topic,
    resend_request_topic,
    site_alarm_states,
    site_readings,
    status_topic,
    workorder_topic,
)
from gateway.alarms.watchdog import SYSTEM_SITE
from maintenance.reports.model import ALL as COMPANY

Access = Literal["read", "write", "readwrite"]
Rule = tuple[Access, str]

# Account names end up in topics (reply topics) and in mosquitto's files: keep them plain.
ACCOUNT_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Extra topics (an alarm notification channel): printable, no spaces, not a $SYS/$share topic.
_TOPIC_RE = re.compile(r"^[^\s$#+][^\s]{0,199}$")
TEST_ACCOUNT = "facility-test"


class BusRole(StrEnum):
    """What a broker account is for; decides its ACL rules."""

    COLLECTOR = "collector"
    GATEWAY = "gateway"
    ALARMS = "alarms"
    SCHEDULER = "scheduler"
    DASHBOARD = "dashboard"
    COMMANDER = "commander"  # the CLI's command sender (acts for a person)
    READER = "reader"  # readings only, read only: a user's own pipeline (Telegraf)
    TEST = "test"  # full access: tests, tools, benchmarks


# roles whose rules are per site (a collector must say which sites it serves)
_SITED = {
    BusRole.COLLECTOR,
    BusRole.GATEWAY,
    BusRole.ALARMS,
    BusRole.SCHEDULER,
    BusRole.DASHBOARD,
    BusRole.COMMANDER,
    BusRole.READER,
}


@dataclass(frozen=True, slots=True)
class BusAccount:
    """One broker login: its name, its role, the sites it serves.

    ``service_id`` is the id the service publishes its heartbeat under (``collector-1``...);
    it defaults to the account name. ``extra_write`` lists topics of the alarm engine's
    MQTT notification channels (alarms.yaml), which are the operator's to choose.
    """

    name: str
    role: BusRole
    sites: tuple[str, ...] = ()
    service_id: str | None = None
    extra_write: tuple[str, ...] = ()

    @property
    def sid(self) -> str:
        return self.service_id or self.name


def check_accounts(accounts: Sequence[BusAccount]) -> None:
    """ConfigError naming the account and field for anything the ACL cannot express."""
    seen: set[str] = set()
    for account in accounts:
        where = f"bus account {account.name!r}"
        if not ACCOUNT_NAME_RE.match(account.name):
            raise ConfigError(f"{where}: name: expected 1-64 of A-Z a-z 0-9 _ . -")
        if account.name in seen:
            raise ConfigError(f"{where}: name: used twice")
        seen.add(account.name)
        if not ACCOUNT_NAME_RE.match(account.sid):
            raise ConfigError(f"{where}: service_id: expected 1-64 of A-Z a-z 0-9 _ . -")
        for site in account.sites:
            if not SITE_RE.match(site):
                raise ConfigError(f"{where}: sites: {site!r} is not a site code (e.g. HT)")
        if account.role in _SITED and not account.sites:
            raise ConfigError(f"{where}: sites: a {account.role} account needs its sites")
        for topic in account.extra_write:
            if not _TOPIC_RE.match(topic):
                raise ConfigError(
                    f"{where}: extra_write: {topic!r} is not a plain topic "
                    "(no spaces, no wildcard or $ at the start)"
                )
            if filters_overlap(topic, READINGS_WILDCARD):
                raise ConfigError(
                    f"{where}: extra_write: {topic!r} is two levels below {TOPIC_PREFIX}, where "
                    "only readings live (docs/decisions/007-topic-trees.md); choose another"
                )
        if account.extra_write and account.role is not BusRole.ALARMS:
            raise ConfigError(f"{where}: extra_write: only an alarms account has channels")


def account_rules(account: BusAccount) -> list[Rule]:
    """The (access, topic) rules of one account, in a stable order."""
    sites, sid = account.sites, account.sid
    readings = [site_readings(site) for site in sites]
    all_status = STATUS_WILDCARD
    rules: list[Rule]
    match account.role:
        case BusRole.COLLECTOR:
            rules = [("write", topic) for topic in readings]
            rules += [("write", resend_report_topic(site)) for site in sites]
            rules += [("read", resend_request_topic(site)) for site in sites]
            rules.append(("write", status_topic(ServiceKind.COLLECTOR, sid)))
        case BusRole.GATEWAY:
            rules = [("read", topic) for topic in readings]
            rules += [("read", resend_report_topic(site)) for site in sites]
            rules += [("write", resend_request_topic(site)) for site in sites]
            rules.append(("write", dead_letter_topic(sid)))
            rules.append(("write", status_topic(ServiceKind.GATEWAY, sid)))
        case BusRole.ALARMS:
            rules = [("read", topic) for topic in readings]
            # the system alarms (a silent service) are filed under the position SYS
            alarm_sites = [*sites, SYSTEM_SITE]
            rules += [("read", alarm_command_topic(site)) for site in alarm_sites]
            rules.append(("read", all_status))
            rules += [("write", site_alarm_states(site)) for site in alarm_sites]
            rules += [("write", alarm_event_topic(site)) for site in alarm_sites]
            rules.append(("write", f"{ALARM_REPLY_PREFIX}/+/+"))
            rules.append(("write", status_topic(ServiceKind.ALARMS, sid)))
            rules.append(("write", notifier_status_topic("+")))
            rules += [("write", topic) for topic in account.extra_write]
        case BusRole.SCHEDULER:
            rules = [("write", workorder_topic(site)) for site in sites]
            rules += [("write", report_notice_topic(site)) for site in [*sites, COMPANY]]
            rules.append(("write", status_topic(ServiceKind.SCHEDULER, sid)))
        case BusRole.DASHBOARD:
            rules = [("read", topic) for topic in readings]
            rules.append(("read", all_status))
            # and SYS: acknowledging a service's alarm (the engine checks the person's scope)
            rules += [("write", alarm_command_topic(site)) for site in [*sites, SYSTEM_SITE]]
            rules.append(("read", f"{alarm_reply_prefix(account.name)}/+"))
            rules.append(("write", status_topic(ServiceKind.DASHBOARD, sid)))
        case BusRole.COMMANDER:
            rules = [("write", alarm_command_topic(site)) for site in [*sites, SYSTEM_SITE]]
            rules.append(("read", f"{alarm_reply_prefix(account.name)}/+"))
        case BusRole.READER:
            rules = [("read", topic) for topic in readings]
        case BusRole.TEST:
            rules = [("readwrite", "#")]
    return rules


def mosquitto_acl(accounts: Iterable[BusAccount]) -> str:
    """mosquitto ``acl_file`` text for these accounts (ConfigError if one is malformed).

    No rule precedes the first ``user`` line, so an anonymous client (should the broker
    allow one) may do nothing; a topic no rule grants is refused to everyone.
    """
    listed = list(accounts)
    check_accounts(listed)
    lines = [
        "# Generated by `facility bus acl` (gateway/bus_acl.py): do not edit by hand;",
        "# regenerate it when services, sites or notification channels change.",
    ]
    for account in listed:
        where = f" sites={','.join(account.sites)}" if account.sites else ""
        lines += ["", f"# {account.role} service_id={account.sid}{where}", f"user {account.name}"]
        lines += [f"topic {access} {topic}" for access, topic in account_rules(account)]
    return "\n".join(lines) + "\n"


def service_accounts(
    sites: Sequence[str],
    *,
    collectors: Sequence[tuple[str, Sequence[str]]] = (),
    gateway_id: str = "gateway-1",
    alarms_id: str = "alarms-1",
    scheduler_id: str = "scheduler-1",
    dashboard_id: str = "dashboard",
    commander: str = "facility-cli",
    channels: Sequence[str] = (),
    readers: Sequence[str] = (),
) -> list[BusAccount]:
    """One account per service of a deployment, named after the service's id.

    ``collectors`` lists (collector id, its sites); by default one collector serves all
    ``sites``, as ``facility collect run`` does with an empty ``[collector] sites``.
    ``readers`` names read-only accounts for the readings of every site (docs/telegraf.md).
    """
    every = tuple(sites)
    collector_accounts = [
        BusAccount(name, BusRole.COLLECTOR, tuple(served)) for name, served in collectors
    ] or [BusAccount("collector-1", BusRole.COLLECTOR, every)]
    return [
        *collector_accounts,
        BusAccount(gateway_id, BusRole.GATEWAY, every),
        BusAccount(alarms_id, BusRole.ALARMS, every, extra_write=tuple(channels)),
        BusAccount(scheduler_id, BusRole.SCHEDULER, every),
        BusAccount(dashboard_id, BusRole.DASHBOARD, every),
        BusAccount(commander, BusRole.COMMANDER, every),
        *[BusAccount(name, BusRole.READER, every) for name in readers],
    ]
