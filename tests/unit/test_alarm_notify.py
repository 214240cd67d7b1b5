"""Notification rules and messages (pure parts): which rule applies when, the JSON shapes of
the WeCom and DingTalk robots and the generic webhook, DingTalk signing, backoff, and what
is held back during a flood or inside an incident."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from device_profiles import load_library
from facility.backoff import backoff_s
from facility.channels import SmtpSettings, dingtalk_payload, dingtalk_signed_url, wecom_payload
from gateway.alarms.alarmfile import NotifyRule, parse_alarm_file
from gateway.alarms.definitions import AlarmSpec, compile_alarms
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.notify import Notifier
from gateway.alarms.notify_text import (
    generic_payload,
    in_window,
    local_time,
    notify_event,
    render,
    rule_matches,
)
from gateway.alarms.state import AlarmState, EventKind
from maintenance.ledger_files import demo_ledger_paths, read_ledger_file

ASSETS = [a for p in demo_ledger_paths() for a in read_ledger_file(p)]
SPECS = compile_alarms(ASSETS, load_library()).specs
DRY = SPECS["HT-PDP-001/dry_run"]
# 2026-11-26 is a Thursday; 08:30 UTC is 16:30 in Zhongshan
T0 = datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
TZ = "Asia/Shanghai"


def raised(spec: AlarmSpec, **detail: Any) -> AlarmRecord:
    return AlarmRecord(
        at=T0,
        alarm_id=spec.alarm_id,
        site=spec.site,
        asset_no=spec.asset_no,
        alarm=spec.name,
        kind=EventKind.RAISE,
        from_state=AlarmState.NORMAL,
        to_state=AlarmState.UNACK,
        priority=spec.priority.value,
        value=True,
        detail=detail,
        annunciate=True,
    )


def rule(**fields: Any) -> NotifyRule:
    return NotifyRule.model_validate({"name": "r", "channels": ["c"], **fields})


RULES = [
    ({}, True),
    ({"sites": ["HT"]}, True),
    ({"sites": ["JU"]}, False),
    ({"priorities": ["critical"]}, False),
    ({"priorities": ["high", "critical"]}, True),
    ({"classes": ["PDP"]}, True),
    ({"classes": ["FAP"]}, False),
    ({"alarms": ["dry_run", "flood"]}, True),
    ({"assets": ["HT-PDP-002"]}, False),
    ({"hours": ["08:00", "18:00"]}, True),  # 16:30 local
    ({"hours": ["18:00", "08:00"]}, False),  # night shift only
    ({"hours": ["16:30", "16:31"]}, True),
    ({"weekdays": [4]}, True),  # Thursday
    ({"weekdays": [6, 7]}, False),
    ({"events": ["clear"]}, False),
]


@pytest.mark.parametrize(("fields", "expected"), RULES)
def test_rule_matching(fields: dict[str, Any], expected: bool) -> None:
    record = raised(DRY)
    local = local_time(record.at, TZ)
    assert rule_matches(rule(**fields), "raise", record, DRY, local) is expected


def test_a_window_wrapping_midnight() -> None:
    night = rule(hours=["22:00", "06:00"])
    assert in_window(night, datetime(2026, 11, 26, 23, 0))
    assert in_window(night, datetime(2026, 11, 26, 5, 59))
    assert not in_window(night, datetime(2026, 11, 26, 6, 0))


def test_which_entries_notify() -> None:
    assert notify_event(raised(DRY)) == "raise"
    quiet = AlarmRecord(
        at=T0,
        alarm_id=DRY.alarm_id,
        site="HT",
        asset_no=DRY.asset_no,
        alarm=DRY.name,
        kind=EventKind.UNSHELVE,
        annunciate=False,
    )
    loud = AlarmRecord(
        at=T0,
        alarm_id=DRY.alarm_id,
        site="HT",
        asset_no=DRY.asset_no,
        alarm=DRY.name,
        kind=EventKind.SHELVE_EXPIRED,
        annunciate=True,
    )
    assert notify_event(quiet) is None
    assert notify_event(loud) == "raise"
    notified = AlarmRecord(
        at=T0,
        alarm_id=DRY.alarm_id,
        site="HT",
        asset_no=DRY.asset_no,
        alarm=DRY.name,
        kind=EventKind.NOTIFIED,
    )
    assert notify_event(notified) is None


def test_message_in_both_languages_with_cause_consequence_action() -> None:
    message = render(raised(DRY), DRY, "alarm", TZ)
    assert message.title == (
        "【高】HT-PDP-001 排水泵干转跳闸 — 报警 / "
        "[HIGH] HT-PDP-001 Drain pump dry-run trip — raised"
    )
    for text in ("原因：水泵进口无水空转", "Action: Check the sump and strainer", "16:30:00"):
        assert text in message.text
    assert message.markdown.startswith("**【高】")
    english = render(raised(DRY), DRY, "alarm", TZ, "en")
    assert "排水" not in english.text


def test_robot_and_generic_json_shapes() -> None:
    message = render(raised(DRY), DRY, "alarm", TZ)
    wecom = wecom_payload(message)
    assert wecom == {"msgtype": "markdown", "markdown": {"content": message.markdown}}
    assert wecom_payload(message, mention_all=True)["text"]["mentioned_list"] == ["@all"]
    ding = dingtalk_payload(message)
    assert ding["msgtype"] == "markdown"
    assert set(ding["markdown"]) == {"title", "text"}
    assert ding["at"] == {"isAtAll": False}
    generic = generic_payload(raised(DRY), DRY, "alarm", message)
    assert generic["event"]["alarm_id"] == "HT-PDP-001/dry_run"
    assert generic["event"]["event"] == "raise"
    assert generic["alarm"]["label"] == {"en": "Drain pump dry-run trip", "zh": "排水泵干转跳闸"}


def test_wecom_content_is_cut_to_4096_bytes() -> None:
    message = render(raised(DRY), DRY, "alarm", TZ)
    long = type(message)(message.title, "长" * 3000, message.text)
    assert len(wecom_payload(long)["markdown"]["content"].encode()) <= 4096


def test_dingtalk_signature() -> None:
    url = dingtalk_signed_url("https://oapi.dingtalk.com/robot/send?access_token=t", "SEC1", 1700)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    expected = base64.b64encode(hmac.new(b"SEC1", b"1700\nSEC1", hashlib.sha256).digest()).decode()
    assert query["timestamp"] == ["1700"]
    assert query["sign"] == [expected]
    assert query["access_token"] == ["t"]


def test_backoff_grows_is_capped_and_jittered() -> None:
    rng = random.Random(1)
    delays = [backoff_s(n, 2.0, 60.0, rng) for n in range(1, 9)]
    assert 1.0 <= delays[0] <= 2.0  # equal jitter: between half the ceiling and the ceiling
    assert 4.0 <= delays[2] <= 8.0
    assert all(30.0 <= d <= 60.0 for d in delays[5:])


def test_smtp_urls() -> None:
    plain = SmtpSettings.from_url("smtp://relay.example.net", "a@b.cn")
    assert (plain.host, plain.port, plain.mode) == ("relay.example.net", 25, "plain")
    tls = SmtpSettings.from_url("smtps://ops%40hq@mail.example.net", "a@b.cn", "pw")
    assert (tls.port, tls.mode, tls.username, tls.password) == (465, "tls", "ops@hq", "pw")
    assert SmtpSettings.from_url("smtp+starttls://m:2525", "a@b.cn").mode == "starttls"
    with pytest.raises(Exception, match="expected smtp://host:port"):
        SmtpSettings.from_url("http://m", "a@b.cn")


CONFIG = parse_alarm_file(
    """
