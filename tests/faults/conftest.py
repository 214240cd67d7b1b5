"""The fault suite's session: the whole system started once, rows collected, the table
printed at the end and written to ``var/faults/report.md`` (docs/faults.md).

Run with ``make faults`` (not part of ``make test``: it takes minutes).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.harness import COLUMNS, REPORT_PATH
from tests.faults.system import Row, System

_systems: list[System] = []
_extra: list[str] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """The whole system on the demo estate(s), shared by every fault row."""
    running = System(tmp_path_factory.mktemp("faults"))
    _systems.append(running)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
def report_lines() -> list[str]:
    """Extra lines for the report (figures of the soak)."""
    return _extra


def render(rows: list[Row]) -> str:
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "| " + " | ".join("---" if i == 0 else "---:" for i in range(len(COLUMNS))) + " |",
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    notes = []
    for row in rows:
        restarted = {n: c for n, c in row.restarts.items() if c}
        detail = list(row.notes)
        if restarted:
            detail.append(f"restarted by the supervisor: {restarted}")
        if row.dead:
            detail.append(f"not running at the end: {', '.join(row.dead)}")
        if detail:
            notes.append(f"- **{row.fault}**: " + "; ".join(detail))
    return "\n".join(lines + (["", *notes] if notes else []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    rows = [row for system in _systems for row in system.rows]
    if not rows:
        return
    text = render(rows)
    if _extra:
        text += "\n\n" + "\n".join(_extra)
    REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
    REPORT_PATH.write_text(text + "\n", encoding="utf-8")
    terminalreporter.write_sep("=", "fault table")
    terminalreporter.write_line(text)
    terminalreporter.write_line(f"(written to {REPORT_PATH})")
