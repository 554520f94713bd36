"""Modal submissions: the add and edit forms, and the deny form."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from slack_bolt import App, BoltContext

from sarvbot.actions import Action
from sarvbot.core import Change, CommandError
from sarvbot.core.commands import parse_duration
from sarvbot.sarv import UserStatus

from .. import blocks, sentences
from ..context import SlackContext, sarvbot_of
from ..flows import authorize, decide, run_change
from ..payloads import FormMeta, SubmittedForm, state_choice, state_text, state_values
from ..picker import PICKER_BLOCK, picked_user
from ..work import Handled

__all__ = ["register"]


def register(app: App) -> None:
    """Attach the form listeners."""
    app.view(blocks.VIEW_EDIT)(edit_submitted)
    app.view(blocks.VIEW_ADD)(add_submitted)
    app.view(blocks.VIEW_DENY)(deny_submitted)
    app.view(blocks.VIEW_FREEZE)(freeze_submitted)


def edit_submitted(
    ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any], context: BoltContext
) -> None:
    """The edit modal: inline errors keep it open; a valid form runs or is requested."""
    form = SubmittedForm.read(view)
    status = state_choice(form.values, "status")
    if status not in ("Enable", "Disable"):
        form.errors["status"] = "Choose Enable or Disable."
    new = {"total_limit": form.total, "hourly_limit": form.hourly, "status": status}
    original = form.meta.original if form.meta else {}
    changes = {k for k, v in new.items() if v is not None and original.get(k) != v}
    if not form.errors and not changes:
        form.errors["total_limit"] = "Nothing changed: edit a value, or cancel."
    if form.errors or form.meta is None:
        ack(response_action="errors", errors=form.errors)
        return
    for_seconds = _duration(form.values, form.errors)
    if form.errors:
        ack(response_action="errors", errors=form.errors)
        return
    change = Change(
        Action.EDIT,
        form.meta.user,
        total_limit=form.total if "total_limit" in changes else None,
        hourly_limit=form.hourly if "hourly_limit" in changes else None,
        status=UserStatus(str(status)) if "status" in changes else None,
        for_seconds=for_seconds,
    )
    _submit_change(sarvbot_of(context), ack, str(body["user"]["id"]), form, change)


def _duration(values: dict[str, Any], errors: dict[str, str]) -> int | None:
    """The form's "For" choice in seconds (None: until changed); a bad one is an error."""
    choice = state_choice(values, "for") or "0"
    if choice == "custom":
        text = state_text(values, "for_custom")
        try:
            seconds = parse_duration(text)
        except CommandError as exc:
            errors["for_custom"] = exc.message
            return None
        if seconds is None:
            errors["for_custom"] = "Give a duration such as 90m, 4h or 2d."
        return seconds
    seconds_text = choice if choice.isdigit() else "0"
    return int(seconds_text) or None


def add_submitted(
    ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any], context: BoltContext
) -> None:
    """The add modal."""
    form = SubmittedForm.read(view)
    if form.errors or form.meta is None:
        ack(response_action="errors", errors=form.errors)
        return
    change = Change(
        Action.ADD,
        None,
        total_limit=form.total,
        hourly_limit=form.hourly,
        label=form.label,
        owner_id=form.owner_id,
    )
    _submit_change(sarvbot_of(context), ack, str(body["user"]["id"]), form, change)


def _submit_change(
    ctx: SlackContext,
    ack: Callable[..., None],
    user_id: str,
    form: SubmittedForm,
    change: Change,
) -> None:
    """Ack a valid form with its receipt written, then run or request its change."""
    meta = form.meta
    if meta is None:
        raise ValueError("a form without its metadata is answered with errors")
    receipt: Future[int] = ctx.core.ledger.acknowledge_soon(
        user_id, meta.channel_id, change.action, change.target
    )
    ack()
    respond = meta.respond()

    def job() -> None:
        # Checked again now, against the channel the form was opened in.
        actor = ctx.actor(user_id)
        verdict = ctx.core.permissions.authorize(
            actor, meta.channel_id, change.action, change.target
        )
        run_change(ctx, actor, meta.channel_id, change, verdict, form.reason, respond, receipt)

    label = Handled("form", change.action, user_id, meta.channel_id, change.target)
    ctx.work.submit(respond, job, label, receipt=receipt)


def freeze_submitted(
    ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any], context: BoltContext
) -> None:
    """The freeze form of the message shortcut: the user it names, and why."""
    values = state_values(view)
    name, reason = picked_user(values), state_text(values, "reason")
    try:
        meta: FormMeta | None = FormMeta.load(str(view.get("private_metadata") or ""))
    except ValueError:
        meta = None
    errors = {}
    if not name:
        errors[PICKER_BLOCK] = sentences.PICK_TO_FREEZE
    if not reason:
        errors["reason"] = "Say why: ops read it on the alert."
    if meta is None:
        errors["reason"] = "This form is out of date: use the shortcut again."
    if errors or meta is None or name is None:
        ack(response_action="errors", errors=errors)
        return
    ctx, user_id = sarvbot_of(context), str(body["user"]["id"])
    receipt = ctx.core.ledger.acknowledge_soon(user_id, meta.channel_id, Action.FREEZE, name)
    ack()
    respond = meta.respond()
    change = Change(Action.FREEZE, name, why=reason)

    def job() -> None:
        # Checked again now, against the channel the message is in.
        actor = ctx.actor(user_id)
        verdict = authorize(ctx, actor, meta.channel_id, Action.FREEZE, name)
        run_change(ctx, actor, meta.channel_id, change, verdict, reason, respond, receipt)

    label = Handled("form", Action.FREEZE, user_id, meta.channel_id, name)
    ctx.work.submit(respond, job, label, receipt=receipt)


def deny_submitted(
    ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any], context: BoltContext
) -> None:
    """The deny form."""
    try:
        meta: FormMeta | None = FormMeta.load(str(view.get("private_metadata") or ""))
    except ValueError:
        meta = None
    if meta is None or meta.request_id is None:
        ack(response_action="errors", errors={"reason": "This form is out of date."})
        return
    ack()
    ctx = sarvbot_of(context)
    reason = state_text(state_values(view), "reason")
    user_id, channel_id, request_id = str(body["user"]["id"]), meta.channel_id, meta.request_id
    respond = ctx.home.answer(user_id) if meta.from_home else meta.respond()
    ctx.work.submit(
        respond,
        lambda: decide(ctx, user_id, channel_id, request_id, respond, approve=False, reason=reason),
        Handled("form", "deny", user_id, channel_id, f"#{request_id}"),
    )
