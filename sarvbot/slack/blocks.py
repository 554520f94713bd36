"""Block Kit builders: pure functions of data, shared by the Slack app and the demo."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sarvbot.actions import SPECS, Action, Detail
from sarvbot.core import (
    ApprovalRequest,
    AuditEntry,
    CataloguedUser,
    CatalogueEntry,
    CatalogueView,
    Change,
    RequestState,
    Rotation,
    TimedChange,
)
from sarvbot.core.user_index import Pick
from sarvbot.sarv import Credentials, SmtpUser

from . import picker
from .mrkdwn import NAME_LIMIT, channel_link, code, escape, escape_cut, mention, truncate

__all__ = [
    "PAGE_SIZE",
    "Message",
    "add_modal",
    "announcement",
    "approval_message",
    "audit_message",
    "deny_modal",
    "duration_words",
    "edit_modal",
    "freeze_card",
    "freeze_modal",
    "freeze_refused_alert",
    "help_message",
    "loading_modal",
    "modal_notice",
    "pending_message",
    "reminder_message",
    "requests_message",
    "secret_message",
    "text_message",
    "user_list_message",
    "user_message",
    "values_words",
    "whoami_message",
]

Message = dict[str, Any]
PAGE_SIZE = 25
MAX_TEXT = 2900  # under the 3000 characters of a section's text
REASON_LIMIT = 500
MISSING_SHOWN = 20

ACTION_LIST_PAGE = "list_page"
ACTION_REMOVE_SECRET = "remove_secret"  # noqa: S105 - an action id
ACTION_APPROVE = "approve_request"
ACTION_DENY = "deny_request"
ACTION_RETRY = "retry_request"
ACTION_EXTEND = "extend_change"
ACTION_REVERT_NOW = "revert_now"
ACTION_RETIRE = "retire_old"
ACTION_ACK_FREEZE = "acknowledge_freeze"
ACTION_ROTATE_FROZEN = "rotate_frozen"
VIEW_EDIT = "smtp_edit"
VIEW_ADD = "smtp_add"
VIEW_DENY = "smtp_deny"
VIEW_FREEZE = "smtp_freeze"
SHORTCUT_FREEZE = "freeze_from_message"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text, "verbatim": True}]}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _plain(text: str) -> str:
    """A fallback ``text`` for notifications: mrkdwn-escaped, one line, short."""
    return truncate(" ".join(text.split()), 300)


def text_message(text: str) -> Message:
    """A message of one mrkdwn section; ``text`` must already be escaped."""
    return {"text": _plain(text), "blocks": [_section(truncate(text, MAX_TEXT))]}


def _sections(lines: Iterable[str]) -> list[dict[str, Any]]:
    """Lines packed into as few sections as fit Slack's text limit."""
    blocks: list[dict[str, Any]] = []
    current: list[str] = []
    size = 0
    for line in lines:
        if current and size + len(line) + 1 > MAX_TEXT:
            blocks.append(_section("\n".join(current)))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        blocks.append(_section("\n".join(current)))
    return blocks


def help_message(allowed: Sequence[str], requestable: Sequence[str]) -> Message:
    """What the caller may do in this channel, with examples."""
    lines = ["*What you can do here with /smtp*"]
    lines += [f"• `{SPECS[Action(a)].usage}`" for a in allowed if a in SPECS]
    if requestable:
        lines.append("\n*What you can ask ops to approve here* (give a reason)")
        lines += [f"• `{SPECS[Action(a)].usage}`" for a in requestable]
    if len(allowed) <= 2:
        lines.append(
            "\nThis channel may run only `help` and `whoami`. An admin grants more in the "
            "permissions file, by channel ID (see `/smtp whoami`)."
        )
    examples = [
        s.example for a, s in SPECS.items() if s.example and (a in allowed or a in requestable)
    ]
    if examples:
        lines.append("\nExamples: " + ", ".join(f"`{e}`" for e in examples))
    return {"text": "sarvbot help", "blocks": _sections(lines)}


def whoami_message(
    user_id: str,
    channel_id: str,
    allowed: Sequence[str],
    requestable: Sequence[str],
    *,
    is_guest: bool,
) -> Message:
    """The caller's and channel's IDs and the actions allowed here."""
    lines = [
        f"*You:* `{escape(user_id)}`{' (guest or external)' if is_guest else ''}",
        f"*This channel:* `{escape(channel_id)}`",
        f"*Allowed here:* {', '.join(allowed) or 'nothing'}",
    ]
    if requestable:
        lines.append(f"*Can be requested here:* {', '.join(requestable)}")
    lines.append(f"In the permissions file this channel is `[channels.{escape(channel_id)}]`.")
    return {"text": f"You are {user_id} in {channel_id}", "blocks": [_section("\n".join(lines))]}


