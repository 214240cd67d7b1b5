"""Pure: alarm floods per monitoring position, and grouping of consequential alarms.

**Flood** (ISA-18.2, EEMUA 191): a monitoring position (here: a site) is in flood while more
than ``threshold`` alarms (10) were raised in the trailing ``window_s`` (10 minutes). It
starts at the alarm that makes the count 11 and ends exactly when the oldest of those falls
out of the window and the count is back to 10. The runtime (:class:`FloodDetector`) and the
KPIs (:func:`flood_intervals`) use this one definition.

**Incidents**: when a mains failure or a dead gateway stops many devices at once, operators
need one incident with its *first-out* (the alarm that came first), not forty alarms. Alarms
raised at one site within ``window_s`` (60 s) of the incident's latest alarm join it; it is
announced as an incident once it holds ``min_alarms`` (3). Critical alarms still notify on
their own (see notify.py); the console shows every member with the incident id.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class FloodChange:
    position: str
    started: bool  # False: ended
    at: datetime
    count: int  # alarms in the window at that moment


class FloodDetector:
    """More than ``threshold`` alarms in ``window_s`` at one position, incrementally."""

    def __init__(self, threshold: int = 10, window_s: float = 600.0) -> None:
        self.threshold = threshold
        self.window = timedelta(seconds=window_s)
        self._times: dict[str, deque[datetime]] = {}
        self._since: dict[str, datetime] = {}

    def in_flood(self, position: str) -> bool:
        return position in self._since

    def flood_since(self, position: str) -> datetime | None:
        return self._since.get(position)

    def count(self, position: str) -> int:
        return len(self._times.get(position, ()))

    def add(self, position: str, at: datetime) -> list[FloodChange]:
        """An alarm was raised at ``position``; changes (an end, then maybe a start)."""
        changes = self._expire(position, at)
        times = self._times.setdefault(position, deque())
        times.append(at)
        if len(times) > self.threshold and position not in self._since:
            self._since[position] = at
            changes.append(FloodChange(position, True, at, len(times)))
        return changes

    def check(self, now: datetime) -> list[FloodChange]:
        """Floods that ended by ``now``."""
        changes: list[FloodChange] = []
        for position in list(self._times):
            changes.extend(self._expire(position, now))
        return changes

    def _expire(self, position: str, now: datetime) -> list[FloodChange]:
        times = self._times.get(position)
        changes: list[FloodChange] = []
        while times and times[0] + self.window <= now:
            left = times.popleft()
            if position in self._since and len(times) <= self.threshold:
                del self._since[position]
                changes.append(FloodChange(position, False, left + self.window, len(times)))
        if times is not None and not times:
            del self._times[position]
        return changes


def flood_intervals(
    times: Iterable[datetime], end: datetime, threshold: int = 10, window_s: float = 600.0
) -> list[tuple[datetime, datetime]]:
    """The flood periods of one position's alarm times (sorted or not), clipped at ``end``."""
    detector = FloodDetector(threshold, window_s)
    intervals: list[tuple[datetime, datetime]] = []
    start: datetime | None = None
    for change in [c for t in sorted(times) for c in detector.add("p", t)] + detector.check(
        end + timedelta(seconds=window_s)
    ):
        if change.started:
            start = change.at
        elif start is not None:
            intervals.append((start, min(change.at, end)))
            start = None
    if start is not None:
        intervals.append((start, end))
    return [(a, b) for a, b in intervals if b > a]


@dataclass
class Incident:
    """Alarms at one site close together in time: one event with its first-out."""

    incident_id: str
    site: str
    first_out: str  # alarm id
    first_at: datetime
    last_at: datetime
    members: list[str] = field(default_factory=list)
    announced: bool = False
    _member_set: set[str] = field(default_factory=set, repr=False)


@dataclass(frozen=True, slots=True)
class Grouped:
    incident: Incident
    announce: bool  # this alarm made the incident big enough to announce


class IncidentGrouper:
    """Groups alarms raised at one site within ``window_s`` of each other."""

    def __init__(self, window_s: float = 60.0, min_alarms: int = 3) -> None:
        self.window = timedelta(seconds=window_s)
        self.min_alarms = min_alarms
        self._open: dict[str, Incident] = {}
        self._seq = 0

    def on_raise(self, site: str, alarm_id: str, at: datetime) -> Grouped:
        incident = self._open.get(site)
        if incident is None or at - incident.last_at > self.window:
            self._seq += 1
            incident = Incident(
                f"INC-{site}-{at:%Y%m%dT%H%M%S}-{self._seq}", site, alarm_id, at, at
            )
            self._open[site] = incident
        incident.last_at = max(incident.last_at, at)
        if alarm_id not in incident._member_set:
            incident._member_set.add(alarm_id)
            incident.members.append(alarm_id)
        announce = not incident.announced and len(incident.members) >= self.min_alarms
        if announce:
            incident.announced = True
        return Grouped(incident, announce)

    def open_incident(self, site: str, now: datetime) -> Incident | None:
        incident = self._open.get(site)
        if incident is None or now - incident.last_at > self.window:
            return None
        return incident
