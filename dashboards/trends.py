"""Trends: several points of one asset on one chart, with the profile's alarm limits drawn as
lines and the journal's alarm raises as markers (issue 12).

The resolution of each series is chosen by the historian (``History.series``); this module
only draws. Axis labels are formatted here rather than by Plotly's locale files (dash does not
bundle them): numbers to six significant digits with trailing zeros trimmed (a constant
150.2 no longer reads ``150.1999999999999886``) and dates as numbers, or with 月/日 in
Chinese, so no English month name shows in a Chinese page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

import plotly.graph_objects as go

from device_profiles.alarm_limits import AlarmKind
from device_profiles.models import DeviceProfile
from gateway.history import PointKind, Series

MAX_TREND_POINTS = 4  # points on one chart: more is unreadable on a desk screen
MAX_MARKERS = 200  # alarm raises drawn on one chart (the newest)
LIMIT_KINDS = (AlarmKind.HIHI, AlarmKind.HI, AlarmKind.LO, AlarmKind.LOLO)
COLOURS = ("#1d3557", "#2a9d8f", "#8d5a97", "#e09f3e")
PRIORITY_COLOURS = {"critical": "#c1121f", "high": "#e76f51", "medium": "#e9c46a"}
NUMBER_FORMAT = ".6~r"  # d3-format: 6 significant digits, trailing zeros trimmed
DATE_TICKS = {
    "en": ("%H:%M:%S", "%H:%M<br>%Y-%m-%d", "%Y-%m-%d", "%Y-%m"),
    "zh": ("%H:%M:%S", "%H:%M<br>%m月%d日", "%m月%d日", "%Y年%m月"),
}
HOVER_DATE = {"en": "%Y-%m-%d %H:%M:%S", "zh": "%Y年%m月%d日 %H:%M:%S"}


@dataclass(frozen=True, slots=True)
class LimitLine:
    """An alarm limit of the profile on one point (a horizontal line)."""

    point: str
    alarm: str
    kind: str
    limit: float
    priority: str
    label: str


@dataclass(frozen=True, slots=True)
class AlarmMarker:
    """An alarm raised on the asset (a mark on the time axis)."""

    at: datetime
    alarm: str
    priority: str
    label: str


@dataclass(frozen=True, slots=True)
class OrderMarker:
    """A work order of the asset created or closed (a mark on the time axis)."""

    at: datetime
    number: str
    title: str
    event: str  # "created" or "closed"


@dataclass(frozen=True, slots=True)
class Trend:
    """What one chart shows: the series, their limits, the asset's alarm raises and its work
    orders' creation and closing."""

    series: tuple[Series, ...]
    limits: tuple[LimitLine, ...] = ()
    markers: tuple[AlarmMarker, ...] = ()
    orders: tuple[OrderMarker, ...] = ()


def order_markers(
    orders: Sequence[tuple[datetime, datetime | None, str, str]], start: datetime, end: datetime
) -> list[OrderMarker]:
    """The creation and closing, within ``[start, end]``, of work orders given as
    ``(created_at, closed_at, number, title)``; oldest first, the newest MAX_MARKERS."""
    marks = [
        OrderMarker(at, number, title, event)
        for created, closed, number, title in orders
        for at, event in ((created, "created"), (closed, "closed"))
        if at is not None and start <= at <= end
    ]
    return sorted(marks, key=lambda m: (m.at, m.number))[-MAX_MARKERS:]


def limit_lines(profile: DeviceProfile | None, points: Sequence[str], lang: str) -> list[LimitLine]:
    """The profile's analogue alarm limits (hihi, hi, lo, lolo) on the given points."""
    if profile is None:
        return []
    return [
        LimitLine(
            point=a.point,
            alarm=a.name,
            kind=a.kind.value,
            limit=a.limit,
            priority=a.priority.value,
            label=a.label.zh if lang == "zh" else a.label.en,
        )
        for a in profile.alarms
        if a.kind in LIMIT_KINDS and a.point in points and a.limit is not None
        and a.point is not None
    ]  # fmt: skip


def _number(value: float) -> str:
    return f"{value:.6g}"


def _numeric(series: Series) -> list[float | None]:
    return [float(p.value) if isinstance(p.value, int | float) else None for p in series.points]


def _flat_range(values: Sequence[float]) -> tuple[list[float], list[float]] | None:
    """A readable y range and ticks when every value is the same: Plotly would zoom into
    rounding noise (``150.1999999999999886``). The value itself is the middle tick."""
    if not values or max(values) - min(values) > 1e-9 * max(1.0, abs(values[0])):
        return None
    value = values[0]
    step = 10.0 ** math.floor(math.log10(max(abs(value) * 0.05, 1.0))) / 2
    ticks = [round(value + k * step, 9) for k in (-2, -1, 0, 1, 2)]
    return [value - 2.5 * step, value + 2.5 * step], ticks


