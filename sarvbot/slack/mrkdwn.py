"""The one place where text from users and from Sarv is made safe for Slack's mrkdwn."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["NAME_LIMIT", "channel_link", "code", "escape", "escape_cut", "mention", "truncate"]

# Sarv's names are short; a longer one is cut, never allowed to break a message.
NAME_LIMIT = 80

# Control characters and the marks that reorder text (bidi overrides and isolates).
_INERT = re.compile("[\x00-\x08\x0b-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` (so ``<!channel>`` pings nobody) and drop control marks."""
    text = _INERT.sub("\ufffd", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_cut(text: str, limit: int) -> str:
    """``text`` escaped, then cut to at most ``limit`` characters with an ellipsis.

    Escaping makes text longer (``&`` becomes five characters), so the limit is measured
    after it; the cut never splits an entity such as ``&amp;``.
    """
    escaped = escape(text[:limit])  # never shorter than what it escapes
    if len(text) <= limit and len(escaped) <= limit:
        return escaped
    kept = escaped[: limit - 1]
    entity = kept.rfind("&")
    if entity >= 0 and ";" not in kept[entity:]:
        kept = kept[:entity]
    return kept + "…"


def code(text: str, limit: int = NAME_LIMIT) -> str:
    """``text`` escaped, cut to ``limit`` characters and shown as inline code."""
    return "`" + escape_cut(text, limit).replace("`", "'") + "`"


def is_user_id(text: object) -> bool:
    """Whether ``text`` has the shape of a Slack user ID (``U…`` or ``W…``)."""
    return isinstance(text, str) and re.fullmatch(r"[UW][A-Z0-9]{2,31}", text) is not None


def mention(user_id: str) -> str:
    """A mention of a user ID we got from Slack itself (never from typed text)."""
    if not is_user_id(user_id):
        return escape(user_id)
    return f"<@{user_id}>"


def mention_people(ids: Iterable[str]) -> str:
    """Mentions of users and user groups (``S...``) named in the policy, in a stable order."""
    return ", ".join(
        f"<!subteam^{i}>" if re.fullmatch(r"S[A-Z0-9]+", i) else mention(i) for i in sorted(ids)
    )


def channel_link(channel_id: str) -> str:
    """A link to a channel ID we got from Slack or the policy (never from typed text)."""
    if not re.fullmatch(r"[CGD][A-Z0-9]+", channel_id):
        return escape(channel_id)
    return f"<#{channel_id}>"


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
