"""Alarm notifications, the pure part: which rule hears about which journal entry, and the text.

No I/O: ``notify_event`` maps a journal entry to a notification event, ``rule_matches`` and
``in_window`` decide who is told now, ``render`` writes the title and body in Chinese and/or
English, ``generic_payload`` the project's own webhook JSON. The shell that queues and sends
is ``gateway.alarms.notify``; the channels themselves are ``facility.channels``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from facility.channels import Message
from gateway.alarms.alarmfile import NotifyEvent, NotifyRule, parse_hhmm
from gateway.alarms.definitions import AlarmSpec
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.state import EventKind

Purpose = Literal["alarm", "escalation", "flood", "incident"]

_EVENT_OF: dict[EventKind, NotifyEvent] = {
    EventKind.RAISE: "raise",
    EventKind.REALARM: "realarm",
    EventKind.CLEAR: "clear",
    EventKind.ACK: "ack",
    EventKind.FLOOD_START: "flood",
    EventKind.INCIDENT: "incident",
    # leaving shelved / suppressed / out of service into an active alarm: a new annunciation
    EventKind.UNSHELVE: "raise",
    EventKind.SHELVE_EXPIRED: "raise",
    EventKind.UNSUPPRESS: "raise",
    EventKind.RETURN_TO_SERVICE: "raise",
}

_WORDS: dict[str, tuple[str, str]] = {
    "raise": ("报警", "raised"),
    "realarm": ("再次报警", "re-alarm"),
    "clear": ("恢复正常", "returned to normal"),
    "ack": ("已确认", "acknowledged"),
    "flood": ("报警泛滥", "alarm flood"),
    "incident": ("关联事件", "incident"),
    "escalation": ("超时未确认，升级通知", "not acknowledged in time — escalated"),
}
_PRIORITY_ZH = {"critical": "紧急", "high": "高", "medium": "中", "low": "低"}


def notify_event(record: AlarmRecord) -> NotifyEvent | None:
    """The notification event a journal entry is, if any."""
    event = _EVENT_OF.get(record.kind)
    if event == "raise" and not record.annunciate:
        return None  # e.g. unshelve of an alarm that is normal
    return event


def in_window(rule: NotifyRule, local: datetime) -> bool:
    """The rule's weekdays and hours (local time; a window may wrap midnight)."""
    if rule.weekdays and local.isoweekday() not in rule.weekdays:
        return False
    if rule.hours is None:
        return True
    start, end = parse_hhmm(rule.hours[0]), parse_hhmm(rule.hours[1])
    minute = local.hour * 60 + local.minute
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


def rule_matches(
    rule: NotifyRule,
    event: NotifyEvent,
    record: AlarmRecord,
    spec: AlarmSpec | None,
    local: datetime,
) -> bool:
    """Does ``rule`` want to hear about this entry now? (Flood notices have no alarm.)"""
    if event not in rule.events:
        return False
    if rule.sites and record.site not in rule.sites:
        return False
    if spec is not None:
        if not rule.selects(spec.asset_no, spec.site, spec.device_class):
            return False
        if rule.priorities and spec.priority not in rule.priorities:
            return False
        if rule.alarms and spec.name not in rule.alarms:
            return False
    elif rule.assets or rule.classes or rule.alarms:
        return False  # a site-wide notice (flood) only goes to rules about whole sites
    return in_window(rule, local)


def local_time(moment: datetime, timezone: str) -> datetime:
    return moment.astimezone(ZoneInfo(timezone))


def render(
    record: AlarmRecord,
    spec: AlarmSpec | None,
    purpose: Purpose,
    timezone: str,
    language: str = "both",
) -> Message:
    """Title and body (Markdown and plain) in Chinese, English or both."""
    word = "escalation" if purpose == "escalation" else (notify_event(record) or "raise")
    zh_word, en_word = _WORDS[word]
    when = local_time(record.at, timezone).strftime("%Y-%m-%d %H:%M:%S")
    priority = record.priority or ""
    zh_lines: list[str] = []
    en_lines: list[str] = []
    if purpose == "flood":
        count = record.detail.get("count", "?")
        window_min = float(record.detail.get("window_s", 600)) / 60
        zh_title = f"【{record.site}】{zh_word}：{window_min:g} 分钟内 {count} 条报警"
        en_title = f"[{record.site}] {en_word}: {count} alarms in {window_min:g} min"
        zh_lines.append("中低优先级报警暂停逐条通知，请查看报警台。")
        en_lines.append("Low and medium alarms are not sent one by one; see the alarm console.")
    else:
        label_zh = spec.label.zh if spec else record.alarm
        label_en = spec.label.en if spec else record.alarm
        zh_title = (
            f"【{_PRIORITY_ZH.get(priority, priority)}】{record.asset_no} {label_zh} — {zh_word}"
        )
        en_title = f"[{priority.upper()}] {record.asset_no} {label_en} — {en_word}"
        if purpose == "incident":
            members = record.detail.get("members", [])
            zh_lines.append(f"首发报警：{record.alarm_id}，共 {len(members)} 条关联报警")
            en_lines.append(f"First-out: {record.alarm_id}; {len(members)} alarms in it")
        if record.value is not None and purpose != "incident":
            zh_lines.append(f"数值：{_value_text(record.value)}")
            en_lines.append(f"Value: {_value_text(record.value)}")
        text = spec.text if spec else None
        if text is not None:
            zh_lines += [
                f"原因：{text.cause.zh}",
                f"后果：{text.consequence.zh}",
                f"处置：{text.action.zh}",
            ]
            en_lines += [
                f"Cause: {text.cause.en}",
                f"Consequence: {text.consequence.en}",
                f"Action: {text.action.en}",
            ]
        if record.user:
            zh_lines.append(f"操作人：{record.user} {record.comment}".rstrip())
            en_lines.append(f"By: {record.user} {record.comment}".rstrip())
    zh_lines.append(f"时间：{when}")
    en_lines.append(f"Time: {when} ({timezone})")
    if purpose != "flood":
        zh_lines.append(f"报警编号：{record.alarm_id}")
        en_lines.append(f"Alarm: {record.alarm_id}")
    parts: list[tuple[str, list[str]]] = []
    if language in ("zh", "both"):
        parts.append((zh_title, zh_lines))
    if language in ("en", "both"):
        parts.append((en_title, en_lines))
    title = " / ".join(t for t, _ in parts)
    markdown = "\n\n".join(
        f"**{t}**\n\n" + "\n".join(f"> {line}" for line in ls) for t, ls in parts
    )
    text_body = "\n\n".join(t + "\n" + "\n".join(ls) for t, ls in parts)
    return Message(title, markdown, text_body)


def _value_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def generic_payload(
    record: AlarmRecord, spec: AlarmSpec | None, purpose: Purpose, message: Message
) -> dict[str, Any]:
    """The project's own JSON document: the journal entry plus the alarm's texts."""
    alarm: dict[str, Any] | None = None
    if spec is not None:
        alarm = {
            "alarm_id": spec.alarm_id,
            "site": spec.site,
            "asset_no": spec.asset_no,
            "class": spec.device_class,
            "priority": spec.priority.value,
            "label": spec.label.model_dump(),
            "text": spec.text.model_dump() if spec.text else None,
        }
    return {
        "v": 1,
        "type": purpose,
        "title": message.title,
        "text": message.text,
        "event": record.to_json(),
        "alarm": alarm,
    }
