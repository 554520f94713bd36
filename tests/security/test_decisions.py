"""A decision counts only what still holds when it takes effect.

Votes are checked again when the last one arrives, the requester is checked again when
the approved change runs, and a request whose outcome was never recorded is reported to
the requester when it is marked unknown.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sarvbot.policy import parse_policy
from sarvbot.slack import blocks
from sarvbot.standin import SlackUser
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, CAROL, DEMO_POLICY
from sarvbot.store import ApprovalStore
from tests.support import join_channel, leave_channel, told

from .conftest import DAVE, Witness, running_witness

NAME = "smtp80001"
RESET = "settings/resetSmtpPassword"
TWO_OF_THREE = """
[approvals]
channel = "C0APPROVALS"
approvers = ["U0BOB", "U0CAROL", "U0DAVE"]
required = 2

[channels.C0DEV]
allow = ["list"]
request = ["reset"]
"""


def _witness(tmp_path: Path, policy: str) -> Iterator[Witness]:
    with running_witness(tmp_path) as witness:
        workspace = witness.workspace
        workspace.policy = parse_policy(policy, source="policy")
        assert workspace.app is not None
        workspace.app.core.permissions.policy = workspace.policy
        join_channel(witness.fake, APPROVALS, DAVE)
        workspace.sandbox.add_user(name=NAME)
        yield witness


@pytest.fixture
def witness(tmp_path: Path) -> Iterator[Witness]:
    """Two of bob, carol and dave must approve; all three are in the approvals channel."""
    yield from _witness(tmp_path, TWO_OF_THREE)


@pytest.fixture
def single(tmp_path: Path) -> Iterator[Witness]:
    """The demo policy: one approval from any member of the approvals channel."""
    yield from _witness(tmp_path, DEMO_POLICY)


def become_guest(witness: Witness, user_id: str) -> None:
    user = witness.fake.user(user_id)
    witness.fake.add_user(SlackUser(user.id, user.name, guest=True))


def resets(witness: Witness) -> int:
    return len(witness.workspace.sandbox.calls_to(RESET))


def test_vote_of_someone_who_left_the_approvals_channel_no_longer_counts(
    witness: Witness,
) -> None:
    request = witness.request(f"reset {NAME} key leaked in CI")
    witness.approve(user_id=BOB)
    leave_channel(witness.fake, APPROVALS, BOB)
    witness.approve(user_id=CAROL)
    assert resets(witness) == 0
    assert witness.state_of(request.id) == "pending"
    shown = str(witness.approval_message(request.id)["blocks"])
    assert "1 of 2 approvals: <@U0CAROL>" in shown
    assert "withdrawn" in [e.outcome for e in witness.audit()]
    witness.approve(user_id=DAVE)
    assert resets(witness) == 1
    assert witness.state_of(request.id) == "done"


def test_vote_of_someone_no_longer_among_the_approvers_no_longer_counts(
    witness: Witness,
) -> None:
    request = witness.request(f"reset {NAME} key leaked in CI")
    witness.approve(user_id=BOB)
    app = witness.workspace.app
    assert app is not None
    app.core.permissions.policy = parse_policy(
        TWO_OF_THREE.replace('"U0BOB", ', ""), source="policy"
    )
    witness.approve(user_id=CAROL)
    assert resets(witness) == 0
    assert witness.state_of(request.id) == "pending"


def test_vote_of_someone_who_became_a_guest_no_longer_counts(witness: Witness) -> None:
    request = witness.request(f"reset {NAME} key leaked in CI")
    witness.approve(user_id=BOB)
    become_guest(witness, BOB)
    witness.approve(user_id=CAROL)
    assert resets(witness) == 0
    assert witness.state_of(request.id) == "pending"


def test_approver_who_became_a_guest_a_moment_ago_cannot_decide(single: Witness) -> None:
    request = single.request(f"reset {NAME} key leaked in CI")
    single.command("help", user_id=BOB, channel_id=APPROVALS)  # bob's status is cached now
    become_guest(single, BOB)
    single.approve(user_id=BOB)
    assert resets(single) == 0
    assert single.state_of(request.id) == "pending"
    assert any("Guests and external users cannot decide" in t for t in single.said_to(BOB))


def test_requester_who_became_a_guest_gets_no_password(single: Witness) -> None:
    request = single.request(f"reset {NAME} key leaked in CI")
    become_guest(single, ALICE)  # within the guest cache's lifetime of her request
    single.approve(user_id=BOB)
    assert resets(single) == 0
    assert single.state_of(request.id) == "failed"
    password = single.workspace.sandbox.users[NAME].password
    assert not [c for c in single.calls() if password in str(c.args)]
    told = " ".join(single.said_to(ALICE))
    assert "now a guest" in told
    # Retry checks her again: still nothing runs.
    single.click(blocks.ACTION_RETRY, user_id=CAROL, message=single.approval_message(request.id))
    assert resets(single) == 0


def test_requester_is_told_when_a_request_left_running_is_marked_unknown(
    single: Witness,
) -> None:
    request = single.request(f"reset {NAME} key leaked in CI")
    store = ApprovalStore(single.workspace.database)
    long_ago = datetime.now(UTC) - timedelta(minutes=20)
    # A process claimed it, then died before recording the outcome.
    assert store.claim(request.id, decided_by=BOB, now=long_ago) is not None
    app = single.workspace.app
    assert app is not None
    app.expire_requests()
    single.workspace.drain()
    to_alice = told(single.fake, ALICE)
    assert any(f"Request #{request.id}" in t and "unknown" in t for t in to_alice), to_alice
    assert resets(single) == 0
