"""Button clicks: Approve, Deny and Retry on requests, list paging, removing a password."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from slack_bolt import App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk.errors import SlackApiError

from sarvbot import sarv
from sarvbot.actions import Action
from sarvbot.core import Actor, CatalogueEntry, Change, Rotation, TimedChange
from sarvbot.core.schedule import RETIRE_OLD, REVERT_CHANGE
from sarvbot.policy import Decision, Verdict
from sarvbot.sarv import UserStatus

from .. import blocks, sentences
from ..context import SlackContext, sarvbot_of
from ..flows import decide, may_retire, may_touch, run_change
from ..payloads import FormMeta, click_place, clicked_request, clicked_value
from ..work import Handled

__all__ = ["register"]

logger = logging.getLogger("sarvbot.slack")

T = TypeVar("T")


def register(app: App) -> None:
    """Attach the button listeners."""
    app.action(blocks.ACTION_APPROVE)(_decision_clicked("approve"))
    app.action(blocks.ACTION_RETRY)(_decision_clicked("retry"))
    app.action(blocks.ACTION_DENY)(deny_clicked)
    app.action(blocks.ACTION_LIST_PAGE)(list_page_clicked)
    app.action(blocks.ACTION_REMOVE_SECRET)(remove_secret_clicked)
    app.action(blocks.ACTION_REVERT_NOW)(
        _guarded_button("revert", _timed_change, may_touch, _revert_now)
    )
    app.action(blocks.ACTION_EXTEND)(_guarded_button("extend", _timed_change, may_touch, _extend))
    app.action(blocks.ACTION_ACK_FREEZE)(_freeze_button("acknowledge", _acknowledge))
    app.action(blocks.ACTION_ROTATE_FROZEN)(_freeze_button("rotate", _rotate_frozen, rotating=True))
    app.action(blocks.ACTION_RETIRE)(_guarded_button("retire", _rotation, may_retire, _retire))


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


def _guarded_button(
    verb: str,
    find: Callable[[SlackContext, str], T | None],
    may: Callable[[SlackContext, str, T], bool],
    act: Callable[[SlackContext, str, T, Respond], None],
) -> Callable[..., None]:
    """The listener of a button on a DM about a change sarvbot follows (a time-bound change,
    a rotation): ``find`` it by the button's value, and only people ``may`` allows act.
    """

    def guarded_clicked(
        ack: Callable[..., None], body: dict[str, Any], respond: Respond, context: BoltContext
    ) -> None:
        ack()
        ctx = sarvbot_of(context)
        user_id, channel_id = click_place(body)
        key = clicked_value(body)

        def job() -> None:
            found = find(ctx, key) if key else None
            if found is None:
                ctx.messenger.tell(respond, sentences.timed_change_over(False))
            elif not may(ctx, user_id, found):
                ctx.messenger.tell(respond, sentences.only_requester_or_owner(verb))
            else:
                act(ctx, user_id, found, respond)

        ctx.work.submit(respond, job, Handled("click", verb, user_id, channel_id))

    return guarded_clicked


def _timed_change(ctx: SlackContext, key: str) -> TimedChange | None:
    return ctx.core.reverts.get(key)


def _rotation(ctx: SlackContext, key: str) -> Rotation | None:
    return ctx.core.rotations.get(key)


def _revert_now(ctx: SlackContext, user_id: str, timed: TimedChange, respond: Respond) -> None:
    """Revert now: the revert runs at once, by the same exactly-once job."""
    if not ctx.core.reverts.bring_forward(timed.key):
        ctx.messenger.tell(respond, sentences.timed_change_over(True))
        return
    ctx.messenger.tell(respond, sentences.reverting_now(timed.target))
    ctx.run_due((REVERT_CHANGE,))


def _extend(ctx: SlackContext, user_id: str, timed: TimedChange, respond: Respond) -> None:
    """Extend: the same change again for as long, under the same policy (so it is requested
    where the change's channel may only request) and approvals.
    """
    actor = ctx.actor(user_id)
    verdict = ctx.core.permissions.authorize(actor, timed.channel_id, timed.action, timed.target)
    values = timed.set_values
    status = values.get("status")
    change = Change(
        Action(timed.action),
        timed.target,
        total_limit=values.get("total_limit"),
        hourly_limit=values.get("hourly_limit"),
        status=UserStatus(status) if status and timed.action == Action.EDIT else None,
        for_seconds=timed.seconds,
    )
    reason = f"extend it by {blocks.duration_words(timed.seconds)} from now"
    run_change(ctx, actor, timed.channel_id, change, verdict, reason, respond)


def _retire(ctx: SlackContext, user_id: str, rotation: Rotation, respond: Respond) -> None:
    """Done, retire the old one (or try again after a failure): by the retirement job, once."""
    outcome = ctx.core.chores.retire_now(rotation)
    if outcome == "already":
        ctx.messenger.tell(respond, sentences.already_retired(rotation.old))
        return
    ctx.messenger.tell(respond, sentences.retiring_now(rotation.old))
    if outcome == "scheduled":
        ctx.run_due((RETIRE_OLD,))


def _freeze_button(
    verb: str,
    act: Callable[[SlackContext, Actor, str, FrozenCard, Respond], None],
    *,
    rotating: bool = False,
) -> Callable[..., None]:
    """A button of a freeze alert, on a user that is still frozen; who may use it is the
    core's to say (Permissions.check_freeze_handler).
    """

    def freeze_clicked(
        ack: Callable[..., None], body: dict[str, Any], respond: Respond, context: BoltContext
    ) -> None:
        ack()
        ctx = sarvbot_of(context)
        user_id, channel_id = click_place(body)
        card = FrozenCard.read(clicked_value(body))

        def job() -> None:
            if card is None:
                ctx.messenger.tell(respond, sentences.OUT_OF_DATE)
                return
            entry = ctx.core.catalogue.entry(card.name)
            if entry is None or not entry.frozen:
                ctx.messenger.tell(respond, sentences.not_frozen(card.name))
                return
            actor = ctx.actor(user_id)
            ctx.core.permissions.check_freeze_handler(actor, channel_id, entry, rotating=rotating)
            act(ctx, actor, channel_id, replace(card, entry=entry), respond)

        name = card.name if card else None
        ctx.work.submit(respond, job, Handled("click", verb, user_id, channel_id, name))

    return freeze_clicked


@dataclass(frozen=True)
class FrozenCard:
    """What a freeze alert's buttons carry: the user, and where the freeze came from."""

    name: str
    origin: str
    entry: CatalogueEntry | None = None

    @classmethod
    def read(cls, value: str | None) -> FrozenCard | None:
        try:
            data = json.loads(value or "")
            name, origin = data["u"], data["c"]
        except (KeyError, TypeError, ValueError):
            return None
        if not isinstance(name, str) or not isinstance(origin, str):
            return None
        return cls(name[: sarv.MAX_NAME_LENGTH], origin[:32])


def _acknowledge(
    ctx: SlackContext, actor: Actor, channel_id: str, card: FrozenCard, respond: Respond
) -> None:
    """Ops have seen the freeze: the alert says who, and the audit log keeps it."""
    entry = card.entry or CatalogueEntry(card.name)
    ctx.core.trail.record(actor, channel_id, Action.FREEZE, "acknowledged", card.name)
    message = blocks.freeze_card(
        card.name,
        entry.label,
        entry.frozen_by or "",
        card.origin,
        entry.frozen_reason or "",
        acknowledged_by=actor.user_id,
    )
    ctx.messenger.reply(respond, message, replace=True)


def _rotate_frozen(
    ctx: SlackContext, actor: Actor, channel_id: str, card: FrozenCard, respond: Respond
) -> None:
    """The usual next step: a rotation, run by the ops member who clicked (whose click is
    the approval); its password goes to them, by ephemeral DM as every password goes.
    """
    verdict = Verdict(Decision.ALLOW, "approvals")
    change = Change(Action.ROTATE, card.name)
    run_change(ctx, actor, channel_id, change, verdict, "rotation after a freeze", respond)
