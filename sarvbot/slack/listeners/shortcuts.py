"""The message shortcut "Freeze this SMTP user": find the users a message names, ask which."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext
from slack_bolt.context.respond import Respond

from sarvbot import sarv
from sarvbot.actions import Action
from sarvbot.core import Refused, describe_sarv_error
from sarvbot.core.user_index import Pick

from .. import blocks, sentences
from ..context import SlackContext, sarvbot_of
from ..flows import authorize
from ..payloads import FormMeta
from ..work import Handled

__all__ = ["register"]

logger = logging.getLogger("sarvbot.slack")

# What might be an SMTP user's name or label in a message's text.
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


def register(app: App) -> None:
    """Attach the shortcut."""
    app.shortcut(blocks.SHORTCUT_FREEZE)(freeze_from_message)


def freeze_from_message(
    ack: Callable[..., None], body: dict[str, Any], respond: Respond, context: BoltContext
) -> None:
    """Open the freeze form at once (a trigger_id lives 3 s); fill it in once Sarv answers."""
    ack()
    ctx = sarvbot_of(context)
    user_id, channel_id = str(_part(body, "user").get("id")), str(_part(body, "channel").get("id"))
    text = str(_part(body, "message").get("text") or "")[:40_000]
    meta = FormMeta(channel_id, response_url=body.get("response_url"))
    handled = Handled("shortcut", Action.FREEZE, user_id, channel_id)

    def open_form() -> None:
        opened = ctx.client.views_open(
            trigger_id=str(body.get("trigger_id")),
            view=blocks.modal_notice("Freeze an SMTP user", "Looking for SMTP users…", meta.dump()),
        )
        view_id = opened["view"]["id"]
        ctx.work.submit(respond, lambda: _fill(ctx, user_id, meta, text, view_id), handled)

    ctx.work.soon(respond, open_form, handled)


def _part(body: dict[str, Any], key: str) -> dict[str, Any]:
    found = body.get(key)
    return found if isinstance(found, dict) else {}


def _fill(ctx: SlackContext, user_id: str, meta: FormMeta, text: str, view_id: str) -> None:
    """The form, or in its place why there is nothing to freeze here."""
    try:
        # The form takes no freeze slot of the hour; its submission's run takes one.
        authorize(ctx, ctx.actor(user_id), meta.channel_id, Action.FREEZE, ahead=True)
        candidates = _named_in(ctx, text)
    except Refused as exc:
        words = sentences.words(exc.message)
    except sarv.Error as exc:
        words = sentences.words(describe_sarv_error(exc))
    else:
        if candidates:
            view = blocks.freeze_modal(candidates, meta.dump())
            ctx.client.views_update(view_id=view_id, view=view)
            return
        words = sentences.NO_USER_IN_MESSAGE
    notice = blocks.modal_notice("Freeze an SMTP user", words, meta.dump())
    ctx.client.views_update(view_id=view_id, view=notice)


def _named_in(ctx: SlackContext, text: str) -> list[Pick]:
    """The SMTP users a text names, by Sarv name or label, with their labels."""
    # A name ends a sentence as often as not: its full stop is no part of it.
    words = {w.rstrip("._-").lower() for w in _WORD.findall(text)}
    view = ctx.core.catalogue.view()
    found = []
    for row in view.users:
        label = row.entry.label if row.entry else None
        if row.user.name.lower() in words or (label and label.lower() in words):
            found.append(Pick(row.user.name, label))
    return found
