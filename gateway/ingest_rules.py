"""What the gateway accepts from the bus: its rules on top of the bus schema
(facility.payload); its topics are in facility.topics. Pure: no I/O."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from facility.payload import DeviceMessage, PayloadError
from facility.topics import RESEND_REPORT_PREFIX
from facility.types import Asset
from gateway.lineproto import measurement_for

POINT_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DEAD_LETTER_PAYLOAD_MAX = 64 * 1024
# the broker keeps our session this long after we go (config: [gateway] session_expiry_s)
SESSION_EXPIRY_S = 600


REPORT_PREFIX = RESEND_REPORT_PREFIX + "/"


def ledger_tags(assets: Iterable[Asset]) -> dict[str, dict[str, str]]:
    """Extra tags per asset from the ledger: ``building`` and ``system`` (cheap, and what a
    manager filters by). They are part of the series: keep them stable for an asset."""
    return {a.asset_no: {"building": a.building, "system": a.system} for a in assets}


def check_message(message: DeviceMessage, known_assets: Collection[str] | None) -> None:
    """Gateway rules on top of the bus schema; PayloadError with a kind if one fails."""
    if known_assets is not None and message.asset_no not in known_assets:
        raise PayloadError(
            "unknown_asset", f"asset {message.asset_no} is not in the ledger given to the gateway"
        )
    expected = measurement_for(message.asset_no).upper()
    if message.device_class != expected:
        raise PayloadError(
            "class_mismatch",
            f"class {message.device_class!r:.20} but asset {message.asset_no} is a {expected}",
        )
    for reading in message.readings:
        name = reading.point
        if not POINT_NAME_RE.match(name) or name.endswith("_q") or name == "time":
            raise PayloadError(
                "bad_point_name",
                f"point {name[:64]!r}: expected lower_case_name (not ending in _q, not 'time')",
            )
