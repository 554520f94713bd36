"""The approval lifecycle: a change requested in one channel, decided in another, run once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import tenacity

from sarvbot import sarv
from sarvbot.actions import SPECS, Detail
from sarvbot.policy import ApprovalsPolicy
from sarvbot.store.errors import DatabaseUnavailable
from sarvbot.store.jobs import ESCALATE_REQUEST, REMIND_REQUEST

from .chores import SmtpChores
from .failures import describe_change_failure, outcome_unknown
from .model import (
    Actor,
    ApprovalRequest,
    Change,
    ChangeResult,
    Refused,
    RequestState,
    UnknownSmtpUser,
)
from .permissions import Permissions
from .trail import AuditTrail

if TYPE_CHECKING:
    from sarvbot.store import ApprovalStore

__all__ = ["ApprovalDesk", "Decided", "DecisionKind", "Executed", "utcnow"]

logger = logging.getLogger("sarvbot.core")

STALE_AFTER = timedelta(minutes=15)
# How long after a request ran its notice job comes due (a backstop for a process that
# died before telling): long after a live process has told its people.
NOTICE_GRACE = timedelta(minutes=2)
# How long recording a request's outcome keeps trying through database hiccups: five
# attempts over 3.7 s, then the request is left running for expiry to mark.
RECORD_ATTEMPTS = 5
RECORD_WAIT: tenacity.wait.wait_base = tenacity.wait_chain(
    *(tenacity.wait_fixed(seconds) for seconds in (0.2, 0.5, 1.0, 2.0))
)


def utcnow() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


class DecisionKind(StrEnum):
    """What an Approve, Deny or Retry click came to."""

    VOTED = "voted"  # recorded; more approvals needed
    CLAIMED = "claimed"  # this click runs the change
    DENIED = "denied"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Decided:
    """The outcome of a decision click that was not refused."""

    kind: DecisionKind
    request: ApprovalRequest
    votes: int = 0


@dataclass(frozen=True)
class Executed:
    """An approved change after it ran: the final request and, on success, the result."""

    request: ApprovalRequest
    result: ChangeResult | None = None
    error: str | None = None


class ApprovalDesk:
    """Keeps requests, counts the votes and runs each approved change exactly once."""

    def __init__(
        self,
        store: ApprovalStore,
        *,
        chores: SmtpChores,
        permissions: Permissions,
        trail: AuditTrail,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._chores = chores
        self._permissions = permissions
        self._trail = trail
        self.clock = clock

    # Reading

    def get(self, request_id: int) -> ApprovalRequest | None:
        """One request as it stands, or None."""
        return self._store.get(request_id)

    def of_execution(self, function_execution_id: str) -> ApprovalRequest | None:
        """The request a workflow step's execution raised, or None."""
        return self._store.of_execution(function_execution_id)

    def pending(self) -> list[ApprovalRequest]:
        """Pending requests, oldest first."""
        return self._store.pending()

    def of_requester(self, requester_id: str, limit: int = 20) -> list[ApprovalRequest]:
        """One person's requests, newest first."""
        return self._store.of_requester(requester_id, limit)

    def counts(self) -> dict[str, int]:
        """Requests by state."""
        return self._store.count_by_state()

    def check_database(self) -> None:
        """Raise DatabaseUnavailable unless the database answers now."""
        self._store.ping()

    def attach_message(self, request_id: int, channel: str, ts: str) -> None:
        """Remember the message that shows the request, to update it as it changes."""
        self._store.set_message(request_id, channel, ts)

    # Asking

    def request_change(
        self,
        actor: Actor,
        channel_id: str,
        change: Change,
        reason: str,
        *,
        rule: str,
        receipt: int | None = None,
        function_execution_id: str | None = None,
    ) -> ApprovalRequest:
        """Keep ``change`` as a pending request for ops to decide.

        ``function_execution_id`` is the workflow step that waits for its end.
        """
        approvals = self._permissions.policy.approvals
        if approvals is None:
            raise Refused("Requests need an approvals channel in the policy.", rule)
        reason = reason.strip()
        if not reason:
            raise Refused(
                "A request needs a reason: add it after the command, e.g. "
                "`/smtp reset smtp12345 key leaked in CI`.",
                rule,
            )
        self._chores.check_label_free(change.label, change.target)
        params: dict[str, Any] = change.params()
        if change.target:
            # The user must exist; for a change shown old → new, keep what it had.
            before = self._chores.get_user(change.target)
            if SPECS[change.action].detail in (Detail.OLD_TO_NEW, Detail.STATUS_NOW):
                old = {
                    "total_limit": before.total_limit,
                    "hourly_limit": before.hourly_limit,
                    "status": before.status.value,
                }
                params = {"new": params, "old": old}
        now = self.clock()
        request = self._store.create(
            requester_id=actor.user_id,
            requester_channel_id=channel_id,
            action=change.action,
            target=change.target,
            params=params,
            reason=reason,
            expires_at=now + timedelta(hours=approvals.expire_after_hours),
            now=now,
            follow_ups=_follow_ups(approvals, now),
            function_execution_id=function_execution_id,
        )
        self._trail.record_about(request, "requested", rule=rule, detail=reason[:500])
        self._chores.record(receipt, "requested", f"request #{request.id}")
        return request

    def cancel(self, actor: Actor, channel_id: str, request_id: int) -> ApprovalRequest:
        """Withdraw one's own pending request."""
        request = self._load(request_id)
        if request.requester_id != actor.user_id:
            raise self._refusal(actor, channel_id, request, "is not yours to cancel")
        cancelled = self._store.cancel(request_id, requester_id=actor.user_id, now=self.clock())
        if cancelled is None:
            raise self._refusal(actor, channel_id, request, f"is already {_words(request.state)}")
        self._trail.record_about(cancelled, "cancelled", channel_id=channel_id)
        return cancelled

    # Deciding

    def decide(
        self, actor: Actor, channel_id: str, request_id: int, *, approve: bool, reason: str = ""
    ) -> Decided:
        """An Approve or Deny click. Refused (with the reason) unless it counts."""
        now = self.clock()
        request = self._load(request_id)
        self._permissions.check_decider(actor, channel_id, request)
        expired = self._expire_if_due(request, now)
        if expired is not None:
            return Decided(DecisionKind.EXPIRED, expired)
        if request.state is not RequestState.PENDING:
            raise self._refusal(actor, channel_id, request, f"is already {_words(request.state)}")
        if not approve:
            denied = self._store.deny(
                request_id, by=actor.user_id, reason=reason, now=now, notice_at=now + NOTICE_GRACE
            )
            if denied is None:
                raise self._refusal(actor, channel_id, request, "was decided a moment ago")
            self._audit_decision(actor, channel_id, denied, "denied", reason)
            return Decided(DecisionKind.DENIED, denied)
        approvals = self._permissions.policy.approvals
        required = approvals.required if approvals else 1
        votes = self._store.add_vote(request_id, actor.user_id, now)
        if votes >= required and required > 1:
            # The last vote: every earlier one must still hold before the change runs.
            votes = self._recount(actor, channel_id, request_id)
        if votes < required:
            self._audit_decision(actor, channel_id, request, "approved", f"{votes}/{required}")
            current = self._store.get(request_id) or request
            return Decided(DecisionKind.VOTED, current, votes)
        claimed = self._store.claim(request_id, decided_by=actor.user_id, now=now)
        if claimed is None:
            raise self._refusal(actor, channel_id, request, "was decided a moment ago")
        self._audit_decision(actor, channel_id, claimed, "approved", f"{votes}/{required}")
        return Decided(DecisionKind.CLAIMED, claimed, votes)

    def retry(self, actor: Actor, channel_id: str, request_id: int) -> Decided:
        """Run a failed request again (only failed ones: their change did not happen)."""
        request = self._load(request_id)
        self._permissions.check_decider(actor, channel_id, request)
        if request.state is not RequestState.FAILED:
            problem = f"is {_words(request.state)}; only failed ones are retried"
            raise self._refusal(actor, channel_id, request, problem)
        claimed = self._store.claim(
            request_id,
            decided_by=actor.user_id,
            now=self.clock(),
            from_states=(RequestState.FAILED,),
        )
        if claimed is None:
            raise self._refusal(actor, channel_id, request, "was retried a moment ago")
        self._audit_decision(actor, channel_id, claimed, "retried", "")
        return Decided(DecisionKind.CLAIMED, claimed)

    # Running

    def execute(self, request: ApprovalRequest) -> Executed:
        """Run a claimed request at Sarv and record how it ended."""
        directory = self._permissions.directory
        try:
            is_guest = directory.is_guest(request.requester_id, fresh=True)
        except Exception as exc:
            logger.warning(
                "could not check the requester of #%s: %s", request.id, type(exc).__name__
            )
            error = "Slack did not say who the requester is now, so nothing was changed."
            return self._ended(request, RequestState.FAILED, error=error)
        try:
            verdict = self._permissions.recheck_requester(request, is_guest=is_guest)
        except Refused as refused:
            return self._ended(request, RequestState.FAILED, error=refused.message)
        change = Change.from_params(request.action, request.target, request.params)
        try:
            result = self._chores.apply(
                Actor(request.requester_id, is_guest=is_guest),
                request.requester_channel_id,
                change,
                rule=verdict.rule,
                request_id=request.id,
                note=f"approved by {request.decided_by}" if request.decided_by else None,
            )
        except DatabaseUnavailable:
            # The change was not even started: nothing happened at Sarv, so a retry is safe.
            error = "sarvbot's database was unavailable, so nothing was changed."
            return self._ended(request, RequestState.FAILED, error=error)
        except (UnknownSmtpUser, Refused) as exc:
            return self._ended(request, RequestState.FAILED, error=str(exc))
        except sarv.Error as exc:
            error = describe_change_failure(exc, action=change.action, repeatable=change.repeatable)
            unknown = outcome_unknown(exc, repeatable=change.repeatable)
            state = RequestState.UNKNOWN if unknown else RequestState.FAILED
            return self._ended(request, state, error=error)
        done = {"smtp_user_name": result.target}
        executed = self._ended(request, RequestState.DONE, result_values=done)
        return Executed(executed.request, result=result)

    def expire(self) -> list[ApprovalRequest]:
        """Expire overdue requests and mark long-running ones unknown; returns them."""
        now = self.clock()
        changed = self._expire_due(now)
        for stale in self._store.stale_running(now - STALE_AFTER):
            marked = self._store.mark_unknown(
                stale.id,
                error="The change was started but its outcome was never recorded: "
                "check the user at Sarv.",
                now=now,
            )
            if marked is not None:
                changed.append(marked)
        return changed

    # Inside

    def _load(self, request_id: int) -> ApprovalRequest:
        request = self._store.get(request_id)
        if request is None:
            raise Refused(f"Request #{request_id} does not exist.")
        return request

    def _refusal(
        self, actor: Actor, channel_id: str, request: ApprovalRequest, problem: str
    ) -> Refused:
        """Audit a refused click or command on a request, and return the Refused to raise."""
        message = f"Request #{request.id} {problem}."
        self._trail.record_decision(
            request, "refused", actor, channel_id, rule="approvals.state", error=message
        )
        return Refused(message, "approvals.state")

    def _audit_decision(
        self, actor: Actor, channel_id: str, request: ApprovalRequest, outcome: str, detail: str
    ) -> None:
        self._trail.record_decision(
            request, outcome, actor, channel_id, detail=detail[:500] or None
        )

    def _recount(self, actor: Actor, channel_id: str, request_id: int) -> int:
        """Withdraw the votes that no longer hold; the number of valid votes.

        A vote counts only while its approver may still decide: still a member of the
        approvals channel, not a guest, and among the approvers the policy names now.
        """
        current = self._load(request_id)
        stale = [
            voter
            for voter in current.approvals
            if voter != actor.user_id and self._permissions.approver_problem(voter)[0] is not None
        ]
        if stale and self._store.withdraw_votes(request_id, stale):
            detail = ("votes that no longer count: " + ", ".join(stale))[:500]
            self._trail.record_decision(current, "withdrawn", actor, channel_id, detail=detail)
            current = self._load(request_id)
        return len(current.approvals)

    def _expire_due(self, now: datetime) -> list[ApprovalRequest]:
        expired = self._store.expire_due(now)
        for request in expired:
            self._trail.record_about(request, "expired")
        return expired

    def _expire_if_due(self, request: ApprovalRequest, now: datetime) -> ApprovalRequest | None:
        if request.state is RequestState.PENDING and request.expires_at <= now:
            self._expire_due(now)
            return self._store.get(request.id)
        return None

    def _ended(
        self,
        request: ApprovalRequest,
        state: RequestState,
        *,
        error: str | None = None,
        result_values: dict[str, Any] | None = None,
    ) -> Executed:
        """Record how a running request ended, trying hard: the outcome must not be lost.

        If the database stays unavailable the request keeps showing as running, and
        ``sarvbot expire`` later marks it unknown; the person is still told what happened.
        """

        def record() -> ApprovalRequest | None:
            if state is RequestState.UNKNOWN:
                return self._store.mark_unknown(request.id, error=error)
            # Its people are told at once; the notice, a little later, is for when this
            # process dies before it could.
            notice_at = self.clock() + NOTICE_GRACE
            return self._store.finish(
                request.id, state, error=error, result=result_values, notice_at=notice_at
            )

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(DatabaseUnavailable),
            stop=tenacity.stop_after_attempt(RECORD_ATTEMPTS),
            wait=RECORD_WAIT,
            reraise=True,
        )
        try:
            final = retrying(record)
        except DatabaseUnavailable:
            logger.error("could not record request #%s as %s", request.id, state.value)
            return Executed(request, error=error)
        return Executed(final or request, error=error)


def _follow_ups(approvals: ApprovalsPolicy, now: datetime) -> dict[str, datetime]:
    """The reminder and the escalation the policy asks for, when they are due."""
    due = {
        REMIND_REQUEST: approvals.remind_after_seconds,
        ESCALATE_REQUEST: approvals.escalate_after_seconds,
    }
    return {kind: now + timedelta(seconds=s) for kind, s in due.items() if s is not None}


def _words(state: RequestState) -> str:
    return {
        RequestState.RUNNING: "approved and running",
        RequestState.UNKNOWN: "decided (its outcome is unknown)",
    }.get(state, state.value)
