"""The SMTP user picker's options, and the global shortcut "Manage an SMTP user"."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk.errors import SlackApiError

from sarvbot.actions import Action
from sarvbot.core import (
    CommandError,
    DatabaseUnavailable,
    NotAMember,
    Refused,
    parse_command,
)
from sarvbot.core.user_index import Pick
from sarvbot.policy import Decision

from .. import blocks, picker, sentences
from ..context import sarvbot_of
from ..flows import authorize
from ..payloads import FormMeta, state_choice, state_text, state_values
from ..work import Handled
from .commands import fill_edit_form, queue_command

__all__ = ["register"]

logger = logging.getLogger("sarvbot.slack")

# Slack waits 3 s for options: past this, an empty list now beats nothing at all (the load
# goes on, and the next keystroke is answered from it).
OPTIONS_WAIT = 2.0
# Nobody types more into a picker; a longer value is cut, not refused.
MAX_TYPED = 255
# Slack waits 3 s for a form's answer: the person's lookups (users.info, the chosen
# channel's members) get this long, and the form says Slack was slow past it.
LOOKUP_WAIT = 2.0
_VIEW_ID = re.compile(r"V[A-Z0-9]{2,30}")


def register(app: App) -> None:
    """Attach the picker's options, the shortcut and its form."""
    app.options(picker.ACTION_PICK_USER)(suggest_users)
    app.shortcut(picker.SHORTCUT_MANAGE)(manage_from_shortcut)
    app.action({"block_id": picker.CHANNEL_BLOCK, "action_id": "value"})(manage_channel_picked)
    app.view(picker.VIEW_MANAGE)(manage_submitted)


def suggest_users(ack: Callable[..., None], body: dict[str, Any], context: BoltContext) -> None:
    """The users whose name or label holds what was typed, for someone a channel they are
    in lets list or show; none for anyone else, nor when Slack or Sarv cannot say in time.
    """
    ctx = sarvbot_of(context)
    user_id = _user_id(body)
    typed = body.get("value")
    text = typed[:MAX_TYPED] if isinstance(typed, str) else ""
    started = time.monotonic()
    picks: list[Pick] = []
    try:
        seen = ctx.work.within(
            OPTIONS_WAIT, lambda: ctx.core.permissions.may_see_users(ctx.actor(user_id))
        )
        if seen:
            left = max(0.0, OPTIONS_WAIT - (time.monotonic() - started))
            picks = ctx.core.user_index.search(text, limit=picker.MAX_OPTIONS, wait=left)
    except TimeoutError:
        logger.warning("picker answered with no options: Slack or Sarv is slow")
    except Exception as exc:
        logger.warning("picker answered with no options: %s", type(exc).__name__)
    ack(options=picker.options(picks))


def manage_from_shortcut(
    ack: Callable[..., None], body: dict[str, Any], context: BoltContext
) -> None:
    """Open the Manage modal; nothing is checked until it is submitted with a channel."""
    ack()
    ctx = sarvbot_of(context)
    user_id = _user_id(body)
    trigger_id = str(body.get("trigger_id"))

    def open_form() -> None:
        try:
            ctx.client.views_open(
                trigger_id=trigger_id, view=picker.manage_modal(FormMeta("").dump())
            )
        except SlackApiError as exc:
            logger.warning("could not open the manage form: %s", exc.response.get("error"))
            ctx.messenger.direct_message(user_id, sentences.MANAGE_NOT_OPENED)
            return
        # While the person reads the form: the list, and who they are, ready for the
        # first letter they type.
        ctx.core.user_index.warm()
        try:
            ctx.core.permissions.may_see_users(ctx.actor(user_id))
        except Exception as exc:
            logger.info("could not look ahead for the manage form: %s", type(exc).__name__)

    ctx.work.soon(None, open_form, Handled("shortcut", "manage", user_id, ""))


def manage_channel_picked(
    ack: Callable[..., None], body: dict[str, Any], context: BoltContext
) -> None:
    """A channel chosen on the Manage modal: its actions narrow to those the channel's policy
    lets this person run or request there. A help only: the submission is checked in full.
    """
    ack()
    ctx = sarvbot_of(context)
    user_id = _user_id(body)
    view = body.get("view")
    actions = body.get("actions")
    if not isinstance(view, dict) or not isinstance(actions, list) or not actions:
        return
    view_id, view_hash = view.get("id"), view.get("hash")
    channel_id = picker.picked_channel(actions[0])
    if (
        view.get("callback_id") != picker.VIEW_MANAGE
        or not isinstance(view_id, str)
        or not _VIEW_ID.fullmatch(view_id)
        or not isinstance(view_hash, str)
        or channel_id is None
    ):
        logger.info("a channel chosen outside a manage form, or not as Slack sends it: ignored")
        return

    def narrow() -> None:
        try:
            guest = ctx.actor(user_id).is_guest
        except (SlackApiError, OSError) as exc:
            logger.warning(
                "manage form left as it was: could not look up %s: %s", user_id, type(exc).__name__
            )
            return
        policy = ctx.core.permissions.policy
        offer = picker.channel_offer(
            channel_id,
            policy.allowed_actions(channel_id, is_guest=guest),
            policy.requestable_actions(channel_id, is_guest=guest),
        )
        try:
            ctx.client.views_update(
                view_id=view_id,
                hash=view_hash,
                view=picker.manage_modal(FormMeta("").dump(), offer),
            )
        except SlackApiError as exc:
            # hash_conflict: the form changed meanwhile (another channel chosen, say).
            error = str(exc.response.get("error") or "unknown")[:64]
            logger.info("manage form left as it was: views.update said %s", error)
        except OSError as exc:
            logger.warning("manage form left as it was: %s", type(exc).__name__)

    ctx.work.soon(None, narrow, Handled("action", "manage-channel", user_id, channel_id))


