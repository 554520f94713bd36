"""The one gate every action passes: the policy for the channel, and who may decide."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

from sarvbot.actions import Action
from sarvbot.policy import GUEST_RULE, Decision, Policy, Verdict

from .model import (
    Actor,
    ApprovalRequest,
    CatalogueEntry,
    Directory,
    NotAMember,
    Refused,
    TooManyFreezes,
)
from .trail import AuditTrail

__all__ = ["GUEST_WORDS", "Permissions"]

logger = logging.getLogger("sarvbot.core")

GUEST_WORDS = (
    "Guests and people from other organisations may run only `/smtp help` and `/smtp whoami`."
)


class Permissions:
    """Says whether an action may run here, be requested here, or neither; and who decides.

    Every refusal is audited. ``policy`` may be swapped while running (a reload).
    """

    def __init__(
        self,
        policy: Policy,
        directory: Directory,
        trail: AuditTrail,
        *,
        reserve: Callable[[Mapping[str, datetime]], bool] = lambda keys: True,
    ) -> None:
        self.policy = policy
        self.directory = directory
        self._trail = trail
        # Records keys once across processes (the seen-requests table): the rate limit's
        # slots, so that freezes sent at the same moment cannot all pass its count.
        self._reserve = reserve

    def authorize(
        self,
        actor: Actor,
        channel_id: str,
        action: str,
        target: str | None = None,
        *,
        ahead: bool = False,
    ) -> Verdict:
        """The policy's verdict; a refusal is audited and raised as Refused.

        ``ahead`` checks a form before it runs: the same verdict and refusals, but a freeze
        takes none of the hour's slots (its run takes one, when it asks again).
        """
        verdict = self.policy.decide(channel_id, action, is_guest=actor.is_guest)
        if verdict.decision is Decision.REFUSE:
            self._trail.record(actor, channel_id, action, "refused", target, rule=verdict.rule)
            if verdict.rule == GUEST_RULE:
                raise Refused(GUEST_WORDS, verdict.rule)
            raise Refused(f"`{action}` is not allowed in this channel.", verdict.rule)
        if action == Action.FREEZE:
            self._check_freeze_rate(actor, channel_id, target, take_slot=not ahead)
        return verdict

    def check_member(
        self, actor: Actor, channel_id: str, action: str, target: str | None = None
    ) -> None:
        """NotAMember (audited) unless ``actor`` is in ``channel_id`` now: for a channel
        chosen on a form, which governs as ``/smtp`` typed there would.
        """
        if self.directory.is_member(channel_id, actor.user_id):
            return
        refused = NotAMember()
        self._trail.record(
            actor, channel_id, action, "refused", target, rule=refused.rule, error=refused.message
        )
        raise refused

    def may_see_users(self, actor: Actor) -> bool:
        """Whether a picker may offer ``actor`` the SMTP users' names: some channel they are
        in lets them list or show. Asked on every keystroke, so not audited, and answered
        from the directory's brief cache of members.
        """
        policy = self.policy
        for channel_id in policy.channels:
            verdicts = (
                policy.decide(channel_id, a, is_guest=actor.is_guest)
                for a in (Action.LIST, Action.SHOW)
            )
            if any(v.allowed for v in verdicts) and self.directory.is_member(
                channel_id, actor.user_id, fresh=False
            ):
                return True
        return False

    def _check_freeze_rate(
        self, actor: Actor, channel_id: str, target: str | None, *, take_slot: bool
    ) -> None:
        """TooManyFreezes once ``actor`` froze ``per_hour`` users in the last hour, or has
        taken the hour's slots: a compromised account must not switch off every sender.
        """
        per_hour = self.policy.freezes_per_hour
        now = datetime.now(UTC)
        frozen = self._trail.count_since(actor, Action.FREEZE, "done", now - timedelta(hours=1))
        if frozen < per_hour:
            if not take_slot:
                return
            # One of the hour's slots, taken once: concurrent freezes get one each.
            hour = now.replace(minute=0, second=0, microsecond=0)
            keep_until = hour + timedelta(hours=2)
            for slot in range(per_hour):
                key = f"freeze:{actor.user_id}:{hour.isoformat()}:{slot}"
                if self._reserve({key: keep_until}):
                    return
        refused = TooManyFreezes(per_hour, frozen)
        self._trail.record(actor, channel_id, Action.FREEZE, "refused", target, rule=refused.rule)
        raise refused

    def check_owner(self, owner_id: str | None) -> None:
        """Refused when ``owner_id`` may not own an SMTP user (a guest or external user)."""
        if owner_id and self.directory.is_guest(owner_id, fresh=True):
            raise Refused("Guests and external users cannot own an SMTP user.", GUEST_RULE)

    def recheck_requester(self, request: ApprovalRequest, *, is_guest: bool) -> Verdict:
        """The verdict under which an approved request runs, asked again at execution.

        The policy or the person may have changed since the request: a refusal is audited
        and raised as Refused, saying why nothing was changed.
        """
        verdict = self.policy.decide(
            request.requester_channel_id, request.action, is_guest=is_guest
        )
        if verdict.decision is not Decision.REFUSE:
            return verdict
        self._trail.record_about(request, "refused", rule=verdict.rule, best_effort=True)
        if verdict.rule == GUEST_RULE:
            raise Refused(
                "The requester is now a guest or external user, so nothing was changed.",
                verdict.rule,
            )
        raise Refused(
            f"The policy no longer lets the channel it was asked in "
            f"({request.requester_channel_id}) request {request.action}.",
            verdict.rule,
        )

    def check_decider(self, actor: Actor, channel_id: str, request: ApprovalRequest) -> None:
        """Refused (audited) unless ``actor`` may decide ``request`` here and now."""
        problem, rule = self._ops_problem(
            actor,
            channel_id,
            elsewhere="Requests are decided only in the approvals channel.",
            author=request.requester_id,
            own="You cannot decide your own request.",
        )
        if problem is None:
            return
        self._trail.record_decision(request, "refused", actor, channel_id, rule=rule, error=problem)
        raise Refused(problem, rule)

    def check_freeze_handler(
        self, actor: Actor, channel_id: str, entry: CatalogueEntry, *, rotating: bool
    ) -> None:
        """Refused (audited) unless ``actor`` may acknowledge a freeze, or rotate the frozen
        user, here and now: the same people as decide requests, in the approvals channel.

        Rotating is a decision, so it is not the freezer's own, and where the policy wants
        more than one approval it is a `/smtp rotate` request like any other.
        """
        problem, rule = self._ops_problem(
            actor,
            channel_id,
            elsewhere="Freezes are handled in the approvals channel.",
            author=entry.frozen_by if rotating else None,
            own="You froze it: someone else among the approvers rotates it, as nobody "
            "decides their own change.",
        )
        approvals = self.policy.approvals
        if problem is None and rotating and approvals is not None and approvals.required > 1:
            problem, rule = (
                f"The policy wants {approvals.required} approvals for a change: ask for the "
                f"rotation with `/smtp rotate {entry.name} REASON` where it can be requested.",
                "approvals.required",
            )
        if problem is None:
            return
        action = Action.ROTATE if rotating else Action.FREEZE
        self._trail.record(
            actor, channel_id, action, "refused", entry.name, rule=rule, error=problem
        )
        raise Refused(problem, rule)

    def _ops_problem(
        self,
        actor: Actor,
        channel_id: str,
        *,
        elsewhere: str,
        author: str | None,
        own: str,
    ) -> tuple[str | None, str]:
        """Why ``actor`` may not decide here (None if they may), and the rule: the approvals
        channel, not their own (``author``'s) change, and the approvers' own checks.
        """
        approvals = self.policy.approvals
        if approvals is None:
            return "Approvals are not set up in the policy.", "approvals"
        if channel_id != approvals.channel_id:
            return elsewhere, "approvals"
        if author is not None and actor.user_id == author:
            return own, "approvals"
        return self.approver_problem(actor.user_id, is_guest=actor.is_guest)

    def approver_problem(self, user_id: str, *, is_guest: bool = False) -> tuple[str | None, str]:
        """Why ``user_id`` may not decide requests now (None if they may), and the rule.

        Asked of Slack afresh: a decision must not rest on a cached guest status.
        """
        approvals = self.policy.approvals
        if approvals is None:
            return "Approvals are not set up in the policy.", "approvals"
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

    def people_named(self, ids: Iterable[str]) -> frozenset[str]:
        """The users named in the policy (``approvers``, ``escalate_to``), with the members
        of the user groups named there, but no guest (a guest decides nothing). A group, or
        a person, Slack will not tell about is left out.
        """
        named = tuple(ids)
        people = {i for i in named if not i.startswith("S")}
        for group in (i for i in named if i.startswith("S")):
            try:
                people |= self.directory.group_members(group)
            except Exception as exc:
                logger.warning("no members for user group %s: %s", group, type(exc).__name__)
        return frozenset(p for p in people if self._not_a_guest(p))

    def _not_a_guest(self, user_id: str) -> bool:
        try:
            return not self.directory.is_guest(user_id)
        except Exception as exc:
            logger.warning("no guest status for %s: %s", user_id, type(exc).__name__)
            return False

    def possible_deciders(self) -> frozenset[str]:
        """Who the policy lets decide requests, before each one's own checks (guest status,
        membership of the approvals channel): the approvers it names (users and the members
        of its user groups), or else the members of the approvals channel.
        """
        approvals = self.policy.approvals
        if approvals is None:
            return frozenset()
        if not approvals.approvers:
            return self.directory.channel_members(approvals.channel_id)
        return self.people_named(approvals.approvers)

    def _is_approver(self, user_id: str) -> bool:
        approvals = self.policy.approvals
        if approvals is None:
            return False
        if user_id in approvals.approver_users:
            return True
        return any(
            user_id in self.directory.group_members(group) for group in approvals.approver_groups
        )
