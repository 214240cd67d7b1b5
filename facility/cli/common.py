"""Helpers every part's commands may use: they import no part."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
from collections.abc import Callable, Coroutine
from typing import Any

import click

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?", re.IGNORECASE)
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds in ``30s``, ``5m``, ``1h30m``, ``1.5h`` or plain ``90`` (seconds)."""
    compact = text.strip().replace(" ", "")
    total = 0.0
    position = 0
    for match in _DURATION_RE.finditer(compact):
        if match.start() != position:
            break
        total += float(match[1]) * _UNIT_S[(match[2] or "s").lower()]
        position = match.end()
    if not compact or position != len(compact) or total <= 0:
        raise click.BadParameter(
            f"{text!r}: expected a duration such as 30s, 5m, 1h30m or 90 (seconds)"
        )
    return total


def serve(
    run: Callable[[asyncio.Event], Coroutine[Any, Any, None]], on_ready: Callable[[], None]
) -> None:
    """Run a long-lived service until SIGINT/SIGTERM: ``run(ready)`` sets ``ready`` once it is
    up, then ``on_ready()`` says where it is. A start-up failure raises its error (the root
    prints it once); a signal cancels the service, which cleans up on the way out."""

    async def main() -> None:
        ready = asyncio.Event()
        task = asyncio.create_task(run(ready))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if task.done() and not ready.is_set():
            task.result()  # start-up failed: raise its error
            return
        on_ready()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
