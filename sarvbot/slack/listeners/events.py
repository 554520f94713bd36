"""Message events, for the leak watch: every new or edited message in a channel sarvbot is in."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext

from ..context import sarvbot_of
from ..flows import leak_found

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
    text = message_text(message)
    channel_id = str(event.get("channel") or "")
    if not text or not channel_id:
        return
    if event.get("channel_type") == "im":
        return  # the DMs sarvbot reads are its own, which hold the passwords it delivers
    poster = str(message.get("user") or message.get("bot_id") or "unknown")
    ts = str(message.get("ts") or event.get("ts") or "")
    is_bot = bool(message.get("bot_id")) or message.get("subtype") == "bot_message"

    def check() -> None:
        ctx.core.leak_watch.refresh_if_due()  # a failure keeps the index it had
        for leak in ctx.core.leak_watch.confirm(text):
            leak_found(ctx, leak.name, channel_id, ts, poster, is_bot=is_bot)

    ctx.work.watch(check, "leak check")


# Where a message carries words besides its text: attachments (a CI bot's log), blocks.
_TEXT_KEYS = ("text", "fallback", "pretext", "title", "value")
_MAX_TEXT = 200_000


def message_text(message: dict[str, Any]) -> str:
    """Every piece of text a message carries (text, attachments, blocks), joined."""
    found: list[str] = []
    size = 0

    def walk(node: object, depth: int) -> None:
        nonlocal size
        if depth > 12 or size > _MAX_TEXT:
            return
        if isinstance(node, dict):
            for key, value in node.items():
                if key in _TEXT_KEYS and isinstance(value, str):
                    found.append(value)
                    size += len(value)
                else:
                    walk(value, depth + 1)
        elif isinstance(node, list):
            for item in node:
                walk(item, depth + 1)

    walk({k: message.get(k) for k in ("text", "attachments", "blocks", "files")}, 0)
    return "\n".join(found)[:_MAX_TEXT]
