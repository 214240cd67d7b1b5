"""The closed bus's ACL (gateway/bus_acl.py): who may publish and read which topic.

A table of (account, topic, access) → allowed, decided with MQTT's own topic matching over
the rules the ACL file is made of, for every topic the services use; then the file's text
and the refusals of malformed accounts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from facility.errors import ConfigError
from gateway.bus_acl import (
    TEST_ACCOUNT,
    BusAccount,
    BusRole,
    account_rules,
    mosquitto_acl,
    service_accounts,
)

SITES = ("HT", "JU", "HY")
ACCOUNTS = {
    a.name: a
    for a in [
        BusAccount("collector-JU", BusRole.COLLECTOR, ("JU",)),
        BusAccount("collector-HT", BusRole.COLLECTOR, ("HT",)),
        *service_accounts(SITES, readers=["telegraf"])[1:],  # gateway-1 ... facility-cli, telegraf
        BusAccount(TEST_ACCOUNT, BusRole.TEST),
    ]
}


def matches(pattern: str, topic: str) -> bool:
    """MQTT topic-filter matching (``+`` one level, ``#`` the rest), as the broker does."""
    filter_levels, topic_levels = pattern.split("/"), topic.split("/")
    for i, level in enumerate(filter_levels):
        if level == "#":
            return True
        if i >= len(topic_levels) or (level != "+" and level != topic_levels[i]):
            return False
    return len(filter_levels) == len(topic_levels)


def allowed(account: str, access: str, topic: str) -> bool:
    return any(
        matches(pattern, topic) and granted in (access, "readwrite")
        for granted, pattern in account_rules(ACCOUNTS[account])
    )


FIRE = "facility/v1/HT/HT-FAP-003"
COMMAND_HT = "facility/v1/ctl/alarm-commands/HT"

# (account, access, topic, allowed)
TABLE = [
    # readings: a collector publishes for its own sites only
    ("collector-JU", "write", FIRE, False),
    ("collector-JU", "write", "facility/v1/JU/JU-FAP-001", True),
    ("collector-HT", "write", FIRE, True),
    ("collector-HT", "write", "facility/v1/HT/sub/level", False),
    # ... and nobody else publishes readings
    ("gateway-1", "write", FIRE, False),
    ("alarms-1", "write", FIRE, False),
    ("dashboard", "write", FIRE, False),
    ("facility-cli", "write", FIRE, False),
    ("scheduler-1", "write", FIRE, False),
    # gateway and alarm engine only read readings
    ("gateway-1", "read", FIRE, True),
    ("alarms-1", "read", FIRE, True),
    ("dashboard", "read", FIRE, True),
    ("collector-JU", "read", FIRE, False),
    ("facility-cli", "read", FIRE, False),
    # alarm commands: only the services that authenticate people
    ("dashboard", "write", COMMAND_HT, True),
    ("facility-cli", "write", COMMAND_HT, True),
    ("collector-HT", "write", COMMAND_HT, False),
    ("gateway-1", "write", COMMAND_HT, False),
    ("alarms-1", "write", COMMAND_HT, False),
    ("scheduler-1", "write", COMMAND_HT, False),
    ("alarms-1", "read", COMMAND_HT, True),
    ("gateway-1", "read", COMMAND_HT, False),  # its readings wildcard must not see them
    ("collector-HT", "read", COMMAND_HT, False),
    # replies: private to the account that asked; only the engine writes them
    ("facility-cli", "read", "facility/v1/ctl/alarm-replies/facility-cli/ab12", True),
    ("facility-cli", "read", "facility/v1/ctl/alarm-replies/dashboard/ab12", False),
    ("dashboard", "read", "facility/v1/ctl/alarm-replies/dashboard/ab12", True),
    ("dashboard", "read", "facility/v1/ctl/alarm-replies/facility-cli/ab12", False),
    ("alarms-1", "write", "facility/v1/ctl/alarm-replies/dashboard/ab12", True),
    ("collector-HT", "write", "facility/v1/ctl/alarm-replies/dashboard/ab12", False),
    ("alarms-1", "write", "facility/v1/HT/x", False),  # a reply_to aimed at readings
    # alarm states and events: the engine's
    ("alarms-1", "write", "facility/v1/alarms/HT/HT-FAP-003/fire", True),
    ("alarms-1", "write", "facility/v1/events/alarms/JU", True),
    ("collector-HT", "write", "facility/v1/alarms/HT/HT-FAP-003/fire", False),
    ("dashboard", "write", "facility/v1/events/alarms/HT", False),
    # ... also the system alarms (a silent service), filed under the position SYS
    ("alarms-1", "write", "facility/v1/alarms/SYS/SYS-COL-collector-1/service", True),
    ("alarms-1", "write", "facility/v1/events/alarms/SYS", True),
    # ... and nothing two levels down, where the readings' wildcard would hear it
    ("alarms-1", "write", "facility/v1/alarms/HT", False),
    ("alarms-1", "write", "facility/v1/ctl/alarm-replies", False),
    # the old two-level control topics are nobody's (docs/decisions/007-topic-trees.md)
    ("dashboard", "write", "facility/v1/alarm-commands/HT", False),
    ("alarms-1", "write", "facility/v1/alarm-events/HT", False),
    ("scheduler-1", "write", "facility/v1/workorders/HT", False),
    ("gateway-1", "write", "facility/v1/deadletter/gateway-1", False),
    # resend: the historian asks, the site's collector answers
    ("gateway-1", "write", "facility/v1/ctl/resend/HT", True),
    ("collector-HT", "read", "facility/v1/ctl/resend/HT", True),
    ("collector-HT", "read", "facility/v1/ctl/resend/JU", False),
    ("collector-HT", "write", "facility/v1/events/resend/HT", True),
    ("collector-HT", "write", "facility/v1/events/resend/JU", False),
    ("collector-HT", "write", "facility/v1/ctl/resend/HT", False),
    ("gateway-1", "read", "facility/v1/events/resend/JU", True),
    # heartbeats: each service its own status topic; engine and dashboard read them all
    ("collector-HT", "write", "facility/v1/status/collector/collector-HT", True),
    ("collector-HT", "write", "facility/v1/status/collector/collector-JU", False),
    ("collector-HT", "write", "facility/v1/status/gateway/gateway-1", False),
    ("gateway-1", "write", "facility/v1/status/gateway/gateway-1", True),
    ("alarms-1", "write", "facility/v1/status/alarms/alarms-1", True),
    ("alarms-1", "write", "facility/v1/status/alarm-notifier/centre", True),
    ("scheduler-1", "write", "facility/v1/status/scheduler/scheduler-1", True),
    ("dashboard", "write", "facility/v1/status/dashboard/dashboard", True),
    ("alarms-1", "read", "facility/v1/status/collector/collector-HT", True),
    ("dashboard", "read", "facility/v1/status/gateway/gateway-1", True),
    ("gateway-1", "read", "facility/v1/status/collector/collector-HT", False),
    # dead letters, work orders
    ("gateway-1", "write", "facility/v1/events/deadletter/gateway-1", True),
    ("gateway-1", "write", "facility/v1/events/deadletter/gateway-2", False),
    ("scheduler-1", "write", "facility/v1/events/workorders/HY", True),
    ("collector-HT", "write", "facility/v1/events/workorders/HT", False),
    # a reader (Telegraf): the readings of its sites, nothing else, and never writes
    ("telegraf", "read", FIRE, True),
    ("telegraf", "read", "facility/v1/JU/JU-PMP-001", True),
    ("telegraf", "write", FIRE, False),
    ("telegraf", "read", COMMAND_HT, False),
    ("telegraf", "read", "facility/v1/events/alarms/HT", False),
    ("telegraf", "read", "facility/v1/status/collector/collector-HT", False),
    ("telegraf", "read", "facility/v1/ctl/alarm-replies/dashboard/ab12", False),
    # the test account: everything
    (TEST_ACCOUNT, "write", FIRE, True),
    (TEST_ACCOUNT, "read", "facility/v1/ctl/alarm-replies/dashboard/x", True),
]


@pytest.mark.parametrize(("account", "access", "topic", "expected"), TABLE)
def test_who_may_do_what(account: str, access: str, topic: str, expected: bool) -> None:
    assert allowed(account, access, topic) is expected


def test_acl_file_names_each_user_and_grants_nothing_to_anonymous() -> None:
    text = mosquitto_acl(ACCOUNTS.values())
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0].startswith("user ")  # no rule before the first user: anonymous gets none
    assert {line.split()[1] for line in lines if line.startswith("user ")} == set(ACCOUNTS)
    assert "user collector-JU\ntopic write facility/v1/JU/+\n" in text
    assert all(line.split()[0] in ("user", "topic") for line in lines)


