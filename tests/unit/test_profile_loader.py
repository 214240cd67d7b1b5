"""The profile loader: line numbers, YAML pitfalls, collecting every issue, directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_profiles import LIBRARY_DIR, load_library, load_profile
from device_profiles.loader import check_paths, check_profiles, parse_profile
from device_profiles.models import DeviceProfile
from facility.errors import ProfileError
from facility.types import DeviceClass

GOOD = """\
schema_version: 1
id: pump
device_class: PMP
vendor: Test
model: Test
label: {en: Pump, zh: 水泵}
protocol: modbus
points:
  - name: pressure
    label: {en: Pressure, zh: 压力}
    unit: bar
    modbus: {table: input, address: 0, type: float32}
"""


def lines_of(text: str, file: str = "pump.yaml") -> list[str]:
    profile, issues = parse_profile(text, file)
    assert profile is None
    return [f"{i.line}: {i.field}: {i.message}" for i in issues]


def test_shipped_library_loads() -> None:
    profiles = load_library()
    assert {p.device_class for p in profiles.values()} == set(DeviceClass)
    for path in LIBRARY_DIR.glob("*.yaml"):
        assert profiles[path.stem].id == path.stem
    assert check_profiles([LIBRARY_DIR]) == []


def test_good_text_parses() -> None:
    profile, issues = parse_profile(GOOD, "pump.yaml")
    assert issues == []
    assert isinstance(profile, DeviceProfile)
    assert profile.point("pressure").unit == "bar"


def test_lines_follow_block_and_flow_style() -> None:
    text = GOOD + (
        "  - {name: flow, label: {en: Flow, zh: 流量}, unit: m3/h,\n"
        "     modbus: {table: input, address: 2, type: real}}\n"
        "  - name: level\n"
        "    label: {en: Level, zh: 液位}\n"
        "    unit: m\n"
        "    modbus:\n"
        "      table: input\n"
        "      address: 4\n"
        "      type: uint16\n"
        "      order: sideways\n"
    )
    found = lines_of(text)
    assert found[0].startswith("14: points[1] (flow).modbus.type: unknown data type 'real'")
    assert found[1].startswith("22: points[2] (level).modbus.order: unknown byte/word order")
    assert len(found) == 2


def test_missing_field_points_at_its_parent() -> None:
    found = lines_of(GOOD.replace("    unit: bar\n", ""))
    assert found == [
        "9: points[0] (pressure).unit: missing; expected a unit such as bar, A, °C, m³/h "
        '(or "" for states and counts)'
    ]


def test_duplicate_key_in_flow_mapping() -> None:
    found = lines_of(GOOD.replace("{en: Pump, zh: 水泵}", "{en: Pump, en: Pumps, zh: 水泵}"))
    assert found == [
        "6: label.en: duplicate key 'en' (first at line 6); expected each key once "
        "(YAML would silently keep only the last)"
    ]


def test_merge_keys_may_be_overridden() -> None:
    text = GOOD.replace(
        "label: {en: Pump, zh: 水泵}\n",
        "label: &pump {en: Pump, zh: 水泵}\n",
    ).replace("    label: {en: Pressure, zh: 压力}\n", "    label: {<<: *pump, en: Pressure}\n")
    profile, issues = parse_profile(text, "pump.yaml")
    assert issues == []
    assert profile is not None
    assert profile.point("pressure").label.zh == "水泵"
    assert profile.point("pressure").label.en == "Pressure"


def test_recursive_alias_is_an_issue() -> None:
    found = lines_of(GOOD + "alarms: &loop [*loop]\n")
    assert found[0] == "13: alarms[0]: an alias refers to itself"


def test_misspelt_key_is_reported_once_as_unknown() -> None:
    found = lines_of(GOOD.replace("address: 0", "adress: 0"))
    assert found == [
        "12: points[0] (pressure).modbus.adress: unknown field 'adress'; did you mean 'address'?"
    ]


def test_unknown_field_lists_the_expected_ones() -> None:
    found = lines_of(GOOD.replace("vendor: Test", "colour: red\nvendor: Test"))
    assert found[0].startswith("4: colour: unknown field 'colour'; expected one of: schema_version")


def test_union_errors_read_as_alternatives() -> None:
    text = GOOD + (
        "alarms:\n"
        "  - {name: a, point: pressure, kind: state, states: [x], priority: high,\n"
        "     label: {en: a, zh: a}}\n"
    )
    assert lines_of(text) == [
        "14: alarms[0] (a).states[0]: expected a whole number or true or false, got 'x'"
    ]


def test_id_must_be_the_file_stem_and_other_errors_still_reported() -> None:
    found = lines_of(GOOD.replace("type: float32", "type: float33"), file="lib/booster.yaml")
    assert found[0] == (
        "2: id: profile id 'pump' must equal the file name 'booster'; "
        "rename the file to pump.yaml or set id: booster"
    )
    assert "unknown data type 'float33'" in found[1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "None: : empty file; expected a device profile"),
        ("# only a comment\n", "None: : empty file; expected a device profile"),
        (
            "- a\n- b\n",
            "1: : expected a mapping of profile fields (schema_version, id, ...), got a list",
        ),
        (
            "a: 1\n---\nb: 2\n",
            "2: : not valid YAML (column 1): expected a single document in "
            "the stream (line 1), but found another document",
        ),
        (
            "schema_version: 1\n id: x\n",
            "2: : not valid YAML (column 4): mapping values are not allowed here",
        ),
        ("schema_version: one\n", "1: schema_version: expected a whole number (0, 1), got 'one'"),
        ("schema_version: -1\n", "1: schema_version: unknown version -1; expected one of: 0, 1"),
    ],
)
def test_unreadable_documents(text: str, expected: str) -> None:
    assert lines_of(text) == [expected]


def test_load_profile_raises_every_issue(tmp_path: Path) -> None:
    path = tmp_path / "pump.yaml"
    path.write_text(GOOD.replace("type: float32", "type: float").replace("    unit: bar\n", ""))
    with pytest.raises(ProfileError) as exc:
        load_profile(path)
    assert [(i.file, i.line) for i in exc.value.issues] == [(str(path), 9), (str(path), 11)]
    assert str(exc.value).startswith(f"{path}:9: points[0] (pressure).unit: missing")


def test_file_problems_are_issues(tmp_path: Path) -> None:
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00")
    missing = tmp_path / "missing.yaml"
    issues = check_profiles([tmp_path / "binary.yaml", missing, tmp_path / "nowhere"])
    assert [str(i) for i in issues] == [
        f"{tmp_path / 'binary.yaml'}: not UTF-8 text (invalid start byte at byte 0)",
        f"{missing}: no such file or directory",
        f"{tmp_path / 'nowhere'}: no such file or directory",
    ]


def test_directories_are_checked_whole(tmp_path: Path) -> None:
    (tmp_path / "pump.yaml").write_text(GOOD)
    (tmp_path / "other.yml").write_text(GOOD.replace("id: pump", "id: other"))
    (tmp_path / "broken.yaml").write_text(GOOD.replace("id: pump", "id: broken") + "oops\n")
    (tmp_path / "notes.txt").write_text("not a profile")
    result = check_paths([tmp_path])
    assert sorted(result.profiles) == ["other", "pump"]
    assert [p.name for p in result.files] == ["broken.yaml", "other.yml", "pump.yaml"]
    assert [(Path(i.file).name, i.line) for i in result.issues] == [("broken.yaml", 14)]


def test_empty_directory_and_duplicate_ids(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "pump.yaml").write_text(GOOD)
    issues = check_profiles([tmp_path / "empty", tmp_path / "a", tmp_path / "b"])
    assert [str(i) for i in issues] == [
        f"{tmp_path / 'empty'}: no profile files (*.yaml) here",
        f"{tmp_path / 'b' / 'pump.yaml'}: id: profile id 'pump' is also used by "
        f"{tmp_path / 'a' / 'pump.yaml'}; expected each id once",
    ]


def test_load_library_of_a_missing_directory_fails(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no such file or directory"):
        load_library(tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "protocol: modbus",
            "protocol: bacnet",
            "7: protocol: unknown protocol 'bacnet'; expected one of: modbus, opcua",
        ),
        (
            "device_class: PMP",
            "device_class: PUMP",
            "3: device_class: unknown device class 'PUMP' (did you mean PMP?); expected one of: "
            "PMP, PDP, TNK, LGT, FAP",
        ),
        (
            "protocol: modbus",
            "protocol: modbus\npoll_periods_s: {fast: 1, normal: 5, slow: 60, hourly: 3600}",
            "8: poll_periods_s.hourly: key: unknown poll class 'hourly'; expected one of: fast, "
            "normal, slow",
        ),
        (
            "protocol: modbus",
            "protocol: modbus\nmodbus: {max_registers_per_request: 200}",
            "8: modbus.max_registers_per_request: 200 is out of range; expected 1..125",
        ),
        (
            "    unit: bar",
            "    unit: bar\n    range: [0, 5, 10]",
            "12: points[0] (pressure).range: expected [low, high], got 3 item(s)",
        ),
        (
            "  - name: pressure",
            "  - name: Pressure",
            "9: points[0] (Pressure).name: 'Pressure' is not allowed; expected lower_snake_case: "
            "a-z, 0-9 and _, starting with a letter",
        ),
        (
            "    unit: bar",
            "    unit:",
            '11: points[0] (pressure).unit: expected text, got nothing; write unit: "" for '
            "states and counts",
        ),
        (
            "{en: Pump, zh: 水泵}",
            '{en: "", zh: 水泵}',
            "6: label.en: must not be empty",
        ),
        (
            "type: float32}",
            "type: float32, order: 12}",
            "12: points[0] (pressure).modbus.order: unknown byte/word order '12'; expected one "
            "of: ABCD, CDAB, BADC, DCBA (or an alias: 1234, big, be, big_endian, 3412, word_swap, "
            "little_word, 2143, byte_swap, 4321, little, le, little_endian)",
        ),
        (
            GOOD[GOOD.index("points:") :],
            "points: {}\n",
            "8: points: expected a list, got a mapping",
        ),
    ],
)
def test_messages_say_what_was_expected(old: str, new: str, expected: str) -> None:
    text = GOOD.replace(old, new)
    assert text != GOOD
    assert lines_of(text) == [expected]
