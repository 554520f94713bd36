"""The Slack app: Bolt listeners that translate payloads into core calls and blocks back.

Every listener acks at once and hands the Sarv work to a pool of its own, so slow Sarv
calls never hold up the acks of the requests queued behind them.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from sarvbot import sarv
from sarvbot.core import (
    Actor,
    Change,
    Command,
    CommandError,
    DecisionKind,
    Refused,
    SmtpService,
    UnknownSmtpUser,
    describe_change_failure,
    describe_sarv_error,
    outcome_unknown,
    parse_command,
)
from sarvbot.policy import Decision, Verdict
from sarvbot.sarv import Credentials, UserStatus
from sarvbot.store import ApprovalRequest, DatabaseUnavailable

from . import blocks
from .blocks import Message
from .directory import SlackDirectory
from .mrkdwn import code, escape

__all__ = ["SlackApp", "build_web_client", "create_slack_app"]

logger = logging.getLogger("sarvbot.slack")

# The client that carries passwords logs through a logger that never writes a record:
# slack_sdk logs request bodies at DEBUG.
_SILENT = logging.getLogger("sarvbot.slack.secret-transport")
_SILENT.disabled = True
_SILENT.propagate = False

BUSY = "sarvbot is busy right now, so nothing was done. Try again in a minute."

_UNDELIVERABLE = {
    "messages_tab_disabled": "your DM with sarvbot is turned off",
    "user_not_in_channel": "you have not opened your DM with sarvbot",
    "channel_not_found": "you have not opened your DM with sarvbot",
    "user_disabled": "your account is deactivated",
    "user_not_found": "Slack does not know your account",
}


class WorkTracker:
    """Counts tasks in flight across executors, so tests and the demo can wait for quiet."""

    def __init__(self) -> None:
        self._idle = threading.Condition()
        self._running = 0

    def begin(self) -> None:
        with self._idle:
            self._running += 1

    def end(self) -> None:
        with self._idle:
            self._running -= 1
            if self._running == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
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


@dataclass
class _Meta:
    """What a modal carries in its private_metadata."""

    channel_id: str
    user: str | None = None
    response_url: str | None = None
    original: dict[str, Any] = field(default_factory=dict)
    request_id: int | None = None

    def dump(self) -> str:
        return json.dumps(
            {
                "c": self.channel_id,
                "u": self.user,
                "r": self.response_url,
                "o": self.original,
                "q": self.request_id,
            }
        )

    @classmethod
    def load(cls, text: str) -> _Meta:
        data = json.loads(text or "{}")
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            raise ValueError("private_metadata")
        user, url, original, request_id = data.get("u"), data.get("r"), data.get("o"), data.get("q")
        return cls(
            channel_id=data["c"],
            user=user if isinstance(user, str) else None,
            response_url=url
            if isinstance(url, str) and url.startswith(("https://", "http://"))
            else None,
            original=original if isinstance(original, dict) else {},
            request_id=request_id if isinstance(request_id, int) else None,
        )


@dataclass
class _Form:
    """A submitted add or edit form: its values read, with an error per bad field."""

    meta: _Meta | None
    values: dict[str, Any]
    errors: dict[str, str]
    total: int | None
    hourly: int | None
    reason: str

    @classmethod
    def read(cls, view: dict[str, Any]) -> _Form:
        state = view.get("state")
        values = state.get("values") if isinstance(state, dict) else None
        values = values if isinstance(values, dict) else {}
        errors: dict[str, str] = {}
        try:
            meta: _Meta | None = _Meta.load(str(view.get("private_metadata") or ""))
        except ValueError:
            meta = None
            errors["total_limit"] = "This form is out of date: close it and run the command again."
        total = _read_limit(values, "total_limit", errors)
        hourly = _read_limit(values, "hourly_limit", errors)
        return cls(meta, values, errors, total, hourly, _reason(values, errors))


def _state_element(values: object, block_id: str) -> dict[str, Any]:
    """One input's state from a view submission, whatever shape the payload has."""
    block = values.get(block_id) if isinstance(values, dict) else None
    element = block.get("value") if isinstance(block, dict) else None
    return element if isinstance(element, dict) else {}


