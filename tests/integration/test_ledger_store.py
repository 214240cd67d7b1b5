"""The ledger in a real SQLite database (tmp_path): migrations, imports, numbering, CLI."""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner, Result
from openpyxl import Workbook
from sqlalchemy import inspect

from facility.cli import cli, main
from facility.errors import ConfigError, LedgerError
from facility.types import AssetStatus, DeviceClass, ModbusEndpoint
from maintenance import db
from maintenance.ledger import COLUMNS, asset_values
from maintenance.ledger_files import demo_ledger_paths, demo_sites, read_ledger_file
from maintenance.schema import Base
from maintenance.store import LedgerStore
from tests.support import SignIn

pytestmark = pytest.mark.integration

USER = "test"


@pytest.fixture
def url(sql_url: str) -> str:
    return sql_url


@pytest.fixture
def store(url: str) -> Iterator[LedgerStore]:
    with LedgerStore(url) as ledger:
        ledger.save_sites(demo_sites(), user=USER)
        yield ledger


@pytest.fixture
def demo_store(store: LedgerStore) -> LedgerStore:
    for path in demo_ledger_paths():
        store.import_file(path, user=USER)
    return store


def test_migrations_create_exactly_the_schema(url: str) -> None:
    db.upgrade(url)
    db.upgrade(url)  # idempotent
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert context.get_current_revision() == db.head_revision()
            tables = set(inspect(connection).get_table_names())
            pragmas = (
                [
                    connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                    for name in ("journal_mode", "foreign_keys")
                ]
                if url.startswith("sqlite")
                else ["wal", 1]  # SQLite's connection settings; PostgreSQL has neither
            )
    finally:
        engine.dispose()
    assert tables == {
        "alembic_version",
        "sites",
        "assets",
        "asset_numbers",
        "asset_status_history",
        "audit_log",
        "alarm_journal",
        "alarm_state",
        "pm_plans",
        "pm_occurrences",
        "pm_generator",
        "wo_sequences",
        "failure_codes",
        "work_orders",
        "work_order_events",
        "wo_checklist_items",
        "wo_labour",
        "wo_parts",
        "meter_readings",
        "users",
        "user_sessions",
        "alarm_order_cursor",
        "alarm_raise_orders",
        "wo_submissions",
        "wo_attachments",
    }
    assert pragmas == ["wal", 1]


def test_demo_import(demo_store: LedgerStore) -> None:
    monitored = demo_store.assets(monitored_only=True)
    assert len(monitored) >= 150
    assert {a.device_class for a in monitored} == set(DeviceClass)
    assert [a.asset_no for a in demo_store.assets("HT", device_class="PDP")] == ["HT-PDP-001"]
    assert len(demo_store.assets("JU")) == 45
    pump = demo_store.asset("HT-PMP-012")
    assert pump is not None
    assert pump.endpoint == ModbusEndpoint("127.0.0.1", 15021, 12)
    # What the store returns is what the file says.
    in_file = read_ledger_file(demo_ledger_paths()[0])
    assert demo_store.assets("HT") == sorted(in_file, key=lambda a: a.asset_no)
    assert len(demo_store.allocated_numbers()) == len(demo_store.assets())
    assert demo_store.status_history("HT-PMP-001")[0].to_status is AssetStatus.IN_SERVICE


def test_reimport_is_idempotent(demo_store: LedgerStore) -> None:
    audit_before = len(demo_store.audit_log())
    report = demo_store.import_file(demo_ledger_paths()[0], user=USER)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 63)
    assert len(demo_store.status_history("HT-PMP-001")) == 1
    assert len(demo_store.audit_log()) == audit_before + 1  # the import itself


def _hundred_rows(store: LedgerStore) -> list[dict[str, str]]:
    """63 updates of Huating's assets and 37 new street-light circuits: 100 rows."""
    rows = [{**asset_values(a), "zone": a.zone + " (surveyed)"} for a in store.assets("HT")]
    template = asset_values(store.assets("HT", device_class="LGT")[0])
    for seq in range(41, 78):
        rows.append(
            {
                **template,
                "asset_no": f"HT-LGT-{seq:03d}",
                "name_en": f"Lake path street lighting circuit {seq:02d}",
                "name_zh": f"湖畔小径路灯回路{seq:02d}",
                "unit_id": str(seq),
            }
        )
    assert len(rows) == 100
    return rows


