"""Slack messages and modals as terminal text: pure functions of the JSON the app sends."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Button",
    "Field",
    "Names",
    "Style",
    "buttons_of",
    "message_lines",
    "modal_fields",
    "modal_lines",
    "mrkdwn_to_text",
]

_TOKEN = re.compile(r"<([^<>\n]+)>")
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")


@dataclass(frozen=True)
class Style:
    """ANSI colour, or none at all: the same calls give plain text when ``colour`` is off."""

    colour: bool = False

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour and text else text

    def bold(self, text: str) -> str:
        """Strong text (``*bold*`` in mrkdwn, headers, prompts)."""
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        """Secondary text: context blocks, notes from the demo itself."""
        return self._wrap("2", text)

    def code(self, text: str) -> str:
        """Inline code: coloured without backticks, or kept in backticks when plain."""
        return self._wrap("36", text) if self.colour else f"`{text}`"

    def good(self, text: str) -> str:
        """A primary button."""
        return self._wrap("32", text)

    def bad(self, text: str) -> str:
        """A danger button, an error."""
        return self._wrap("31", text)

    def note(self, text: str) -> str:
        """Where a message went: channel, DM, "only visible to you"."""
        return self._wrap("33", text)


@dataclass(frozen=True)
class Names:
    """Turns Slack IDs into the names a person would see."""

    user: Callable[[str], str]
    channel: Callable[[str], str]


@dataclass(frozen=True)
class Button:
    """A button of a message: its label and what a click sends."""

    label: str
    action_id: str
    value: str | None
    style: str | None = None


@dataclass
class Field:
    """An input block of a modal, as the demo asks for it."""

    block_id: str
    action_id: str
    label: str
    kind: str
    initial: str | None = None
    optional: bool = False
    max_length: int | None = None
    options: list[tuple[str, str]] = field(default_factory=list)  # (label, value)

    def choose(self, answer: str) -> str | None:
        """The option value an answer names (by label, value or number), or None."""
        wanted = answer.strip().casefold()
        for number, (label, value) in enumerate(self.options, 1):
            if wanted in (label.casefold(), value.casefold(), str(number)):
                return value
        return None

    def shown(self, value: str | None) -> str:
        """A value as the person sees it (an option's label rather than its value)."""
        for label, option_value in self.options:
            if option_value == value:
                return label
        return value or ""


def mrkdwn_to_text(text: str, names: Names, style: Style) -> str:
    """Slack mrkdwn as terminal text: names for mentions, date fallbacks, unescaped entities."""
    text = _TOKEN.sub(lambda m: _token(m.group(1), names), text)
    text = _BOLD.sub(lambda m: style.bold(m.group(1)), text)
    return _unescape(_CODE.sub(lambda m: style.code(m.group(1)), text))


def _token(inner: str, names: Names) -> str:
    body, _, label = inner.partition("|")
    if body.startswith("@"):
        return "@" + (label or names.user(body[1:]))
    if body.startswith("#"):
        return "#" + (label or names.channel(body[1:]))
    if body.startswith("!date^"):
        return label or body
    if body.startswith("!subteam^"):
        return label or "@" + body.removeprefix("!subteam^")
    if body.startswith("!"):
        return "@" + body[1:]
    return f"{label} ({body})" if label else body


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text_of(obj: object) -> str:
    if isinstance(obj, Mapping):
        value = obj.get("text", "")
        return value if isinstance(value, str) else ""
    return ""


def _object_text(obj: object, names: Names, style: Style) -> str:
    """A text object: mrkdwn is converted, plain_text is only shown."""
    if isinstance(obj, Mapping) and obj.get("type") == "mrkdwn":
        return mrkdwn_to_text(_text_of(obj), names, style)
    return _text_of(obj)


def _field_lines(obj: object, names: Names, style: Style) -> list[str]:
    # Slack shows a field's bold first line as a label above its value; one line reads better.
    lines = _object_text(obj, names, style).split("\n")
    if len(lines) > 1:
        return [f"{lines[0]}: {' '.join(lines[1:])}"]
    return lines


def _decoded_blocks(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    blocks = message.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return []
    if not isinstance(blocks, list):
        return []
    return [b for b in blocks if isinstance(b, dict)]


def buttons_of(message: Mapping[str, Any]) -> list[Button]:
    """Every button in a message's or a view's blocks, in order."""
    found: list[Button] = []
    for block in _decoded_blocks(message):
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("type") == "button":
                value = element.get("value")
                found.append(
                    Button(
                        label=_text_of(element.get("text")),
                        action_id=str(element.get("action_id", "")),
                        value=value if isinstance(value, str) else None,
                        style=element.get("style"),
                    )
                )
    return found


def _button_text(button: Button, style: Style) -> str:
    shown = f"[{button.label}]"
    if button.style == "primary":
        return style.good(shown)
    if button.style == "danger":
        return style.bad(shown)
    return style.bold(shown)


def _block_lines(block: Mapping[str, Any], names: Names, style: Style) -> list[str]:
    kind = block.get("type")
    if kind == "section":
        lines: list[str] = []
        if block.get("text"):
            lines += _object_text(block["text"], names, style).split("\n")
        for item in block.get("fields") or []:
            lines += _field_lines(item, names, style)
        return lines
    if kind == "context":
        texts = [_object_text(e, names, style) for e in block.get("elements") or []]
        return [style.dim(line) for line in "  ".join(t for t in texts if t).split("\n")]
    if kind == "header":
        return [style.bold(_text_of(block.get("text")))]
    if kind == "divider":
        return [style.dim("─" * 20)]
    if kind == "actions":
        shown = [_button_text(b, style) for b in buttons_of({"blocks": [block]})]
        return [" ".join(shown)] if shown else []
    if kind == "input":
        return []  # the demo asks for inputs field by field
    return [style.dim(f"[{kind}]")]


def message_lines(message: Mapping[str, Any], names: Names, style: Style) -> list[str]:
    """A message's blocks as lines of text, buttons as ``[Approve] [Deny]``; else its text."""
    blocks = _decoded_blocks(message)
    lines = [line for block in blocks for line in _block_lines(block, names, style)]
    if not lines:
        text = message.get("text")
        lines = mrkdwn_to_text(text if isinstance(text, str) else "", names, style).split("\n")
    return lines


def modal_lines(view: Mapping[str, Any], names: Names, style: Style) -> list[str]:
    """A modal's title, buttons and the blocks that are not inputs."""
    title = _text_of(view.get("title"))
    actions = [_text_of(view.get(k)) for k in ("close", "submit") if view.get(k)]
    head = style.bold(f"Modal: {title}")
    if actions:
        head += style.dim("  (" + " | ".join(actions) + ")")
    body = [line for b in _decoded_blocks(view) for line in _block_lines(b, names, style)]
    return [head, *body]


def modal_fields(view: Mapping[str, Any]) -> list[Field]:
    """The input blocks of a modal that the demo knows how to ask for."""
    fields: list[Field] = []
    for block in _decoded_blocks(view):
        element = block.get("element")
        if block.get("type") != "input" or not isinstance(element, dict):
            continue
        kind = str(element.get("type"))
        found = Field(
            block_id=str(block.get("block_id", "")),
            action_id=str(element.get("action_id", "")),
            label=_text_of(block.get("label")),
            kind=kind,
            optional=bool(block.get("optional")),
        )
        max_length = element.get("max_length")
        if isinstance(max_length, int):
            found.max_length = max_length
        if kind == "static_select":
            found.options = [
                (_text_of(o.get("text")), str(o.get("value")))
                for o in _options(element)
                if isinstance(o, dict)
            ]
            initial = element.get("initial_option")
            if isinstance(initial, dict):
                found.initial = str(initial.get("value"))
        elif kind == "plain_text_input":
            initial_value = element.get("initial_value")
            found.initial = initial_value if isinstance(initial_value, str) else None
        else:
            continue
        fields.append(found)
    return fields


def _options(element: Mapping[str, Any]) -> Sequence[Any]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    return options
