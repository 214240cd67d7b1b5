"""Every MQTT topic of the product, in one module (docs/decisions/007-topic-trees.md).

Readings are the only topics two levels below ``facility/v1``; everything else lives in a
tree of its own, at least three levels down, so ``facility/v1/+/+`` (the gateways' shared
subscription, the dashboard's, a Telegraf ``mqtt_consumer``) matches readings only::

    facility/v1/<SITE>/<asset_no>                    readings, retained (the device's state)
    facility/v1/ctl/alarm-commands/<SITE>            operator commands to the alarm engine
    facility/v1/ctl/alarm-replies/<account>/<id>     the engine's answer, private to <account>
    facility/v1/ctl/resend/<SITE>                    the historian asks for missed polls
    facility/v1/events/alarms/<SITE>                 alarm journal entries
    facility/v1/events/resend/<SITE>                 the collectors' resend reports
    facility/v1/events/workorders/<SITE>             work-order notices
    facility/v1/events/reports/<SITE|ALL>            "a report is ready" notices
    facility/v1/events/deadletter/<gateway_id>       messages the historian refused
    facility/v1/alarms/<SITE>/<asset_no>/<alarm>     alarm states, retained
    facility/v1/status/<kind>/<id>                   heartbeats, retained (and last wills)
    facility/v1/status/alarm-notifier/<channel>      notification channels' health, retained

Site codes are upper case (``HT``) and tree names lower case, so a tree can never be taken
for a site either. The closed bus's ACL (``gateway.bus_acl``) is computed from these helpers,
and a unit test enumerates them; no other module spells a topic.
"""

from __future__ import annotations

TOPIC_PREFIX = "facility/v1"
READINGS_WILDCARD = f"{TOPIC_PREFIX}/+/+"

CTL_PREFIX = f"{TOPIC_PREFIX}/ctl"
EVENTS_PREFIX = f"{TOPIC_PREFIX}/events"
STATUS_PREFIX = f"{TOPIC_PREFIX}/status"
ALARM_STATE_PREFIX = f"{TOPIC_PREFIX}/alarms"

ALARM_COMMAND_PREFIX = f"{CTL_PREFIX}/alarm-commands"
ALARM_REPLY_PREFIX = f"{CTL_PREFIX}/alarm-replies"
RESEND_REQUEST_PREFIX = f"{CTL_PREFIX}/resend"
ALARM_EVENT_PREFIX = f"{EVENTS_PREFIX}/alarms"
RESEND_REPORT_PREFIX = f"{EVENTS_PREFIX}/resend"
WORKORDER_PREFIX = f"{EVENTS_PREFIX}/workorders"
REPORT_NOTICE_PREFIX = f"{EVENTS_PREFIX}/reports"
DEAD_LETTER_PREFIX = f"{EVENTS_PREFIX}/deadletter"
NOTIFIER_STATUS_PREFIX = f"{STATUS_PREFIX}/alarm-notifier"

RESEND_REPORT_WILDCARD = f"{RESEND_REPORT_PREFIX}/+"
STATUS_WILDCARD = f"{STATUS_PREFIX}/+/+"


# -- readings ---------------------------------------------------------------------------------


def device_topic(site: str, asset_no: str) -> str:
    """A device's readings (one message per poll; the retained one is its full state)."""
    return f"{TOPIC_PREFIX}/{site}/{asset_no}"


def site_readings(site: str) -> str:
    """Every device of one site (a filter)."""
    return device_topic(site, "+")


def shared_readings(share_group: str) -> str:
    """The gateways' MQTT 5 shared subscription: each reading to one member of the group."""
    return f"$share/{share_group}/{READINGS_WILDCARD}"


# -- control: requests to a service -----------------------------------------------------------


def alarm_command_topic(site: str) -> str:
    """Operator commands (ack, shelve, ...) for the alarms of one site."""
    return f"{ALARM_COMMAND_PREFIX}/{site}"


def alarm_reply_prefix(username: str | None) -> str:
    """Where the engine answers this broker account: ``.../alarm-replies/<account>``.

    The closed bus lets only that account read under it; a name that cannot be a topic
    level is not an account of ours.
    """
    level = username if username and not set(username) & set("/+#") else "anonymous"
    return f"{ALARM_REPLY_PREFIX}/{level}"


def resend_request_topic(site: str) -> str:
    """The historian asks the site's collector to send missed polls again."""
    return f"{RESEND_REQUEST_PREFIX}/{site}"


# -- events: what happened --------------------------------------------------------------------


def alarm_event_topic(site: str) -> str:
    """Alarm journal entries of one site."""
    return f"{ALARM_EVENT_PREFIX}/{site}"


def resend_report_topic(site: str) -> str:
    """A collector's answer to a resend request: what it sent, what it no longer holds."""
    return f"{RESEND_REPORT_PREFIX}/{site}"


def workorder_topic(site: str) -> str:
    """Work-order notices (created, assigned, ...) of one site."""
    return f"{WORKORDER_PREFIX}/{site}"


def report_notice_topic(site: str) -> str:
    """A generated report is ready (``site`` is a code, or ``ALL`` for the company's)."""
    return f"{REPORT_NOTICE_PREFIX}/{site}"


def dead_letter_topic(gateway_id: str) -> str:
    """Messages one gateway refused, with the reason."""
    return f"{DEAD_LETTER_PREFIX}/{gateway_id}"


# -- state: retained ----------------------------------------------------------------------------


def alarm_state_topic(site: str, asset_no: str, name: str) -> str:
    """The retained state of one alarm."""
    return f"{ALARM_STATE_PREFIX}/{site}/{asset_no}/{name}"


def site_alarm_states(site: str) -> str:
    """Every alarm state of one site (a filter, exactly the depth of :func:`alarm_state_topic`)."""
    return alarm_state_topic(site, "+", "+")


def status_topic(kind: str, service_id: str) -> str:
    """The retained heartbeat of one service (``kind``: collector, gateway, ...)."""
    return f"{STATUS_PREFIX}/{kind}/{service_id}"


def notifier_status_topic(channel: str) -> str:
    """The retained health of one alarm-notification channel."""
    return f"{NOTIFIER_STATUS_PREFIX}/{channel}"


# -- MQTT topic-filter algebra (pure) -----------------------------------------------------------


def _levels(topic_filter: str) -> list[str]:
    if topic_filter.startswith("$share/"):
        topic_filter = topic_filter.split("/", 2)[2]
    return topic_filter.split("/")


def filter_matches(topic_filter: str, topic: str) -> bool:
    """Does ``topic`` match ``topic_filter`` (``+`` one level, ``#`` the rest, the parent
    included), as the broker decides? A ``$share/<group>/`` prefix is ignored."""
    levels, topic_levels = _levels(topic_filter), topic.split("/")
    for i, level in enumerate(levels):
        if level == "#":
            return True
        if i >= len(topic_levels) or (level != "+" and level != topic_levels[i]):
            return False
    return len(levels) == len(topic_levels)


def filters_overlap(first: str, second: str) -> bool:
    """Is there a topic both filters match? (An ACL grant that overlaps the readings'
    wildcard would let its holder put something in front of every readings consumer.)"""
    a, b = _levels(first), _levels(second)
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else None
        y = b[i] if i < len(b) else None
        if x == "#" or y == "#":
            return True
        if x is None or y is None:  # one ended, the other goes deeper (and not by "#")
            return False
        if x != y and x != "+" and y != "+":
            return False
    return True