def _user_line(row: CataloguedUser) -> str:
    user, entry = row.user, row.entry
    label = f"*{escape(entry.label)}*" if entry and entry.label else "_unlabelled_"
    owner = f"  ·  {mention(entry.owner_id)}" if entry and entry.owner_id else ""
    frozen = f"  ·  🧊 frozen by {mention(entry.frozen_by or '')}" if entry and entry.frozen else ""
    retiring = frozen
    if entry and entry.retiring:
        retiring += "  ·  retiring" if user.enabled else "  ·  retired"
    stale = f"  ·  🔑 password {row.password_days} days old" if row.stale else ""
    return (
        f"{code(user.name)}  {label}  {'✅' if user.enabled else '⛔'} {user.status.value}  ·  "
        f"total {user.total_limit:,}  ·  hourly {user.hourly_limit:,}{owner}{retiring}{stale}"
    )


def _missing_line(entry: CatalogueEntry) -> str:
    label = f" *{escape(entry.label)}*" if entry.label else ""
    return f"⚠️ {code(entry.name)}{label}: in the catalogue, but Sarv no longer lists it"


def user_list_message(view: CatalogueView, text: str, page: int) -> Message:
    """One page of users with their labels and owners, with buttons to page on, and the
    catalogue entries whose user Sarv no longer lists. Never a password.
    """
    users = view.users
    pages = max(1, -(-len(users) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = users[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    query = f" matching {code(text)}" if text else ""
    missing = [_missing_line(e) for e in view.missing[:MISSING_SHOWN]]
    if not users and not missing:
        return text_message(f"No SMTP users{query}.")
    first = page * PAGE_SIZE + 1
    summary = (
        f"SMTP users{query}: {first}-{first + len(shown) - 1} of {len(users):,}"
        if users
        else f"No SMTP users{query} at Sarv."
    )
    lines = [*map(_user_line, shown), *(missing if page == 0 else [])]
    blocks: list[dict[str, Any]] = [_context(summary), *_sections(lines)]
    buttons = []
    if page > 0:
        buttons.append(
            _button("◀ Previous", ACTION_LIST_PAGE, json.dumps({"q": text, "p": page - 1}))
        )
    if page < pages - 1:
        buttons.append(_button("Next ▶", ACTION_LIST_PAGE, json.dumps({"q": text, "p": page + 1})))
    if buttons:
        blocks.append({"type": "actions", "block_id": "list_pages", "elements": buttons})
    return {"text": _plain(summary), "blocks": blocks}


def user_message(row: CataloguedUser) -> Message:
    """One user's details and its catalogue entry. Never its password."""
    user, entry = row.user, row.entry
    fields = [
        f"*User*\n{code(user.name)}",
        f"*Label*\n{escape(entry.label) if entry and entry.label else '_unlabelled_'}",
        f"*Status*\n{user.status.value}",
        f"*Owner*\n{mention(entry.owner_id) if entry and entry.owner_id else '_nobody_'}",
        f"*Total limit*\n{user.total_limit:,}",
        f"*Hourly limit*\n{user.hourly_limit:,}",
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f, "verbatim": True} for f in fields],
        }
    ]
    if entry and entry.note:
        blocks.append(_context(f"Note: {escape_cut(entry.note, REASON_LIMIT)}"))
    if entry and entry.retiring:
        blocks.append(_context("Retiring: a rotation replaced it and will disable it."))
    if entry and entry.frozen:
        why = escape_cut(entry.frozen_reason or "", REASON_LIMIT)
        blocks.append(
            _context(
                f"🧊 Frozen by {mention(entry.frozen_by or '')} {_when(entry.frozen_at)}: {why}"
            )
        )
    return {"text": f"SMTP user {escape_cut(user.name, NAME_LIMIT)}", "blocks": blocks}


def duration_words(seconds: int) -> str:
    """``14400`` as "4 hours", ``5400`` as "1 hour 30 minutes"."""
    parts = []
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts) or "0 minutes"


