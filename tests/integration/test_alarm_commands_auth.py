"""A command on the bus acts for a person only when it carries their token (issue 11).

Before: one message on ``facility/v1/ctl/alarm-commands/HT`` with ``"user": "supervisor"`` and no
proof at all shelved a fire... here a pool's dry-run alarm — and the journal said a supervisor
did it. Now the standalone engine, on a real mosquitto and a real SQLite database, resolves
the command's token to a person, checks the permission the operation needs on the alarm's
estate, journals the action under that person's name whatever the message claims, and writes
every action and every refusal to the audit trail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from device_profiles import load_library
from devtools.services import MosquittoServer
from facility.errors import CommError
from facility.mqtt import BrokerSettings
from facility.payload import device_topic
from gateway.alarms.client import send_command
from gateway.alarms.core import Command
from gateway.alarms.definitions import compile_alarms
from gateway.alarms.runtime import ANONYMOUS
from gateway.alarms.service import AlarmService
from gateway.alarms.state import AlarmCommandError
from gateway.alarms.store import AlarmStore
from maintenance.identity.audit import AuditRecord
from maintenance.identity.store import UserStore
from tests.integration.test_alarms_engine import POOL, pool_asset, start, stop
from tests.integration.test_hostile_bus import pool_message, publish
from tests.support import sign_in, wait_until

DRY = f"{POOL}/dry_run"
TOPIC = "mqtt:facility/v1/ctl/alarm-commands/HT"


@dataclass
class Running:
    broker: BrokerSettings
    url: str
    store: AlarmStore

    def journal(self) -> list[tuple[str, str | None]]:
        return [(r.kind.value, r.user) for r in self.store.journal(alarm_id=DRY)]

    def audit(self, action: str) -> list[AuditRecord]:
        with UserStore(self.url) as users:
            return users.audit_log(action=action, entity=DRY)


@pytest.fixture
async def engine(fresh_mosquitto: MosquittoServer, tmp_path: Path) -> AsyncIterator[Running]:
    # a broker of its own: the alarm states are retained, other tests must not see them
    broker = BrokerSettings.from_url(fresh_mosquitto.url)
    url = f"sqlite:///{tmp_path / 'facility.db'}"
    store = AlarmStore(url)
    service = AlarmService(
        compile_alarms(pool_asset(), load_library(), None),
        broker,
        store,
        service_id="test-auth-alarms",
        tick_s=0.2,
    )
    task = await start(service)
    try:
        await publish(broker, device_topic("HT", POOL), pool_message(1, dry_run=True))
        await wait_until(lambda: service.engine is not None and _state(service) == "unack", 10)
        yield Running(broker, url, store)
    finally:
        await stop(task)
        store.close()


def _state(service: AlarmService) -> str:
    assert service.engine is not None
    return service.engine.status(DRY).state.value


def shelve(user: str = "supervisor") -> Command:
    return Command("shelve", DRY, user, "pump out for repair", for_s=3600, reason="maintenance")


async def test_a_forged_shelve_without_a_token_is_refused_and_audited(engine: Running) -> None:
    # what anyone on the bus could do before: claim to be a supervisor
    with pytest.raises(AlarmCommandError, match=r"^not signed in: the command carries no token"):
        await send_command(engine.broker, shelve("supervisor"), timeout_s=10)
    assert engine.journal() == [("raise", None)]  # nothing shelved, nothing journaled
    (refusal,) = engine.audit("refused")
    assert (refusal.actor, refusal.source, refusal.remote) == (ANONYMOUS, "api", TOPIC)
    assert refusal.detail["claimed_user"] == "supervisor"
    assert refusal.detail["op"] == "shelve"

    # a token nobody holds is no better
    with pytest.raises(AlarmCommandError, match=r"^not signed in"):
        await send_command(engine.broker, shelve(), token="made-up-token", timeout_s=10)
    assert len(engine.audit("refused")) == 2
    assert engine.journal() == [("raise", None)]


async def test_an_operators_token_shelves_and_the_journal_names_them(engine: Running) -> None:
    token = sign_in(engine.url, "zhang.min", ["operator"], ["HT"])
    # the message still claims "supervisor": the engine journals who holds the token
    state = await send_command(engine.broker, shelve("supervisor"), token=token, timeout_s=10)
    assert state["state"] == "shelved"
    assert state["shelve"]["user"] == "zhang.min"
    assert engine.journal() == [("raise", None), ("shelve", "zhang.min")]
    (action,) = engine.audit("alarm_shelve")
    assert (action.actor, action.source, action.remote) == ("zhang.min", "cli", TOPIC)
    assert action.detail["reason"] == "maintenance"
    assert action.detail["for_s"] == 3600
    assert engine.audit("refused") == []


async def test_a_viewer_an_other_estates_operator_and_an_expired_token_are_refused(
    engine: Running,
) -> None:
    viewer = sign_in(engine.url, "gao.yu", ["viewer"])
    with pytest.raises(AlarmCommandError, match=r"gao\.yu \(roles: viewer\) may not alarm\.shelve"):
        await send_command(engine.broker, shelve(), token=viewer, timeout_s=10)

    ju_operator = sign_in(engine.url, "lin.ju", ["operator"], ["JU"])
    with pytest.raises(AlarmCommandError, match=r"lin\.ju may not act on estate HT"):
        await send_command(engine.broker, shelve(), token=ju_operator, timeout_s=10)

    yesterday = datetime.now(UTC) - timedelta(days=1)
    expired = sign_in(engine.url, "zhang.min", ["operator"], ["HT"], opened_at=yesterday)
    with pytest.raises(AlarmCommandError, match=r"^not signed in: the session has expired"):
        await send_command(engine.broker, shelve(), token=expired, timeout_s=10)

    assert engine.journal() == [("raise", None)]
    refusals = {(r.actor, r.source): r.detail["reason"] for r in engine.audit("refused")}
    assert set(refusals) == {("gao.yu", "cli"), ("lin.ju", "cli"), (ANONYMOUS, "api")}
    assert "may not alarm.shelve" in refusals["gao.yu", "cli"]


async def test_out_of_service_needs_the_supervisor_role_not_a_name_in_alarms_yaml(
    engine: Running,
) -> None:
    operator = sign_in(engine.url, "zhang.min", ["operator"], ["HT"])
    oos = Command("out_of_service", DRY, "wang.wei", "pump replaced next week")
    with pytest.raises(AlarmCommandError, match=r"may not alarm\.service"):
        await send_command(engine.broker, oos, token=operator, timeout_s=10)
    # a supervisor signed in on the dashboard (a browser session)
    boss = sign_in(engine.url, "wang.wei", ["supervisor"], ["HT", "JU"], kind="browser")
    state = await send_command(engine.broker, oos, token=boss, timeout_s=10)
    assert state["state"] == "out_of_service"
    assert engine.journal()[-1] == ("out_of_service", "wang.wei")
    (action,) = engine.audit("alarm_out_of_service")
    assert (action.actor, action.source) == ("wang.wei", "dashboard")


async def test_a_comment_is_journaled_under_the_person_and_changes_no_state(
    engine: Running,
) -> None:
    technician = sign_in(engine.url, "zhao.li", ["technician"], ["HT"])
    note = Command("comment", DRY, "supervisor", "sump pump tripped on low level; called Li")
    state = await send_command(engine.broker, note, token=technician, timeout_s=10)
    assert state["state"] == "unack"  # a note, not an acknowledgement
    assert engine.journal()[-1] == ("comment", "zhao.li")
    viewer = sign_in(engine.url, "gao.yu", ["viewer"])
    with pytest.raises(AlarmCommandError, match=r"may not alarm\.comment"):
        await send_command(engine.broker, note, token=viewer, timeout_s=10)
    empty = Command("comment", DRY, "", "  ")
    with pytest.raises(AlarmCommandError, match=r"a comment needs text"):
        await send_command(engine.broker, empty, token=technician, timeout_s=10)
    (action,) = engine.audit("alarm_comment")
    assert (action.actor, action.detail["comment"]) == ("zhao.li", note.comment)


async def test_a_services_system_alarm_is_acknowledged_like_any_other(engine: Running) -> None:
    """Session 7, the demo's console: the system alarms of services that had stopped and come
    back stood as returned-unacknowledged high alarms for hours, and nothing could acknowledge
    them — ``send_command`` refused ``SYS-COL-collector-1/service`` before sending ("expected
    <ASSET_NO>/<alarm>"), the engine did not listen on ``alarm-commands/SYS`` and the bus ACL
    let nobody publish there."""
    from facility.heartbeat import ServiceKind, ServiceState, make_heartbeat
    from facility.heartbeat import encode as encode_heartbeat
    from facility.topics import status_topic

    service = "SYS-COL-collector-7/service"

    def beat(state: ServiceState) -> bytes:
        counters = {"polls_total": 1, "published_total": 1, "spool_depth": 0}
        heartbeat = make_heartbeat(
            ServiceKind.COLLECTOR, "collector-7", state=state, interval_s=5, counters=counters,
            sites=("HT",), asset_nos=(POOL,),
        )  # fmt: skip
        return encode_heartbeat(heartbeat)

    topic = status_topic(ServiceKind.COLLECTOR, "collector-7")
    await publish(engine.broker, topic, beat(ServiceState.ONLINE))
    await publish(engine.broker, topic, beat(ServiceState.OFFLINE))  # a clean stop: raised
    await wait_until(
        lambda: [r.kind.value for r in engine.store.journal(alarm_id=service)] == ["raise"], 10
    )

    ack = Command("ack", service, "", "collector restarted by hand")
    ht_operator = sign_in(engine.url, "zhang.min", ["operator"], ["HT"])
    with pytest.raises(AlarmCommandError, match=r"zhang\.min may not act on estate SYS"):
        await send_command(engine.broker, ack, token=ht_operator, timeout_s=10)
    centre = sign_in(engine.url, "chen.hua", ["operator"], ["*"])  # the monitoring centre
    state = await send_command(engine.broker, ack, token=centre, timeout_s=10)
    assert state["state"] == "acked"
    journal = [(r.kind.value, r.user) for r in engine.store.journal(alarm_id=service)]
    assert journal == [("raise", None), ("ack", "chen.hua")]
    # a system alarm no engine holds: no engine answers (another engine may hold it)
    nobody = Command("ack", "SYS-GW-gateway-9/service", "", "")
    with pytest.raises(CommError, match="no alarm engine answered"):
        await send_command(engine.broker, nobody, token=centre, timeout_s=2)
