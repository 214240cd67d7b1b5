"""The soak: the system left running, sampled, and counted at the end (docs/faults.md).

Short in ``make faults`` (``FAULTS_SOAK_S``, default 120 s); ``make soak`` runs it for an hour
on the three estates with the simulators at 24x (24 h of simulated time). Each sample takes
every process's RSS and thread count and checks that every device made progress since the
previous sample (a device whose newest witnessed reading did not move is a stall).
"""

from __future__ import annotations

import time

import pytest

from tests.faults.harness import env_float, process_tree_stats
from tests.faults.system import Row, System, now_ms

SOAK_S = env_float("FAULTS_SOAK_S", 120.0)
SAMPLE_S = env_float("FAULTS_SOAK_SAMPLE_S", 15.0)


@pytest.mark.timeout(int(SOAK_S) + 900)
def test_soak(system: System, report_lines: list[str]) -> None:
    samples: dict[str, list[tuple[int, int]]] = {}
    stalls: list[str] = []
    previous = system.witness.head_ms()
    processes = {
        **{name: part for name, part in system.parts.items()},
    }

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
        end = time.monotonic() + SOAK_S
        while time.monotonic() < end:
            time.sleep(min(SAMPLE_S, max(0.0, end - time.monotonic())))
            heads = system.witness.head_ms()
            stalled = [a for a in system.devices if heads.get(a, 0) <= previous.get(a, 0)]
            stalls.extend(f"{a}@{now_ms()}" for a in stalled)
            previous = heads
            sample()

    row = system.measure(f"soak {SOAK_S / 60:.0f} min", inject)
    row.notes.append(f"{len(stalls)} stalled device-samples")
    report_lines.append(
        f"Soak {SOAK_S / 60:.0f} min, sites {','.join(system.sites)}, simulators at "
        f"{system.speed:g}x, sampled every {SAMPLE_S:g} s: {len(stalls)} stalls."
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
    _assert(row)


def _assert(row: Row) -> None:
    problems = row.problems()
    assert not problems, f"{row.fault}: " + "; ".join(problems) + f" ({'; '.join(row.notes)})"
