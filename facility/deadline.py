"""``within``: await something for at most so many seconds — and never swallow a cancel.

Every wait on the network has a deadline (issue 9). Python 3.11's ``asyncio.wait_for`` has a
flaw that matters to a service that must stop: when the awaited thing completes in the same
loop iteration as the waiting task is cancelled, ``wait_for`` returns the result and the
cancellation is lost (CPython gh-86296, fixed by the 3.12 rewrite). A heartbeat loop that
publishes every 0.2 s then ignored ``stop()`` now and then and never said "offline". ``within``
is ``asyncio.timeout`` around the await: a cancel always wins, expiry is ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """``await awaitable``, or ``TimeoutError`` after ``seconds`` (it is cancelled then)."""
    async with asyncio.timeout(seconds):
        return await awaitable