def _state_text(values: object, block_id: str) -> str:
    raw = _state_element(values, block_id).get("value")
    return raw.strip() if isinstance(raw, str) else ""


def _state_choice(values: object, block_id: str) -> str | None:
    option = _state_element(values, block_id).get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) else None


def _read_limit(values: object, block_id: str, errors: dict[str, str]) -> int | None:
    text = _state_text(values, block_id)
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= sarv.MAX_LIMIT:
        errors[block_id] = f"Enter a whole number from 1 to {sarv.MAX_LIMIT:,}."
        return None
    return int(text)


class SlackApp:
    """The Bolt app and the services it calls. Build one with :func:`create_bolt_app`."""

    def __init__(
        self,
        *,
        bolt: App,
        service: SmtpService,
        client: WebClient,
        secret_client: WebClient,
        directory: SlackDirectory,
        workers: int,
        tracker: WorkTracker | None = None,
    ) -> None:
        self.bolt = bolt
        self.service = service
        self.client = client
        self.secret_client = secret_client
        self.directory = directory
        self.tracker = tracker or WorkTracker()
        self.queue_limit = workers * 8
        self._queue_lock = threading.Lock()
        self._queued = 0
        self.work = TrackedExecutor(
            self.tracker, max_workers=workers, thread_name_prefix="sarvbot-work"
        )
        self._register()

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every listener and every piece of work after an ack has finished."""
        if not self.tracker.wait_idle(timeout):
            raise TimeoutError(f"sarvbot's work did not finish within {timeout} s")

    def close(self) -> None:
        """Finish queued work and stop the worker threads."""
        self.work.shutdown(wait=True)

    # Plumbing

    def _register(self) -> None:
        app = self.bolt
        app.middleware(self._ignore_bots)
        app.command("/smtp")(self.on_command)
        app.action(blocks.ACTION_LIST_PAGE)(self.on_list_page)
        app.action(blocks.ACTION_REMOVE_SECRET)(self.on_remove_secret)
        app.action(blocks.ACTION_APPROVE)(self.on_approve)
        app.action(blocks.ACTION_RETRY)(self.on_retry)
        app.action(blocks.ACTION_DENY)(self.on_deny)
        app.view(blocks.VIEW_EDIT)(self.on_edit_submit)
        app.view(blocks.VIEW_ADD)(self.on_add_submit)
        app.view(blocks.VIEW_DENY)(self.on_deny_submit)
        app.error(self._on_error)

    @staticmethod
    def _ignore_bots(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse:
        event = body.get("event") or {}
        if isinstance(event, dict) and (
            event.get("bot_id") or event.get("subtype") == "bot_message"
        ):
            return BoltResponse(status=200, body="")
        return next()

    @staticmethod
    def _on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        ref = uuid.uuid4().hex[:8]
        logger.error("listener failed ref=%s: %s", ref, type(error).__name__)
        return BoltResponse(status=200, body="")

    def _submit(self, respond: Respond | None, job: Callable[[], None], what: str) -> None:
        """Run ``job`` after the ack; every failure reaches the user as a message.

        When the queue is full the user is told at once, rather than waiting for minutes.
        """
        ref = uuid.uuid4().hex[:8]
        if not self._take_slot():
            logger.warning("busy: %s turned away, %s jobs queued", what, self.queue_limit)
            self.work.submit(self._tell, respond, BUSY)
            return

        def run() -> None:
            try:
                job()
            except Refused as exc:
                logger.info("refused ref=%s %s rule=%s", ref, what, exc.rule)
                self._tell(respond, escape(exc.message))
            except CommandError as exc:
                self._tell(respond, _usage_text(exc))
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
                with self._queue_lock:
                    self._queued -= 1

        self.work.submit(run)

    def _take_slot(self) -> bool:
        """Count one more queued job, unless the queue is full."""
        with self._queue_lock:
            if self._queued >= self.queue_limit:
                return False
            self._queued += 1
            return True

    def _has_room(self) -> bool:
        with self._queue_lock:
            return self._queued < self.queue_limit

    def _tell(self, respond: Respond | None, text: str) -> None:
        self._reply(respond, blocks.text_message(text))

    def _reply(self, respond: Respond | None, message: Message, *, replace: bool = False) -> None:
        if respond is None:
            return
        try:
            respond(response_type="ephemeral", replace_original=replace, **message)
        except Exception as exc:
            logger.warning("could not answer through response_url: %s", type(exc).__name__)

    def _actor(self, user_id: str) -> Actor:
        return Actor(user_id, is_guest=self.directory.is_guest(user_id))

    def _announce(self, channel_id: str, message: Message, respond: Respond | None) -> None:
        """Post a change's note in the channel; through response_url if sarvbot is not in it."""
        try:
            self.client.chat_postMessage(
                channel=channel_id, unfurl_links=False, unfurl_media=False, **message
            )
        except SlackApiError as exc:
            if exc.response.get("error") not in ("not_in_channel", "channel_not_found"):
                raise
            if respond is not None:
                respond(response_type="in_channel", replace_original=False, **message)

    def deliver_secret(
        self,
        user_id: str,
        credentials: Credentials,
        reason: str,
        respond: Respond | None,
        *,
        notify: Callable[[str], None] | None = None,
    ) -> bool:
        """The one way a password leaves sarvbot: an ephemeral in the user's DM with the app.

        When that fails the user is told where they are, without the password.
        """
        try:
            opened = self.secret_client.conversations_open(users=user_id)
            channel = opened["channel"]["id"]
            self.secret_client.chat_postEphemeral(
                channel=channel, user=user_id, **blocks.secret_message(credentials, reason)
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "unknown")
            logger.warning("password delivery failed for %s: %s", user_id, error)
            why = _UNDELIVERABLE.get(error, f"Slack answered {error}")
            text = (
                f"I could not send you the password of {code(credentials.name)}: "
                f"{escape(why)}. Open sarvbot's Messages tab (App Home), then run "
                f"`/smtp reveal {escape(credentials.name)}` where reveal is allowed."
            )
            if notify is not None:
                notify(text)
            else:
                self._tell(respond, text)
            return False
        self._tell(respond, f"The password of {code(credentials.name)} is in your DM with sarvbot.")
        return True

    # Slash command

    def on_command(self, ack: Callable[..., None], body: dict[str, Any], respond: Respond) -> None:
        """``/smtp ...``: ack at once; parse errors are the ack itself."""
        try:
            command = parse_command(str(body.get("text", "")))
        except CommandError as exc:
            ack(response_type="ephemeral", **blocks.text_message(_usage_text(exc)))
            return
        user_id, channel_id = str(body.get("user_id")), str(body.get("channel_id"))
        if not self._has_room():
            # Turned away in the ack itself: no extra call to Slack while overloaded.
            ack(response_type="ephemeral", **blocks.text_message(BUSY))
            return
        if command.wants_modal:
            ack()
            self._open_form(command, body, respond)
            return
        ack()
        self._submit(
            respond,
            lambda: self._run_command(command, user_id, channel_id, respond),
            f"/smtp {command.action}",
        )

    def _run_command(
        self, command: Command, user_id: str, channel_id: str, respond: Respond
    ) -> None:
        actor = self._actor(user_id)
        action = command.action
        verdict = self.service.authorize(actor, channel_id, action, command.user)
        policy = self.service.policy
        if action == "help":
            message = blocks.help_message(
                channel_id,
                policy.allowed_actions(channel_id, is_guest=actor.is_guest),
                policy.requestable_actions(channel_id, is_guest=actor.is_guest),
            )
        elif action == "whoami":
            message = blocks.whoami_message(
                user_id,
                channel_id,
                policy.allowed_actions(channel_id, is_guest=actor.is_guest),
                policy.requestable_actions(channel_id, is_guest=actor.is_guest),
                is_guest=actor.is_guest,
            )
        elif action == "list":
            message = blocks.user_list_message(
                self.service.list_users(command.text), command.text, 0
            )
        elif action == "show":
            assert command.user is not None
            message = blocks.user_message(self.service.get_user(command.user))
        elif action == "reveal":
            assert command.user is not None
            credentials = self.service.reveal(actor, channel_id, command.user, verdict.rule)
            self.deliver_secret(user_id, credentials, "Current SMTP password", respond)
            return
        elif action == "requests":
            message = blocks.requests_message(self.service.pending_requests())
        elif action == "audit":
            message = blocks.audit_message(
                self.service.audit.latest(target=command.user, limit=20), command.user
            )
        elif action == "cancel":
            assert command.request_id is not None
            cancelled = self.service.cancel(actor, channel_id, command.request_id)
            self._refresh_approval_message(cancelled)
            message = blocks.text_message(f"Request #{cancelled.id} is withdrawn.")
        else:
            change = _change_of(command)
            self._change(actor, channel_id, change, verdict, command.reason, respond)
            return
        self._reply(respond, message)

    def _change(
        self,
        actor: Actor,
        channel_id: str,
        change: Change,
        verdict: Verdict,
        reason: str,
        respond: Respond | None,
    ) -> None:
        if verdict.decision is Decision.REQUEST:
            request = self.service.request_change(
                actor, channel_id, change, reason, rule=verdict.rule
            )
            self._post_request(request, respond)
            return
        try:
            result = self.service.apply(actor, channel_id, change, rule=verdict.rule)
        except sarv.Error as exc:
            if not outcome_unknown(exc, repeatable=change.repeatable):
                raise
            logger.warning("outcome unknown for %s %s: %s", change.action, change.target, exc.name)
            self._tell(
                respond,
                escape(
                    describe_change_failure(exc, action=change.action, repeatable=change.repeatable)
                ),
            )
            return
        detail = ", ".join(f"{k.replace('_limit', '')} {v}" for k, v in change.params().items())
        if change.action in ("enable", "disable"):
            detail = ""
        self._announce(
            channel_id,
            blocks.announcement(actor.user_id, change.action, result.target, detail),
            respond,
        )
        if result.credentials is not None:
            title = "New SMTP user" if change.action == "add" else "New SMTP password"
            self.deliver_secret(actor.user_id, result.credentials, title, respond)

    # Modals

    def _open_form(self, command: Command, body: dict[str, Any], respond: Respond) -> None:
        """Open the add or edit modal within the trigger's 3 s; Sarv fills it in later."""
        user_id, channel_id = str(body.get("user_id")), str(body.get("channel_id"))
        trigger_id = str(body.get("trigger_id"))
        try:
            actor = self._actor(user_id)
            verdict = self.service.authorize(actor, channel_id, command.action, command.user)
        except Refused as exc:
            self._tell(respond, escape(exc.message))
            return
        except DatabaseUnavailable:
            self._tell(respond, "sarvbot's database is unavailable, so nothing was changed.")
            return
        except SlackApiError as exc:
            logger.warning("could not look up %s: %s", user_id, exc.response.get("error"))
            self._tell(respond, "Slack did not answer in time; try again.")
            return
        ask_reason = verdict.decision is Decision.REQUEST
        meta = _Meta(channel_id, user=command.user, response_url=body.get("response_url"))
        if command.action == "add":
            self.client.views_open(
                trigger_id=trigger_id, view=blocks.add_modal(meta.dump(), ask_reason=ask_reason)
            )
            return
        assert command.user is not None
        opened = self.client.views_open(
            trigger_id=trigger_id, view=blocks.loading_modal(command.user, meta.dump())
        )
        view_id = opened["view"]["id"]

        def fill() -> None:
            try:
                user = self.service.get_user(str(command.user))
            except UnknownSmtpUser as exc:
                view = blocks.modal_notice(
                    "Edit SMTP user", f"Sarv has no SMTP user named {code(exc.name)}.", meta.dump()
                )
            except sarv.Error as exc:
                view = blocks.modal_notice(
                    "Edit SMTP user", escape(describe_sarv_error(exc)), meta.dump()
                )
            else:
                meta.original = {
                    "total_limit": user.total_limit,
                    "hourly_limit": user.hourly_limit,
                    "status": user.status.value,
                }
                view = blocks.edit_modal(user, meta.dump(), ask_reason=ask_reason)
            self.client.views_update(view_id=view_id, view=view)

        self._submit(respond, fill, "edit form")

    def on_edit_submit(
        self, ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        """The edit modal: inline errors keep it open; a valid form runs or is requested."""
        form = _Form.read(view)
        status = _state_choice(form.values, "status")
        if status not in ("Enable", "Disable"):
            form.errors["status"] = "Choose Enable or Disable."
        new = {"total_limit": form.total, "hourly_limit": form.hourly, "status": status}
        original = form.meta.original if form.meta else {}
        changes = {k: v for k, v in new.items() if v is not None and original.get(k) != v}
        if not form.errors and not changes:
            form.errors["total_limit"] = "Nothing changed: edit a value, or cancel."
        if form.errors or form.meta is None:
            ack(response_action="errors", errors=form.errors)
            return
        ack()
        change = Change(
            "edit",
            form.meta.user,
            total_limit=form.total if "total_limit" in changes else None,
            hourly_limit=form.hourly if "hourly_limit" in changes else None,
            status=UserStatus(str(status)) if "status" in changes else None,
        )
        self._submit_form(str(body["user"]["id"]), form.meta, change, form.reason)

    def on_add_submit(
        self, ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        """The add modal."""
        form = _Form.read(view)
        if form.errors or form.meta is None:
            ack(response_action="errors", errors=form.errors)
            return
        ack()
        change = Change("add", None, total_limit=form.total, hourly_limit=form.hourly)
        self._submit_form(str(body["user"]["id"]), form.meta, change, form.reason)

    def _submit_form(self, user_id: str, meta: _Meta, change: Change, reason: str) -> None:
        respond = _respond(meta)
        self._submit(
            respond,
            lambda: self._submit_change(user_id, meta, change, reason, respond),
            f"{change.action} form",
        )

    def _submit_change(
        self, user_id: str, meta: _Meta, change: Change, reason: str, respond: Respond | None
    ) -> None:
        # Checked again now, against the channel the form was opened in.
        actor = self._actor(user_id)
        verdict = self.service.authorize(actor, meta.channel_id, change.action, change.target)
        self._change(actor, meta.channel_id, change, verdict, reason, respond)

    # Paging and removing

    def on_list_page(
        self, ack: Callable[..., None], body: dict[str, Any], respond: Respond
    ) -> None:
        """Previous / Next on a user list."""
        ack()
        try:
            value = json.loads(body["actions"][0]["value"])
            text, page = str(value["q"])[: sarv.MAX_NAME_LENGTH], int(value["p"])
        except (KeyError, IndexError, TypeError, ValueError):
            self._tell(respond, "That button is out of date; run `/smtp list` again.")
            return
        user_id, channel_id = _click_place(body)

        def job() -> None:
            self.service.authorize(self._actor(user_id), channel_id, "list")
            users = self.service.list_users(text)
            self._reply(respond, blocks.user_list_message(users, text, page), replace=True)

        self._submit(respond, job, "list page")

    def on_remove_secret(self, ack: Callable[..., None], respond: Respond) -> None:
        """The DM's Remove button deletes the ephemeral message that holds the password."""
        ack()
        try:
            respond(delete_original=True)
        except Exception as exc:
            logger.warning("could not remove a password message: %s", type(exc).__name__)

    # Approvals

    def _post_request(self, request: ApprovalRequest, respond: Respond | None) -> None:
        approvals = self.service.policy.approvals
        assert approvals is not None
        message = blocks.approval_message(request, required=approvals.required)
        try:
            posted = self.client.chat_postMessage(
                channel=approvals.channel_id, unfurl_links=False, unfurl_media=False, **message
            )
        except SlackApiError as exc:
            logger.error("could not post request #%s: %s", request.id, exc.response.get("error"))
            self._tell(
                respond,
                f"Request #{request.id} is saved, but I could not post it to the approvals "
                "channel. Ask an admin to invite sarvbot there; ops can see it with "
                "`/smtp requests`.",
            )
            return
        self.service.approvals.set_message(request.id, str(posted["channel"]), str(posted["ts"]))
        self._tell(
            respond,
            f"Request #{request.id} sent for approval in <#{approvals.channel_id}>. "
            f"Withdraw it with `/smtp cancel {request.id}`.",
        )

    def _refresh_approval_message(self, request: ApprovalRequest) -> None:
        current = self.service.approvals.get(request.id) or request
        if not current.message_channel or not current.message_ts:
            return
        approvals = self.service.policy.approvals
        message = blocks.approval_message(current, required=approvals.required if approvals else 1)
        try:
            self.client.chat_update(
                channel=current.message_channel, ts=current.message_ts, **message
            )
        except SlackApiError as exc:
            logger.warning(
                "could not update request #%s: %s", request.id, exc.response.get("error")
            )

    def _tell_requester(self, request: ApprovalRequest, text: str) -> None:
        message = blocks.text_message(text)
        try:
            self.client.chat_postEphemeral(
                channel=request.requester_channel_id, user=request.requester_id, **message
            )
        except SlackApiError:
            try:
                self.client.chat_postMessage(channel=request.requester_id, **message)
            except SlackApiError as exc:
                logger.warning(
                    "could not tell the requester of #%s: %s", request.id, exc.response.get("error")
                )

    def on_approve(self, ack: Callable[..., None], body: dict[str, Any], respond: Respond) -> None:
        """Approve: exactly once, however many clicks arrive."""
        ack()
        self._decision(body, respond, approve=True)

    def on_retry(self, ack: Callable[..., None], body: dict[str, Any], respond: Respond) -> None:
        """Retry a failed request."""
        ack()
        self._decision(body, respond, approve=True, retry=True)

    def on_deny(self, ack: Callable[..., None], body: dict[str, Any], respond: Respond) -> None:
        """Deny: opens a small form for an optional reason."""
        ack()
        request_id = _request_id(body)
        user_id, channel_id = _click_place(body)
        if request_id is None:
            self._tell(respond, "That button is out of date.")
            return
        meta = _Meta(channel_id, response_url=body.get("response_url"), request_id=request_id)
        try:
            self.client.views_open(
                trigger_id=body["trigger_id"], view=blocks.deny_modal(request_id, meta.dump())
            )
        except SlackApiError as exc:
            logger.warning("could not open the deny form: %s", exc.response.get("error"))
            self._submit(
                respond,
                lambda: self._decide(user_id, channel_id, request_id, respond, approve=False),
                "deny",
            )

    def on_deny_submit(
        self, ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        """The deny form."""
        try:
            meta = _Meta.load(view.get("private_metadata", ""))
        except ValueError:
            meta = None
        if meta is None or meta.request_id is None:
            ack(response_action="errors", errors={"reason": "This form is out of date."})
            return
        values = view.get("state", {}).get("values", {})
        reason = _state_text(values, "reason")
        ack()
        respond = _respond(meta)
        user_id = str(body["user"]["id"])
        request_id = meta.request_id
        self._submit(
            respond,
            lambda: self._decide(
                user_id, meta.channel_id, request_id, respond, approve=False, reason=reason
            ),
            "deny submit",
        )

    def _decision(
        self, body: dict[str, Any], respond: Respond, *, approve: bool, retry: bool = False
    ) -> None:
        request_id = _request_id(body)
        user_id, channel_id = _click_place(body)
        if request_id is None:
            self._tell(respond, "That button is out of date.")
            return
        self._submit(
            respond,
            lambda: self._decide(
                user_id, channel_id, request_id, respond, approve=approve, retry=retry
            ),
            "decision",
        )

    def _decide(
        self,
        user_id: str,
        channel_id: str,
        request_id: int,
        respond: Respond | None,
        *,
        approve: bool,
        retry: bool = False,
        reason: str = "",
    ) -> None:
        actor = self._actor(user_id)
        if retry:
            decided = self.service.retry(actor, channel_id, request_id)
        else:
            decided = self.service.decide(
                actor, channel_id, request_id, approve=approve, reason=reason
            )
        request = decided.request
        self._refresh_approval_message(request)
        if decided.kind is DecisionKind.EXPIRED:
            self._tell(respond, f"Request #{request_id} has expired.")
            return
        if decided.kind is DecisionKind.VOTED:
            self._tell(respond, f"Your approval of request #{request_id} is recorded.")
            return
        if decided.kind is DecisionKind.DENIED:
            why = f" Reason: {escape(reason)}" if reason else ""
            self._tell_requester(request, f"Request #{request.id} was denied by <@{user_id}>.{why}")
            return
        executed = self.service.execute(request)
        self._refresh_approval_message(executed.request)
        if executed.result is None:
            self._tell_requester(
                executed.request,
                f"Request #{request.id} was approved, but it did not go through: "
                f"{escape(executed.error or 'unknown problem')}",
            )
            return
        result = executed.result
        self._tell_requester(
            executed.request,
            f"Request #{request.id} was approved by <@{user_id}> and done: "
            f"{blocks.describe_request(executed.request)}.",
        )
        if result.credentials is not None:
            title = "New SMTP user" if result.change.action == "add" else "New SMTP password"
            final = executed.request
            self.deliver_secret(
                final.requester_id,
                result.credentials,
                title,
                None,
                notify=lambda text: self._tell_requester(final, text),
            )

    def expire_requests(self) -> list[ApprovalRequest]:
        """Expire overdue requests and show it on their messages (``sarvbot expire``)."""
        changed = self.service.expire()
        for request in changed:
            self._refresh_approval_message(request)
            if request.state.value == "expired":
                self._tell_requester(request, f"Request #{request.id} expired without a decision.")
        return changed


def _change_of(command: Command) -> Change:
    return Change(
        command.action,
        command.user,
        total_limit=command.total_limit,
        hourly_limit=command.hourly_limit,
        status=command.status,
    )


def _reason(values: object, errors: dict[str, str]) -> str:
    if not isinstance(values, dict) or "reason" not in values:
        return ""
    reason = _state_text(values, "reason")
    if not reason:
        errors["reason"] = "Say why: ops decide with it."
    return reason


def _respond(meta: _Meta) -> Respond | None:
    if not meta.response_url:
        return None
    return Respond(response_url=meta.response_url)


def _click_place(body: dict[str, Any]) -> tuple[str, str]:
    user_id = str((body.get("user") or {}).get("id"))
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return user_id, str(channel)


def _request_id(body: dict[str, Any]) -> int | None:
    try:
        value = body["actions"][0]["value"]
        return int(value)
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _usage_text(exc: CommandError) -> str:
    text = escape(exc.message)
    if exc.usage:
        text += f"\nUsage: `{escape(exc.usage)}`"
    return text


def create_slack_app(
    *,
    service: SmtpService,
    client: WebClient,
    secret_client: WebClient,
    directory: SlackDirectory,
    signing_secret: str,
    workers: int = 32,
    socket_mode: bool = False,
) -> SlackApp:
    """Build the Bolt app around a ready service."""
    tracker = WorkTracker()
    bolt = App(
        client=client,
        signing_secret=signing_secret,
        token_verification_enabled=False,
        request_verification_enabled=not socket_mode,
        listener_executor=TrackedExecutor(
            tracker, max_workers=16, thread_name_prefix="sarvbot-ack"
        ),
        logger=logging.getLogger("sarvbot.bolt"),
    )
    return SlackApp(
        bolt=bolt,
        service=service,
        client=client,
        secret_client=secret_client,
        directory=directory,
        workers=workers,
        tracker=tracker,
    )
