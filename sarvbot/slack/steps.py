"""Workflow Builder steps: a change asked for, or an SMTP user made, by a workflow.

A step runs with the rights of the channel it names, through the same policy, approval
card and password delivery as ``/smtp``. It ends with exactly one completion at Slack
(``functions.completeSuccess`` or ``functions.completeError``), made by a due job keyed by
the function execution: the job is scheduled when the step's request ends (by the store,
in the same transaction) or when a change made at once is done, and any process runs it.
Each execution is claimed once in the database before anything is done, so a second
delivery of it changes nothing.

The workflow token Slack sends with each execution is never used, kept or logged: the
completion is made with the app's own bot token, which the method accepts.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from sarvbot import sarv
from sarvbot.actions import SPECS, Action
from sarvbot.core import (
    ApprovalRequest,
    Change,
    CommandError,
    DatabaseUnavailable,
    Refused,
    RequestState,
    UnknownSmtpUser,
    describe_change_failure,
)
from sarvbot.core.commands import Command, parse_command, parse_label, whole_number
from sarvbot.core.schedule import (
    COMPLETE_STEP,
    WATCH_ATTEMPTS,
    WATCH_STEP,
    DueJob,
    step_job_key,
)
from sarvbot.policy import Decision

from . import blocks, sentences
from .context import SlackContext
from .flows import authorize, hand_over, say_once
from .mrkdwn import is_user_id
from .work import DRAIN_SECONDS

__all__ = [
    "CREATE_USER",
    "REQUEST_CHANGE",
    "STEPS",
    "StepInputError",
    "complete_step",
    "request_changed",
    "run_step",
    "turn_away",
]

logger = logging.getLogger("sarvbot.slack")

REQUEST_CHANGE = "request_smtp_change"
CREATE_USER = "create_smtp_user"

_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,31}$")
_EXECUTION_ID = re.compile(r"^Fx[A-Za-z0-9]{4,60}$")
_MAX_REASON = 2000
_MAX_WORDS = 500
# How long an execution's claim is kept: longer than its step can wait on a request
# (expire_after_hours is at most a year).
_CLAIM_MEMORY = timedelta(days=366)
# When a step whose change is under way is taken for lost: the time a shutdown gives
# admitted work, after which a live process has finished it.
_LOST_AFTER = timedelta(seconds=DRAIN_SECONDS)
# A request that ended one of these ways completes its step with an error.
_FAILED_ENDS = frozenset({RequestState.FAILED, RequestState.UNKNOWN})
# What Slack answers for an execution that was completed already (an earlier try whose
# answer was lost) or that it ended itself: nothing is left to do.
_ALREADY_ENDED = frozenset({"execution_not_in_running_state", "function_execution_not_found"})
# Outputs Slack would not take: the step still ends, with an error.
_OUTPUTS_REFUSED = frozenset({"parameter_validation_failed", "invalid_arguments"})


class StepInputError(Exception):
    """A step's inputs that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class StepOrder:
    """What a step's inputs ask for: a change, by whom, under which channel's rights."""

    channel_id: str
    requester_id: str
    change: Change
    reason: str
    always_request: bool


def is_execution_id(value: object) -> bool:
    """True for something shaped like a function_execution_id."""
    return isinstance(value, str) and _EXECUTION_ID.match(value) is not None


# Reading inputs


def _text(inputs: Mapping[str, Any], name: str, *, required: bool, most: int) -> str:
    value = inputs.get(name)
    if value is None or value == "":
        if required:
            raise StepInputError(f"{name} is missing")
        return ""
    if not isinstance(value, str):
        raise StepInputError(f"{name} must be text")
    if len(value) > most:
        raise StepInputError(f"{name} is longer than {most} characters")
    return value.strip()


def _slack_id(inputs: Mapping[str, Any], name: str, shape: re.Pattern[str]) -> str:
    value = _text(inputs, name, required=True, most=32)
    if not shape.match(value):
        raise StepInputError(f"{name} is not a Slack ID")
    return value


def _requester(inputs: Mapping[str, Any]) -> str:
    """The person who ran the workflow: a user context, which Slack fills in and no
    workflow author can set. Only its ``id`` is read; its ``secret`` is never kept.
    """
    value = inputs.get("requester")
    if value is None or value == "":
        raise StepInputError("requester is missing")
    if not isinstance(value, Mapping):
        raise StepInputError("requester must be the person who ran the workflow")
    user_id = value.get("id")
    if not isinstance(user_id, str) or not is_user_id(user_id):
        raise StepInputError("requester is not a Slack ID")
    return user_id


def _limit(inputs: Mapping[str, Any], name: str) -> int:
    value = inputs.get(name)
    number = None
    if isinstance(value, int | str) and not isinstance(value, bool):
        number = whole_number(str(value), sarv.MAX_LIMIT)
    if number is None:
        raise StepInputError(f"{name} must be a whole number from 1 to {sarv.MAX_LIMIT}")
    return number


