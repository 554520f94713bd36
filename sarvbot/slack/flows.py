"""The flows that several listeners share: run or request a change, decide a request.

Each takes the SlackContext, calls the core, and tells people through the messenger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from slack_bolt.context.respond import Respond

from sarvbot import sarv
from sarvbot.actions import SPECS, Action
from sarvbot.core import (
    Actor,
    ApprovalRequest,
    Change,
    ChangeResult,
    DatabaseUnavailable,
    DecisionKind,
    Refused,
    RequestState,
    Reverted,
    RevertOutcome,
    Rotation,
    TimedChange,
    TooManyFreezes,
    describe_change_failure,
    describe_sarv_error,
    outcome_unknown,
)
from sarvbot.core.chores import SYSTEM_ACTOR
from sarvbot.core.schedule import RETIRE_ATTEMPTS, REVERT_ATTEMPTS
from sarvbot.policy import Decision, Verdict

from . import blocks, sentences
from .context import SlackContext

__all__ = [
    "authorize",
    "cancel_request",
    "decide",
    "end_timed_change",
    "hand_over",
    "leak_found",
    "may_retire",
    "may_touch",
    "nudge_request",
    "remind_password_age",
    "remind_retire",
    "remind_timed_change",
    "retire_rotated",
    "run_approved",
    "run_change",
    "say_once",
    "tell_request_ended",
]

logger = logging.getLogger("sarvbot.slack")

# How long the claim of a request's end notice is kept after the request's end.
NOTICE_MEMORY = timedelta(days=2)
# How long a reported leak of one password is not reported again (a reset starts anew).
LEAK_MEMORY = timedelta(days=90)


def authorize(
    ctx: SlackContext,
    actor: Actor,
    channel_id: str,
    action: str,
    target: str | None = None,
    *,
    ahead: bool = False,
) -> Verdict:
    """The policy's verdict, as the core gives it (``ahead``: a form checked before it runs);
    a freeze refused by the rate limit also alerts the approvals channel, wherever it was
    asked (command, shortcut, form).
    """
    try:
        return ctx.core.permissions.authorize(actor, channel_id, action, target, ahead=ahead)
    except TooManyFreezes as refused:
        alert = blocks.freeze_refused_alert(actor.user_id, channel_id, target, refused.per_hour)
        ctx.messenger.alert_approvals(alert)
        raise


def run_change(
    ctx: SlackContext,
    actor: Actor,
    channel_id: str,
    change: Change,
    verdict: Verdict,
    reason: str,
    respond: Respond | None,
    written: Future[int] | None = None,
) -> None:
    """Run ``change`` now, or request it, as ``verdict`` says; tell the person either way."""
    core, messenger = ctx.core, ctx.messenger
    # The work queue resolved the receipt before this job started.
    receipt = written.result() if written is not None else None
    core.permissions.check_owner(change.owner_id)
    if verdict.decision is Decision.REQUEST:
        request = core.approvals.request_change(
            actor, channel_id, change, reason, rule=verdict.rule, receipt=receipt
        )
        messenger.post_request(request, respond)
        return
    try:
        result = core.chores.apply(actor, channel_id, change, rule=verdict.rule, receipt=receipt)
    except sarv.Error as exc:
        if not outcome_unknown(exc, repeatable=change.repeatable):
            raise
        logger.warning("outcome unknown for %s %s: %s", change.action, change.target, exc.name)
        words = describe_change_failure(exc, action=change.action, repeatable=False)
        messenger.tell(respond, sentences.words(words))
        return
    hand_over(ctx, actor, channel_id, change.action, result, respond)
    if change.action is Action.FREEZE:
        # Sarv has disabled the user: a database gone now must not turn that into silence.
        try:
            entry = core.catalogue.entry(result.target)
        except Exception as exc:
            logger.warning("no catalogue for the freeze alert: %s", type(exc).__name__)
            entry = None
        label = entry.label if entry else None
        card = blocks.freeze_card(result.target, label, actor.user_id, channel_id, change.why or "")
        messenger.alert_approvals(card)
    announcement = blocks.announcement(actor.user_id, change, result.target)
    if not messenger.announce(channel_id, announcement, respond):
        messenger.tell(respond, sentences.done_not_announced(change.action, result.target))


def decide(
    ctx: SlackContext,
    user_id: str,
    channel_id: str,
    request_id: int,
    respond: Respond | None,
    *,
    approve: bool,
    retry: bool = False,
    reason: str = "",
) -> None:
    """An Approve, Deny or Retry: the core makes it count once; the last one runs it."""
    core, messenger = ctx.core, ctx.messenger
    actor = ctx.actor(user_id)
    what = "retry" if retry else "approve" if approve else "deny"
    try:
        if retry:
            decided = core.approvals.retry(actor, channel_id, request_id)
        else:
            decided = core.approvals.decide(
                actor, channel_id, request_id, approve=approve, reason=reason
            )
    except Refused as refused:
        _refused_in_thread(ctx, user_id, what, request_id, refused)
        raise
    request = decided.request
    if decided.kind is DecisionKind.DENIED:
        # On the card, under it and to the requester, once each: the denial's notice job
        # is the backstop should this process die first.
        tell_request_ended(ctx, request)
        return
    # On the deciding click the buttons come off at once: the message shows "running".
    messenger.refresh_request(request)
    if decided.kind is DecisionKind.EXPIRED:
        messenger.tell(respond, sentences.request_expired(request_id))
        return
    approvals = core.permissions.policy.approvals
    required = approvals.required if approvals else 1
    messenger.in_thread(request, sentences.thread_decision(user_id, what, decided.votes, required))
    if decided.kind is DecisionKind.VOTED:
        messenger.tell(respond, sentences.vote_recorded(request_id))
    else:
        run_approved(ctx, request, user_id)


def run_approved(ctx: SlackContext, request: ApprovalRequest, approver_id: str) -> None:
    """Run a claimed request, hand over its password, and tell its requester."""
    core, messenger = ctx.core, ctx.messenger
    executed = core.approvals.execute(request)
    final = executed.request
    result = executed.result
    if result is not None:
        hand_over(
            ctx,
            Actor(final.requester_id),
            final.requester_channel_id,
            final.action,
            result,
            None,
            notify=lambda text: messenger.tell_requester(final, text),
            request_id=final.id,
        )
    if final.state is not RequestState.RUNNING:
        # Done, failed or unknown: its notice job was written with it; said once.
        tell_request_ended(ctx, final)
    elif result is None:  # the database would not record it: tell at once
        messenger.tell_requester(final, sentences.request_failed(final.id, executed.error))
    else:
        described = blocks.describe_request(final)
        messenger.tell_requester(final, sentences.request_done(final, approver_id, described))


def hand_over(
    ctx: SlackContext,
    actor: Actor,
    channel_id: str,
    action: str,
    result: ChangeResult,
    respond: Respond | None,
    *,
    notify: Callable[[str], object] | None = None,
    request_id: int | None = None,
) -> None:
    """The password a change made, if any: delivered before any other Slack call, its
    arrival audited, and a rotation's old user held while the new one's did not arrive.
    A failed delivery is told through ``respond``, or ``notify``.
    """
    if result.credentials is None:
        return
    title = SPECS[Action(action)].delivery_title or ""
    delivered = ctx.messenger.deliver_secret(
        actor.user_id, result.credentials, title, respond, notify=notify
    )
    ctx.core.chores.record_delivery(
        actor, channel_id, action, result.target, delivered=delivered, request_id=request_id
    )
    _after_rotation(ctx, actor.user_id, result, delivered=delivered)


def tell_request_ended(ctx: SlackContext, request: ApprovalRequest) -> bool:
    """Show on its card how a request ran or ended (done, failed, denied, expired, outcome
    unknown, withdrawn), under it in its thread, and tell its requester (of all but a
    withdrawal, which was theirs): each once per way it ended,
    whether the process that ran it says so or, if it died first, the notice job does.
    Safe to repeat; False if Slack took no notice.
    """
    if request.state in (RequestState.PENDING, RequestState.RUNNING):
        return True  # not ended (a retry under way): its end will say
    ctx.messenger.refresh_request(request)
    ended = f"ended:{request.id}:{request.state.value}:{request.updated_at.isoformat()}"
    until = max(request.expires_at, request.updated_at) + NOTICE_MEMORY
    _say_once_or_now(
        ctx,
        ended,
        until,
        lambda: ctx.messenger.in_thread(request, sentences.thread_outcome(request)),
    )
    text = sentences.request_outcome(request, blocks.describe_request(request))
    if text is None:
        return True
    return _say_once_or_now(
        ctx, f"{ended}:requester", until, lambda: ctx.messenger.tell_requester(request, text)
    )


def _say_once_or_now(ctx: SlackContext, key: str, until: datetime, say: Callable[[], bool]) -> bool:
    """:func:`say_once`; without a database to claim it in, said at once all the same
    (told twice, if the notice job says it again later, rather than never).
    """
    try:
        return say_once(ctx, key, until, say)
    except DatabaseUnavailable:
        return say()


def cancel_request(
    ctx: SlackContext, actor: Actor, channel_id: str, request_id: int
) -> ApprovalRequest:
    """Withdraw a request (the core refuses anyone but its requester), show it on its card
    and in the Home tabs, and leave the note in the card's thread. Returns the request.
    """
    cancelled = ctx.core.approvals.cancel(actor, channel_id, request_id)
    tell_request_ended(ctx, cancelled)
    return cancelled


def nudge_request(ctx: SlackContext, request_id: int, now: datetime, *, escalate: bool) -> int:
    """A request still pending after ``remind_after`` (or ``escalate_after``): say so under
    its card, shown in the channel, and DM the approvers (or ``escalate_to``).

    The reply and each person's DM are claimed once in the database before they are sent,
    so a repeat of the job (a process that died half way, a database that went away) says
    nothing twice. Returns how many people have the DM; raises, to be tried again, if it
    could tell nobody although there was someone to tell.
    """
    core, messenger = ctx.core, ctx.messenger
    request = core.approvals.get(request_id)
    approvals = core.permissions.policy.approvals
    if request is None or approvals is None or request.state is not RequestState.PENDING:
        return 0  # decided, cancelled or expired meanwhile: nothing to remind of
    named = approvals.escalate_to if escalate else approvals.approvers
    due = approvals.escalate_after_seconds if escalate else approvals.remind_after_seconds
    if due is None:
        return 0  # the policy no longer asks for it (it changed since the request was made)
    # At least the policy's wait: a job run early (``sarvbot expire``) says what is due.
    waited = blocks.duration_words(max(due, int((now - request.created_at).total_seconds())))
    described = blocks.describe_request(request)
    kind = "escalate" if escalate else "remind"
    said = sentences.thread_nudge(request, waited, named, escalate=escalate)
    posted = say_once(
        ctx,
        f"{kind}:{request.id}:thread",
        request.expires_at,
        lambda: messenger.in_thread(request, said, broadcast=True),
    )
    dm = sentences.nudge_dm(request, described, waited, messenger.link_to(request), escalate)
    # Not the requester, nor those whose approval is in already (when several are needed).
    people = sorted(
        core.permissions.people_named(named) - {request.requester_id, *request.approvals}
    )
    told = [
        say_once(
            ctx,
            f"{kind}:{request.id}:{person}",
            request.expires_at,
            partial(messenger.direct_message, person, dm),
        )
        for person in people
    ]
    someone = bool(request.message_ts) or bool(named)
    if someone and not posted and not any(told):
        raise RuntimeError("Slack took neither the reminder nor a DM")  # tried again later
    return sum(told)


def _refused_in_thread(
    ctx: SlackContext, user_id: str, what: str, request_id: int, refused: Refused
) -> None:
    """The card's thread keeps the clicks that did not count: who tried, and why; once per
    person and request, so that nobody can flood it. Best effort: the refusal comes first.
    """
    try:
        request = ctx.core.approvals.get(request_id)
        if request is not None:
            text = sentences.thread_refused(user_id, what, refused.message)
            say_once(
                ctx,
                f"refused:{request.id}:{user_id}",
                request.expires_at,
                lambda: ctx.messenger.in_thread(request, text),
            )
    except Exception as exc:
        logger.warning("no thread reply for a refused click: %s", type(exc).__name__)


def say_once(ctx: SlackContext, key: str, until: datetime, say: Callable[[], bool]) -> bool:
    """``say`` something once per ``key`` across runs and processes: claimed in the
    database first, given up again if Slack did not take it. True if it is said (now or
    before). A database that cannot claim raises, before anything is said.
    """
    if not ctx.core.ledger.first_sight({key: until + timedelta(days=1)}):
        return True
    if say():
        return True
    ctx.core.ledger.forget([key])
    return False


def end_timed_change(ctx: SlackContext, timed: TimedChange, attempts: int = 1) -> Reverted | None:
    """Time is up: put the values back (the core checks nobody changed them) and tell.

    The channel where the change was made hears of a revert; the requester and the owner
    hear by DM when sarvbot found the user changed (or gone) and left it. Telling is best
    effort: the revert is done, and a repeat would find the values back already.
    """
    before = blocks.values_words(timed.before)
    try:
        reverted = ctx.core.chores.revert(timed)
    except sarv.Error as exc:
        if attempts < REVERT_ATTEMPTS:
            raise  # tried again later
        text = sentences.not_put_back(timed, before, describe_sarv_error(exc))
        for person in _people_of(ctx, timed):
            ctx.messenger.direct_message(person, text)
        return None
    if reverted.outcome is RevertOutcome.REVERTED:
        text = sentences.reverted(timed, before)
        ctx.messenger.announce(timed.channel_id, blocks.text_message(text), None)
        return reverted
    found = blocks.values_words(reverted.found)
    text = sentences.not_reverted(timed, reverted.outcome, found, before)
    for person in _people_of(ctx, timed):
        ctx.messenger.direct_message(person, text)
    return reverted


def remind_timed_change(ctx: SlackContext, timed: TimedChange) -> None:
    """Before the end: the requester gets a DM with Extend and Revert now."""
    if ctx.core.reverts.get(timed.key) is None:
        return  # put back already (Revert now, or its end came first)
    if not ctx.messenger.direct_message(timed.requester_id, blocks.reminder_message(timed)):
        raise RuntimeError("Slack did not take the reminder")  # tried again later


def _concerned(ctx: SlackContext, requester_id: str, name: str) -> list[str]:
    """Who hears of a change sarvbot follows: its requester, and the user's owner."""
    entry = ctx.core.catalogue.entry(name)
    owner = entry.owner_id if entry else None
    return [requester_id] + ([owner] if owner and owner != requester_id else [])


