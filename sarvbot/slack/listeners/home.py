"""The App Home tab: its view when opened, and its Approve, Deny and Cancel buttons.

Approve and Deny go through the same decision as the request's card in the approvals
channel (:func:`sarvbot.slack.flows.decide`), with that channel named as the place of the
click: a click in the Home tab has no channel, and every other check stays the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk.errors import SlackApiError

from sarvbot.actions import Action

from .. import blocks, sentences
from ..context import SlackContext, sarvbot_of
from ..flows import authorize, cancel_request, decide
from ..home_blocks import ACTION_HOME_APPROVE, ACTION_HOME_CANCEL, ACTION_HOME_DENY
from ..mrkdwn import is_user_id
from ..payloads import FormMeta, clicked_request
from ..work import Handled

__all__ = ["register"]

logger = logging.getLogger("sarvbot.slack")


def register(app: App) -> None:
    """Attach the Home tab's event and button listeners."""
    app.event("app_home_opened")(home_opened)
    app.action(ACTION_HOME_APPROVE)(approve_clicked)
    app.action(ACTION_HOME_DENY)(deny_clicked)
    app.action(ACTION_HOME_CANCEL)(cancel_clicked)


def home_opened(event: dict[str, Any], context: BoltContext) -> None:
    """Someone opened sarvbot's Home tab: publish their view (Bolt has acked the event)."""
    user_id = event.get("user")
    if event.get("tab") != "home" or not isinstance(user_id, str) or not is_user_id(user_id):
        return  # the Messages tab, or not a person
    ctx = sarvbot_of(context)

    def publish() -> None:
        ctx.home.publish(user_id)

    ctx.work.publish(publish, Handled("event", "home", user_id, ""))


def _clicker(body: dict[str, Any]) -> str | None:
    """Who clicked, when the click came from a Home tab view; None otherwise."""
    user, view = body.get("user"), body.get("view")
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(view, dict) or view.get("type") != "home":
        return None
    return user_id if isinstance(user_id, str) and user_id else None


def _home_click(
    ack: Callable[..., None], body: dict[str, Any], context: BoltContext
) -> tuple[SlackContext, str, int | None, Respond] | None:
    """Ack a Home tab button. The context, who clicked, the request the button names (None
    if it names none) and where to answer the clicker; None when the click did not come
    from a Home tab view: nobody to answer.
    """
    ack()
    ctx = sarvbot_of(context)
    user_id, request_id = _clicker(body), clicked_request(body)
    if user_id is None:
        return None
    return ctx, user_id, request_id, ctx.home.answer(user_id)


def _approvals_channel(ctx: SlackContext) -> str:
    approvals = ctx.core.permissions.policy.approvals
    # No approvals channel: the decision's own check refuses, saying so.
    return approvals.channel_id if approvals else ""


def approve_clicked(ack: Callable[..., None], body: dict[str, Any], context: BoltContext) -> None:
    """Approve in the Home tab: the card's decision, counted once with every other click."""
    click = _home_click(ack, body, context)
    if click is None:
        return
    ctx, user_id, request_id, answer = click
    if request_id is None:
        ctx.work.soon(answer, partial(_out_of_date, ctx, answer), "home approve")
        return
    channel_id = _approvals_channel(ctx)
    ctx.work.submit(
        answer,
        lambda: decide(ctx, user_id, channel_id, request_id, answer, approve=True),
        Handled("click", "approve", user_id, channel_id, f"#{request_id}"),
    )


def _out_of_date(ctx: SlackContext, answer: Respond) -> None:
    ctx.messenger.tell(answer, sentences.OUT_OF_DATE)


def deny_clicked(ack: Callable[..., None], body: dict[str, Any], context: BoltContext) -> None:
    """Deny in the Home tab: the card's deny form, once the clicker may decide the request.

    The form's submission decides, with every check made again (the card's path).
    """
    click = _home_click(ack, body, context)
    if click is None:
        return
    ctx, user_id, request_id, answer = click
    channel_id = _approvals_channel(ctx)
    trigger_id = str(body.get("trigger_id"))

    def open_form() -> None:
        request = ctx.core.approvals.get(request_id) if request_id is not None else None
        if request is None:
            _out_of_date(ctx, answer)
            return
        ctx.core.permissions.check_decider(ctx.actor(user_id), channel_id, request)
        meta = FormMeta(channel_id, request_id=request.id, from_home=True)
        try:
            ctx.client.views_open(
                trigger_id=trigger_id, view=blocks.deny_modal(request.id, meta.dump())
            )
        except SlackApiError as exc:
            logger.warning("could not open the deny form: %s", exc.response.get("error"))
            ctx.messenger.tell(answer, sentences.SLACK_SLOW)

    ctx.work.soon(answer, open_form, Handled("click", "deny", user_id, channel_id))


def cancel_clicked(ack: Callable[..., None], body: dict[str, Any], context: BoltContext) -> None:
    """Cancel in the Home tab: ``/smtp cancel N``, as if asked where the request was made."""
    click = _home_click(ack, body, context)
    if click is None:
        return
    ctx, user_id, request_id, answer = click

    def job() -> None:
        if request_id is None:
            _out_of_date(ctx, answer)
            return
        request = ctx.core.approvals.get(request_id)
        actor = ctx.actor(user_id)
        channel_id = request.requester_channel_id if request else ""
        if request is not None and request.requester_id == user_id:
            authorize(ctx, actor, channel_id, Action.CANCEL, request.target)
        # No such request, or someone else's: the core refuses it (and audits the refusal).
        cancelled = cancel_request(ctx, actor, channel_id, request_id)
        ctx.messenger.tell(answer, sentences.withdrawn(cancelled.id))

    target = f"#{request_id}" if request_id is not None else None
    ctx.work.submit(answer, job, Handled("click", "cancel", user_id, "", target))
