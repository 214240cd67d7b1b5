"""The technician's phone API over raw HTTP (issue 13): the real app served by waitress over a
real SQLite database. What a phone sends, what a retry sends, and what a curl user might
send — a 50 MB "photo", a text file as a photo, another technician's order, a replayed
submit — each refused with a clear message, nothing half-applied."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from dashboards.auth import CSRF_COOKIE
from devtools.services import MosquittoServer
from maintenance.identity.store import UserStore
from maintenance.wo_store import LogNotifier, WorkOrderStore
from tests.integration.test_dashboard_access import Client, Reply
from tests.phone_support import Served, jpeg, serve_phone


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoServer
) -> Iterator[Served]:
    with serve_phone(tmp_path_factory.mktemp("phone-api"), mosquitto.url) as found:
        yield found


def phone(served: Served, who: str = "technician") -> Client:
    client = Client(served.url)
    name, password = served.seed.users[who]
    assert client.login(name, password).status == 303
    return client


def post(client: Client, path: str, body: Any, headers: dict[str, str] | None = None) -> Reply:
    sent = {"Content-Type": "application/json", "X-CSRFToken": client.cookies[CSRF_COOKIE]}
    sent.update(headers or {})
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.request("POST", path, data, sent)


def act(client: Client, number: str, action: str, version: int | None, **fields: Any) -> Reply:
    body = {"key": uuid.uuid4().hex, "version": version, "action": action, **fields}
    return post(client, f"/m/api/orders/{number}/actions", body)


def order(client: Client, number: str) -> dict[str, Any]:
    reply = client.get(f"/m/api/orders/{number}")
    assert reply.status == 200, reply.body[:300]
    found: dict[str, Any] = reply.json()["order"]
    return found


def events(served: Served, number: str, action: str) -> int:
    with WorkOrderStore(served.db_url, notifier=LogNotifier()) as store:
        return sum(1 for e in store.get(number).events if e.action == action)


def refusals(served: Served) -> int:
    with UserStore(served.db_url) as store:
        return len(store.audit_log(action="refused", limit=10_000))


def test_my_work_lists_my_orders_and_the_teams_unassigned_most_urgent_first(
    served: Served,
) -> None:
    client = phone(served)
    reply = client.get("/m/api/mywork")
    assert reply.status == 200, reply.body[:300]
    cards = reply.json()["orders"]
    numbers = [c["number"] for c in cards]
    seed = served.seed
    assert seed.other not in numbers  # another technician's order
    assert set(numbers) >= {seed.pm, seed.corrective, seed.unassigned}
    assert numbers.index(seed.corrective) < numbers.index(seed.pm)  # high before medium
    pm = next(c for c in cards if c["number"] == seed.pm)
    with WorkOrderStore(served.db_url, notifier=LogNotifier()) as store:
        stored = store.get(seed.pm)
    # the one completion due, never the slot start (which lies in the past)
    assert pm["due"] == stored.completion_due.isoformat()
    assert pm["due_in_s"] > 0
    assert pm["mine"] is True


def test_the_api_needs_a_session_and_every_post_its_csrf_token(served: Served) -> None:
    anonymous = Client(served.url)
    reply = anonymous.get("/m/api/mywork")
    assert reply.status == 401
    assert reply.json()["login"] == "/login"
    client = phone(served)
    body = {"key": uuid.uuid4().hex, "action": "start"}
    reply = client.request(
        "POST", f"/m/api/orders/{served.seed.pm}/actions", json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )  # fmt: skip
    assert reply.status == 403
    assert "CSRF" in reply.json()["error"]


def test_a_replayed_submit_is_applied_once(served: Served) -> None:
    client = phone(served)
    number = served.seed.corrective
    version = order(client, number)["version"]
    start = {"key": "start-" + uuid.uuid4().hex, "version": version, "action": "start"}
    first = post(client, f"/m/api/orders/{number}/actions", start)
    assert first.status == 200, first.body[:300]
    assert first.json()["order"]["state"] == "in_progress"
    labour = {
        "key": "labour-" + uuid.uuid4().hex,
        "version": first.json()["version"],
        "action": "labour",
        "minutes": 30,
        "note": "strainer",
    }
    for _ in range(3):  # the phone lost the answer twice and sent it again
        reply = post(client, f"/m/api/orders/{number}/actions", labour)
        assert reply.status == 200, reply.body[:300]
    assert reply.json()["replayed"] is True
    assert "already applied" in reply.json()["message"]
    assert len(order(client, number)["labour"]) == 1
    assert events(served, number, "labour") == 1
    again = post(client, f"/m/api/orders/{number}/actions", start)
    assert again.json()["replayed"] is True
    assert events(served, number, "started") == 1


def test_a_corrective_order_cannot_be_completed_without_failure_codes(served: Served) -> None:
    client = phone(served)
    number = served.seed.unassigned
    accepted = act(client, number, "start", order(client, number)["version"])
    assert accepted.status == 200, accepted.body[:300]
    assert accepted.json()["order"]["assignee"] == "tech.ju"  # accepting takes it
    version = accepted.json()["version"]
    refused = act(client, number, "complete", version)
    assert refused.status == 422
    assert "needs a problem code" in refused.json()["error"]
    assert order(client, number)["state"] == "in_progress"
    done = act(
        client, number, "complete", version, problem="P-TRIP", cause="C-ELEC", remedy="R-REPAIR"
    )
    assert done.status == 200, done.body[:300]
    assert done.json()["order"]["state"] == "completed"


def test_a_change_made_meanwhile_is_a_conflict_not_overwritten(served: Served) -> None:
    client = phone(served)
    number = served.seed.pm
    seen = order(client, number)["version"]
    supervisor = phone(served, "supervisor")
    reassigned = act(supervisor, number, "assign", seen, assignee="tech2.ju")
    assert reassigned.status == 200, reassigned.body[:300]
    # the technician's phone sends what it queued against the version it saw
    stale = act(client, number, "start", seen)
    assert stale.status == 409
    answer = stale.json()
    assert answer["conflict"] is True
    assert "assigned to tech2.ju" in answer["error"]
    assert "was not applied" in answer["error"]
    assert answer["order"]["state"] == "assigned"
    assert events(served, number, "started") == 0
    back = act(supervisor, number, "assign", reassigned.json()["version"], assignee="tech.ju")
    assert back.status == 200


def test_another_technicians_order_is_refused_and_audited(served: Served) -> None:
    client = phone(served)
    number = served.seed.other
    version = order(client, number)["version"]  # same estate: it may be seen, not worked
    before = refusals(served)
    reply = act(client, number, "start", version)
    assert reply.status == 403
    assert "assigned to tech2.ju" in reply.json()["error"]
    assert refusals(served) == before + 1
    assert events(served, number, "started") == 0
    upload = post(
        client, f"/m/api/orders/{number}/attachments?kind=photo&key={uuid.uuid4().hex}",
        jpeg(), {"Content-Type": "image/jpeg"},
    )  # fmt: skip
    assert upload.status == 403
    assert not list((served.var_dir / "attachments").glob("*/*"))  # nothing written to disk
    # an order of an estate the technician does not see, or one that does not exist
    for forged in ("WO-HT-2026-00001", "WO-JU-2026-99999", "NOT-AN-ORDER"):
        reply = act(client, forged, "start", 0)
        assert reply.status == 404, forged
        assert "not found or not in your estates" in reply.json()["error"]


def test_a_50_mb_upload_and_a_non_image_photo_are_refused(served: Served) -> None:
    client = phone(served)
    number = served.seed.corrective
    path = f"/m/api/orders/{number}/attachments?kind=photo&key={uuid.uuid4().hex}"
    big = post(
        client, path, b"\xff\xd8\xff" + bytes(50 * 1024 * 1024), {"Content-Type": "image/jpeg"}
    )
    assert big.status == 413
    assert "50.0 MB is too large; at most 10 MB" in big.json()["error"]
    text = post(client, path, b"#!/bin/sh\nrm -rf /\n" * 50, {"Content-Type": "image/jpeg"})
    assert text.status == 422
    assert "not an image" in text.json()["error"]
    assert order(client, number)["attachments"] == []
    assert not list((served.var_dir / "attachments").glob("*/*"))


def test_a_photo_answers_its_item_and_is_stored_by_checksum(served: Served) -> None:
    client = phone(served)
    number = served.seed.pm
    started = act(client, number, "start", order(client, number)["version"])
    assert started.status == 200, started.body[:300]
    key = uuid.uuid4().hex
    path = f"/m/api/orders/{number}/attachments?kind=photo&item=5&key={key}"
    path += f"&version={started.json()['version']}"
    photo = jpeg(4096)
    reply = post(client, path, photo, {"Content-Type": "application/octet-stream"})
    assert reply.status == 200, reply.body[:300]
    item = reply.json()["order"]["checklist"][4]
    assert item["answered"] is True
    sha = item["attachment"]
    import hashlib

    assert sha == hashlib.sha256(photo).hexdigest()
    assert (served.var_dir / "attachments" / sha[:2] / sha).read_bytes() == photo
    again = post(client, path, photo, {"Content-Type": "image/jpeg"})
    assert again.json()["replayed"] is True
    assert len(order(client, number)["attachments"]) == 1
    served_file = client.get(f"/m/api/files/{sha}")
    assert served_file.status == 200
    assert served_file.headers["Content-Type"] == "image/jpeg"


def test_the_qr_address_opens_the_asset_page(served: Served) -> None:
    client = phone(served)
    reply = client.get("/assets/JU-PMP-001")
    assert reply.status == 302
    assert reply.headers["Location"].endswith("/asset/JU-PMP-001")
    assert client.get("/assets/style.css").status == 200  # Dash's own files still served


def test_a_technician_declines_an_assigned_order_with_a_reason(served: Served) -> None:
    """Issue 13: accept/decline. The order is open and unassigned again, the reason kept; a
    decline needs a reason and only the assignee (or a supervisor) may give it back."""
    with WorkOrderStore(served.db_url, notifier=LogNotifier()) as store:
        number = store.raise_corrective(
            "JU-PMP-007", "manual", title_en="Noise", title_zh="异响", priority="low"
        ).order.number
        store.assign(number, "tech.ju", actor="supervisor")
    tech, other = phone(served), phone(served, "tech2")
    version = order(tech, number)["version"]
    assert "decline" in order(tech, number)["allowed"]
    assert act(other, number, "decline", None, reason="not mine").status == 403
    no_reason = act(tech, number, "decline", version, reason=" ")
    assert no_reason.status == 422, no_reason.body[:300]
    assert "expected a reason" in no_reason.json()["error"]
    done = act(tech, number, "decline", version, reason="on sick leave tomorrow")
    assert done.status == 200, done.body[:300]
    declined = done.json()["order"]
    assert (declined["state"], declined["assignee"]) == ("open", None)
    with WorkOrderStore(served.db_url, notifier=LogNotifier()) as store:
        last = store.get(number).events[-1]
    assert (last.actor, last.action, last.note) == ("tech.ju", "declined", "on sick leave tomorrow")
