"""``sarvbot socket`` end to end: a real process on the Socket Mode stand-in.

The app runs as ``sarvbot socket`` does in production (a subprocess with SLACK_APP_TOKEN),
Slack's side is the fake Web API plus the Socket Mode stand-in, and Sarv is the sandbox.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sarvbot.slack.picker import ACTION_PICK_USER, PICKER_BLOCK
from sarvbot.slack.steps import CREATE_USER
from sarvbot.standin import ResponsePost, SlackAppClient
from sarvbot.standin.block_kit import check_options
from sarvbot.standin.socket_mode import Ack, Envelope, FakeSocketMode, envelope_from_body
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, DEV, OPS, LocalWorkspace
from tests.slack.steps import completions, create_inputs, deliver
from tests.support import SARVBOT, app_env, clean_environ, smtp_command_body, stop

ACK_DEADLINE = 3.0  # Slack's: an envelope not acked in 3 s has failed
CONNECT_TIMEOUT = 30.0  # a cold start of the process, or a reconnect noticed by its monitor


class SocketSlack(SlackAppClient):
    """Sends what SlackAppClient would POST as Socket Mode envelopes, and waits for acks."""

    def __init__(self, workspace: LocalWorkspace, socket_mode: FakeSocketMode) -> None:
        super().__init__("unused://", "unused", slack=workspace.slack)
        self.socket_mode = socket_mode
        self.delivered: list[tuple[Envelope, Ack]] = []
        self.also_secret: list[str] = []  # what a test learnt must stay out of the logs

    def post(
        self, body: str, *, timestamp: int | None = None, content_type: str | None = None
    ) -> requests.Response:
        kind, payload = envelope_from_body(body)
        envelope, ack = self.socket_mode.deliver(
            kind, payload, timeout=ACK_DEADLINE, connect_timeout=CONNECT_TIMEOUT
        )
        self.delivered.append((envelope, ack))
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(ack.payload or {}).encode()
        return response

    @property
    def last(self) -> tuple[Envelope, Ack]:
        """The last envelope delivered and its ack."""
        return self.delivered[-1]

    def secrets(self) -> list[str]:
        """The workflow tokens in the function_executed events delivered, and ``also_secret``."""
        events = [e.payload.get("event") or {} for e, _ in self.delivered]
        tokens = [str(e["bot_access_token"]) for e in events if "bot_access_token" in e]
        return [*tokens, *self.also_secret]


def _socket_process(workspace: LocalWorkspace, tmp_path: Path, **env: str) -> subprocess.Popen[str]:
    log = (tmp_path / "socket.log").open("w")
    return subprocess.Popen(
        [sys.executable, *SARVBOT, "socket"],
        env=clean_environ(app_env(workspace, tmp_path, **env)),
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[LocalWorkspace, SocketSlack]]:
    """A workspace with Socket Mode and ``sarvbot socket`` connected to it."""
    with LocalWorkspace(f"sqlite:///{tmp_path / 'app.db'}", socket_mode=True) as workspace:
        assert workspace.socket is not None
        process = _socket_process(workspace, tmp_path, LOG_LEVEL="DEBUG")
        try:
            workspace.socket.wait_for_connection(timeout=CONNECT_TIMEOUT)
            slack = SocketSlack(workspace, workspace.socket)
            yield workspace, slack
        finally:
            stop(process)
            log = (tmp_path / "socket.log").read_text()
        assert "Traceback" not in log, log
        for secret in (workspace.bot_token, workspace.app_token, *slack.secrets()):
            assert secret not in log


def _post_after(workspace: LocalWorkspace, ack: Ack, words: str) -> ResponsePost:
    post = workspace.slack.wait_for_post(lambda p: words in str(p.body), timeout=10)
    assert post.at >= ack.at, "the answer came before the ack"
    return post


def _approval_message(workspace: LocalWorkspace) -> dict[str, Any]:
    posted = workspace.slack.wait_for(
        lambda c: (
            c.method == "chat.postMessage"
            and c.args.get("channel") == APPROVALS
            and not c.args.get("thread_ts")
        ),
        timeout=10,
    )
    return workspace.slack.messages[(APPROVALS, posted.response["ts"])]


def _acked_in_time(slack: SocketSlack) -> None:
    for envelope, ack in slack.delivered:
        assert ack.at - envelope.sent_at < ACK_DEADLINE
    acked = [ack.envelope_id for _, ack in slack.delivered]
    assert len(acked) == len(set(acked))


def test_slash_command_over_socket_mode_is_acked_then_answered(
    running: tuple[LocalWorkspace, SocketSlack],
) -> None:
    workspace, slack = running
    workspace.sandbox.add_user(name="smtp40001")
    slack.command("/smtp", "list", user_id=BOB, channel_id=OPS)
    envelope, ack = slack.last
    assert envelope.type == "slash_commands"
    _post_after(workspace, ack, "smtp40001")
    assert len(workspace.sandbox.calls_to("settings/listSmtp")) == 1
    _acked_in_time(slack)


def test_approve_click_over_socket_mode_runs_the_change_after_the_ack(
    running: tuple[LocalWorkspace, SocketSlack],
) -> None:
    workspace, slack = running
    workspace.sandbox.add_user(name="smtp40002")
    slack.command("/smtp", "reset smtp40002 key leaked", user_id=ALICE, channel_id=DEV)
    message = _approval_message(workspace)
    assert workspace.sandbox.calls_to("settings/resetSmtpPassword") == []

    slack.click("approve_request", user_id=BOB, message=message, channel_id=APPROVALS)
    envelope, ack = slack.last
    assert envelope.type == "interactive"
    delivered = workspace.slack.wait_for(
        lambda c: c.method == "chat.postEphemeral" and c.args.get("user") == ALICE, timeout=10
    )
    assert delivered.at >= ack.at
    password = workspace.sandbox.users["smtp40002"].password
    assert password in str(delivered.args)
    assert len(workspace.sandbox.calls_to("settings/resetSmtpPassword")) == 1
    _acked_in_time(slack)


def test_add_modal_submitted_over_socket_mode_creates_the_user(
    running: tuple[LocalWorkspace, SocketSlack],
) -> None:
    workspace, slack = running
    slack.command("/smtp", "add", user_id=BOB, channel_id=OPS)
    opened = workspace.slack.wait_for("views.open", timeout=10)
    view = workspace.slack.views[opened.response["view"]["id"]]

    slack.submit_view(
        view, {"total_limit": {"value": "500"}, "hourly_limit": {"value": "200"}}, user_id=BOB
    )
    envelope, ack = slack.last
    assert envelope.type == "interactive"
    assert envelope.payload["type"] == "view_submission"
    _post_after(workspace, ack, "is in your DM with sarvbot")
    (user,) = workspace.sandbox.users.values()
    assert (user.total_limit, user.hourly_limit) == (500, 200)
    assert len(workspace.sandbox.calls_to("settings/addSmtp")) == 1
    _acked_in_time(slack)


def test_refresh_and_dropped_socket_reconnect_without_losing_or_repeating_envelopes(
    running: tuple[LocalWorkspace, SocketSlack],
) -> None:
    workspace, slack = running
    socket_mode = slack.socket_mode
    workspace.sandbox.add_user(name="smtp40003")
    first = socket_mode.wait_for_connection()

    slack.command("/smtp", "list", user_id=BOB, channel_id=OPS)
    # An envelope in flight when Slack asks for a refresh is still acked and handled once.
    kind, payload = envelope_from_body(_list_body(slack))
    in_flight = socket_mode.send(kind, payload)
    told = socket_mode.request_disconnect("refresh_requested")
    socket_mode.wait_for_ack(in_flight, ACK_DEADLINE)
    second = socket_mode.wait_for_connection(after=first, timeout=CONNECT_TIMEOUT)
    socket_mode.wait_until_closed(told)
    slack.command("/smtp", "list", user_id=BOB, channel_id=OPS)
    assert slack.last[0].connection_id == second

    dropped = socket_mode.drop()
    # Sent while the app has no socket: it goes out once the app has reconnected.
    slack.command("/smtp", "list", user_id=BOB, channel_id=OPS)
    assert slack.last[0].connection_id > dropped

    envelopes = socket_mode.envelopes
    assert len(envelopes) == 4
    workspace.slack.wait_for(lambda _c: len(workspace.slack.posts) >= len(envelopes), timeout=10)
    # Each command answered exactly once, at its own response_url.
    answered = sorted(p.url for p in workspace.slack.posts)
    assert answered == sorted(e.payload["response_url"] for e in envelopes)
    # Listings running at once share one Sarv call (SharedCall); none is fetched twice.
    assert 1 <= len(workspace.sandbox.calls_to("settings/listSmtp")) <= len(envelopes)
    acked = [ack.envelope_id for ack in socket_mode.acks]
    assert sorted(acked) == sorted(e.envelope_id for e in envelopes)
    assert len(workspace.slack.calls_to("apps.connections.open")) >= 3


def test_manage_shortcut_over_socket_mode_opens_the_form_with_its_trigger(
    running: tuple[LocalWorkspace, SocketSlack],
) -> None:
    workspace, slack = running
    slack.global_shortcut("manage_smtp_user", user_id=ALICE)
    envelope, ack = slack.last
    assert (envelope.type, envelope.payload["type"]) == ("interactive", "shortcut")
    assert not ack.payload
    opened = workspace.slack.wait_for("views.open", timeout=10)
    assert opened.ok
    assert opened.args["trigger_id"] == envelope.payload["trigger_id"]
    view = workspace.slack.views[opened.response["view"]["id"]]
    assert PICKER_BLOCK in [b.get("block_id") for b in view["blocks"]]
    _acked_in_time(slack)


def test_picker_options_over_socket_mode_come_back_in_the_ack(
    running: tuple[LocalWorkspace, SocketSlack],
) -> None:
    workspace, slack = running
    workspace.sandbox.add_user(name="smtp40004")
    workspace.sandbox.add_user(name="smtp50005")
    slack.global_shortcut("manage_smtp_user", user_id=BOB)
    opened = workspace.slack.wait_for("views.open", timeout=10)
    view = workspace.slack.views[opened.response["view"]["id"]]

    slack.suggest(view, ACTION_PICK_USER, "smtp4", user_id=BOB)
    envelope, ack = slack.last
    assert (envelope.type, envelope.payload["type"]) == ("interactive", "block_suggestion")
    assert ack.payload is not None
    options = ack.payload["options"]
    assert check_options(options) is None
    assert [o["value"] for o in options] == ["smtp40004"]
    _acked_in_time(slack)


def test_app_home_opened_over_socket_mode_publishes_the_home_tab(
    running: tuple[LocalWorkspace, SocketSlack],
) -> None:
    workspace, slack = running
    slack.event({"type": "app_home_opened", "user": BOB, "tab": "home"})
    envelope, ack = slack.last
    assert (envelope.type, envelope.payload["event"]["type"]) == ("events_api", "app_home_opened")
    assert envelope.accepts_response_payload is False
    assert not ack.payload
    published = workspace.slack.wait_for("views.publish", timeout=10)
    assert published.ok
    assert published.args["user_id"] == BOB
    home = workspace.slack.home_view(BOB)
    assert home is not None
    assert home["type"] == "home"
    _acked_in_time(slack)


def test_workflow_step_over_socket_mode_completes_once_and_hands_the_password_to_the_requester(
    running: tuple[LocalWorkspace, SocketSlack],
) -> None:
    workspace, slack = running
    execution = workspace.slack.start_function(CREATE_USER)
    deliver(slack, CREATE_USER, create_inputs(total_limit=500, hourly_limit=20), execution)
    envelope, _ = slack.last
    assert (envelope.type, envelope.payload["event"]["type"]) == ("events_api", "function_executed")
    workspace.slack.wait_for(lambda c: c.method.startswith("functions.complete"), timeout=10)
    workspace.slack.wait_for(
        lambda c: c.method == "chat.postEphemeral" and c.args.get("user") == BOB, timeout=10
    )

    done = workspace.slack.function_execution(execution.id)
    assert done.state == "completed"
    assert done.completed_with == "bot"
    ((name, user),) = workspace.sandbox.users.items()
    assert done.outputs == {"state": "done", "smtp_user": name}
    assert (user.total_limit, user.hourly_limit) == (500, 20)
    slack.also_secret.append(user.password)
    holders = [c for c in workspace.slack.calls if user.password in str(c.args)]
    assert [(c.method, c.args["user"]) for c in holders] == [("chat.postEphemeral", BOB)]
    assert completions(workspace) == ["functions.completeSuccess"]
    _acked_in_time(slack)


def _list_body(slack: SocketSlack) -> str:
    assert slack.slack is not None
    return smtp_command_body(slack.slack, "list", team_id=slack.team_id)


def _run_to_exit(tmp_path: Path, token: str) -> tuple[int, list[str], LocalWorkspace]:
    with LocalWorkspace(f"sqlite:///{tmp_path / 'app.db'}", socket_mode=True) as workspace:
        process = _socket_process(workspace, tmp_path, SLACK_APP_TOKEN=token)
        try:
            returncode = process.wait(timeout=60)
        finally:
            stop(process)
    output = (tmp_path / "socket.log").read_text()
    assert "Traceback" not in output
    assert token not in output
    return returncode, [line for line in output.splitlines() if line.strip()], workspace


def test_bad_app_token_is_one_clear_line_and_a_failed_exit(tmp_path: Path) -> None:
    returncode, lines, workspace = _run_to_exit(tmp_path, "xapp-1-A0SARVBOT-revoked")
    assert returncode != 0
    assert lines == ["sarvbot socket: Slack refused the Socket Mode connection: invalid_auth"]
    assert [c.error for c in workspace.slack.calls_to("apps.connections.open")] == ["invalid_auth"]
    assert workspace.socket is not None
    assert workspace.socket.connections_opened == 0


def test_bot_token_given_as_app_token_is_refused_before_connecting(tmp_path: Path) -> None:
    returncode, lines, workspace = _run_to_exit(tmp_path, "xoxb-not-an-app-token")
    assert returncode != 0
    assert "SLACK_APP_TOKEN: must be an app-level token starting with xapp-" in lines[-1]
    assert workspace.slack.calls_to("apps.connections.open") == []
