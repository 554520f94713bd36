"""The Database: migrations, schema checks, SQLite settings and failure reporting."""

from __future__ import annotations

import socket
import traceback
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from sarvbot.store import AuditLog, Database, DatabaseBehind, DatabaseUnavailable
from sarvbot.store.models import Base

PASSWORD = "pw-Zq81-secret"


def test_migrations_create_exactly_the_schema_of_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgraded_database_is_current(database: Database) -> None:
    database.check_current()
    assert database.current_revision() == database.head_revision()


def test_upgrading_twice_changes_nothing(database: Database) -> None:
    database.upgrade()
    database.check_current()


def test_database_never_upgraded_is_behind(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert db.current_revision() is None
        with pytest.raises(DatabaseBehind, match="run `sarvbot db upgrade`"):
            db.check_current()
    finally:
        db.dispose()


def test_sqlite_uses_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'settings.db'}")
    try:
        with db.session(readonly=True) as session:
            assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert session.execute(text("PRAGMA busy_timeout")).scalar() == 5000
            assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        db.dispose()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(params=["sqlite", "postgres"])
def gone_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database that cannot be opened: a file in a missing directory, or a closed port."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'removed-directory' / 'sarvbot.db'}"
    return f"postgresql+psycopg://sarvbot:{PASSWORD}@127.0.0.1:{_closed_port()}/sarvbot"


def test_gone_database_is_reported_unavailable_without_the_password(
    gone_database_url: str,
) -> None:
    db = Database(gone_database_url)
    try:
        with pytest.raises(DatabaseUnavailable) as raised:
            AuditLog(db).latest()
    finally:
        db.dispose()
    assert "database unavailable" in str(raised.value)
    assert PASSWORD not in str(raised.value)
    assert PASSWORD not in "".join(traceback.format_exception(raised.value))


def test_schema_check_on_gone_database_is_unavailable(gone_database_url: str) -> None:
    db = Database(gone_database_url)
    try:
        with pytest.raises(DatabaseUnavailable):
            db.check_current()
    finally:
        db.dispose()


def test_repr_masks_the_password() -> None:
    db = Database(f"postgresql+psycopg://sarvbot:{PASSWORD}@db.example:5432/sarvbot")
    try:
        assert PASSWORD not in repr(db)
        assert repr(db) == "Database('postgresql+psycopg://sarvbot:***@db.example:5432/sarvbot')"
    finally:
        db.dispose()
