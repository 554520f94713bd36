"""The Socket Mode stand-in speaks Slack's protocol to slack_sdk's own Socket Mode client."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from sarvbot.standin import (
    FakeSlackApi,
    FakeSocketMode,
    envelope_from_body,
    event_callback_body,
    function_executed_event,
    slash_command_body,
)
from sarvbot.standin.signed_requests import block_suggestion_body, global_shortcut_body

BOT_TOKEN = "xoxb-test-bot"
APP_TOKEN = "xapp-1-A0SARVBOT-test"


@pytest.fixture
def slack() -> Iterator[tuple[FakeSlackApi, FakeSocketMode]]:
    with FakeSlackApi(BOT_TOKEN) as api, FakeSocketMode(app_id=api.app_id) as socket_mode:
        api.enable_socket_mode(APP_TOKEN, socket_mode.open_connection_url)
        yield api, socket_mode


@contextlib.contextmanager
def sdk_client(api: FakeSlackApi) -> Iterator[tuple[SocketModeClient, queue.Queue[dict[str, Any]]]]:
    """slack_sdk's client, not yet connected, and the requests it sees; closed on exit.

    It acks every request with a payload naming its envelope.
    """
    seen: queue.Queue[dict[str, Any]] = queue.Queue()

    def on_request(client: SocketModeClient, request: SocketModeRequest) -> None:
        retry = (request.retry_attempt, request.retry_reason)
        seen.put({**request.to_dict(), "accepts": request.accepts_response_payload, "retry": retry})
        client.send_socket_mode_response(
            SocketModeResponse(request.envelope_id, payload={"text": request.envelope_id})
        )

    client = SocketModeClient(
        APP_TOKEN,
        web_client=WebClient(token=BOT_TOKEN, base_url=api.api_url),
        ping_interval=1,
    )
    client.socket_mode_request_listeners.append(on_request)
    try:
        yield client, seen
    finally:
        client.close()


def test_connections_open_gives_a_websocket_url_for_a_known_app_token(
    slack: tuple[FakeSlackApi, FakeSocketMode],
) -> None:
    api, socket_mode = slack
    reply = WebClient(base_url=api.api_url).apps_connections_open(app_token=APP_TOKEN)
    assert reply["url"].startswith(f"ws://127.0.0.1:{socket_mode.port}/link/?ticket=")


@pytest.mark.parametrize(
    ("token", "error"),
    [("xapp-1-unknown", "invalid_auth"), (BOT_TOKEN, "not_allowed_token_type")],
)
def test_connections_open_refuses_other_tokens(
    slack: tuple[FakeSlackApi, FakeSocketMode], token: str, error: str
) -> None:
    api, _ = slack
    with pytest.raises(SlackApiError) as raised:
        WebClient(base_url=api.api_url).apps_connections_open(app_token=token)
    assert raised.value.response["error"] == error


def test_an_app_token_is_refused_by_bot_methods(
    slack: tuple[FakeSlackApi, FakeSocketMode],
) -> None:
    api, _ = slack
    with pytest.raises(SlackApiError) as raised:
        WebClient(token=APP_TOKEN, base_url=api.api_url).auth_test()
    assert raised.value.response["error"] == "not_allowed_token_type"


def test_a_connection_url_is_good_for_one_connection(
    slack: tuple[FakeSlackApi, FakeSocketMode],
) -> None:
    api, _ = slack
    url = WebClient(base_url=api.api_url).apps_connections_open(app_token=APP_TOKEN)["url"]
    with connect(url, open_timeout=3) as first:
        hello = json.loads(first.recv(timeout=3))
        with pytest.raises(InvalidStatus) as refused:
            connect(url, open_timeout=3)
    assert refused.value.response.status_code == 401
    assert hello["type"] == "hello"
    assert hello["num_connections"] == 1
    assert hello["connection_info"] == {"app_id": api.app_id}
    assert "approximate_connection_time" in hello["debug_info"]


def test_envelopes_are_acked_and_pings_answered_by_slack_sdk(
    slack: tuple[FakeSlackApi, FakeSocketMode],
) -> None:
    api, socket_mode = slack
    with sdk_client(api) as (client, seen):
        client.connect()
        kind, payload = envelope_from_body(
            slash_command_body(
                command="/sarv",
                text="list",
                user_id="U1",
                user_name="alice",
                channel_id="C1",
                channel_name="ops",
                team_id="T0SARV",
                response_url="http://127.0.0.1:1/response/x",
                trigger_id="1.2.3",
            )
        )
        envelope, ack = socket_mode.deliver(kind, payload)
        received = seen.get(timeout=3)
        pong_after = socket_mode.ping()
    assert envelope.type == "slash_commands"
    assert received["envelope_id"] == envelope.envelope_id
    assert received["payload"]["command"] == "/sarv"
    assert received["accepts"] is True
    assert ack.payload == {"text": envelope.envelope_id}
    assert pong_after < 3


def test_a_refresh_request_makes_slack_sdk_open_a_new_connection(
    slack: tuple[FakeSlackApi, FakeSocketMode],
) -> None:
    api, socket_mode = slack
    with sdk_client(api) as (client, seen):
        client.connect()
        first = socket_mode.wait_for_connection()
        told = socket_mode.request_disconnect("refresh_requested")
        second = socket_mode.wait_for_connection(after=first)
        socket_mode.wait_until_closed(told)
        envelope, _ = socket_mode.deliver("events_api", {"event": {"type": "app_mention"}})
    assert told == first
    assert envelope.connection_id == second
    assert len(api.calls_to("apps.connections.open")) == 2
    assert seen.get(timeout=3)["envelope_id"] == envelope.envelope_id


def test_an_envelope_sent_while_no_connection_is_open_waits_for_one(
    slack: tuple[FakeSlackApi, FakeSocketMode],
) -> None:
    api, socket_mode = slack
    sent: list[str] = []
    sender = threading.Thread(
        target=lambda: sent.append(socket_mode.deliver("events_api", {})[0].envelope_id)
    )
    with sdk_client(api) as (client, seen):
        sender.start()
        client.connect()
        sender.join(timeout=10)
    assert sent
    assert seen.get(timeout=3)["envelope_id"] == sent[0]


def test_an_events_api_body_is_sent_whole_as_an_events_api_envelope(
    slack: tuple[FakeSlackApi, FakeSocketMode],
) -> None:
    api, socket_mode = slack
    event = function_executed_event(
        callback_id="create_smtp_user",
        inputs={"channel": "C1"},
        function_execution_id="Fx1",
        bot_access_token="xwfp-workflow",
    )
    body = event_callback_body(event, team_id="T0SARV", event_id="Ev1")
    kind, payload = envelope_from_body(body)
    assert (kind, payload) == ("events_api", json.loads(body))
    with sdk_client(api) as (client, seen):
        client.connect()
        envelope, _ = socket_mode.deliver(kind, payload, connect_timeout=10)
        received = seen.get(timeout=3)
    assert received["type"] == "events_api"
    assert received["accepts"] is False
    assert received["payload"]["type"] == "event_callback"
    assert received["payload"]["event_id"] == "Ev1"
    assert received["payload"]["event"]["bot_access_token"] == "xwfp-workflow"
    assert received["retry"] == (0, "")
    assert envelope.message()["retry_attempt"] == 0


def test_shortcuts_and_options_requests_are_interactive_envelopes_without_retry_fields() -> None:
    shortcut = global_shortcut_body(
        callback_id="manage_smtp_user", user_id="U1", user_name="a", team_id="T", trigger_id="1.2"
    )
    suggestion = block_suggestion_body(
        user_id="U1",
        user_name="a",
        team_id="T",
        view={"id": "V1", "blocks": []},
        block_id="b",
        action_id="a",
        value="smtp",
    )
    for body, payload_type in ((shortcut, "shortcut"), (suggestion, "block_suggestion")):
        kind, payload = envelope_from_body(body)
        assert (kind, payload["type"]) == ("interactive", payload_type)
        envelope = socket_mode_envelope(kind, payload)
        assert envelope["accepts_response_payload"] is True
        assert "retry_attempt" not in envelope
        assert "retry_reason" not in envelope


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (json.dumps({"type": "url_verification", "challenge": "c"}), "not url_verification"),
        (json.dumps({"type": "app_rate_limited", "team_id": "T"}), "not app_rate_limited"),
        (json.dumps([1, 2]), "not list"),
        ("text=hello", "not a slash command, an interaction or an Events API body"),
    ],
)
def test_what_socket_mode_never_carries_is_refused(body: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        envelope_from_body(body)


def socket_mode_envelope(kind: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """The message the stand-in would put on the socket for ``payload``."""
    with FakeSocketMode() as socket_mode:
        url = socket_mode.open_connection_url()
        with connect(url) as websocket:
            assert json.loads(websocket.recv(timeout=3))["type"] == "hello"
            socket_mode.send(kind, payload)
            return dict(json.loads(websocket.recv(timeout=3)))