def _for(params: dict[str, Any]) -> str:
    seconds = params.get("for_seconds")
    return f" for {duration_words(seconds)}" if isinstance(seconds, int) else ""


def values_words(params: dict[str, Any]) -> str:
    """A change's values for people (mrkdwn): limits, status, and catalogue values."""
    parts = []
    for key, value in params.items():
        if key == "for_seconds":
            continue
        if key == "owner_id":
            parts.append(f"owner {mention(str(value))}")
        elif key == "note":
            parts.append(f"note “{escape_cut(str(value), 120)}”")
        else:
            parts.append(f"{key.replace('_limit', '')} {escape_cut(str(value), NAME_LIMIT)}")
    return ", ".join(parts)


def announcement(actor_id: str, change: Change, target: str) -> Message:
    """The channel's note of a change: who did what to which user, never a secret."""
    spec = SPECS[change.action]
    text = f"{mention(actor_id)} {spec.verb} {code(target)}"
    if spec.detail is Detail.REPLACEMENT:
        old = code(change.target or "")
        return text_message(f"{mention(actor_id)} {spec.verb} {old}: {code(target)} replaces it")
    if spec.detail is not Detail.STATUS_NOW:
        detail = values_words(change.params())
        if detail:
            text += f" ({detail})"
    return text_message(text + _for(change.params()))


def secret_message(credentials: Credentials, reason: str) -> Message:
    """The one message that holds a password: the ephemeral in the requester's DM."""
    password = credentials.password.reveal()
    return {
        "text": f"New SMTP password for {escape_cut(credentials.name, NAME_LIMIT)}",
        "blocks": [
            _section(
                f"*{escape(reason)}*\nSMTP user: {code(credentials.name)}\n"
                f"Password: `{escape(password)}`"
            ),
            _context(
                "Only you can see this message, and it goes away when you reload Slack. "
                "`/smtp reveal USER` shows the current password again where allowed."
            ),
            {
                "type": "actions",
                "block_id": "secret_actions",
                "elements": [_button("Remove this message", ACTION_REMOVE_SECRET, "remove")],
            },
        ],
    }


def _input(
    block_id: str, label: str, *, initial: str | None = None, multiline: bool = False
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": "value"}
    if initial is not None:
        element["initial_value"] = initial
    if multiline:
        element["multiline"] = True
        element["max_length"] = REASON_LIMIT
    else:
        element["max_length"] = 10
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": element,
    }


def _status_input(initial: str | None) -> dict[str, Any]:
    options = [
        {"text": {"type": "plain_text", "text": s}, "value": s} for s in ("Enable", "Disable")
    ]
    element: dict[str, Any] = {"type": "static_select", "action_id": "value", "options": options}
    if initial in ("Enable", "Disable"):
        element["initial_option"] = options[0 if initial == "Enable" else 1]
    return {
        "type": "input",
        "block_id": "status",
        "label": {"type": "plain_text", "text": "Status"},
        "element": element,
    }


def _modal(
    callback_id: str, title: str, blocks: list[dict[str, Any]], meta: str, submit: str
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": {"type": "plain_text", "text": title},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": meta,
        "blocks": blocks,
    }
    if submit:
        view["submit"] = {"type": "plain_text", "text": submit}
    return view


def loading_modal(name: str, meta: str) -> dict[str, Any]:
    """Opened at once (a trigger_id lives 3 s); filled in when Sarv answers."""
    return _modal(
        VIEW_EDIT,
        "Edit SMTP user",
        [_section(f"Looking up {code(name)} at Sarv…")],
        meta,
        "",
    )


def modal_notice(title: str, text: str, meta: str) -> dict[str, Any]:
    """A modal that only says something (the user was not found, Sarv is down)."""
    return _modal(VIEW_EDIT, title, [_section(text)], meta, "")


def edit_modal(user: SmtpUser, meta: str, *, ask_reason: bool) -> dict[str, Any]:
    """The edit form, prefilled with the user's current values."""
    blocks = [
        _context(f"SMTP user {code(user.name)}"),
        _input("total_limit", "Total limit", initial=str(user.total_limit)),
        _input("hourly_limit", "Hourly limit", initial=str(user.hourly_limit)),
        _status_input(user.status.value),
        *_for_inputs(),
    ]
    if ask_reason:
        blocks.append(_input("reason", "Reason", multiline=True))
    return _modal(VIEW_EDIT, "Edit SMTP user", blocks, meta, "Request" if ask_reason else "Save")


