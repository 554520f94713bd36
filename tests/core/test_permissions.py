"""Who may do what where, and who may decide: the Permissions unit on its own."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pytest

from sarvbot.actions import SPECS, Action
from sarvbot.core import (
    Actor,
    AuditTrail,
    Change,
    NotAMember,
    Permissions,
    Refused,
    TooManyFreezes,
)
from sarvbot.policy import ApprovalsPolicy, Decision, Policy
from sarvbot.standin.workspace import DEMO_POLICY

from .conftest import (
    ALICE,
    APPROVALS,
    BOB,
    CAROL,
    DAVE,
    DEV,
    ELSEWHERE,
    GUEST,
    OPS,
    OPS_GROUP,
    Bench,
    make_policy,
)


def test_dev_may_request_a_reset_that_ops_may_run(bench: Bench) -> None:
    permissions = bench.core.permissions
    assert permissions.authorize(Actor(ALICE), DEV, "reset").decision is Decision.REQUEST
    assert permissions.authorize(Actor(BOB), OPS, "reset").decision is Decision.ALLOW
    assert bench.outcomes("reset") == []


def test_an_action_in_a_channel_outside_the_policy_is_refused_and_audited(bench: Bench) -> None:
    with pytest.raises(Refused) as refused:
        bench.core.permissions.authorize(Actor(ALICE), ELSEWHERE, "list")
    assert refused.value.message == "`list` is not allowed in this channel."
    (entry,) = bench.audit.latest()
    assert (entry.actor_id, entry.channel_id, entry.outcome) == (ALICE, ELSEWHERE, "refused")
    assert entry.rule == f"channel {ELSEWHERE} is not in the policy"


def test_a_guest_may_run_help_but_nothing_else(bench: Bench) -> None:
    guest = Actor(GUEST, is_guest=True)
    assert bench.core.permissions.authorize(guest, OPS, "help").allowed
    with pytest.raises(Refused, match="Guests"):
        bench.core.permissions.authorize(guest, OPS, "list")


def test_actions_riding_on_list_follow_it(bench: Bench) -> None:
    for action in (Action.REQUESTS, Action.CANCEL, Action.AUDIT):
        assert SPECS[action].governed_by is Action.LIST
        assert bench.core.permissions.authorize(Actor(ALICE), DEV, action).allowed


def _request(bench: Bench, requester: str = ALICE) -> int:
    bench.sandbox.add_user(name="smtp10001")
    change = Change(Action.RESET, "smtp10001")
    request = bench.core.approvals.request_change(
        Actor(requester), DEV, change, "key leaked", rule="r"
    )
    return request.id


@pytest.mark.parametrize(
    ("decider", "channel", "problem"),
    [
        (ALICE, APPROVALS, "You cannot decide your own request."),
        (BOB, DEV, "Requests are decided only in the approvals channel."),
        (GUEST, APPROVALS, "Guests and external users cannot decide requests."),
        ("U0STRANGER", APPROVALS, "Only current members of the approvals channel"),
    ],
)
def test_only_members_of_the_approvals_channel_decide_others_requests(
    bench: Bench, decider: str, channel: str, problem: str
) -> None:
    request = bench.core.approvals.get(_request(bench))
    assert request is not None
    with pytest.raises(Refused, match=problem):
        bench.core.permissions.check_decider(Actor(decider), channel, request)
    assert bench.outcomes("decide") == ["refused"]


def test_approvers_named_by_group_may_decide_and_others_may_not(bench: Bench) -> None:
    bench.core.permissions.policy = Policy(
        channels=make_policy().channels,
        approvals=ApprovalsPolicy(channel_id=APPROVALS, approvers=frozenset({OPS_GROUP})),
    )
    request = bench.core.approvals.get(_request(bench))
    assert request is not None
    bench.core.permissions.check_decider(Actor(CAROL), APPROVALS, request)
    with pytest.raises(Refused, match="not one of the approvers"):
        bench.core.permissions.check_decider(Actor(DAVE), APPROVALS, request)


def test_recheck_says_in_plain_words_that_the_policy_changed(bench: Bench) -> None:
    request = bench.core.approvals.get(_request(bench))
    assert request is not None
    bench.core.permissions.policy = make_policy(f'[channels.{OPS}]\nallow = ["list"]\n')
    with pytest.raises(Refused) as refused:
        bench.core.permissions.recheck_requester(request, is_guest=False)
    assert refused.value.message == (
        f"The policy no longer lets the channel it was asked in ({DEV}) request reset."
    )
    assert "<#" not in refused.value.message
    assert bench.outcomes("reset")[-1] == "refused"


def test_a_freeze_checked_ahead_takes_no_slot_and_the_refusal_counts_true(bench: Bench) -> None:
    slots: set[str] = set()

    def reserve(keys: Mapping[str, datetime]) -> bool:
        if slots & set(keys):
            return False
        slots.update(keys)
        return True

    policy = make_policy(DEMO_POLICY + "\n[freeze]\nper_hour = 1\n")
    permissions = Permissions(policy, bench.directory, AuditTrail(bench.audit), reserve=reserve)
    for _ in range(3):
        permissions.authorize(Actor(ALICE), DEV, Action.FREEZE, "smtp10001", ahead=True)
    assert slots == set()
    permissions.authorize(Actor(ALICE), DEV, Action.FREEZE, "smtp10001")
    # The hour's one slot went to a freeze not yet done: the refusal says so, not "froze 1".
    with pytest.raises(TooManyFreezes) as refused:
        permissions.authorize(Actor(ALICE), DEV, Action.FREEZE, "smtp10002")
    assert refused.value.message.startswith("You froze 0 SMTP users in the last hour;")


def test_a_channel_chosen_on_a_form_is_only_for_its_members(bench: Bench) -> None:
    bench.directory.members[OPS] = {BOB}
    with pytest.raises(NotAMember):
        bench.core.permissions.check_member(Actor(ALICE), OPS, Action.REVEAL, "smtp10001")
    bench.core.permissions.check_member(Actor(BOB), OPS, Action.REVEAL, "smtp10001")
    (entry,) = bench.audit.latest()
    assert (entry.actor_id, entry.channel_id, entry.outcome) == (ALICE, OPS, "refused")


def test_pickers_show_names_only_to_someone_a_channel_they_are_in_lets_list(
    bench: Bench,
) -> None:
    bench.directory.members[DEV] = {ALICE, GUEST}
    permissions = bench.core.permissions
    assert permissions.may_see_users(Actor(ALICE))
    assert not permissions.may_see_users(Actor(GUEST, is_guest=True))
    assert not permissions.may_see_users(Actor(DAVE))
    assert bench.audit.latest() == []