def _people_of(ctx: SlackContext, timed: TimedChange) -> list[str]:
    return _concerned(ctx, timed.requester_id, timed.target)


def _may_act(ctx: SlackContext, user_id: str, requester_id: str, name: str) -> bool:
    # Asked of Slack afresh: someone who became a guest acts no more.
    if user_id not in _concerned(ctx, requester_id, name):
        return False
    return not ctx.directory.is_guest(user_id, fresh=True)


def may_touch(ctx: SlackContext, user_id: str, timed: TimedChange) -> bool:
    """True for the requester of a time-bound change and the owner of its user (no guest)."""
    return _may_act(ctx, user_id, timed.requester_id, timed.target)


def _after_rotation(
    ctx: SlackContext, user_id: str, result: ChangeResult, *, delivered: bool
) -> None:
    """After a rotation's password: tell its requester how the old user is retired.

    When the password did not reach them, the old user is kept until they click Done:
    the grace period must not cut off an app that could not move.
    """
    if result.replaces is None:
        return
    if result.rotation_key is None:
        ctx.messenger.direct_message(
            user_id, sentences.retire_by_hand(result.replaces, result.target)
        )
        return
    held = not delivered and ctx.core.rotations.hold(result.rotation_key)
    message = blocks.rotation_message(
        result.replaces,
        result.target,
        None if held else result.retire_at,
        result.rotation_key,
    )
    ctx.messenger.direct_message(user_id, message)


