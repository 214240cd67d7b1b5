"""Table tests of the ledger's pure core: row validation, cross-row rules, numbering."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date

import pytest

from facility.errors import ConfigError, Issue, LedgerError
from facility.types import (
    Asset,
    AssetStatus,
    Criticality,
    DeviceClass,
    ModbusEndpoint,
    OpcuaEndpoint,
)
from maintenance.cli.table import display_width, format_table
from maintenance.ledger import (
    COLUMNS,
    Action,
    LedgerContext,
    LedgerRow,
    LedgerSheet,
    ProfileRef,
    asset_values,
    check_status_change,
    next_numbers,
    plan_import,
)
from maintenance.ledger_check import validate_sheet
from tests.support import PUMP_ROW

PROFILES = {
    "vfd-booster-pump": ProfileRef(DeviceClass.PMP, "modbus"),
    "street-lighting-circuit": ProfileRef(DeviceClass.LGT, "modbus"),
    "water-tank-monitor": ProfileRef(DeviceClass.TNK, "opcua"),
}
CONTEXT = LedgerContext(profiles=PROFILES, sites={"HT", "JU"})

PUMP: dict[str, str] = dict(PUMP_ROW)
TANK = {
    **PUMP,
    "asset_no": "HT-TNK-001",
    "device_class": "TNK",
    "profile": "water-tank-monitor",
    "protocol": "opcua",
    "host": "",
    "port": "",
    "unit_id": "",
    "opcua_url": "opc.tcp://127.0.0.1:14841/facility",
    "node_root": "HT-TNK-001",
}
LAMP = {  # an individual street light: maintained, not polled
    **PUMP,
    "asset_no": "HT-LGT-041",
    "device_class": "LGT",
    "profile": "",
    "protocol": "",
    "host": "",
    "port": "",
    "unit_id": "",
    "parent_asset_no": "",
}


def sheet(*rows: Mapping[str, str], header: tuple[str, ...] = COLUMNS) -> LedgerSheet:
    return LedgerSheet(
        "ledger.csv",
        header,
        tuple(LedgerRow(number, dict(row)) for number, row in enumerate(rows, start=2)),
    )


def issues_of(*rows: Mapping[str, str], context: LedgerContext = CONTEXT) -> list[Issue]:
    try:
        validate_sheet(sheet(*rows), context)
    except LedgerError as exc:
        return exc.issues
    return []


# (case id, row overrides on the pump row, column expected, text expected in the message)
BAD_ROWS: list[tuple[str, dict[str, str], str, str]] = [
    ("number-too-short", {"asset_no": "HT-PMP-1"}, "asset_no", "<SITE>-<CLASS>-<NNN>"),
    ("number-lowercase", {"asset_no": "ht-pmp-001"}, "asset_no", "write it as HT-PMP-001"),
    ("number-padded", {"asset_no": "HT-PMP-0001"}, "asset_no", "write it as HT-PMP-001"),
    ("number-zero", {"asset_no": "HT-PMP-000"}, "asset_no", "starts at 001"),
    ("number-unknown-class", {"asset_no": "HT-XYZ-001"}, "asset_no", "unknown class"),
    ("number-empty", {"asset_no": ""}, "asset_no", "required"),
    ("site-mismatch", {"site": "JU"}, "site", "belongs to site HT, not JU"),
    ("site-unknown", {"site": "ZZ", "asset_no": "ZZ-PMP-001"}, "site", "unknown site 'ZZ'"),
    ("site-malformed", {"site": "H1"}, "site", "2-4 capital letters"),
    ("class-mismatch", {"device_class": "LGT"}, "device_class", "is a PMP, not LGT"),
    ("class-unknown", {"device_class": "ABC"}, "device_class", "unknown class 'ABC'"),
    ("no-name", {"name_en": "", "name_zh": ""}, "name_en", "a name is required"),
    ("name-too-long", {"name_en": "x" * 201}, "name_en", "at most 200 characters"),
    ("criticality", {"criticality": "urgent"}, "criticality", "high, medium, low"),
    ("criticality-empty", {"criticality": ""}, "criticality", "required"),
    ("status", {"status": "broken"}, "status", "in_service, out_of_service, retired"),
    ("date-format", {"install_date": "2021/05/04"}, "install_date", "YYYY-MM-DD"),
    ("date-invalid", {"install_date": "2021-02-30"}, "install_date", "not a calendar date"),
    ("modbus-no-host", {"host": ""}, "host", "required"),
    ("modbus-bad-host", {"host": "my host"}, "host", "host name or IP"),
    ("port-range", {"port": "70000"}, "port", "1..65535"),
    ("port-text", {"port": "modbus"}, "port", "whole number"),
    ("unit-broadcast", {"unit_id": "0"}, "unit_id", "0 is broadcast"),
    ("unit-reserved", {"unit_id": "250"}, "unit_id", "1..247"),
    ("unit-too-big", {"unit_id": "256"}, "unit_id", "1..247"),
    (
        "unit-text",
        {"unit_id": "one"},
        "unit_id",
        "1..247 (or 255 for a device addressed directly), got 'one'",
    ),
    ("modbus-with-url", {"opcua_url": "opc.tcp://h:4840"}, "opcua_url", "must be empty"),
    ("protocol-unknown", {"protocol": "bacnet"}, "protocol", "modbus, opcua or empty"),
    ("no-protocol-but-host", {"protocol": "", "profile": ""}, "host", "must be empty"),
    ("endpoint-no-profile", {"profile": ""}, "profile", "needs a profile"),
    ("profile-unknown", {"profile": "vfd-pump"}, "profile", "unknown profile 'vfd-pump'"),
    ("profile-class", {"profile": "water-tank-monitor"}, "profile", "for TNK devices"),
    ("parent-self", {"parent_asset_no": "HT-PMP-001"}, "parent_asset_no", "its own parent"),
    ("parent-other-site", {"parent_asset_no": "JU-PMP-001"}, "parent_asset_no", "another site"),
    ("parent-missing", {"parent_asset_no": "HT-PMP-009"}, "parent_asset_no", "neither in"),
]


@pytest.mark.parametrize(
    ("overrides", "column", "expected"),
    [case[1:] for case in BAD_ROWS],
    ids=[case[0] for case in BAD_ROWS],
)
def test_bad_row_is_reported_at_its_row_and_column(
    overrides: dict[str, str], column: str, expected: str
) -> None:
    issues = issues_of({**PUMP, **overrides})
    assert (2, column) in {(i.line, i.field) for i in issues}, issues
    messages = [i.message for i in issues if i.field == column]
    assert any(expected in m for m in messages), messages


BAD_OPCUA: list[tuple[str, dict[str, str], str, str]] = [
    ("url-scheme", {"opcua_url": "http://127.0.0.1:4840"}, "opcua_url", "opc.tcp://"),
    ("url-no-port", {"opcua_url": "opc.tcp://127.0.0.1/facility"}, "opcua_url", "opc.tcp://"),
    ("url-empty", {"opcua_url": ""}, "opcua_url", "required"),
    ("node-root-empty", {"node_root": ""}, "node_root", "required"),
    ("node-root-path", {"node_root": "Objects/HT-TNK-001"}, "node_root", "without '/'"),
    ("opcua-with-port", {"port": "4840"}, "port", "must be empty"),
    ("profile-protocol", {"profile": "vfd-booster-pump"}, "protocol", "speaks modbus, not opcua"),
]


@pytest.mark.parametrize(
    ("overrides", "column", "expected"),
    [case[1:] for case in BAD_OPCUA],
    ids=[case[0] for case in BAD_OPCUA],
)
def test_bad_opcua_row(overrides: dict[str, str], column: str, expected: str) -> None:
    issues = issues_of({**TANK, **overrides})
    assert any(i.field == column and expected in i.message for i in issues), issues


GOOD_ROWS: list[tuple[str, dict[str, str]]] = [
    ("pump", PUMP),
    ("tank", TANK),
    ("lamp-without-endpoint", LAMP),
    ("unit-255-direct", {**PUMP, "unit_id": "255"}),
    ("spreadsheet-float-port", {**PUMP, "port": "15021.0"}),
    ("no-date", {**PUMP, "install_date": ""}),
    ("chinese-enums", {**PUMP, "criticality": "高", "status": "停用"}),
    ("spaced-status", {**PUMP, "status": "Out of service"}),
    ("class-lowercase", {**PUMP, "device_class": "pmp", "site": "ht"}),
    ("only-chinese-name", {**PUMP, "name_en": ""}),
    ("padded-cells", {**PUMP, "make": "  Grundfos  "}),
]


@pytest.mark.parametrize("row", [case[1] for case in GOOD_ROWS], ids=[c[0] for c in GOOD_ROWS])
def test_good_row_is_accepted(row: dict[str, str]) -> None:
    assert issues_of(row) == []


def test_good_row_becomes_the_asset() -> None:
    [(row, asset)] = validate_sheet(
        sheet({**PUMP, "criticality": "中", "status": "Out of service", "system": ""}), CONTEXT
    )
    assert row == 2
    assert asset == Asset(
        asset_no="HT-PMP-001",
        site="HT",
        device_class=DeviceClass.PMP,
        name_en="Building 1 booster pump 1#",
        name_zh="1栋生活水泵1#",
        building="B1",
        zone="Pump room",
        system="water_supply",  # empty: the class's system
        profile="vfd-booster-pump",
        make="Grundfos",
        model="Hydro MPC-E",
        serial="GF21000001",
        install_date=date(2021, 5, 4),
        criticality=Criticality.MEDIUM,
        status=AssetStatus.OUT_OF_SERVICE,
        endpoint=ModbusEndpoint("127.0.0.1", 15021, 1),
    )
    assert asset.monitored


def test_export_cells_read_back_as_the_same_asset() -> None:
    parsed = [a for _, a in validate_sheet(sheet(PUMP, TANK, LAMP), CONTEXT)]
    again = [a for _, a in validate_sheet(sheet(*(asset_values(a) for a in parsed)), CONTEXT)]
    assert again == parsed
    assert parsed[1].endpoint == OpcuaEndpoint("opc.tcp://127.0.0.1:14841/facility", "HT-TNK-001")
    assert not parsed[2].monitored


# --- header and whole-file rules ----------------------------------------------------------


def test_missing_and_unknown_columns_are_named_on_row_1() -> None:
    header = (*(c for c in COLUMNS if c != "serial"), "serial_no")
    with pytest.raises(LedgerError) as caught:
        validate_sheet(sheet(PUMP, header=header), CONTEXT)
    found = {(i.line, i.field) for i in caught.value.issues}
    assert found == {(1, "serial_no"), (1, "header")}
    assert "missing column(s) serial" in str(caught.value)


def test_duplicate_column() -> None:
    with pytest.raises(LedgerError, match="column appears twice"):
        validate_sheet(sheet(PUMP, header=(*COLUMNS, "zone")), CONTEXT)


def test_header_only_file() -> None:
    with pytest.raises(LedgerError, match="no data rows"):
        validate_sheet(sheet(), CONTEXT)


def test_every_bad_row_is_reported_in_one_go() -> None:
    rows = [{**PUMP, "asset_no": f"HT-PMP-{n:03d}", "unit_id": str(n)} for n in range(1, 8)]
    rows[2] = {**rows[2], "unit_id": "0"}
    rows[5] = {**rows[5], "install_date": "yesterday", "criticality": "?"}
    with pytest.raises(LedgerError) as caught:
        validate_sheet(sheet(*rows), CONTEXT)
    assert [(i.line, i.field) for i in caught.value.issues] == [
        (4, "unit_id"),
        (7, "install_date"),
        (7, "criticality"),
    ]


def test_duplicate_asset_no_names_the_first_row() -> None:
    issues = issues_of(PUMP, {**PUMP, "unit_id": "2"})
    assert [(i.line, i.field, i.message) for i in issues] == [
        (3, "asset_no", "HT-PMP-001 already appears in row 2")
    ]


def test_two_assets_cannot_share_an_endpoint() -> None:
    issues = issues_of(PUMP, {**PUMP, "asset_no": "HT-PMP-002"})
    assert {(i.line, i.field) for i in issues} == {(2, "unit_id"), (3, "unit_id")}
    assert "also HT-PMP-002" in issues[0].message


def test_endpoint_of_a_stored_asset_counts_too() -> None:
    stored = _asset(PUMP)
    context = replace(CONTEXT, existing={stored.asset_no: stored})
    issues = issues_of({**PUMP, "asset_no": "HT-PMP-002"}, context=context)
    assert [(i.line, i.field) for i in issues] == [(2, "unit_id")]


def test_a_retired_asset_frees_its_endpoint() -> None:
    assert issues_of({**PUMP, "status": "retired"}, {**PUMP, "asset_no": "HT-PMP-002"}) == []


def test_unit_255_only_for_a_device_addressed_directly() -> None:
    issues = issues_of(
        {**PUMP, "unit_id": "255"}, {**PUMP, "asset_no": "HT-PMP-002", "unit_id": "2"}
    )
    assert [(i.line, i.field) for i in issues] == [(2, "unit_id")]
    assert "gateway shared" in issues[0].message


def test_parent_may_come_later_in_the_file() -> None:
    child = {**LAMP, "asset_no": "HT-LGT-042", "parent_asset_no": "HT-LGT-041"}
    assert issues_of(child, LAMP) == []


def test_parent_cycle() -> None:
    a = {**LAMP, "parent_asset_no": "HT-LGT-042"}
    b = {**LAMP, "asset_no": "HT-LGT-042", "parent_asset_no": "HT-LGT-041"}
    issues = issues_of(a, b)
    assert [(i.line, i.field) for i in issues] == [(2, "parent_asset_no"), (3, "parent_asset_no")]
    assert "cycle" in issues[0].message


def test_parent_in_the_stored_ledger() -> None:
    parent = _asset(LAMP)
    context = replace(CONTEXT, existing={parent.asset_no: parent})
    child = {**LAMP, "asset_no": "HT-LGT-042", "parent_asset_no": "HT-LGT-041"}
    assert issues_of(child, context=context) == []


def test_retired_asset_cannot_come_back_in_service() -> None:
    retired = replace(_asset(PUMP), status=AssetStatus.RETIRED)
    context = replace(CONTEXT, existing={retired.asset_no: retired})
    issues = issues_of(PUMP, context=context)
    assert [(i.line, i.field) for i in issues] == [(2, "status")]
    assert "never reused" in issues[0].message
    assert issues_of({**PUMP, "status": "retired", "zone": "Scrap"}, context=context) == []


def test_sites_none_accepts_any_well_formed_code() -> None:
    context = LedgerContext(profiles=PROFILES)
    assert issues_of({**PUMP, "site": "XY", "asset_no": "XY-PMP-001"}, context=context) == []


# --- import plan -------------------------------------------------------------------------


def _asset(row: Mapping[str, str]) -> Asset:
    [(_, asset)] = validate_sheet(sheet(row), LedgerContext(profiles=PROFILES))
    return asset


def test_plan_import_created_updated_unchanged() -> None:
    pump, tank = _asset(PUMP), _asset(TANK)
    moved = replace(tank, zone="Roof", serial="X1")
    changes = plan_import(
        [(2, pump), (3, moved), (4, _asset(LAMP))], {pump.asset_no: pump, tank.asset_no: tank}
    )
    assert [(c.row, c.asset_no, c.action, c.changed) for c in changes] == [
        (2, "HT-PMP-001", Action.UNCHANGED, ()),
        (3, "HT-TNK-001", Action.UPDATED, ("zone", "serial")),
        (4, "HT-LGT-041", Action.CREATED, ()),
    ]


# --- numbering ---------------------------------------------------------------------------

NUMBERING: list[tuple[str, list[str], str, str, int, list[str]]] = [
    ("first", [], "HT", "LGT", 3, ["HT-LGT-001", "HT-LGT-002", "HT-LGT-003"]),
    ("after-highest", ["HT-LGT-001", "HT-LGT-002"], "HT", "LGT", 1, ["HT-LGT-003"]),
    ("gaps-not-filled", ["HT-LGT-001", "HT-LGT-007"], "HT", "LGT", 2, ["HT-LGT-008", "HT-LGT-009"]),
    ("other-site-ignored", ["JU-LGT-040"], "HT", "LGT", 1, ["HT-LGT-001"]),
    ("other-class-ignored", ["HT-PMP-012"], "HT", "LGT", 1, ["HT-LGT-001"]),
    ("unordered-input", ["HT-LGT-040", "HT-LGT-003"], "HT", "LGT", 1, ["HT-LGT-041"]),
    ("past-999", ["HT-LGT-998"], "HT", "LGT", 2, ["HT-LGT-999", "HT-LGT-1000"]),
    ("after-1000", ["HT-LGT-1000", "HT-LGT-999"], "HT", "LGT", 1, ["HT-LGT-1001"]),
    ("class-lowercase", ["HT-FAP-004"], "HT", "fap", 1, ["HT-FAP-005"]),
    ("junk-ignored", ["not a number", "HT-LGT-002"], "HT", "LGT", 1, ["HT-LGT-003"]),
]


@pytest.mark.parametrize(
    ("existing", "site", "cls", "count", "expected"),
    [case[1:] for case in NUMBERING],
    ids=[case[0] for case in NUMBERING],
)
def test_next_numbers(
    existing: list[str], site: str, cls: str, count: int, expected: list[str]
) -> None:
    assert next_numbers(existing, site, cls, count) == expected


def test_a_retired_number_is_still_the_highest() -> None:
    # The ledger passes every number ever allocated, retired ones included.
    allocated = ["HT-LGT-001", "HT-LGT-002", "HT-LGT-003"]  # 003 retired, 002 never imported
    assert next_numbers(allocated, "HT", DeviceClass.LGT, 1) == ["HT-LGT-004"]


@pytest.mark.parametrize(
    ("site", "cls", "count", "expected"),
    [
        ("HT", "LGT", 0, "count: expected 1..1000"),
        ("HT", "LGT", 1001, "count: expected 1..1000"),
        ("HT", "LAMP", 1, "unknown class 'LAMP'"),
        ("ht", "LGT", 1, "site: expected a site code"),
    ],
)
def test_next_numbers_refuses(site: str, cls: str, count: int, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        next_numbers([], site, cls, count)


# --- status and display ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        (AssetStatus.IN_SERVICE, AssetStatus.OUT_OF_SERVICE, True),
        (AssetStatus.OUT_OF_SERVICE, AssetStatus.IN_SERVICE, True),
        (AssetStatus.IN_SERVICE, AssetStatus.RETIRED, True),
        (AssetStatus.RETIRED, AssetStatus.RETIRED, True),
        (AssetStatus.RETIRED, AssetStatus.IN_SERVICE, False),
        (AssetStatus.RETIRED, AssetStatus.OUT_OF_SERVICE, False),
    ],
)
def test_retired_is_final(current: AssetStatus, new: AssetStatus, allowed: bool) -> None:
    if allowed:
        check_status_change("HT-PMP-001", current, new)
    else:
        with pytest.raises(ConfigError, match="never reused"):
            check_status_change("HT-PMP-001", current, new)


def test_table_aligns_chinese_and_latin() -> None:
    table = format_table(("asset_no", "name"), [("HT-PMP-001", "1栋水泵"), ("HT-LGT-001", "lamp")])
    lines = table.splitlines()
    assert display_width("1栋水泵") == 7
    assert lines[1] == "HT-PMP-001  1栋水泵"
    assert lines[2] == "HT-LGT-001  lamp"
    assert lines[0] == "asset_no    name"
