"""``facility history ASSET_NO [POINT] --since 7d [--until ...] [--csv]``.

Without POINT: the latest value and quality of every point of the device. With POINT: its
series over the range, at the resolution that keeps it under ``--max-points`` (raw, 1-minute
or 1-hour data), or with ``--increase day`` a counter's growth per local calendar period.
``group`` is a single command (the CLI loads ``group`` from each module; a command works).
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import click

from facility.config import Settings
from facility.errors import ConfigError

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|min|m|h|d|w|y)$")
_UNIT_S = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_when(text: str, *, now_ms: int, tz: ZoneInfo, option: str) -> int:
    """``7d``/``12h``/``30m`` before now, ``now``, or an ISO date/time (site time zone if it
    has no offset) → epoch ms; ConfigError naming the option otherwise."""
    text = text.strip()
    if text == "now":
        return now_ms
    match = _RELATIVE.match(text)
    if match:
        return now_ms - int(float(match.group(1)) * _UNIT_S[match.group(2)] * 1000)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{option} {text!r}: expected a duration before now (30m, 12h, 7d, 2w, 1y), 'now', "
            "or a date/time such as 2026-11-01 or 2026-11-01T08:00"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return int(when.timestamp() * 1000)


@click.command(name="history")
@click.argument("asset_no")
@click.argument("point", required=False)
@click.option("--since", default="1d", show_default=True, help="Start: 7d, 12h, or a date/time.")
@click.option("--until", default="now", show_default=True, help="End: now, 1h, or a date/time.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV on standard output.")
@click.option("--max-points", default=2000, show_default=True, type=click.IntRange(1, 100_000))
@click.option(
    "--increase",
    type=click.Choice(["hour", "day", "week", "month"]),
    default=None,
    help="For a counter: how much it grew per period (run hours per day, energy per month).",
)
@click.pass_context
def group(
    ctx: click.Context,
    asset_no: str,
    point: str | None,
    since: str,
    until: str,
    as_csv: bool,
    max_points: int,
    increase: str | None,
) -> None:
    """Query a point's history (any range, or as CSV); without POINT, the latest values."""
    from gateway.history import increases_csv, open_history, series_csv

    settings: Settings = ctx.find_root().obj
    tz = ZoneInfo(settings.site.timezone)
    asset_no = asset_no.upper()
    now_ms = int(time.time() * 1000)
    start = parse_when(since, now_ms=now_ms, tz=tz, option="--since")
    end = parse_when(until, now_ms=now_ms, tz=tz, option="--until")
    if end <= start:
        raise ConfigError(f"--since {since} / --until {until}: expected the start before the end")
    history = open_history(settings)
    client = history.client
    try:
        if point is None:
            latest = history.latest(asset_no)
            if not latest:
                raise ConfigError(f"{asset_no}: no readings in the raw history")
            if as_csv:
                click.echo("point,value,value_time,quality,poll_time")
            for item in latest.values():
                value = "" if item.value is None else item.value
                value_time = _local(item.value_ts_ms, tz) if item.value_ts_ms else ""
                if as_csv:
                    click.echo(
                        f"{item.point},{value},{value_time},{item.quality},{_local(item.ts_ms, tz)}"
                    )
                else:
                    click.echo(f"{item.point:24} {value!s:>14}  {item.quality:16} {value_time}")
            return
        if increase is not None:
            rows = history.increases(asset_no, point, start, end, increase)
            if as_csv:
                click.echo(increases_csv(asset_no, point, rows, tz), nl=False)
                return
            click.echo(f"{asset_no} {point}: increase per {increase}")
            for row in rows:
                amount = "—" if row.increase is None else f"{row.increase:.6g}"
                click.echo(f"  {_local(row.start_ms, tz)}  {amount:>12}")
            return
        series = history.series(asset_no, point, start, end, max_points=max_points, now_ms=now_ms)
    finally:
        client.close()
    if as_csv:
        click.echo(series_csv(series, tz), nl=False)
        return
    click.echo(
        f"{asset_no} {point} ({series.kind.value}): {len(series.points)} points, "
        f"{series.plan.label} from {series.plan.retention_policy}"
    )
    for p in series.points:
        value = "—" if p.value is None else p.value
        band = (
            f"  [{p.low:.6g} .. {p.high:.6g}]" if p.low is not None and p.high is not None else ""
        )
        quality = f"  {p.quality}" if p.quality else ""
        click.echo(f"  {_local(p.ts_ms, tz)}  {value!s:>14}{band}{quality}")


def _local(ts_ms: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz).isoformat(sep=" ", timespec="seconds")
