"""Approval requests: votes, the exactly-once claim, and every other state change."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sarvbot.core import ApprovalRequest, RequestState
from sarvbot.store import ApprovalStore, Database
from tests.support import race

from .conftest import EXPIRY, T0, request_reset

LATER = T0 + timedelta(minutes=5)


@pytest.fixture
def store(database: Database) -> ApprovalStore:
    return ApprovalStore(database)


def test_dev_request_is_stored_pending_with_its_params(store: ApprovalStore) -> None:
    created = store.create(
        requester_id="U0DEV",
        requester_channel_id="C0DEV",
        action="add",
        target=None,
        params={"total_limit": 500, "hourly_limit": 200},
        reason="new service",
        expires_at=EXPIRY,
        now=T0,
    )

    assert store.get(created.id) == created
    assert created.state is RequestState.PENDING
    assert created.params == {"total_limit": 500, "hourly_limit": 200}
    assert (created.created_at, created.expires_at) == (T0, EXPIRY)
    assert created.approvals == ()
    assert created.decided_by is None


def test_unknown_request_is_none(store: ApprovalStore) -> None:
    assert store.get(404) is None


def test_approval_message_location_is_remembered(store: ApprovalStore) -> None:
    request = request_reset(store)

    store.set_message(request.id, "C0OPS", "1712345678.000100")

    stored = store.get(request.id)
    assert stored is not None
    assert (stored.message_channel, stored.message_ts) == ("C0OPS", "1712345678.000100")


def test_pending_lists_open_requests_oldest_first(store: ApprovalStore) -> None:
    second = request_reset(store, now=T0 + timedelta(minutes=1))
    first = request_reset(store, now=T0)
    denied = request_reset(store, now=T0)
    store.deny(denied.id, by="U0OPS", reason="no", now=LATER)

    assert [r.id for r in store.pending()] == [first.id, second.id]
    assert [r.id for r in store.pending(limit=1)] == [first.id]


def test_same_approver_voting_twice_counts_once(store: ApprovalStore) -> None:
    request = request_reset(store)

    assert store.add_vote(request.id, "U0OPS1", LATER) == 1
    assert store.add_vote(request.id, "U0OPS1", LATER) == 1
    assert store.add_vote(request.id, "U0OPS2", LATER + timedelta(seconds=1)) == 2

    stored = store.get(request.id)
    assert stored is not None
    assert stored.approvals == ("U0OPS1", "U0OPS2")


def test_vote_on_a_denied_request_is_not_recorded(store: ApprovalStore) -> None:
    request = request_reset(store)
    store.deny(request.id, by="U0OPS1", reason="not now", now=LATER)

    assert store.add_vote(request.id, "U0OPS2", LATER) == 0


def test_claim_by_50_approvers_at_once_runs_the_change_once(store: ApprovalStore) -> None:
    request = request_reset(store)
    approvers = [f"U0OPS{i:02d}" for i in range(50)]

    def approve(index: int) -> ApprovalRequest | None:
        return store.claim(request.id, decided_by=approvers[index], now=LATER)

    results = race(len(approvers), approve)

    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert winners[0].state is RequestState.RUNNING
    assert store.get(request.id) == winners[0]
    assert winners[0].decided_by in approvers
    assert winners[0].decided_at == LATER


def test_claimed_request_cannot_be_claimed_again(store: ApprovalStore) -> None:
    request = request_reset(store)

    assert store.claim(request.id, decided_by="U0OPS1", now=LATER) is not None
    assert store.claim(request.id, decided_by="U0OPS2", now=LATER) is None


def test_expired_request_cannot_be_claimed(store: ApprovalStore) -> None:
    request = request_reset(store)

    assert store.claim(request.id, decided_by="U0OPS", now=EXPIRY) is None
    stored = store.get(request.id)
    assert stored is not None
    assert stored.state is RequestState.PENDING


def test_expire_due_expires_overdue_pending_requests_once(store: ApprovalStore) -> None:
    overdue = request_reset(store, expires_at=T0 + timedelta(minutes=10))
    still_open = request_reset(store, expires_at=T0 + timedelta(minutes=30))
    running = request_reset(store, expires_at=T0 + timedelta(minutes=10))
    store.claim(running.id, decided_by="U0OPS", now=LATER)
    now = T0 + timedelta(minutes=10)

    expired = store.expire_due(now)

    assert [r.id for r in expired] == [overdue.id]
    assert expired[0].state is RequestState.EXPIRED
    assert store.expire_due(now) == []
    assert [r.id for r in store.pending()] == [still_open.id]
    assert store.claim(overdue.id, decided_by="U0OPS", now=LATER) is None


def test_deny_only_while_pending(store: ApprovalStore) -> None:
    request = request_reset(store)

    denied = store.deny(request.id, by="U0OPS", reason="use the staging user", now=LATER)

    assert denied is not None
    assert denied.state is RequestState.DENIED
    assert (denied.decided_by, denied.deny_reason) == ("U0OPS", "use the staging user")
    assert store.deny(request.id, by="U0OPS2", reason="again", now=LATER) is None
    assert store.claim(request.id, decided_by="U0OPS", now=LATER) is None


def test_requester_can_cancel_but_nobody_else(store: ApprovalStore) -> None:
    request = request_reset(store)

    assert store.cancel(request.id, requester_id="U0SOMEONE", now=LATER) is None
    cancelled = store.cancel(request.id, requester_id="U0DEV", now=LATER)

    assert cancelled is not None
    assert cancelled.state is RequestState.CANCELLED
    assert store.cancel(request.id, requester_id="U0DEV", now=LATER) is None


def test_running_request_cannot_be_cancelled_or_denied(store: ApprovalStore) -> None:
    request = request_reset(store)
    store.claim(request.id, decided_by="U0OPS", now=LATER)

    assert store.cancel(request.id, requester_id="U0DEV", now=LATER) is None
    assert store.deny(request.id, by="U0OPS", reason="late", now=LATER) is None


def test_finish_only_from_running(store: ApprovalStore) -> None:
    request = request_reset(store)

    assert store.finish(request.id, RequestState.DONE) is None

    store.claim(request.id, decided_by="U0OPS", now=LATER)
    done = store.finish(request.id, RequestState.DONE, result={"smtp_user_name": "smtp123"})

    assert done is not None
    assert done.state is RequestState.DONE
    assert done.result == {"smtp_user_name": "smtp123"}
    assert store.finish(request.id, RequestState.FAILED, error="twice") is None


def test_finish_accepts_only_final_states(store: ApprovalStore) -> None:
    request = request_reset(store)
    store.claim(request.id, decided_by="U0OPS", now=LATER)

    with pytest.raises(ValueError, match="cannot finish as pending"):
        store.finish(request.id, RequestState.PENDING)


def test_result_holding_a_password_is_refused(store: ApprovalStore) -> None:
    request = request_reset(store)
    store.claim(request.id, decided_by="U0OPS", now=LATER)

    with pytest.raises(ValueError, match="must not hold secrets"):
        store.finish(request.id, RequestState.DONE, result={"user": {"password": "hunter2"}})


def test_failed_request_is_retried_only_when_asked(store: ApprovalStore) -> None:
    request = request_reset(store)
    store.claim(request.id, decided_by="U0OPS", now=LATER)
    failed = store.finish(request.id, RequestState.FAILED, error="Sarv said 503")
    assert failed is not None
    assert failed.error == "Sarv said 503"
    after_expiry = EXPIRY + timedelta(hours=1)

    assert store.claim(request.id, decided_by="U0OPS2", now=after_expiry) is None
    retried = store.claim(
        request.id, decided_by="U0OPS2", now=after_expiry, from_states=(RequestState.FAILED,)
    )

    assert retried is not None
    assert retried.state is RequestState.RUNNING
    assert (retried.decided_by, retried.decided_at) == ("U0OPS2", after_expiry)


def test_request_left_running_by_a_dead_process_is_marked_unknown(store: ApprovalStore) -> None:
    stuck = request_reset(store)
    recent = request_reset(store)
    store.claim(stuck.id, decided_by="U0OPS", now=LATER)
    store.claim(recent.id, decided_by="U0OPS", now=LATER + timedelta(minutes=30))

    stale = store.stale_running(LATER + timedelta(minutes=10))

    assert [r.id for r in stale] == [stuck.id]
    unknown = store.mark_unknown(stuck.id, error="process stopped while calling Sarv")
    assert unknown is not None
    assert unknown.state is RequestState.UNKNOWN
    assert unknown.state.is_terminal
    assert store.mark_unknown(stuck.id) is None
    assert store.stale_running(LATER + timedelta(minutes=10)) == []


def test_ops_approving_together_all_count(store: ApprovalStore) -> None:
    request = request_reset(store)
    approvers = [f"U0OPS{i:02d}" for i in range(30)]

    def vote(index: int) -> int:
        return store.add_vote(request.id, approvers[index], LATER)

    counts = race(len(approvers), vote)

    assert sorted(counts) == list(range(1, len(approvers) + 1))
    stored = store.get(request.id)
    assert stored is not None
    assert sorted(stored.approvals) == approvers
