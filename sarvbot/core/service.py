"""The use cases: what sarvbot does, in the product's words, without Slack."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sarvbot import sarv
from sarvbot.policy import GUEST_RULE, Decision, Policy, Verdict
from sarvbot.sarv import Credentials, SarvClient, SmtpUser, UserStatus
from sarvbot.store import (
    ApprovalRequest,
    ApprovalStore,
    AuditLog,
    DatabaseUnavailable,
    RequestState,
)

from .failures import describe_change_failure, describe_sarv_error, outcome_unknown
from .ledger import WorkLedger
from .model import Actor, Change, ChangeResult, Directory, Refused, UnknownSmtpUser

__all__ = ["Decided", "DecisionKind", "Executed", "SmtpService"]

logger = logging.getLogger("sarvbot.core")

T = TypeVar("T")

STALE_AFTER = timedelta(minutes=15)
# Waits between attempts to record a request's outcome while the database is unavailable.
RECORD_PAUSES = (0.2, 0.5, 1.0, 2.0, None)


class SharedCall(Generic[T]):
    """Callers that arrive while a call is in flight share its result (single flight)."""

    def __init__(self, function: Callable[[], T]) -> None:
        self._function = function
        self._lock = threading.Lock()
        self._pending: Future[T] | None = None

    def __call__(self) -> T:
        with self._lock:
            pending = self._pending
            leader = pending is None
            if pending is None:
                pending = self._pending = Future()
        if leader:
            try:
                pending.set_result(self._function())
            except BaseException as exc:
                pending.set_exception(exc)
            finally:
                with self._lock:
                    self._pending = None
        return pending.result()


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


class SmtpService:
    """Runs the chores against Sarv under the policy, and records each in the audit log."""

    def __init__(
        self,
        *,
        sarv_client: SarvClient,
        policy: Policy,
        audit: AuditLog,
        approvals: ApprovalStore,
        directory: Directory,
        ledger: WorkLedger | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sarv = sarv_client
        self.ledger = ledger
        self.policy = policy
        self.audit = audit
        self.approvals = approvals
        self.directory = directory
        self.clock = clock
        # Many people listing at once share one call to Sarv instead of queueing up.
        self._list_all = SharedCall(self.sarv.list_users)

    # Permission

    def authorize(
        self, actor: Actor, channel_id: str, action: str, target: str | None = None
    ) -> Verdict:
        """The policy's verdict; a refusal is audited and raised as Refused."""
        verdict = self.policy.decide(channel_id, action, is_guest=actor.is_guest)
        if verdict.decision is Decision.REFUSE:
            self.audit.append(
                actor_id=actor.user_id,
                channel_id=channel_id,
                action=action,
                outcome="refused",
                target=target,
                rule=verdict.rule,
            )
            if verdict.rule == GUEST_RULE:
                raise Refused(
                    "Guests and people from other organisations may run only "
                    "`/smtp help` and `/smtp whoami`.",
                    verdict.rule,
                )
            raise Refused(f"`{action}` is not allowed in this channel.", verdict.rule)
        return verdict

    # Reads

    def list_users(self, text: str = "") -> list[SmtpUser]:
        """Users whose name holds ``text`` (any case), by name."""
        needle = text.lower()
        users = [u for u in self._list_all() if needle in u.name.lower()]
        users.sort(key=lambda u: u.name)
        return users

    def get_user(self, name: str) -> SmtpUser:
        """One user, or UnknownSmtpUser."""
        user = next((u for u in self._list_all() if u.name == name), None)
        if user is None:
            raise UnknownSmtpUser(name)
        return user

    def reveal(self, actor: Actor, channel_id: str, name: str, rule: str) -> Credentials:
        """The current password of ``name`` (Sarv's list holds it)."""
        try:
            user = self.get_user(name)
        except (sarv.Error, UnknownSmtpUser) as exc:
            self._audit_failure(actor, channel_id, "reveal", name, exc, rule)
            raise
        if user.password is None:
            error = sarv.BadResponseError(
                "Sarv listed the user without a password", http_status=200, excerpt=""
            )
            self._audit_failure(actor, channel_id, "reveal", name, error, rule)
            raise error
        self.audit.append(
            actor_id=actor.user_id,
            channel_id=channel_id,
            action="reveal",
            outcome="done",
            target=name,
            rule=rule,
        )
        return Credentials(name=name, password=user.password)

    # Changes

    def apply(
        self,
        actor: Actor,
        channel_id: str,
        change: Change,
        *,
        rule: str,
        request_id: int | None = None,
        note: str | None = None,
        receipt: int | None = None,
    ) -> ChangeResult:
        """Run ``change`` at Sarv now and audit the outcome. Sarv errors propagate.

        The change is audited as started before Sarv is called: with the database gone,
        nothing is changed (DatabaseUnavailable propagates before any Sarv call). What Sarv's
        answer came to is kept on the change's ``receipt`` too, for the person to hear of it
        even if this process dies before telling them.
        """
        self.audit.append(
            actor_id=actor.user_id,
            channel_id=channel_id,
            action=change.action,
            outcome="started",
            target=change.target,
            rule=rule,
            request_id=request_id,
        )
        try:
            result = self._run(change)
        except (sarv.Error, UnknownSmtpUser) as exc:
            unknown = isinstance(exc, sarv.Error) and outcome_unknown(
                exc, repeatable=change.repeatable
            )
            outcome = "unknown" if unknown else "failed"
            self._audit_failure(
                actor,
                channel_id,
                change.action,
                change.target,
                exc,
                rule,
                request_id=request_id,
                outcome=outcome,
            )
            self._record(receipt, outcome, _failure_words(exc, change))
            raise
        self._record(receipt, "done")
        self._audit_after_sarv(
            actor_id=actor.user_id,
            channel_id=channel_id,
            action=change.action,
            outcome="done",
            target=result.target,
            rule=rule,
            request_id=request_id,
            detail="; ".join(filter(None, (_describe_values(change, result.before), note))) or None,
        )
        return result

    def _record(self, receipt: int | None, outcome: str, error: str | None = None) -> None:
        if self.ledger is not None:
            self.ledger.record(receipt, outcome, error)

    def record_delivery(
        self,
        actor: Actor,
        channel_id: str,
        action: str,
        target: str | None,
        *,
        delivered: bool,
        request_id: int | None = None,
    ) -> None:
        """Audit whether the password a change produced reached its owner's DM."""
        self._audit_after_sarv(
            actor_id=actor.user_id,
            channel_id=channel_id,
            action=action,
            outcome="delivered" if delivered else "undelivered",
            target=target,
            request_id=request_id,
        )

    def _audit_after_sarv(self, **row: Any) -> None:
        # Sarv has already changed: no database trouble now may lose the result (or the
        # password) on its way to the user. The "started" row stands for it.
        try:
            self.audit.append(**row)
        except Exception as exc:
            logger.error(
                "could not audit %s %s as %s: %s",
                row.get("action"),
                row.get("target"),
                row["outcome"],
                type(exc).__name__,
            )

    def _run(self, change: Change) -> ChangeResult:
        if change.action == "add":
            assert change.total_limit is not None
            assert change.hourly_limit is not None
            credentials = self.sarv.add_user(change.total_limit, change.hourly_limit)
            return ChangeResult(change, credentials.name, credentials=credentials)
        assert change.target is not None
        if change.action == "reset":
            credentials = self.sarv.reset_password(change.target)
            return ChangeResult(change, change.target, credentials=credentials)
        before = self.get_user(change.target)
        status = change.status
        if change.action in ("enable", "disable"):
            status = UserStatus.ENABLE if change.action == "enable" else UserStatus.DISABLE
        self.sarv.edit_user(
            change.target,
            total_limit=change.total_limit,
            hourly_limit=change.hourly_limit,
            status=status,
        )
        return ChangeResult(change, change.target, before=before)

    def _audit_failure(
        self,
        actor: Actor,
        channel_id: str,
        action: str,
        target: str | None,
        exc: Exception,
        rule: str,
        *,
        request_id: int | None = None,
        outcome: str = "failed",
    ) -> None:
        error = str(exc) if isinstance(exc, UnknownSmtpUser) else _error_text(exc)
        self._audit_after_sarv(
            actor_id=actor.user_id,
            channel_id=channel_id,
            action=action,
            outcome=outcome,
            target=target,
            error=error,
            rule=rule,
            request_id=request_id,
        )

    # Approval requests

    def request_change(
        self,
        actor: Actor,
        channel_id: str,
        change: Change,
        reason: str,
        *,
        rule: str,
        receipt: int | None = None,
    ) -> ApprovalRequest:
        """Keep ``change`` as a pending request for ops to decide."""
        approvals = self.policy.approvals
        if approvals is None:
            raise Refused("Requests need an approvals channel in the policy.", rule)
        if not reason.strip():
            raise Refused(
                "A request needs a reason: add it after the command, e.g. "
                "`/smtp reset smtp12345 key leaked in CI`.",
                rule,
            )
        params = change.params()
        if change.action in ("edit", "enable", "disable") and change.target:
            before = self.get_user(change.target)
            params = {
                "new": params,
                "old": {
                    "total_limit": before.total_limit,
                    "hourly_limit": before.hourly_limit,
                    "status": before.status.value,
                },
            }
        elif change.action == "reset" and change.target:
            self.get_user(change.target)
        now = self.clock()
        request = self.approvals.create(
            requester_id=actor.user_id,
            requester_channel_id=channel_id,
            action=change.action,
            target=change.target,
            params=params,
            reason=reason.strip(),
            expires_at=now + timedelta(hours=approvals.expire_after_hours),
            now=now,
        )
        self.audit.append(
            actor_id=actor.user_id,
            channel_id=channel_id,
            action=change.action,
            outcome="requested",
            target=change.target,
            rule=rule,
            request_id=request.id,
            detail=reason.strip()[:500],
        )
        self._record(receipt, "requested", f"request #{request.id}")
        return request

    def _load_request(self, request_id: int) -> ApprovalRequest:
        request = self.approvals.get(request_id)
        if request is None:
            raise Refused(f"Request #{request_id} does not exist.")
        return request

    def _check_decider(self, actor: Actor, channel_id: str, request: ApprovalRequest) -> None:
        approvals = self.policy.approvals
        rule = "approvals"
        problem: str | None
        if approvals is None:
            problem = "Approvals are not set up in the policy."
        elif channel_id != approvals.channel_id:
            problem = "Requests are decided only in the approvals channel."
        elif actor.user_id == request.requester_id:
            problem = "You cannot decide your own request."
        else:
            problem, rule = self._approver_problem(actor.user_id, is_guest=actor.is_guest)
            if problem is None:
                return
        self.audit.append(
            actor_id=actor.user_id,
            channel_id=channel_id,
            action="decide",
            outcome="refused",
            target=request.target,
            rule=rule,
            request_id=request.id,
            error=problem,
        )
        raise Refused(problem, rule)

    def _refusal(
        self, actor: Actor, channel_id: str, request: ApprovalRequest, problem: str
    ) -> Refused:
        """Audit a refused click or command on a request, and return the Refused to raise."""
        message = f"Request #{request.id} {problem}."
        self.audit.append(
            actor_id=actor.user_id,
            channel_id=channel_id,
            action="decide",
            outcome="refused",
            target=request.target,
            rule="approvals.state",
            request_id=request.id,
            error=message,
        )
        return Refused(message, "approvals.state")

    def _approver_problem(self, user_id: str, *, is_guest: bool = False) -> tuple[str | None, str]:
        """Why ``user_id`` may not decide requests now (None if they may), and the rule.

        Asked of Slack afresh: a decision must not rest on a cached guest status.
        """
        approvals = self.policy.approvals
        assert approvals is not None
        if is_guest or self.directory.is_guest(user_id, fresh=True):
            return "Guests and external users cannot decide requests.", "approvals"
        if not self.directory.is_member(approvals.channel_id, user_id):
            return (
                "Only current members of the approvals channel can decide requests.",
                "approvals",
            )
        if approvals.approvers and not self._is_approver(user_id):
            return "You are not one of the approvers named in the policy.", "approvals.approvers"
        return None, "approvals"

    def _recount(
        self, actor: Actor, channel_id: str, request_id: int, now: datetime
    ) -> tuple[ApprovalRequest, int]:
        """Withdraw the votes that no longer hold; the request and its valid votes.

        A vote counts only while its approver may still decide: still a member of the
        approvals channel, not a guest, and among the approvers the policy names now.
        """
        current = self._load_request(request_id)
        stale = [
            voter
            for voter in current.approvals
            if voter != actor.user_id and self._approver_problem(voter)[0] is not None
        ]
        if stale and self.approvals.withdraw_votes(request_id, stale):
            self.audit.append(
                actor_id=actor.user_id,
                channel_id=channel_id,
                action="decide",
                outcome="withdrawn",
                target=current.target,
                rule="approvals",
                request_id=request_id,
                detail=("votes that no longer count: " + ", ".join(stale))[:500],
            )
            current = self._load_request(request_id)
        return current, len(current.approvals)

    def _is_approver(self, user_id: str) -> bool:
        approvals = self.policy.approvals
        assert approvals is not None
        if user_id in approvals.approver_users:
            return True
        return any(
            user_id in self.directory.group_members(group) for group in approvals.approver_groups
        )

    def _expire_if_due(self, request: ApprovalRequest, now: datetime) -> ApprovalRequest | None:
        if request.state is RequestState.PENDING and request.expires_at <= now:
            for expired in self.approvals.expire_due(now):
                self._audit_expired(expired)
            return self.approvals.get(request.id)
        return None

    def _audit_expired(self, request: ApprovalRequest) -> None:
        self.audit.append(
            actor_id=request.requester_id,
            channel_id=request.requester_channel_id,
            action=request.action,
            outcome="expired",
            target=request.target,
            request_id=request.id,
        )

    def decide(
        self, actor: Actor, channel_id: str, request_id: int, *, approve: bool, reason: str = ""
    ) -> Decided:
        """An Approve or Deny click. Refused (with the reason) unless it counts."""
        now = self.clock()
        request = self._load_request(request_id)
        self._check_decider(actor, channel_id, request)
        expired = self._expire_if_due(request, now)
        if expired is not None:
            return Decided(DecisionKind.EXPIRED, expired)
        if request.state is not RequestState.PENDING:
            raise self._refusal(
                actor, channel_id, request, f"is already {_state_words(request.state)}"
            )
        if not approve:
            denied = self.approvals.deny(request_id, by=actor.user_id, reason=reason, now=now)
            if denied is None:
                raise self._refusal(actor, channel_id, request, "was decided a moment ago")
            self._audit_decision(actor, channel_id, denied, "denied", reason)
            return Decided(DecisionKind.DENIED, denied)
        required = self.policy.approvals.required if self.policy.approvals else 1
        votes = self.approvals.add_vote(request_id, actor.user_id, now)
        if votes >= required and required > 1:
            # The last vote: every earlier one must still hold before the change runs.
            _, votes = self._recount(actor, channel_id, request_id, now)
        if votes < required:
            self._audit_decision(actor, channel_id, request, "approved", f"{votes}/{required}")
            current = self.approvals.get(request_id) or request
            return Decided(DecisionKind.VOTED, current, votes)
        claimed = self.approvals.claim(request_id, decided_by=actor.user_id, now=now)
        if claimed is None:
            raise self._refusal(actor, channel_id, request, "was decided a moment ago")
        self._audit_decision(actor, channel_id, claimed, "approved", f"{votes}/{required}")
        return Decided(DecisionKind.CLAIMED, claimed, votes)

    def retry(self, actor: Actor, channel_id: str, request_id: int) -> Decided:
        """Run a failed request again (only failed ones: their change did not happen)."""
        request = self._load_request(request_id)
        self._check_decider(actor, channel_id, request)
        if request.state is not RequestState.FAILED:
            raise self._refusal(
                actor,
                channel_id,
                request,
                f"is {_state_words(request.state)}; only failed ones are retried",
            )
        claimed = self.approvals.claim(
            request_id,
            decided_by=actor.user_id,
            now=self.clock(),
            from_states=(RequestState.FAILED,),
        )
        if claimed is None:
            raise self._refusal(actor, channel_id, request, "was retried a moment ago")
        self._audit_decision(actor, channel_id, claimed, "retried", "")
        return Decided(DecisionKind.CLAIMED, claimed)

    def _audit_decision(
        self, actor: Actor, channel_id: str, request: ApprovalRequest, outcome: str, detail: str
    ) -> None:
        self.audit.append(
            actor_id=actor.user_id,
            channel_id=channel_id,
            action="decide",
            outcome=outcome,
            target=request.target,
            rule="approvals",
            request_id=request.id,
            detail=detail[:500] or None,
        )

    def execute(self, request: ApprovalRequest) -> Executed:
        """Run a claimed request at Sarv and record how it ended."""
        try:
            is_guest = self.directory.is_guest(request.requester_id, fresh=True)
        except Exception as exc:
            logger.warning(
                "could not check the requester of #%s: %s", request.id, type(exc).__name__
            )
            error = "Slack did not say who the requester is now, so nothing was changed."
            return self._ended(request, RequestState.FAILED, error=error)
        requester = Actor(request.requester_id, is_guest=is_guest)
        verdict = self.policy.decide(
            request.requester_channel_id, request.action, is_guest=is_guest
        )
        if verdict.decision is Decision.REFUSE:
            if verdict.rule == GUEST_RULE:
                error = "The requester is now a guest or external user, so nothing was changed."
            else:
                error = (
                    f"The policy no longer lets <#{request.requester_channel_id}> "
                    f"request `{request.action}`."
                )
            self._audit_after_sarv(
                actor_id=request.requester_id,
                channel_id=request.requester_channel_id,
                action=request.action,
                outcome="refused",
                target=request.target,
                rule=verdict.rule,
                request_id=request.id,
            )
            return self._ended(request, RequestState.FAILED, error=error)
        change = Change.from_params(request.action, request.target, request.params)
        try:
            result = self.apply(
                requester,
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
        except UnknownSmtpUser as exc:
            return self._ended(request, RequestState.FAILED, error=str(exc))
        except sarv.Error as exc:
            error = describe_change_failure(exc, action=change.action, repeatable=change.repeatable)
            unknown = outcome_unknown(exc, repeatable=change.repeatable)
            state = RequestState.UNKNOWN if unknown else RequestState.FAILED
            return self._ended(request, state, error=error)
        executed = self._ended(
            request, RequestState.DONE, result_values={"smtp_user_name": result.target}
        )
        return Executed(executed.request, result=result)

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
        for pause in RECORD_PAUSES:
            try:
                if state is RequestState.UNKNOWN:
                    final = self.approvals.mark_unknown(request.id, error=error)
                else:
                    final = self.approvals.finish(
                        request.id, state, error=error, result=result_values
                    )
                return Executed(final or request, error=error)
            except DatabaseUnavailable:
                if pause is None:
                    logger.error("could not record request #%s as %s", request.id, state.value)
                    return Executed(request, error=error)
                time.sleep(pause)
        raise AssertionError("unreachable")

    def cancel(self, actor: Actor, channel_id: str, request_id: int) -> ApprovalRequest:
        """Withdraw one's own pending request."""
        request = self._load_request(request_id)
        if request.requester_id != actor.user_id:
            raise self._refusal(actor, channel_id, request, "is not yours to cancel")
        cancelled = self.approvals.cancel(request_id, requester_id=actor.user_id, now=self.clock())
        if cancelled is None:
            raise self._refusal(
                actor, channel_id, request, f"is already {_state_words(request.state)}"
            )
        self.audit.append(
            actor_id=actor.user_id,
            channel_id=channel_id,
            action=request.action,
            outcome="cancelled",
            target=request.target,
            request_id=request_id,
        )
        return cancelled

    def expire(self) -> list[ApprovalRequest]:
        """Expire overdue requests and mark long-running ones unknown; returns them."""
        now = self.clock()
        changed = self.approvals.expire_due(now)
        for request in changed:
            self._audit_expired(request)
        for stale in self.approvals.stale_running(now - STALE_AFTER):
            marked = self.approvals.mark_unknown(
                stale.id,
                error="The change was started but its outcome was never recorded: "
                "check the user at Sarv.",
                now=now,
            )
            if marked is not None:
                changed.append(marked)
        return changed

    def check_database(self) -> None:
        """Raise DatabaseUnavailable unless the database answers now."""
        self.approvals.ping()

    def request_counts(self) -> dict[str, int]:
        """Approval requests by state."""
        return self.approvals.count_by_state()

    def pending_requests(self) -> list[ApprovalRequest]:
        """Pending requests, oldest first."""
        return self.approvals.pending()


def _state_words(state: RequestState) -> str:
    return {
        RequestState.RUNNING: "approved and running",
        RequestState.UNKNOWN: "decided (its outcome is unknown)",
    }.get(state, state.value)


def _failure_words(exc: Exception, change: Change) -> str:
    """What a failed change came to, in words for its person (no secret, no markup)."""
    if isinstance(exc, sarv.Error):
        return describe_change_failure(exc, action=change.action, repeatable=change.repeatable)
    return str(exc)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, sarv.Error):
        return f"{exc.name}: {describe_sarv_error(exc)}"
    return type(exc).__name__


def _describe_values(change: Change, before: SmtpUser | None) -> str | None:
    parts = []
    for key, value in change.params().items():
        old = getattr(before, key, None) if before else None
        if old is not None and str(old) != str(value):
            parts.append(f"{key} {old} -> {value}")
        else:
            parts.append(f"{key} {value}")
    return ", ".join(parts) or None
