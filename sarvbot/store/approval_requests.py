"""Approval requests and their votes.

Every state change is one conditional UPDATE whose WHERE clause states the allowed
starting point, so two approvers pressing the button at once cannot both run a change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from sarvbot.core.model import TERMINAL_STATES, ApprovalRequest, RequestState
from sarvbot.store.database import Database, update_where
from sarvbot.store.jobs import COMPLETE_STEP, REQUEST_ENDED, add_job, step_job_key
from sarvbot.store.models import ApprovalRequestRow, ApprovalVoteRow, as_utc

_FINISHED_STATES = frozenset({RequestState.DONE, RequestState.FAILED, RequestState.UNKNOWN})
# The states that end what a waiting workflow step can learn of a request (a failed one
# could be retried, but the workflow is not kept waiting on that).
_STEP_ENDING_STATES = frozenset({RequestState.FAILED, *TERMINAL_STATES})
# Secrets are delivered once by DM and never stored; refuse them if they slip through.
_SECRET_KEY_PARTS = ("password", "secret")


class ApprovalStore:
    """Create approval requests and move them through their states exactly once."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        *,
        requester_id: str,
        requester_channel_id: str,
        action: str,
        target: str | None,
        params: Mapping[str, Any],
        reason: str,
        expires_at: datetime,
        now: datetime | None = None,
        follow_ups: Mapping[str, datetime] | None = None,
        function_execution_id: str | None = None,
    ) -> ApprovalRequest:
        """Record a new pending request; its id is the "#N" people see.

        ``follow_ups`` maps job kinds to when they are due (reminders): each becomes a due
        job about this request, committed with it. ``function_execution_id`` names the
        workflow step that waits for its end.
        """
        _refuse_secrets(params, "params")
        created = as_utc(now) if now is not None else datetime.now(UTC)
        row = ApprovalRequestRow(
            created_at=created,
            updated_at=created,
            expires_at=as_utc(expires_at),
            requester_id=requester_id,
            requester_channel_id=requester_channel_id,
            action=str(action),
            target=target,
            params=dict(params),
            reason=reason,
            state=RequestState.PENDING.value,
            function_execution_id=function_execution_id,
        )
        with self._db.session() as session:
            session.add(row)
            session.flush()
            for kind, due_at in (follow_ups or {}).items():
                add_job(
                    session,
                    kind=kind,
                    key=f"{kind}:{row.id}",
                    due_at=as_utc(due_at),
                    payload={"request_id": row.id},
                    now=created,
                )
            return _load(session, [row.id])[0]

    def get(self, request_id: int) -> ApprovalRequest | None:
        """The request with this id, or None."""
        with self._db.session(readonly=True) as session:
            found = _load(session, [request_id])
            return found[0] if found else None

    def of_execution(self, function_execution_id: str) -> ApprovalRequest | None:
        """The request a workflow step's execution raised, or None."""
        with self._db.session(readonly=True) as session:
            found = session.scalar(
                select(ApprovalRequestRow.id).where(
                    ApprovalRequestRow.function_execution_id == function_execution_id
                )
            )
            return _load(session, [found])[0] if found is not None else None

    def set_message(self, request_id: int, channel: str, ts: str) -> None:
        """Remember where the approval message was posted, to update it later."""
        with self._db.session() as session:
            session.execute(
                update(ApprovalRequestRow)
                .where(ApprovalRequestRow.id == request_id)
                .values(message_channel=channel, message_ts=ts)
                .execution_options(synchronize_session=False)
            )

    def pending(self, limit: int = 50) -> list[ApprovalRequest]:
        """Pending requests, oldest first (overdue ones too, until ``expire_due`` runs)."""
        query = (
            select(ApprovalRequestRow.id)
            .where(ApprovalRequestRow.state == RequestState.PENDING.value)
            .order_by(ApprovalRequestRow.created_at, ApprovalRequestRow.id)
            .limit(limit)
        )
        with self._db.session(readonly=True) as session:
            return _load(session, session.scalars(query).all())

    def ping(self) -> None:
        """One trivial read: DatabaseUnavailable if the database does not answer."""
        with self._db.session(readonly=True) as session:
            session.execute(select(func.count()).select_from(ApprovalRequestRow).limit(1))

    def count_by_state(self) -> dict[str, int]:
        """How many requests are in each state (for metrics)."""
        query = select(ApprovalRequestRow.state, func.count()).group_by(ApprovalRequestRow.state)
        with self._db.session(readonly=True) as session:
            return {str(state): int(count) for state, count in session.execute(query)}

    def of_requester(self, requester_id: str, limit: int = 20) -> list[ApprovalRequest]:
        """One person's requests, newest first."""
        query = (
            select(ApprovalRequestRow.id)
            .where(ApprovalRequestRow.requester_id == requester_id)
            .order_by(ApprovalRequestRow.created_at.desc(), ApprovalRequestRow.id.desc())
            .limit(limit)
        )
        with self._db.session(readonly=True) as session:
            return _load(session, session.scalars(query).all())

    def add_vote(self, request_id: int, approver_id: str, now: datetime) -> int:
        """Record ``approver_id``'s approval if the request is pending.

        Voting twice counts once. Returns the number of distinct approvals recorded
        (whether or not this vote was taken, so a non-pending request just reports its
        count; the following ``claim`` is what decides).
        """
        with self._db.session() as session:
            # Lock the request row (PostgreSQL; SQLite already holds the write lock) so
            # it cannot leave "pending" between this check and the insert.
            state = session.scalar(
                select(ApprovalRequestRow.state)
                .where(ApprovalRequestRow.id == request_id)
                .with_for_update()
            )
            if state == RequestState.PENDING.value:
                vote = {"request_id": request_id, "approver_id": approver_id, "at": as_utc(now)}
                session.execute(
                    self._insert_vote()
                    .values(vote)
                    .on_conflict_do_nothing(index_elements=["request_id", "approver_id"])
                )
            count = session.scalar(
                select(func.count())
                .select_from(ApprovalVoteRow)
                .where(ApprovalVoteRow.request_id == request_id)
            )
            return count or 0

    def withdraw_votes(self, request_id: int, approver_ids: Iterable[str]) -> int:
        """Drop the votes of these approvers from a pending request; returns how many."""
        ids = list(approver_ids)
        if not ids:
            return 0
        with self._db.session() as session:
            state = session.scalar(
                select(ApprovalRequestRow.state)
                .where(ApprovalRequestRow.id == request_id)
                .with_for_update()
            )
            if state != RequestState.PENDING.value:
                return 0
            outcome = cast(
                CursorResult[Any],
                session.execute(
                    delete(ApprovalVoteRow).where(
                        ApprovalVoteRow.request_id == request_id,
                        ApprovalVoteRow.approver_id.in_(ids),
                    )
                ),
            )
            return outcome.rowcount

    def claim(
        self,
        request_id: int,
        *,
        decided_by: str,
        now: datetime,
        from_states: Iterable[RequestState] = (RequestState.PENDING,),
    ) -> ApprovalRequest | None:
        """Move the request to running if it is in ``from_states`` and still valid.

        This is the exactly-once gate: of any number of concurrent callers, at most one
        gets the request back; the others get None. A pending request must not have
        expired; a failed one may be retried whenever.
        """
        now = as_utc(now)
        return self._transition(
            request_id,
            [
                ApprovalRequestRow.state.in_([RequestState(s).value for s in from_states]),
                or_(
                    ApprovalRequestRow.expires_at > now,
                    ApprovalRequestRow.state == RequestState.FAILED.value,
                ),
            ],
            state=RequestState.RUNNING.value,
            decided_by=decided_by,
            decided_at=now,
            updated_at=now,
        )

    def finish(
        self,
        request_id: int,
        state: RequestState,
        *,
        error: str | None = None,
        result: Mapping[str, Any] | None = None,
        now: datetime | None = None,
        notice_at: datetime | None = None,
    ) -> ApprovalRequest | None:
        """Record how a running request ended (done, failed or unknown).

        With ``notice_at``, the ``request_ended`` notice is scheduled then, in the same
        transaction: the process that ran it tells its people at once, and the notice
        tells them if that process died first. Returns None if the request was not
        running. ``result`` must not carry secrets.
        """
        state = RequestState(state)
        if state not in _FINISHED_STATES:
            raise ValueError(f"a running request cannot finish as {state}")
        if result is not None:
            _refuse_secrets(result, "result")
        at = as_utc(now) if now is not None else datetime.now(UTC)
        return self._transition(
            request_id,
            [ApprovalRequestRow.state == RequestState.RUNNING.value],
            state=state.value,
            error=error,
            result=dict(result) if result is not None else None,
            updated_at=at,
            notice_at=notice_at,
        )

    def deny(
        self,
        request_id: int,
        *,
        by: str,
        reason: str,
        now: datetime,
        notice_at: datetime | None = None,
    ) -> ApprovalRequest | None:
        """Deny a pending request; None if it was no longer pending. ``notice_at`` as for
        :meth:`finish`.
        """
        now = as_utc(now)
        return self._transition(
            request_id,
            [ApprovalRequestRow.state == RequestState.PENDING.value],
            notice_at=notice_at,
            state=RequestState.DENIED.value,
            decided_by=by,
            decided_at=now,
            deny_reason=reason,
            updated_at=now,
        )

    def cancel(
        self, request_id: int, *, requester_id: str, now: datetime
    ) -> ApprovalRequest | None:
        """Withdraw a pending request; only the person who made it may."""
        now = as_utc(now)
        return self._transition(
            request_id,
            [
                ApprovalRequestRow.state == RequestState.PENDING.value,
                ApprovalRequestRow.requester_id == requester_id,
            ],
            state=RequestState.CANCELLED.value,
            decided_by=requester_id,
            decided_at=now,
            updated_at=now,
        )

    def expire_due(self, now: datetime) -> list[ApprovalRequest]:
        """Expire every pending request whose time is up; return those this call expired.

        Each expired request gets a due ``request_ended`` job, committed with the expiry,
        to update its message and tell its requester.
        """
        now = as_utc(now)
        due = [
            ApprovalRequestRow.state == RequestState.PENDING.value,
            ApprovalRequestRow.expires_at <= now,
        ]
        with self._db.session() as session:
            # FOR UPDATE makes a concurrent expirer (or claimer) wait and then skip these
            # rows, so each expiry is reported by exactly one caller.
            ids = session.scalars(select(ApprovalRequestRow.id).where(*due).with_for_update())
            ids_list = list(ids)
            if not ids_list:
                return []
            session.execute(
                update(ApprovalRequestRow)
                .where(ApprovalRequestRow.id.in_(ids_list), *due)
                .values(state=RequestState.EXPIRED.value, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            # The notices go in the same transaction as the expiry (an outbox): a process
            # that dies before sending them leaves due jobs that another process runs.
            for request_id in ids_list:
                _schedule_ended_notice(session, request_id, RequestState.EXPIRED, now)
                _schedule_step_completion(session, request_id, now)
            return _load(session, ids_list)

    def stale_running(self, older_than: datetime) -> list[ApprovalRequest]:
        """Requests claimed before ``older_than`` and still running.

        These belong to a process that died between calling Sarv and recording the
        result, so nobody knows whether the change was made.
        """
        query = (
            select(ApprovalRequestRow.id)
            .where(
                ApprovalRequestRow.state == RequestState.RUNNING.value,
                ApprovalRequestRow.decided_at < as_utc(older_than),
            )
            .order_by(ApprovalRequestRow.id)
        )
        with self._db.session(readonly=True) as session:
            return _load(session, session.scalars(query).all())

    def mark_unknown(
        self, request_id: int, *, error: str | None = None, now: datetime | None = None
    ) -> ApprovalRequest | None:
        """Give up on a stuck running request: its outcome is unknown.

        Like :meth:`expire_due`, schedules the ``request_ended`` notice in the same
        transaction. None if the request was no longer running.
        """
        at = as_utc(now) if now is not None else datetime.now(UTC)
        with self._db.session() as session:
            moved = update_where(
                session,
                ApprovalRequestRow,
                ApprovalRequestRow.id == request_id,
                ApprovalRequestRow.state == RequestState.RUNNING.value,
                state=RequestState.UNKNOWN.value,
                error=error,
                updated_at=at,
            )
            if moved != 1:
                return None
            _schedule_ended_notice(session, request_id, RequestState.UNKNOWN, at)
            _schedule_step_completion(session, request_id, at)
            return _load(session, [request_id])[0]

    def _transition(
        self,
        request_id: int,
        conditions: Sequence[ColumnElement[bool]],
        *,
        notice_at: datetime | None = None,
        **values: Any,
    ) -> ApprovalRequest | None:
        with self._db.session() as session:
            moved = update_where(
                session,
                ApprovalRequestRow,
                ApprovalRequestRow.id == request_id,
                *conditions,
                **values,
            )
            if moved != 1:
                return None
            if notice_at is not None:
                state = RequestState(values["state"])
                # A retried request may end the same way twice: each end has its notice.
                ended = values["updated_at"].isoformat()
                _schedule_ended_notice(session, request_id, state, as_utc(notice_at), ended)
            if values.get("state") in _STEP_ENDING_STATES:
                _schedule_step_completion(session, request_id, values["updated_at"])
            return _load(session, [request_id])[0]

    def _insert_vote(self) -> postgresql.Insert | sqlite.Insert:
        if self._db.dialect_name == "postgresql":
            return postgresql.insert(ApprovalVoteRow)
        return sqlite.insert(ApprovalVoteRow)


def _schedule_ended_notice(
    session: Session, request_id: int, state: RequestState, now: datetime, ended: str = ""
) -> None:
    add_job(
        session,
        kind=REQUEST_ENDED,
        key=f"{REQUEST_ENDED}:{request_id}:{state.value}" + (f":{ended}" if ended else ""),
        due_at=now,
        payload={"request_id": request_id, "state": state.value},
        now=now,
    )


def _schedule_step_completion(session: Session, request_id: int, now: datetime) -> None:
    """When a workflow step waits on the request, its completion is due now, in the same
    transaction as the end: once per execution, however the request ended.
    """
    execution = session.scalar(
        select(ApprovalRequestRow.function_execution_id).where(ApprovalRequestRow.id == request_id)
    )
    if not execution:
        return
    add_job(
        session,
        kind=COMPLETE_STEP,
        key=step_job_key(execution),
        due_at=now,
        payload={"function_execution_id": execution, "request_id": request_id},
        now=now,
    )


def _load(session: Session, ids: Sequence[int]) -> list[ApprovalRequest]:
    """The requests with these ids, in the given order, with their approvals."""
    if not ids:
        return []
    rows = {
        row.id: row
        for row in session.scalars(
            select(ApprovalRequestRow)
            .where(ApprovalRequestRow.id.in_(ids))
            .execution_options(populate_existing=True)
        )
    }
    votes: dict[int, list[str]] = {}
    for request_id, approver_id in session.execute(
        select(ApprovalVoteRow.request_id, ApprovalVoteRow.approver_id)
        .where(ApprovalVoteRow.request_id.in_(ids))
        .order_by(ApprovalVoteRow.at, ApprovalVoteRow.id)
    ):
        votes.setdefault(request_id, []).append(approver_id)
    return [_to_request(rows[i], votes.get(i, [])) for i in ids if i in rows]


def _to_request(row: ApprovalRequestRow, approvals: list[str]) -> ApprovalRequest:
    return ApprovalRequest(
        id=row.id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        updated_at=row.updated_at,
        requester_id=row.requester_id,
        requester_channel_id=row.requester_channel_id,
        action=row.action,
        target=row.target,
        params=dict(row.params),
        reason=row.reason,
        state=RequestState(row.state),
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        deny_reason=row.deny_reason,
        error=row.error,
        result=dict(row.result) if row.result is not None else None,
        message_channel=row.message_channel,
        message_ts=row.message_ts,
        approvals=tuple(approvals),
        function_execution_id=row.function_execution_id,
    )


def _refuse_secrets(data: Mapping[str, Any], what: str) -> None:
    for key, value in data.items():
        if any(part in str(key).lower() for part in _SECRET_KEY_PARTS):
            raise ValueError(f"{what} must not hold secrets (key {key!r})")
        if isinstance(value, Mapping):
            _refuse_secrets(value, what)
