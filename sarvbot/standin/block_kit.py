"""The size limits Slack documents for messages, views and their Block Kit blocks.

The stand-in Slack refuses what Slack would refuse, with Slack's error code, so a test
sees a message that is too long the way production would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "MAX_FIELD_CHARS",
    "MAX_HEADER_CHARS",
    "MAX_MESSAGE_BLOCKS",
    "MAX_MESSAGE_CHARS",
    "MAX_OPTIONS",
    "MAX_OPTION_TEXT_CHARS",
    "MAX_OPTION_VALUE_CHARS",
    "MAX_TEXT_OBJECT_CHARS",
    "MAX_VIEW_BLOCKS",
    "check_message_limits",
    "check_options",
]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT_OBJECT_CHARS = 3000  # a section's text, a context element
MAX_FIELD_CHARS = 2000  # each of a section's fields
MAX_HEADER_CHARS = 150
MAX_MESSAGE_CHARS = 40_000  # a message's top-level text
MAX_OPTIONS = 100  # a select's options, or an options answer
MAX_OPTION_TEXT_CHARS = 75
MAX_OPTION_VALUE_CHARS = 150


def check_message_limits(
    *, text: object, blocks: object, max_blocks: int, require_content: bool = True
) -> str | None:
    """Return the Slack error code a message or view would get for its size, or None.

    ``blocks`` is the decoded block list (or None); ``max_blocks`` is 50 for messages and
    100 for views.
    """
    if blocks is not None:
        if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
            return "invalid_blocks_format"
        if len(blocks) > max_blocks:
            return "invalid_blocks"
        for block in blocks:
            if _block_too_long(block):
                return "invalid_blocks"
    if text is not None and not isinstance(text, str):
        return "invalid_arguments"
    if isinstance(text, str) and len(text) > MAX_MESSAGE_CHARS:
        return "msg_too_long"
    if require_content and not text and not blocks:
        return "no_text"
    return None


def _block_too_long(block: Mapping[str, Any]) -> bool:
    def text_of(obj: object) -> str:
        if isinstance(obj, dict):
            value = obj.get("text", "")
            return value if isinstance(value, str) else ""
        return ""

    kind = block.get("type")
    if kind == "section":
        fields = block.get("fields") or []
        return len(text_of(block.get("text"))) > MAX_TEXT_OBJECT_CHARS or (
            isinstance(fields, list) and any(len(text_of(f)) > MAX_FIELD_CHARS for f in fields)
        )
    if kind == "context":
        elements = block.get("elements") or []
        return isinstance(elements, list) and any(
            len(text_of(e)) > MAX_TEXT_OBJECT_CHARS for e in elements
        )
    if kind == "header":
        return len(text_of(block.get("text"))) > MAX_HEADER_CHARS
    if kind == "input" and isinstance(block.get("element"), dict):
        element = block["element"]
        offered = list(element.get("options") or [])
        if element.get("type") == "static_select" and not offered:
            return True  # Slack refuses a static_select with nothing to choose
        if isinstance(element.get("initial_option"), dict):
            offered.append(element["initial_option"])
        return check_options(offered, limit=MAX_OPTIONS + 1) is not None
    return False


def check_options(options: object, *, limit: int = MAX_OPTIONS) -> str | None:
    """Why Slack would not show ``options`` (a select's, or an options answer), or None."""
    if not isinstance(options, list) or len(options) > limit:
        return "too many options" if isinstance(options, list) else "not a list"
    for found in options:
        text = found.get("text") if isinstance(found, dict) else None
        value = found.get("value") if isinstance(found, dict) else None
        if not isinstance(text, dict) or text.get("type") != "plain_text":
            return "an option's text is not plain_text"
        words = text.get("text")
        if not isinstance(words, str) or not 1 <= len(words) <= MAX_OPTION_TEXT_CHARS:
            return "an option's text is empty or longer than 75 characters"
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_OPTION_VALUE_CHARS:
            return "an option's value is empty or longer than 150 characters"
    return None