def _label(inputs: Mapping[str, Any]) -> str | None:
    label = _text(inputs, "label", required=False, most=64)
    if not label:
        return None
    try:
        return parse_label(label)
    except CommandError as exc:
        raise StepInputError(exc.message.replace("`", "")) from None


def _command(text: str) -> Command:
    try:
        command = parse_command(text)
    except CommandError as exc:
        raise StepInputError(exc.message.replace("`", "")) from None
    spec = SPECS[command.action]
    if not spec.changes_sarv or not spec.requestable:
        raise StepInputError(f"{command.action} is not a change a workflow can ask for")
    if command.wants_modal:
        raise StepInputError(f"{command.action} needs its values (see /smtp help)")
    if command.reason:
        raise StepInputError("the change has words it does not take: put them in reason")
    return command


def read_request_change(inputs: Mapping[str, Any]) -> StepOrder:
    """ "Request an SMTP user change": ``change`` is the action and its values in /smtp's
    words ("edit hourly=500", "reset", "disable for 4h"), ``smtp_user`` the user (a name
    or label) it is about.
    """
    channel_id = _slack_id(inputs, "channel", _CHANNEL_ID)
    requester_id = _requester(inputs)
    words = _text(inputs, "change", required=True, most=_MAX_WORDS).split()
    if not words:
        raise StepInputError("change is missing")
    user = _text(inputs, "smtp_user", required=False, most=255)
    if user and len(user.split()) != 1:
        raise StepInputError("smtp_user must be one name or label")
    command = _command(" ".join([words[0], *([user] if user else []), *words[1:]]))
    reason = _text(inputs, "reason", required=True, most=_MAX_REASON)
    return StepOrder(channel_id, requester_id, command.change(), reason, True)


def read_create_user(inputs: Mapping[str, Any]) -> StepOrder:
    """ "Create an SMTP user": both limits and an optional label; the requester owns it.

    Each input is read as the one value it is, never as /smtp words.
    """
    channel_id = _slack_id(inputs, "channel", _CHANNEL_ID)
    requester_id = _requester(inputs)
    change = Change(
        Action.ADD,
        total_limit=_limit(inputs, "total_limit"),
        hourly_limit=_limit(inputs, "hourly_limit"),
        label=_label(inputs),
        owner_id=requester_id,
    )
    reason = _text(inputs, "reason", required=False, most=_MAX_REASON)
    return StepOrder(channel_id, requester_id, change, reason, False)


STEPS: Mapping[str, Callable[[Mapping[str, Any]], StepOrder]] = {
    REQUEST_CHANGE: read_request_change,
    CREATE_USER: read_create_user,
}


# Running


def claim(ctx: SlackContext, execution_id: str) -> bool:
    """Take an execution on its first delivery; False if it was taken before.

    Shared by every process through the database; DatabaseUnavailable propagates.
    """
    keep_until = datetime.now(UTC) + _CLAIM_MEMORY
    return ctx.core.ledger.first_sight({f"step:{execution_id}": keep_until})


def watch(ctx: SlackContext, execution_id: str, inputs: object) -> None:
    """Before the step is acknowledged: a due job that ends it if no process takes it in
    hand (the one acknowledging it may die with the step still in its queue). Best
    effort: without a database the step's own run fails, and ends it, the same way.
    """
    payload: dict[str, Any] = {"function_execution_id": execution_id}
    with contextlib.suppress(StepInputError):  # else nobody to tell: the step still ends
        payload["requester_id"] = _requester(inputs if isinstance(inputs, Mapping) else {})
    now = datetime.now(UTC)
    try:
        ctx.core.jobs.schedule(
            WATCH_STEP, f"{WATCH_STEP}:{execution_id}", now + _LOST_AFTER, payload, now=now
        )
    except Exception as exc:
        logger.warning("no watch on workflow step %s: %s", execution_id, type(exc).__name__)


def watch_step(ctx: SlackContext, job: DueJob) -> None:
    """The handler of a ``watch_step`` job. A step nobody took is ended as never run (and
    no later delivery runs it); one taken is left to its request or to its end, once
    either is written; one taken but still neither after a few more looks is lost.
    """
    execution_id = str(job.payload["function_execution_id"])
    requester_id = job.payload.get("requester_id")
    if claim(ctx, execution_id):
        finish(ctx, execution_id, error=sentences.STEP_NOT_RUN)
        if isinstance(requester_id, str):
            ctx.messenger.direct_message(requester_id, sentences.STEP_NOT_RUN_DM)
        return
    in_hand = ctx.core.jobs.get(step_job_key(execution_id)) is not None
    if in_hand or ctx.core.approvals.of_execution(execution_id) is not None:
        return
    if job.attempts < WATCH_ATTEMPTS:
        raise RuntimeError("a workflow step is taken but not yet in hand")  # looked at again
    finish(ctx, execution_id, error=sentences.STEP_LOST)
    if isinstance(requester_id, str):
        ctx.messenger.direct_message(requester_id, sentences.STEP_LOST_DM)


