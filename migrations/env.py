"""Alembic environment for sarvbot.

``Database.upgrade()`` passes its open connection in ``config.attributes["connection"]``;
a caller with only a URL sets it as the ``sqlalchemy.url`` main option. The ``alembic``
command line, run from a checkout without either, migrates the database ``sarvbot db``
would: DATABASE_URL as :mod:`sarvbot.config` reads it (the environment, then ./.env),
and stops when neither names one.
Either way it connects through :class:`sarvbot.store.Database`, so SQLite gets the same
pragmas and locking as the app.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from sarvbot.config import load_database_settings, read_environment
from sarvbot.store.database import Database
from sarvbot.store.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    """The URL the caller gave Alembic, else DATABASE_URL as sarvbot's settings read it.

    Never a default: migrating a database nobody named would create ./sarvbot.db.
    """
    given = config.get_main_option("sqlalchemy.url")
    if given:
        return given
    environ = read_environment()
    if not environ.get("DATABASE_URL"):
        raise RuntimeError("set DATABASE_URL to the database to migrate")
    return load_database_settings(environ).database_url.get_secret_value()


def _configure(**options: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        **options,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    """Write the SQL to stdout instead of running it."""
    url = _url()
    _configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    # SQLite alters tables by copying them; batch mode does that for us. Its DDL is
    # transactional here because Database emits BEGIN itself rather than pysqlite.
    _configure(connection=connection, render_as_batch=sqlite, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against the given connection, or connect to the database of :func:`_url`."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    database = Database(_url())
    try:
        with database.engine.connect() as own_connection:
            _run(own_connection)
    finally:
        database.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
