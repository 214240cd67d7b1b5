"""``facility.deadline.within``: a deadline on an await that never swallows a cancel."""

from __future__ import annotations

import asyncio

import pytest

from facility.deadline import within


async def test_a_cancel_that_meets_a_result_in_the_same_iteration_still_cancels() -> None:
    # The race of CPython gh-86296: the awaited future completes and the waiting task is
    # cancelled before either runs. 3.11's wait_for returned the result and the task carried
    # on (a heartbeat loop that never stopped); within must raise CancelledError.
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()
    went_on = asyncio.Event()

    async def waiter() -> None:
        await within(answer, 10)
        went_on.set()  # reached only if the cancel was swallowed
        await asyncio.sleep(10)

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0)  # the task now waits on the future
    answer.set_result("acknowledged")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not went_on.is_set()


async def test_expiry_is_timeout_error_and_cancels_what_was_awaited() -> None:
    loop = asyncio.get_running_loop()
    never: asyncio.Future[None] = loop.create_future()
    with pytest.raises(TimeoutError):
        await within(never, 0.05)
    assert never.cancelled()


async def test_a_result_in_time_is_returned() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert await within(answer(), 1) == 42
