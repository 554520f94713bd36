"""A password leaves sarvbot once: in one ephemeral message to its owner, in their DM.

Every flow that makes or shows a password runs end to end; then every Web API call and
reply, every response_url post, every HTTP answer, every log record (DEBUG and up) and
the database file are searched for it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sarvbot.policy import parse_policy
from sarvbot.standin import ApiCall, FakeSlackApi, Recorded
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, DEMO_POLICY, DEV, OPS

from .conftest import Witness, log_text

REASON = "key leaked in CI"
COULD_NOT_SEND = "could not send you the password"

FLOWS = [
    pytest.param("add", "direct", id="add-direct"),
    pytest.param("reset", "direct", id="reset-direct"),
    pytest.param("reveal", "direct", id="reveal-direct"),
    pytest.param("add", "approval", id="add-approved"),
    pytest.param("reset", "approval", id="reset-approved"),
    pytest.param("rotate", "direct", id="rotate-direct"),
    pytest.param("rotate", "approval", id="rotate-approved"),
]
FAILURES = [
    pytest.param("chat.postEphemeral", "messages_tab_disabled", id="dm-tab-off"),
    pytest.param("conversations.open", "user_disabled", id="account-disabled"),
]
DELIVERIES = [pytest.param(None, None, id="delivered"), *FAILURES]


def fail_secret_delivery(fake: FakeSlackApi, method: str, error: str) -> None:
    """Make the delivery of the password fail at ``method``, and nothing before it.

    conversations.open is called only to deliver a password. The ephemeral fault is armed
    when that call arrives, so the earlier ephemerals (the requester's "approved" note)
    still go through.
    """
    if method == "conversations.open":
        fake.fail_next(method, error)
        return

    def arm(item: Recorded) -> None:
        if isinstance(item, ApiCall) and item.method == "conversations.open":
            fake.fail_next(method, error)
            unsubscribe()

    unsubscribe: Callable[[], None] = fake.subscribe(arm)


def run_flow(witness: Witness, action: str, route: str) -> tuple[str, str]:
    """Run ``action`` directly in #ops (bob) or as alice's request bob approves.

    Returns the user who should get the password and the SMTP user's name.
    """
    sandbox = witness.workspace.sandbox
    target = sandbox.add_user(name="smtp20001").name
    before = set(sandbox.users)
    text = "add 300 30" if action == "add" else f"{action} {target}"
    if route == "direct":
        owner = BOB
        witness.command(text, user_id=BOB, channel_id=OPS)
    else:
        owner = ALICE
        witness.request(f"{text} {REASON}")
        witness.approve(user_id=BOB)
    if action in ("add", "rotate"):  # the password is the new user's
        created = set(sandbox.users) - before
        assert len(created) == 1, f"expected one new SMTP user, got {created}"
        target = created.pop()
    return owner, target


def holders_of(witness: Witness, secret: str) -> list[ApiCall]:
    return [c for c in witness.calls() if secret in str(c.args) or secret in str(c.response)]


@pytest.mark.parametrize(("action", "route"), FLOWS)
@pytest.mark.parametrize(("failing_method", "error"), DELIVERIES)
def test_password_reaches_only_its_owner(
    witness: Witness,
    caplog: pytest.LogCaptureFixture,
    action: str,
    route: str,
    failing_method: str | None,
    error: str | None,
) -> None:
    if failing_method is not None:
        assert error is not None
        fail_secret_delivery(witness.fake, failing_method, error)
    owner, name = run_flow(witness, action, route)
    password = witness.workspace.sandbox.users[name].password
    im = witness.fake.im_channel_id(owner)
    assert im.startswith("D")

    holders = holders_of(witness, password)
    assert all(
        (c.method, c.args.get("user"), c.args.get("channel")) == ("chat.postEphemeral", owner, im)
        for c in holders
    ), [(c.method, c.args.get("user"), c.args.get("channel")) for c in holders]
    if failing_method is None:
        assert [c.ok for c in holders] == [True]
    elif failing_method == "chat.postEphemeral":
        # Slack refused the one attempt; nothing else carried the password.
        assert [c.error for c in holders] == [error]
    else:
        assert holders == []
    assert not [p.body for p in witness.posts() if password in str(p.body)]
    assert not [b for b in witness.http_bodies() if password in b]
    logged = log_text(caplog.records)
    assert password not in logged
    # The searches above looked at real material: Web API bodies were logged, and the
    # database holds the change.
    assert any(r.name.startswith("slack_sdk") for r in caplog.records)
    assert name in logged
    stored = witness.database_bytes()
    assert name.encode() in stored
    assert password.encode() not in stored
    if failing_method is not None and route == "direct":
        told = [t for t in witness.said_to(owner) if COULD_NOT_SEND in t]
        assert told, witness.said_to(owner)


@pytest.mark.parametrize("action", ["add", "reset", "rotate"])
@pytest.mark.parametrize(("failing_method", "error"), FAILURES)
def test_requester_learns_an_approved_password_could_not_be_sent(
    witness: Witness, action: str, failing_method: str, error: str
) -> None:
    fail_secret_delivery(witness.fake, failing_method, error)
    owner, name = run_flow(witness, action, "approval")
    password = witness.workspace.sandbox.users[name].password
    told = [t for t in witness.said_to(owner) if COULD_NOT_SEND in t]
    assert told, witness.said_to(owner)
    assert not [t for t in told if password in t]


@pytest.mark.parametrize("freeze", [True, False], ids=["freezing", "alerting-only"])
def test_the_leak_watch_writes_no_password_anywhere(
    witness: Witness, caplog: pytest.LogCaptureFixture, freeze: bool
) -> None:
    """A password pasted in a channel: found, and then in no log, call, answer or table."""
    workspace = witness.workspace
    assert workspace.app is not None
    watching = f"\n[leak_watch]\nenabled = true\nfreeze = {str(freeze).lower()}\n"
    workspace.app.core.permissions.policy = parse_policy(DEMO_POLICY + watching, source="p")
    name = workspace.sandbox.add_user(name="smtp20009").name
    password = workspace.sandbox.users[name].password
    event = {"type": "message", "channel": DEV, "channel_type": "channel", "user": ALICE}
    event.update({"text": f"SMTP_PASS={password}", "ts": "1700000000.000400"})
    assert witness.slack.event(event).ok
    workspace.drain()
    # It was found (the search below looks at real material) ...
    alerts = [c for c in witness.calls() if c.args.get("channel") == APPROVALS]
    assert alerts
    assert name in str(alerts[0].args)
    # ... and is nowhere sarvbot writes.
    assert not [
        c for c in witness.calls() if password in str(c.args) or password in str(c.response)
    ]
    assert not [p.body for p in witness.posts() if password in str(p.body)]
    assert not [b for b in witness.http_bodies() if password in b]
    assert password not in log_text(caplog.records)
    assert password.encode() not in witness.database_bytes()
