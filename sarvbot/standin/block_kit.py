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
    "MAX_TEXT_OBJECT_CHARS",
    "MAX_VIEW_BLOCKS",
    "check_message_limits",
]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT_OBJECT_CHARS = 3000  # a section's text, a context element
MAX_FIELD_CHARS = 2000  # each of a section's fields
MAX_HEADER_CHARS = 150
MAX_MESSAGE_CHARS = 40_000  # a message's top-level text


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
    return False
