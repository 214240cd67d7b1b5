"""Pure: alarm-system KPIs (ISA-18.2 / EEMUA 191) from the journal.

An *alarm* here is an annunciated activation: a ``raise`` entry (shelved, suppressed and
out-of-service activations are counted apart, from ``would_raise``). A *position* is a
monitoring position; here, a site. Definitions, with the targets usually quoted:

- alarms per hour and per 10 minutes per position (EEMUA: ~6/h "very likely acceptable",
  ~1 per 10 min manageable); the peak 10 minutes;
- % of 10-minute periods with more than 10 alarms (ISA-18.2: < ~1 %);
- % of time in flood (floods.py: more than 10 alarms in the trailing 10 minutes);
- top-10 contributors and their share of all alarms (a handful of bad actors often make
  half the load);
- chattering: the same alarm raised 3 or more times within 60 s; fleeting: an activation
  shorter than ``fleeting_s`` of an alarm that does not chatter; stale: active for more
  than 24 h;
- priority distribution (EEMUA guidance ~80 % low, 15 % medium, 5 % high; critical rare);
- shelved, suppressed and out-of-service counts, and the median time to acknowledge.

Tuning suggestion, per chattering alarm, by replaying its activations from the journal: the
on-delay that would have kept most of them from being raised (they were shorter than it), the
off-delay that would have merged most of them into the one before (the gap was shorter), and
for analogue alarms the deadband that would have merged them (the value never went back
further than the limit ∓ deadband: every ``raise`` entry carries ``extreme``, the farthest
the value got on the normal side since the last clear). The smallest value reaching
``target`` (80 %) of the activations is suggested, or the best one when none reaches it.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from facility.types import PRIORITY_ORDER
from gateway.alarms.floods import flood_intervals
from gateway.alarms.journal import AlarmRecord
from gateway.alarms.state import EventKind


@dataclass(frozen=True)
class Contributor:
    alarm_id: str
    count: int
    share: float  # % of all alarms


@dataclass(frozen=True)
class Suggestion:
    setting: Literal["on_delay_s", "off_delay_s", "deadband"]
    value: float
    removed: int  # activations that would not have been raised
    of: int


@dataclass(frozen=True)
class Chatter:
    alarm_id: str
    activations: int
    episodes: int  # separate bursts of 3+ within 60 s
    suggestions: tuple[Suggestion, ...]

    @property
    def best(self) -> Suggestion | None:
        return max(self.suggestions, key=lambda s: (s.removed, -s.value), default=None)


@dataclass(frozen=True)
class StaleAlarm:
    alarm_id: str
    active_since: datetime
    hours: float


@dataclass(frozen=True)
class PositionKpis:
    position: str
    alarms: int
    per_hour: float
    per_10min: float
    peak_10min: int
    pct_10min_over: float
    pct_time_in_flood: float
    floods: int


@dataclass(frozen=True)
class AlarmKpis:
    start: datetime
    end: datetime
    alarms: int
    positions: tuple[PositionKpis, ...]
    top: tuple[Contributor, ...]
    top_share: float
    chattering: tuple[Chatter, ...]
    fleeting: tuple[Contributor, ...]
    stale: tuple[StaleAlarm, ...]
    priorities: dict[str, tuple[int, float]]
    shelved: int
    suppressed: int  # activations while suppressed by design
    hidden_by_shelve: int  # activations while shelved
    out_of_service: int
    acknowledged: int
    ack_median_s: float | None


@dataclass(frozen=True)
class _Activation:
    raised: datetime
    cleared: datetime | None
    extreme: float | None
    limit: float | None
    check: str | None


def alarm_kpis(
    records: Iterable[AlarmRecord],
    start: datetime,
    end: datetime,
    *,
    current_active: Sequence[tuple[str, datetime]] = (),
    threshold: int = 10,
    window_s: float = 600.0,
    chatter_count: int = 3,
    chatter_s: float = 60.0,
    fleeting_s: float = 10.0,
    stale_s: float = 86400.0,
    target: float = 0.8,
    top_n: int = 10,
) -> AlarmKpis:
    """KPIs of the journal entries in [start, end). ``current_active``: (alarm id, active
    since) of alarms active now, for stale alarms raised before the period."""
    entries = sorted((r for r in records if start <= r.at < end), key=lambda r: r.at)
    raises = [r for r in entries if r.kind is EventKind.RAISE]
    total = len(raises)
    by_alarm: dict[str, list[datetime]] = defaultdict(list)
    for r in raises:
        by_alarm[r.alarm_id].append(r.at)
    activations = _activations(entries)

    counts = Counter(r.alarm_id for r in raises)
    top = tuple(
        Contributor(a, n, _pct(n, total))
        for a, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n]
    )
    chattering: list[Chatter] = []
    for alarm_id, times in sorted(by_alarm.items()):
        episodes = _episodes(times, chatter_count, chatter_s)
        if episodes:
            acts = activations.get(alarm_id, [])
            chattering.append(Chatter(alarm_id, len(times), episodes, tuning(acts, target)))
    chatter_ids = {c.alarm_id for c in chattering}
    fleeting_counts = Counter(
        alarm_id
        for alarm_id, acts in activations.items()
        if alarm_id not in chatter_ids
        for a in acts
        if a.cleared is not None and (a.cleared - a.raised).total_seconds() < fleeting_s
    )
    fleeting = tuple(
        Contributor(a, n, _pct(n, total))
        for a, n in sorted(fleeting_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    stale = _stale(activations, current_active, end, stale_s)
    priority_counts = Counter(r.priority or "unknown" for r in raises)
    priorities = {
        p: (priority_counts.get(p, 0), _pct(priority_counts.get(p, 0), total))
        for p in (*PRIORITY_ORDER, *sorted(set(priority_counts) - set(PRIORITY_ORDER)))
    }
    would = [r for r in entries if r.kind is EventKind.WOULD_RAISE]
    ack_delays = _ack_delays(entries)
    positions = tuple(
        _position(site, [r.at for r in raises if r.site == site], start, end, threshold, window_s)
        for site in sorted({r.site for r in raises})
    )
    return AlarmKpis(
        start=start,
        end=end,
        alarms=total,
        positions=positions,
        top=top,
        top_share=round(sum(c.share for c in top), 1),
        chattering=tuple(sorted(chattering, key=lambda c: (-c.activations, c.alarm_id))),
        fleeting=fleeting,
        stale=stale,
        priorities=priorities,
        shelved=sum(1 for r in entries if r.kind is EventKind.SHELVE),
        suppressed=sum(1 for r in would if r.detail.get("hidden_by") == "suppressed"),
        hidden_by_shelve=sum(1 for r in would if r.detail.get("hidden_by") == "shelved"),
        out_of_service=sum(1 for r in entries if r.kind is EventKind.OUT_OF_SERVICE),
        acknowledged=len(ack_delays),
        ack_median_s=statistics.median(ack_delays) if ack_delays else None,
    )


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def _position(
    site: str,
    times: list[datetime],
    start: datetime,
    end: datetime,
    threshold: int,
    window_s: float,
) -> PositionKpis:
    seconds = max((end - start).total_seconds(), 1.0)
    periods = max(1, math.ceil(seconds / window_s))
    bins = Counter(int((t - start).total_seconds() // window_s) for t in times)
    floods = flood_intervals(times, end, threshold, window_s)
    in_flood = sum((b - a).total_seconds() for a, b in floods)
    return PositionKpis(
        position=site,
        alarms=len(times),
        per_hour=round(len(times) * 3600.0 / seconds, 2),
        per_10min=round(len(times) / periods, 2),
        peak_10min=max(bins.values(), default=0),
        pct_10min_over=_pct(sum(1 for n in bins.values() if n > threshold), periods),
        pct_time_in_flood=_pct(in_flood, seconds),
        floods=len(floods),
    )


def _episodes(times: list[datetime], count: int, within_s: float) -> int:
    """Separate bursts of ``count`` or more raises within ``within_s``."""
    episodes, i = 0, 0
    ordered = sorted(times)
    while i + count - 1 < len(ordered):
        j = i + count - 1
        if (ordered[j] - ordered[i]).total_seconds() <= within_s:
            episodes += 1
            # the burst goes on while raises keep coming within the window
            while j + 1 < len(ordered) and (ordered[j + 1] - ordered[j]).total_seconds() <= (
                within_s
            ):
                j += 1
            i = j + 1
        else:
            i += 1
    return episodes


def _activations(entries: Sequence[AlarmRecord]) -> dict[str, list[_Activation]]:
    """Each alarm's raise → clear pairs, in order (the last may still be active)."""
    out: dict[str, list[_Activation]] = defaultdict(list)
    open_: dict[str, AlarmRecord] = {}
    for r in entries:
        if r.kind is EventKind.RAISE:
            if r.alarm_id in open_:
                out[r.alarm_id].append(_activation(open_.pop(r.alarm_id), None))
            open_[r.alarm_id] = r
        elif r.kind is EventKind.CLEAR and r.alarm_id in open_:
            out[r.alarm_id].append(_activation(open_.pop(r.alarm_id), r.at))
    for alarm_id, raised in open_.items():
        out[alarm_id].append(_activation(raised, None))
    for acts in out.values():
        acts.sort(key=lambda a: a.raised)
    return out


