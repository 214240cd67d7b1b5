"""The dashboard's Reports page and downloads over raw HTTP against the real app (waitress,
SQLite, mosquitto): a manager lists and downloads a stored monthly PDF; a viewer is refused
(403) both the page and the file; a manager of one estate sees and gets only that estate's
reports (not the company's); every download and refusal is in the audit trail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dashboards.app import DashboardServer
from dashboards.queries import Queries
from dashboards.sample import seed_other_estate, seed_sql, seed_users
from devtools.services import MosquittoServer
from facility.config import DatabaseConfig, MqttConfig, PathsConfig, Settings
from maintenance.identity.roles import Principal, Role, Source
from maintenance.identity.store import UserStore
from maintenance.reports.sources import ReportSources
from maintenance.scheduler import ReportJobs
from tests.integration.test_dashboard_access import Client

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, mosquitto: MosquittoServer
) -> Iterator[tuple[str, str, dict[str, tuple[str, str]]]]:
    folder = tmp_path_factory.mktemp("report-page")
    settings = Settings(
        paths=PathsConfig(var_dir=folder),
        database=DatabaseConfig(url=f"sqlite:///{folder / 'facility.db'}"),
        mqtt=MqttConfig(url=mosquitto.url),
    )
    seed_sql(settings.database_url)
    seed_other_estate(settings.database_url)
    users = seed_users(settings.database_url)
    with UserStore(settings.database_url) as store:
        admin = Principal("admin", frozenset({Role.ADMIN}), frozenset({"*"}), Source.SYSTEM)
        _user, secret = store.add("manager.ju", ["manager"], ["JU"], by=admin)
        users["manager.ju"] = ("manager.ju", secret)
    ReportJobs(settings, ReportSources).tick(datetime(2026, 12, 1, 6, 5, tzinfo=SH))
    server = DashboardServer(settings, "127.0.0.1", 0, queries=Queries(settings), threads=4)
    server.start()
    try:
        yield server.url, settings.database_url, users
    finally:
        server.stop()


def _client(served: tuple[str, str, dict[str, tuple[str, str]]], who: str) -> Client:
    url, _db, users = served
    client = Client(url)
    name, password = users[who]
    assert client.login(name, password).status == 303
    return client


def _audit(db_url: str, action: str) -> list[object]:
    with UserStore(db_url) as store:
        return list(store.audit_log(action=action, limit=1000))


def test_a_manager_downloads_a_monthly_pdf_and_a_viewer_gets_403(
    served: tuple[str, str, dict[str, tuple[str, str]]],
) -> None:
    _url, db_url, _users = served
    manager = _client(served, "manager")
    reply = manager.request("GET", "/reports/file/HT/monthly/2026-11.zh.pdf")
    assert reply.status == 200, reply.body[:300]
    assert reply.headers["Content-Type"] == "application/pdf"
    assert "attachment" in reply.headers["Content-Disposition"]
    assert reply.body.startswith("%PDF")
    downloads = _audit(db_url, "report_download")
    assert [getattr(a, "entity", "") for a in downloads][:1] == ["report:HT/monthly/2026-11.zh.pdf"]
    assert manager.get("/reports/file/HT/monthly/2025-01.zh.pdf").status == 404
    assert manager.get("/reports/file/HT/nonsense/2026-11.zh.pdf").status == 404
    assert manager.get("/reports").status == 200

    viewer = _client(served, "viewer")
    refused = len(_audit(db_url, "refused"))
    assert viewer.get("/reports").status == 403
    assert viewer.get("/reports/file/HT/monthly/2026-11.zh.pdf").status == 403
    assert len(_audit(db_url, "refused")) == refused + 2


def test_a_manager_of_one_estate_gets_only_its_reports(
    served: tuple[str, str, dict[str, tuple[str, str]]],
) -> None:
    _url, db_url, _users = served
    manager = _client(served, "manager.ju")
    assert manager.get("/reports/file/JU/monthly/2026-11.zh.pdf").status == 200
    assert manager.get("/reports/file/HT/monthly/2026-11.zh.pdf").status == 403
    assert manager.get("/reports/file/ALL/monthly/2026-11.zh.pdf").status == 403
    entities = [getattr(a, "entity", "") for a in _audit(db_url, "refused")]
    assert "report:ALL/monthly/2026-11.zh.pdf" in entities
