"""Only the right person, in the right channel, at the right moment, changes anything.

Each refusal must reach the person as an ephemeral explanation, be in the audit log,
and leave Sarv untouched.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sarvbot.policy import PolicyError, parse_policy
from sarvbot.slack import blocks
from sarvbot.standin.workspace import (
    ALICE,
    APPROVALS,
    BOB,
    CAROL,
    DEMO_POLICY,
    DEV,
    GUEST,
    OPS,
)

from .conftest import DAVE, Witness

RESET = "settings/resetSmtpPassword"


NOT_ALLOWED = "is not allowed in this channel"
GUESTS_MAY_NOT = "Guests and people from other organisations may run only"


def assert_refused(
    witness: Witness, *, user_id: str, channel_id: str, words: str, or_words: str = ""
) -> None:
    """An ephemeral reply says ``words`` (or ``or_words``), the newest audit row is the
    refusal, and Sarv is as it was."""
    said = [w for w in (words, or_words) if w]
    replies = [p.body for p in witness.posts() if any(w in str(p.body) for w in said)]
    assert replies, f"no reply says {said!r}: {witness.replies()}"
    assert all(r.get("response_type") == "ephemeral" for r in replies)
    latest = witness.audit(limit=1)
    assert latest, "nothing was audited"
    assert (latest[0].actor_id, latest[0].channel_id, latest[0].outcome) == (
        user_id,
        channel_id,
        "refused",
    )
    assert witness.sarv_changes() == []


@pytest.fixture
def pending(witness: Witness) -> int:
    """alice's request to reset smtp40001, waiting in the approvals channel."""
    witness.workspace.sandbox.add_user(name="smtp40001")
    return witness.request("reset smtp40001 key leaked in CI").id


def test_approve_claiming_the_dev_channel_is_refused(witness: Witness, pending: int) -> None:
    witness.approve(user_id=BOB, channel_id=DEV)
    assert_refused(
        witness, user_id=BOB, channel_id=DEV, words="decided only in the approvals channel"
    )
    assert witness.state_of(pending) == "pending"


def test_approve_by_someone_outside_the_approvals_channel_is_refused(
    witness: Witness, pending: int
) -> None:
    witness.approve(user_id=DAVE)
    assert_refused(
        witness,
        user_id=DAVE,
        channel_id=APPROVALS,
        words="Only current members of the approvals channel",
    )
    assert witness.state_of(pending) == "pending"


def test_approve_by_a_guest_is_refused(witness: Witness, pending: int) -> None:
    witness.approve(user_id=GUEST)
    assert_refused(
        witness, user_id=GUEST, channel_id=APPROVALS, words="Guests and external users cannot"
    )
    assert witness.state_of(pending) == "pending"


def test_deny_by_a_guest_is_refused(witness: Witness, pending: int) -> None:
    message = witness.approval_message(pending)
    witness.click(blocks.ACTION_DENY, user_id=GUEST, message=message)
    form = next(v for v in witness.fake.views.values() if v["callback_id"] == blocks.VIEW_DENY)
    witness.slack.submit_view(form, {"reason": {"value": "no"}}, user_id=GUEST)
    witness.workspace.drain()
    assert_refused(
        witness, user_id=GUEST, channel_id=APPROVALS, words="Guests and external users cannot"
    )
    assert witness.state_of(pending) == "pending"


def test_requester_cannot_approve_their_own_request(witness: Witness) -> None:
    witness.workspace.sandbox.add_user(name="smtp40002")
    own = witness.request("reset smtp40002 rotating it", user_id=BOB).id
    witness.approve(user_id=BOB)
    assert_refused(
        witness, user_id=BOB, channel_id=APPROVALS, words="You cannot decide your own request"
    )
    assert witness.state_of(own) == "pending"


def test_click_on_a_decided_request_is_refused_and_audited(witness: Witness, pending: int) -> None:
    message = witness.approval_message(pending)  # as carol still sees it, buttons and all
    witness.approve(user_id=BOB)
    assert witness.state_of(pending) == "done"
    resets = len(witness.workspace.sandbox.calls_to(RESET))
    witness.click(blocks.ACTION_APPROVE, user_id=CAROL, message=message)
    assert len(witness.workspace.sandbox.calls_to(RESET)) == resets == 1
    replies = [p.body for p in witness.posts() if "already done" in str(p.body)]
    assert replies
    assert all(r.get("response_type") == "ephemeral" for r in replies)
    latest = witness.audit(limit=1)[0]
    assert (latest.actor_id, latest.outcome, latest.request_id) == (CAROL, "refused", pending)


def test_click_on_a_decided_request_changes_nothing(witness: Witness, pending: int) -> None:
    message = witness.approval_message(pending)
    witness.approve(user_id=BOB)
    for clicker in (CAROL, BOB):
        witness.click(blocks.ACTION_APPROVE, user_id=clicker, message=message)
        witness.click(blocks.ACTION_RETRY, user_id=clicker, message=_with_retry(message))
    assert len(witness.workspace.sandbox.calls_to(RESET)) == 1
    assert witness.state_of(pending) == "done"
    assert [p for p in witness.posts() if "already done" in str(p.body)]


