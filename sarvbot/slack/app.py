"""The Slack app: Bolt, the listener groups, and the pools they work on.

Every listener acks at once and hands the Sarv work to a bounded pool of its own, so slow
Sarv calls never hold up the acks of the requests queued behind them.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_bolt.request.payload_utils import is_slash_command
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from sarvbot import metrics
from sarvbot.core import (
    ApprovalRequest,
    AuditTrail,
    Core,
    LostWork,
    Ran,
    Rotation,
    Scheduler,
    TimedChange,
)
from sarvbot.core.schedule import (
    CHECK_CREDENTIAL_AGE,
    COMPLETE_STEP,
    ESCALATE_REQUEST,
    EXPIRE_REQUESTS,
    FORGET_OLD_JOBS,
    JOB_MEMORY,
    REMIND_CREDENTIAL_AGE,
    REMIND_REQUEST,
    REMIND_RETIRE,
    REMIND_REVERT,
    REPORT_LOST_WORK,
    REQUEST_ENDED,
    RETIRE_OLD,
    REVERT_CHANGE,
    WATCH_STEP,
    DueJob,
)

from . import blocks, listeners, sentences, steps
from .context import CONTEXT_KEY, SlackContext
from .directory import SlackDirectory
from .flows import (
    end_timed_change,
    nudge_request,
    remind_password_age,
    remind_retire,
    remind_timed_change,
    retire_rotated,
    tell_request_ended,
)
from .home import HomeTab
from .messenger import Messenger
from .work import DRAIN_SECONDS, WorkQueue, WorkTracker

__all__ = [
    "INSTALLED_APP_RULE",
    "InstalledApp",
    "SlackApp",
    "SlackSetupError",
    "build_web_client",
    "create_slack_app",
    "installed_app",
]

logger = logging.getLogger("sarvbot.slack")

# The client that carries passwords logs through a logger that never writes a record:
# slack_sdk logs request bodies at DEBUG.
_SILENT = logging.getLogger("sarvbot.slack.secret-transport")
_SILENT.disabled = True
_SILENT.propagate = False


def build_web_client(token: str, base_url: str | None, *, silent: bool = False) -> WebClient:
    """A Web API client that retries after Slack's 429s and on dropped connections."""
    kwargs: dict[str, Any] = {
        "token": token,
        "retry_handlers": [
            ConnectionErrorRetryHandler(max_retry_count=1),
            RateLimitErrorRetryHandler(max_retry_count=2),
        ],
        "timeout": 15,
    }
    if base_url:
        kwargs["base_url"] = base_url
    if silent:
        kwargs["logger"] = _SILENT
    return WebClient(**kwargs)


class _DropClientTokenNotice(logging.Filter):
    # Bolt notices SLACK_BOT_TOKEN in the environment beside the client it is given; the
    # client already holds that token, so the notice is noise in every worker's log.
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("As you gave `client` as well")


def _bolt_logger() -> logging.Logger:
    bolt_logger = logging.getLogger("sarvbot.bolt")
    if not any(isinstance(f, _DropClientTokenNotice) for f in bolt_logger.filters):
        bolt_logger.addFilter(_DropClientTokenNotice())
    return bolt_logger


