"""Site plans for the overview: a drawing of an estate with a pin per asset (issue 12).

An estate's plan is two files in the plans folder (``[paths] plans_dir``; the demo estates'
are shipped in ``maintenance/demo/plans``):

- ``<SITE>.svg`` — the drawing (buildings, plant rooms, pool, roads), any SVG with a
  ``viewBox`` (or ``width`` and ``height``) on its root;
- ``<SITE>.pins.csv`` — ``asset_no,x,y``: where each asset's pin goes, in the drawing's own
  coordinates (what an editor such as Inkscape shows under the pointer).

The pins are data, not code: a person adds their own estate by dropping the two files in the
folder (docs/dashboard.md, "Site plans"). The browser shows the drawing as an image (an SVG in
``<img>`` runs no script, whoever drew it) and places the pins over it, in per cent of its
size, so they stay on their spot at any screen width. A file that does not read is refused
whole with the file, line, field and what was expected; the overview shows that instead of
the plan and everything else keeps working.
"""

from __future__ import annotations

import base64
import csv
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from facility.errors import ConfigError, Issue, IssuesError
from facility.types import ASSET_NO_RE

MAX_SVG_BYTES = 2 * 2**20  # a plan is a drawing, not a photograph
MAX_PINS_BYTES = 1 * 2**20
MAX_PINS = 5_000
PIN_COLUMNS = ("asset_no", "x", "y")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_LENGTH = re.compile(rf"^\s*({_NUMBER})\s*(?:px)?\s*$")


class PlanError(IssuesError):
    """A site plan that does not read (nothing of it is shown)."""


@dataclass(frozen=True, slots=True)
class Pin:
    """Where an asset is on its estate's plan, in per cent of the drawing (0..100)."""

    asset_no: str
    left_pct: float
    top_pct: float


@dataclass(frozen=True, slots=True)
class SitePlan:
    """An estate's drawing (as a ``data:`` URL for an ``<img>``) and its pins."""

    site: str
    image_url: str
    width: float
    height: float
    pins: tuple[Pin, ...]


def plan_paths(folder: Path, site: str) -> tuple[Path, Path]:
    """The drawing and the pins file of ``site`` in ``folder``."""
    return folder / f"{site}.svg", folder / f"{site}.pins.csv"


def view_box(svg: bytes, source: str) -> tuple[float, float, float, float]:
    """The drawing's coordinate box ``(min_x, min_y, width, height)`` from its root's
    ``viewBox``, else its ``width`` and ``height`` (plain numbers or px)."""
    if b"<!DOCTYPE" in svg.upper() or b"<!ENTITY" in svg.upper():
        # entities are how an XML file expands to gigabytes; a drawing needs none
        raise PlanError(
            [
                Issue(
                    source,
                    None,
                    "",
                    "a DOCTYPE or ENTITY declaration; expected a plain SVG without one",
                )
            ]
        )
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise PlanError([Issue(source, line, "", f"not well-formed XML ({exc})")]) from None
    if root.tag not in ("svg", "{http://www.w3.org/2000/svg}svg"):
        raise PlanError([Issue(source, None, "", f"root element <{root.tag}>; expected <svg>")])
    box = root.get("viewBox")
    if box is not None:
        parts = re.split(r"[\s,]+", box.strip())
        try:
            x, y, w, h = (float(p) for p in parts)
        except ValueError:
            raise PlanError(
                [Issue(source, None, "viewBox", f"{box[:60]!r}; expected four numbers")]
            ) from None
    else:
        width, height = _LENGTH.match(root.get("width", "")), _LENGTH.match(root.get("height", ""))
        if width is None or height is None:
            raise PlanError(
                [
                    Issue(
                        source,
                        None,
                        "viewBox",
                        "missing; expected a viewBox (or width and height in px) on <svg>",
                    )
                ]
            )
        x, y, w, h = 0.0, 0.0, float(width[1]), float(height[1])
    if not (w > 0 and h > 0):
        raise PlanError([Issue(source, None, "viewBox", f"{w:g} x {h:g}; expected a size > 0")])
    return x, y, w, h


def parse_pins(
    text: str, source: str, site: str, box: tuple[float, float, float, float]
) -> tuple[Pin, ...]:
    """The pins of ``site`` from ``asset_no,x,y`` rows; every bad row is reported at once
    (line, field, what was expected) and none is taken."""
    x0, y0, w, h = box
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [c.strip() for c in next(reader, [])]
    if tuple(header[:3]) != PIN_COLUMNS:
        raise PlanError(
            [Issue(source, 1, "", f"header {','.join(header)[:80]!r}; expected asset_no,x,y")]
        )
    issues: list[Issue] = []
    pins: list[Pin] = []
    seen: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(pins) + len(issues) >= MAX_PINS:
            issues.append(Issue(source, line, "", f"more than {MAX_PINS} pins; expected fewer"))
            break
        asset_no, x_text, y_text = ([c.strip() for c in cells] + ["", "", ""])[:3]
        match = ASSET_NO_RE.match(asset_no)
        if match is None:
            issues.append(
                Issue(
                    source,
                    line,
                    "asset_no",
                    f"{asset_no[:40]!r}; expected an asset number such as HT-PMP-001",
                )
            )
            continue
        if match["site"] != site:
            issues.append(
                Issue(
                    source,
                    line,
                    "asset_no",
                    f"{asset_no}: of estate {match['site']}; expected {site}",
                )
            )
            continue
        if asset_no in seen:
            issues.append(
                Issue(
                    source,
                    line,
                    "asset_no",
                    f"{asset_no} again (first on line {seen[asset_no]}); one pin each",
                )
            )
            continue
        seen[asset_no] = line
        coords = []
        for name, value, lo, size in (("x", x_text, x0, w), ("y", y_text, y0, h)):
            try:
                number = float(value)
            except ValueError:
                issues.append(Issue(source, line, name, f"{value[:20]!r}; expected a number"))
                continue
            if not lo <= number <= lo + size:
                issues.append(
                    Issue(
                        source,
                        line,
                        name,
                        f"{number:g}; expected {lo:g} to {lo + size:g} (the drawing's viewBox)",
                    )
                )
                continue
            coords.append(round((number - lo) / size * 100, 3))
        if len(coords) == 2:
            pins.append(Pin(asset_no, coords[0], coords[1]))
    if issues:
        raise PlanError(issues)
    return tuple(pins)


def load_plan(folder: Path, site: str) -> SitePlan | None:
    """The plan of ``site`` from ``folder``; None when it has no drawing (no plan: the
    overview shows only tiles). A drawing without a pins file is a plan without pins."""
    svg_path, pins_path = plan_paths(folder, site)
    if not svg_path.is_file():
        return None
    svg = _read(svg_path, MAX_SVG_BYTES)
    box = view_box(svg, str(svg_path))
    pins: tuple[Pin, ...] = ()
    if pins_path.is_file():
        raw = _read(pins_path, MAX_PINS_BYTES)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PlanError(
                [Issue(str(pins_path), None, "", f"not UTF-8 (byte {exc.start}); save as UTF-8")]
            ) from None
        pins = parse_pins(text, str(pins_path), site, box)
    url = "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
    return SitePlan(site, url, box[2], box[3], pins)


def _read(path: Path, limit: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > limit:
            raise PlanError(
                [Issue(str(path), None, "", f"{size:,} bytes; expected at most {limit:,}")]
            )
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
