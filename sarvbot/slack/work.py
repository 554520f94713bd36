"""The work done after an ack: a bounded pool, and one place that turns failures into words."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from slack_bolt.context.respond import Respond

from sarvbot import sarv
from sarvbot.core import CommandError, Refused, UnknownSmtpUser, describe_sarv_error
from sarvbot.store import DatabaseUnavailable

from .mrkdwn import code, escape

__all__ = ["BUSY", "TrackedExecutor", "WorkQueue", "WorkTracker", "usage_text"]

logger = logging.getLogger("sarvbot.slack")

BUSY = "sarvbot is busy right now, so nothing was done. Try again in a minute."

Tell = Callable[[Respond | None, str], None]


class WorkTracker:
    """Counts tasks in flight across executors, so tests and the demo can wait for quiet."""

    def __init__(self) -> None:
        self._idle = threading.Condition()
        self._running = 0

    def begin(self) -> None:
        """One more task."""
        with self._idle:
            self._running += 1

    def end(self) -> None:
        """One task less."""
        with self._idle:
            self._running -= 1
            if self._running == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no task runs; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout)


class TrackedExecutor(ThreadPoolExecutor):
    """A thread pool whose tasks are counted by a WorkTracker."""

    def __init__(self, tracker: WorkTracker, *, max_workers: int, thread_name_prefix: str) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._tracker = tracker

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self._tracker.begin()

        def run() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                self._tracker.end()

        try:
            return super().submit(run)
        except BaseException:
            self._tracker.end()
            raise


def usage_text(exc: CommandError) -> str:
    """A command mistake and the right form, for mrkdwn."""
    text = escape(exc.message)
    if exc.usage:
        text += f"\nUsage: `{escape(exc.usage)}`"
    return text


class WorkQueue:
    """Runs jobs after the ack on a bounded pool; every failure reaches the user.

    When ``limit`` jobs are queued, new ones are turned away with a message at once rather
    than leaving people waiting for minutes.
    """

    def __init__(self, tracker: WorkTracker, *, workers: int, tell: Tell) -> None:
        self.tracker = tracker
        self.limit = workers * 8
        self._tell = tell
        self._lock = threading.Lock()
        self._queued = 0
        self._pool = TrackedExecutor(
            tracker, max_workers=workers, thread_name_prefix="sarvbot-work"
        )
        # Short Slack calls that must not wait behind Sarv work (views.open within 3 s).
        self._quick = TrackedExecutor(tracker, max_workers=8, thread_name_prefix="sarvbot-quick")

    def has_room(self) -> bool:
        """False when new work would be turned away."""
        with self._lock:
            return self._queued < self.limit

    def _take_slot(self) -> bool:
        with self._lock:
            if self._queued >= self.limit:
                return False
            self._queued += 1
            return True

    def _free_slot(self) -> None:
        with self._lock:
            self._queued -= 1

    def submit(self, respond: Respond | None, job: Callable[[], None], what: str) -> None:
        """Run ``job`` on the pool; its failures are told to the user behind ``respond``."""
        if not self._take_slot():
            logger.warning("busy: %s turned away with %s jobs queued", what, self.limit)
            self._pool.submit(self._tell, respond, BUSY)
            return
        self._pool.submit(self._run, respond, job, what)

    def soon(self, respond: Respond | None, job: Callable[[], None], what: str) -> None:
        """Run a short job right away on its own small pool, never behind Sarv work."""
        self._quick.submit(self._run, respond, job, what, counted=False)

    def _run(
        self, respond: Respond | None, job: Callable[[], None], what: str, counted: bool = True
    ) -> None:
        ref = uuid.uuid4().hex[:8]
        try:
            job()
        except Refused as exc:
            logger.info("refused ref=%s %s rule=%s", ref, what, exc.rule)
            self._tell(respond, escape(exc.message))
        except CommandError as exc:
            self._tell(respond, usage_text(exc))
        except UnknownSmtpUser as exc:
            self._tell(respond, f"Sarv has no SMTP user named {code(exc.name)}.")
        except sarv.Error as exc:
            logger.warning("sarv failed ref=%s %s: %s", ref, what, exc.name)
            self._tell(respond, escape(describe_sarv_error(exc)) + f" (ref `{ref}`)")
        except DatabaseUnavailable:
            logger.error("database unavailable ref=%s %s", ref, what)
            self._tell(
                respond,
                "sarvbot's database is unavailable, so nothing was changed. "
                f"Try again in a minute (ref `{ref}`).",
            )
        except Exception as exc:
            logger.exception("failed ref=%s %s (%s)", ref, what, type(exc).__name__)
            self._tell(respond, f"Something went wrong on sarvbot's side (ref `{ref}`).")
        finally:
            if counted:
                self._free_slot()

    def shutdown(self) -> None:
        """Finish queued work and stop the threads."""
        self._quick.shutdown(wait=True)
        self._pool.shutdown(wait=True)
