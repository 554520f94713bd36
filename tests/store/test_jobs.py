"""Due jobs: scheduled once per key, claimed by one process, taken over when a claimer dies."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sarvbot.core import RequestState
from sarvbot.store import REQUEST_ENDED, ApprovalStore, Database, JobStore
from tests.support import race

from .conftest import T0, request_reset

LEASE = timedelta(minutes=1)


@pytest.fixture
def jobs(database: Database) -> JobStore:
    return JobStore(database)


def test_scheduling_the_same_key_twice_is_one_job(jobs: JobStore) -> None:
    assert jobs.schedule("reminder", "reminder:7", T0, {"request_id": 7}, now=T0)
    assert not jobs.schedule("reminder", "reminder:7", T0 + timedelta(hours=1), now=T0)
    (job,) = jobs.of_kind("reminder")
    assert (job.key, job.due_at, job.payload, job.state) == (
        "reminder:7",
        T0,
        {"request_id": 7},
        "due",
    )


def test_a_job_is_not_claimed_before_it_is_due(jobs: JobStore) -> None:
    jobs.schedule("reminder", "reminder:1", T0 + timedelta(minutes=5), now=T0)
    assert jobs.claim_due(owner="p1", now=T0, lease_until=T0 + LEASE) == []
    later = T0 + timedelta(minutes=5)
    (claimed,) = jobs.claim_due(owner="p1", now=later, lease_until=later + LEASE)
    assert (claimed.key, claimed.state, claimed.owner, claimed.attempts) == (
        "reminder:1",
        "running",
        "p1",
        1,
    )


def test_a_due_job_is_claimed_by_one_of_many_concurrent_claimers(database: Database) -> None:
    store = JobStore(database)
    for n in range(5):
        store.schedule("reminder", f"reminder:{n}", T0, now=T0)

    def claim(index: int) -> list[str]:
        found = store.claim_due(owner=f"p{index}", now=T0, lease_until=T0 + LEASE)
        return [job.key for job in found]

    claimed = [key for keys in race(8, claim) for key in keys]
    assert sorted(claimed) == [f"reminder:{n}" for n in range(5)]


def test_a_job_whose_claimer_died_is_claimed_again_once_its_lease_lapses(
    jobs: JobStore,
) -> None:
    jobs.schedule("reminder", "reminder:1", T0, now=T0)
    (first,) = jobs.claim_due(owner="dead", now=T0, lease_until=T0 + LEASE)
    # While the lease holds, nobody else takes it.
    assert jobs.claim_due(owner="alive", now=T0 + LEASE / 2, lease_until=T0 + LEASE) == []
    after = T0 + LEASE + timedelta(seconds=1)
    (again,) = jobs.claim_due(owner="alive", now=after, lease_until=after + LEASE)
    assert (again.id, again.owner, again.attempts) == (first.id, "alive", 2)
    # The claimer that lost its lease cannot end the job; the new one can, once.
    assert not jobs.done(first.id, owner="dead", now=after)
    assert jobs.done(first.id, owner="alive", now=after)
    assert not jobs.done(first.id, owner="alive", now=after)
    later = after + 2 * LEASE
    assert jobs.claim_due(owner="third", now=later, lease_until=later + LEASE) == []


def test_a_job_made_due_again_is_claimed_again_at_its_new_time(jobs: JobStore) -> None:
    jobs.schedule("reminder", "reminder:1", T0, now=T0)
    (job,) = jobs.claim_due(owner="p1", now=T0, lease_until=T0 + LEASE)
    retry_at = T0 + timedelta(seconds=30)
    assert jobs.again(job.id, owner="p1", due_at=retry_at, now=T0, error="SlackApiError")
    assert jobs.claim_due(owner="p2", now=T0, lease_until=T0 + LEASE) == []
    (retried,) = jobs.claim_due(owner="p2", now=retry_at, lease_until=retry_at + LEASE)
    assert (retried.attempts, retried.last_error) == (2, "SlackApiError")
    assert jobs.fail(job.id, owner="p2", now=retry_at, error="x" * 500)
    failed = jobs.get("reminder:1")
    assert failed is not None
    assert failed.state == "failed"
    assert failed.last_error == "x" * 200


def test_a_job_payload_holding_a_secret_is_refused(jobs: JobStore) -> None:
    with pytest.raises(ValueError, match="secrets"):
        jobs.schedule("reminder", "reminder:1", T0, {"smtp": {"password": "hunter2"}}, now=T0)
    assert jobs.of_kind("reminder") == []


def test_expiring_a_request_schedules_its_notice_in_the_same_transaction(
    database: Database,
) -> None:
    approvals, jobs = ApprovalStore(database), JobStore(database)
    request = request_reset(approvals)
    later = T0 + timedelta(hours=2)
    assert [r.id for r in approvals.expire_due(later)] == [request.id]
    assert approvals.expire_due(later) == []
    (notice,) = jobs.of_kind(REQUEST_ENDED)
    assert notice.payload == {"request_id": request.id, "state": "expired"}
    assert (notice.state, notice.due_at) == ("due", later)


def test_marking_a_stuck_request_unknown_schedules_its_notice_once(database: Database) -> None:
    approvals, jobs = ApprovalStore(database), JobStore(database)
    request = request_reset(approvals)
    assert approvals.claim(request.id, decided_by="U0OPS", now=T0) is not None
    marked = approvals.mark_unknown(request.id, error="stuck", now=T0 + LEASE)
    assert marked is not None
    assert marked.state is RequestState.UNKNOWN
    assert approvals.mark_unknown(request.id, error="stuck", now=T0 + LEASE) is None
    (notice,) = jobs.of_kind(REQUEST_ENDED)
    assert notice.payload == {"request_id": request.id, "state": "unknown"}