def turn_away(ctx: SlackContext, execution_id: str) -> None:
    """No room for the step now: it ends with an error, unless it is in hand already (a
    redelivery of an execution whose work, or request, is under way).
    """
    try:
        if not claim(ctx, execution_id):
            logger.info("workflow step %s delivered again while busy; ignored", execution_id)
            return
    except DatabaseUnavailable:
        finish(ctx, execution_id, error=sentences.STEP_DATABASE_DOWN)
        return
    finish(ctx, execution_id, error=sentences.STEP_BUSY)


def run_step(ctx: SlackContext, callback_id: str, execution_id: str, inputs: object) -> None:
    """Run one execution of a step once, claimed first; every way it can end completes it
    once, and a redelivery of the same execution changes nothing.
    """
    channel_id = ""
    try:
        if not claim(ctx, execution_id):
            logger.info("workflow step %s delivered again; ignored", execution_id)
            return
        read = STEPS.get(callback_id)
        if read is None:
            finish(ctx, execution_id, error=sentences.step_unknown(callback_id))
            return
        if not isinstance(inputs, Mapping):
            raise StepInputError("there are none")
        order = read(inputs)
        channel_id = order.channel_id
        _run_order(ctx, execution_id, order)
    except StepInputError as exc:
        finish(ctx, execution_id, error=sentences.step_bad_input(str(exc)))
    except Refused as exc:
        finish(ctx, execution_id, error=sentences.step_refused(channel_id, exc.message))
    except UnknownSmtpUser as exc:
        finish(ctx, execution_id, error=sentences.step_failed(f"{exc}."))
    except SlackApiError:
        finish(ctx, execution_id, error=sentences.STEP_SLACK_SLOW)
    except DatabaseUnavailable:
        finish(ctx, execution_id, error=sentences.STEP_DATABASE_DOWN)
    except Exception as exc:
        logger.error("workflow step %s failed: %s", callback_id[:60], type(exc).__name__)
        finish(ctx, execution_id, error=sentences.STEP_BROKEN)


def _run_order(ctx: SlackContext, execution_id: str, order: StepOrder) -> None:
    core = ctx.core
    actor = ctx.actor(order.requester_id)
    change = order.change
    verdict = authorize(ctx, actor, order.channel_id, change.action, change.target)
    core.permissions.check_member(actor, order.channel_id, change.action, change.target)
    if change.target:
        change = replace(change, target=core.catalogue.resolve(change.target))
    core.permissions.check_owner(change.owner_id)
    if order.always_request or verdict.decision is Decision.REQUEST:
        request = core.approvals.request_change(
            actor,
            order.channel_id,
            change,
            order.reason,
            rule=verdict.rule,
            function_execution_id=execution_id,
        )
        ctx.messenger.post_request(request, None)
        posted = core.approvals.get(request.id)
        if posted is None or not posted.message_ts:
            # Nobody could approve it: the step ends now, and the request is withdrawn.
            finish(ctx, execution_id, error=sentences.step_not_posted(request.id))
            core.approvals.cancel(actor, order.channel_id, request.id)
        return
    _expect_end(ctx, execution_id, actor.user_id, order.channel_id, change)
    try:
        result = core.chores.apply(actor, order.channel_id, change, rule=verdict.rule)
    except sarv.Error as exc:
        words = describe_change_failure(exc, action=change.action, repeatable=change.repeatable)
        finish(ctx, execution_id, error=sentences.step_failed(words))
        return
    hand_over(
        ctx,
        actor,
        order.channel_id,
        change.action,
        result,
        None,
        notify=lambda text: ctx.messenger.direct_message(actor.user_id, text),
    )
    ctx.messenger.announce(
        order.channel_id, blocks.announcement(actor.user_id, change, result.target), None
    )
    finish(
        ctx, execution_id, outputs={"state": RequestState.DONE.value, "smtp_user": result.target}
    )


# Completing


def _expect_end(
    ctx: SlackContext, execution_id: str, requester_id: str, channel_id: str, change: Change
) -> None:
    """Before Sarv is called: a completion due once a live process would have finished,
    so that if this one dies mid-change, another ends the step and tells its person.
    :func:`finish` replaces it.
    """
    payload = {
        "function_execution_id": execution_id,
        "error": sentences.STEP_LOST,
        "requester_id": requester_id,
        "channel_id": channel_id,
        "action": change.action.value,
    }
    now = datetime.now(UTC)
    ctx.core.jobs.schedule(
        COMPLETE_STEP, step_job_key(execution_id), now + _LOST_AFTER, payload, now=now
    )