# The edit form's "For" choices: seconds as text, "" until changed, "custom" for the box.
FOR_CHOICES = (
    ("Until changed", "0"),
    ("1 hour", "3600"),
    ("4 hours", "14400"),
    ("1 day", "86400"),
    ("1 week", "604800"),
    ("Custom (below)", "custom"),
)


def _for_inputs() -> list[dict[str, Any]]:
    options = [{"text": {"type": "plain_text", "text": t}, "value": v} for t, v in FOR_CHOICES]
    choice = {
        "type": "input",
        "block_id": "for",
        "label": {"type": "plain_text", "text": "For"},
        "element": {
            "type": "static_select",
            "action_id": "value",
            "options": options,
            "initial_option": options[0],
        },
    }
    custom = _input("for_custom", "Custom duration (e.g. 90m, 2h30m, 3d)")
    custom["optional"] = True
    return [choice, custom]


def add_modal(meta: str, *, ask_reason: bool, owner_id: str | None = None) -> dict[str, Any]:
    """The add form: the limits, and the new user's label and owner for the catalogue."""
    label = _input("label", "Label (e.g. billing-api)")
    label["optional"] = True
    label["element"]["max_length"] = 40
    owner_element: dict[str, Any] = {"type": "users_select", "action_id": "value"}
    if owner_id:
        owner_element["initial_user"] = owner_id
    owner = {
        "type": "input",
        "block_id": "owner",
        "optional": True,
        "label": {"type": "plain_text", "text": "Owner"},
        "element": owner_element,
    }
    blocks = [
        _input("total_limit", "Total limit"),
        _input("hourly_limit", "Hourly limit"),
        label,
        owner,
    ]
    if ask_reason:
        blocks.append(_input("reason", "Reason", multiline=True))
    return _modal(VIEW_ADD, "Add SMTP user", blocks, meta, "Request" if ask_reason else "Add")


def deny_modal(request_id: int, meta: str) -> dict[str, Any]:
    """Deny a request, with an optional reason."""
    reason = _input("reason", "Reason", multiline=True)
    reason["optional"] = True
    return _modal(
        VIEW_DENY,
        f"Deny request #{request_id}",
        [_section(f"Deny request #{request_id}?"), reason],
        meta,
        "Deny",
    )


def describe_request(request: ApprovalRequest) -> str:
    """What a request asks for, with old and new values for an edit."""
    spec = SPECS[Action(request.action)]
    params = request.params
    target = f" {code(request.target)}" if request.target else ""
    new, old = params.get("new", params), params.get("old", {})
    if spec.detail is Detail.LIMITS:
        return f"{spec.request_verb}{target} ({values_words(params)})"
    if spec.detail is Detail.STATUS_NOW:
        now = escape(str(old.get("status", "?")))
        return f"{spec.request_verb}{target} (now {now}){_for(new)}"
    if spec.detail is Detail.OLD_TO_NEW:
        changes = [
            f"{key.replace('_limit', '')} {escape(str(old.get(key, '?')))} → {escape(str(value))}"
            for key, value in new.items()
            if key != "for_seconds"
        ]
        return f"{spec.request_verb}{target}: " + ", ".join(changes) + _for(new)
    if spec.detail is Detail.VALUES:
        return f"{spec.request_verb}{target}: {values_words(new)}"
    if spec.detail is Detail.REPLACEMENT:
        grace = new.get("grace_seconds")
        shown = duration_words(grace) if isinstance(grace, int) else "24 hours"
        return f"{spec.request_verb}{target} (the old user stays enabled for {shown})"
    return f"{spec.request_verb}{target}"


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    stamp = int(moment.timestamp())
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{fallback}>"


_STATE_TEXT = {
    RequestState.PENDING: "⏳ Waiting for approval",
    RequestState.RUNNING: "⚙️ Approved, running at Sarv…",
    RequestState.DONE: "✅ Done",
    RequestState.FAILED: "❌ Failed",
    RequestState.UNKNOWN: "❓ Outcome unknown",
    RequestState.DENIED: "🚫 Denied",
    RequestState.EXPIRED: "⌛ Expired",
    RequestState.CANCELLED: "↩️ Withdrawn by the requester",
}


