"""The soak: the system left running, sampled, and counted at the end (docs/faults.md).

Short in ``make faults`` (``FAULTS_SOAK_S``, default 120 s); ``make soak`` runs it for an hour
on the three estates with the simulators at 24x (24 h of simulated time) and, every
``FAULTS_SOAK_FAULT_EVERY_S``, injects the next fault of a cycle underneath it: the broker
and the database killed and restarted, parts killed, InfluxDB answering 500. Each sample takes
every process's RSS and thread count and checks that every device made progress since the
previous sample (a device whose newest witnessed reading did not move is a stall); samples
that overlap a fault and its recovery are not judged for stalls. The whole hour is counted
once at the end by the independent witness against InfluxDB: published = stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.faults.harness import env_float, process_tree_stats
from tests.faults.system import System, now_ms

SOAK_S = env_float("FAULTS_SOAK_S", 120.0)
SAMPLE_S = env_float("FAULTS_SOAK_SAMPLE_S", 15.0)
# 0: nothing injected (make faults); make soak injects one fault every 10 minutes
FAULT_EVERY_S = env_float("FAULTS_SOAK_FAULT_EVERY_S", 0.0)
# after a fault ends, how long devices may stand still before a sample counts as a stall
# (a restarted collector reconnects, a restarted gateway re-subscribes and replays)
GRACE_S = 90.0
PROBE_ASSET, PROBE_FAULT = "HT-PDP-001", "flood"


@dataclass
class SoakFault:
    """One fault of the cycle: what it does, which part it may restart, which system alarm
    it is expected to raise."""

    label: str
    inject: Callable[[System], None]
    restarts: str | None = None
    system_alarm: str | None = None


def _broker_down(system: System) -> None:
    system.mosquitto.kill()
    time.sleep(30)
    system.mosquitto.restart()


def _database_down(system: System) -> None:
    system.influxd.kill()
    time.sleep(10)
    system.influxd.restart()


def _influx_500(system: System) -> None:
    system.proxy.mode = "error500"
    time.sleep(15)
    system.proxy.mode = "pass"


def _kill(part: str) -> Callable[[System], None]:
    def inject(system: System) -> None:
        system.parts[part].kill9()
        time.sleep(2)

    return inject


CYCLE = [
    SoakFault("mosquitto killed (-9), down 30 s", _broker_down),
    SoakFault("influxd killed (-9), back after 10 s", _database_down),
    SoakFault(
        "collectors killed (-9)", _kill("collectors"), "collectors", "SYS-COL-collector-1/service"
    ),
    SoakFault("gateway killed (-9)", _kill("gateway"), "gateway", "SYS-GW-gateway-1/service"),
    SoakFault("alarm engine killed (-9)", _kill("alarms"), "alarms"),
    SoakFault("InfluxDB answers 500 for 15 s", _influx_500),
]


def fault_times(soak_s: float, every_s: float, grace_s: float) -> list[float]:
    """When the cycle's faults are injected, in seconds from the start: the first halfway into
    the first period, then one per period, none later than two graces before the end (the run
    ends with a quiet stretch that is judged). A fault that does not fit is not injected — and
    not waited for: an earlier loop kept its time in the past and spun, sampling thousands of
    times (26,207 "stalled device-samples" in a 10-minute run, the witness and the InfluxDB
    proxy of this process starved of the GIL)."""
    if every_s <= 0:
        return []
    times = []
    t = every_s / 2
    while t < soak_s - 2 * grace_s:
        times.append(t)
        t += every_s
    return times


@pytest.mark.timeout(int(SOAK_S) + 900)
def test_soak(system: System, report_lines: list[str]) -> None:
    samples: dict[str, list[tuple[int, int]]] = {}
    stalls: list[str] = []
    injected: list[str] = []
    deaf_after: list[str] = []
    allowed: dict[str, int] = {}
    expected_alarms: set[str] = set()
    previous = system.witness.head_ms()
    processes = dict(system.parts.items())

    def sample() -> None:
        for name, part in processes.items():
            if part.pid is not None:
                samples.setdefault(name, []).append(process_tree_stats(part.pid))
        for server in (system.influxd, system.mosquitto):
            if server.pid is not None:
                samples.setdefault(server.name, []).append(process_tree_stats(server.pid))

    def inject() -> None:
        nonlocal previous
        sample()
        start = time.monotonic()
        end = start + SOAK_S
        pending = [start + t for t in fault_times(SOAK_S, FAULT_EVERY_S, GRACE_S)]
        judged_from = start
        while time.monotonic() < end:
            next_fault = pending[0] if pending else float("inf")
            wake = min(end, next_fault, time.monotonic() + SAMPLE_S)
            time.sleep(max(0.0, wake - time.monotonic()))
            if time.monotonic() >= next_fault:
                pending.pop(0)
                fault = CYCLE[len(injected) % len(CYCLE)]
                fault.inject(system)
                injected.append(f"{fault.label} at {time.monotonic() - start:.0f} s")
                if fault.restarts:
                    allowed[fault.restarts] = allowed.get(fault.restarts, 0) + 1
                if fault.system_alarm:
                    expected_alarms.add(fault.system_alarm)
                if fault.restarts == "alarms" and "HT" in system.sites:
                    time.sleep(5)  # the supervisor starts it again within 0.5 s
                    if not system.probe_alarm_engine(PROBE_ASSET, PROBE_FAULT):
                        deaf_after.append(fault.label)
                judged_from = time.monotonic() + GRACE_S
                continue
            heads = system.witness.head_ms()
            if time.monotonic() >= judged_from:
                stalled = [a for a in system.devices if heads.get(a, 0) <= previous.get(a, 0)]
                stalls.extend(f"{a}@{now_ms()}" for a in stalled)
            previous = heads
            sample()

    row = system.measure(
        f"soak {SOAK_S / 60:.0f} min" + (f", {len(CYCLE)}-fault cycle" if FAULT_EVERY_S else ""),
        inject,
        expected_alarms=expected_alarms,
    )
    # natural raises over 24 simulated hours are the point of a soak; a raise of an alarm that
    # already stands (no clear between) is what a fault must never cause
    raised = system.sql.raises_after(0, set())
    row.alarms_reraised = system.sql.double_raises()
    row.notes.append(f"{len(stalls)} stalled device-samples; {len(raised)} alarm raises in all")
    if injected:
        row.notes.append("faults: " + "; ".join(injected))
    if deaf_after:
        row.dead.append(f"alarms (deaf after {', '.join(deaf_after)})")
    report_lines.append(
        f"Soak {SOAK_S / 60:.0f} min, sites {','.join(system.sites)}, simulators at "
        f"{system.speed:g}x, sampled every {SAMPLE_S:g} s, {len(injected)} faults injected: "
        f"{len(stalls)} stalls, {row.published} readings published, {row.stored} stored, "
        f"{row.lost} lost, {row.duplicated} duplicated."
    )
    report_lines.append("")
    report_lines.append(
        "| process | RSS first MB | RSS last MB | RSS max MB | threads first | last |"
    )
    report_lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, values in samples.items():
        rss = [v[0] / 2**20 for v in values]
        threads = [v[1] for v in values]
        report_lines.append(
            f"| {name} | {rss[0]:.0f} | {rss[-1]:.0f} | {max(rss):.0f} | {threads[0]} | "
            f"{threads[-1]} |"
        )
    if stalls:
        row.dead.append(f"stalls: {', '.join(stalls[:5])}")
    problems = row.problems(allowed_restarts=allowed)
    assert not problems, f"{row.fault}: " + "; ".join(problems) + f" ({'; '.join(row.notes)})"
