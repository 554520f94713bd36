"""Database fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``SARVBOT_TEST_POSTGRES_URL`` (for example
``postgresql+psycopg://postgres@127.0.0.1:54329/sarvbot_test``). Each test gets a fresh
database created on that server and dropped afterwards. Without the variable the
PostgreSQL cases are skipped locally but fail on CI (``CI=true``), so CI cannot pass
without having run them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from sarvbot.store import Database

POSTGRES_URL_VARIABLE = "SARVBOT_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def postgres_admin_engine() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the test server, for creating and dropping databases."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        message = f"{POSTGRES_URL_VARIABLE} is not set; PostgreSQL tests need a server"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    yield engine
    engine.dispose()


def _fresh_postgres_database(admin: Engine) -> Iterator[str]:
    name = f"sarvbot_t_{secrets.token_hex(6)}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def postgres_url(postgres_admin_engine: Engine) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database on the test server."""
    yield from _fresh_postgres_database(postgres_admin_engine)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sarvbot.db'}"
        return
    admin = request.getfixturevalue("postgres_admin_engine")
    yield from _fresh_postgres_database(admin)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A Database on ``database_url`` with the schema upgraded to head."""
    db = Database(database_url)
    db.upgrade()
    yield db
    db.dispose()
