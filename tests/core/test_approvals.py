"""The approval lifecycle on its own: request, votes, decisions, expiry, exactly once."""

from __future__ import annotations

import pytest

from sarvbot.actions import Action
from sarvbot.core import Actor, Change, DecisionKind, Refused, RequestState
from sarvbot.policy import ApprovalsPolicy, Policy

from .conftest import ALICE, APPROVALS, BOB, CAROL, DAVE, DEV, Bench, make_policy


def _request_reset(bench: Bench, name: str = "smtp40001", reason: str = "key leaked") -> int:
    bench.sandbox.add_user(name=name)
    change = Change(Action.RESET, name)
    return bench.core.approvals.request_change(Actor(ALICE), DEV, change, reason, rule="r").id


def _require_two_approvals(bench: Bench) -> None:
    base = make_policy()
    bench.core.permissions.policy = Policy(
        channels=base.channels, approvals=ApprovalsPolicy(channel_id=APPROVALS, required=2)
    )


def test_a_request_needs_a_reason(bench: Bench) -> None:
    with pytest.raises(Refused, match="needs a reason"):
        _request_reset(bench, reason="  ")
    assert bench.core.approvals.pending() == []


def test_an_edit_request_keeps_the_values_from_before(bench: Bench) -> None:
    bench.sandbox.add_user(total_limit=700, hourly_limit=70, name="smtp40002")
    change = Change(Action.EDIT, "smtp40002", hourly_limit=90)
    request = bench.core.approvals.request_change(Actor(ALICE), DEV, change, "more", rule="r")
    assert request.params == {
        "new": {"hourly_limit": 90},
        "old": {"total_limit": 700, "hourly_limit": 70, "status": "Enable"},
    }


def test_approved_reset_runs_once_and_a_second_click_is_refused(bench: Bench) -> None:
    request_id = _request_reset(bench)
    desk = bench.core.approvals
    decided = desk.decide(Actor(BOB), APPROVALS, request_id, approve=True)
    assert decided.kind is DecisionKind.CLAIMED
    with pytest.raises(Refused, match="already approved and running"):
        desk.decide(Actor(CAROL), APPROVALS, request_id, approve=True)
    executed = desk.execute(decided.request)
    assert executed.request.state is RequestState.DONE
    assert executed.result is not None
    assert executed.result.credentials is not None
    assert len(bench.sandbox.calls_to("settings/resetSmtpPassword")) == 1


def test_two_approvals_are_needed_when_the_policy_says_two(bench: Bench) -> None:
    _require_two_approvals(bench)
    request_id = _request_reset(bench)
    desk = bench.core.approvals
    first = desk.decide(Actor(BOB), APPROVALS, request_id, approve=True)
    assert (first.kind, first.votes) == (DecisionKind.VOTED, 1)
    second = desk.decide(Actor(CAROL), APPROVALS, request_id, approve=True)
    assert (second.kind, second.votes) == (DecisionKind.CLAIMED, 2)


def test_a_vote_of_someone_who_left_the_channel_no_longer_counts(bench: Bench) -> None:
    _require_two_approvals(bench)
    request_id = _request_reset(bench)
    desk = bench.core.approvals
    desk.decide(Actor(BOB), APPROVALS, request_id, approve=True)
    bench.directory.members[APPROVALS].discard(BOB)
    again = desk.decide(Actor(CAROL), APPROVALS, request_id, approve=True)
    assert (again.kind, again.votes) == (DecisionKind.VOTED, 1)
    assert bench.outcomes("decide").count("withdrawn") == 1


def test_a_denied_request_cannot_be_approved(bench: Bench) -> None:
    request_id = _request_reset(bench)
    desk = bench.core.approvals
    denied = desk.decide(Actor(BOB), APPROVALS, request_id, approve=False, reason="no")
    assert denied.request.state is RequestState.DENIED
    with pytest.raises(Refused, match="already denied"):
        desk.decide(Actor(DAVE), APPROVALS, request_id, approve=True)
    assert bench.sandbox.calls_to("settings/resetSmtpPassword") == []


def test_a_click_after_the_deadline_expires_the_request(bench: Bench) -> None:
    request_id = _request_reset(bench)
    bench.clock.advance(hours=25)
    decided = bench.core.approvals.decide(Actor(BOB), APPROVALS, request_id, approve=True)
    assert decided.kind is DecisionKind.EXPIRED
    assert decided.request.state is RequestState.EXPIRED
    assert "expired" in bench.outcomes("reset")


def test_only_the_requester_cancels_and_only_while_pending(bench: Bench) -> None:
    request_id = _request_reset(bench)
    desk = bench.core.approvals
    with pytest.raises(Refused, match="not yours to cancel"):
        desk.cancel(Actor(BOB), DEV, request_id)
    assert desk.cancel(Actor(ALICE), DEV, request_id).state is RequestState.CANCELLED
    with pytest.raises(Refused, match="already cancelled"):
        desk.cancel(Actor(ALICE), DEV, request_id)


def test_a_failed_request_is_retried_and_runs(bench: Bench) -> None:
    request_id = _request_reset(bench)
    desk = bench.core.approvals
    bench.sandbox.fail_next("general", path="settings/resetSmtpPassword")
    claimed = desk.decide(Actor(BOB), APPROVALS, request_id, approve=True).request
    assert desk.execute(claimed).request.state is RequestState.FAILED
    retried = desk.retry(Actor(CAROL), APPROVALS, request_id)
    assert desk.execute(retried.request).request.state is RequestState.DONE


def test_a_request_left_running_is_marked_unknown_by_expiry(bench: Bench) -> None:
    request_id = _request_reset(bench)
    desk = bench.core.approvals
    desk.decide(Actor(BOB), APPROVALS, request_id, approve=True)
    bench.clock.advance(minutes=16)
    (marked,) = desk.expire()
    assert (marked.id, marked.state) == (request_id, RequestState.UNKNOWN)
