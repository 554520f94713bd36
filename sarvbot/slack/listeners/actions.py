"""Button clicks: Approve, Deny and Retry on requests, list paging, removing a password."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk.errors import SlackApiError

from sarvbot import sarv
from sarvbot.actions import Action

from .. import blocks, sentences
from ..context import SlackContext, sarvbot_of
from ..flows import decide
from ..payloads import FormMeta, click_place, clicked_request, clicked_value
from ..work import Handled

__all__ = ["register"]

logger = logging.getLogger("sarvbot.slack")


def register(app: App) -> None:
    """Attach the button listeners."""
    app.action(blocks.ACTION_APPROVE)(_decision_clicked("approve"))
    app.action(blocks.ACTION_RETRY)(_decision_clicked("retry"))
    app.action(blocks.ACTION_DENY)(deny_clicked)
    app.action(blocks.ACTION_LIST_PAGE)(list_page_clicked)
    app.action(blocks.ACTION_REMOVE_SECRET)(remove_secret_clicked)


def _decision_clicked(what: str) -> Callable[..., None]:
    """The listener of one decision button: Approve, or Retry a failed request.

    Which one it is comes from the listener it is registered as, never from the payload:
    a Retry must not count as an approval, whatever the click carries.
    """

    def decision_clicked(
        ack: Callable[..., None], body: dict[str, Any], respond: Respond, context: BoltContext
    ) -> None:
        """Each decision counts once, however many clicks arrive."""
        ack()
        _queue_decision(sarvbot_of(context), body, respond, what)

    return decision_clicked


def _queue_decision(ctx: SlackContext, body: dict[str, Any], respond: Respond, what: str) -> None:
    request_id = clicked_request(body)
    if request_id is None:
        ctx.messenger.tell(respond, sentences.OUT_OF_DATE)
        return
    user_id, channel_id = click_place(body)
    ctx.work.submit(
        respond,
        lambda: decide(
            ctx, user_id, channel_id, request_id, respond, approve=True, retry=what == "retry"
        ),
        Handled("click", what, user_id, channel_id, f"#{request_id}"),
    )


def deny_clicked(
    ack: Callable[..., None], body: dict[str, Any], respond: Respond, context: BoltContext
) -> None:
    """Deny: opens a small form for an optional reason (denies at once if it cannot)."""
    ack()
    ctx = sarvbot_of(context)
    request_id = clicked_request(body)
    if request_id is None:
        ctx.messenger.tell(respond, sentences.OUT_OF_DATE)
        return
    user_id, channel_id = click_place(body)
    meta = FormMeta(channel_id, response_url=body.get("response_url"), request_id=request_id)

    def open_form() -> None:
        try:
            ctx.client.views_open(
                trigger_id=str(body.get("trigger_id")),
                view=blocks.deny_modal(request_id, meta.dump()),
            )
        except SlackApiError as exc:
            logger.warning("could not open the deny form: %s", exc.response.get("error"))
            ctx.work.submit(
                respond,
                lambda: decide(ctx, user_id, channel_id, request_id, respond, approve=False),
                "deny",
            )

    ctx.work.soon(respond, open_form, "deny form")


def list_page_clicked(
    ack: Callable[..., None], body: dict[str, Any], respond: Respond, context: BoltContext
) -> None:
    """Previous / Next on a user list, checked again against the channel."""
    ack()
    ctx = sarvbot_of(context)
    try:
        value = json.loads(clicked_value(body) or "")
        text, page = str(value["q"])[: sarv.MAX_NAME_LENGTH], value["p"]
    except (KeyError, TypeError, ValueError):
        page = None
    # Our buttons carry a page as a JSON integer from 0; anything else is not ours.
    if not isinstance(page, int) or isinstance(page, bool) or page < 0:
        ctx.messenger.tell(respond, sentences.LIST_OUT_OF_DATE)
        return
    user_id, channel_id = click_place(body)

    def job() -> None:
        ctx.core.permissions.authorize(ctx.actor(user_id), channel_id, Action.LIST)
        view = ctx.core.catalogue.view(text)
        if page > 0 and page * blocks.PAGE_SIZE >= len(view.users):
            ctx.messenger.tell(respond, sentences.PAGE_PAST_END)
            return
        ctx.messenger.reply(respond, blocks.user_list_message(view, text, page), replace=True)

    ctx.work.submit(respond, job, Handled("click", "list", user_id, channel_id))


def remove_secret_clicked(ack: Callable[..., None], respond: Respond) -> None:
    """The DM's Remove button deletes the ephemeral message that holds the password."""
    ack()
    try:
        respond(delete_original=True)
    except Exception as exc:
        logger.warning("could not remove a password message: %s", type(exc).__name__)
