"""Reading what Slack sends: form state, a modal's private_metadata, button clicks.

Everything here is read defensively: a payload of an unexpected shape reads as missing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.context.respond import Respond

from sarvbot import sarv
from sarvbot.core.commands import (
    LABEL_PATTERN,
    MAX_REQUEST_ID,
    request_number,
    whole_number,
)

__all__ = [
    "FormMeta",
    "SubmittedForm",
    "click_place",
    "clicked_request",
    "clicked_value",
    "state_choice",
    "state_text",
    "state_values",
]


@dataclass
class FormMeta:
    """What a modal carries in its private_metadata: where it was opened, and for what."""

    channel_id: str
    user: str | None = None
    response_url: str | None = None
    original: dict[str, Any] = field(default_factory=dict)
    request_id: int | None = None
    # Opened from the Home tab: no response_url, its answers go on top of the Home tab.
    from_home: bool = False

    def dump(self) -> str:
        """The private_metadata text (well under Slack's 3000 characters)."""
        return json.dumps(
            {
                "c": self.channel_id,
                "u": self.user,
                "r": self.response_url,
                "o": self.original,
                "q": self.request_id,
                "h": self.from_home,
            }
        )

    @classmethod
    def load(cls, text: str) -> FormMeta:
        """Read private_metadata; ValueError when it is not ours."""
        data = json.loads(text or "{}")
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            raise ValueError("private_metadata")
        user, url, original, request_id = data.get("u"), data.get("r"), data.get("o"), data.get("q")
        return cls(
            channel_id=data["c"],
            user=user if isinstance(user, str) else None,
            response_url=url
            if isinstance(url, str) and url.startswith(("https://", "http://"))
            else None,
            original=original if isinstance(original, dict) else {},
            request_id=request_number(request_id),
            from_home=data.get("h") is True,
        )

    def respond(self) -> Respond | None:
        """Answers the person through the command's response_url, when there is one."""
        return Respond(response_url=self.response_url) if self.response_url else None


def _state_element(values: object, block_id: str) -> dict[str, Any]:
    block = values.get(block_id) if isinstance(values, dict) else None
    element = block.get("value") if isinstance(block, dict) else None
    return element if isinstance(element, dict) else {}


def state_values(view: dict[str, Any]) -> dict[str, Any]:
    """A submitted view's state values, or {}."""
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    return values if isinstance(values, dict) else {}


def state_text(values: object, block_id: str) -> str:
    """The text typed into one input, stripped ("" when absent)."""
    raw = _state_element(values, block_id).get("value")
    return raw.strip() if isinstance(raw, str) else ""


def state_choice(values: object, block_id: str) -> str | None:
    """The value of the option chosen in one select."""
    option = _state_element(values, block_id).get("selected_option")
    value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) else None


_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,20}$")


def _read_limit(values: object, block_id: str, errors: dict[str, str]) -> int | None:
    value = whole_number(state_text(values, block_id), sarv.MAX_LIMIT)
    if value is None:
        errors[block_id] = f"Enter a whole number from 1 to {sarv.MAX_LIMIT:,}."
    return value


def _reason(values: dict[str, Any], errors: dict[str, str]) -> str:
    if "reason" not in values:
        return ""
    reason = state_text(values, "reason")
    if not reason:
        errors["reason"] = "Say why: ops decide with it."
    return reason


@dataclass
class SubmittedForm:
    """A submitted add or edit form: its values read, with an error per bad field."""

    meta: FormMeta | None
    values: dict[str, Any]
    errors: dict[str, str]
    total: int | None
    hourly: int | None
    reason: str
    label: str | None = None
    owner_id: str | None = None

    @classmethod
    def read(cls, view: dict[str, Any]) -> SubmittedForm:
        """Read the form; problems land in ``errors`` under their input's block id."""
        values = state_values(view)
        errors: dict[str, str] = {}
        try:
            meta: FormMeta | None = FormMeta.load(str(view.get("private_metadata") or ""))
        except ValueError:
            meta = None
            errors["total_limit"] = "This form is out of date: close it and run the command again."
        total = _read_limit(values, "total_limit", errors)
        hourly = _read_limit(values, "hourly_limit", errors)
        label = state_text(values, "label") or None
        if label is not None and not LABEL_PATTERN.match(label):
            errors["label"] = "1 to 40 letters, digits, dots, dashes or underscores."
        owner = _state_element(values, "owner").get("selected_user")
        owner_id = owner if isinstance(owner, str) and _SLACK_USER.match(owner) else None
        reason = _reason(values, errors)
        return cls(meta, values, errors, total, hourly, reason, label, owner_id)


def click_place(body: dict[str, Any]) -> tuple[str, str]:
    """Who clicked, and in which channel."""
    user = body.get("user")
    channel = body.get("channel")
    container = body.get("container")
    user_id = user.get("id") if isinstance(user, dict) else None
    channel_id = (channel.get("id") if isinstance(channel, dict) else None) or (
        container.get("channel_id") if isinstance(container, dict) else None
    )
    return str(user_id), str(channel_id)


def clicked_value(body: dict[str, Any]) -> str | None:
    """The value of the clicked button."""
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        return None
    value = actions[0].get("value")
    return value if isinstance(value, str) else None


def clicked_request(body: dict[str, Any]) -> int | None:
    """The request number a decision button carries; None when it names no request."""
    value = clicked_value(body)
    return whole_number(value, MAX_REQUEST_ID) if value is not None else None