def finish(
    ctx: SlackContext,
    execution_id: str,
    *,
    outputs: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Have the step completed once: a due job (retried on failure), run now."""
    payload: dict[str, Any] = {"function_execution_id": execution_id}
    if error is not None:
        payload["error"] = error
    else:
        payload["outputs"] = dict(outputs or {})
    now = datetime.now(UTC)
    key = step_job_key(execution_id)
    try:
        kept = ctx.core.jobs.schedule(
            COMPLETE_STEP, key, now, payload, now=now
        ) or ctx.core.jobs.replace_due(key, now, payload, now=now)
    except Exception as exc:
        # No database to keep the job: one try at once, so the workflow is not left waiting.
        logger.warning("no job to complete a workflow step: %s", type(exc).__name__)
        kept = False
    if not kept:
        # No job, or the one expected at the end was claimed already (this process was
        # slower than it allows): one try at once; Slack takes only the first completion.
        _complete(ctx, execution_id, outputs, error, best_effort=True)
        return
    ctx.run_due((COMPLETE_STEP,))


def request_changed(ctx: SlackContext, request: ApprovalRequest) -> None:
    """A request changed state: if a step waits on it and it ended, complete it now.

    Never raises; the job stays due for the schedule if running it here fails.
    """
    ended = request.state not in (RequestState.PENDING, RequestState.RUNNING)
    if not request.function_execution_id or not ended:
        return
    try:
        ctx.run_due((COMPLETE_STEP,))
    except Exception as exc:
        logger.warning("could not complete the step of #%s now: %s", request.id, type(exc).__name__)


def outcome_of(request: ApprovalRequest) -> tuple[dict[str, Any] | None, str | None]:
    """The outputs (or the error) a step ends with when its request ended this way.

    Approved and done, denied, expired or cancelled: the outputs say which, for workflows
    that branch on it. Failed or unknown: an error that says why.
    """
    if request.state in _FAILED_ENDS:
        return None, sentences.step_request_failed(request.id, request.state.value, request.error)
    outputs: dict[str, Any] = {"state": request.state.value, "request_id": request.id}
    if request.decided_by:
        outputs["decided_by"] = request.decided_by
    name = request.target or (request.result or {}).get("smtp_user_name")
    if name:
        outputs["smtp_user"] = str(name)
    return outputs, None


def complete_step(ctx: SlackContext, job: DueJob) -> None:
    """The handler of a ``complete_step`` job: one completion at Slack, retried on failure."""
    payload = job.payload
    execution_id = str(payload["function_execution_id"])
    outputs: dict[str, Any] | None
    error: str | None
    if "request_id" in payload:
        request = ctx.core.approvals.get(int(payload["request_id"]))
        if request is None:
            outputs, error = None, sentences.STEP_REQUEST_GONE
        else:
            outputs, error = outcome_of(request)
    else:
        outputs = dict(payload["outputs"]) if "outputs" in payload else None
        error = str(payload["error"]) if "error" in payload else None
    _complete(ctx, execution_id, outputs, error, best_effort=False)
    if "requester_id" in payload:
        # The process running the change died: its person hears that it may have been made,
        # once, though this job run again after a crash finds the step ended already.
        person = str(payload["requester_id"])
        text = sentences.step_lost(str(payload["action"]), str(payload["channel_id"]))
        say_once(
            ctx,
            f"step-lost:{execution_id}",
            datetime.now(UTC),
            lambda: ctx.messenger.direct_message(person, text),
        )


def _complete(
    ctx: SlackContext,
    execution_id: str,
    outputs: Mapping[str, Any] | None,
    error: str | None,
    *,
    best_effort: bool,
) -> None:
    try:
        if error is not None:
            ctx.client.functions_completeError(function_execution_id=execution_id, error=error)
        else:
            ctx.client.functions_completeSuccess(
                function_execution_id=execution_id, outputs=dict(outputs or {})
            )
        return
    except SlackApiError as exc:
        code = str(exc.response.get("error") or "unknown")[:64]
    except Exception as exc:
        code = type(exc).__name__
    if code in _ALREADY_ENDED:
        logger.info("workflow step %s had ended already (%s)", execution_id, code)
        return
    if code in _OUTPUTS_REFUSED and error is None:
        logger.error("Slack refused a workflow step's outputs (%s)", code)
        _complete(ctx, execution_id, None, sentences.STEP_BROKEN, best_effort=best_effort)
        return
    logger.warning("could not complete workflow step %s: %s", execution_id, code)
    if not best_effort:
        raise RuntimeError("Slack did not take the step's completion")  # tried again later
