"""The command line acts for a signed-in person, checked on the order's or asset's estate.

Before (issue 11): `facility wo` named whoever $FACILITY_USER or $USER said (or "cli"), and
anyone could start, verify or close any order, or retire an asset. Now a command that changes
something needs `facility login` (or $FACILITY_TOKEN), refuses role-less or out-of-scope
actions (audited), and the order's events and the audit trail name the person.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from maintenance.identity.store import UserStore
from maintenance.ledger_files import demo_ledger_paths, demo_sites
from maintenance.store import LedgerStore
from maintenance.wo_store import WorkOrderStore
from tests.support import SignIn
from tests.support import run_cli as cli


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'facility.db'}"
    with LedgerStore(url) as ledger:
        ledger.save_sites(demo_sites(), user="test")
        ledger.import_file(next(p for p in demo_ledger_paths() if p.stem == "HT"), user="test")
    monkeypatch.setenv("FACILITY_DATABASE__URL", url)
    monkeypatch.setenv("FACILITY_INFLUXDB__URL", "http://127.0.0.1:9")  # nothing listens
    monkeypatch.setenv("FACILITY_MAINTENANCE__NOTIFY_MQTT", "false")  # no broker here
    return url


@pytest.mark.usefixtures("no_sign_in")
def test_without_sign_in_changes_are_refused_with_how_to_sign_in(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (
        ["wo", "raise", "HT-PMP-001", "--title", "Seal leak"],
        ["ledger", "status", "HT-PMP-001", "out_of_service"],
        ["alarms", "ack", "HT-PDP-001/dry_run"],
    ):
        code, _, err = cli(args, capsys)
        assert code == 2, args
        assert err.startswith("error: this command acts for a person: sign in first with "), err
        assert "`facility login`" in err
    # reading needs no sign-in
    assert cli(["wo", "list"], capsys)[0] == 0


def test_a_technician_works_only_their_own_orders_and_events_name_people(
    url: str, signed_in_as: SignIn, capsys: pytest.CaptureFixture[str]
) -> None:
    signed_in_as(url, "wang.wei", ["supervisor"], ["HT"])
    code, out, err = cli(["wo", "raise", "HT-PMP-001", "--title", "Seal leak"], capsys)
    assert code == 0, err
    number = out.strip()
    assert cli(["wo", "assign", number, "zhao.li"], capsys)[0] == 0

    # another technician of the same estate may not start zhao.li's order
    signed_in_as(url, "qian.bo", ["technician"], ["HT"])
    code, _, err = cli(["wo", "start", number], capsys)
    assert code == 2
    assert err.startswith(
        f"error: qian.bo may start only work orders assigned to them: {number} is assigned "
        "to zhao.li"
    )
    # zhao.li may; and may not verify their own work
    signed_in_as(url, "zhao.li", ["technician"], ["HT"])
    assert cli(["wo", "start", number], capsys)[0] == 0
    code, _, err = cli(["wo", "verify", number], capsys)
    assert code == 2
    assert "zhao.li (roles: technician) may not wo.verify" in err

    with WorkOrderStore(url) as orders:
        order = orders.get(number)
    assert order.state.value == "in_progress"
    assert [(e.actor, e.action) for e in order.events] == [
        ("wang.wei", "created"),
        ("wang.wei", "assigned"),
        ("zhao.li", "started"),
    ]
    with UserStore(url) as users:
        entries = users.audit_log(entity=number)
    assert [(e.actor, e.action, e.source) for e in reversed(entries)] == [
        ("wang.wei", "wo_assign", "cli"),
        ("qian.bo", "refused", "cli"),
        ("zhao.li", "wo_start", "cli"),
        ("zhao.li", "refused", "cli"),
    ]
    assert entries[1].detail["to"] == "in_progress"


def test_ledger_changes_need_the_ledger_permission_on_the_estate(
    url: str, signed_in_as: SignIn, capsys: pytest.CaptureFixture[str]
) -> None:
    signed_in_as(url, "zhao.li", ["technician"], ["HT"])
    code, _, err = cli(["ledger", "status", "HT-PMP-001", "out_of_service"], capsys)
    assert code == 2
    assert "zhao.li (roles: technician) may not ledger: it needs one of the roles admin" in err
    signed_in_as(url, "li.ming", ["admin"], ["HT"])
    code, _, err = cli(["ledger", "status", "HT-PMP-001", "out_of_service"], capsys)
    assert code == 0, err
    with LedgerStore(url) as ledger:
        (change,) = [
            c for c in ledger.status_history("HT-PMP-001") if c.to_status == "out_of_service"
        ]
    assert change.actor == "li.ming"
    with UserStore(url) as users:
        (entry,) = users.audit_log(entity="HT-PMP-001", action="asset.status")
    assert (entry.actor, entry.source) == ("li.ming", "cli")
