"""Shared test fixtures: real servers, leak checks, markers by folder.

- ``influxd`` / ``mosquitto``: one real server each per test session (started on first use,
  data under the session's temp dir). Never stop them in a test: tests that stop, kill or
  restart a server use ``fresh_influxd`` / ``fresh_mosquitto``, their own instance.
- ``influx_db``: a fresh database on the session ``influxd`` per test, dropped afterwards.
- ``no_sign_in`` / ``signed_in_as``: who the command line acts for (nobody, or a person with
  roles and estates in the test's database, through $FACILITY_TOKEN).
- ``sql_url``: the SQL database of a test, once on SQLite (a file in the test's folder) and
  once on PostgreSQL (a fresh database on the session's real ``postgres``, dropped after).
- Every test fails if it leaves a non-daemon thread or an asyncio task behind.
- Tests under ``tests/integration`` are marked ``integration``, under ``tests/browser``
  ``browser`` (``pytest -m "not browser"`` deselects them).

The server launchers are imported inside the fixtures, so unit tests never need them.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from devtools.services import InfluxServer, MosquittoServer, PostgresServer
    from tests.support import SignIn

TESTS_DIR = Path(__file__).resolve().parent
FOLDER_MARKERS = {"integration": pytest.mark.integration, "browser": pytest.mark.browser}
LEAK_GRACE_S = 2.0  # threads and tasks that are ending get this long to finish


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path.resolve()
        if path.is_relative_to(TESTS_DIR):
            folder = path.relative_to(TESTS_DIR).parts[0]
            if folder in FOLDER_MARKERS:
                item.add_marker(FOLDER_MARKERS[folder])


# -- real servers -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """The session's real influxd on a free loopback port (do not stop it in a test)."""
    from devtools.services import InfluxServer

    with InfluxServer(tmp_path_factory.mktemp("influxd")) as server:
        yield server


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    """The session's real mosquitto on a free loopback port (do not stop it in a test)."""
    from devtools.services import MosquittoServer

    with MosquittoServer(tmp_path_factory.mktemp("mosquitto")) as server:
        yield server


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """The session's real PostgreSQL on a free loopback port (do not stop it in a test)."""
    from devtools.services import PostgresServer

    server = PostgresServer(tmp_path_factory.mktemp("postgres")).start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The test's own SQL database: SQLite, then PostgreSQL (the two the product supports)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'facility.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield server.create_database(name)
    server.drop_database(name)


@pytest.fixture
def influx_db(influxd: InfluxServer) -> Iterator[str]:
    """Name of a fresh, empty database on the session influxd; dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    influxd.create_database(name)
    yield name
    influxd.drop_database(name)


@pytest.fixture
def fresh_influxd(tmp_path: Path) -> Iterator[InfluxServer]:
    """An influxd of the test's own, free to be stopped, killed and restarted."""
    from devtools.services import InfluxServer

    with InfluxServer(tmp_path / "influxd") as server:
        yield server


@pytest.fixture
def fresh_mosquitto(tmp_path: Path) -> Iterator[MosquittoServer]:
    """A mosquitto of the test's own, free to be stopped, killed and restarted."""
    from devtools.services import MosquittoServer

    with MosquittoServer(tmp_path / "mosquitto") as server:
        yield server


# -- people -----------------------------------------------------------------------------------


