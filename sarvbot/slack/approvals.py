"""Approve, Deny and Retry on requests in the approvals channel, and their expiry."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_bolt.context.respond import Respond
from slack_sdk.errors import SlackApiError

from sarvbot.core import Actor, DecisionKind
from sarvbot.store import ApprovalRequest, RequestState

from . import blocks
from .context import SlackContext
from .mrkdwn import escape
from .payloads import FormMeta, click_place, clicked_request, state_text, state_values
from .work import Handled

__all__ = ["ApprovalListeners"]

logger = logging.getLogger("sarvbot.slack")

OUT_OF_DATE = "That button is out of date."


class ApprovalListeners:
    """Translates decision clicks into core calls; the core makes them count once."""

    def __init__(self, context: SlackContext) -> None:
        self.ctx = context
        self.service = context.service
        self.say = context.messenger

    def register(self, app: App) -> None:
        """Attach the listeners to the Bolt app."""
        app.action(blocks.ACTION_APPROVE)(self.on_approve)
        app.action(blocks.ACTION_RETRY)(self.on_retry)
        app.action(blocks.ACTION_DENY)(self.on_deny)
        app.view(blocks.VIEW_DENY)(self.on_deny_submit)

    def on_approve(self, ack: Callable[..., None], body: dict[str, Any], respond: Respond) -> None:
        """Approve: exactly once, however many clicks arrive."""
        ack()
        self._queue_decision(body, respond, approve=True)

    def on_retry(self, ack: Callable[..., None], body: dict[str, Any], respond: Respond) -> None:
        """Retry a failed request."""
        ack()
        self._queue_decision(body, respond, approve=True, retry=True)

    def on_deny(self, ack: Callable[..., None], body: dict[str, Any], respond: Respond) -> None:
        """Deny: opens a small form for an optional reason."""
        ack()
        request_id = clicked_request(body)
        if request_id is None:
            self.say.tell(respond, OUT_OF_DATE)
            return
        user_id, channel_id = click_place(body)
        meta = FormMeta(channel_id, response_url=body.get("response_url"), request_id=request_id)

        def open_form() -> None:
            try:
                self.ctx.client.views_open(
                    trigger_id=str(body.get("trigger_id")),
                    view=blocks.deny_modal(request_id, meta.dump()),
                )
            except SlackApiError as exc:
                logger.warning("could not open the deny form: %s", exc.response.get("error"))
                self.ctx.work.submit(
                    respond,
                    lambda: self._decide(user_id, channel_id, request_id, respond, approve=False),
                    "deny",
                )

        self.ctx.work.soon(respond, open_form, "deny form")

    def on_deny_submit(
        self, ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        """The deny form."""
        try:
            meta: FormMeta | None = FormMeta.load(str(view.get("private_metadata") or ""))
        except ValueError:
            meta = None
        if meta is None or meta.request_id is None:
            ack(response_action="errors", errors={"reason": "This form is out of date."})
            return
        ack()
        reason = state_text(state_values(view), "reason")
        respond = meta.respond()
        user_id, channel_id, request_id = str(body["user"]["id"]), meta.channel_id, meta.request_id
        self.ctx.work.submit(
            respond,
            lambda: self._decide(
                user_id, channel_id, request_id, respond, approve=False, reason=reason
            ),
            Handled("form", "deny", user_id, channel_id, f"#{request_id}"),
        )

    def _queue_decision(
        self, body: dict[str, Any], respond: Respond, *, approve: bool, retry: bool = False
    ) -> None:
        request_id = clicked_request(body)
        if request_id is None:
            self.say.tell(respond, OUT_OF_DATE)
            return
        user_id, channel_id = click_place(body)
        self.ctx.work.submit(
            respond,
            lambda: self._decide(
                user_id, channel_id, request_id, respond, approve=approve, retry=retry
            ),
            Handled(
                "click",
                "retry" if retry else "approve" if approve else "deny",
                user_id,
                channel_id,
                f"#{request_id}",
            ),
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
        actor = self.ctx.actor(user_id)
        if retry:
            decided = self.service.retry(actor, channel_id, request_id)
        else:
            decided = self.service.decide(
                actor, channel_id, request_id, approve=approve, reason=reason
            )
        request = decided.request
        # On the deciding click the buttons come off at once: the message shows "running".
        self.say.refresh_request(request)
        if decided.kind is DecisionKind.EXPIRED:
            self.say.tell(respond, f"Request #{request_id} has expired.")
        elif decided.kind is DecisionKind.VOTED:
            self.say.tell(respond, f"Your approval of request #{request_id} is recorded.")
        elif decided.kind is DecisionKind.DENIED:
            why = f" Reason: {escape(reason)}" if reason else ""
            self.say.tell_requester(
                request, f"Request #{request.id} was denied by <@{user_id}>.{why}"
            )
        else:
            self._execute(request, user_id)

    def _execute(self, request: ApprovalRequest, approver_id: str) -> None:
        executed = self.service.execute(request)
        final = executed.request
        if executed.result is None:
            self.say.tell_requester(
                final,
                f"Request #{final.id} was approved, but it did not go through: "
                f"{escape(executed.error or 'unknown problem')}",
            )
            self.say.refresh_request(final)
            return
        credentials = executed.result.credentials
        if credentials is not None:
            # Sarv has made the password: delivering it comes before any other Slack call.
            title = "New SMTP user" if final.action == "add" else "New SMTP password"
            delivered = self.say.deliver_secret(
                final.requester_id,
                credentials,
                title,
                None,
                notify=lambda text: self.say.tell_requester(final, text),
            )
            self.service.record_delivery(
                Actor(final.requester_id),
                final.requester_channel_id,
                final.action,
                executed.result.target,
                delivered=delivered,
                request_id=final.id,
            )
        self.say.tell_requester(
            final,
            f"Request #{final.id} was approved by <@{approver_id}> and done: "
            f"{blocks.describe_request(final)}.",
        )
        self.say.refresh_request(final)

    def tell_request_ended(self, request: ApprovalRequest) -> bool:
        """Show on its message how a request ended without a click (expired, outcome
        unknown) and tell its requester. Safe to repeat; False if Slack took no notice.
        """
        self.say.refresh_request(request)
        if request.state is RequestState.EXPIRED:
            return self.say.tell_requester(
                request, f"Request #{request.id} expired without a decision."
            )
        if request.state is RequestState.UNKNOWN:
            return self.say.tell_requester(
                request,
                f"Request #{request.id} ({blocks.describe_request(request)}) was approved, "
                "but sarvbot stopped before it recorded the outcome, so it is unknown "
                "whether it was done. It will not run again: check the user with "
                "`/smtp show` before asking again.",
            )
        return True