def approval_message(request: ApprovalRequest, *, required: int = 1) -> Message:
    """The request as ops see it in the approvals channel, with the buttons its state allows."""
    title = f"Request #{request.id}: {describe_request(request)}"
    lines = [
        f"*{title}*",
        f"*From:* {mention(request.requester_id)} in {channel_link(request.requester_channel_id)}",
        f"*Why:* {escape_cut(request.reason, REASON_LIMIT)}",
        f"*Expires:* {_when(request.expires_at)}",
    ]
    status = _STATE_TEXT[request.state]
    if request.state is RequestState.PENDING and request.approvals:
        voters = ", ".join(mention(v) for v in request.approvals)
        status += f" ({len(request.approvals)} of {required} approvals: {voters})"
    if request.decided_by and request.state is not RequestState.PENDING:
        verb = "denied" if request.state is RequestState.DENIED else "approved"
        status += f" · {verb} by {mention(request.decided_by)} {_when(request.decided_at)}"
    if request.deny_reason:
        status += f"\n*Reason for denial:* {escape_cut(request.deny_reason, REASON_LIMIT)}"
    if request.error:
        status += f"\n*Problem:* {escape_cut(request.error, REASON_LIMIT)}"
    if request.result and request.result.get("smtp_user_name"):
        status += f"\n*SMTP user:* {code(str(request.result['smtp_user_name']))}"
    blocks: list[dict[str, Any]] = [_section("\n".join(lines)), _section(status)]
    value = str(request.id)
    if request.state is RequestState.PENDING:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"decide_{request.id}",
                "elements": [
                    _button("Approve", ACTION_APPROVE, value, "primary"),
                    _button("Deny", ACTION_DENY, value, "danger"),
                ],
            }
        )
    elif request.state is RequestState.FAILED:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"retry_{request.id}",
                "elements": [_button("Retry", ACTION_RETRY, value)],
            }
        )
    return {"text": _plain(f"Request #{request.id}: {status.splitlines()[0]}"), "blocks": blocks}


def requests_message(requests: Sequence[ApprovalRequest]) -> Message:
    """Pending requests, oldest first."""
    if not requests:
        return text_message("No requests are waiting for approval.")
    lines = [f"*{len(requests)} pending request(s)*"]
    lines += [
        f"#{r.id} {describe_request(r)} · by {mention(r.requester_id)} · {escape_cut(r.reason, 80)}"
        for r in requests[:40]
    ]
    return {"text": f"{len(requests)} pending request(s)", "blocks": _sections(lines)}


def audit_message(entries: Sequence[AuditEntry], target: str | None) -> Message:
    """The latest audit rows, newest first."""
    about = f" for {code(target)}" if target else ""
    if not entries:
        return text_message(f"No audit entries{about}.")
    lines = [f"*Latest audit entries{about}*"]
    for entry in entries:
        line = (
            f"{entry.at:%Y-%m-%d %H:%M} · {mention(entry.actor_id)} · {escape(entry.action)}"
            f" {code(entry.target) if entry.target else ''} · *{escape(entry.outcome)}*"
        )
        if entry.request_id:
            line += f" · #{entry.request_id}"
        if entry.detail:
            line += f" · {escape_cut(entry.detail, 120)}"
        if entry.error:
            line += f" · {escape_cut(entry.error, 120)}"
        lines.append(line)
    return {"text": f"Audit{about}", "blocks": _sections(lines)}


def _timed_line(timed: TimedChange) -> str:
    return (
        f"{code(timed.target)} {escape(timed.action)} {values_words(timed.set_values)} until "
        f"{_when(timed.ends_at)}, then back to {values_words(timed.before)} · by "
        f"{mention(timed.requester_id)}"
    )


def pending_message(changes: Sequence[TimedChange]) -> Message:
    """Time-bound changes in force, soonest end first."""
    if not changes:
        return text_message("No time-bound changes are in force.")
    lines = [f"*{len(changes)} time-bound change(s) in force*"]
    lines += [_timed_line(t) for t in changes[:40]]
    return {"text": f"{len(changes)} time-bound change(s) in force", "blocks": _sections(lines)}


def reminder_message(timed: TimedChange) -> Message:
    """The requester's DM before a time-bound change ends: Extend, or Revert now."""
    text = (
        f"Your {escape(timed.action)} of {code(timed.target)} ({values_words(timed.set_values)}) "
        f"ends {_when(timed.ends_at)}; sarvbot then puts back {values_words(timed.before)}."
    )
    buttons = [
        _button(f"Extend: {duration_words(timed.seconds)} from now", ACTION_EXTEND, timed.key),
        _button("Revert now", ACTION_REVERT_NOW, timed.key, "danger"),
    ]
    return {
        "text": _plain(text),
        "blocks": [
            _section(text),
            {"type": "actions", "block_id": "timed_change", "elements": buttons},
        ],
    }


