"""Slash commands end to end: signed requests over HTTP, the real app, stand-in Slack, sandbox."""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from sarvbot.standin import SlackAppClient, SlackUser, sign
from sarvbot.standin.workspace import ALICE, BOB, DEV, GUEST, OPS, LocalWorkspace
from tests.support import join_channel, smtp_command_body


def _texts(workspace: LocalWorkspace) -> list[str]:
    return [
        str(p.body.get("text", "")) + str(p.body.get("blocks", "")) for p in workspace.slack.posts
    ]


def _last_reply(workspace: LocalWorkspace) -> dict[str, Any]:
    assert workspace.slack.posts, "the app sent no reply"
    return workspace.slack.posts[-1].body


def test_list_in_dev_shows_users_without_passwords(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    user = workspace.sandbox.add_user(500, 50, name="smtp10001")
    response = slack.command("/smtp", "list", user_id=ALICE, channel_id=DEV)
    assert response.status_code == 200
    workspace.drain()
    reply = _last_reply(workspace)
    assert reply["response_type"] == "ephemeral"
    assert "smtp10001" in str(reply["blocks"])
    assert "total 500" in str(reply["blocks"])
    assert user.password not in str(workspace.slack.posts)
    assert user.password not in str(workspace.slack.calls)


def test_reset_in_ops_announces_and_dms_the_password(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp10002")
    slack.command("/smtp", "reset smtp10002", user_id=BOB, channel_id=OPS)
    workspace.drain()
    password = workspace.sandbox.users["smtp10002"].password
    announcement = workspace.slack.calls_to("chat.postMessage")[-1]
    assert announcement.args["channel"] == OPS
    assert "reset the password of" in announcement.args["text"]
    holders = [c for c in workspace.slack.calls if password in str(c.args)]
    assert [(c.method, c.args["user"], c.args["channel"]) for c in holders] == [
        ("chat.postEphemeral", BOB, workspace.slack.im_channel_id(BOB))
    ]
    assert not [p for p in workspace.slack.posts if password in str(p.body)]


def test_reset_refused_in_dev_for_a_guest(workspace: LocalWorkspace, slack: SlackAppClient) -> None:
    workspace.sandbox.add_user(name="smtp10003")
    slack.command("/smtp", "list", user_id=GUEST, channel_id=DEV)
    workspace.drain()
    assert "may run only `/smtp help` and `/smtp whoami`" in _last_reply(workspace)["text"]
    assert workspace.sandbox.calls == []


def test_unknown_command_names_the_problem(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    response = slack.command("/smtp", "frobnicate", user_id=ALICE, channel_id=DEV)
    assert response.status_code == 200
    assert "is not a command I know" in response.text


def test_forged_signature_is_refused(workspace: LocalWorkspace) -> None:
    forged = SlackAppClient(workspace.app_url, "not-the-secret", slack=workspace.slack)
    workspace.sandbox.add_user(name="smtp10004")
    response = forged.command("/smtp", "reset smtp10004", user_id=BOB, channel_id=OPS)
    assert response.status_code == 401
    workspace.drain()
    assert workspace.sandbox.calls == []
    assert workspace.slack.calls == []


def test_user_of_another_organisation_may_only_run_help_and_whoami(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.slack.add_user(SlackUser("U0EXT", "ext", team_id="T0OTHERORG"))
    join_channel(workspace.slack, OPS, "U0EXT")
    slack.command("/smtp", "list", user_id="U0EXT", channel_id=OPS)
    workspace.drain()
    assert "may run only `/smtp help` and `/smtp whoami`" in _last_reply(workspace)["text"]
    slack.command("/smtp", "whoami", user_id="U0EXT", channel_id=OPS)
    workspace.drain()
    assert "(guest or external)" in str(_last_reply(workspace)["blocks"])
    assert workspace.sandbox.calls == []


def test_events_from_bots_are_ignored(workspace: LocalWorkspace) -> None:
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0SARV",
            "event": {
                "type": "message",
                "bot_id": "B0OTHER",
                "text": "/smtp reset x",
                "channel": OPS,
            },
        }
    )
    headers = {**sign(workspace.signing_secret, body), "Content-Type": "application/json"}
    response = requests.post(workspace.app_url, data=body, headers=headers, timeout=10)
    assert response.status_code == 200
    workspace.drain()
    # Bolt authorizes the request (auth.test); nothing else happens.
    assert [c.method for c in workspace.slack.calls] in ([], ["auth.test"])
    assert workspace.sandbox.calls == []


def test_stale_timestamp_is_refused(workspace: LocalWorkspace, slack: SlackAppClient) -> None:
    workspace.sandbox.add_user(name="smtp10005")
    body = smtp_command_body(workspace.slack, "disable smtp10005")
    response = slack.post(body, timestamp=int(time.time()) - 301)
    assert response.status_code == 401
    workspace.drain()
    assert workspace.sandbox.users["smtp10005"].status == "Enable"
