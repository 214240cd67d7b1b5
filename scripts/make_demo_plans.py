"""Draw the demo estates' site plans: maintenance/demo/plans/{HT,JU,HY}.svg + .pins.csv.

A simple plan per estate (buildings with their pump rooms and roof tanks, the basement tank
room, the clubhouse with its pool and pool plant room, roads, paths, gardens and gates) and
one pin per monitored asset of the estate's ledger, placed in its building and zone. The
pins are data (``asset_no,x,y`` in the SVG's own coordinates), not code: the dashboard reads
them from the CSV, and a person adding their own estate writes the same two files by hand
(docs/dashboard.md, "Site plans").

Deterministic: running it again gives byte-identical files, so they are committed and
reviewed like code. Run: ``.venv/bin/python scripts/make_demo_plans.py``.
"""

from __future__ import annotations

import csv
import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from maintenance.ledger_files import DEMO_DIR  # noqa: E402

PLANS = DEMO_DIR / "plans"
WIDTH, HEIGHT = 1000, 620

Rect = tuple[float, float, float, float]  # x, y, w, h
Line = tuple[tuple[float, float], ...]


@dataclass
class Layout:
    """What is drawn for one estate, and where its assets' zones are."""

    name: str
    buildings: dict[str, Rect]
    paths: dict[str, Line]  # outdoor lighting zones: the pins go along the line
    roads: list[Line] = field(default_factory=list)  # drawn wide, under everything
    greens: list[Rect] = field(default_factory=list)
    water: dict[str, Rect] = field(default_factory=dict)  # pool / lake / river (rounded)
    basement: Rect = (0, 0, 0, 0)
    gates: dict[str, Rect] = field(default_factory=dict)


LAYOUTS: dict[str, Layout] = {
    "HT": Layout(
        name="Huating 华庭",
        buildings={
            "B1": (130, 110, 150, 100),
            "B2": (320, 110, 150, 100),
            "B3": (510, 110, 150, 100),
            "B4": (130, 400, 150, 100),
            "B5": (320, 400, 150, 100),
            "B6": (510, 400, 150, 100),
            "Clubhouse": (720, 110, 180, 90),
        },
        paths={
            "North road": ((90, 60), (930, 60)),
            "South road": ((90, 560), (930, 560)),
            "West road": ((60, 90), (60, 530)),
            "East gate": ((950, 270), (950, 350)),
            "Central garden": ((170, 300), (300, 270), (430, 310), (560, 270), (640, 300)),
            "Lake path": ((720, 360), (800, 330), (890, 360), (890, 470), (800, 500), (720, 470)),
            "Podium": ((300, 240), (480, 240)),
            "Car park entrance": ((690, 530), (690, 500)),
        },
        roads=[
            ((40, 60), (960, 60)),
            ((40, 560), (960, 560)),
            ((60, 40), (60, 580)),
            ((940, 310), (990, 310)),
        ],
        greens=[(150, 255, 510, 90)],
        water={"Pool 泳池": (720, 215, 180, 70), "Lake 湖": (745, 370, 130, 95)},
        basement=(500, 222, 190, 28),
        gates={"East gate": (975, 280, 20, 60)},
    ),
    "JU": Layout(
        name="Ju 居",
        buildings={
            "B1": (150, 120, 170, 110),
            "B2": (420, 120, 170, 110),
            "B3": (150, 380, 170, 110),
            "B4": (420, 380, 170, 110),
        },
        paths={
            "North road": ((100, 60), (880, 60)),
            "South road": ((100, 560), (880, 560)),
            "Courtyard": ((200, 300), (300, 280), (400, 320), (500, 280), (580, 300), (640, 320)),
            "Riverside walk": ((760, 120), (790, 220), (770, 320), (800, 420), (780, 520)),
            "Main gate": ((930, 280), (930, 340)),
            "Car park ramp": ((660, 480), (660, 520)),
        },
        roads=[((40, 60), (960, 60)), ((40, 560), (960, 560)), ((900, 310), (990, 310))],
        greens=[(170, 260, 500, 90)],
        water={"River 河": (830, 90, 60, 460)},
        basement=(330, 245, 180, 30),
        gates={"Main gate": (960, 280, 20, 60)},
    ),
    "HY": Layout(
        name="Garden 花园",
        buildings={
            "B1": (120, 110, 140, 100),
            "B2": (300, 110, 140, 100),
            "B3": (480, 110, 140, 100),
            "B4": (120, 400, 140, 100),
            "B5": (300, 400, 140, 100),
        },
        paths={
            "North road": ((90, 60), (700, 60)),
            "South road": ((90, 560), (700, 560)),
            "Garden path": (
                (140, 300),
                (230, 270),
                (320, 310),
                (410, 270),
                (500, 310),
                (590, 270),
                (640, 310),
                (690, 300),
            ),
            "Lake path": ((740, 130), (860, 110), (930, 180), (900, 280), (800, 300), (740, 220)),
            "Children's playground": ((500, 420), (600, 420), (600, 490), (500, 490)),
            "Main gate": ((950, 400), (950, 460)),
            "Car park entrance": ((740, 530), (740, 500)),
        },
        roads=[((40, 60), (960, 60)), ((40, 560), (960, 560)), ((920, 430), (990, 430))],
        greens=[(130, 250, 580, 90), (480, 400, 140, 110)],
        water={"Lake 湖": (770, 140, 130, 130)},
        basement=(280, 225, 180, 30),
        gates={"Main gate": (970, 400, 20, 60)},
    ),
}