def trend_figure(
    trend: Trend,
    *,
    tz: tzinfo,
    lang: str,
    labels: Mapping[str, str],
    units: Mapping[str, str],
    title: str = "",
    alarms_label: str = "Alarms raised",
    orders_label: str = "Work orders",
    order_events: Mapping[str, str] | None = None,
) -> go.Figure:
    """The chart: one line per series (a second y axis for the second unit if any), dashed
    limit lines in the colour of their priority, and alarm raises along the top."""
    figure = go.Figure()
    axis_units: list[str] = []  # the first unit on the left axis, any other on the right
    plotted: dict[str, list[float]] = {"y": [], "y2": []}  # values per y axis
    start: datetime | None = None
    end: datetime | None = None
    for n, series in enumerate(trend.series):
        unit = units.get(series.point, "")
        label = labels.get(series.point, series.point) + (f" ({unit})" if unit else "")
        if unit not in axis_units:
            axis_units.append(unit)
        axis = "y2" if axis_units.index(unit) >= 1 else "y"
        start = datetime.fromtimestamp(series.start_ms / 1000, tz=UTC).astimezone(tz)
        end = datetime.fromtimestamp(series.end_ms / 1000, tz=UTC).astimezone(tz)
        if not series.points:
            continue
        # site time on the axis: "this morning" at the estate, not in UTC
        times = [datetime.fromtimestamp(p.ts_ms / 1000, tz=UTC).astimezone(tz)
                 for p in series.points]  # fmt: skip
        values = _numeric(series)
        plotted[axis].extend(v for v in values if v is not None)
        colour = COLOURS[n % len(COLOURS)]
        if series.kind is PointKind.ANALOG and any(p.low is not None for p in series.points):
            figure.add_trace(
                go.Scatter(
                    x=times + times[::-1],
                    y=[p.high for p in series.points] + [p.low for p in series.points][::-1],
                    fill="toself",
                    fillcolor="rgba(59,125,216,0.12)",
                    line={"width": 0},
                    hoverinfo="skip",
                    showlegend=False,
                    yaxis=axis,
                )
            )
        figure.add_trace(
            go.Scatter(
                x=times,
                y=values,
                mode="lines",
                line={"color": colour, "shape": "hv" if series.kind is PointKind.STATE else None},
                name=label,
                connectgaps=False,
                yaxis=axis,
                meta=series.point,  # the live tail finds its trace by it (assets/trend_live.js)
            )
        )
    if start is not None and end is not None:
        axis_of = {s.point: "y2" if axis_units.index(units.get(s.point, "")) else "y"
                   for s in trend.series}  # fmt: skip
        for line in trend.limits:
            point_label = labels.get(line.point, line.point)
            axis = axis_of.get(line.point, "y")
            plotted[axis].append(line.limit)
            figure.add_trace(
                go.Scatter(
                    x=[start, end],
                    y=[line.limit, line.limit],
                    mode="lines",
                    line={"color": PRIORITY_COLOURS.get(line.priority, "#6c757d"),
                          "dash": "dash", "width": 1},
                    name=f"{line.kind.upper()} {_number(line.limit)} · {point_label}",
                    hovertemplate=f"{line.label}: {_number(line.limit)}<extra></extra>",
                    yaxis=axis,
                )
            )  # fmt: skip
    markers = trend.markers[-MAX_MARKERS:]
    if markers:
        figure.add_trace(
            go.Scatter(
                x=[m.at.astimezone(tz) for m in markers],
                y=[1.0] * len(markers),
                mode="markers",
                marker={"symbol": "triangle-down", "size": 10,
                        "color": [PRIORITY_COLOURS.get(m.priority, "#6c757d") for m in markers]},
                text=[m.label for m in markers],
                hovertemplate="%{text}<br>%{x}<extra></extra>",
                name=alarms_label,
                yaxis="y3",
            )
        )  # fmt: skip
    orders = trend.orders[-MAX_MARKERS:]
    if orders:
        events = order_events or {}
        figure.add_trace(
            go.Scatter(
                x=[m.at.astimezone(tz) for m in orders],
                y=[0.93] * len(orders),
                mode="markers",
                marker={"symbol": ["diamond" if m.event == "created" else "diamond-open"
                                   for m in orders],
                        "size": 10, "color": "#5c6b7a", "line": {"width": 2, "color": "#5c6b7a"}},
                text=[f"{m.number} · {m.title} ({events.get(m.event, m.event)})" for m in orders],
                hovertemplate="%{text}<br>%{x}<extra></extra>",
                name=orders_label,
                yaxis="y3",
            )
        )  # fmt: skip
    first, second = DATE_TICKS.get(lang, DATE_TICKS["en"])[:2]
    day, month = DATE_TICKS.get(lang, DATE_TICKS["en"])[2:]
    yaxis: dict[str, object] = {"tickformat": NUMBER_FORMAT, "hoverformat": NUMBER_FORMAT,
                                "title": {"text": axis_units[0] if axis_units else ""}}  # fmt: skip
    yaxis2: dict[str, object] = {
        # its own ticks (not synced to the left axis's grid, which gives 49.2699, 50.3328)
        "overlaying": "y", "side": "right", "tickmode": "auto", "tickformat": NUMBER_FORMAT,
        "hoverformat": NUMBER_FORMAT, "showgrid": False,
        "title": {"text": axis_units[1] if len(axis_units) > 1 else ""},
        "visible": len(axis_units) > 1,
    }  # fmt: skip
    for axis, settings in (("y", yaxis), ("y2", yaxis2)):
        flat = _flat_range(plotted[axis])
        if flat is not None:
            settings["range"], settings["tickvals"] = flat
            settings["tickmode"] = "array"
    figure.update_layout(
        title=title,
        margin={"l": 50, "r": 50, "t": 40, "b": 40},
        height=420,
        showlegend=True,
        legend={"orientation": "h", "y": -0.2},
        template="plotly_white",
        hovermode="x unified",
        xaxis={
            "hoverformat": HOVER_DATE.get(lang, HOVER_DATE["en"]),
            "tickformatstops": [
                {"dtickrange": [None, 60_000], "value": first},
                {"dtickrange": [60_000, 86_400_000], "value": second},
                {"dtickrange": [86_400_000, 28 * 86_400_000], "value": day},
                {"dtickrange": [28 * 86_400_000, None], "value": month},
            ],
        },
        yaxis=yaxis,
        yaxis2=yaxis2,
        yaxis3={"overlaying": "y", "range": [0, 1.05], "visible": False, "fixedrange": True},
    )  # fmt: skip
    return figure
