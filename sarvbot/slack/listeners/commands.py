"""``/smtp``: parse, ack at once, then answer, run or request on the work queue."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk.errors import SlackApiError

from sarvbot import metrics, sarv
from sarvbot.actions import SPECS, Action
from sarvbot.core import (
    Actor,
    Command,
    CommandError,
    UnknownSmtpUser,
    describe_sarv_error,
    parse_command,
)
from sarvbot.policy import Decision, Verdict

from .. import blocks, sentences
from ..blocks import Message
from ..context import SlackContext, sarvbot_of
from ..flows import authorize, cancel_request, run_change
from ..payloads import FormMeta
from ..work import Handled

__all__ = ["fill_edit_form", "queue_command", "register", "run_command"]

logger = logging.getLogger("sarvbot.slack")


def register(app: App) -> None:
    """Attach the ``/smtp`` listener."""
    app.command("/smtp")(smtp_command)


def smtp_command(
    ack: Callable[..., None], body: dict[str, Any], respond: Respond, context: BoltContext
) -> None:
    """``/smtp ...``: a parse error or a full queue is the ack itself; the rest is queued."""
    ctx = sarvbot_of(context)
    try:
        command = parse_command(str(body.get("text", "")))
    except CommandError as exc:
        ack(response_type="ephemeral", **blocks.text_message(sentences.usage(exc)))
        return
    refusal = ctx.work.refusal()
    if refusal is not None:
        # Turned away in the ack itself: no extra call to Slack while overloaded.
        ack(response_type="ephemeral", **blocks.text_message(refusal))
        metrics.REFUSALS.labels("restarting" if refusal == sentences.RESTARTING else "busy").inc()
        return
    user_id, channel_id = str(body.get("user_id")), str(body.get("channel_id"))
    handled = Handled("command", command.action, user_id, channel_id, command.user)
    if command.wants_modal:
        ack()
        ctx.work.soon(respond, lambda: _open_form(ctx, command, body, respond), handled)
        return
    queue_command(ctx, ack, command, user_id, channel_id, respond, handled)


def queue_command(
    ctx: SlackContext,
    ack: Callable[..., None],
    command: Command,
    user_id: str,
    channel_id: str,
    respond: Respond | None,
    handled: Handled,
) -> None:
    """Acknowledge ``command`` and queue its run, with a receipt first for a change (the
    ack promises it: a process that dies before running it leaves the receipt to tell).
    """
    receipt = None
    if SPECS[command.action].changes_sarv:
        receipt = ctx.core.ledger.acknowledge_soon(
            user_id, channel_id, command.action, command.user
        )
    ack()
    ctx.work.submit(
        respond,
        lambda: run_command(ctx, command, user_id, channel_id, respond, receipt),
        handled,
        receipt=receipt,
    )


@dataclass(frozen=True)
class _Asked:
    """A command that passed the policy, with who asked where."""

    actor: Actor
    channel_id: str
    command: Command
    verdict: Verdict
    respond: Respond | None


def run_command(
    ctx: SlackContext,
    command: Command,
    user_id: str,
    channel_id: str,
    respond: Respond | None,
    receipt: Future[int] | None,
) -> None:
    """Answer, run or request ``command`` as ``user_id`` asked it in ``channel_id``."""
    try:
        _answer(ctx, command, ctx.actor(user_id), channel_id, respond, receipt)
    except UnknownSmtpUser as exc:
        # Not a Sarv name, nor a label: the labels that hold it may be what was meant.
        raise UnknownSmtpUser(exc.name, tuple(ctx.core.catalogue.suggestions(exc.name))) from None


def _answer(
    ctx: SlackContext,
    command: Command,
    actor: Actor,
    channel_id: str,
    respond: Respond | None,
    receipt: Future[int] | None,
) -> None:
    # The policy first: a channel that may not run it learns nothing of the catalogue.
    verdict = authorize(ctx, actor, channel_id, command.action, command.user)
    if command.user:
        command = replace(command, user=ctx.core.catalogue.resolve(command.user))
    if SPECS[command.action].changes_sarv:
        run_change(
            ctx, actor, channel_id, command.change(), verdict, command.reason, respond, receipt
        )
        return
    message = _ANSWERS[command.action](ctx, _Asked(actor, channel_id, command, verdict, respond))
    if message is not None:
        ctx.messenger.reply(respond, message)


def _help(ctx: SlackContext, asked: _Asked) -> Message:
    policy, guest = ctx.core.permissions.policy, asked.actor.is_guest
    return blocks.help_message(
        policy.allowed_actions(asked.channel_id, is_guest=guest),
        policy.requestable_actions(asked.channel_id, is_guest=guest),
    )


def _whoami(ctx: SlackContext, asked: _Asked) -> Message:
    policy, guest = ctx.core.permissions.policy, asked.actor.is_guest
    return blocks.whoami_message(
        asked.actor.user_id,
        asked.channel_id,
        policy.allowed_actions(asked.channel_id, is_guest=guest),
        policy.requestable_actions(asked.channel_id, is_guest=guest),
        is_guest=guest,
    )


def _list(ctx: SlackContext, asked: _Asked) -> Message:
    view = ctx.core.catalogue.view(asked.command.text)
    return blocks.user_list_message(view, asked.command.text, 0)


def _show(ctx: SlackContext, asked: _Asked) -> Message:
    return blocks.user_message(ctx.core.catalogue.show(str(asked.command.user)))


def _reveal(ctx: SlackContext, asked: _Asked) -> None:
    name = str(asked.command.user)
    credentials = ctx.core.chores.reveal(asked.actor, asked.channel_id, name, asked.verdict.rule)
    title = SPECS[Action.REVEAL].delivery_title or ""
    ctx.messenger.deliver_secret(asked.actor.user_id, credentials, title, asked.respond)


def _requests(ctx: SlackContext, asked: _Asked) -> Message:
    return blocks.requests_message(ctx.core.approvals.pending())


def _pending(ctx: SlackContext, asked: _Asked) -> Message:
    return blocks.pending_message(ctx.core.reverts.pending())


def _audit(ctx: SlackContext, asked: _Asked) -> Message:
    entries = ctx.core.trail.latest(target=asked.command.user, limit=20)
    return blocks.audit_message(entries, asked.command.user)


def _cancel(ctx: SlackContext, asked: _Asked) -> Message:
    request_id = asked.command.request_id
    if request_id is None:
        raise CommandError("`cancel` needs the request number", SPECS[Action.CANCEL].usage)
    cancelled = cancel_request(ctx, asked.actor, asked.channel_id, request_id)
    return blocks.text_message(sentences.withdrawn(cancelled.id))


# How each action that is not a change is answered: one entry per action.
_ANSWERS: dict[Action, Callable[[SlackContext, _Asked], Message | None]] = {
    Action.HELP: _help,
    Action.WHOAMI: _whoami,
    Action.LIST: _list,
    Action.SHOW: _show,
    Action.REVEAL: _reveal,
    Action.REQUESTS: _requests,
    Action.PENDING: _pending,
    Action.AUDIT: _audit,
    Action.CANCEL: _cancel,
}


def _open_form(ctx: SlackContext, command: Command, body: dict[str, Any], respond: Respond) -> None:
    """Open the add or edit modal within the trigger's 3 s; Sarv fills it in later."""
    user_id, channel_id = str(body.get("user_id")), str(body.get("channel_id"))
    trigger_id = str(body.get("trigger_id"))
    # Refusals and an unavailable database are answered by the work queue's runner.
    try:
        actor = ctx.actor(user_id)
        verdict = ctx.core.permissions.authorize(actor, channel_id, command.action, command.user)
        if command.user:
            command = replace(command, user=ctx.core.catalogue.resolve(command.user))
    except SlackApiError as exc:
        logger.warning("could not look up %s: %s", user_id, exc.response.get("error"))
        ctx.messenger.tell(respond, sentences.SLACK_SLOW)
        return
    ask_reason = verdict.decision is Decision.REQUEST
    meta = FormMeta(channel_id, user=command.user, response_url=body.get("response_url"))
    if command.action is Action.ADD:
        ctx.client.views_open(
            trigger_id=trigger_id,
            view=blocks.add_modal(meta.dump(), ask_reason=ask_reason, owner_id=user_id),
        )
        return
    name = str(command.user)
    opened = ctx.client.views_open(
        trigger_id=trigger_id, view=blocks.loading_modal(name, meta.dump())
    )
    view_id = opened["view"]["id"]
    ctx.work.submit(
        respond, lambda: fill_edit_form(ctx, name, meta, view_id, ask_reason), "edit form"
    )


def fill_edit_form(
    ctx: SlackContext, name: str, meta: FormMeta, view_id: str, ask_reason: bool
) -> None:
    """Put the edit form, with the user's values at Sarv, in place of the loading modal."""
    try:
        user = ctx.core.chores.get_user(name)
    except UnknownSmtpUser as exc:
        view = blocks.modal_notice("Edit SMTP user", sentences.no_such_user(exc.name), meta.dump())
    except sarv.Error as exc:
        text = sentences.words(describe_sarv_error(exc))
        view = blocks.modal_notice("Edit SMTP user", text, meta.dump())
    else:
        meta.original = {
            "total_limit": user.total_limit,
            "hourly_limit": user.hourly_limit,
            "status": user.status.value,
        }
        view = blocks.edit_modal(user, meta.dump(), ask_reason=ask_reason)
    ctx.client.views_update(view_id=view_id, view=view)