notifications:
  channels:
    - {name: hook, type: webhook, url: "http://127.0.0.1:9/x"}
  rules:
    - {name: all, channels: [hook]}
""",
    "alarms.yaml",
).content.notifications


def queued(notifier: Notifier) -> list[str]:
    return [f"{n.record.alarm_id}:{n.purpose}" for n in notifier.queued()]


def test_medium_alarms_are_held_during_a_flood_critical_ones_are_not() -> None:
    notifier = Notifier(CONFIG, SPECS, timezone=TZ)
    door = SPECS["HT-PDP-001/door_open"]  # medium
    fire = SPECS["HT-FAP-001/fire"]  # critical
    flood = AlarmRecord(
        at=T0,
        alarm_id="HT/flood",
        site="HT",
        asset_no=None,
        alarm="flood",
        kind=EventKind.FLOOD_START,
        detail={"count": 11, "window_s": 600},
    )
    notifier.submit([raised(door, flood=True), raised(fire, flood=True), flood])
    assert queued(notifier) == ["HT-FAP-001/fire:alarm", "HT/flood:flood"]


def test_members_of_an_announced_incident_are_covered_by_it() -> None:
    notifier = Notifier(CONFIG, SPECS, timezone=TZ)
    first, second, third = (SPECS[f"HT-PMP-00{n}/drive_fault"] for n in (1, 2, 3))
    incident = "INC-HT-1"
    announce = AlarmRecord(
        at=T0,
        alarm_id=first.alarm_id,
        site="HT",
        asset_no=first.asset_no,
        alarm=first.name,
        kind=EventKind.INCIDENT,
        priority="high",
        detail={"incident": incident, "first_out": first.alarm_id, "members": [1, 2, 3]},
    )
    notifier.submit([raised(first)])
    notifier.submit(
        [
            raised(second, incident=incident, first_out=first.alarm_id),
            raised(third, incident=incident, first_out=first.alarm_id),
            announce,
        ]
    )
    assert queued(notifier) == [
        "HT-PMP-001/drive_fault:alarm",
        "HT-PMP-001/drive_fault:incident",
    ]


def test_missing_secrets_and_smtp_are_reported_at_start() -> None:
    config = parse_alarm_file(
        "notifications:\n  channels:\n    - {name: w, type: wecom, url_env: WECOM_URL}\n"
        "    - {name: m, type: email, to: [a@b.cn]}\n",
        "alarms.yaml",
    ).content.notifications
    with pytest.raises(Exception, match=r"\$WECOM_URL"):
        Notifier(config, SPECS, smtp=SmtpSettings("h", 25, "a@b.cn"), environ={})
    with pytest.raises(Exception, match="smtp_url is not set"):
        Notifier(config, SPECS, environ={"WECOM_URL": "http://x"})


def test_escalation_only_if_still_unacknowledged() -> None:
    from gateway.alarms.state import AlarmStatus

    config = parse_alarm_file(
        """
notifications:
  channels:
    - {name: hook, type: webhook, url: "http://127.0.0.1:9/x"}
    - {name: boss, type: webhook, url: "http://127.0.0.1:9/y"}
  rules:
    - {name: r, channels: [hook], ack_deadline_min: 5, escalate_to: [boss]}
""",
        "alarms.yaml",
    ).content.notifications
    statuses = {DRY.alarm_id: AlarmStatus(AlarmState.UNACK, since=T0, active=True)}
    journaled: list[AlarmRecord] = []
    notifier = Notifier(
        config,
        SPECS,
        state_of=statuses.get,
        journal=journaled.extend,
        clock=lambda: T0 + timedelta(minutes=5),
    )
    assert notifier.escalate(DRY.alarm_id, "r", T0)
    assert [r.kind for r in journaled] == [EventKind.ESCALATED]
    assert queued(notifier)[-1] == "HT-PDP-001/dry_run:escalation"
    statuses[DRY.alarm_id] = AlarmStatus(AlarmState.ACKED, since=T0, active=True)
    assert not notifier.escalate(DRY.alarm_id, "r", T0)
