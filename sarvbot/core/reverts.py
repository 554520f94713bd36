"""Changes that undo themselves: a time-bound change is put back when its time is up.

Planning a revert schedules two due jobs (see :mod:`sarvbot.core.schedule`) before Sarv
is called: a reminder for the requester some time before the end, and the revert itself.
Any process claims each exactly once. At the end the user is read from Sarv: if it still
has the values sarvbot set, the values from before are put back; if someone changed it
meanwhile, nothing is overwritten and the people concerned are told what was found.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sarvbot.sarv import SmtpUser, UserStatus

from .job_payload import JobPayload
from .model import Change

if TYPE_CHECKING:
    from sarvbot.store import JobStore

__all__ = [
    "MAX_DURATION",
    "MIN_DURATION",
    "REMIND_REVERT",
    "REVERT_CHANGE",
    "RevertOutcome",
    "Reverted",
    "Reverts",
    "TimedChange",
    "reminder_lead",
]

REVERT_CHANGE = "revert_change"
REMIND_REVERT = "remind_revert"
MIN_DURATION = timedelta(minutes=1)
MAX_DURATION = timedelta(days=90)
# The values a time-bound change may set, as Sarv names them on a user.
_KEYS = ("total_limit", "hourly_limit", "status")


def reminder_lead(duration: timedelta) -> timedelta:
    """How long before the end the requester is reminded: an hour, or a tenth of a short one."""
    return min(timedelta(hours=1), duration / 10)


@dataclass(frozen=True)
class TimedChange(JobPayload):
    """A change in force until ``ends_at``: what it set, and what to put back."""

    key: str
    action: str
    target: str
    set_values: dict[str, Any]
    before: dict[str, Any]
    ends_at: datetime
    seconds: int
    requester_id: str
    channel_id: str
    request_id: int | None = None


class RevertOutcome(StrEnum):
    """What the end of a time-bound change came to."""

    REVERTED = "reverted"  # the values from before are back
    CHANGED_MEANWHILE = "changed meanwhile"  # someone else changed it: left as it is
    ALREADY_BACK = "already back"  # it has the values from before already
    GONE = "gone"  # Sarv no longer lists the user


@dataclass(frozen=True)
class Reverted:
    """A revert as it ran: the change, what came of it, and the user as it was found."""

    timed: TimedChange
    outcome: RevertOutcome
    found: dict[str, Any]


def _values(user: SmtpUser, keys: list[str] | tuple[str, ...] = _KEYS) -> dict[str, Any]:
    values = {
        "total_limit": user.total_limit,
        "hourly_limit": user.hourly_limit,
        "status": user.status.value,
    }
    return {k: values[k] for k in keys}


class Reverts:
    """Plans, lists and runs the reverts of time-bound changes."""

    def __init__(self, jobs: JobStore, *, clock: Callable[[], datetime]) -> None:
        self._jobs = jobs
        self._clock = clock

    def plan(
        self,
        change: Change,
        before: SmtpUser,
        *,
        requester_id: str,
        channel_id: str,
        request_id: int | None = None,
    ) -> TimedChange:
        """Schedule the reminder and the revert of ``change``, which runs next.

        Values that a revert already waiting is to put back are taken over (once the change
        is made, see :meth:`settle`): this one puts them back to what they were before that
        one, so an extension ends where the first change began; the waiting revert keeps
        the other values it sets.
        """
        if change.target is None or change.for_seconds is None:
            raise ValueError("only a time-bound change to a user is reverted")
        set_values = {k: v for k, v in change.sarv_values().items() if k in _KEYS}
        before_values = _values(before, list(set_values))
        for waiting in self._overlapping(change.target, set_values):
            before_values.update({k: v for k, v in waiting.before.items() if k in set_values})
        now = self._clock()
        duration = timedelta(seconds=change.for_seconds)
        timed = TimedChange(
            key=f"{REVERT_CHANGE}:{change.target}:{uuid.uuid4().hex[:12]}",
            action=change.action,
            target=change.target,
            set_values=set_values,
            before=before_values,
            ends_at=now + duration,
            seconds=change.for_seconds,
            requester_id=requester_id,
            channel_id=channel_id,
            request_id=request_id,
        )
        payload = timed.payload()
        self._jobs.schedule(REVERT_CHANGE, timed.key, timed.ends_at, payload, now=now)
        remind_at = timed.ends_at - reminder_lead(duration)
        self._jobs.schedule(REMIND_REVERT, _reminder_key(timed.key), remind_at, payload, now=now)
        return timed

    def drop(self, timed: TimedChange) -> None:
        """The change did not happen (Sarv refused it): nothing to put back, and the
        reverts it would have taken over stay as they are.
        """
        self._cancel(timed.key)

    def settle(self, timed: TimedChange) -> None:
        """The change was made: the values it took over are no longer put back by others."""
        self.release(timed.target, timed.set_values, keep=timed.key)

    def release(
        self, target: str, values: dict[str, Any], *, keep: str | None = None, same: bool = False
    ) -> None:
        """A change set ``values``: no waiting revert (but ``keep``) puts them back now.

        With ``same``, only values equal to what a revert set are released: a lasting change
        to the very values a time-bound one set would otherwise be undone at its end (one
        to other values is left for the end to find). A revert that also puts back other
        values keeps doing so for those.
        """
        now = self._clock()
        for waiting in self._overlapping(target, values):
            released = {
                k
                for k in set(waiting.set_values) & set(values)
                if not same or waiting.set_values[k] == values[k]
            }
            if not released or waiting.key == keep or not self._cancel(waiting.key):
                continue  # nothing released, or it is running now: the values it finds decide
            remaining = {k: v for k, v in waiting.set_values.items() if k not in released}
            if not remaining:
                continue
            rest = replace(
                waiting,
                key=f"{REVERT_CHANGE}:{target}:{uuid.uuid4().hex[:12]}",
                set_values=remaining,
                before={k: v for k, v in waiting.before.items() if k in remaining},
            )
            self._jobs.schedule(REVERT_CHANGE, rest.key, rest.ends_at, rest.payload(), now=now)

    def _overlapping(self, target: str, values: dict[str, Any]) -> list[TimedChange]:
        return [t for t in self.pending(target) if set(t.set_values) & set(values)]

    def _cancel(self, key: str) -> bool:
        now = self._clock()
        cancelled = self._jobs.cancel(key, now=now)
        self._jobs.cancel(_reminder_key(key), now=now)
        return cancelled

    def pending(self, target: str | None = None) -> list[TimedChange]:
        """Time-bound changes in force, soonest end first (for one user, or all)."""
        found = []
        for job in self._jobs.waiting(REVERT_CHANGE):
            try:
                timed = TimedChange.from_payload(job.payload)
            except (KeyError, TypeError, ValueError):
                continue
            if target is None or timed.target == target:
                found.append(timed)
        return found

    def get(self, key: str) -> TimedChange | None:
        """One time-bound change still waiting for its end, or None."""
        job = self._jobs.get(key)
        if job is None or job.kind != REVERT_CHANGE or job.state not in ("due", "running"):
            return None
        return TimedChange.from_payload(job.payload)

    def bring_forward(self, key: str) -> bool:
        """Make a waiting revert due now (Revert now); False if it is not waiting."""
        now = self._clock()
        if not self._jobs.due_now(key, now=now):
            return False
        self._jobs.cancel(_reminder_key(key), now=now)
        return True

    def decide(self, timed: TimedChange, user: SmtpUser | None) -> Reverted:
        """What the end of ``timed`` should do, given the user as Sarv lists it now."""
        if user is None:
            return Reverted(timed, RevertOutcome.GONE, {})
        found = _values(user, list(timed.set_values))
        if found == timed.before:
            return Reverted(timed, RevertOutcome.ALREADY_BACK, found)
        if found != timed.set_values:
            return Reverted(timed, RevertOutcome.CHANGED_MEANWHILE, found)
        return Reverted(timed, RevertOutcome.REVERTED, found)


def _reminder_key(key: str) -> str:
    return f"{REMIND_REVERT}:{key}"


def status_of(values: dict[str, Any]) -> UserStatus | None:
    """The status among a change's values, if it sets one."""
    status = values.get("status")
    return UserStatus(status) if status else None
