"""The asset page's pure parts: a live point's cells judged as the tiles are, the record's
fields, and the QR code drawn as SVG (dashboards/asset_view.py, dashboards/qr.py)."""

from __future__ import annotations

from datetime import date

import pytest

from dashboards.asset_view import LivePoint, LiveTexts, key_first, live_cell, record_fields
from dashboards.qr import QUIET, matrix_path, qr_svg
from facility.types import Asset, AssetStatus, Criticality, DeviceClass

NOW = 1_700_000_000_000
PRESSURE = LivePoint("discharge_pressure", "Discharge pressure", "出水压力", "bar", None, 15.0)
RUN = LivePoint("run_state", "Run state", "运行状态", "", {0: "stopped", 1: "running"}, 15.0)
TEXTS = LiveTexts(qualities={"good": "good", "bad_comm": "no comm"})


def entry(value: object, q: str = "good", age_s: float = 2.0) -> dict[str, object]:
    return {"v": value, "u": "bar", "q": q, "t": NOW - int(age_s * 1000)}


@pytest.mark.parametrize(
    ("point", "given", "comm_ok", "device_stale", "expected"),
    [
        (PRESSURE, entry(4.2), True, False,
         {"value": "4.2 bar", "quality": "good", "age": "2 s ago", "state": "ok"}),
        (PRESSURE, entry(150.1999999999999886), True, False,
         {"value": "150.2 bar", "quality": "good", "age": "2 s ago", "state": "ok"}),
        (PRESSURE, None, True, False,
         {"value": "—", "quality": "no data", "age": "", "state": "nodata"}),
        (PRESSURE, entry(None, "bad_comm"), True, False,
         {"value": "—", "quality": "no comm", "age": "2 s ago", "state": "bad"}),
        (PRESSURE, entry(4.2), False, False,  # the device says communication is lost
         {"value": "4.2 bar", "quality": "good", "age": "2 s ago", "state": "bad"}),
        (PRESSURE, entry(4.2, "uncertain_range"), True, False,
         {"value": "4.2 bar", "quality": "uncertain_range", "age": "2 s ago",
          "state": "uncertain"}),
        (PRESSURE, entry(4.2, age_s=20), True, False,  # older than its own window
         {"value": "4.2 bar", "quality": "good", "age": "20 s ago", "state": "stale"}),
        (PRESSURE, entry(4.2, "bad_comm", age_s=600), True, False,  # stale before bad
         {"value": "4.2 bar", "quality": "no comm", "age": "10 min ago", "state": "stale"}),
        (PRESSURE, entry(4.2), True, True,  # the device's newest message is old
         {"value": "4.2 bar", "quality": "good", "age": "2 s ago", "state": "stale"}),
        (RUN, entry(1), True, False,
         {"value": "running", "quality": "good", "age": "2 s ago", "state": "ok"}),
        (RUN, entry(True), True, False,
         {"value": "on", "quality": "good", "age": "2 s ago", "state": "ok"}),
    ],
)  # fmt: skip
def test_live_cell(
    point: LivePoint,
    given: dict[str, object] | None,
    comm_ok: bool,
    device_stale: bool,
    expected: dict[str, str],
) -> None:
    cells = live_cell(
        point, given, now_ms=NOW, comm_ok=comm_ok, device_stale=device_stale, texts=TEXTS
    )
    assert cells == expected


def test_live_cell_in_chinese() -> None:
    texts = LiveTexts(on="开", off="关", no_data="无数据", age_ago="{age}前")
    assert live_cell(RUN, entry(False), now_ms=NOW, comm_ok=True, device_stale=False,
                     texts=texts)["value"] == "关"  # fmt: skip
    assert live_cell(PRESSURE, entry(1.0), now_ms=NOW, comm_ok=True, device_stale=False,
                     texts=texts)["age"] == "2 s前"  # fmt: skip


def test_key_points_come_first_then_profile_order() -> None:
    other = LivePoint("frequency", "Output frequency", "输出频率", "Hz")
    ordered = key_first([other, RUN, PRESSURE], "PMP")
    assert [p.name for p in ordered] == ["discharge_pressure", "run_state", "frequency"]
    assert [p.name for p in key_first([other, RUN], "XYZ")] == ["frequency", "run_state"]


def test_record_fields_in_order_with_words_to_translate() -> None:
    asset = Asset("HT-LGT-017", "HT", DeviceClass.LGT, "Street light 17", "17号路灯", "Road",
                  "North", "lighting", None, "Philips", "BGP307", "SN1", date(2020, 5, 6),
                  Criticality.LOW, AssetStatus.IN_SERVICE, None, "HT-LGT-001")  # fmt: skip
    fields = record_fields(asset, "zh")
    assert fields[0] == ("rec_asset_no", "HT-LGT-017", None)
    assert ("rec_name", "17号路灯", None) in fields
    assert ("rec_installed", "2020-05-06", None) in fields
    assert ("rec_location", "Road / North", None) in fields
    assert ("rec_system", "lighting", "sys_lighting") in fields
    assert ("rec_status", "in_service", "ast_in_service") in fields
    assert fields[-1] == ("rec_parent", "HT-LGT-001", None)
    assert record_fields(asset, "en")[1] == ("rec_name", "Street light 17", None)


def test_qr_path_draws_each_run_of_dark_modules_once_inside_the_quiet_zone() -> None:
    matrix = [[True, True, False, True], [False, False, False, False]]
    q = QUIET
    assert matrix_path(matrix) == f"M{q} {q}h2v1h-2zM{q + 3} {q}h1v1h-1z"
    svg = qr_svg(matrix)
    assert svg.startswith("<svg")
    assert f'viewBox="0 0 {4 + 2 * q} {2 + 2 * q}"' in svg