def _with_retry(message: dict[str, Any]) -> dict[str, Any]:
    """The same message with a Retry button for the same request, as a forged click sends."""
    value = next(
        e["value"]
        for b in message["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == blocks.ACTION_APPROVE
    )
    button = {"type": "button", "action_id": blocks.ACTION_RETRY, "value": value}
    retry = {"type": "actions", "block_id": "retry", "elements": [button]}
    return {**message, "blocks": [*message["blocks"], retry]}


@pytest.mark.parametrize(
    ("user_id", "channel_id", "text", "action"),
    [
        pytest.param(ALICE, DEV, "reveal smtp40003", "reveal", id="reveal-in-dev"),
        pytest.param(BOB, APPROVALS, "reset smtp40003", "reset", id="reset-in-approvals"),
        pytest.param(GUEST, DEV, "reset smtp40003 please", "reset", id="guest-request-in-dev"),
        pytest.param(BOB, "C0RANDOM", "disable smtp40003", "disable", id="unlisted-channel"),
        pytest.param(ALICE, DEV, "add 10 10", "add", id="request-without-reason"),
    ],
)
def test_command_where_it_may_not_run_is_refused(
    witness: Witness, user_id: str, channel_id: str, text: str, action: str
) -> None:
    witness.workspace.sandbox.add_user(name="smtp40003")
    witness.command(text, user_id=user_id, channel_id=channel_id)
    if text == "add 10 10":
        # Allowed to ask, but not without a reason: refused, though not by the policy.
        assert [p for p in witness.posts() if "A request needs a reason" in str(p.body)]
        assert witness.sarv_changes() == []
        return
    assert_refused(
        witness, user_id=user_id, channel_id=channel_id, words=NOT_ALLOWED, or_words=GUESTS_MAY_NOT
    )
    assert witness.audit(limit=1)[0].action == action
    assert witness.workspace.sandbox.users["smtp40003"].status == "Enable"


def _meta(witness: Witness, channel_id: str, **extra: Any) -> str:
    return json.dumps(
        {"c": channel_id, "r": witness.fake.new_response_url(), "o": {}, "q": None, **extra}
    )


@pytest.mark.parametrize(
    ("user_id", "channel_id"),
    [
        pytest.param(BOB, APPROVALS, id="ops-member-claims-approvals"),
        pytest.param(BOB, "C0RANDOM", id="claims-an-unlisted-channel"),
        pytest.param(GUEST, DEV, id="guest-claims-dev"),
    ],
)
def test_add_form_claiming_a_channel_that_may_not_add_is_refused(
    witness: Witness, user_id: str, channel_id: str
) -> None:
    view = {**blocks.add_modal(_meta(witness, channel_id), ask_reason=False), "id": "V0FORGED"}
    values = {"total_limit": {"value": "100"}, "hourly_limit": {"value": "10"}}
    witness.slack.submit_view(view, values, user_id=user_id)
    witness.workspace.drain()
    assert_refused(
        witness, user_id=user_id, channel_id=channel_id, words=NOT_ALLOWED, or_words=GUESTS_MAY_NOT
    )


def test_edit_form_claiming_a_channel_that_may_not_edit_is_refused(witness: Witness) -> None:
    witness.workspace.sandbox.add_user(name="smtp40004", total_limit=100)
    meta = _meta(witness, DEV, u="smtp40004", o={"total_limit": 100})
    app = witness.workspace.app
    assert app is not None
    smtp_user = app.core.chores.get_user("smtp40004")
    view = {**blocks.edit_modal(smtp_user, meta, ask_reason=False), "id": "V0FORGED"}
    values = {
        "total_limit": {"value": "999"},
        "hourly_limit": {"value": "100"},
        "status": {"value": "Enable"},
    }
    # A guest may neither edit nor ask for an edit in #dev.
    witness.slack.submit_view(view, values, user_id=GUEST)
    witness.workspace.drain()
    assert_refused(
        witness, user_id=GUEST, channel_id=DEV, words=NOT_ALLOWED, or_words=GUESTS_MAY_NOT
    )
    assert witness.workspace.sandbox.users["smtp40004"].total_limit == 100


def test_deny_form_claiming_the_dev_channel_is_refused(witness: Witness, pending: int) -> None:
    view = {**blocks.deny_modal(pending, _meta(witness, DEV, q=pending)), "id": "V0FORGED"}
    witness.slack.submit_view(view, {"reason": {"value": "no"}}, user_id=CAROL)
    witness.workspace.drain()
    assert_refused(
        witness, user_id=CAROL, channel_id=DEV, words="decided only in the approvals channel"
    )
    assert witness.state_of(pending) == "pending"


@pytest.mark.parametrize(
    ("text", "line", "name"),
    [
        pytest.param(
            DEMO_POLICY.replace(f"[channels.{OPS}]", "[channels.ops]"), 6, "ops", id="channel"
        ),
        pytest.param(
            DEMO_POLICY.replace(f'channel = "{APPROVALS}"', 'channel = "#ops-approvals"'),
            3,
            "#ops-approvals",
            id="approvals-channel",
        ),
    ],
)
def test_policy_naming_a_channel_by_name_fails_to_load(text: str, line: int, name: str) -> None:
    assert text != DEMO_POLICY
    with pytest.raises(PolicyError) as raised:
        parse_policy(text, source="policy.toml")
    message = str(raised.value)
    assert message.startswith(f"policy.toml:{line}:"), message
    assert "by ID" in message
    assert repr(name) in message
