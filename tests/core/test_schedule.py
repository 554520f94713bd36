"""The scheduler: each kind has its handler, failures come back later, periodic work recurs."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from sarvbot.core import JOB_KINDS, JobKind, Scheduler
from sarvbot.core.schedule import JobHandler
from sarvbot.store import Database, DueJob, JobStore
from tests.support import race

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=1)
KINDS = {
    "reminder": JobKind("reminder", "remind someone", max_attempts=3),
    "tick": JobKind("tick", "a periodic round", periodic=True),
}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def scheduler(
    jobs: JobStore, handlers: Mapping[str, JobHandler], clock: Clock, owner: str
) -> Scheduler:
    return Scheduler(
        jobs,
        handlers,
        owner=owner,
        lease=LEASE,
        every=timedelta(seconds=20),
        kinds=KINDS,
        clock=clock,
    )


def test_every_job_kind_of_sarvbot_has_a_description_and_a_kind_without_handler_is_refused(
    database: Database,
) -> None:
    assert all(kind.description for kind in JOB_KINDS.values())
    with pytest.raises(ValueError, match="no handler for the job kinds tick"):
        scheduler(JobStore(database), {"reminder": print}, Clock(), "p1")


def test_a_scheduled_job_runs_once_when_due(database: Database) -> None:
    clock, done = Clock(), []
    runner = scheduler(
        JobStore(database),
        {"reminder": lambda job, now: done.append(job.payload), "tick": lambda job, now: None},
        clock,
        "p1",
    )
    runner.schedule("reminder", "reminder:1", T0 + timedelta(minutes=1), {"request_id": 1})
    assert runner.run_due() == []
    clock.now = T0 + timedelta(minutes=1)
    (ran,) = runner.run_due()
    assert (ran.outcome, done) == ("done", [{"request_id": 1}])
    clock.now += timedelta(hours=1)
    assert runner.run_due() == []


def test_a_failing_job_is_tried_again_later_and_given_up_after_its_attempts(
    database: Database,
) -> None:
    clock, tries = Clock(), []

    def fails(job: DueJob, now: datetime) -> None:
        tries.append(now)
        raise RuntimeError("Slack is down")

    jobs = JobStore(database)
    runner = scheduler(jobs, {"reminder": fails, "tick": lambda job, now: None}, clock, "p1")
    runner.schedule("reminder", "reminder:1", T0)
    outcomes = []
    for _ in range(3):
        outcomes += [r.outcome for r in runner.run_due()]
        # Nothing more until the back-off has passed.
        assert runner.run_due() == []
        clock.now += timedelta(minutes=10)
    assert outcomes == ["again", "again", "failed"]
    assert tries[1] - tries[0] == timedelta(minutes=10)
    failed = jobs.get("reminder:1")
    assert failed is not None
    assert (failed.state, failed.attempts, failed.last_error) == ("failed", 3, "RuntimeError")


def test_a_periodic_job_reschedules_itself_and_runs_in_one_process_per_round(
    database: Database,
) -> None:
    clock, rounds = Clock(), []
    lock = threading.Lock()

    def tick(job: DueJob, now: datetime) -> None:
        with lock:
            rounds.append(now)

    jobs = JobStore(database)
    runners = [scheduler(jobs, {"reminder": print, "tick": tick}, clock, f"p{n}") for n in range(3)]
    for runner in runners:
        runner.start_periodic()
    for _ in range(3):
        race(len(runners), lambda index: runners[index].run_due())
        clock.now += timedelta(seconds=20)
    assert rounds == [T0, T0 + timedelta(seconds=20), T0 + timedelta(seconds=40)]
    tick_job = jobs.get("tick")
    assert tick_job is not None
    assert (tick_job.state, tick_job.due_at) == ("due", T0 + timedelta(seconds=60))


def test_jobs_still_waiting_in_a_batch_whose_lease_lapsed_are_each_done_by_one_process(
    database: Database,
) -> None:
    # One process claims a batch of three; each job takes two thirds of the lease (Slack
    # rate-limiting, a slow answer), so the batch as a whole outlasts the lease it was
    # claimed under, and another process runs the schedule meanwhile.
    jobs, clock = JobStore(database), Clock()
    done: list[tuple[str, str]] = []
    other: list[Scheduler] = []

    def remind(owner: str) -> JobHandler:
        def handler(job: DueJob, now: datetime) -> None:
            done.append((job.key, owner))
            if owner == "p1":
                clock.now += LEASE * 2 / 3
                if job.key == "b":
                    other[0].run_due()

        return handler

    first = scheduler(jobs, {"reminder": remind("p1"), "tick": lambda job, now: None}, clock, "p1")
    other.append(
        scheduler(jobs, {"reminder": remind("p2"), "tick": lambda job, now: None}, clock, "p2")
    )
    for second, key in enumerate("abc"):
        first.schedule("reminder", key, T0 + timedelta(seconds=second))
    clock.now = T0 + timedelta(seconds=5)
    first.run_due()
    assert sorted(key for key, _ in done) == ["a", "b", "c"], done
    assert {job.key: job.state for job in jobs.of_kind("reminder")} == {
        "a": "done",
        "b": "done",
        "c": "done",
    }


def test_a_job_whose_payload_is_not_an_object_fails_alone_and_the_rest_still_run(
    database: Database,
) -> None:
    from sqlalchemy import update

    from sarvbot.store.models import DueJobRow

    jobs, clock, done = JobStore(database), Clock(), []
    runner = scheduler(
        jobs,
        {"reminder": lambda job, now: done.append(job.payload["who"]), "tick": lambda j, n: None},
        clock,
        "p1",
    )
    runner.schedule("reminder", "broken", T0, {"who": "nobody"})
    runner.schedule("reminder", "fine", T0 + timedelta(seconds=1), {"who": "bob"})
    with database.transaction() as connection:  # written by hand, or by a buggy release
        connection.execute(
            update(DueJobRow).where(DueJobRow.key == "broken").values(payload=["not", "an object"])
        )
    for _ in range(KINDS["reminder"].max_attempts):
        clock.now += timedelta(minutes=15)
        runner.run_due()
    assert done == ["bob"]
    assert {job.key: job.state for job in jobs.of_kind("reminder")} == {
        "broken": "failed",
        "fine": "done",
    }