def _write(rows: list[dict[str, str]], path: Path) -> Path:
    if path.suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    else:
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.append(list(COLUMNS))
        for row in rows:  # numbers as numbers, the way people type them into Excel
            sheet.append([int(v) if k in ("port", "unit_id") and v else v for k, v in row.items()])
        workbook.save(path)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_one_bad_row_among_a_hundred_changes_nothing_and_reports_that_row(
    demo_store: LedgerStore, tmp_path: Path, suffix: str
) -> None:
    rows = _hundred_rows(demo_store)
    rows[80] = {**rows[80], "unit_id": "0"}  # file row 82 (header is row 1)
    path = _write(rows, tmp_path / f"survey{suffix}")
    before = (
        demo_store.assets(),
        demo_store.allocated_numbers(),
        demo_store.audit_log(),
        demo_store.status_history("HT-PMP-001"),
    )

    with pytest.raises(LedgerError) as caught:
        demo_store.import_file(path, user=USER)

    assert [(i.file, i.line, i.field) for i in caught.value.issues] == [(str(path), 82, "unit_id")]
    after = (
        demo_store.assets(),
        demo_store.allocated_numbers(),
        demo_store.audit_log(),
        demo_store.status_history("HT-PMP-001"),
    )
    assert after == before

    rows[80] = {**rows[80], "unit_id": "81"}
    report = demo_store.import_file(_write(rows, path), user=USER)
    assert (report.created, report.updated, report.unchanged) == (37, 63, 0)
    assert report.changes[0].changed == ("zone",)
    assert len(demo_store.assets("HT", device_class="LGT")) == 77


def test_dry_run_reports_and_writes_nothing(demo_store: LedgerStore, tmp_path: Path) -> None:
    path = _write(_hundred_rows(demo_store), tmp_path / "survey.csv")
    before = demo_store.assets()
    report = demo_store.import_file(path, user=USER, dry_run=True)
    assert (report.created, report.updated, report.dry_run) == (37, 63, True)
    assert demo_store.assets() == before


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_import_round_trip(demo_store: LedgerStore, tmp_path: Path, suffix: str) -> None:
    exported = tmp_path / f"ledger{suffix}"
    assert demo_store.export(exported) == 163
    with LedgerStore(f"sqlite:///{tmp_path / 'other.db'}") as other:
        other.save_sites(demo_sites(), user=USER)
        report = other.import_file(exported, user=USER)
        assert report.created == 163
        assert other.assets() == demo_store.assets()
        again = tmp_path / f"again{suffix}"
        other.export(again)
    if suffix == ".csv":
        assert again.read_bytes() == exported.read_bytes()


def test_parent_created_in_the_same_file_after_its_child(
    demo_store: LedgerStore, tmp_path: Path
) -> None:
    circuit = asset_values(demo_store.assets("HT", device_class="LGT")[0])
    lamp = {
        **circuit,
        "asset_no": "HT-LGT-042",
        "name_en": "Street light 1 of circuit 41",
        "profile": "",
        "protocol": "",
        "host": "",
        "port": "",
        "unit_id": "",
        "parent_asset_no": "HT-LGT-041",
    }
    new_circuit = {**circuit, "asset_no": "HT-LGT-041", "unit_id": "41"}
    report = demo_store.import_file(_write([lamp, new_circuit], tmp_path / "l.csv"), user=USER)
    assert report.created == 2
    stored = demo_store.asset("HT-LGT-042")
    assert stored is not None
    assert stored.parent_asset_no == "HT-LGT-041"
    assert not stored.monitored


def test_numbers_are_never_reused(demo_store: LedgerStore, tmp_path: Path) -> None:
    first = demo_store.allocate("HT", "LGT", 3, "street lights", user=USER)
    assert first == ["HT-LGT-041", "HT-LGT-042", "HT-LGT-043"]

    # Describe the last one in a ledger file, then retire it.
    circuit = asset_values(demo_store.assets("HT", device_class="LGT")[0])
    row = {**circuit, "asset_no": "HT-LGT-043", "unit_id": "43"}
    assert demo_store.import_file(_write([row], tmp_path / "a.csv"), user=USER).created == 1
    demo_store.set_status("HT-LGT-043", "retired", user=USER, note="pole knocked down")

    assert demo_store.allocate("HT", "LGT", 1, "replacement", user=USER) == ["HT-LGT-044"]
    with pytest.raises(LedgerError, match="never reused") as caught:
        demo_store.import_file(_write([row], tmp_path / "b.csv"), user=USER)
    assert [(i.line, i.field) for i in caught.value.issues] == [(2, "status")]
    with pytest.raises(ConfigError, match="never reused"):
        demo_store.set_status("HT-LGT-043", "in_service", user=USER)

    # Its endpoint is free again for the replacement.
    replacement = {**row, "asset_no": "HT-LGT-044"}
    assert demo_store.import_file(_write([replacement], tmp_path / "c.csv"), user=USER).created == 1
    history = [
        (c.from_status, c.to_status, c.note) for c in demo_store.status_history("HT-LGT-043")
    ]
    assert history == [
        (None, AssetStatus.IN_SERVICE, "import a.csv"),
        (AssetStatus.IN_SERVICE, AssetStatus.RETIRED, "pole knocked down"),
    ]
    assert [e.action for e in demo_store.audit_log("HT-LGT-043")] == [
        "asset.create",
        "asset.status",
    ]


