"""The resend protocol between the historian and the collectors (end-to-end gap filling).

Every device message carries a per-device ``seq`` that survives collector restarts. The
historian looks for holes in the stored sequence and asks for them again; the collector that
serves the device re-publishes what it still holds (same topic, not retained, so the
retained "last state" is not rolled back) and reports what it no longer holds, with the
cause, so the loss is recorded as data instead of staying invisible.

    facility/v1/ctl/resend/<site>      {"v": 1, "asset_no": "HT-PMP-001", "from": 120, "to": 180}
    facility/v1/events/resend/<site>   {"v": 1, "asset_no": "HT-PMP-001", "from": 120, "to": 180,
                                        "resent": 50, "missing": [[171, 180, "cause"]]}

The topics come from ``facility.topics`` (``resend_request_topic``, ``resend_report_topic``):
three levels below ``facility/v1``, so the readings' wildcard ``facility/v1/+/+`` never
matches them. Decoding is strict and bounded (hostile input).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from facility.errors import ProtocolError
from facility.types import ASSET_NO_RE

RESEND_VERSION = 1
MAX_RANGE = 10_000  # polls per request: a bigger hole is asked for in several requests
MAX_MESSAGE_BYTES = 64 * 1024
MAX_MISSING = 256


@dataclass(frozen=True, slots=True)
class ResendRequest:
    asset_no: str
    seq_from: int
    seq_to: int


@dataclass(frozen=True, slots=True)
class ResendReport:
    asset_no: str
    seq_from: int
    seq_to: int
    resent: int
    missing: tuple[tuple[int, int, str], ...]  # inclusive ranges and their cause


def encode_request(request: ResendRequest) -> bytes:
    body = {"v": RESEND_VERSION, "asset_no": request.asset_no}
    body |= {"from": request.seq_from, "to": request.seq_to}
    return json.dumps(body, separators=(",", ":")).encode()


def encode_report(report: ResendReport) -> bytes:
    body: dict[str, Any] = {"v": RESEND_VERSION, "asset_no": report.asset_no}
    body |= {"from": report.seq_from, "to": report.seq_to, "resent": report.resent}
    body["missing"] = [list(m) for m in report.missing[:MAX_MISSING]]
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def decode_request(payload: bytes) -> ResendRequest:
    body = _load(payload)
    asset_no, seq_from, seq_to = _range(body)
    return ResendRequest(asset_no, seq_from, seq_to)


def decode_report(payload: bytes) -> ResendReport:
    body = _load(payload)
    asset_no, seq_from, seq_to = _range(body)
    resent = _count(body, "resent")
    missing_raw = body.get("missing", [])
    if not isinstance(missing_raw, list) or len(missing_raw) > MAX_MISSING:
        raise ProtocolError(f"`missing` must be a list of at most {MAX_MISSING} ranges")
    missing: list[tuple[int, int, str]] = []
    for entry in missing_raw:
        if (
            not isinstance(entry, list)
            or len(entry) != 3
            or not all(type(x) is int and x >= 0 for x in entry[:2])
            or not isinstance(entry[2], str)
        ):
            raise ProtocolError("`missing` entries must be [from, to, cause]")
        missing.append((entry[0], entry[1], entry[2][:200]))
    return ResendReport(asset_no, seq_from, seq_to, resent, tuple(missing))


def _load(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_MESSAGE_BYTES:
        raise ProtocolError(
            f"resend message of {len(payload)} bytes; expected ≤ {MAX_MESSAGE_BYTES}"
        )
    if payload.count(b"[") > 2 * MAX_MISSING + 2 or payload.count(b"{") > 2:
        raise ProtocolError("resend message nested too deeply")
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError):
        raise ProtocolError("resend message is not UTF-8 JSON") from None
    if not isinstance(body, dict) or body.get("v") != RESEND_VERSION:
        raise ProtocolError(f"resend message: expected a JSON object with v={RESEND_VERSION}")
    return body


def _range(body: dict[str, Any]) -> tuple[str, int, int]:
    asset_no = body.get("asset_no")
    if not isinstance(asset_no, str) or not ASSET_NO_RE.match(asset_no):
        raise ProtocolError(f"asset_no {asset_no!r:.40}: expected <SITE>-<CLASS>-<NNN>")
    seq_from, seq_to = _count(body, "from"), _count(body, "to")
    if not 1 <= seq_from <= seq_to or seq_to - seq_from >= MAX_RANGE:
        raise ProtocolError(
            f"range {seq_from}..{seq_to}: expected 1 ≤ from ≤ to and at most {MAX_RANGE} polls"
        )
    return asset_no, seq_from, seq_to


def _count(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if type(value) is not int or value < 0:
        raise ProtocolError(f"`{key}` must be a non-negative integer, got {value!r:.40}")
    return value
