"""The SQL database: engines, migrations and units of work. The one module wrapping SQLAlchemy.

SQLite by default (a file under ``var/``), PostgreSQL by URL (``postgresql+psycopg://...``,
needs the ``postgres`` extra). SQLite connections run in WAL mode with foreign keys enforced
and a busy timeout, and this module issues ``BEGIN`` itself (pysqlite's implicit transactions
let a read-then-write transaction see changes made in between): writers take ``BEGIN
IMMEDIATE`` so an import's validation and its writes see one and the same ledger.

Migrations are Alembic scripts packaged in ``maintenance/migrations``; ``upgrade(url)`` runs
them to head without any ``alembic.ini`` on the user's side. Library errors are translated here:
``StorageError`` (``ConflictError`` for a duplicate key), never a SQLAlchemy exception.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Self, TypeVar

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    Executable,
    Result,
    create_engine,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from facility.errors import ConfigError, StorageError
from facility.redact import redact_url

# Every schema module declares its tables on Base.metadata: import them all here so the
# metadata is the whole schema (migrations and tests compare against it).
from maintenance import (
    alarm_schema,  # noqa: F401
    wo_schema,  # noqa: F401
)
from maintenance.identity import schema as identity_schema  # noqa: F401
from maintenance.schema import Base

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0
_BEGIN_OPTION = "facility_sqlite_begin"
VERSION_TABLE = "alembic_version"
_MIGRATION_LOCK_ID = 0x4C454447  # "LEDG": PostgreSQL advisory lock serialising upgrades

RowT = TypeVar("RowT", bound=Base)


class ConflictError(StorageError):
    """A write collided with a row that already exists (unique key); retrying may succeed."""


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages and logs (facility.redact)."""
    return redact_url(url)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL, foreign keys and a busy timeout."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"database url {url!r}: expected e.g. sqlite:///var/facility.db or "
            "postgresql+psycopg://user@host/db"
        ) from None
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and parsed.database and parsed.database != ":memory:":
        _create_private(Path(parsed.database))
    try:
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_S} if is_sqlite else {}
        engine = create_engine(parsed, connect_args=connect_args)
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(f"database url {safe_url(url)}: {exc}") from None
    if is_sqlite:
        _sqlite_behaviour(engine)
    return engine


def _create_private(path: Path) -> None:
    """Create the SQLite file 0600 if it does not exist yet (SQLite gives its -wal and -shm
    files the database file's mode): the ledger, journal and users are nobody else's business.
    An existing file keeps the mode its owner chose."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_behaviour(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let this module issue BEGIN (see the module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(connection.get_execution_options().get(_BEGIN_OPTION, "BEGIN"))


@contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """Turn SQLAlchemy errors into StorageError naming the (password-masked) database."""
    try:
        yield
    except IntegrityError as exc:
        raise ConflictError(f"database {safe_url(url)}: {exc.orig}") from None
    except SQLAlchemyError as exc:
        detail = getattr(exc, "orig", None) or exc
        raise StorageError(f"database {safe_url(url)}: {detail}") from None


def _alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration shipped with this version of the code."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "no migrations packaged"
    return head


def _current_revision(connection: Connection) -> str | None:
    # Read directly: alembic's MigrationContext logs two INFO lines per call.
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def _upgrade(engine: Engine, revision: str) -> None:
    writer = engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
    with writer.connect() as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})")
        current = _current_revision(connection)
        if current == revision or (revision == "head" and current == head_revision()):
            return
        log.info(
            "database=%s upgrading from=%s to=%s", safe_url(str(engine.url)), current, revision
        )
        command.upgrade(_alembic_config(connection), revision)


def upgrade(url: str, revision: str = "head") -> None:
    """Create or upgrade the database at ``url`` to ``revision`` (idempotent)."""
    engine = make_engine(url)
    try:
        with translate_errors(url):
            _upgrade(engine, revision)
    finally:
        engine.dispose()


class Tx:
    """One unit of work: typed reads and writes of schema rows, committed together."""

    def __init__(self, session: Session, url: str = "") -> None:
        self._session = session
        self._url = url

    def get(self, row_type: type[RowT], key: Any, *, lock: bool = False) -> RowT | None:
        """The row with primary key ``key``; ``lock``: hold it until commit (FOR UPDATE)."""
        return self._session.get(row_type, key, with_for_update=lock or None)

    def rows(
        self,
        row_type: type[RowT],
        *,
        order_by: Sequence[str] = (),
        lock: bool = False,
        **equal: Any,
    ) -> list[RowT]:
        """Rows whose columns equal the given values (None values are ignored).

        ``lock`` holds them until commit (SELECT ... FOR UPDATE): on PostgreSQL this is
        what serialises writers; on SQLite ``write=True`` transactions already are.
        """
        query = select(row_type).filter_by(**{k: v for k, v in equal.items() if v is not None})
        if order_by:
            query = query.order_by(*(getattr(row_type, name) for name in order_by))
        if lock:
            query = query.with_for_update()
        return list(self._session.scalars(query))

    def execute(self, statement: Executable) -> Result[*tuple[Any, ...]]:
        """Run a Core statement built by a schema module (bulk reads, set-based updates)."""
        return self._session.execute(statement)

    def add(self, *rows: Base) -> None:
        self._session.add_all(rows)

    def flush(self) -> None:
        self._session.flush()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested unit of work (SAVEPOINT): when its block raises, only what it did is
        rolled back and the transaction goes on; its database errors come out as
        ``StorageError`` (``ConflictError`` for a duplicate key)."""
        with translate_errors(self._url), self._session.begin_nested():
            yield
            self._session.flush()


class Database:
    """A database by URL: ``upgrade()`` it, then work in ``transaction()``s."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = make_engine(url)
        self._writer = self._engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Database:
        """The database at ``url``; with ``migrate``, upgraded to head first (and closed
        again when that fails, so a failed start leaks no engine)."""
        db = cls(url)
        if migrate:
            try:
                db.upgrade()
            except BaseException:
                db.close()
                raise
        return db

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def upgrade(self, revision: str = "head") -> None:
        """Run migrations up to ``revision`` (idempotent; concurrent callers wait in turn)."""
        with translate_errors(self.url):
            _upgrade(self._engine, revision)

    def revision(self) -> str | None:
        """The migration the database is at; None for an empty database."""
        with translate_errors(self.url), self._engine.connect() as connection:
            return _current_revision(connection)

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Tx]:
        """A unit of work; committed when the block ends, rolled back if it raises."""
        with (
            translate_errors(self.url),
            Session(self._writer if write else self._engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield Tx(session, self.url)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class DatabaseUser:
    """Mixin for a store that owns one ``Database`` (``self._db``): close it, or use ``with``."""

    _db: Database

    def close(self) -> None:
        """Release the database's connections."""
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