def _activation(raised: AlarmRecord, cleared: datetime | None) -> _Activation:
    detail = raised.detail
    extreme = detail.get("extreme")
    limit = detail.get("limit")
    return _Activation(
        raised.at,
        cleared,
        float(extreme) if isinstance(extreme, int | float) else None,
        float(limit) if isinstance(limit, int | float) else None,
        detail.get("check"),
    )


def _stale(
    activations: dict[str, list[_Activation]],
    current_active: Sequence[tuple[str, datetime]],
    end: datetime,
    stale_s: float,
) -> tuple[StaleAlarm, ...]:
    found: dict[str, datetime] = {}
    for alarm_id, acts in activations.items():
        for a in acts:
            until = a.cleared or end
            if (until - a.raised).total_seconds() > stale_s:
                found[alarm_id] = min(found.get(alarm_id, a.raised), a.raised)
    for alarm_id, since in current_active:
        if (end - since).total_seconds() > stale_s:
            found[alarm_id] = min(found.get(alarm_id, since), since)
    return tuple(
        StaleAlarm(a, since, round((end - since).total_seconds() / 3600.0, 1))
        for a, since in sorted(found.items(), key=lambda kv: kv[1])
    )


def _ack_delays(entries: Sequence[AlarmRecord]) -> list[float]:
    raised: dict[str, datetime] = {}
    delays: list[float] = []
    for r in entries:
        if r.kind in (EventKind.RAISE, EventKind.REALARM):
            raised[r.alarm_id] = r.at
        elif r.kind is EventKind.ACK and r.alarm_id in raised:
            delays.append((r.at - raised.pop(r.alarm_id)).total_seconds())
    return delays


