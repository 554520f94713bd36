"""The work done after an ack: a bounded pool, and one place that turns failures into words."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from slack_bolt.context.respond import Respond

from sarvbot import metrics, sarv
from sarvbot.core import (
    CommandError,
    DatabaseUnavailable,
    Refused,
    UnknownSmtpUser,
    WorkLedger,
    describe_sarv_error,
)
from sarvbot.logs import safe_field

from . import sentences
from .sentences import BUSY, RESTARTING

__all__ = [
    "DRAIN_SECONDS",
    "JOB_SECONDS",
    "QUEUE_ROUNDS",
    "TrackedExecutor",
    "WorkQueue",
    "WorkTracker",
    "handling_request",
]

logger = logging.getLogger("sarvbot.slack")

# How long one job may take when Sarv is as slow as the client allows: a call's connect and
# read timeouts, and a few seconds of Slack calls around it.
JOB_SECONDS = sum(sarv.DEFAULT_TIMEOUT) + 5.0
# Jobs admitted per worker thread (running and queued). It bounds both how long an admitted
# job can wait and how long a shutdown takes to finish everything admitted.
QUEUE_ROUNDS = 4
# The time a shutdown gives admitted work: every thread runs its share of a full queue.
DRAIN_SECONDS = QUEUE_ROUNDS * JOB_SECONDS
# Short Slack calls (views.open within 3 s of the click) have their own pool and bound.
QUICK_WORKERS = 8
QUICK_LIMIT = QUICK_WORKERS * 4
# Checks of channel messages (the leak watch) have their own pool, so that chatter never
# waits in front of a form's views.open; a burst past its bound is dropped, and logged.
WATCH_WORKERS = 2
WATCH_LIMIT = 5000
# Home tab views (published when the tab is opened and when a request changes) have their
# own small pool, so that a slow or rate-limited views.publish never holds up a change. Past
# its bound a view is dropped, and logged: its person sees the latest when next opening it.
HOME_WORKERS = 2
HOME_LIMIT = 64
# Refusals ("busy", "restarting") are one response_url post each, on a pool of their own so
# that they never wait behind work. The bound is only against an unbounded flood (each is a
# signed request from Slack): past it a refusal is dropped and logged.
REFUSAL_WORKERS = 4
REFUSAL_LIMIT = 4096

Tell = Callable[[Respond | None, str], object]
T = TypeVar("T")


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


@dataclass(frozen=True)
class Handled:
    """What a queued job answers (a command, a click, a form), for its one log line."""

    kind: str
    action: str
    user_id: str
    channel_id: str
    target: str | None = None

    def __str__(self) -> str:
        return f"{self.kind} {self.action}"

    def log(self, outcome: str, *, ref: str, seconds: float) -> None:
        """One line once it has ended: who, where, what, how it ended, how long it took."""
        fields = {
            "request_id": ref,
            "kind": self.kind,
            "action": safe_field(self.action),
            "user": safe_field(self.user_id),
            "channel": safe_field(self.channel_id),
            "target": safe_field(self.target),
            "outcome": outcome,
            "duration_ms": round(seconds * 1000),
        }
        _handled_log.info(" ".join(f"{key}={value}" for key, value in fields.items()), extra=fields)
        metrics.REQUESTS.labels(self.kind, str(fields["action"]), outcome).inc()


# The one line per command, click and form submission: its own logger, so that it can be
# routed or filtered on its own.
_handled_log = logging.getLogger("sarvbot.requests")


# Whether the job running in this thread failed to answer its person through Slack.
_answers = threading.local()


def note_unanswered() -> None:
    """An answer of the job running in this thread did not reach its person."""
    _answers.failed = True


def _end_written(ledger: WorkLedger, written: Future[int]) -> None:
    """End a receipt once written, if it was (a job turned away has nothing to report)."""
    if written.exception() is None:
        ledger.end(written.result())


# What identifies the Slack request being handled in this thread, set by the front door
# for HTTP requests: the work queued while handling it is run only on its first sight.
_REPLAY_KEYS: ContextVar[Mapping[str, datetime] | None] = ContextVar(
    "sarvbot_replay_keys", default=None
)


@contextmanager
def handling_request(keys: Mapping[str, datetime]) -> Iterator[None]:
    """Work queued inside this block belongs to the request ``keys`` identifies.

    Listeners run in the request's own thread, so the queue reads the keys when a job is
    submitted and checks them (through the ledger, in every process) before it runs.
    """
    token = _REPLAY_KEYS.set(keys)
    try:
        yield
    finally:
        _REPLAY_KEYS.reset(token)


class WorkQueue:
    """Runs jobs after the ack on a bounded pool; every failure reaches the user.

    When ``limit`` jobs are admitted, new ones are turned away with a message at once rather
    than leaving people waiting for minutes. The message goes out on a pool of its own, so a
    refusal never waits behind the work that filled the queue. After :meth:`stop_taking_work`
    (a shutdown) every new job is turned away with :data:`RESTARTING`.
    """

    def __init__(
        self, tracker: WorkTracker, *, workers: int, tell: Tell, ledger: WorkLedger | None = None
    ) -> None:
        self.tracker = tracker
        self._ledger = ledger
        self.limit = workers * QUEUE_ROUNDS
        self._tell = tell
        self._lock = threading.Lock()
        self._queued = 0
        self._quick_queued = 0
        self._refusals_queued = 0
        self._closing = False
        self._pool = TrackedExecutor(
            tracker, max_workers=workers, thread_name_prefix="sarvbot-work"
        )
        self._quick = TrackedExecutor(
            tracker, max_workers=QUICK_WORKERS, thread_name_prefix="sarvbot-quick"
        )
        self._watch = TrackedExecutor(
            tracker, max_workers=WATCH_WORKERS, thread_name_prefix="sarvbot-watch"
        )
        self._watch_queued = 0
        self._home = TrackedExecutor(
            tracker, max_workers=HOME_WORKERS, thread_name_prefix="sarvbot-home"
        )
        self._home_queued = 0
        self._refusals = TrackedExecutor(
            tracker, max_workers=REFUSAL_WORKERS, thread_name_prefix="sarvbot-refusal"
        )

    @property
    def closing(self) -> bool:
        """True once the process has begun to shut down and takes no new work."""
        return self._closing

    def stop_taking_work(self) -> None:
        """Turn away every new job from now on; admitted jobs still run to the end."""
        self._closing = True

    def has_room(self) -> bool:
        """False when new work would be turned away."""
        return self.refusal() is None

    def refusal(self) -> str | None:
        """The words that would turn new work away now (busy, restarting), or None."""
        with self._lock:
            if self._closing:
                return RESTARTING
            return BUSY if self._queued >= self.limit else None

    def _take_slot(self, pool: str) -> str | None:
        """Admit one job to ``pool``, or return the words that turn it away."""
        with self._lock:
            if self._closing:
                return RESTARTING
            if pool == "work":
                if self._queued >= self.limit:
                    return BUSY
                self._queued += 1
                metrics.QUEUE_DEPTH.inc()
            elif pool == "watch":
                if self._watch_queued >= WATCH_LIMIT:
                    return BUSY
                self._watch_queued += 1
            elif pool == "home":
                if self._home_queued >= HOME_LIMIT:
                    return BUSY
                self._home_queued += 1
            else:
                if self._quick_queued >= QUICK_LIMIT:
                    return BUSY
                self._quick_queued += 1
            return None

    def _free_slot(self, pool: str) -> None:
        with self._lock:
            if pool == "work":
                self._queued -= 1
                metrics.QUEUE_DEPTH.dec()
            elif pool == "watch":
                self._watch_queued -= 1
            elif pool == "home":
                self._home_queued -= 1
            else:
                self._quick_queued -= 1

    def submit(
        self,
        respond: Respond | None,
        job: Callable[[], None],
        what: str | Handled,
        *,
        receipt: Future[int] | None = None,
    ) -> bool:
        """Run ``job`` on the pool; its failures are told to the user behind ``respond``.

        ``receipt`` is the change's receipt (see WorkLedger): the job runs only if it can
        start it, and ends it once done. A job for a request already seen (a replay,
        see :func:`handling_request`) is not run. Returns False when it was turned away
        (and the user told so).
        """
        refusal = self._take_slot("work")
        if refusal is not None:
            self._refuse(respond, refusal, what)
            if receipt is not None and self._ledger is not None:
                ledger = self._ledger  # turned away, and told so: nothing to report
                receipt.add_done_callback(lambda done: _end_written(ledger, done))
            return False
        keys = _REPLAY_KEYS.get()
        self._pool.submit(self._run, respond, job, what, "work", keys, receipt)
        return True

    def soon(self, respond: Respond | None, job: Callable[[], None], what: str | Handled) -> None:
        """Run a short job right away on its own small pool, never behind Sarv work."""
        refusal = self._take_slot("quick")
        if refusal is not None:
            self._refuse(respond, refusal, what)
            return
        self._quick.submit(self._run, respond, job, what, "quick", _REPLAY_KEYS.get())

    def within(self, seconds: float, job: Callable[[], T]) -> T:
        """``job``'s result, if it comes within ``seconds``: for what must be known before
        Slack stops waiting for the answer (3 s). It runs on the quick pool; its exceptions
        propagate, and TimeoutError says it was late or found no room (a late job goes on,
        and fills the caches it fills for the next try).
        """
        if self._take_slot("quick") is not None:
            raise TimeoutError("no room on the quick pool")

        def run() -> T:
            try:
                return job()
            finally:
                self._free_slot("quick")

        try:
            answer: Future[T] = self._quick.submit(run)
        except BaseException:
            self._free_slot("quick")
            raise
        return answer.result(timeout=seconds)

    def watch(self, job: Callable[[], None], what: str) -> bool:
        """Run a check of a channel message on the watch pool; False if it was dropped.

        Nobody waits for its answer: a drop is logged (without the message), never told.
        """
        if self._take_slot("watch") is not None:
            logger.warning("%s dropped: the watch pool is full", what)
            return False
        self._watch.submit(self._run, None, job, what, "watch", _REPLAY_KEYS.get())
        return True

    def publish(self, job: Callable[[], None], what: str | Handled) -> bool:
        """Run a Home tab publication on the home pool; False if it was dropped.

        Publishing a view is safe to repeat, so it has no replay gate (which would need the
        database, and the view for a database that is down is worth publishing). Nobody
        waits for its answer: a drop is logged, never told.
        """
        refusal = self._take_slot("home")
        if refusal is not None:
            logger.warning(
                "%s dropped: %s",
                what,
                "restarting" if refusal == RESTARTING else "the home pool is full",
            )
            return False
        self._home.submit(self._run, None, job, what, "home")
        return True

    def _refuse(self, respond: Respond | None, text: str, what: str | Handled) -> None:
        reason = "restarting" if text == RESTARTING else "busy"
        logger.warning("%s turned away: %s", what, reason)
        metrics.REFUSALS.labels(reason).inc()
        with self._lock:
            if self._refusals_queued >= REFUSAL_LIMIT:
                logger.warning("%s: too many refusals waiting; this one is not sent", what)
                return
            self._refusals_queued += 1
        try:
            self._refusals.submit(self._send_refusal, respond, text, what, _REPLAY_KEYS.get())
        except RuntimeError:  # the pools are already shut down: the process is exiting
            with self._lock:
                self._refusals_queued -= 1
            logger.warning("%s: turned away after shutdown; no answer sent", what)

    def _send_refusal(
        self,
        respond: Respond | None,
        text: str,
        what: str,
        keys: Mapping[str, datetime] | None = None,
    ) -> None:
        try:
            if keys and self._ledger is not None and self._ledger.seen_before(keys):
                # A replay of a request already let in: its response_url is the original's,
                # and "nothing was done" would tell its person something false.
                logger.info("%s: a replay turned away; no answer sent", what)
                return
            self._tell(respond, text)
        finally:
            with self._lock:
                self._refusals_queued -= 1

    def _run(
        self,
        respond: Respond | None,
        job: Callable[[], None],
        what: str | Handled,
        pool: str,
        keys: Mapping[str, datetime] | None = None,
        written: Future[int] | None = None,
    ) -> None:
        ref = uuid.uuid4().hex[:8]
        began = time.monotonic()
        outcome = "ok"
        ledger = self._ledger
        receipt: int | None = None
        _answers.failed = False
        try:
            if written is not None and ledger is not None:
                started = ledger.start(written.result())  # no receipt, no work
                if not started:
                    # Its lease lapsed and another process told the person it did not run.
                    logger.warning("%s: its receipt was claimed elsewhere; not run", what)
                    outcome = "claimed-elsewhere"
                    return
                receipt = written.result()
            if keys and ledger is not None and not ledger.first_sight(keys):
                logger.info("%s: a request already handled (a replay or a retry); not run", what)
                outcome = "replay"
                return
            job()
        except Refused as exc:
            outcome = "refused"
            logger.info("refused ref=%s %s rule=%s", ref, what, exc.rule)
            self._record(receipt, "refused", exc.message)
            self._tell(respond, sentences.words(exc.message))
        except CommandError as exc:
            outcome = "usage"
            self._record(receipt, "refused", exc.message)
            self._tell(respond, sentences.usage(exc))
        except UnknownSmtpUser as exc:
            outcome = "unknown-user"
            self._record(receipt, "failed", str(exc) + ".")
            self._tell(respond, sentences.no_such_user(exc.name, exc.suggestions))
        except sarv.Error as exc:
            outcome = "sarv-error"
            logger.warning("sarv failed ref=%s %s: %s", ref, what, exc.name)
            self._tell(respond, sentences.sarv_error(describe_sarv_error(exc), ref))
        except DatabaseUnavailable:
            outcome = "database-unavailable"
            logger.error("database unavailable ref=%s %s", ref, what)
            self._tell(respond, sentences.with_ref(sentences.DATABASE_DOWN, ref))
        except Exception as exc:
            outcome = "error"
            logger.exception("failed ref=%s %s (%s)", ref, what, type(exc).__name__)
            self._tell(respond, sentences.something_went_wrong(ref))
        finally:
            if receipt is not None and ledger is not None:
                # Unheard: left for a DM (report_lost_work) instead of ending in silence.
                ledger.end(receipt, told=not getattr(_answers, "failed", False))
            self._free_slot(pool)
            if isinstance(what, Handled):
                what.log(outcome, ref=ref, seconds=time.monotonic() - began)

    def _record(self, receipt: int | None, outcome: str, words: str) -> None:
        if receipt is not None and self._ledger is not None:
            self._ledger.record(receipt, outcome, words)

    def shutdown(self) -> None:
        """Take no new work, finish what was admitted, and stop the threads."""
        self.stop_taking_work()
        self._quick.shutdown(wait=True)
        self._watch.shutdown(wait=True)
        self._home.shutdown(wait=True)
        self._pool.shutdown(wait=True)
        self._refusals.shutdown(wait=True)