def retire_rotated(ctx: SlackContext, rotation: Rotation, attempts: int) -> None:
    """The grace period is over (or Done was clicked): disable the old user, and tell.

    Sarv failing raises, so the job is tried again; after the last try the requester and
    the owner are told, with a button to try again, and the job ends.
    """
    try:
        disabled = ctx.core.chores.retire(rotation)
    except sarv.Error as exc:
        if attempts < RETIRE_ATTEMPTS:
            raise
        message = blocks.retire_failed_message(rotation, describe_sarv_error(exc))
        for person in _rotation_people(ctx, rotation):
            ctx.messenger.direct_message(person, message)
        return
    if disabled:
        text = sentences.retired(rotation.old, rotation.new)
        ctx.messenger.announce(rotation.channel_id, blocks.text_message(text), None)


def remind_retire(ctx: SlackContext, rotation: Rotation) -> None:
    """Before the grace period ends: the requester and the owner hear the old user goes."""
    if not ctx.core.rotations.waiting(rotation.key):
        return  # retired already (Done, or the end of the grace period came first)
    message = blocks.retire_reminder_message(rotation)
    told = [ctx.messenger.direct_message(p, message) for p in _rotation_people(ctx, rotation)]
    if not any(told):
        raise RuntimeError("Slack did not take the reminder")  # tried again later


