"""The SMTP user picker and the Manage modal: Block Kit builders, and reading their state.

The picker is an ``external_select``: Slack asks for its options as the person types (see
``listeners/picker.py``), so no form has to carry the whole list or ask for a name typed
from memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sarvbot.actions import SPECS, Action, ActionSpec, Takes
from sarvbot.core.user_index import Pick

from . import sentences
from .mrkdwn import code, truncate

__all__ = [
    "ACTION_PICK_USER",
    "CHANNEL_BLOCK",
    "MANAGE_ACTIONS",
    "MAX_OPTIONS",
    "PICKER_BLOCK",
    "SHORTCUT_MANAGE",
    "VIEW_MANAGE",
    "ChannelOffer",
    "channel_offer",
    "manage_modal",
    "option",
    "options",
    "picked_user",
    "user_picker",
]

PICKER_BLOCK = "smtp_user"
ACTION_PICK_USER = "pick_smtp_user"
SHORTCUT_MANAGE = "manage_smtp_user"
VIEW_MANAGE = "smtp_manage"
# The Manage modal's channel chooser: picking one narrows its actions to what it allows.
CHANNEL_BLOCK = "channel"
CHANNEL_ALLOWS_BLOCK = "channel_allows"

# Slack's limits on an options answer and on each option.
MAX_OPTIONS = 100
OPTION_TEXT_LIMIT = 75
OPTION_VALUE_LIMIT = 150
DETAILS_LIMIT = 500

_TAKES_A_USER = {
    Takes.USER,
    Takes.OPTIONAL_USER,
    Takes.USER_AND_REASON,
    Takes.USER_AND_CHANGES,
    Takes.USER_VALUE_AND_REASON,
    Takes.USER_AND_TEXT,
    Takes.USER_GRACE_AND_REASON,
}

#: What the Manage modal offers: every action of the table that is done to one SMTP user.
MANAGE_ACTIONS: tuple[ActionSpec, ...] = tuple(
    s for s in SPECS.values() if s.takes in _TAKES_A_USER
)

_CONVERSATION = re.compile(r"^[CGD][A-Z0-9]{2,20}$")
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,20}$")


def option(pick: Pick) -> dict[str, Any]:
    """One option: the Sarv name as its value, the name and label as plain text."""
    text = f"{pick.name} ({pick.label})" if pick.label else pick.name
    return {
        "text": {"type": "plain_text", "text": truncate(text, OPTION_TEXT_LIMIT), "emoji": False},
        "value": pick.name,
    }


def can_offer(pick: Pick) -> bool:
    """Whether Slack takes ``pick`` as an option: its name is the value, of limited size."""
    return 0 < len(pick.name) <= OPTION_VALUE_LIMIT


def options(picks: Sequence[Pick]) -> list[dict[str, Any]]:
    """The answer to a picker's options request, within Slack's limits."""
    return [option(p) for p in [p for p in picks if can_offer(p)][:MAX_OPTIONS]]


def user_picker(
    label: str = "SMTP user", *, initial: Pick | None = None, hint: str | None = None
) -> dict[str, Any]:
    """An input block with the picker; ``initial`` preselects a user."""
    element: dict[str, Any] = {
        "type": "external_select",
        "action_id": ACTION_PICK_USER,
        "min_query_length": 0,
        "placeholder": {"type": "plain_text", "text": "Type a name or a label"},
    }
    if initial is not None:
        element["initial_option"] = option(initial)
    block: dict[str, Any] = {
        "type": "input",
        "block_id": PICKER_BLOCK,
        "label": {"type": "plain_text", "text": label},
        "element": element,
    }
    if hint:
        block["hint"] = {"type": "plain_text", "text": hint}
    return block


def picked_user(values: object) -> str | None:
    """The Sarv name chosen in a form's picker, or None."""
    block = values.get(PICKER_BLOCK) if isinstance(values, dict) else None
    element = block.get(ACTION_PICK_USER) if isinstance(block, dict) else None
    chosen = element.get("selected_option") if isinstance(element, dict) else None
    value = chosen.get("value") if isinstance(chosen, dict) else None
    return value if isinstance(value, str) and value else None


def picked_conversation(values: object, block_id: str) -> str | None:
    """The channel chosen in a conversations_select, or None."""
    element = _element(values, block_id)
    found = element.get("selected_conversation")
    return found if isinstance(found, str) and _CONVERSATION.match(found) else None


def picked_person(values: object, block_id: str) -> str | None:
    """The person chosen in a users_select, or None."""
    found = _element(values, block_id).get("selected_user")
    return found if isinstance(found, str) and _SLACK_USER.match(found) else None


def _element(values: object, block_id: str) -> dict[str, Any]:
    block = values.get(block_id) if isinstance(values, dict) else None
    element = block.get("value") if isinstance(block, dict) else None
    return element if isinstance(element, dict) else {}


@dataclass(frozen=True)
class ChannelOffer:
    """What the Manage modal offers one person once they chose a channel: the actions its
    policy lets them run there, and those they may request there.
    """

    channel_id: str
    allowed: tuple[Action, ...]
    requestable: tuple[Action, ...]

    @property
    def nothing(self) -> bool:
        """True when the channel lets them neither run nor request any of the actions."""
        return not self.allowed and not self.requestable