def test_concurrent_allocations_never_collide(store: LedgerStore, url: str) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def allocate() -> None:
        try:
            with LedgerStore(url) as own:
                for _ in range(5):
                    results.append(own.allocate("JU", "LGT", 4, "survey", user=USER))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=allocate) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = [n for batch in results for n in batch]
    assert len(numbers) == len(set(numbers)) == 60
    assert store.allocated_numbers("JU", "LGT")[-1] == "JU-LGT-060"


def test_status_changes_are_recorded(demo_store: LedgerStore) -> None:
    asset = demo_store.set_status("HY-PMP-002", "out_of_service", user="wang", note="seal leak")
    assert asset.status is AssetStatus.OUT_OF_SERVICE
    assert asset.monitored  # still polled: out of service is not gone
    demo_store.set_status("HY-PMP-002", "out_of_service", user="wang")  # no change, no record
    demo_store.set_status("HY-PMP-002", "in_service", user="li", note="seal replaced")
    history = demo_store.status_history("HY-PMP-002")
    assert [(c.to_status.value, c.actor) for c in history] == [
        ("in_service", USER),
        ("out_of_service", "wang"),
        ("in_service", "li"),
    ]
    assert history[1].at.tzinfo is not None
    with pytest.raises(ConfigError, match="did you mean HY-PMP-002"):
        demo_store.set_status("HY-PMP-02", "retired", user=USER)


def test_unknown_site_until_init(url: str) -> None:
    with LedgerStore(url) as empty:
        with pytest.raises(LedgerError, match="run `facility ledger init`"):
            empty.import_file(demo_ledger_paths()[0], user=USER)
        with pytest.raises(ConfigError, match="unknown site 'HT'"):
            empty.allocate("HT", "LGT", 1, "x", user=USER)


# --- the command line -------------------------------------------------------------------


Run = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path, url: str, signed_in_as: SignIn) -> Run:
    signed_in_as(url, "li.ming", ["admin"])  # ledger changes need the ledger permission
    config = tmp_path / "facility.toml"
    config.write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, ["--config", str(config), "ledger", *args], env={"USER": "cli"})

    return invoke


def test_cli_demo_list_number_export(run: Run, tmp_path: Path) -> None:
    first = run("demo")
    assert first.exit_code == 0, first.output
    assert "HT.csv: 63 rows: 63 created" in first.stdout
    again = run("demo")
    assert "HT.csv: 63 rows: 0 created, 0 updated, 63 unchanged" in again.stdout

    listed = run("list", "--site", "HT", "--class", "PDP")
    assert listed.exit_code == 0
    assert "HT-PDP-001  泳池排水系统" in listed.stdout
    assert listed.stdout.rstrip().endswith("1 assets")

    numbered = run("number", "--site", "HT", "--class", "LGT", "--count", "40")
    assert numbered.stdout.split() == [f"HT-LGT-{n:03d}" for n in range(41, 81)]

    exported = run("export", "--site", "JU")
    lines = exported.stdout.splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert len(lines) == 46

    xlsx = tmp_path / "all.xlsx"
    assert run("export", "-o", str(xlsx)).exit_code == 0
    reimported = run("import", str(xlsx), "--quiet")
    assert "163 rows: 0 created, 0 updated, 163 unchanged" in reimported.stdout

    retired = run("status", "HT-LGT-001", "retired", "--note", "replaced")
    assert retired.stdout.strip() == "HT-LGT-001: retired"


def test_cli_import_with_bad_rows_exits_1_and_prints_each(run: Run, tmp_path: Path) -> None:
    assert run("init").exit_code == 0
    text = demo_ledger_paths()[1].read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    rows[3]["install_date"] = "2019-13-01"
    rows[9]["profile"] = "fire-alarm-panel"
    path = _write(rows, tmp_path / "JU.csv")

    result = run("import", str(path))

    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert errors[0] == f"{path}:row 5: install_date: '2019-13-01' is not a calendar date"
    assert errors[1].startswith(f"{path}:row 11: profile: profile fire-alarm-panel is for FAP")
    assert errors[2] == f"{path}: nothing imported: 2 problem(s) in 2 row(s)"
    assert run("list").stdout.splitlines()[-1] == "0 assets"


def test_cli_dry_run_prints_every_row(run: Run) -> None:
    run("init")
    result = run("import", str(demo_ledger_paths()[2]), "--dry-run")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "row 2: HY-PMP-001: created"
    assert len(lines) == 56
    assert lines[-1].endswith("(dry run: nothing would be written)")
    assert "0 assets" in run("list").stdout


def test_cli_database_error_is_one_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "facility.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path}"\n', encoding="utf-8")  # a folder
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(config), "ledger", "list"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: database sqlite:///{tmp_path}: unable to open database file")
    assert err.count("\n") == 1  # one line; the hint says which directory must be writable
    assert "var_dir" in err
