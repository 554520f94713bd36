"""Message events, for the leak watch: every new or edited message in a channel sarvbot is in."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext

from sarvbot.actions import Action

from ..context import sarvbot_of
from ..flows import leak_found
from ..work import Handled

__all__ = ["register"]

logger = logging.getLogger("sarvbot.slack")


def register(app: App) -> None:
    """Attach the message listener (Bolt acknowledges events itself)."""
    app.event("message")(message_posted)


def message_posted(event: dict[str, Any], context: BoltContext) -> None:
    """Check a message's text for current passwords, after the ack, on the quick pool."""
    ctx = sarvbot_of(context)
    if not ctx.core.permissions.policy.leak_watch:
        return
    edited = event.get("message") if event.get("subtype") == "message_changed" else None
    message = edited if isinstance(edited, dict) else event
    text = message.get("text")
    channel_id = str(event.get("channel") or "")
    if not isinstance(text, str) or not text or not channel_id:
        return
    if event.get("channel_type") == "im":
        return  # the DMs sarvbot reads are its own, which hold the passwords it delivers
    poster = str(message.get("user") or message.get("bot_id") or "unknown")
    ts = str(message.get("ts") or event.get("ts") or "")
    is_bot = bool(message.get("bot_id")) or message.get("subtype") == "bot_message"

    def check() -> None:
        ctx.core.leak_watch.refresh_if_due()
        for leak in ctx.core.leak_watch.check(text):
            leak_found(ctx, leak.name, channel_id, ts, poster, is_bot=is_bot)

    ctx.work.soon(None, check, Handled("event", Action.FREEZE, poster, channel_id))
