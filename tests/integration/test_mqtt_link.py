"""MqttLink against a real mosquitto: acknowledgements are never lost, every wait has a
deadline, and a failing handler does not kill paho's network thread. The same with paho's I/O
on the event loop (``network_thread=False``, the collector's link).

Finding (issue 9): the collector froze after ~23 minutes of ``make demo``. paho's network
thread delivered a PUBACK before ``client.publish()`` had returned the mid to the link; the
acknowledgement was dropped and the publisher waited for it for ever.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import operator
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from devtools.services import MosquittoServer
from facility.errors import CommError
from facility.mqtt import BrokerSettings, MqttLink
from tests.support import wait_until


async def _running(link: MqttLink) -> asyncio.Task[None]:
    task = asyncio.create_task(link.run())
    await wait_until(link.connected.is_set, 10)
    return task


async def _stop(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_puback_before_publish_returns_still_settles(mosquitto: MosquittoServer) -> None:
    """Make the race certain: paho's publish() returns only after the broker has answered."""
    link = MqttLink(BrokerSettings.from_url(mosquitto.url), "test-early-ack")
    task = await _running(link)
    try:
        client = link._client
        assert client is not None
        real_publish = client.publish

        def slow_return(*args: Any, **kwargs: Any) -> Any:
            info = real_publish(*args, **kwargs)
            info.wait_for_publish(5)  # the PUBACK has been handled by paho's thread
            assert info.is_published()
            return info

        client.publish = slow_return  # type: ignore[method-assign]
        futures = [link.publish("test/early", str(i).encode()) for i in range(20)]
        done, pending = await asyncio.wait(futures, timeout=10)
        assert not pending, f"{len(pending)} of 20 acknowledgements were lost"
        assert all(f.exception() is None for f in done)
        assert not link._early, "early acknowledgements must be consumed, not kept"
    finally:
        await _stop(task)


NETWORK = pytest.mark.parametrize("network_thread", [True, False], ids=["thread", "loop"])


@NETWORK
async def test_unacknowledged_publish_fails_within_the_deadline(
    fresh_mosquitto: MosquittoServer, network_thread: bool
) -> None:
    """A broker that stops answering (SIGSTOP: the socket stays open) must not hang a
    publisher: the future fails after ``ack_timeout_s`` and the link reconnects by itself.

    Finding (session 6): with paho's thread, dropping the silent connection blocked the event
    loop for 60 s: ``loop_stop()`` waited for paho's thread, which ran on until its keep-alive
    gave up because a publish still waited for its PUBACK."""
    link = MqttLink(
        BrokerSettings.from_url(fresh_mosquitto.url),
        "test-deadline",
        ack_timeout_s=1.0,
        backoff_min_s=0.1,
        backoff_max_s=0.5,
        network_thread=network_thread,
    )
    task = await _running(link)
    pid = fresh_mosquitto.pid
    assert pid is not None
    ticks: list[float] = []

    async def tick() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.05)

    ticker = asyncio.create_task(tick())
    try:
        os.kill(pid, signal.SIGSTOP)
        try:
            future = link.publish("test/deadline", b"x")
            with pytest.raises(CommError):
                await asyncio.wait_for(future, 15)
            assert link.stats.ack_timeouts == 1
        finally:
            os.kill(pid, signal.SIGCONT)
        await wait_until(lambda: link.connected.is_set() and link.stats.connects >= 2, 20)
        await asyncio.wait_for(link.publish("test/deadline", b"y"), 10)
        stall = max(b - a for a, b in itertools.pairwise(ticks))
        assert stall < 5, f"the event loop stood still for {stall:.1f} s while the link reconnected"
    finally:
        await _stop(task, ticker)


@NETWORK
async def test_failing_handler_leaves_the_link_listening(
    mosquitto: MosquittoServer, network_thread: bool
) -> None:
    broker = BrokerSettings.from_url(mosquitto.url)
    seen: list[bytes] = []

    def handler(topic: str, payload: bytes) -> None:
        if payload == b"boom":
            raise RecursionError("maximum recursion depth exceeded")
        seen.append(payload)

    topic = f"test/handler/{time.monotonic_ns()}"
    listener = MqttLink(
        broker,
        "test-handler",
        subscriptions=[(topic, 1)],
        on_message=handler,
        network_thread=network_thread,
    )
    sender = MqttLink(broker, "test-handler-pub", network_thread=network_thread)
    tasks = [await _running(listener), await _running(sender)]
    try:
        await asyncio.sleep(0.2)  # the subscription is made right after CONNACK
        for payload in (b"boom", b"after"):
            await asyncio.wait_for(sender.publish(topic, payload), 10)
        await wait_until(lambda: seen == [b"after"], 10)
        assert listener.stats.callback_errors == 1
    finally:
        await _stop(*tasks)


