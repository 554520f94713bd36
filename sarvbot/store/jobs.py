"""Due jobs: timed work that any process may claim, each claimed by one process at a time.

A job is ``due`` until a process claims it (``running``, under that process's lease), and
then ``done``, ``due`` again later (a retry, or the next round of a periodic job) or
``failed``. A claimer that dies leaves its job ``running`` with a lease that lapses, and
the next claimer takes it over. Every move is a conditional UPDATE on the claimer's lease.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sarvbot.store.database import Database, update_where
from sarvbot.store.models import DueJobRow, as_utc

__all__ = [
    "COMPLETE_STEP",
    "ESCALATE_REQUEST",
    "REMIND_REQUEST",
    "REQUEST_ENDED",
    "DueJob",
    "JobStore",
    "add_job",
    "step_job_key",
]

# The notice of a request that ended without anyone's click (expired, outcome unknown):
# scheduled by the store in the same transaction as the state change, so it cannot be lost.
REQUEST_ENDED = "request_ended"
# A request still pending after the policy's remind_after, then escalate_after: scheduled
# in the transaction that creates the request, so each comes once whatever happens after.
REMIND_REQUEST = "remind_request"
ESCALATE_REQUEST = "escalate_request"
# The completion of the Workflow Builder step a request answers: scheduled the same way,
# once per function execution, when the request ends.
COMPLETE_STEP = "complete_step"


def step_job_key(function_execution_id: str) -> str:
    """The one key of a step's completion job, whichever way the step ends."""
    return f"{COMPLETE_STEP}:{function_execution_id}"


# Secrets are never stored; a payload is refused if one slips in.
_SECRET_KEY_PARTS = ("password", "secret", "token")
_ERROR_LENGTH = 200


@dataclass(frozen=True, slots=True)
class DueJob:
    """A job as claimed: what it is about, and how many times it has been claimed."""

    id: int
    kind: str
    key: str
    due_at: datetime
    payload: dict[str, Any]
    state: str
    owner: str | None
    attempts: int
    last_error: str | None


def add_job(
    target: Session | Connection,
    *,
    kind: str,
    key: str,
    due_at: datetime,
    payload: Mapping[str, Any] | None,
    now: datetime,
) -> bool:
    """Schedule a job inside the caller's transaction; False if ``key`` is already scheduled.

    This is what lets a state change and the work it calls for commit together.
    """
    values = dict(payload or {})
    _refuse_secrets(values)
    dialect = target.get_bind().dialect.name if isinstance(target, Session) else target.dialect.name
    insert = postgresql.insert(DueJobRow) if dialect == "postgresql" else sqlite.insert(DueJobRow)
    statement = insert.values(
        kind=kind,
        key=key,
        due_at=as_utc(due_at),
        payload=values,
        state="due",
        attempts=0,
        created_at=as_utc(now),
        updated_at=as_utc(now),
    ).on_conflict_do_nothing(index_elements=["key"])
    # RETURNING says whether a row went in: ORM sessions do not report a rowcount here.
    return target.execute(statement.returning(DueJobRow.id)).first() is not None


