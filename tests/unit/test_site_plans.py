"""Site plans (dashboards/plans.py): the shipped demo plans read and pin every monitored
asset of their ledger; a bad pins file or drawing is refused whole, naming the file, the line,
the field and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.plans import PlanError, load_plan, parse_pins, view_box
from maintenance.ledger_files import DEMO_DIR, DEMO_SITE_CODES, demo_ledger_paths, read_ledger_file

BOX = (0.0, 0.0, 1000.0, 500.0)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 500"><rect/></svg>'


@pytest.mark.parametrize("site", DEMO_SITE_CODES)
def test_demo_plans_pin_every_monitored_asset_of_their_estate(site: str) -> None:
    plan = load_plan(DEMO_DIR / "plans", site)
    assert plan is not None
    ledger = next(p for p in demo_ledger_paths() if p.stem == site)
    monitored = {a.asset_no for a in read_ledger_file(ledger) if a.monitored}
    assert {p.asset_no for p in plan.pins} == monitored
    assert all(0 <= p.left_pct <= 100 and 0 <= p.top_pct <= 100 for p in plan.pins)
    assert plan.image_url.startswith("data:image/svg+xml;base64,")


def test_pins_in_per_cent_of_the_view_box() -> None:
    pins = parse_pins("asset_no,x,y\nHT-PMP-001,250,100\n", "p.csv", "HT", (0, 0, 1000, 500))
    assert [(p.asset_no, p.left_pct, p.top_pct) for p in pins] == [("HT-PMP-001", 25.0, 20.0)]
    shifted = parse_pins("asset_no,x,y\nHT-PMP-001,150,100\n", "p.csv", "HT", (100, 0, 200, 400))
    assert (shifted[0].left_pct, shifted[0].top_pct) == (25.0, 25.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("asset,x,y\nHT-PMP-001,1,1\n", "p.csv:1: header 'asset,x,y'; expected asset_no,x,y"),
        ("asset_no,x,y\npump 1,1,1\n", "p.csv:2: asset_no: 'pump 1'; expected an asset number"),
        ("asset_no,x,y\nJU-PMP-001,1,1\n", "p.csv:2: asset_no: JU-PMP-001: of estate JU; "
                                            "expected HT"),
        ("asset_no,x,y\nHT-PMP-001,1,1\n\nHT-PMP-001,2,2\n",
         "p.csv:4: asset_no: HT-PMP-001 again (first on line 2)"),
        ("asset_no,x,y\nHT-PMP-001,ten,1\n", "p.csv:2: x: 'ten'; expected a number"),
        ("asset_no,x,y\nHT-PMP-001,5,501\n", "p.csv:2: y: 501; expected 0 to 500 (the "
                                              "drawing's viewBox)"),
    ],
)  # fmt: skip
def test_a_bad_pin_names_file_line_field_and_expectation(text: str, expected: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_pins(text, "p.csv", "HT", BOX)
    assert str(caught.value).startswith(expected), str(caught.value)


def test_every_bad_row_is_reported_and_none_taken() -> None:
    text = "asset_no,x,y\nHT-PMP-001,1,1\nHT-X,1,1\nHT-PMP-002,-5,1\n"
    with pytest.raises(PlanError) as caught:
        parse_pins(text, "p.csv", "HT", BOX)
    assert [(i.line, i.field) for i in caught.value.issues] == [(3, "asset_no"), (4, "x")]


@pytest.mark.parametrize(
    ("svg", "expected"),
    [
        (b"<svg", "not well-formed XML"),
        (b"<html/>", "root element <html>; expected <svg>"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "viewBox: missing"),
        (b'<svg viewBox="0 0 ten 5"/>', "viewBox: '0 0 ten 5'; expected four numbers"),
        (b'<svg viewBox="0 0 0 5"/>', "viewBox: 0 x 5; expected a size > 0"),
        (b'<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg viewBox="0 0 1 1">&a;</svg>',
         "a DOCTYPE or ENTITY declaration"),
    ],
)  # fmt: skip
def test_a_bad_drawing_is_refused_with_what_was_expected(svg: bytes, expected: str) -> None:
    with pytest.raises(PlanError, match=r"plan\.svg") as caught:
        view_box(svg, "plan.svg")
    assert expected in str(caught.value)


def test_width_and_height_without_view_box() -> None:
    assert view_box(b'<svg width="800px" height="400"/>', "p.svg") == (0, 0, 800, 400)


def test_an_estate_without_a_drawing_has_no_plan(tmp_path: Path) -> None:
    assert load_plan(tmp_path, "HT") is None
    (tmp_path / "HT.svg").write_bytes(SVG)
    plan = load_plan(tmp_path, "HT")  # a drawing without pins: a plan without pins
    assert plan is not None
    assert plan.pins == ()
    (tmp_path / "HT.pins.csv").write_bytes(b"asset_no,x,y\n\xb1\xc3,1,1\n")  # GBK, not UTF-8
    with pytest.raises(PlanError, match=r"HT\.pins\.csv: not UTF-8"):
        load_plan(tmp_path, "HT")