async def test_on_the_loop_no_thread_and_every_message_both_ways(
    mosquitto: MosquittoServer,
) -> None:
    """``network_thread=False``: no paho thread; a burst larger than the socket's buffer is
    written as it drains, every publish is acknowledged, and QoS 1 messages received are
    acknowledged to the broker (paho queues those PUBACKs inside its callback)."""
    broker = BrokerSettings.from_url(mosquitto.url)
    topic = f"test/loop/{time.monotonic_ns()}"
    got: list[bytes] = []
    listener = MqttLink(
        broker,
        "test-loop-sub",
        subscriptions=[(topic, 1)],
        on_message=lambda _t, payload: got.append(payload),
        network_thread=False,
        session_expiry_s=60,
    )
    sender = MqttLink(broker, "test-loop-pub", network_thread=False, max_inflight=20_000)
    tasks = [await _running(listener), await _running(sender)]
    try:
        assert not [t for t in threading.enumerate() if t.name.startswith("paho")], (
            "no paho network thread on the loop"
        )
        await asyncio.sleep(0.2)  # subscribed right after CONNACK
        body = b"x" * 4000
        futures = [sender.publish(topic, body + str(i).encode()) for i in range(3000)]
        done, pending = await asyncio.wait(futures, timeout=30)
        assert not pending, f"{len(pending)} of 3000 publishes never acknowledged"
        assert all(f.exception() is None for f in done)
        await wait_until(lambda: len(got) == 3000, 30)
        assert got[-1] == body + b"2999"
        # the listener acknowledged them all: a new session with the same id gets nothing
        assert listener.stats.callback_errors == 0
    finally:
        await _stop(*tasks)
    again: list[bytes] = []
    resumed = MqttLink(
        broker,
        "test-loop-sub",
        subscriptions=[(topic, 1)],
        on_message=lambda _t, payload: again.append(payload),
        network_thread=False,
        session_expiry_s=60,
    )
    task = await _running(resumed)
    try:
        await asyncio.sleep(1.0)
        assert again == [], f"{len(again)} messages redelivered: their PUBACKs were never sent"
    finally:
        await _stop(task)


@NETWORK
async def test_a_clean_stop_waits_until_the_broker_has_read_every_acknowledgement(
    fresh_mosquitto: MosquittoServer, network_thread: bool
) -> None:
    """CI finding (session 5's stop): a subscriber stopped and started again at once was sent
    again the last 10-180 messages it had already acknowledged. Its PUBACKs were still in the
    broker's socket buffer when the new connection took the session over, and mosquitto drops
    what the old connection had not read. A clean stop now waits for the broker to close the
    connection after our DISCONNECT, so every acknowledgement before it has been read.

    Made certain here: the broker is frozen (SIGSTOP) while the subscriber reads what it was
    sent, so all those PUBACKs wait unread; it thaws 0.5 s into the stop."""
    broker = BrokerSettings.from_url(fresh_mosquitto.url)
    pid = fresh_mosquitto.pid
    assert pid is not None
    topic = f"test/clean-stop/{time.monotonic_ns()}"
    got: list[int] = []

    def freeze_after_200(_topic: str, payload: bytes) -> None:
        got.append(int(payload[200:]))
        if len(got) == 200:
            os.kill(pid, signal.SIGSTOP)

    def link(on_message: Callable[[str, bytes], None]) -> MqttLink:
        return MqttLink(
            broker,
            "test-clean-stop",
            subscriptions=[(topic, 1)],
            on_message=on_message,
            network_thread=network_thread,
            session_expiry_s=60,
        )

    listener = link(freeze_after_200)
    sender = MqttLink(broker, "test-clean-stop-pub", network_thread=network_thread)
    tasks = [await _running(listener), await _running(sender)]
    loop = asyncio.get_running_loop()
    try:
        await asyncio.sleep(0.2)  # subscribed right after CONNACK
        body = b"x" * 200
        futures = [sender.publish(topic, body + str(i).encode()) for i in range(2000)]
        await wait_until(lambda: len(got) >= 200, 30)
        read = -1
        while read != len(got):  # what the frozen broker had already sent, read and acked
            read = len(got)
            await asyncio.sleep(0.3)
        loop.call_later(0.5, os.kill, pid, signal.SIGCONT)
        await _stop(tasks[0])
        await asyncio.wait(futures, timeout=30)
    finally:
        os.kill(pid, signal.SIGCONT)
        await _stop(*tasks)
    again: list[int] = []
    task = await _running(link(lambda _t, payload: again.append(int(payload[200:]))))
    try:
        await wait_until(lambda: len(again) >= 2000 - len(got), 30)
        redelivered = sorted(set(again) & set(got))
        assert not redelivered, (
            f"{len(redelivered)} of {len(got)} acknowledged messages sent again after a clean "
            f"stop: {redelivered[:3]}..{redelivered[-3:]}"
        )
        assert sorted(got + again) == list(range(2000))
    finally:
        await _stop(task)


def _keep(inbox: list[bytes], _topic: str, payload: bytes) -> None:
    inbox.append(payload)


async def test_connected_means_listening(mosquitto: MosquittoServer) -> None:
    """Session 6 finding: ``connected`` was set as the SUBSCRIBE left, before the broker had
    answered it; a message another client published at once missed the link 43 times in 100.
    ``connected`` now waits for the SUBACK (both network modes)."""
    broker = BrokerSettings.from_url(mosquitto.url)
    sender = MqttLink(broker, "test-listening-pub", network_thread=False)
    sender_task = await _running(sender)
    missed: list[int] = []
    try:
        for i in range(20):
            got: list[bytes] = []
            topic = f"test/listening/{time.monotonic_ns()}"
            listener = MqttLink(
                broker,
                f"test-listening-{i}",
                subscriptions=[(topic, 1)],
                on_message=functools.partial(_keep, got),
                network_thread=bool(i % 2),
            )
            task = asyncio.create_task(listener.run())
            try:
                await asyncio.wait_for(listener.connected.wait(), 10)  # not polled: at once
                await asyncio.wait_for(sender.publish(topic, b"at once"), 10)
                try:
                    await wait_until(functools.partial(operator.eq, got, [b"at once"]), 2)
                except TimeoutError:
                    missed.append(i)
            finally:
                await _stop(task)
    finally:
        await _stop(sender_task)
    assert not missed, f"published right after connected, not heard by links {missed}"
