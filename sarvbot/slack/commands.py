"""``/smtp`` and its forms: list, show, add, edit, enable, disable, reset, reveal and the rest."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from slack_bolt import App
from slack_bolt.context.respond import Respond
from slack_sdk.errors import SlackApiError

from sarvbot import metrics, sarv
from sarvbot.core import (
    Actor,
    Change,
    Command,
    CommandError,
    UnknownSmtpUser,
    describe_change_failure,
    describe_sarv_error,
    outcome_unknown,
    parse_command,
)
from sarvbot.policy import Decision, Verdict
from sarvbot.sarv import UserStatus

from . import blocks
from .blocks import Message
from .context import SlackContext
from .mrkdwn import code, escape
from .payloads import FormMeta, SubmittedForm, click_place, clicked_value, state_choice
from .work import RESTARTING, Handled, usage_text

__all__ = ["CommandListeners"]

logger = logging.getLogger("sarvbot.slack")

# Commands that may change something at Sarv: each gets a receipt when it is acknowledged.
CHANGES = frozenset({"add", "edit", "enable", "disable", "reset"})


class CommandListeners:
    """Translates ``/smtp`` commands, their forms and list paging into core calls."""

    def __init__(self, context: SlackContext) -> None:
        self.ctx = context
        self.service = context.service
        self.say = context.messenger

    def register(self, app: App) -> None:
        """Attach the listeners to the Bolt app."""
        app.command("/smtp")(self.on_command)
        app.view(blocks.VIEW_EDIT)(self.on_edit_submit)
        app.view(blocks.VIEW_ADD)(self.on_add_submit)
        app.action(blocks.ACTION_LIST_PAGE)(self.on_list_page)
        app.action(blocks.ACTION_REMOVE_SECRET)(self.on_remove_secret)

    def on_command(self, ack: Callable[..., None], body: dict[str, Any], respond: Respond) -> None:
        """``/smtp ...``: ack at once; a parse error or a full queue is the ack itself."""
        try:
            command = parse_command(str(body.get("text", "")))
        except CommandError as exc:
            ack(response_type="ephemeral", **blocks.text_message(usage_text(exc)))
            return
        refusal = self.ctx.work.refusal()
        if refusal is not None:
            # Turned away in the ack itself: no extra call to Slack while overloaded.
            ack(response_type="ephemeral", **blocks.text_message(refusal))
            metrics.REFUSALS.labels("restarting" if refusal == RESTARTING else "busy").inc()
            return
        user_id, channel_id = str(body.get("user_id")), str(body.get("channel_id"))
        if command.wants_modal:
            ack()
            self.ctx.work.soon(
                respond,
                lambda: self._open_form(command, body, respond),
                Handled("command", command.action, user_id, channel_id, command.user),
            )
            return
        receipt = None
        if command.action in CHANGES:
            receipt = self.ctx.ledger.acknowledge_soon(
                user_id, channel_id, command.action, command.user
            )
        ack()
        self.ctx.work.submit(
            respond,
            lambda: self._run(command, user_id, channel_id, respond, receipt),
            Handled("command", command.action, user_id, channel_id, command.user),
            receipt=receipt,
        )

    def _run(
        self,
        command: Command,
        user_id: str,
        channel_id: str,
        respond: Respond,
        receipt: Future[int] | None = None,
    ) -> None:
        actor = self.ctx.actor(user_id)
        action = command.action
        verdict = self.service.authorize(actor, channel_id, action, command.user)
        if action in ("help", "whoami"):
            message = self._about(action, actor, channel_id)
        elif action == "list":
            users = self.service.list_users(command.text)
            message = blocks.user_list_message(users, command.text, 0)
        elif action == "show":
            message = blocks.user_message(self.service.get_user(str(command.user)))
        elif action == "reveal":
            credentials = self.service.reveal(actor, channel_id, str(command.user), verdict.rule)
            self.say.deliver_secret(user_id, credentials, "Current SMTP password", respond)
            return
        elif action == "requests":
            message = blocks.requests_message(self.service.pending_requests())
        elif action == "audit":
            entries = self.service.audit.latest(target=command.user, limit=20)
            message = blocks.audit_message(entries, command.user)
        elif action == "cancel":
            assert command.request_id is not None
            cancelled = self.service.cancel(actor, channel_id, command.request_id)
            self.say.refresh_request(cancelled)
            message = blocks.text_message(f"Request #{cancelled.id} is withdrawn.")
        else:
            change = Change(
                command.action,
                command.user,
                total_limit=command.total_limit,
                hourly_limit=command.hourly_limit,
                status=command.status,
            )
            self._change(actor, channel_id, change, verdict, command.reason, respond, receipt)
            return
        self.say.reply(respond, message)

    def _about(self, action: str, actor: Actor, channel_id: str) -> Message:
        policy = self.service.policy
        allowed = policy.allowed_actions(channel_id, is_guest=actor.is_guest)
        requestable = policy.requestable_actions(channel_id, is_guest=actor.is_guest)
        if action == "help":
            return blocks.help_message(allowed, requestable)
        return blocks.whoami_message(
            actor.user_id, channel_id, allowed, requestable, is_guest=actor.is_guest
        )

    def _change(
        self,
        actor: Actor,
        channel_id: str,
        change: Change,
        verdict: Verdict,
        reason: str,
        respond: Respond | None,
        written: Future[int] | None = None,
    ) -> None:
        # The work queue resolved the receipt before this job started.
        receipt = written.result() if written is not None else None
        if verdict.decision is Decision.REQUEST:
            request = self.service.request_change(
                actor, channel_id, change, reason, rule=verdict.rule, receipt=receipt
            )
            self.say.post_request(request, respond)
            return
        try:
            result = self.service.apply(
                actor, channel_id, change, rule=verdict.rule, receipt=receipt
            )
        except sarv.Error as exc:
            if not outcome_unknown(exc, repeatable=change.repeatable):
                raise
            logger.warning("outcome unknown for %s %s: %s", change.action, change.target, exc.name)
            words = describe_change_failure(exc, action=change.action, repeatable=False)
            self.say.tell(respond, escape(words))
            return
        if result.credentials is not None:
            # Sarv has made the password: delivering it comes before anything else.
            title = "New SMTP user" if change.action == "add" else "New SMTP password"
            delivered = self.say.deliver_secret(actor.user_id, result.credentials, title, respond)
            self.service.record_delivery(
                actor, channel_id, change.action, result.target, delivered=delivered
            )
        detail = ""
        if change.action not in ("enable", "disable"):
            detail = ", ".join(f"{k.replace('_limit', '')} {v}" for k, v in change.params().items())
        announced = self.say.announce(
            channel_id,
            blocks.announcement(actor.user_id, change.action, result.target, detail),
            respond,
        )
        if not announced:
            self.say.tell(
                respond,
                f"Done: {escape(change.action)} {code(result.target)}. I could not post the "
                "announcement in this channel.",
            )

    # Forms

    def _open_form(self, command: Command, body: dict[str, Any], respond: Respond) -> None:
        """Open the add or edit modal within the trigger's 3 s; Sarv fills it in later."""
        user_id, channel_id = str(body.get("user_id")), str(body.get("channel_id"))
        trigger_id = str(body.get("trigger_id"))
        # Refusals and an unavailable database are answered by the work queue's runner.
        try:
            actor = self.ctx.actor(user_id)
            verdict = self.service.authorize(actor, channel_id, command.action, command.user)
        except SlackApiError as exc:
            logger.warning("could not look up %s: %s", user_id, exc.response.get("error"))
            self.say.tell(respond, "Slack did not answer in time; try again.")
            return
        ask_reason = verdict.decision is Decision.REQUEST
        meta = FormMeta(channel_id, user=command.user, response_url=body.get("response_url"))
        client = self.ctx.client
        if command.action == "add":
            view = blocks.add_modal(meta.dump(), ask_reason=ask_reason)
            client.views_open(trigger_id=trigger_id, view=view)
            return
        name = str(command.user)
        opened = client.views_open(
            trigger_id=trigger_id, view=blocks.loading_modal(name, meta.dump())
        )
        view_id = opened["view"]["id"]

        def fill() -> None:
            try:
                user = self.service.get_user(name)
            except UnknownSmtpUser as exc:
                text = f"Sarv has no SMTP user named {code(exc.name)}."
                view = blocks.modal_notice("Edit SMTP user", text, meta.dump())
            except sarv.Error as exc:
                text = escape(describe_sarv_error(exc))
                view = blocks.modal_notice("Edit SMTP user", text, meta.dump())
            else:
                meta.original = {
                    "total_limit": user.total_limit,
                    "hourly_limit": user.hourly_limit,
                    "status": user.status.value,
                }
                view = blocks.edit_modal(user, meta.dump(), ask_reason=ask_reason)
            client.views_update(view_id=view_id, view=view)

        self.ctx.work.submit(respond, fill, "edit form")

    def on_edit_submit(
        self, ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        """The edit modal: inline errors keep it open; a valid form runs or is requested."""
        form = SubmittedForm.read(view)
        status = state_choice(form.values, "status")
        if status not in ("Enable", "Disable"):
            form.errors["status"] = "Choose Enable or Disable."
        new = {"total_limit": form.total, "hourly_limit": form.hourly, "status": status}
        original = form.meta.original if form.meta else {}
        changes = {k for k, v in new.items() if v is not None and original.get(k) != v}
        if not form.errors and not changes:
            form.errors["total_limit"] = "Nothing changed: edit a value, or cancel."
        if form.errors or form.meta is None:
            ack(response_action="errors", errors=form.errors)
            return
        user_id = str(body["user"]["id"])
        receipt = self.ctx.ledger.acknowledge_soon(
            user_id, form.meta.channel_id, "edit", form.meta.user
        )
        ack()
        change = Change(
            "edit",
            form.meta.user,
            total_limit=form.total if "total_limit" in changes else None,
            hourly_limit=form.hourly if "hourly_limit" in changes else None,
            status=UserStatus(str(status)) if "status" in changes else None,
        )
        self._submit_form(user_id, form.meta, change, form.reason, receipt)

    def on_add_submit(
        self, ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        """The add modal."""
        form = SubmittedForm.read(view)
        if form.errors or form.meta is None:
            ack(response_action="errors", errors=form.errors)
            return
        user_id = str(body["user"]["id"])
        receipt = self.ctx.ledger.acknowledge_soon(user_id, form.meta.channel_id, "add", None)
        ack()
        change = Change("add", None, total_limit=form.total, hourly_limit=form.hourly)
        self._submit_form(user_id, form.meta, change, form.reason, receipt)

    def _submit_form(
        self, user_id: str, meta: FormMeta, change: Change, reason: str, receipt: Future[int]
    ) -> None:
        respond = meta.respond()

        def job() -> None:
            # Checked again now, against the channel the form was opened in.
            actor = self.ctx.actor(user_id)
            verdict = self.service.authorize(actor, meta.channel_id, change.action, change.target)
            self._change(actor, meta.channel_id, change, verdict, reason, respond, receipt)

        label = Handled("form", change.action, user_id, meta.channel_id, change.target)
        self.ctx.work.submit(respond, job, label, receipt=receipt)

    # Buttons

    def on_list_page(
        self, ack: Callable[..., None], body: dict[str, Any], respond: Respond
    ) -> None:
        """Previous / Next on a user list, checked again against the channel."""
        ack()
        try:
            value = json.loads(clicked_value(body) or "")
            text, page = str(value["q"])[: sarv.MAX_NAME_LENGTH], value["p"]
        except (KeyError, TypeError, ValueError):
            page = None
        # Our buttons carry a page as a JSON integer from 0; anything else is not ours.
        if not isinstance(page, int) or isinstance(page, bool) or page < 0:
            self.say.tell(respond, "That button is out of date; run `/smtp list` again.")
            return
        user_id, channel_id = click_place(body)

        def job() -> None:
            self.service.authorize(self.ctx.actor(user_id), channel_id, "list")
            users = self.service.list_users(text)
            if page > 0 and page * blocks.PAGE_SIZE >= len(users):
                self.say.tell(
                    respond, "That page is past the end of the list; run `/smtp list` again."
                )
                return
            self.say.reply(respond, blocks.user_list_message(users, text, page), replace=True)

        self.ctx.work.submit(respond, job, Handled("click", "list", user_id, channel_id))

    def on_remove_secret(self, ack: Callable[..., None], respond: Respond) -> None:
        """The DM's Remove button deletes the ephemeral message that holds the password."""
        ack()
        try:
            respond(delete_original=True)
        except Exception as exc:
            logger.warning("could not remove a password message: %s", type(exc).__name__)
