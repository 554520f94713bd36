"""Signed Slack requests: shapes, signatures, and a real Bolt app receiving them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import Ack, App, Respond
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from sarvbot.standin import (
    FakeSlackApi,
    SlackAppClient,
    SlackChannel,
    SlackUser,
    block_actions_body,
    find_action,
    sign,
    slash_command_body,
    state_values,
    view_closed_body,
    view_submission_body,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-token"

APPROVE_MESSAGE: dict[str, Any] = {
    "ts": "1700000000.000100",
    "text": "Reset requested",
    "blocks": [
        {"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": "Reset?"}},
        {
            "type": "actions",
            "block_id": "decide",
            "elements": [
                {
                    "type": "button",
                    "action_id": "approve",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "value": "req-7",
                },
                {
                    "type": "button",
                    "action_id": "deny",
                    "text": {"type": "plain_text", "text": "Deny"},
                    "value": "req-7",
                },
            ],
        },
    ],
}

RESET_VIEW: dict[str, Any] = {
    "id": "V0000000001",
    "type": "modal",
    "callback_id": "reset",
    "title": {"type": "plain_text", "text": "Reset"},
    "submit": {"type": "plain_text", "text": "Go"},
    "notify_on_close": True,
    "blocks": [
        {
            "type": "input",
            "block_id": "name",
            "label": {"type": "plain_text", "text": "SMTP user"},
            "element": {"type": "plain_text_input", "action_id": "name_input"},
        },
        {
            "type": "input",
            "block_id": "kind",
            "label": {"type": "plain_text", "text": "Kind"},
            "element": {
                "type": "static_select",
                "action_id": "kind_select",
                "options": [
                    {"text": {"type": "plain_text", "text": "Password"}, "value": "password"},
                    {"text": {"type": "plain_text", "text": "Disable"}, "value": "disable"},
                ],
            },
        },
    ],
    "state": {"values": {}},
}


def decoded_payload(body: str) -> dict[str, Any]:
    fields = parse_qs(body)
    assert list(fields) == ["payload"]
    payload: dict[str, Any] = json.loads(fields["payload"][0])
    return payload


# -- signing --------------------------------------------------------------------------


def test_signature_is_accepted_by_slack_sdk() -> None:
    body = "token=x&text=hello%20world"
    headers = sign(SECRET, body)
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_signature_with_a_wrong_secret_is_rejected() -> None:
    headers = sign("not-the-secret", "a=1")
    assert not SignatureVerifier(SECRET).is_valid(
        "a=1", headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )


def test_signature_matches_slacks_documented_example() -> None:
    # The worked example in Slack's "Verifying requests from Slack" guide.
    body = (
        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
        "channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
        "command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
        "commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        "trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = sign(SECRET, body, timestamp=1531420618)
    assert headers["X-Slack-Signature"] == (
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


def test_old_timestamp_is_rejected_by_slack_sdk() -> None:
    stale = int(time.time()) - 301
    headers = sign(SECRET, "a=1", timestamp=stale)
    assert not SignatureVerifier(SECRET).is_valid(
        "a=1", headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )


# -- body shapes ----------------------------------------------------------------------


def test_slash_command_body_has_the_fields_slack_sends() -> None:
    body = slash_command_body(
        command="/sarv",
        text="reset mail-bot",
        user_id="U0ALICE",
        user_name="alice",
        channel_id="C0OPS",
        channel_name="ops",
        team_id="T0SARV",
        response_url="https://hooks.example/commands/1",
        trigger_id="1.2.abc",
    )
    fields = {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}
    assert fields == {
        "token": "sarvbot-verification-token",
        "team_id": "T0SARV",
        "team_domain": "sarv",
        "channel_id": "C0OPS",
        "channel_name": "ops",
        "user_id": "U0ALICE",
        "user_name": "alice",
        "command": "/sarv",
        "text": "reset mail-bot",
        "api_app_id": "A0SARVBOT",
        "is_enterprise_install": "false",
        "response_url": "https://hooks.example/commands/1",
        "trigger_id": "1.2.abc",
    }


def test_block_actions_body_shape() -> None:
    body = block_actions_body(
        user_id="U0BOB",
        user_name="bob",
        team_id="T0SARV",
        channel_id="C0OPS",
        message=APPROVE_MESSAGE,
        container={"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0OPS"},
        actions=[{"action_id": "approve", "block_id": "decide", "value": "req-7"}],
        response_url="https://hooks.example/actions/1",
        trigger_id="9.9.xyz",
        channel_name="ops",
    )
    payload = decoded_payload(body)
    assert payload["type"] == "block_actions"
    assert payload["user"] == {
        "id": "U0BOB",
        "username": "bob",
        "name": "bob",
        "team_id": "T0SARV",
    }
    assert payload["channel"] == {"id": "C0OPS", "name": "ops"}
    assert payload["team"] == {"id": "T0SARV", "domain": "sarv"}
    assert payload["message"]["ts"] == "1700000000.000100"
    assert payload["response_url"] == "https://hooks.example/actions/1"
    assert payload["trigger_id"] == "9.9.xyz"
    (action,) = payload["actions"]
    assert {k: action[k] for k in ("action_id", "block_id", "value", "type")} == {
        "action_id": "approve",
        "block_id": "decide",
        "value": "req-7",
        "type": "button",
    }
    assert float(action["action_ts"]) > 0


def test_view_submission_nests_values_like_slack() -> None:
    payload = decoded_payload(
        view_submission_body(
            user_id="U0ALICE",
            team_id="T0SARV",
            view=RESET_VIEW,
            trigger_id="1.1.a",
            values={"name": {"name_input": "mail-bot"}, "kind": {"kind_select": "disable"}},
        )
    )
    assert payload["type"] == "view_submission"
    assert payload["view"]["callback_id"] == "reset"
    assert payload["view"]["state"]["values"] == {
        "name": {"name_input": {"type": "plain_text_input", "value": "mail-bot"}},
        "kind": {
            "kind_select": {
                "type": "static_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "Disable"},
                    "value": "disable",
                },
            }
        },
    }
    assert RESET_VIEW["state"] == {"values": {}}


@pytest.mark.parametrize(
    "values",
    [{"nope": {"name_input": "x"}}, {"kind": {"kind_select": "explode"}}],
)
def test_state_values_refuses_what_the_view_cannot_hold(values: Any) -> None:
    with pytest.raises(ValueError, match="no"):
        state_values(RESET_VIEW, values)


def test_view_closed_body_shape() -> None:
    payload = decoded_payload(
        view_closed_body(user_id="U0ALICE", team_id="T0SARV", view=RESET_VIEW, is_cleared=True)
    )
    assert (payload["type"], payload["is_cleared"]) == ("view_closed", True)
    assert payload["view"]["id"] == "V0000000001"


def test_find_action_picks_the_block_and_button() -> None:
    block_id, element = find_action(APPROVE_MESSAGE["blocks"], "deny")
    assert (block_id, element["value"]) == ("decide", "req-7")
    with pytest.raises(LookupError):
        find_action(APPROVE_MESSAGE["blocks"], "approve", value="req-8")


# -- a real Bolt app receiving the requests -------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(
        TOKEN,
        users=[SlackUser("U0ALICE", "alice"), SlackUser("U0BOB", "bob")],
        channels=[SlackChannel("C0OPS", "ops", {"U0ALICE", "U0BOB"})],
    ) as api:
        yield api


def build_app(fake: FakeSlackApi) -> App:
    app = App(client=WebClient(token=TOKEN, base_url=fake.api_url), signing_secret=SECRET)

    @app.command("/sarv")
    def command(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack(f"{body['user_name']} in #{body['channel_name']}: {body['text']}")
        client.views_open(
            trigger_id=body["trigger_id"],
            view={k: v for k, v in RESET_VIEW.items() if k not in ("id", "state")},
        )

    @app.action("approve")
    def approve(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        respond(text=f"approved {body['actions'][0]['value']}", replace_original=True)

    @app.view("reset")
    def submit(ack: Ack, view: dict[str, Any]) -> None:
        values = view["state"]["values"]
        name = values["name"]["name_input"]["value"]
        kind = values["kind"]["kind_select"]["selected_option"]["value"]
        ack(response_action="errors", errors={"name": f"{name}/{kind}"})

    @app.view_closed("reset")
    def closed(ack: Ack) -> None:
        ack()

    return app


@pytest.fixture
def app_client(fake: FakeSlackApi) -> Iterator[SlackAppClient]:
    server: WSGIServer = make_server(
        "127.0.0.1", 0, SlackRequestHandler(build_app(fake)), handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    client = SlackAppClient(
        f"http://127.0.0.1:{server.server_port}/slack/events", SECRET, slack=fake
    )
    yield client
    client.close()
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_bolt_app_answers_a_command_and_opens_a_modal(
    app_client: SlackAppClient, fake: FakeSlackApi
) -> None:
    reply = app_client.command("/sarv", "reset mail-bot", user_id="U0ALICE", channel_id="C0OPS")
    assert reply.status_code == 200
    assert reply.text == "alice in #ops: reset mail-bot"
    opened = fake.wait_for("views.open")
    assert opened.ok, opened.response


def test_bolt_app_rejects_a_wrong_signature(fake: FakeSlackApi, app_client: SlackAppClient) -> None:
    forger = SlackAppClient(app_client.app_url, "wrong-secret", slack=fake)
    reply = forger.command("/sarv", "x", user_id="U0ALICE", channel_id="C0OPS")
    forger.close()
    assert reply.status_code == 401


def test_bolt_app_handles_a_click_and_replaces_the_message(
    app_client: SlackAppClient, fake: FakeSlackApi
) -> None:
    bot = WebClient(token=TOKEN, base_url=fake.api_url)
    ts = bot.chat_postMessage(channel="C0OPS", text="Reset?", blocks=APPROVE_MESSAGE["blocks"])[
        "ts"
    ]
    reply = app_client.click(
        "approve", user_id="U0BOB", message=fake.messages[("C0OPS", ts)], channel_id="C0OPS"
    )
    assert reply.status_code == 200
    post = fake.wait_for_post()
    assert (post.body["text"], post.replace_original) == ("approved req-7", True)
    assert fake.messages[("C0OPS", ts)]["text"] == "approved req-7"
    assert "blocks" not in fake.messages[("C0OPS", ts)]


def test_click_in_an_ephemeral_message_leaves_the_message_out(
    fake: FakeSlackApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    client = SlackAppClient("http://127.0.0.1:9/unused", SECRET, slack=fake)
    monkeypatch.setattr(client, "post", lambda body, **_: sent.append(body))
    client.click(
        "deny", user_id="U0BOB", message=APPROVE_MESSAGE, channel_id="C0OPS", ephemeral=True
    )
    payload = decoded_payload(sent[0])
    assert "message" not in payload
    assert payload["container"] == {
        "type": "message",
        "message_ts": "1700000000.000100",
        "channel_id": "C0OPS",
        "is_ephemeral": True,
    }
    assert payload["actions"][0]["action_id"] == "deny"
    assert payload["response_url"].startswith(fake.base_url + "/response/")


def test_bolt_app_reads_submitted_values(app_client: SlackAppClient) -> None:
    reply = app_client.submit_view(
        RESET_VIEW,
        {"name": {"name_input": "mail-bot"}, "kind": {"kind_select": "password"}},
        user_id="U0ALICE",
    )
    assert reply.json() == {"response_action": "errors", "errors": {"name": "mail-bot/password"}}


def test_bolt_app_acks_a_closed_view(app_client: SlackAppClient) -> None:
    assert app_client.close_view(RESET_VIEW, user_id="U0ALICE").status_code == 200