# -- tuning by replay -------------------------------------------------------------------------


def tuning(activations: Sequence[_Activation], target: float = 0.8) -> tuple[Suggestion, ...]:
    """Settings that would have removed most of these activations (see the module doc)."""
    n = len(activations)
    if n < 2:
        return ()
    suggestions: list[Suggestion] = []
    durations = [
        (a.cleared - a.raised).total_seconds() for a in activations if a.cleared is not None
    ]
    on = _smallest(durations, n, target, _seconds_above)
    if on is not None:
        suggestions.append(Suggestion("on_delay_s", on[0], on[1], n))
    gaps = [
        (b.raised - a.cleared).total_seconds()
        for a, b in itertools.pairwise(activations)
        if a.cleared is not None
    ]
    off = _smallest(gaps, n, target, _seconds_above)
    if off is not None:
        suggestions.append(Suggestion("off_delay_s", off[0], off[1], n))
    needs: list[float] = []
    for a in activations[1:]:
        if a.extreme is None or a.limit is None or a.check is None:
            continue
        if a.check in ("hi", "hihi"):
            needs.append(a.limit - a.extreme)
        elif a.check in ("lo", "lolo"):
            needs.append(a.extreme - a.limit)
    deadband = _smallest([x for x in needs if x >= 0], n, target, _nice_above)
    if deadband is not None:
        suggestions.append(Suggestion("deadband", deadband[0], deadband[1], n))
    return tuple(suggestions)


def _smallest(
    needs: Sequence[float], n: int, target: float, above: Callable[[float], float]
) -> tuple[float, int] | None:
    """The smallest setting strictly above enough ``needs`` to remove ``target`` of ``n``."""
    if not needs:
        return None
    ordered = sorted(needs)
    wanted = max(1, math.ceil(target * n))
    k = min(wanted, len(ordered))  # the best achievable when the target cannot be reached
    value = above(ordered[k - 1])
    removed = sum(1 for x in ordered if x < value)
    return value, removed


def _seconds_above(seconds: float) -> float:
    return float(math.floor(seconds) + 1)


def _nice_above(value: float) -> float:
    """The smallest number with two significant digits strictly above ``value``."""
    if value <= 0:
        return 0.01
    exponent = math.floor(math.log10(value)) - 1
    step = 10.0**exponent
    nice = (math.floor(round(value / step, 9)) + 1) * step
    return round(nice, max(0, -exponent))


def since_text_to_delta(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w`` → timedelta (for ``facility alarms kpi --since``)."""
    units = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    value, unit = text[:-1], text[-1:].lower()
    try:
        amount = float(value)
    except ValueError:
        amount = -1
    if unit not in units or amount <= 0:
        raise ValueError(f"{text!r}: expected a period such as 30d, 12h, 90m or 2w")
    return timedelta(seconds=amount * units[unit])
