"""Requests already seen: the gate that lets each signed request, and each Slack event, in once.

Every app process shares the database, so a replay sent to another process is caught too.
The gate is one ``INSERT ... ON CONFLICT DO NOTHING`` on a primary key: of any number of
concurrent inserts of the same key, on SQLite or PostgreSQL, exactly one inserts a row.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from sarvbot.store.database import Database
from sarvbot.store.models import SeenRequestRow, as_utc

__all__ = ["SeenRequests"]


class SeenRequests:
    """Remember what was let in until a replay of it would be refused anyway.

    Keys are identities such as ``"request:<timestamp>:<signature>"``; only their SHA-256
    digests are stored. Rows past their expiry are deleted at most once every
    ``prune_every`` seconds per process, by the call that happens to come next.
    """

    def __init__(self, db: Database, *, prune_every: float = 60.0) -> None:
        self._db = db
        self._prune_every = prune_every
        self._lock = threading.Lock()
        self._next_prune = 0.0
        # Built once: it runs for every request, and building costs more than running.
        self._statement = (
            self._insert()
            .on_conflict_do_nothing(index_elements=["key"])
            # The rows inserted, counted from RETURNING: a multi-row insert reports no
            # row count on PostgreSQL.
            .returning(SeenRequestRow.key)
        )

    def first_sight(self, keys: Mapping[str, datetime], *, now: datetime | None = None) -> bool:
        """Record each key with its expiry; True only if none of them was seen before.

        A key seen before stays recorded, so a request that is new under one key and a
        repeat under another (a Slack retry of an event, say) is a repeat.
        """
        if not keys:
            raise ValueError("first_sight needs at least one key")
        now = as_utc(now) if now is not None else datetime.now(UTC)
        rows = [
            {"key": _digest(key), "expires_at": as_utc(expires_at)}
            for key, expires_at in keys.items()
        ]
        if self._prune_due():
            self.prune(now)
        # Checked by the work after the ack, so it may wait for a lock as long as any write.
        with self._db.transaction() as connection:
            inserted = connection.execute(self._statement, rows).scalars().all()
            return len(inserted) == len(rows)

    def seen(self, keys: Mapping[str, datetime], *, now: datetime | None = None) -> bool:
        """Whether any of ``keys`` was let in before and is still remembered. Records nothing.

        A read: on SQLite it starts without waiting for the write lock.
        """
        now = as_utc(now) if now is not None else datetime.now(UTC)
        digests = [_digest(key) for key in keys]
        if not digests:
            return False
        with self._db.session(readonly=True) as session:
            found = session.scalar(
                select(func.count())
                .select_from(SeenRequestRow)
                .where(SeenRequestRow.key.in_(digests), SeenRequestRow.expires_at >= now)
            )
            return bool(found)

    def forget(self, keys: Iterable[str]) -> int:
        """Forget ``keys`` now (a claim whose work could not be done); how many went."""
        digests = [_digest(key) for key in keys]
        with self._db.session() as session:
            result = cast(
                CursorResult[object],
                session.execute(
                    delete(SeenRequestRow)
                    .where(SeenRequestRow.key.in_(digests))
                    .execution_options(synchronize_session=False)
                ),
            )
            return result.rowcount

    def prune(self, now: datetime) -> int:
        """Forget every key whose expiry has passed; returns how many were forgotten."""
        with self._db.session() as session:
            result = cast(
                CursorResult[object],
                session.execute(
                    delete(SeenRequestRow)
                    .where(SeenRequestRow.expires_at < as_utc(now))
                    .execution_options(synchronize_session=False)
                ),
            )
            return result.rowcount

    def _prune_due(self) -> bool:
        with self._lock:
            clock = time.monotonic()
            if clock < self._next_prune:
                return False
            self._next_prune = clock + self._prune_every
            return True

    def _insert(self) -> postgresql.Insert | sqlite.Insert:
        if self._db.dialect_name == "postgresql":
            return postgresql.insert(SeenRequestRow)
        return sqlite.insert(SeenRequestRow)


def _digest(key: str) -> str:
    # Fixed length whatever the key, and no signature kept verbatim.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