def _retire_button(key: str, text: str = "Done, retire the old one") -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": "rotation",
        "elements": [_button(text, ACTION_RETIRE, key, "primary")],
    }


def rotation_message(old: str, new: str, retire_at: datetime | None, key: str) -> Message:
    """After a rotation's password: how the old user is retired, and the Done button."""
    when = (
        f"otherwise sarvbot disables it {_when(retire_at)}"
        if retire_at is not None
        else f"{code(old)} stays enabled until then"
    )
    text = (
        f"{code(new)} replaces {code(old)}, with the same limits and catalogue entry. When your "
        f"app sends with {code(new)}, click *Done* to disable {code(old)}; {when}."
    )
    return {"text": _plain(text), "blocks": [_section(text), _retire_button(key)]}


def retire_reminder_message(rotation: Rotation) -> Message:
    """Before the grace period ends: the old user is disabled soon."""
    text = (
        f"sarvbot disables {code(rotation.old)} {_when(rotation.retire_at)}: make sure the app "
        f"sends with {code(rotation.new)}, which replaces it."
    )
    return {"text": _plain(text), "blocks": [_section(text), _retire_button(rotation.key)]}


def retire_failed_message(rotation: Rotation, why: str) -> Message:
    """A retirement that kept failing: the old user is still enabled; try again."""
    text = (
        f"sarvbot could not disable {code(rotation.old)}: {escape(why)} It is still enabled "
        f"beside {code(rotation.new)}. Try again when Sarv is back."
    )
    button = _retire_button(rotation.key, "Retire the old one now")
    return {"text": _plain(text), "blocks": [_section(text), button]}


def freeze_card(
    name: str,
    label: str | None,
    by: str,
    channel_id: str,
    why: str,
    *,
    acknowledged_by: str | None = None,
) -> Message:
    """The alert in the approvals channel: who froze which user, from where and why."""
    shown = f"{code(name)} ({escape(label)})" if label else code(name)
    lines = [
        f"*🧊 {mention(by)} froze {shown}* from {channel_link(channel_id)}",
        f"*Why:* {escape_cut(why, REASON_LIMIT)}",
        "It is disabled. Undo it with `/smtp enable` (under the usual policy and approvals); "
        "the usual next step is a rotation.",
    ]
    state = (
        f"Acknowledged by {mention(acknowledged_by)}"
        if acknowledged_by
        else "Waiting for ops to acknowledge it"
    )
    # The buttons carry the user and where the freeze came from (for the card's next form).
    value = json.dumps({"u": name, "c": channel_id})
    buttons = [_button("Rotate", ACTION_ROTATE_FROZEN, value)]
    if acknowledged_by is None:
        buttons.insert(0, _button("Acknowledge", ACTION_ACK_FREEZE, value, "primary"))
    return {
        "text": _plain(f"{name} was frozen"),
        "blocks": [
            _section("\n".join(lines)),
            _context(state),
            {"type": "actions", "block_id": "freeze", "elements": buttons},
        ],
    }


def freeze_refused_alert(by: str, channel_id: str, target: str | None, per_hour: int) -> Message:
    """The approvals channel hears of a freeze the rate limit refused."""
    what = f" of {code(target)}" if target else ""
    return text_message(
        f"⚠️ {mention(by)} was refused a freeze{what} in {channel_link(channel_id)}: they froze "
        f"{per_hour} SMTP users in the last hour, as many as the policy allows."
    )


def freeze_modal(candidates: Sequence[Pick], meta: str) -> dict[str, Any]:
    """Freeze one of the SMTP users a message names (the first is chosen), or any other
    the picker finds, and say why.
    """
    blocks = [
        _section("It is disabled at once, and ops are alerted. Undo it with `/smtp enable`."),
        _context(picker.found_in_message(candidates)),
        picker.user_picker(initial=next((c for c in candidates if picker.can_offer(c)), None)),
        _input("reason", "Why", multiline=True),
    ]
    return _modal(VIEW_FREEZE, "Freeze an SMTP user", blocks, meta, "Freeze")