def test_notification_channels_are_the_alarm_engines_to_publish() -> None:
    account = BusAccount("alarms-1", BusRole.ALARMS, ("HT",), extra_write=("estate/notify/ht",))
    assert ("write", "estate/notify/ht") in account_rules(account)


@pytest.mark.parametrize(
    ("account", "message"),
    [
        (BusAccount("bad name", BusRole.TEST), r"'bad name': name: expected"),
        (BusAccount("a/b", BusRole.TEST), r"name: expected"),
        (BusAccount("c", BusRole.COLLECTOR), r"'c': sites: a collector account needs"),
        (BusAccount("c", BusRole.COLLECTOR, ("ht",)), r"sites: 'ht' is not a site code"),
        (
            BusAccount("c", BusRole.COLLECTOR, ("HT",), service_id="x\ntopic readwrite #"),
            r"service_id: expected",
        ),
        (
            BusAccount("a", BusRole.ALARMS, ("HT",), extra_write=("x #\nuser y",)),
            r"extra_write: .* is not a plain topic",
        ),
        (
            BusAccount("a", BusRole.ALARMS, ("HT",), extra_write=("#",)),
            r"extra_write: '#' is not a plain topic",
        ),
        (
            BusAccount("a", BusRole.ALARMS, ("HT",), extra_write=("facility/v1/notify/HT",)),
            r"extra_write: 'facility/v1/notify/HT' is two levels below facility/v1",
        ),
        (
            BusAccount("g", BusRole.GATEWAY, ("HT",), extra_write=("x/y",)),
            r"only an alarms account",
        ),
    ],
)
def test_malformed_accounts_are_refused_naming_the_field(account: BusAccount, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        mosquitto_acl([account])


def test_an_account_name_used_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="used twice"):
        mosquitto_acl([BusAccount("t", BusRole.TEST), BusAccount("t", BusRole.TEST)])


def test_service_accounts_default_to_one_collector_for_every_site() -> None:
    accounts = service_accounts(["HT", "JU"], collectors=[("collector-ht", ["HT"])])
    assert [(a.name, a.role, a.sites) for a in accounts][:2] == [
        ("collector-ht", BusRole.COLLECTOR, ("HT",)),
        ("gateway-1", BusRole.GATEWAY, ("HT", "JU")),
    ]
    assert service_accounts(["HT"])[0].name == "collector-1"


def test_the_acl_command_adds_reader_accounts(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from facility.config import Settings
    from gateway.cli.bus import group

    out = tmp_path / "acl"
    result = CliRunner().invoke(
        group,
        ["acl", "--site", "HT", "--reader", "telegraf", "--out", str(out)],
        obj=Settings(),
    )
    assert result.exit_code == 0, result.output
    assert "user telegraf\ntopic read facility/v1/HT/+\n" in out.read_text()
    assert "mosquitto_passwd /etc/mosquitto/passwd telegraf" in result.output
