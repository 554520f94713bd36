"""The audit log: appended, read back newest first, and never changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import exc, text

from sarvbot.store import ApprovalStore, AuditLog, Database

from .conftest import T0, request_reset


@pytest.fixture
def audit(database: Database) -> AuditLog:
    return AuditLog(database)


def test_entry_comes_back_with_every_field(database: Database, audit: AuditLog) -> None:
    request = request_reset(ApprovalStore(database), target="smtp7")
    appended = audit.append(
        actor_id="U0OPS",
        channel_id="C0123OPS",
        action="approve",
        outcome="approved",
        target="smtp7",
        error=None,
        rule="channels.C0123OPS.allow",
        request_id=request.id,
        detail="1 of 1 approvals",
        at=T0,
    )

    [stored] = audit.latest()

    assert stored == appended
    assert stored.at == T0
    assert stored.at.tzinfo is not None
    assert (stored.rule, stored.request_id) == ("channels.C0123OPS.allow", request.id)


def test_latest_is_newest_first(audit: AuditLog) -> None:
    for minute, action in enumerate(["list", "show", "reveal"]):
        audit.append(
            actor_id="U1",
            channel_id="C1",
            action=action,
            outcome="done",
            at=T0 + timedelta(minutes=minute),
        )

    assert [e.action for e in audit.latest()] == ["reveal", "show", "list"]


def test_latest_filters_by_smtp_user_and_limits(audit: AuditLog) -> None:
    for minute in range(5):
        audit.append(
            actor_id="U1",
            channel_id="C1",
            action="show",
            outcome="done",
            target="smtp1" if minute % 2 == 0 else "smtp2",
            at=T0 + timedelta(minutes=minute),
        )

    latest_smtp1 = audit.latest(target="smtp1", limit=2)

    assert [e.target for e in latest_smtp1] == ["smtp1", "smtp1"]
    assert [e.at for e in latest_smtp1] == [T0 + timedelta(minutes=4), T0 + timedelta(minutes=2)]


def test_times_in_other_zones_are_stored_as_utc(audit: AuditLog) -> None:
    tehran = timezone(timedelta(hours=3, minutes=30))
    audit.append(
        actor_id="U1",
        channel_id="C1",
        action="list",
        outcome="done",
        at=datetime(2025, 3, 1, 12, 30, tzinfo=tehran),
    )

    assert audit.latest()[0].at == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def test_naive_time_is_refused(audit: AuditLog) -> None:
    with pytest.raises(ValueError, match="naive"):
        audit.append(
            actor_id="U1",
            channel_id="C1",
            action="list",
            outcome="done",
            at=datetime(2025, 3, 1, 9, 0),
        )


def test_entry_for_unknown_request_is_refused(audit: AuditLog) -> None:
    with pytest.raises(exc.IntegrityError):
        audit.append(
            actor_id="U1", channel_id="C1", action="approve", outcome="done", request_id=99
        )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET outcome = 'done' WHERE id = :id",
        "DELETE FROM audit_events WHERE id = :id",
    ],
)
def test_database_refuses_to_change_the_audit_log(
    database: Database, audit: AuditLog, statement: str
) -> None:
    entry = audit.append(actor_id="U1", channel_id="C1", action="add", outcome="refused")

    with pytest.raises(exc.DBAPIError, match="append-only"), database.session() as session:
        session.execute(text(statement), {"id": entry.id})

    assert audit.latest() == [entry]