def manage_submitted(
    ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any], context: BoltContext
) -> None:
    """The Manage modal: checked as ``/smtp ACTION USER DETAILS`` in the chosen channel
    would be; a refusal or a mistake stays on the form, the rest runs or is requested.
    """
    ctx = sarvbot_of(context)
    user_id = _user_id(body)
    values = state_values(view)
    name = picker.picked_user(values)
    action = picker.manage_action(state_choice(values, "action"))
    channel_id = picker.picked_conversation(values, "channel")
    response_url = _response_url(body, "channel")
    errors: dict[str, str] = {}
    if name is None:
        errors[picker.PICKER_BLOCK] = sentences.PICK_A_USER
    if action is None:
        # A channel that offers nothing shows that in the actions' place.
        narrowed_away = not any(b.get("block_id") == "action" for b in _blocks(view))
        if narrowed_away:
            errors["channel"] = sentences.NOTHING_POSSIBLE_HERE
        else:
            errors["action"] = sentences.PICK_AN_ACTION
    if channel_id is None or response_url is None:
        errors["channel"] = sentences.PICK_A_CHANNEL
    if errors or name is None or action is None or channel_id is None:
        ack(response_action="errors", errors=errors)
        return
    person = picker.picked_person(values, "person")
    words = [action.value, name, f"<@{person}>" if person else "", state_text(values, "details")]
    try:
        command = parse_command(" ".join(w for w in words if w))
        actor = ctx.work.within(LOOKUP_WAIT, lambda: ctx.actor(user_id))
        # The policy first, as for /smtp typed there; only the run takes a freeze's slot
        # of the hour: this is asked again when it runs.
        verdict = authorize(ctx, actor, channel_id, action, name, ahead=True)
        ctx.work.within(
            LOOKUP_WAIT,
            lambda: ctx.core.permissions.check_member(actor, channel_id, action, name),
        )
    except CommandError as exc:
        ack(response_action="errors", errors={"details": sentences.form_usage(exc)})
        return
    except NotAMember as exc:
        ack(response_action="errors", errors={"channel": exc.message})
        return
    except Refused as exc:
        ack(response_action="errors", errors={"action": exc.message})
        return
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "unknown")[:64]
        logger.warning("could not look up %s for the manage form: %s", user_id, error)
        unreadable = error == "channel_not_found"  # a private channel sarvbot is not in
        said = sentences.CHANNEL_UNREADABLE if unreadable else sentences.SLACK_SLOW
        ack(response_action="errors", errors={"channel": said})
        return
    except OSError as exc:
        # Slow (TimeoutError) or unreachable.
        logger.warning("could not look up %s for the manage form: %s", user_id, type(exc).__name__)
        ack(response_action="errors", errors={"channel": sentences.SLACK_SLOW})
        return
    except DatabaseUnavailable:
        ack(response_action="errors", errors={"action": sentences.DATABASE_DOWN + "."})
        return
    requested = verdict.decision is Decision.REQUEST
    if not command.wants_modal and not command.reason and (requested or action is Action.FREEZE):
        # Both are refused without one: said on the form rather than after it closed.
        ack(response_action="errors", errors={"details": sentences.SAY_WHY})
        return
    meta = FormMeta(channel_id, user=name, response_url=response_url)
    respond = meta.respond()
    handled = Handled("shortcut", action, user_id, channel_id, name)
    if command.wants_modal:
        # Actions with a form (edit) go on in their form, opened in this modal's place.
        ack(response_action="update", view=blocks.loading_modal(name, meta.dump()))
        view_id = str(view.get("id"))
        ctx.work.submit(
            respond, lambda: fill_edit_form(ctx, name, meta, view_id, requested), handled
        )
        return
    queue_command(ctx, ack, command, user_id, channel_id, respond, handled)


def _user_id(body: dict[str, Any]) -> str:
    user = body.get("user")
    return str(user.get("id")) if isinstance(user, dict) else ""


def _blocks(view: dict[str, Any]) -> list[dict[str, Any]]:
    found = view.get("blocks")
    return [b for b in found if isinstance(b, dict)] if isinstance(found, list) else []


def _response_url(body: dict[str, Any], block_id: str) -> str | None:
    """The response_url Slack gave for the channel chosen in ``block_id``."""
    for item in body.get("response_urls") or []:
        if isinstance(item, dict) and item.get("block_id") == block_id:
            url = item.get("response_url")
            if isinstance(url, str) and url.startswith(("https://", "http://")):
                return url
    return None
