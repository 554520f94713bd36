"""The leak watch: a current password pasted in a channel is noticed, frozen and reported."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sarvbot.policy import parse_policy
from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import ALICE, BOB, DEMO_POLICY, OPS, LocalWorkspace
from sarvbot.store import AuditLog
from tests.slack.leaks import (
    LEAKED,
    approvals_alerts,
    password_of,
    post_message,
)

USER = LEAKED


def test_a_pasted_password_freezes_its_user_and_is_reported_without_the_password(
    watched: LocalWorkspace, slack: SlackAppClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = password_of(watched)
    post_message(
        slack, watched, f"my smtp creds are {password}, does this work?", ts="1700000000.000200"
    )
    assert watched.sandbox.users[USER].status == "Disable"
    (alert,) = approvals_alerts(watched)
    assert f"The current password of `{USER}` (billing-api) was posted by <@{ALICE}>" in alert
    assert "https://sarv.slack.com/archives/C0DEV/p1700000000000200" in alert
    dm = [c for c in watched.slack.calls_to("chat.postMessage") if c.args["channel"] == BOB]
    assert len(dm) == 1
    asked = [c for c in watched.slack.calls_to("chat.postEphemeral") if c.args["user"] == ALICE]
    assert "Delete it, please" in str(asked[0].args)
    assert not [c for c in watched.slack.calls if password in str(c.args)]
    assert password not in caplog.text
    assert (
        password.encode() not in Path(watched.database_url.removeprefix("sqlite:///")).read_bytes()
    )
    outcomes = [(e.action, e.outcome) for e in AuditLog(watched.database).latest(target=USER)]
    assert ("leak", "found") in outcomes
    assert ("freeze", "done") in outcomes


@pytest.mark.parametrize(
    "shape",
    [
        "```\nSMTP_PASSWORD={p}\n```",
        "see https://mail.example.com/login?user=smtp98001&pass={p}&x=1",
        "password: `{p}`.",
        '{{"smtp_password": "{p}"}}',
    ],
    ids=["code-block", "url", "inline-code", "json"],
)
def test_a_password_inside_code_or_a_url_is_found(
    watched: LocalWorkspace, slack: SlackAppClient, shape: str
) -> None:
    post_message(slack, watched, shape.format(p=password_of(watched)))
    assert watched.sandbox.users[USER].status == "Disable"


def test_an_edited_message_is_checked(watched: LocalWorkspace, slack: SlackAppClient) -> None:
    edited = {"text": f"oops {password_of(watched)}", "user": ALICE, "ts": "1700000000.000300"}
    post_message(slack, watched, "", subtype="message_changed", message=edited)
    assert watched.sandbox.users[USER].status == "Disable"


def test_a_bots_message_is_checked_and_nobody_is_asked_to_delete_it(
    watched: LocalWorkspace, slack: SlackAppClient
) -> None:
    post_message(
        slack, watched, f"CI: SMTP_PASS={password_of(watched)}", bot_id="B0CI", user="U0CIBOT"
    )
    assert watched.sandbox.users[USER].status == "Disable"
    assert watched.slack.calls_to("chat.postEphemeral") == []


def test_a_near_miss_is_not_flagged(watched: LocalWorkspace, slack: SlackAppClient) -> None:
    password = password_of(watched)
    near = password[:-1] + ("a" if password[-1] != "a" else "b")
    post_message(slack, watched, f"{near} and x{password} and {password[:-2]}")
    assert watched.sandbox.users[USER].status == "Enable"
    assert approvals_alerts(watched) == []


def test_one_alert_per_password_however_often_it_is_pasted(
    watched: LocalWorkspace, slack: SlackAppClient
) -> None:
    for _ in range(3):
        post_message(slack, watched, f"again {password_of(watched)}")
    assert len(approvals_alerts(watched)) == 1


def test_after_a_reset_by_sarvbot_the_new_password_is_watched_and_the_old_is_not(
    watched: LocalWorkspace, slack: SlackAppClient
) -> None:
    assert watched.app is not None
    watched.app.core.permissions.policy = parse_policy(
        DEMO_POLICY + "\n[leak_watch]\nenabled = true\n", source="policy"
    )
    old = password_of(watched)
    post_message(slack, watched, "warm the index up: nothing here")
    slack.command("/smtp", f"reset {USER} rotating", user_id=BOB, channel_id=OPS)
    watched.drain()
    new = password_of(watched)
    assert new != old
    post_message(slack, watched, f"old one: {old}")
    assert approvals_alerts(watched) == []
    post_message(slack, watched, f"new one: {new}")
    assert len(approvals_alerts(watched)) == 1
    assert watched.sandbox.users[USER].status == "Enable"  # freeze = false


def test_with_the_leak_watch_off_nothing_is_checked(
    watched: LocalWorkspace, slack: SlackAppClient
) -> None:
    assert watched.app is not None
    watched.app.core.permissions.policy = parse_policy(DEMO_POLICY, source="policy")
    post_message(slack, watched, f"{password_of(watched)}")
    assert watched.sandbox.users[USER].status == "Enable"
    assert watched.sandbox.calls_to("settings/listSmtp") == []
