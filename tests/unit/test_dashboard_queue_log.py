"""The dashboard's log stays quiet about a request that waits a moment for a thread."""

from __future__ import annotations

import logging

import pytest
from waitress.task import ThreadedTaskDispatcher  # type: ignore[import-untyped]

from dashboards.app import _quiet_short_queues


def test_a_short_wait_for_a_thread_is_not_a_warning_a_backlog_is(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Session 6, the demo's dashboard log: "Task queue depth is 1", "... is 2" after every
    sign-in (a phone fetching its pages at once). Said from a backlog of one request per
    thread, the point where the dashboard falls behind."""
    _quiet_short_queues(threads=3)
    dispatcher = ThreadedTaskDispatcher()  # no threads started: every task waits
    with caplog.at_level(logging.WARNING, logger="waitress.queue"):
        for _ in range(4):
            dispatcher.add_task(object())
    said = [r.getMessage() for r in caplog.records if r.name == "waitress.queue"]
    assert said == ["Task queue depth is 3", "Task queue depth is 4"]
