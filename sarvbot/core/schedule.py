"""The schedule: timed work kept as due jobs in the database, done once by any process.

Every kind of timed work is one entry in :data:`JOB_KINDS`; the layer that can do it
supplies its handler (the Slack app, for the kinds that tell people). Any number of
processes may call :meth:`Scheduler.run_due` at once: a job is claimed by one of them
under a lease, and a claimer that dies lets the lease lapse so another finishes the job.
A handler may therefore run again after a crash between its work and the job's end, so
handlers are written to be safe to repeat.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sarvbot.store.jobs import (
    COMPLETE_STEP,
    ESCALATE_REQUEST,
    REMIND_REQUEST,
    REQUEST_ENDED,
    DueJob,
    JobStore,
    step_job_key,
)

from .reverts import REMIND_REVERT, REVERT_CHANGE
from .rotations import REMIND_RETIRE, RETIRE_OLD

__all__ = [
    "CHECK_CREDENTIAL_AGE",
    "COMPLETE_STEP",
    "ESCALATE_REQUEST",
    "EXPIRE_REQUESTS",
    "FORGET_OLD_JOBS",
    "JOB_KINDS",
    "JOB_MEMORY",
    "REMIND_CREDENTIAL_AGE",
    "REMIND_REQUEST",
    "REMIND_RETIRE",
    "REMIND_REVERT",
    "REPORT_LOST_WORK",
    "REQUEST_ENDED",
    "RETIRE_ATTEMPTS",
    "RETIRE_OLD",
    "REVERT_ATTEMPTS",
    "REVERT_CHANGE",
    "TELL_ATTEMPTS",
    "WATCH_ATTEMPTS",
    "WATCH_STEP",
    "DueJob",
    "JobHandler",
    "JobKind",
    "Ran",
    "Scheduler",
    "step_job_key",
]

logger = logging.getLogger("sarvbot.core")

EXPIRE_REQUESTS = "expire_requests"
CHECK_CREDENTIAL_AGE = "check_credential_age"
REMIND_CREDENTIAL_AGE = "remind_credential_age"
# Tries at putting back a time-bound change (about an hour while Sarv is down) before its
# people are told it could not be.
REVERT_ATTEMPTS = 12
# Tries at telling people or Slack of an outcome (a notice, a reminder, a step's end):
# Slack may be down or rate-limiting for a while; about an hour, as for reverts.
TELL_ATTEMPTS = 12
# How long a job that ended is kept (its key still refusing a second one): far past any
# moment the same key could be scheduled again.
JOB_MEMORY = timedelta(days=90)
FORGET_OLD_JOBS = "forget_old_jobs"
# Tries at retiring a rotated user before its people are told it failed (and offered a retry).
RETIRE_ATTEMPTS = 6
REPORT_LOST_WORK = "report_lost_work"
# A workflow step acknowledged by a process: ended by any process if none has it in hand.
WATCH_STEP = "watch_step"
# Looks at a step that was taken but is not yet in hand (its request, or its end, not yet
# written) before it is taken for lost: about two minutes more.
WATCH_ATTEMPTS = 5

JobHandler = Callable[[DueJob, datetime], object]
"""Does one job at ``now``; raises to have it tried again later. Returns what it did."""


@dataclass(frozen=True)
class JobKind:
    """A kind of timed work. A periodic kind has one job that reschedules itself."""

    name: str
    description: str
    periodic: bool = False
    max_attempts: int = 5
    # How often a periodic kind comes round, when not at every housekeeping round.
    every: timedelta | None = None


JOB_KINDS: Mapping[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind(
            EXPIRE_REQUESTS,
            "expire overdue requests and mark requests left running unknown",
            periodic=True,
        ),
        JobKind(
            REPORT_LOST_WORK,
            "tell people of acknowledged changes a dead process never answered",
            periodic=True,
        ),
        JobKind(
            REQUEST_ENDED,
            "show how a request ended on its message and tell its requester",
            max_attempts=TELL_ATTEMPTS,
        ),
        JobKind(
            REMIND_REQUEST,
            "re-announce a request still pending after remind_after and DM its approvers",
            max_attempts=TELL_ATTEMPTS,
        ),
        JobKind(
            ESCALATE_REQUEST,
            "re-announce a request still pending after escalate_after and DM escalate_to",
            max_attempts=TELL_ATTEMPTS,
        ),
        JobKind(
            REVERT_CHANGE,
            "put back what a time-bound change set, unless it was changed meanwhile",
            # Sarv may be down when the time is up: keep trying for about an hour.
            max_attempts=REVERT_ATTEMPTS,
        ),
        JobKind(REMIND_REVERT, "remind the requester that a time-bound change ends soon"),
        JobKind(
            RETIRE_OLD,
            "disable the user a rotation replaced, at the end of its grace period or on Done",
            max_attempts=RETIRE_ATTEMPTS,
        ),
        JobKind(REMIND_RETIRE, "remind requester and owner that a rotated user is retired soon"),
        JobKind(
            CHECK_CREDENTIAL_AGE,
            "find passwords older than the policy's max_age_days and plan their reminders",
            periodic=True,
            every=timedelta(hours=1),
        ),
        JobKind(REMIND_CREDENTIAL_AGE, "tell an owner that a password is due for rotation"),
        JobKind(
            COMPLETE_STEP,
            "complete the Workflow Builder step a request or a change answers, with its outcome",
            max_attempts=TELL_ATTEMPTS,
        ),
        JobKind(
            FORGET_OLD_JOBS,
            f"delete jobs that ended more than {JOB_MEMORY.days} days ago",
            periodic=True,
            every=timedelta(days=1),
        ),
        JobKind(
            WATCH_STEP,
            "end a Workflow Builder step no live process has in hand (its process died first)",
            max_attempts=WATCH_ATTEMPTS + 1,
        ),
    )
}

RETRY_FIRST = timedelta(seconds=5)
RETRY_MOST = timedelta(minutes=10)
# One run_due does what is due now and what that schedules at once, but never spins.
_MAX_ROUNDS = 10
_BATCH = 20


@dataclass(frozen=True)
class Ran:
    """One job this process ran: ``outcome`` is done, again (retry or next round) or failed."""

    job: DueJob
    outcome: str
    result: object = None


class Scheduler:
    """Claims due jobs and runs their handlers; each job is done by one process."""

    def __init__(
        self,
        jobs: JobStore,
        handlers: Mapping[str, JobHandler],
        *,
        owner: str,
        lease: timedelta,
        every: timedelta,
        kinds: Mapping[str, JobKind] = JOB_KINDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        missing = sorted(set(kinds) - set(handlers))
        if missing:
            raise ValueError(f"no handler for the job kinds {', '.join(missing)}")
        self.jobs = jobs
        self._handlers = dict(handlers)
        self._kinds = dict(kinds)
        self.owner = owner
        self.lease = lease
        self.every = every
        self._clock = clock
        self._stopped = threading.Event()

    def stop(self) -> None:
        """Start no job from now on: one claimed and not started is left to its lease, for
        another process; the one under way finishes.
        """
        self._stopped.set()

    def schedule(
        self,
        kind: str,
        key: str,
        due_at: datetime,
        payload: Mapping[str, object] | None = None,
    ) -> bool:
        """Schedule a job of a known kind; the same ``key`` twice is one job."""
        if kind not in self._kinds:
            raise ValueError(f"unknown job kind {kind!r}")
        return self.jobs.schedule(kind, key, due_at, payload, now=self._clock())

    def start_periodic(self, *, bring_forward: bool = False) -> None:
        """Make sure every periodic kind has its job (a new one is due now).

        ``bring_forward`` also makes the existing ones due now, as ``sarvbot expire`` wants.
        """
        now = self._clock()
        for kind in self._kinds.values():
            if not kind.periodic:
                continue
            if not self.jobs.schedule(kind.name, kind.name, now, now=now) and bring_forward:
                self.jobs.due_now(kind.name, now=now)

    def run_due(
        self,
        now: datetime | None = None,
        *,
        kinds: Collection[str] | None = None,
        budget: float = 30.0,
    ) -> list[Ran]:
        """Claim and run the jobs due at ``now`` (default: the clock), and those they schedule.

        Stops when nothing is left to claim, after a few rounds, or after ``budget`` seconds.
        """
        deadline = time.monotonic() + budget
        ran: list[Ran] = []
        for _ in range(_MAX_ROUNDS):
            if self._stopped.is_set():
                break
            at = now or self._clock()
            claimed = self.jobs.claim_due(
                owner=self.owner, now=at, lease_until=at + self.lease, limit=_BATCH, kinds=kinds
            )
            if not claimed:
                break
            for job in claimed:
                if self._stopped.is_set():
                    return ran
                # A batch may outlast the lease it was claimed under (each job waits on
                # Slack): each job's lease is renewed as it starts, and a job another
                # process took over meanwhile is left to that process.
                started = now or self._clock()
                if not self.jobs.hold(
                    job.id, owner=self.owner, now=started, lease_until=started + self.lease
                ):
                    continue
                ran.append(self._run(job, started))
            if time.monotonic() > deadline:
                break
        return ran

    def _run(self, job: DueJob, now: datetime) -> Ran:
        kind = self._kinds.get(job.kind)
        if kind is None:
            # Written by a newer version of sarvbot: leave it for one that knows it.
            self.jobs.again(job.id, owner=self.owner, due_at=now + RETRY_MOST, now=now)
            return Ran(job, "again")
        try:
            result = self._handlers[job.kind](job, now)
        except Exception as exc:
            error = type(exc).__name__
            return self._after_failure(kind, job, now, error)
        if kind.periodic:
            every = kind.every or self.every
            self.jobs.again(
                job.id, owner=self.owner, due_at=now + every, now=now, reset_attempts=True
            )
            return Ran(job, "again", result)
        self.jobs.done(job.id, owner=self.owner, now=now)
        return Ran(job, "done", result)

    def _after_failure(self, kind: JobKind, job: DueJob, now: datetime, error: str) -> Ran:
        if kind.periodic:
            logger.warning("timed job %s failed: %s", job.kind, error)
            self.jobs.again(job.id, owner=self.owner, due_at=now + self.every, now=now, error=error)
            return Ran(job, "again")
        if job.attempts >= kind.max_attempts:
            logger.error("timed job %s gave up after %s attempts: %s", job.key, job.attempts, error)
            self.jobs.fail(job.id, owner=self.owner, now=now, error=error)
            return Ran(job, "failed")
        wait = min(RETRY_FIRST * 2 ** (job.attempts - 1), RETRY_MOST)
        logger.warning("timed job %s failed (%s), tried again in %s", job.key, error, wait)
        self.jobs.again(job.id, owner=self.owner, due_at=now + wait, now=now, error=error)
        return Ran(job, "again")
