"""Every topic of the product comes from facility/topics.py, and only readings match the
readings' wildcard ``facility/v1/+/+`` (docs/decisions/007-topic-trees.md).

Three proofs: every topic the helpers make (and every ACL grant computed from them) is
checked against the wildcard; the MQTT filter algebra the check relies on is tested on a
table; and no product module spells a ``facility/v1`` topic itself, so the helpers are the
whole list.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from facility import topics
from facility.heartbeat import ServiceKind
from facility.topics import READINGS_WILDCARD, filter_matches, filters_overlap
from gateway.alarms.watchdog import SYSTEM_SITE
from gateway.bus_acl import BusAccount, BusRole, account_rules, service_accounts
from maintenance.reports.model import ALL as COMPANY

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("facility", "device_profiles", "collectors", "gateway", "maintenance", "dashboards")
PACKAGES += ("simulators", "devtools")
SITES = ("HT", "JU", "HY")


def every_topic() -> dict[str, list[str]]:
    """Each helper of facility.topics with example arguments: (kind → concrete topics)."""
    out: dict[str, list[str]] = {
        "reading": [topics.device_topic(s, f"{s}-PMP-001") for s in SITES],
        "alarm command": [topics.alarm_command_topic(s) for s in SITES],
        "alarm reply": [
            f"{topics.alarm_reply_prefix(account)}/0f3a"
            for account in ("dashboard", "facility-cli", None, "a/b")
        ],
        "resend request": [topics.resend_request_topic(s) for s in SITES],
        "alarm event": [topics.alarm_event_topic(s) for s in (*SITES, SYSTEM_SITE)],
        "resend report": [topics.resend_report_topic(s) for s in SITES],
        "work order": [topics.workorder_topic(s) for s in SITES],
        "report notice": [topics.report_notice_topic(s) for s in (*SITES, COMPANY)],
        "dead letter": [topics.dead_letter_topic("gateway-1")],
        "alarm state": [
            topics.alarm_state_topic("HT", "HT-PDP-001", "dry_run"),
            topics.alarm_state_topic(SYSTEM_SITE, "SYS-COL-collector-1", "service"),
        ],
        "status": [topics.status_topic(kind, "x-1") for kind in ServiceKind],
        "notifier status": [topics.notifier_status_topic("centre")],
    }
    return out


def test_every_helper_is_enumerated() -> None:
    """A helper added to facility.topics without a line above fails here."""
    helpers = {
        name
        for name, value in vars(topics).items()
        if callable(value)
        and getattr(value, "__module__", "") == topics.__name__
        and not name.startswith("_")
        and name not in ("filter_matches", "filters_overlap")
    }
    source = Path(__file__).read_text()
    assert {h for h in helpers if f"topics.{h}(" not in source} == set()


@pytest.mark.parametrize(("kind", "topic"), [(k, t) for k, ts in every_topic().items() for t in ts])
def test_only_readings_match_the_readings_wildcard(kind: str, topic: str) -> None:
    assert filter_matches(READINGS_WILDCARD, topic) is (kind == "reading")
    assert filter_matches(topics.shared_readings("gw"), topic) is (kind == "reading")


ACCOUNTS = [
    *service_accounts(
        SITES,
        collectors=[("collector-ht", ["HT"]), ("collector-2", ["JU", "HY"])],
        readers=["telegraf"],
    ),
    BusAccount("alarms-2", BusRole.ALARMS, ("HT",), extra_write=("estate/notify/centre",)),
]


@pytest.mark.parametrize("account", ACCOUNTS, ids=lambda a: a.name)
def test_no_grant_but_a_collectors_readings_overlaps_the_readings_wildcard(
    account: BusAccount,
) -> None:
    """What an account may publish or read: only readings where ``facility/v1/+/+`` is."""
    for access, pattern in account_rules(account):
        is_readings = any(pattern == topics.site_readings(site) for site in account.sites)
        assert filters_overlap(pattern, READINGS_WILDCARD) is is_readings, (access, pattern)


def test_the_trees_are_what_the_decision_says() -> None:
    assert topics.device_topic("HT", "HT-PMP-001") == "facility/v1/HT/HT-PMP-001"
    assert topics.shared_readings("g") == "$share/g/facility/v1/+/+"
    assert topics.alarm_command_topic("HT") == "facility/v1/ctl/alarm-commands/HT"
    assert topics.alarm_reply_prefix("dashboard") == "facility/v1/ctl/alarm-replies/dashboard"
    assert topics.alarm_reply_prefix("a/b") == "facility/v1/ctl/alarm-replies/anonymous"
    assert topics.resend_request_topic("HT") == "facility/v1/ctl/resend/HT"
    assert topics.alarm_event_topic("HT") == "facility/v1/events/alarms/HT"
    assert topics.resend_report_topic("HT") == "facility/v1/events/resend/HT"
    assert topics.workorder_topic("HT") == "facility/v1/events/workorders/HT"
    assert topics.report_notice_topic("ALL") == "facility/v1/events/reports/ALL"
    assert topics.dead_letter_topic("gw-1") == "facility/v1/events/deadletter/gw-1"
    assert topics.alarm_state_topic("HT", "HT-A-001", "x") == "facility/v1/alarms/HT/HT-A-001/x"
    assert topics.site_alarm_states("HT") == "facility/v1/alarms/HT/+/+"
    assert topics.status_topic(ServiceKind.GATEWAY, "gw-1") == "facility/v1/status/gateway/gw-1"
    assert topics.notifier_status_topic("c") == "facility/v1/status/alarm-notifier/c"


# (filter, topic, matches)
MATCHES = [
    ("facility/v1/+/+", "facility/v1/HT/HT-PMP-001", True),
    ("facility/v1/+/+", "facility/v1/ctl/resend/HT", False),
    ("facility/v1/+/+", "facility/v1/HT", False),
    ("facility/v1/#", "facility/v1", True),  # "#" includes the parent level
    ("facility/v1/#", "facility/v1/a/b/c", True),
    ("facility/v1/alarms/HT/#", "facility/v1/alarms/HT", True),
    ("$share/g/facility/v1/+/+", "facility/v1/HT/x", True),
    ("a/+/c", "a/b/c", True),
    ("a/+/c", "a/b/d", False),
    ("a/b", "a/b/c", False),
]


@pytest.mark.parametrize(("topic_filter", "topic", "expected"), MATCHES)
def test_filter_matches(topic_filter: str, topic: str, expected: bool) -> None:
    assert filter_matches(topic_filter, topic) is expected


# (filter, filter, some topic matches both)
OVERLAPS = [
    ("facility/v1/+/+", "facility/v1/HT/+", True),
    ("facility/v1/+/+", "facility/v1/alarms/HT/#", True),  # at facility/v1/alarms/HT
    ("facility/v1/+/+", "facility/v1/alarms/HT/+/+", False),
    ("facility/v1/+/+", "facility/v1/ctl/alarm-replies/+/+", False),
    ("facility/v1/+/+", "facility/v1/ctl/alarm-replies/#", True),  # "#" takes the parent
    ("facility/v1/+/+", "facility/v1/alarm-replies/#", True),  # at facility/v1/alarm-replies/x
    ("facility/v1/+/+", "#", True),
    ("facility/v1/+/+", "facility/+/HT/x", True),
    ("facility/v1/+/+", "estate/notify/centre", False),
    ("a/b", "a/b", True),
    ("a/b", "a/c", False),
    ("a/#", "a", True),
    ("a/+", "a", False),
]


@pytest.mark.parametrize(("first", "second", "expected"), OVERLAPS)
def test_filters_overlap(first: str, second: str, expected: bool) -> None:
    assert filters_overlap(first, second) is expected
    assert filters_overlap(second, first) is expected


def _spelled_topics(path: Path) -> list[str]:
    """String literals naming a ``facility/v1`` topic, outside docstrings."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and "facility/v1" in node.value
    ]


def test_no_module_but_facility_topics_spells_a_topic() -> None:
    spelled = [
        where
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != ROOT / "facility" / "topics.py"
        for where in _spelled_topics(path)
    ]
    assert spelled == []