def channel_offer(
    channel_id: str, allowed: Iterable[str], requestable: Iterable[str]
) -> ChannelOffer:
    """The Manage modal's actions among the policy's ``allowed`` and ``requestable`` ones."""
    runs, asks = set(allowed), set(requestable)
    return ChannelOffer(
        channel_id,
        tuple(s.action for s in MANAGE_ACTIONS if s.action.value in runs),
        tuple(s.action for s in MANAGE_ACTIONS if s.action.value in asks - runs),
    )


def picked_channel(action: object) -> str | None:
    """The channel a block_actions action of a conversations_select chose, or None."""
    found = action.get("selected_conversation") if isinstance(action, dict) else None
    return found if isinstance(found, str) and _CONVERSATION.match(found) else None


def _action_option(spec: ActionSpec, *, requested: bool = False) -> dict[str, Any]:
    name = spec.action.value.capitalize()
    return {
        "text": {
            "type": "plain_text",
            "text": f"{name} ({sentences.NEEDS_APPROVAL})" if requested else name,
        },
        "description": {"type": "plain_text", "text": truncate(spec.usage, OPTION_TEXT_LIMIT)},
        "value": spec.action.value,
    }


def _action_options(offer: ChannelOffer | None) -> list[dict[str, Any]]:
    if offer is None:
        return [_action_option(s) for s in MANAGE_ACTIONS]
    return [
        _action_option(s, requested=s.action in offer.requestable)
        for s in MANAGE_ACTIONS
        if s.action in offer.allowed or s.action in offer.requestable
    ]


def manage_modal(meta: str, offer: ChannelOffer | None = None) -> dict[str, Any]:
    """Pick a user, an action and the channel whose policy governs it (the answer goes
    there too, seen only by the person).

    With ``offer`` (once a channel is chosen) the actions are those it allows or lets the
    person request, and a line says so; a channel that offers none shows that instead of
    the actions. The blocks keep their ids and element types, so Slack keeps what the
    person entered when the view is updated.
    """
    actions = {
        "type": "input",
        "block_id": "action",
        "label": {"type": "plain_text", "text": "Action"},
        "element": {
            "type": "static_select",
            "action_id": "value",
            "options": _action_options(offer),
        },
    }
    allows = {
        "type": "context",
        "block_id": CHANNEL_ALLOWS_BLOCK,
        "elements": [
            {
                "type": "mrkdwn",
                "text": sentences.MANAGE_PICK_CHANNEL_FIRST
                if offer is None
                else sentences.manage_channel_allows(
                    offer.channel_id, offer.allowed, offer.requestable
                ),
            }
        ],
    }
    channel = {
        "type": "input",
        "block_id": CHANNEL_BLOCK,
        "dispatch_action": True,
        "label": {"type": "plain_text", "text": "Asked in"},
        "hint": {
            "type": "plain_text",
            "text": "The channel's policy decides, as for /smtp there; the answer is "
            "posted there, seen only by you.",
        },
        "element": {
            "type": "conversations_select",
            "action_id": "value",
            "response_url_enabled": True,
            "default_to_current_conversation": True,
            "filter": {"include": ["public", "private"], "exclude_bot_users": True},
        },
    }
    details: dict[str, Any] = {
        "type": "input",
        "block_id": "details",
        "optional": True,
        "label": {"type": "plain_text", "text": "Details"},
        "hint": {
            "type": "plain_text",
            "text": "What follows the user in /smtp: a reason, a label, a note's text, "
            "total=N hourly=N, for 4h, grace=24h.",
        },
        "element": {
            "type": "plain_text_input",
            "action_id": "value",
            "max_length": DETAILS_LIMIT,
        },
    }
    person = {
        "type": "input",
        "block_id": "person",
        "optional": True,
        "label": {"type": "plain_text", "text": "Person (for owner)"},
        "element": {"type": "users_select", "action_id": "value"},
    }
    return {
        "type": "modal",
        "callback_id": VIEW_MANAGE,
        "title": {"type": "plain_text", "text": "Manage an SMTP user"},
        "submit": {"type": "plain_text", "text": "Continue"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": meta,
        "blocks": [
            user_picker(),
            channel,
            allows,
            *([] if offer is not None and offer.nothing else [actions]),
            details,
            person,
        ],
    }


def found_in_message(picks: Sequence[Pick]) -> str:
    """The users a message names, for the freeze form's first line (mrkdwn)."""
    shown = [code(f"{p.name} ({p.label})" if p.label else p.name) for p in picks[:10]]
    more = f" and {len(picks) - 10} more" if len(picks) > 10 else ""
    return "This message names " + ", ".join(shown) + more + "."


def manage_action(value: str | None) -> Action | None:
    """The action chosen in the Manage modal, if it is one the modal offers."""
    offered = {s.action.value: s.action for s in MANAGE_ACTIONS}
    return offered.get(value or "")