def _ignore_bots(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse:
    """Events sent by bots (carrying ``bot_id``) are acknowledged and ignored, but for
    messages: a CI bot pasting a log is the leak watch's most common case.
    """
    event = body.get("event")
    if (
        isinstance(event, dict)
        and event.get("type") != "message"
        and (event.get("bot_id") or event.get("subtype") == "bot_message")
    ):
        return BoltResponse(status=200, body="")
    return next()


INSTALLED_APP_RULE = "installed_app"
_ID = re.compile(r"[^A-Za-z0-9_]")


class SlackSetupError(Exception):
    """Slack would not say which workspace and app the bot token belongs to."""


@dataclass(frozen=True)
class InstalledApp:
    """The workspace (or organisation) and the app the bot token belongs to.

    A request signed with the app's secret but naming another team or app (the signing
    secret is the same in every workspace an app is installed in) is refused.
    """

    team_id: str
    app_id: str
    # sarvbot's own user: a member of the approvals channel, never a decider.
    bot_user_id: str = ""
    enterprise_id: str | None = None
    is_enterprise_install: bool = False

    def refuses(self, *, team_id: str | None, enterprise_id: str | None, app_id: object) -> str:
        """Why a request with these ids is not for this app, or "" when it is."""
        if app_id != self.app_id:
            return "another app"
        if self.is_enterprise_install:
            # An org-wide install serves every workspace of its organisation.
            return "" if enterprise_id == self.enterprise_id else "another organisation"
        if team_id != self.team_id:
            return "another workspace"
        if enterprise_id and self.enterprise_id and enterprise_id != self.enterprise_id:
            return "another organisation"
        return ""


def installed_app(client: WebClient) -> InstalledApp:
    """Ask Slack who the bot token is: auth.test for the team, bots.info for the app id.

    Raises SlackSetupError with Slack's error code (bots.info needs ``users:read``).
    """
    try:
        auth = client.auth_test()
        bot_id = auth.get("bot_id")
        if not isinstance(bot_id, str) or not bot_id:
            raise SlackSetupError("auth.test named no bot: SLACK_BOT_TOKEN is not a bot token")
        bot = client.bots_info(bot=bot_id).get("bot") or {}
    except SlackApiError as exc:
        error = exc.response.get("error") or f"HTTP {exc.response.status_code}"
        raise SlackSetupError(f"Slack did not say which app sarvbot is: {error}") from None
    team_id, app_id = auth.get("team_id"), bot.get("app_id") if isinstance(bot, dict) else None
    if not isinstance(team_id, str) or not isinstance(app_id, str) or not team_id or not app_id:
        raise SlackSetupError("Slack did not say which workspace and app sarvbot belongs to")
    enterprise_id = auth.get("enterprise_id")
    bot_user_id = auth.get("user_id")
    return InstalledApp(
        team_id=team_id,
        app_id=app_id,
        bot_user_id=bot_user_id if isinstance(bot_user_id, str) else "",
        enterprise_id=enterprise_id if isinstance(enterprise_id, str) and enterprise_id else None,
        is_enterprise_install=auth.get("is_enterprise_install") is True,
    )


def _clean_id(value: object) -> str:
    """A Slack id from a request, safe for a log line and an audit column."""
    return _ID.sub("", str(value))[:32] if value is not None else ""


def _installed_app_only(installed: InstalledApp, trail: AuditTrail) -> Callable[..., BoltResponse]:
    """A middleware refusing requests meant for another workspace or another app."""

    def installed_app_only(
        body: dict[str, Any], context: BoltContext, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        # Bolt reads the team the way Slack sends it for each payload kind: team_id for
        # commands and events, team.id for clicks and views, a view's app_installed_team_id.
        app_id = body.get("api_app_id")
        if app_id is None and body.get("type") in ("message_action", "shortcut"):
            # Slack names no app on a shortcut (message or global); its signature, made with
            # this app's signing secret, does. The workspace is still checked.
            app_id = installed.app_id
        why = installed.refuses(
            team_id=context.team_id, enterprise_id=context.enterprise_id, app_id=app_id
        )
        if not why:
            return next()
        team, app = _clean_id(context.team_id), _clean_id(app_id)
        kind = "command" if is_slash_command(body) else _clean_id(body.get("type")) or "request"
        logger.warning("refused a %s from %s: team=%s app=%s", kind, why, team, app)
        # The refusal stands even if it cannot be recorded.
        trail.record(
            _clean_id(context.user_id) or "unknown",
            _clean_id(context.channel_id) or "unknown",
            kind,
            "refused",
            rule=INSTALLED_APP_RULE,
            error=f"a request from {why}",
            detail=f"team {team or '-'}, app {app or '-'}",
            best_effort=True,
        )
        if is_slash_command(body):
            return _ephemeral_ack(sentences.FOREIGN)
        return BoltResponse(status=200, body="")

    return installed_app_only


def _ephemeral_ack(text: str) -> BoltResponse:
    message = {"response_type": "ephemeral", **blocks.text_message(text)}
    return BoltResponse(
        status=200, body=json.dumps(message), headers={"content-type": "application/json"}
    )


def _refuse_while_draining(work: WorkQueue) -> Callable[..., BoltResponse]:
    """A middleware that answers a command with "restarting" in its ack once shutdown began.

    Clicks and forms reach their listeners, whose work the queue turns away with the same
    words through the response_url.
    """

    def refuse_while_draining(
        body: dict[str, Any], next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        if work.closing and is_slash_command(body):
            return _ephemeral_ack(sentences.RESTARTING)
        return next()

    return refuse_while_draining


def _with_context(ours: SlackContext) -> Callable[..., BoltResponse]:
    """A middleware that hands the listeners their SlackContext through Bolt's context."""

    def with_context(context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
        context[CONTEXT_KEY] = ours
        return next()

    return with_context


def _on_error(error: Exception) -> BoltResponse:
    ref = uuid.uuid4().hex[:8]
    logger.error("listener failed ref=%s: %s", ref, type(error).__name__)
    return BoltResponse(status=200, body="")


class SlackApp:
    """The Bolt app and the services it calls. Build one with :func:`create_slack_app`."""

    def __init__(
        self,
        *,
        bolt: App,
        context: SlackContext,
        tracker: WorkTracker,
        installed: InstalledApp,
    ) -> None:
        self.bolt = bolt
        self.context = context
        self.core = context.core
        self.tracker = tracker
        self._stopping = threading.Event()
        self._round_every: float | None = None
        self._housekeeping: threading.Thread | None = None
        self._last_round = 0.0
        self.installed = installed
        bolt.middleware(_ignore_bots)
        bolt.middleware(_installed_app_only(installed, context.core.trail))
        bolt.middleware(_refuse_while_draining(context.work))
        bolt.middleware(_with_context(context))
        listeners.register(bolt)
        bolt.error(_on_error)
        ledger = context.core.ledger
        self.scheduler = Scheduler(
            context.core.jobs,
            {
                EXPIRE_REQUESTS: lambda job, now: self.core.approvals.expire(),
                REPORT_LOST_WORK: lambda job, now: self.report_lost_work(now),
                REQUEST_ENDED: self._request_ended,
                REMIND_REQUEST: lambda job, now: nudge_request(
                    context, int(job.payload["request_id"]), now, escalate=False
                ),
                ESCALATE_REQUEST: lambda job, now: nudge_request(
                    context, int(job.payload["request_id"]), now, escalate=True
                ),
                REVERT_CHANGE: lambda job, now: end_timed_change(
                    context, TimedChange.from_payload(job.payload), job.attempts
                ),
                REMIND_REVERT: lambda job, now: remind_timed_change(
                    context, TimedChange.from_payload(job.payload)
                ),
                RETIRE_OLD: lambda job, now: retire_rotated(
                    context, Rotation.from_payload(job.payload), job.attempts
                ),
                REMIND_RETIRE: lambda job, now: remind_retire(
                    context, Rotation.from_payload(job.payload)
                ),
                CHECK_CREDENTIAL_AGE: lambda job, now: self._plan_password_reminders(now),
                FORGET_OLD_JOBS: lambda job, now: context.core.jobs.forget_ended(now - JOB_MEMORY),
                REMIND_CREDENTIAL_AGE: lambda job, now: remind_password_age(context, job.payload),
                COMPLETE_STEP: lambda job, now: steps.complete_step(context, job),
                WATCH_STEP: lambda job, now: steps.watch_step(context, job),
            },
            owner=ledger.owner,
            lease=ledger.lease,
            every=ledger.lease / 3,
        )
        context.run_due = lambda kinds: self.scheduler.run_due(kinds=kinds)
        context.messenger.request_watchers.append(
            lambda request: steps.request_changed(context, request)
        )

    def expire_requests(self) -> list[ApprovalRequest]:
        """Expire overdue requests, mark those left running unknown, and tell their people.

        Returns the requests this call changed. The notices are due jobs committed with
        each change, so any that this process does not get to are sent by another.
        """
        changed = self.core.approvals.expire()
        self.scheduler.run_due(kinds=(REQUEST_ENDED,))
        return changed

    def run_schedule(self, *, everything_now: bool = False) -> list[Ran]:
        """Run the timed work that is due; ``everything_now`` brings periodic work forward.

        ``sarvbot expire`` runs it once with ``everything_now``; serving processes run it
        from :meth:`start_housekeeping`.
        """
        if everything_now:
            self.scheduler.start_periodic(bring_forward=True)
        return self.scheduler.run_due()

    def _request_ended(self, job: DueJob, now: datetime) -> None:
        request = self.core.approvals.get(int(job.payload["request_id"]))
        if request is None:
            return
        if not tell_request_ended(self.context, request):
            # Raised so the job is tried again later; the message update is safe to repeat.
            raise RuntimeError("Slack did not take the notice to the requester")

    def _plan_password_reminders(self, now: datetime) -> int:
        """One reminder per owner and stale password per ISO week, however often this runs."""
        return sum(
            self.scheduler.schedule(REMIND_CREDENTIAL_AGE, f"{REMIND_CREDENTIAL_AGE}:{key}", now, p)
            for key, p in self.core.catalogue.password_reminders(now).items()
        )

    def report_lost_work(self, now: datetime | None = None) -> list[LostWork]:
        """Tell, by DM, the people whose acknowledged changes a dead process never answered.

        Each is claimed by exactly one process and never run again. Returns those told.
        One whose DM Slack did not take stays claimed until its lease lapses, and is then
        claimed (by any process) and told again.
        """
        ledger = self.core.ledger
        told = []
        for lost in ledger.claim_lost(now):
            if not self.context.messenger.direct_message(lost.user_id, sentences.lost_work(lost)):
                continue
            ledger.reported(lost)
            told.append(lost)
        if told:
            logger.warning("told %s people about changes lost to a restart", len(told))
        return told

    def start_housekeeping(self, interval: float | None = None) -> None:
        """Keep this process's receipts leased and run the timed work that is due.

        Runs on a daemon thread until :meth:`close`; ``interval`` defaults to a third of
        the lease, so a live process never lets its lease lapse, and periodic work (expiry,
        requests left running, lost work) comes round at the same pace. Each due job is
        claimed by one process, so several processes doing this at once do each item once.
        """
        ledger = self.core.ledger
        every = interval if interval is not None else ledger.lease.total_seconds() / 3
        self.scheduler.every = timedelta(seconds=every)
        steps: list[tuple[str, Callable[[], object]]] = [
            ("renew", ledger.renew),
            ("periodic jobs", self.scheduler.start_periodic),
            ("schedule", self.scheduler.run_due),
            ("leak watch", self._refresh_leak_watch),
        ]

        def loop() -> None:
            wait = 0.0  # the first round at once: work left by a dead process waits no longer
            while not self._stopping.wait(wait):
                wait = every
                metrics.HOUSEKEEPING.set_to_current_time()
                done = True
                for name, step in steps:
                    try:
                        step()
                    except Exception as exc:  # the next round tries again
                        done = False
                        logger.warning("housekeeping (%s) failed: %s", name, type(exc).__name__)
                if done:
                    self._last_round = time.monotonic()

        self._round_every = every
        self._last_round = time.monotonic()
        self._housekeeping = threading.Thread(target=loop, name="sarvbot-housekeeping", daemon=True)
        self._housekeeping.start()

    def _refresh_leak_watch(self) -> bool:
        """Each process keeps its own index (its key lives only in its memory)."""
        if not self.core.permissions.policy.leak_watch:
            return False
        return self.core.leak_watch.refresh_if_due()

    def readiness(self) -> dict[str, str]:
        """What ``GET /readyz`` reports: the database, and the schedule when it runs here.

        Each value is ``ok`` or a few words on what is wrong, never a secret.
        """
        report = {"database": "ok", "schedule": "ok"}
        try:
            self.core.approvals.check_database()
        except Exception as exc:
            report["database"] = f"unavailable ({type(exc).__name__})"
        if self._round_every is None:
            report["schedule"] = "not run by this process"
        elif time.monotonic() - self._last_round > 3 * self._round_every:
            report["schedule"] = "late: no complete round in three intervals"
        return report

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every listener and every piece of work after an ack has finished."""
        if not self.tracker.wait_idle(timeout):
            raise TimeoutError(f"sarvbot's work did not finish within {timeout} s")

    @property
    def draining(self) -> bool:
        """True once :meth:`stop_taking_work` was called."""
        return self.context.work.closing

    def stop_taking_work(self) -> None:
        """Begin a shutdown: new commands get "restarting", admitted work goes on."""
        if not self.draining:
            logger.info("shutting down: new work is turned away, admitted work finishes")
        self.context.work.stop_taking_work()

    def finish_for_shutdown(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Stop taking work and wait (up to ``timeout``) for admitted work; False if cut short."""
        self.stop_taking_work()
        if self.tracker.wait_idle(timeout):
            logger.info("shutting down: all admitted work has finished")
            return True
        logger.error("shutting down: admitted work still running after %.0f s", timeout)
        return False

    def close(self) -> None:
        """Take no new work, start no timed job, finish admitted work and the job under
        way, and stop the worker threads.
        """
        self._stopping.set()
        self.scheduler.stop()
        if self._housekeeping is not None:
            self._housekeeping.join(timeout=DRAIN_SECONDS)
        self.context.work.shutdown()
        self.core.ledger.close()


def create_slack_app(
    *,
    core: Core,
    client: WebClient,
    secret_client: WebClient,
    directory: SlackDirectory,
    signing_secret: str,
    workers: int = 64,
    socket_mode: bool = False,
) -> SlackApp:
    """Build the Bolt app around a ready core.

    Asks Slack which workspace and app the bot token belongs to (SlackSetupError if it
    will not say); requests naming any other are refused.
    """
    tracker = WorkTracker()
    bolt = App(
        client=client,
        signing_secret=signing_secret,
        token_verification_enabled=True,
        request_verification_enabled=not socket_mode,
        # Every listener only acks and queues its work, so it may run in the request's own
        # thread: the answer goes out as soon as the listener returns, without a handoff to
        # Bolt's pool and its 10 ms polling for the ack.
        process_before_response=True,
        # A workflow step's own token stays out of the clients: steps complete with ours.
        attaching_function_token_enabled=False,
        logger=_bolt_logger(),
    )
    messenger = Messenger(
        client=client,
        secret_client=secret_client,
        approvals=core.approvals,
        permissions=core.permissions,
    )
    work = WorkQueue(tracker, workers=workers, tell=messenger.tell, ledger=core.ledger)
    installed = installed_app(client)
    home = HomeTab(core, client, work, bot_user_id=installed.bot_user_id)
    messenger.request_watchers.append(home.request_changed)
    context = SlackContext(
        core=core,
        directory=directory,
        messenger=messenger,
        work=work,
        client=client,
        home=home,
    )
    return SlackApp(bolt=bolt, context=context, tracker=tracker, installed=installed)