def _ledger(site: str) -> list[dict[str, str]]:
    with (DEMO_DIR / f"{site}.csv").open(encoding="utf-8", newline="") as f:
        return [r for r in csv.DictReader(f) if r["profile"] and r["status"] != "retired"]


def _along(line: Line, n: int) -> list[tuple[float, float]]:
    """``n`` points spread evenly along a polyline (ends included when n > 1)."""
    lengths = [
        ((b[0] - a[0]) ** 2 + (b[1] - a[1]) ** 2) ** 0.5 for a, b in itertools.pairwise(line)
    ]
    total = sum(lengths)
    out = []
    for i in range(n):
        target = total * (i / (n - 1) if n > 1 else 0.5)
        for (a, b), length in zip(itertools.pairwise(line), lengths, strict=True):
            if target <= length or (a, b) == (line[-2], line[-1]):
                f = target / length if length else 0.0
                out.append((a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f))
                break
            target -= length
    return out


def _inside(rect: Rect, n: int, row: float) -> list[tuple[float, float]]:
    """``n`` points in a row at height ``row`` (0 top .. 1 bottom) of a rectangle."""
    x, y, w, h = rect
    return [(x + w * (i + 1) / (n + 1), y + h * row) for i in range(n)]


def pins(site: str) -> list[tuple[str, float, float]]:
    layout = LAYOUTS[site]
    groups: dict[tuple[str, str], list[str]] = {}
    for row in _ledger(site):
        groups.setdefault((row["building"], row["zone"]), []).append(row["asset_no"])
    placed: list[tuple[str, float, float]] = []
    for (building, zone), assets in groups.items():
        if building == "Outdoor":
            spots = _along(layout.paths[zone], len(assets))
        elif building == "Basement":
            spots = _inside(layout.basement, len(assets), 0.5)
        elif zone == "Pump room":
            spots = _inside(layout.buildings[building], len(assets), 0.78)
        elif zone == "Roof":
            x, y, w, _h = layout.buildings[building]
            spots = [(x + w - 18, y + 16)]
        elif zone == "Fire control room":
            x, y, w, h = layout.buildings[building]
            spots = [(x + 18, y + 16)]
        elif zone == "Pool plant room":
            x, y, w, h = layout.buildings[building]
            spots = [(x + w - 30, y + h - 22)]
        else:
            raise SystemExit(f"{site}: no place on the plan for {building}/{zone}")
        placed += [
            (a, round(px, 1), round(py, 1)) for a, (px, py) in zip(assets, spots, strict=True)
        ]
    return sorted(placed)