class JobStore:
    """Schedule due jobs and move them through their states, one claimer at a time."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def schedule(
        self,
        kind: str,
        key: str,
        due_at: datetime,
        payload: Mapping[str, Any] | None = None,
        *,
        now: datetime,
    ) -> bool:
        """Schedule a job; scheduling the same ``key`` again is a no-op (returns False)."""
        with self._db.session() as session:
            return add_job(session, kind=kind, key=key, due_at=due_at, payload=payload, now=now)

    def claim_due(
        self,
        *,
        owner: str,
        now: datetime,
        lease_until: datetime,
        limit: int = 20,
        kinds: Collection[str] | None = None,
    ) -> list[DueJob]:
        """Claim jobs that are due, or whose claimer's lease lapsed; each goes to one claimer.

        Claimed jobs are ``running`` under ``owner`` until ``lease_until``, with one more
        attempt counted. ``kinds`` limits the claim to those kinds.
        """
        now = as_utc(now)
        claimable = or_(
            and_(DueJobRow.state == "due", DueJobRow.due_at <= now),
            and_(DueJobRow.state == "running", DueJobRow.lease_until < now),
        )
        if kinds is not None:
            claimable = and_(claimable, DueJobRow.kind.in_(list(kinds)))
        with self._db.session() as session:
            # SKIP LOCKED: concurrent claimers on PostgreSQL take different jobs instead of
            # queueing on the same rows; SQLite has one writer at a time (BEGIN IMMEDIATE).
            ids = list(
                session.scalars(
                    select(DueJobRow.id)
                    .where(claimable)
                    .order_by(DueJobRow.due_at, DueJobRow.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            if not ids:
                return []
            # The conditional UPDATE repeats the test, so a row that changed hands
            # meanwhile is not claimed twice; RETURNING says which ones this call got.
            claimed = session.scalars(
                update(DueJobRow)
                .where(DueJobRow.id.in_(ids), claimable)
                .values(
                    state="running",
                    owner=owner,
                    lease_until=as_utc(lease_until),
                    attempts=DueJobRow.attempts + 1,
                    updated_at=now,
                )
                .returning(DueJobRow)
                .execution_options(synchronize_session=False, populate_existing=True)
            ).all()
            return sorted((_to_job(row) for row in claimed), key=lambda job: (job.due_at, job.id))

    def hold(self, job_id: int, *, owner: str, now: datetime, lease_until: datetime) -> bool:
        """Renew ``owner``'s lease on a claimed job; False if another claimer took it over."""
        return self._move(job_id, owner, lease_until=as_utc(lease_until), updated_at=as_utc(now))

    def done(self, job_id: int, *, owner: str, now: datetime) -> bool:
        """The job's work is finished; False if ``owner`` no longer held it."""
        return self._move(job_id, owner, state="done", updated_at=as_utc(now), last_error=None)

    def again(
        self,
        job_id: int,
        *,
        owner: str,
        due_at: datetime,
        now: datetime,
        error: str | None = None,
        reset_attempts: bool = False,
    ) -> bool:
        """Make the job due again at ``due_at`` (a retry, or a periodic job's next round)."""
        values: dict[str, Any] = {
            "state": "due",
            "due_at": as_utc(due_at),
            "updated_at": as_utc(now),
            "last_error": _short(error),
            "owner": None,
            "lease_until": None,
        }
        if reset_attempts:
            values["attempts"] = 0
        return self._move(job_id, owner, **values)

    def fail(self, job_id: int, *, owner: str, now: datetime, error: str | None) -> bool:
        """Give up on the job after its last attempt."""
        return self._move(
            job_id, owner, state="failed", updated_at=as_utc(now), last_error=_short(error)
        )

    def forget_ended(self, before: datetime) -> int:
        """Delete the jobs that ended (done or failed) before ``before``; how many."""
        with self._db.session() as session:
            result = cast(
                CursorResult[object],
                session.execute(
                    delete(DueJobRow)
                    .where(
                        DueJobRow.state.in_(("done", "failed")),
                        DueJobRow.updated_at < as_utc(before),
                    )
                    .execution_options(synchronize_session=False)
                ),
            )
            return result.rowcount

    def due_now(self, key: str, *, now: datetime) -> bool:
        """Bring a job waiting for a later time forward to ``now`` (for ``sarvbot expire``)."""
        with self._db.session() as session:
            moved = update_where(
                session,
                DueJobRow,
                DueJobRow.key == key,
                DueJobRow.state == "due",
                due_at=as_utc(now),
            )
            return moved == 1

    def replace_due(
        self, key: str, due_at: datetime, payload: Mapping[str, Any] | None, *, now: datetime
    ) -> bool:
        """Give a job still waiting (not one a process has claimed) a new time and payload;
        False if there was none.
        """
        values = dict(payload or {})
        _refuse_secrets(values)
        with self._db.session() as session:
            moved = update_where(
                session,
                DueJobRow,
                DueJobRow.key == key,
                DueJobRow.state == "due",
                due_at=as_utc(due_at),
                payload=values,
                updated_at=as_utc(now),
            )
            return moved == 1

    def cancel(self, key: str, *, now: datetime) -> bool:
        """Drop a job still waiting (not one a process has claimed); False if there was none."""
        with self._db.session() as session:
            moved = update_where(
                session,
                DueJobRow,
                DueJobRow.key == key,
                DueJobRow.state == "due",
                state="done",
                last_error="cancelled",
                updated_at=as_utc(now),
            )
            return moved == 1

    def waiting(self, kind: str) -> list[DueJob]:
        """The jobs of ``kind`` still waiting to be done, soonest first."""
        with self._db.session(readonly=True) as session:
            rows = session.scalars(
                select(DueJobRow)
                .where(DueJobRow.kind == kind, DueJobRow.state.in_(("due", "running")))
                .order_by(DueJobRow.due_at)
            )
            return [_to_job(row) for row in rows]

    def get(self, key: str) -> DueJob | None:
        """The job scheduled under ``key``, or None."""
        with self._db.session(readonly=True) as session:
            row = session.scalar(select(DueJobRow).where(DueJobRow.key == key))
            return _to_job(row) if row is not None else None

    def of_kind(self, kind: str) -> list[DueJob]:
        """Every job of ``kind``, oldest first."""
        with self._db.session(readonly=True) as session:
            rows = session.scalars(
                select(DueJobRow).where(DueJobRow.kind == kind).order_by(DueJobRow.id)
            )
            return [_to_job(row) for row in rows]

    def _move(self, job_id: int, holder: str, **values: Any) -> bool:
        with self._db.session() as session:
            moved = update_where(
                session,
                DueJobRow,
                DueJobRow.id == job_id,
                DueJobRow.state == "running",
                DueJobRow.owner == holder,
                **values,
            )
            return moved == 1


def _to_job(row: DueJobRow) -> DueJob:
    return DueJob(
        id=row.id,
        kind=row.kind,
        key=row.key,
        due_at=row.due_at,
        # Not an object (written by hand, or by a faulty release): its handler fails on it
        # and the job alone gives up, instead of every claim failing on this one row.
        payload=dict(row.payload) if isinstance(row.payload, dict) else {},
        state=row.state,
        owner=row.owner,
        attempts=row.attempts,
        last_error=row.last_error,
    )


def _short(error: str | None) -> str | None:
    return error[:_ERROR_LENGTH] if error is not None else None


def _refuse_secrets(data: Mapping[str, Any]) -> None:
    for key, value in data.items():
        if any(part in str(key).lower() for part in _SECRET_KEY_PARTS):
            raise ValueError(f"a job's payload must not hold secrets (key {key!r})")
        if isinstance(value, Mapping):
            _refuse_secrets(value)