def _rotation_people(ctx: SlackContext, rotation: Rotation) -> list[str]:
    # The owner moved to the new user with its catalogue entry.
    return _concerned(ctx, rotation.requester_id, rotation.new)


def may_retire(ctx: SlackContext, user_id: str, rotation: Rotation) -> bool:
    """True for the requester of a rotation and the owner of its users (no guest)."""
    return _may_act(ctx, user_id, rotation.requester_id, rotation.new)


def remind_password_age(ctx: SlackContext, payload: dict[str, Any]) -> None:
    """Tell an owner that a password sarvbot made is past the policy's maximum age."""
    limit = ctx.core.permissions.policy.max_password_age_days
    text = sentences.password_too_old(
        str(payload["name"]), payload.get("label"), int(payload["days"]), limit
    )
    if not ctx.messenger.direct_message(str(payload["owner_id"]), text):
        raise RuntimeError("Slack did not take the reminder")  # tried again later


def leak_found(
    ctx: SlackContext, name: str, channel_id: str, ts: str, poster: str, *, is_bot: bool
) -> None:
    """A current password of ``name`` is in a message: once per password, freeze the user
    if the policy says so, alert the approvals channel and the owner (the channel, the
    message link and the poster, never the password), and ask the poster to delete it.

    Telling people comes first: the database failing on the way (the audit, the freeze,
    the catalogue) leaves the alert to go out, and an alert nobody received is claimed
    anew by the next paste.
    """
    core = ctx.core
    key = _leak_key(ctx, name)
    try:
        if not core.ledger.first_sight({key: datetime.now(UTC) + LEAK_MEMORY}):
            return  # this password was reported already
        claimed = True
    except Exception as exc:  # the database cannot say: better twice than never
        logger.warning("leak watch: no once-only claim: %s", type(exc).__name__)
        claimed = False
    where = _permalink(ctx, channel_id, ts)
    core.trail.record(
        SYSTEM_ACTOR,
        channel_id,
        "leak",
        "found",
        name,
        rule="leak_watch",
        detail=f"by {poster}",
        best_effort=True,
    )
    frozen = False
    if core.permissions.policy.leak_watch_freezes:
        why = f"its password was posted in a message ({where})"
        try:
            core.chores.apply(
                Actor(SYSTEM_ACTOR),
                channel_id,
                Change(Action.FREEZE, name, why=why),
                rule="leak_watch.freeze",
            )
            frozen = True
        except Exception as exc:
            logger.warning("leak watch could not freeze %s: %s", name, type(exc).__name__)
    try:
        entry = core.catalogue.entry(name)
    except Exception as exc:
        logger.warning("leak watch: no catalogue entry: %s", type(exc).__name__)
        entry = None
    text = sentences.leak_alert(
        name, entry.label if entry else None, channel_id, where, poster, frozen=frozen
    )
    told = ctx.messenger.alert_approvals(blocks.text_message(text))
    if entry is not None and entry.owner_id:
        told = ctx.messenger.direct_message(entry.owner_id, text) or told
    if not told and claimed:
        core.ledger.forget([key])
    if not is_bot and poster.startswith(("U", "W")):
        try:
            ctx.client.chat_postEphemeral(
                channel=channel_id, user=poster, **blocks.text_message(sentences.LEAK_POSTER)
            )
        except Exception as exc:
            logger.warning("could not ask the poster to delete it: %s", type(exc).__name__)


def _leak_key(ctx: SlackContext, name: str) -> str:
    """What makes a leak the same one: the user, and when its password was set (by
    sarvbot, per its audit log; else when this process first saw it change).
    """
    try:
        made = ctx.core.trail.password_times().get(name)
    except Exception:
        made = None
    since = made or ctx.core.leak_watch.current_since(name)
    return f"leak:{name}:{since.isoformat() if since else 'first'}"


def _permalink(ctx: SlackContext, channel_id: str, ts: str) -> str:
    """A link to the message, or the channel when Slack gives none."""
    try:
        answer = ctx.client.chat_getPermalink(channel=channel_id, message_ts=ts)
        link = answer.get("permalink")
        if isinstance(link, str) and link.startswith("https://"):
            return link
    except Exception as exc:
        logger.warning("no permalink for a leaked password's message: %s", type(exc).__name__)
    return f"a message in {channel_id}"