def _poly(line: Line) -> str:
    return " ".join(f"{x:g},{y:g}" for x, y in line)


def svg(site: str) -> str:
    layout = LAYOUTS[site]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif">',
        f"<title>{layout.name}: site plan (demo)</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#f4f5f6"/>',
        f'<rect x="20" y="20" width="{WIDTH - 40}" height="{HEIGHT - 40}" fill="none" '
        'stroke="#9aa5b1" stroke-width="2" stroke-dasharray="10 6"/>',
    ]
    for x, y, w, h in layout.greens:
        out.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="30" fill="#e1e6df"/>')
    for line in layout.roads:
        out.append(
            f'<polyline points="{_poly(line)}" fill="none" stroke="#d3d7dc" stroke-width="26" '
            'stroke-linecap="square"/>'
        )
    for zone, line in layout.paths.items():
        if zone in ("North road", "South road", "West road"):
            continue
        out.append(
            f'<polyline points="{_poly(line)}" fill="none" stroke="#c4cad1" stroke-width="6" '
            'stroke-dasharray="2 6" stroke-linecap="round"/>'
        )
    for label, (x, y, w, h) in layout.water.items():
        out.append(
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="22" fill="#dde6ee" '
            'stroke="#aab8c6" stroke-width="2"/>'
            f'<text x="{x + w / 2:g}" y="{y + h / 2 + 5:g}" font-size="14" fill="#6b7f93" '
            f'text-anchor="middle">{label}</text>'
        )
    bx, by, bw, bh = layout.basement
    out.append(
        f'<rect x="{bx}" y="{by}" width="{bw}" height="{bh}" fill="none" stroke="#7d8a96" '
        'stroke-width="1.5" stroke-dasharray="6 4"/>'
        f'<text x="{bx + 4}" y="{by - 4}" font-size="12" fill="#5c6b7a">'
        "Basement tank room 地下水箱间</text>"
    )
    for name, (x, y, w, h) in layout.buildings.items():
        label = {"Clubhouse": "Clubhouse 会所"}.get(name, f"{name[1:]}栋 Building {name[1:]}")
        out.append(
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="#e4e6e9" stroke="#8895a2" '
            'stroke-width="2"/>'
            f'<text x="{x + w / 2:g}" y="{y + h / 2 - 4:g}" font-size="15" fill="#3d4a57" '
            f'text-anchor="middle">{label}</text>'
        )
        if name.startswith("B"):
            # the pump room along the bottom of the building
            out.append(
                f'<rect x="{x + 8}" y="{y + h * 0.62:g}" width="{w - 16}" height="{h * 0.32:g}" '
                'fill="none" stroke="#aab3bd" stroke-width="1"/>'
            )
        else:
            out.append(
                f'<rect x="{x + w - 62}" y="{y + h - 40}" width="56" height="34" fill="none" '
                'stroke="#aab3bd" stroke-width="1"/>'
            )
    for zone, (x, y, w, h) in layout.gates.items():
        out.append(
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="#c9ced4"/>'
            f'<text x="{x - 6}" y="{y - 6}" font-size="12" fill="#5c6b7a" text-anchor="end">'
            f"{zone}</text>"
        )
    for zone, line in layout.paths.items():
        if zone in layout.gates:
            continue  # labelled with the gate
        x, y = line[0]
        out.append(
            f'<text x="{x + 6:g}" y="{y - 10:g}" font-size="12" fill="#5c6b7a">{zone}</text>'
        )
    out.append(
        f'<text x="{WIDTH - 30}" y="{HEIGHT - 30}" font-size="14" fill="#5c6b7a" '
        'text-anchor="end">N ↑</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> None:
    PLANS.mkdir(exist_ok=True)
    for site in LAYOUTS:
        (PLANS / f"{site}.svg").write_text(svg(site), encoding="utf-8")
        with (PLANS / f"{site}.pins.csv").open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["asset_no", "x", "y"])
            writer.writerows(pins(site))
        print(f"{site}: {len(pins(site))} pins -> {PLANS / site}.svg, .pins.csv")


if __name__ == "__main__":
    main()
