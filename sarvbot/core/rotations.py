"""Rotation without downtime: a new SMTP user replaces the old, which is retired later.

Sarv's reset cuts the sending app off at once, so a rotation adds a new user with the old
one's limits and catalogue entry (the label moves to it, the old one is marked retiring),
hands its password to the requester, and disables the old user only when the requester or
the owner says the app has moved (*Done, retire the old one*) or when the grace period
ends, with a reminder before. The retirement is a due job: claimed by one process, tried
again while Sarv fails, and reported (with a button to try again) if it never succeeds.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .job_payload import JobPayload
from .model import Refused
from .reverts import reminder_lead

if TYPE_CHECKING:
    from sarvbot.store import JobStore

__all__ = [
    "DEFAULT_GRACE",
    "REMIND_RETIRE",
    "RETIRE_OLD",
    "Rotation",
    "Rotations",
]

RETIRE_OLD = "retire_old"
REMIND_RETIRE = "remind_retire"
DEFAULT_GRACE = timedelta(hours=24)


@dataclass(frozen=True)
class Rotation(JobPayload):
    """One rotation: the user it replaces, the user that replaces it, and when."""

    key: str
    old: str
    new: str
    retire_at: datetime
    requester_id: str
    channel_id: str
    request_id: int | None = None


class Rotations:
    """Plans, finds and brings forward the retirement of rotated users."""

    def __init__(self, jobs: JobStore, *, clock: Callable[[], datetime]) -> None:
        self._jobs = jobs
        self._clock = clock

    def check_none_under_way(self, old: str) -> None:
        """Refused while a rotation of ``old`` waits to retire it (never rotated twice)."""
        for rotation in self.under_way():
            if old in (rotation.old, rotation.new):
                raise Refused(
                    f"{rotation.old} is being rotated to {rotation.new} already: it is retired "
                    "when the requester or owner clicks Done, or when its grace period ends.",
                    "rotation",
                )

    def plan(
        self,
        old: str,
        new: str,
        grace: timedelta,
        *,
        requester_id: str,
        channel_id: str,
        request_id: int | None = None,
    ) -> Rotation:
        """Schedule the reminder and the retirement of ``old``, now replaced by ``new``."""
        now = self._clock()
        return self._schedule(
            Rotation(
                key=f"{RETIRE_OLD}:{old}:{uuid.uuid4().hex[:12]}",
                old=old,
                new=new,
                retire_at=now + grace,
                requester_id=requester_id,
                channel_id=channel_id,
                request_id=request_id,
            ),
            remind_before=reminder_lead(grace),
        )

    def retry(self, rotation: Rotation) -> Rotation:
        """A retirement that never succeeded, scheduled again for now (exactly once)."""
        again = Rotation(
            key=f"{RETIRE_OLD}:{rotation.old}:{uuid.uuid4().hex[:12]}",
            old=rotation.old,
            new=rotation.new,
            retire_at=self._clock(),
            requester_id=rotation.requester_id,
            channel_id=rotation.channel_id,
            request_id=rotation.request_id,
        )
        return self._schedule(again, remind_before=None)

    def _schedule(self, rotation: Rotation, *, remind_before: timedelta | None) -> Rotation:
        now = self._clock()
        payload = rotation.payload()
        self._jobs.schedule(RETIRE_OLD, rotation.key, rotation.retire_at, payload, now=now)
        if remind_before is not None:
            remind_at = rotation.retire_at - remind_before
            self._jobs.schedule(REMIND_RETIRE, _reminder(rotation.key), remind_at, payload, now=now)
        return rotation

    def under_way(self) -> list[Rotation]:
        """Rotations whose old user is not retired yet, soonest first."""
        found = []
        for job in self._jobs.waiting(RETIRE_OLD):
            try:
                found.append(Rotation.from_payload(job.payload))
            except (KeyError, TypeError, ValueError):
                continue
        return found

    def get(self, key: str) -> Rotation | None:
        """A rotation by its key, while or after it runs; None for another kind of job."""
        job = self._jobs.get(key)
        if job is None or job.kind != RETIRE_OLD:
            return None
        return Rotation.from_payload(job.payload)

    def waiting(self, key: str) -> bool:
        """True while the retirement of a rotation has not run."""
        job = self._jobs.get(key)
        return job is not None and job.state == "due"

    def running(self, key: str) -> bool:
        """True while a process is retiring the old user of a rotation."""
        job = self._jobs.get(key)
        return job is not None and job.state == "running"

    def hold(self, key: str) -> bool:
        """Keep the old user until Done is clicked: its timed retirement and reminder go."""
        now = self._clock()
        self._jobs.cancel(_reminder(key), now=now)
        return self._jobs.cancel(key, now=now)

    def bring_forward(self, key: str) -> bool:
        """Retire now (Done): make the retirement due now; False if it is not waiting."""
        now = self._clock()
        if not self._jobs.due_now(key, now=now):
            return False
        self._jobs.cancel(_reminder(key), now=now)
        return True


def _reminder(key: str) -> str:
    return f"{REMIND_RETIRE}:{key}"
