"""The audit log: who did what to which SMTP user, and what came of it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import func, select

from sarvbot.core.model import AuditEntry
from sarvbot.logs import safe_field
from sarvbot.store.database import Database
from sarvbot.store.models import AuditEventRow, as_utc


def _entry(row: AuditEventRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor_id=row.actor_id,
        channel_id=row.channel_id,
        action=row.action,
        outcome=row.outcome,
        target=row.target,
        error=row.error,
        rule=row.rule,
        request_id=row.request_id,
        detail=row.detail,
    )


# Every audit row is also a structured log event, for a log shipper to feed a SIEM.
_audit_log = logging.getLogger("sarvbot.audit")


def _log_entry(entry: AuditEntry) -> None:
    fields = {
        "audit_id": entry.id,
        "actor": safe_field(entry.actor_id),
        "channel": safe_field(entry.channel_id),
        "action": safe_field(entry.action),
        "outcome": safe_field(entry.outcome),
        "target": safe_field(entry.target),
        "rule": safe_field(entry.rule),
        "request": entry.request_id,
    }
    # What people typed (a reason) and error texts go only into the structured fields:
    # the JSON format escapes them, the text line carries no free text at all.
    extra = {**fields, "error": entry.error, "detail": entry.detail}
    _audit_log.info(" ".join(f"{key}={value}" for key, value in fields.items()), extra=extra)


class AuditLog:
    """Append-only access to the audit log; there is deliberately no update or delete."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(
        self,
        *,
        actor_id: str,
        channel_id: str,
        action: str,
        outcome: str,
        target: str | None = None,
        error: str | None = None,
        rule: str | None = None,
        request_id: int | None = None,
        detail: str | None = None,
        at: datetime | None = None,
    ) -> AuditEntry:
        """Record one event (at ``at``, default now) and return it as stored."""
        row = AuditEventRow(
            at=as_utc(at) if at is not None else datetime.now(UTC),
            actor_id=actor_id,
            channel_id=channel_id,
            action=str(action),
            outcome=str(outcome),
            target=target,
            error=error,
            rule=rule,
            request_id=request_id,
            detail=detail,
        )
        with self._db.session() as session:
            session.add(row)
            session.flush()
            entry = _entry(row)
        _log_entry(entry)
        return entry

    def stream(self, *, since: datetime | None = None, batch: int = 1000) -> Iterator[AuditEntry]:
        """Every event (from ``since`` on), oldest first, read ``batch`` rows at a time.

        Memory stays constant however long the log: each batch starts after the last id
        read, in its own short transaction, so a long export never holds a lock.
        """
        after = 0
        while True:
            query = select(AuditEventRow).where(AuditEventRow.id > after)
            if since is not None:
                query = query.where(AuditEventRow.at >= as_utc(since))
            query = query.order_by(AuditEventRow.id).limit(batch)
            with self._db.session(readonly=True) as session:
                entries = [_entry(row) for row in session.scalars(query)]
            yield from entries
            if len(entries) < batch:
                return
            after = entries[-1].id

    def count(self, *, actor_id: str, action: str, outcome: str, since: datetime) -> int:
        """How many rows one actor has of ``action`` with ``outcome`` from ``since`` on."""
        query = select(func.count()).where(
            AuditEventRow.actor_id == actor_id,
            AuditEventRow.action == action,
            AuditEventRow.outcome == outcome,
            AuditEventRow.at >= as_utc(since),
        )
        with self._db.session(readonly=True) as session:
            return int(session.scalar(query) or 0)

    def password_times(self, actions: tuple[str, ...]) -> dict[str, datetime]:
        """When each SMTP user last got a password through sarvbot (the newest "done" row of
        one of ``actions``), by user name.
        """
        query = (
            select(AuditEventRow.target, func.max(AuditEventRow.at))
            .where(
                AuditEventRow.outcome == "done",
                AuditEventRow.action.in_(actions),
                AuditEventRow.target.is_not(None),
            )
            .group_by(AuditEventRow.target)
        )
        with self._db.session(readonly=True) as session:
            return {str(target): as_utc(at) for target, at in session.execute(query) if at}

    def latest(self, *, target: str | None = None, limit: int = 20) -> list[AuditEntry]:
        """The newest ``limit`` events, newest first, optionally for one SMTP user."""
        query = select(AuditEventRow)
        if target is not None:
            query = query.where(AuditEventRow.target == target)
        query = query.order_by(AuditEventRow.at.desc(), AuditEventRow.id.desc()).limit(limit)
        with self._db.session(readonly=True) as session:
            return [_entry(row) for row in session.scalars(query)]