@pytest.fixture
def no_sign_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nobody signed in for the command line: no $FACILITY_TOKEN, and a token file that does
    not exist (never the token of whoever runs the tests)."""
    monkeypatch.delenv("FACILITY_TOKEN", raising=False)
    monkeypatch.setenv("FACILITY_TOKEN_FILE", str(tmp_path / "no-token-file"))


@pytest.fixture
def signed_in_as(no_sign_in: None, monkeypatch: pytest.MonkeyPatch) -> SignIn:
    """``signed_in_as(url, name, roles, sites)``: commands run after it act as that person
    (added to the database at ``url`` if new, with a CLI session in $FACILITY_TOKEN)."""
    from tests.support import sign_in

    def sign(
        url: str, name: str, roles: Sequence[str] = ("operator",), sites: Sequence[str] = ("*",)
    ) -> str:
        token = sign_in(url, name, roles, sites)
        monkeypatch.setenv("FACILITY_TOKEN", token)
        return token

    return sign


# -- leak checks ------------------------------------------------------------------------------


def _loop_scope(request: pytest.FixtureRequest) -> str:
    marker = request.node.get_closest_marker("asyncio")
    scope = marker.kwargs.get("loop_scope") if marker else None
    return str(scope or request.config.getini("asyncio_default_test_loop_scope") or "function")


def _loop_of(request: pytest.FixtureRequest) -> asyncio.AbstractEventLoop | None:
    """The event loop pytest-asyncio runs this test in, or None for a plain test."""
    if not pytest_asyncio.is_async_test(request.node):
        return None
    # pytest-asyncio 1.x keeps one Runner per loop scope in this fixture (a private name:
    # check it when upgrading). Requesting it here sets it up before this fixture, so our
    # teardown runs after every async fixture of the test and before the loop is closed.
    runner = request.getfixturevalue(f"_{_loop_scope(request)}_scoped_runner")
    loop: asyncio.AbstractEventLoop = runner.get_loop()
    return loop


def _pending_tasks(
    loop: asyncio.AbstractEventLoop, before: set[asyncio.Task[object]]
) -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks(loop) if t not in before and not t.done()]


def _leaked_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t not in before and not t.daemon and t.is_alive()]


def _check_tasks(
    request: pytest.FixtureRequest,
    loop: asyncio.AbstractEventLoop,
    before: set[asyncio.Task[object]],
    threads_before: set[threading.Thread],
) -> list[str]:
    deadline = time.monotonic() + LEAK_GRACE_S
    while _pending_tasks(loop, before) and time.monotonic() < deadline:
        loop.run_until_complete(asyncio.sleep(0.02))  # let ending tasks finish
    leaked = _pending_tasks(loop, before)
    problems = [f"asyncio task still running: {t!r}" for t in leaked]
    for task in leaked:  # do not let them run on into the next test
        task.cancel()
    if leaked:
        loop.run_until_complete(asyncio.gather(*leaked, return_exceptions=True))
    if _loop_scope(request) == "function":
        # The loop's default executor (getaddrinfo, to_thread) is shut down by the runner
        # right after this fixture; do it now so its worker threads are not counted as leaks.
        loop.run_until_complete(loop.shutdown_default_executor())
    else:
        # A wider-scoped loop keeps its executor for the next tests: not this test's threads.
        executor = getattr(loop, "_default_executor", None)
        threads_before.update(getattr(executor, "_threads", ()))
    return problems


@pytest.fixture(autouse=True)
def _no_leaked_configuration() -> Iterator[None]:
    """A test that runs the CLI activates its settings for the process (site profile
    folders...): put back what was active, so the next test does not inherit them."""
    import facility.config

    active = list(facility.config._ACTIVE)
    yield
    facility.config._ACTIVE[:] = active


@pytest.fixture(autouse=True)
def _no_leaked_threads_or_tasks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if it leaves asyncio tasks or non-daemon threads running."""
    loop = _loop_of(request)
    tasks_before = set(asyncio.all_tasks(loop)) if loop is not None else set()
    threads_before = set(threading.enumerate())
    yield
    problems: list[str] = []
    if loop is not None and not loop.is_closed():
        problems += _check_tasks(request, loop, tasks_before, threads_before)
    deadline = time.monotonic() + LEAK_GRACE_S
    for thread in _leaked_threads(threads_before):
        thread.join(max(0.0, deadline - time.monotonic()))
    problems += [f"thread still running: {t!r}" for t in _leaked_threads(threads_before)]
    if problems:
        pytest.fail("test leaked:\n  " + "\n  ".join(problems), pytrace=False)
