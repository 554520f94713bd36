"""The Slack app: Bolt, the listener groups, and the pools they work on.

Every listener acks at once and hands the Sarv work to a bounded pool of its own, so slow
Sarv calls never hold up the acks of the requests queued behind them.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from sarvbot.core import LostWork, SmtpService
from sarvbot.store import ApprovalRequest

from . import blocks
from .approvals import ApprovalListeners
from .commands import CommandListeners
from .context import SlackContext
from .directory import SlackDirectory
from .messenger import Messenger
from .work import WorkQueue, WorkTracker

__all__ = ["SlackApp", "build_web_client", "create_slack_app"]

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
    """Events sent by bots (carrying ``bot_id``) are acknowledged and ignored."""
    event = body.get("event")
    if isinstance(event, dict) and (event.get("bot_id") or event.get("subtype") == "bot_message"):
        return BoltResponse(status=200, body="")
    return next()


def _on_error(error: Exception) -> BoltResponse:
    ref = uuid.uuid4().hex[:8]
    logger.error("listener failed ref=%s: %s", ref, type(error).__name__)
    return BoltResponse(status=200, body="")


class SlackApp:
    """The Bolt app and the services it calls. Build one with :func:`create_slack_app`."""

    def __init__(self, *, bolt: App, context: SlackContext, tracker: WorkTracker) -> None:
        self.bolt = bolt
        self.context = context
        self.service = context.service
        self.tracker = tracker
        self._stopping = threading.Event()
        self.commands = CommandListeners(context)
        self.approvals = ApprovalListeners(context)
        bolt.middleware(_ignore_bots)
        self.commands.register(bolt)
        self.approvals.register(bolt)
        bolt.error(_on_error)

    def expire_requests(self) -> list[ApprovalRequest]:
        """Expire overdue requests and show it on their messages (``sarvbot expire``)."""
        return self.approvals.expire()

    def report_lost_work(self, now: datetime | None = None) -> list[LostWork]:
        """Tell, by DM, the people whose acknowledged changes a dead process never answered.

        Each is claimed by exactly one process and never run again. Returns those told.
        """
        ledger = self.context.ledger
        told = []
        for lost in ledger.claim_lost(now):
            self.context.messenger.direct_message(lost.user_id, blocks.lost_work_text(lost))
            ledger.reported(lost)
            told.append(lost)
        if told:
            logger.warning("told %s people about changes lost to a restart", len(told))
        return told

    def start_housekeeping(self, interval: float | None = None) -> None:
        """Keep this process's receipts leased and report other processes' lost work.

        Runs on a daemon thread until :meth:`close`; ``interval`` defaults to a third of
        the lease, so a live process never lets its lease lapse.
        """
        ledger = self.context.ledger
        every = interval if interval is not None else ledger.lease.total_seconds() / 3

        def loop() -> None:
            while not self._stopping.wait(every):
                try:
                    ledger.renew()
                    self.report_lost_work()
                except Exception as exc:  # the next round tries again
                    logger.warning("housekeeping failed: %s", type(exc).__name__)

        threading.Thread(target=loop, name="sarvbot-housekeeping", daemon=True).start()

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every listener and every piece of work after an ack has finished."""
        if not self.tracker.wait_idle(timeout):
            raise TimeoutError(f"sarvbot's work did not finish within {timeout} s")

    def close(self) -> None:
        """Finish queued work and stop the worker threads."""
        self._stopping.set()
        self.context.work.shutdown()


def create_slack_app(
    *,
    service: SmtpService,
    client: WebClient,
    secret_client: WebClient,
    directory: SlackDirectory,
    signing_secret: str,
    workers: int = 64,
    socket_mode: bool = False,
) -> SlackApp:
    """Build the Bolt app around a ready service (with its work ledger)."""
    ledger = service.ledger
    if ledger is None:
        raise ValueError("the Slack app needs a service with a work ledger")
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
        logger=_bolt_logger(),
    )
    messenger = Messenger(
        client=client,
        secret_client=secret_client,
        approvals=service.approvals,
        policy=lambda: service.policy,
    )
    context = SlackContext(
        service=service,
        directory=directory,
        messenger=messenger,
        work=WorkQueue(tracker, workers=workers, tell=messenger.tell),
        client=client,
        ledger=ledger,
    )
    return SlackApp(bolt=bolt, context=context, tracker=tracker)
