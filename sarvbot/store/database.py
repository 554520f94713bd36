"""The engine, sessions and schema revision checks."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, quote_plus

import sqlalchemy.exc
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, CursorResult, Engine, create_engine, event, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

import sarvbot
from sarvbot.store.errors import (
    DatabaseBehind,
    DatabaseUnavailable,
    DatabaseUrlError,
    StoreError,
)

__all__ = ["Database", "migrations_dir", "parse_database_url"]

# Errors meaning "the database is not there or will not work now", as opposed to a bug
# in a statement or a broken constraint.
_UNAVAILABLE_ERRORS = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError,
)

_READONLY_OPTION = "sarvbot_readonly"
_QUICK_OPTION = "sarvbot_quick"
# How long a writer waits for SQLite's lock; a quick one answers inside Slack's 3 s ack.
BUSY_TIMEOUT_MS = 5000
QUICK_BUSY_TIMEOUT_MS = 1000

# The schemes sarvbot runs on, and the SQLAlchemy driver each one means. ``postgres://``
# is what Heroku and others hand out; without a driver, PostgreSQL means psycopg (3).
_DRIVERS = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite+pysqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}
_EXPECTED = "sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/NAME"
# Query parameters that carry a secret (libpq takes ``password`` and ``sslpassword``).
_SECRET_PARAMETER = re.compile(r"pass|pwd|secret|token", re.IGNORECASE)
_MASK = "***"


def parse_database_url(text: str) -> URL:
    """The SQLAlchemy URL for ``text``, with ``postgres://`` and ``postgresql://`` as psycopg.

    Raises DatabaseUrlError, which never repeats the URL (it may hold a password), when
    the text is not a URL or names a database sarvbot does not run on.
    """
    try:
        url = make_url(text)
    except (sqlalchemy.exc.ArgumentError, ValueError):
        # SQLAlchemy's own message repeats the whole URL, password included.
        raise DatabaseUrlError(f"the database URL cannot be read; expected {_EXPECTED}") from None
    driver = _DRIVERS.get(url.drivername.lower())
    if driver is None:
        raise DatabaseUrlError(
            f"sarvbot does not run on `{url.drivername[:40]}` databases; expected {_EXPECTED}"
        )
    return url.set(drivername=driver)


def _masked(url: URL) -> str:
    """``url`` as text with the password and any secret query parameter shown as ``***``."""
    text = url.set(query={}).render_as_string(hide_password=True)
    pairs = [
        f"{quote_plus(key)}={_MASK if _SECRET_PARAMETER.search(key) else quote_plus(value)}"
        for key in sorted(url.query)
        for value in _values(url.query[key])
    ]
    return text + "?" + "&".join(pairs) if pairs else text


def _values(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


def _secrets(url: URL) -> tuple[str, ...]:
    """Every secret in ``url``, as written and as it would appear URL-encoded."""
    found = [url.password] if url.password else []
    for key, value in url.query.items():
        if _SECRET_PARAMETER.search(key):
            found += [v for v in _values(value) if v]
    forms = {form for secret in found for form in (secret, quote(secret), quote_plus(secret))}
    # The longest first, so that a secret inside another's encoding is not half-replaced.
    return tuple(sorted(forms, key=len, reverse=True))


def migrations_dir() -> Path:
    """The Alembic script directory: inside the installed package, or the checkout's.

    A wheel carries the repository's top-level ``migrations/`` as ``sarvbot/migrations``
    (see pyproject.toml); a checkout, editable install or not, has it beside the package.
    Alembic needs a real directory, so this is a path, not an importlib resource.
    """
    package = Path(sarvbot.__file__).resolve().parent
    installed = package / "migrations"
    if (installed / "env.py").is_file():
        return installed
    # A checkout: alembic.ini beside it tells it from some other site-packages/migrations.
    checkout = package.parent / "migrations"
    if (checkout / "env.py").is_file() and (package.parent / "alembic.ini").is_file():
        return checkout
    # A broken install: StoreError, so the commands say it in one line.
    raise StoreError(
        f"sarvbot's migrations are missing: neither {package / 'migrations'} nor "
        f"{package.parent / 'migrations'} holds env.py; reinstall sarvbot"
    )


class Database:
    """One database: its engine, sessions and schema revision.

    SQLite (``sqlite:///sarvbot.db``) runs in WAL mode with foreign keys on, and every
    writing transaction starts with ``BEGIN IMMEDIATE`` so that a read followed by a
    write inside it cannot interleave with another writer. PostgreSQL
    (``postgresql://...``, ``postgres://...``, run with psycopg) checks pooled connections
    before use. A URL that cannot be used raises DatabaseUrlError.
    """

    def __init__(self, url: str) -> None:
        self._url = parse_database_url(url)
        self._secrets = _secrets(self._url)
        self._write_lock: threading.RLock | None = None
        if self._url.get_backend_name() == "sqlite":
            self._engine = _sqlite_engine(self._url)
            self._write_lock = threading.RLock()
        else:
            self._engine = _postgresql_engine(self._url)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._readonly_sessions = sessionmaker(
            self._engine.execution_options(**{_READONLY_OPTION: True}), expire_on_commit=False
        )
        self._quick_engine = self._engine.execution_options(**{_QUICK_OPTION: True})
        self._quick_sessions = sessionmaker(self._quick_engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Database({self.safe_url!r})"

    @property
    def safe_url(self) -> str:
        """The URL with its password and secret query parameters as ``***``, fit for logs."""
        return _masked(self._url)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for migrations and tests)."""
        return self._engine

    @property
    def dialect_name(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    @contextmanager
    def session(self, *, readonly: bool = False, quick: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error.

        ``readonly=True`` lets SQLite readers start without taking the write lock; do
        not write in such a session. ``quick=True`` waits at most a second for a lock
        (for writes made before answering Slack), then raises DatabaseUnavailable.
        """
        if readonly:
            with self._translate_errors(), self._readonly_sessions.begin() as session:
                yield session
            return
        factory = self._quick_sessions if quick else self._sessions
        with self._writer(quick), self._translate_errors(), factory.begin() as session:
            yield session

    @contextmanager
    def transaction(self, *, quick: bool = False) -> Iterator[Connection]:
        """A Core connection in one transaction, for the few statements on the ack path.

        Cheaper than a session; ``quick`` as for :meth:`session`.
        """
        engine = self._quick_engine if quick else self._engine
        with self._writer(quick), self._translate_errors(), engine.begin() as connection:
            yield connection

    @contextmanager
    def _writer(self, quick: bool) -> Iterator[None]:
        """On SQLite, this process's writers take turns on a lock of their own.

        SQLite lets one writer in at a time and makes the others sleep and poll (1, 2, 5,
        10 ms and longer); threads queued on a Python lock instead start the moment the
        writer before them commits. Other processes still meet SQLite's own lock.
        """
        if self._write_lock is None:
            yield
            return
        wait = (QUICK_BUSY_TIMEOUT_MS if quick else BUSY_TIMEOUT_MS) / 1000
        if not self._write_lock.acquire(timeout=wait):
            raise DatabaseUnavailable(
                f"database unavailable ({self.safe_url}): busy with other writers for {wait:g} s"
            )
        try:
            yield
        finally:
            self._write_lock.release()

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision`` (all migrations by default)."""
        config = self._alembic_config()
        with self._translate_errors(), self._engine.connect() as connection:
            if self.dialect_name != "sqlite":
                with connection.begin():
                    config.attributes["connection"] = connection
                    command.upgrade(config, revision)
                return
            # SQLite alters a table by copying it and dropping the old one, which fails
            # while foreign keys are enforced. The pragma is ignored inside a transaction,
            # so switch it off on the raw connection first, check the keys before
            # committing, and always switch it back on.
            raw = connection.connection.driver_connection
            assert isinstance(raw, sqlite3.Connection)
            raw.execute("PRAGMA foreign_keys = OFF")
            try:
                with connection.begin():
                    config.attributes["connection"] = connection
                    command.upgrade(config, revision)
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
            finally:
                raw.execute("PRAGMA foreign_keys = ON")

    def current_revision(self) -> str | None:
        """The schema revision recorded in the database, or None for an empty one."""
        with self._translate_errors(), self._engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def head_revision(self) -> str:
        """The newest schema revision this code knows."""
        head = ScriptDirectory.from_config(self._alembic_config()).get_current_head()
        if head is None:
            raise RuntimeError(f"no migrations found in {migrations_dir()}")
        return head

    def check_current(self) -> None:
        """Raise DatabaseBehind unless the schema is at the newest revision."""
        current = self.current_revision()
        head = self.head_revision()
        if current == head:
            return
        script = ScriptDirectory.from_config(self._alembic_config())
        if current is not None and script.get_revision(current) is None:
            raise DatabaseBehind(
                f"database {self.safe_url} is at revision {current}, which this version of"
                " sarvbot does not know; run a newer sarvbot or `sarvbot db upgrade`"
            )
        raise DatabaseBehind(
            f"database {self.safe_url} is at revision {current or '(none)'}, expected {head};"
            " run `sarvbot db upgrade`"
        )

    def dispose(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def _alembic_config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(migrations_dir()))
        return config

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except _UNAVAILABLE_ERRORS as exc:
            raise DatabaseUnavailable(self._describe(exc)) from exc

    def _describe(self, exc: Exception) -> str:
        cause = getattr(exc, "orig", None) or exc
        lines = str(cause).strip().splitlines()
        reason = lines[0] if lines else type(cause).__name__
        for secret in self._secrets:
            reason = reason.replace(secret, _MASK)
        return f"database unavailable ({self.safe_url}): {reason}"


def _postgresql_engine(url: URL) -> Engine:
    try:
        return create_engine(
            url,
            pool_pre_ping=True,
            # Fail fast when the server is unreachable instead of hanging a handler.
            connect_args={"connect_timeout": 10},
        )
    except ImportError as exc:
        # The driver is an extra; without it SQLAlchemy's ModuleNotFoundError says nothing
        # about how to get it.
        raise DatabaseUrlError(
            f"PostgreSQL needs the psycopg driver ({exc}): pip install 'sarvbot[postgres]'"
        ) from None


def _sqlite_engine(url: URL) -> Engine:
    in_memory = url.database in (None, "", ":memory:")
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False},
        # An in-memory database lives in its connection, so every session must share it.
        poolclass=StaticPool if in_memory else None,
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: sqlite3.Connection, record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the sqlite3 module (it delays BEGIN until
        # the first write); SQLAlchemy's "begin" hook below emits BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
                # In WAL mode NORMAL is safe against a crash of the app (only a power cut
                # can lose the last commits) and spares an fsync per commit, which writes
                # made before an ack cannot afford.
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so SELECT-then-UPDATE in one
        # transaction is atomic and waits (busy_timeout) rather than failing mid-way.
        options = connection.get_execution_options()
        if options.get(_READONLY_OPTION):
            connection.exec_driver_sql("BEGIN")
            return
        quick = options.get(_QUICK_OPTION)
        wait = QUICK_BUSY_TIMEOUT_MS if quick else BUSY_TIMEOUT_MS
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {wait}")
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def update_where(session: Session, model: type[Any], *conditions: Any, **values: Any) -> int:
    """One conditional UPDATE of ``model``'s rows; how many it changed.

    The exactly-once gate of every store: the WHERE clause states the allowed starting
    point, so of any number of concurrent callers only those that find it there change a row.
    """
    outcome = cast(
        CursorResult[Any],
        session.execute(
            update(model)
            .where(*conditions)
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    )
    return int(outcome.rowcount)
