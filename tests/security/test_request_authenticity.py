"""Only requests signed with the signing secret, within five minutes, reach the app."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests

from sarvbot.slack import blocks
from sarvbot.standin import block_actions_body, sign
from sarvbot.standin.workspace import APPROVALS, BOB
from sarvbot.store import ApprovalStore
from tests.support import smtp_command_body

from .conftest import Witness

Headers = dict[str, str]


def reset_command(witness: Witness) -> str:
    """A form body of bob's ``/smtp reset`` in #ops, a change if it were run."""
    name = witness.workspace.sandbox.add_user(name="smtp30001").name
    return smtp_command_body(witness.fake, f"reset {name}")


def wrong_secret(witness: Witness, body: str) -> Headers:
    return sign("not-" + witness.workspace.signing_secret, body)


def no_signature(witness: Witness, body: str) -> Headers:
    headers = sign(witness.workspace.signing_secret, body)
    del headers["X-Slack-Signature"]
    return headers


def no_timestamp(witness: Witness, body: str) -> Headers:
    headers = sign(witness.workspace.signing_secret, body)
    del headers["X-Slack-Request-Timestamp"]
    return headers


def six_minutes_old(witness: Witness, body: str) -> Headers:
    return sign(witness.workspace.signing_secret, body, int(time.time()) - 360)


def just_over_five_minutes_old(witness: Witness, body: str) -> Headers:
    return sign(witness.workspace.signing_secret, body, int(time.time()) - 302)


def from_the_future(witness: Witness, body: str) -> Headers:
    return sign(witness.workspace.signing_secret, body, int(time.time()) + 360)


def signature_of_another_body(witness: Witness, body: str) -> Headers:
    return sign(witness.workspace.signing_secret, body.replace("reset", "show"))


FORGERIES = [
    pytest.param(wrong_secret, id="wrong-secret"),
    pytest.param(no_signature, id="no-signature"),
    pytest.param(no_timestamp, id="no-timestamp"),
    pytest.param(six_minutes_old, id="six-minutes-old"),
    pytest.param(just_over_five_minutes_old, id="302-seconds-old"),
    pytest.param(from_the_future, id="six-minutes-ahead"),
    pytest.param(signature_of_another_body, id="tampered-body"),
]


def post(witness: Witness, body: str, headers: Headers) -> requests.Response:
    return requests.post(witness.workspace.app_url, data=body.encode(), headers=headers, timeout=10)


def assert_no_side_effect(witness: Witness) -> None:
    witness.workspace.drain()
    assert witness.workspace.sandbox.calls == []
    assert witness.fake.calls == []
    assert witness.fake.posts == []
    assert witness.audit() == []


@pytest.mark.parametrize("forge", FORGERIES)
def test_forged_command_is_refused_without_effect(
    witness: Witness, forge: Callable[[Witness, str], Headers]
) -> None:
    body = reset_command(witness)
    response = post(witness, body, forge(witness, body))
    assert response.status_code == 401
    assert_no_side_effect(witness)
    assert ApprovalStore(witness.workspace.database).pending() == []


def test_the_same_command_signed_properly_does_run(witness: Witness) -> None:
    """The control for the forgeries: the body they carry would have reset a password."""
    body = reset_command(witness)
    response = post(witness, body, sign(witness.workspace.signing_secret, body))
    assert response.status_code == 200
    witness.workspace.drain()
    assert [c.path for c in witness.sarv_changes()] == ["settings/resetSmtpPassword"]


def test_replayed_approval_click_after_the_window_is_refused(witness: Witness) -> None:
    name = witness.workspace.sandbox.add_user(name="smtp30002").name
    pending = witness.request(f"reset {name} key leaked in CI")
    message = witness.approval_message(pending.id)
    _, element = next(
        (b.get("block_id", ""), e)
        for b in message["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == blocks.ACTION_APPROVE
    )
    body = block_actions_body(
        user_id=BOB,
        user_name="bob",
        team_id="T0SARV",
        channel_id=APPROVALS,
        message=message,
        container={"type": "message", "message_ts": message["ts"], "channel_id": APPROVALS},
        actions=[
            {
                "action_id": blocks.ACTION_APPROVE,
                "block_id": f"decide_{pending.id}",
                "value": element["value"],
            }
        ],
        response_url=witness.fake.new_response_url(),
        trigger_id=witness.fake.new_trigger_id(BOB),
    )
    # Captured when bob clicked six minutes ago, sent again now, byte for byte.
    captured = sign(witness.workspace.signing_secret, body, int(time.time()) - 360)
    witness.fake.clear()
    before = witness.audit()
    response = post(witness, body, captured)
    assert response.status_code == 401
    witness.workspace.drain()
    assert witness.sarv_changes() == []
    assert witness.fake.calls == []
    assert witness.audit() == before
    assert witness.state_of(pending.id) == "pending"
