"""ORM rows for the store. Repositories hand out frozen dataclasses, never these rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sarvbot.core.model import RequestState

# Deterministic constraint names, so migrations can refer to them on every engine.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SLACK_ID = String(64)
SHORT_WORD = String(32)
NAME = String(255)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC and always read back as aware UTC.

    SQLite keeps no offset, so values are normalised to UTC on the way in (which also
    keeps its text comparisons correct) and tagged as UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` converted to UTC; naive datetimes are refused rather than guessed at."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
    return value.astimezone(UTC)


class JobPayloadJSON(TypeDecorator[Any]):
    """JSON that reads back as ``{}`` when the stored text is not JSON.

    A row garbled outside sarvbot then fails as its own job (its payload lacks what the
    handler needs) instead of failing every claim of the batch it is in.
    """

    impl = JSON
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        inner = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)

        def process(value: Any) -> Any:
            try:
                return inner(value) if inner is not None else value
            except ValueError:
                return {}

        return process


class Base(DeclarativeBase):
    """Declarative base carrying the shared MetaData."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ApprovalRequestRow(Base):
    """A change that needs ops approval before it is made in Sarv."""

    __tablename__ = "approval_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requester_id: Mapped[str] = mapped_column(SLACK_ID)
    requester_channel_id: Mapped[str] = mapped_column(SLACK_ID)
    action: Mapped[str] = mapped_column(SHORT_WORD)
    target: Mapped[str | None] = mapped_column(NAME)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(SHORT_WORD)
    decided_by: Mapped[str | None] = mapped_column(SLACK_ID)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deny_reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    message_channel: Mapped[str | None] = mapped_column(SLACK_ID)
    message_ts: Mapped[str | None] = mapped_column(SHORT_WORD)
    # The Workflow Builder step waiting on this request (never its workflow token).
    function_execution_id: Mapped[str | None] = mapped_column(SLACK_ID)

    __table_args__ = (
        CheckConstraint(
            "state IN (" + ", ".join(f"'{s.value}'" for s in RequestState) + ")",
            name="state",
        ),
        Index("ix_approval_requests_state_expires_at", "state", "expires_at"),
        # One request per workflow step execution, found from the execution.
        Index("ix_approval_requests_function_execution_id", "function_execution_id", unique=True),
    )


class ApprovalVoteRow(Base):
    """One approver's approval of one request; an approver counts once."""

    __tablename__ = "approval_votes"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("approval_requests.id"))
    approver_id: Mapped[str] = mapped_column(SLACK_ID)
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("request_id", "approver_id"),)


class AuditEventRow(Base):
    """One line of the append-only audit log (database triggers refuse edits)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[str] = mapped_column(SLACK_ID)
    channel_id: Mapped[str] = mapped_column(SLACK_ID)
    action: Mapped[str] = mapped_column(SHORT_WORD)
    target: Mapped[str | None] = mapped_column(NAME)
    outcome: Mapped[str] = mapped_column(SHORT_WORD)
    error: Mapped[str | None] = mapped_column(Text)
    rule: Mapped[str | None] = mapped_column(NAME)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("approval_requests.id"))
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_audit_events_at", "at"),
        Index("ix_audit_events_target_at", "target", "at"),
    )


class ChangeReceiptRow(Base):
    """An acknowledged change, kept until its person has heard how it ended.

    ``owner`` is the app process that acknowledged it; while that process lives it keeps
    ``lease_until`` in the future. A receipt whose lease lapsed belongs to a process that
    died, and any other process may claim it to tell its person.
    """

    __tablename__ = "change_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    user_id: Mapped[str] = mapped_column(SLACK_ID)
    channel_id: Mapped[str] = mapped_column(SLACK_ID)
    action: Mapped[str] = mapped_column(SHORT_WORD)
    target: Mapped[str | None] = mapped_column(NAME)
    state: Mapped[str] = mapped_column(SHORT_WORD)
    outcome: Mapped[str | None] = mapped_column(SHORT_WORD)
    error: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(SLACK_ID)
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint(
            "state IN ('queued', 'running', 'reporting', 'ended', 'reported')", name="state"
        ),
        Index("ix_change_receipts_state_lease_until", "state", "lease_until"),
    )


class SeenRequestRow(Base):
    """A signed request (or Slack event) already let in, kept until a replay would be refused.

    ``key`` is a digest of what identifies the request, so its primary key is the
    exactly-once gate: of any number of processes inserting the same key, one succeeds.
    """

    __tablename__ = "seen_requests"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_seen_requests_expires_at", "expires_at"),)


class DueJobRow(Base):
    """A piece of timed work: due at ``due_at``, done by whichever process claims it.

    ``key`` names the thing the job is about, so scheduling it twice is one job. A claimer
    holds the job under ``owner`` until ``lease_until``; one that dies lets the lease lapse
    and another process claims the job again. ``payload`` never carries a secret.
    """

    __tablename__ = "due_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(SHORT_WORD)
    key: Mapped[str] = mapped_column(NAME, unique=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payload: Mapped[dict[str, Any]] = mapped_column(JobPayloadJSON)
    state: Mapped[str] = mapped_column(SHORT_WORD)
    owner: Mapped[str | None] = mapped_column(SLACK_ID)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("state IN ('due', 'running', 'done', 'failed')", name="state"),
        Index("ix_due_jobs_state_due_at", "state", "due_at"),
    )


class CatalogueEntryRow(Base):
    """What sarvbot knows of one SMTP user that Sarv does not keep: label, owner, note.

    ``name`` is Sarv's name for the user. Labels are unique regardless of case (the
    database enforces it on ``label_key``, the lower-cased label).
    """

    __tablename__ = "catalogue"

    name: Mapped[str] = mapped_column(NAME, primary_key=True)
    label: Mapped[str | None] = mapped_column(String(64))
    label_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    owner_id: Mapped[str | None] = mapped_column(SLACK_ID)
    note: Mapped[str | None] = mapped_column(Text)
    retiring: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set while a rotation adds its replacement: the gate that lets one rotation in.
    rotating_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set by a freeze, cleared when the user is enabled again.
    frozen_by: Mapped[str | None] = mapped_column(SLACK_ID)
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    frozen_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
