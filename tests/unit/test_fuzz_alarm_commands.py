"""Fuzzing alarm command decoding: anything in, a Command or one AlarmCommandError out."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gateway.alarms.core import COMMAND_OPS, Command
from gateway.alarms.runtime import decode_command, parse_command
from gateway.alarms.state import AlarmCommandError
from tests.unit.fuzz_support import FUZZ, JSON_VALUES, assert_one_line

FIELDS = ["op", "alarm_id", "user", "comment", "reason", "for_s", "one_shot", "id", "reply_to"]


def check(payload: bytes) -> None:
    try:
        command = parse_command(decode_command(payload))
    except AlarmCommandError as exc:
        assert_one_line(str(exc))
        return
    assert isinstance(command, Command)
    assert command.op in COMMAND_OPS


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes(payload: bytes) -> None:
    check(payload)


@FUZZ
@given(JSON_VALUES)
def test_arbitrary_json(value: Any) -> None:
    check(json.dumps(value).encode())


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(FIELDS),
        JSON_VALUES
        | st.sampled_from(COMMAND_OPS)
        | st.floats()
        | st.just("HT-PDP-001/dry_run")
        | st.text(min_size=1_990, max_size=2_010),
        max_size=len(FIELDS),
    )
)
def test_command_shaped_objects(body: dict[str, Any]) -> None:
    # json.dumps writes NaN and Infinity, which json.loads accepts: they must be refused too
    check(json.dumps(body).encode())
