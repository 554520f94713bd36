"""The App Home tab as Block Kit: a pure function of one person's view."""

from __future__ import annotations

from typing import Any

from sarvbot.core import ApprovalRequest, CatalogueEntry, RequestState
from sarvbot.core.home import PersonalView

from . import sentences
from .blocks import (
    _STATE_TEXT,
    REASON_LIMIT,
    _button,
    _context,
    _section,
    _sections,
    _timed_line,
    _when,
    describe_request,
)
from .mrkdwn import code, escape_cut, mention, truncate

__all__ = [
    "ACTION_HOME_APPROVE",
    "ACTION_HOME_CANCEL",
    "ACTION_HOME_DENY",
    "HOME_BLOCK_LIMIT",
    "home_unavailable",
    "home_view",
]

ACTION_HOME_APPROVE = "home_approve"
ACTION_HOME_DENY = "home_deny"
ACTION_HOME_CANCEL = "home_cancel"
HOME_CALLBACK = "sarvbot_home"
# Slack takes at most 100 blocks in a Home tab.
HOME_BLOCK_LIMIT = 100
# How many of each list are shown; the rest are counted ("…and 3 more"). With every list
# full the view holds about 60 blocks (tests/slack/test_home.py checks the limit).
WAITING_SHOWN = 15
MINE_SHOWN = 10
TIMED_SHOWN = 15
OWNED_SHOWN = 25
FROZEN_SHOWN = 10


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def _more(shown: int, total: int) -> list[dict[str, Any]]:
    return [_context(sentences.and_more(total - shown))] if total > shown else []


def _waiting(request: ApprovalRequest, required: int) -> list[dict[str, Any]]:
    lines = [
        f"*#{request.id}* {describe_request(request)}",
        f"From {mention(request.requester_id)} · {escape_cut(request.reason, REASON_LIMIT)}",
        f"Expires {_when(request.expires_at)}",
    ]
    if request.approvals:
        voters = ", ".join(mention(v) for v in request.approvals)
        lines.append(f"{len(request.approvals)} of {required} approvals: {voters}")
    value = str(request.id)
    return [
        _section("\n".join(lines)),
        {
            "type": "actions",
            "block_id": f"home_decide_{request.id}",
            "elements": [
                _button("Approve", ACTION_HOME_APPROVE, value, "primary"),
                _button("Deny", ACTION_HOME_DENY, value, "danger"),
            ],
        },
    ]


def _mine(request: ApprovalRequest) -> dict[str, Any]:
    line = f"*#{request.id}* {describe_request(request)}\n{_STATE_TEXT[request.state]}"
    if request.state is RequestState.PENDING:
        line += f" · expires {_when(request.expires_at)}"
        block = _section(line)
        block["accessory"] = _button("Cancel", ACTION_HOME_CANCEL, str(request.id))
        return block
    if request.decided_at is not None:
        line += f" · {_when(request.decided_at)}"
    return _section(line)


def _owned_line(entry: CatalogueEntry) -> str:
    line = code(entry.name)
    if entry.label:
        line += f" · {code(entry.label)}"
    if entry.note:
        line += f" · {escape_cut(entry.note, 120)}"
    if entry.frozen:
        line += " · frozen"
    return line


def _frozen_line(entry: CatalogueEntry) -> str:
    by = f" by {mention(entry.frozen_by)}" if entry.frozen_by else ""
    why = f" · {escape_cut(entry.frozen_reason, 200)}" if entry.frozen_reason else ""
    return f"{code(entry.name)} frozen{by} {_when(entry.frozen_at)}{why}"


def _listed(lines: list[str], shown: int, empty: str) -> list[dict[str, Any]]:
    if not lines:
        return [_context(empty)]
    return _sections(lines[:shown]) + _more(shown, len(lines))


def home_view(
    view: PersonalView, approvals_channel: str | None, *, notice: str | None = None
) -> dict[str, Any]:
    """The Home tab of ``view``'s person; ``notice`` (escaped mrkdwn) is the answer to
    their last click, shown on top. Lists are cut so that the view stays within Slack's
    100 blocks.
    """
    blocks: list[dict[str, Any]] = [_header("sarvbot")]
    if notice:
        blocks.append(_section(truncate(notice, 2900)))
    if view.is_guest:
        blocks.append(_section(sentences.HOME_GUEST))
        return {"type": "home", "callback_id": HOME_CALLBACK, "blocks": blocks}
    if view.decider:
        blocks += [{"type": "divider"}, _header("Waiting on you")]
        if approvals_channel:
            blocks.append(_context(sentences.home_decide_hint(approvals_channel)))
        if not view.waiting:
            blocks.append(_context(sentences.HOME_NOTHING_WAITING))
        for request in view.waiting[:WAITING_SHOWN]:
            blocks += _waiting(request, view.required)
        blocks += _more(WAITING_SHOWN, len(view.waiting))
    blocks += [{"type": "divider"}, _header("Your requests")]
    if not view.mine:
        blocks.append(_context(sentences.HOME_NO_REQUESTS))
    blocks += [_mine(r) for r in view.mine[:MINE_SHOWN]]
    blocks += _more(MINE_SHOWN, len(view.mine))
    blocks += [{"type": "divider"}, _header("Time-bound changes in force")]
    blocks += _listed([_timed_line(t) for t in view.timed], TIMED_SHOWN, sentences.HOME_NO_TIMED)
    blocks += [{"type": "divider"}, _header("SMTP users you own")]
    blocks += _listed([_owned_line(e) for e in view.owned], OWNED_SHOWN, sentences.HOME_NO_OWNED)
    blocks += [{"type": "divider"}, _header("Recent freezes")]
    frozen = [_frozen_line(e) for e in view.frozen]
    blocks += _listed(frozen, FROZEN_SHOWN, sentences.HOME_NO_FREEZES)
    return {"type": "home", "callback_id": HOME_CALLBACK, "blocks": blocks}


def home_unavailable(notice: str | None = None) -> dict[str, Any]:
    """The Home tab when what it shows cannot be read (the database is unavailable)."""
    blocks = [_header("sarvbot")]
    if notice:
        blocks.append(_section(truncate(notice, 2900)))
    blocks.append(_section(sentences.HOME_UNAVAILABLE))
    return {"type": "home", "callback_id": HOME_CALLBACK, "blocks": blocks}
