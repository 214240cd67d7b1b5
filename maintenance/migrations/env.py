"""Alembic environment for the maintenance database.

Run programmatically by ``maintenance.db.upgrade`` (which passes an open connection), or by
developers writing a new migration:
``alembic -c maintenance/alembic.ini revision -m "work orders"`` (the URL comes from
``facility.toml`` / ``$FACILITY_DATABASE__URL`` when the .ini leaves it empty).
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from maintenance.schema import Base


def _database_url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from facility.config import load_settings

    return load_settings().database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: later migrations copy-and-move tables instead.
        render_as_batch=True,
        # maintenance.db issues BEGIN itself on SQLite, so its DDL is transactional too.
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from maintenance.db import make_engine

    engine = make_engine(_database_url())
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def _run_offline() -> None:
    # `alembic upgrade head --sql`: the SQL script for a DBA to review and apply.
    context.configure(
        url=_database_url(),
        target_metadata=Base.metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.config.config_file_name and context.config.attributes.get("connection") is None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
