"""Leak watch defects: leaks it misses or drops, false alerts, and what it costs the app."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests

from sarvbot.config import load_settings
from sarvbot.policy import parse_policy
from sarvbot.runtime import create_app
from sarvbot.sarv import SarvClient
from sarvbot.slack import SlackApp
from sarvbot.standin import SlackAppClient, event_callback_body
from sarvbot.standin.workspace import APPROVALS, BOB, OPS, LocalWorkspace
from sarvbot.web import EVENTS_PATH, make_wsgi_app
from tests.slack.leaks import (
    LEAKED,
    WATCHING,
    approvals_alerts,
    message_event,
    password_of,
    post_message,
)
from tests.support import SARVBOT, clean_environ, stop, write_policy

USER = LEAKED


@pytest.mark.parametrize(
    "shape",
    [
        "the password is *{p}*",
        "the password is _{p}_",
        "old: ~{p}~",
        "SMTP_URL=smtp://smtp98001:{p}@smtp.sarv.com:587",
        "https://mail.example.com/login?pass={p}%26next%3D1",
    ],
    ids=["bold", "italic", "strike", "url-userinfo", "percent-encoded-query"],
)
def test_a_password_in_common_slack_shapes_is_found(
    watched: LocalWorkspace, slack: SlackAppClient, shape: str
) -> None:
    post_message(slack, watched, shape.format(p=password_of(watched)))
    assert len(approvals_alerts(watched)) == 1


def test_a_password_in_a_bots_attachment_is_found(
    watched: LocalWorkspace, slack: SlackAppClient
) -> None:
    """CI bots post their logs as attachments or blocks, the text being a summary."""
    log = f"SMTP_PASS={password_of(watched)}"
    post_message(
        slack,
        watched,
        "Build #12 failed",
        subtype="bot_message",
        bot_id="B0CI",
        attachments=[{"fallback": "Build #12 failed", "text": log}],
    )
    assert len(approvals_alerts(watched)) == 1


def test_with_sarv_down_the_previous_index_still_checks_messages(
    watched: LocalWorkspace, slack: SlackAppClient
) -> None:
    assert watched.app is not None
    post_message(slack, watched, "the index is built from Sarv's list here")
    watched.app.core.leak_watch.mark_stale()  # a change was made, or five minutes passed
    watched.sandbox.fail_next("general", times=100, path="settings/listSmtp")
    post_message(slack, watched, f"SMTP_PASS={password_of(watched)}")
    assert len(approvals_alerts(watched)) == 1


def test_sarv_down_does_not_make_a_watching_process_unready(watched: LocalWorkspace) -> None:
    """/readyz is the load balancer's probe: Sarv's outage must not take the app out."""
    assert watched.app is not None
    watched.sandbox.fail_next("general", times=10_000, path="settings/listSmtp")
    watched.app.start_housekeeping(interval=0.2)
    time.sleep(1.5)
    base = watched.app_url.removesuffix(EVENTS_PATH)
    answer = requests.get(f"{base}/readyz", timeout=10)
    assert answer.status_code == 200, answer.text


def test_a_burst_while_the_index_is_rebuilt_does_not_drop_a_leak(
    watched: LocalWorkspace, slack: SlackAppClient
) -> None:
    post_message(slack, watched, "warm the index up")
    slack.command("/smtp", f"reset {USER} rotating", user_id=BOB, channel_id=OPS)
    watched.drain()
    watched.sandbox.settings.latency = 0.5  # Sarv answering in half a second
    password = password_of(watched)
    clients = [watched.client() for _ in range(16)]

    def send(index: int) -> int:
        text = f"new one: {password}" if index == 60 else f"chatter {index}"
        return clients[index % 16].event(message_event(text)).status_code

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(send, range(80))) == {200}
    watched.drain()
    assert len(approvals_alerts(watched)) == 1


def test_chatter_while_sarv_hangs_does_not_keep_forms_from_opening(
    watched: LocalWorkspace, slack: SlackAppClient
) -> None:
    """Forms must open within the trigger's 3 s; the quick pool is theirs."""
    assert watched.app is not None
    post_message(slack, watched, "warm the index up")
    watched.app.core.leak_watch.mark_stale()
    watched.sandbox.fail_next("hang", times=1000, path="settings/listSmtp")
    try:
        for index in range(12):
            assert slack.event(message_event(f"chatter {index}")).ok
        assert slack.command("/smtp", "add", user_id=BOB, channel_id=OPS).ok
        time.sleep(3.0)
        opened = watched.slack.calls_to("views.open")
    finally:
        watched.sandbox.stop()  # the hanging calls end at once
    assert opened, "the add form did not open within the trigger's 3 s"


def test_a_new_password_set_outside_sarvbot_is_reported_when_it_leaks(
    watched: LocalWorkspace, slack: SlackAppClient
) -> None:
    assert watched.app is not None
    post_message(slack, watched, f"first: {password_of(watched)}")
    assert len(approvals_alerts(watched)) == 1
    # Ops reset it in Sarv's own panel; the index picks it up on its next rebuild.
    SarvClient("owner-1", watched.sarv_token, base_url=watched.sandbox.url).reset_password(USER)
    watched.app.core.leak_watch.refresh()
    post_message(slack, watched, f"second: {password_of(watched)}")
    assert len(approvals_alerts(watched)) == 2


def test_an_alert_slack_did_not_take_is_not_given_up_for_good(
    watched: LocalWorkspace, slack: SlackAppClient
) -> None:
    # Slack fails the approvals alert and the owner's DM once (a 5xx moment).
    watched.slack.fail_next("chat.postMessage", "internal_error", times=2)
    post_message(slack, watched, f"SMTP_PASS={password_of(watched)}")
    assert approvals_alerts(watched) == []
    post_message(slack, watched, f"still here: {password_of(watched)}")
    assert len(approvals_alerts(watched)) == 1


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@pytest.fixture
def second_process(watched: LocalWorkspace) -> Iterator[tuple[SlackApp, SlackAppClient]]:
    """Another app process on the same database, Sarv and Slack (each keeps its own index)."""
    app = create_app(
        load_settings(watched.environ()),
        policy=parse_policy(WATCHING, source="policy"),
        database=watched.database,
        sarv_client=SarvClient("owner-1", watched.sarv_token, base_url=watched.sandbox.url),
    )
    server = make_server(
        "127.0.0.1",
        0,
        make_wsgi_app(app, signing_secret=watched.signing_secret),
        server_class=_Threading,
        handler_class=_Quiet,
    )
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}{EVENTS_PATH}"
    client = SlackAppClient(url, watched.signing_secret, slack=watched.slack)
    try:
        yield app, client
    finally:
        client.close()
        server.shutdown()
        server.server_close()
        app.close()


def test_the_old_password_after_a_reset_in_another_process_is_no_current_leak(
    watched: LocalWorkspace,
    slack: SlackAppClient,
    second_process: tuple[SlackApp, SlackAppClient],
) -> None:
    other, other_slack = second_process
    old = password_of(watched)
    assert other_slack.event(message_event("the second process builds its index")).ok
    other.drain()
    slack.command("/smtp", f"reset {USER} rotating", user_id=BOB, channel_id=OPS)
    watched.drain()
    new = password_of(watched)
    # Minutes later, in a thread the load balancer gives the second process:
    assert other_slack.event(message_event(f"the old one {old} stopped working")).ok
    other.drain()
    assert approvals_alerts(watched) == []  # it is not the current password
    assert watched.sandbox.users[USER].status == "Enable"  # the fresh user is not frozen
    assert other_slack.event(message_event(f"use {new} instead")).ok
    other.drain()
    assert len(approvals_alerts(watched)) == 1  # this one is


def test_each_message_is_not_logged_and_counted_as_a_freeze(
    watched: LocalWorkspace, slack: SlackAppClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sarvbot.requests")
    post_message(slack, watched, "anyone for lunch?")
    lines = [r.getMessage() for r in caplog.records if r.name == "sarvbot.requests"]
    assert not [line for line in lines if "action=freeze" in line], lines


def test_socket_mode_at_debug_logs_no_pasted_password(tmp_path: Path) -> None:
    with LocalWorkspace(f"sqlite:///{tmp_path / 'app.db'}", socket_mode=True) as workspace:
        assert workspace.socket is not None
        workspace.sandbox.add_user(name=USER)
        password = workspace.sandbox.users[USER].password
        policy = write_policy(tmp_path, WATCHING)
        env = {**workspace.environ(), "SARVBOT_POLICY": str(policy), "LOG_LEVEL": "DEBUG"}
        log_file = tmp_path / "socket.log"
        with log_file.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, *SARVBOT, "socket"],
                env=clean_environ(env),
                cwd=tmp_path,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
            try:
                workspace.socket.wait_for_connection(timeout=30)
                body = event_callback_body(
                    message_event(f"SMTP_PASS={password}"),
                    team_id=workspace.slack.team_id,
                    event_id="Ev00000001",
                )
                workspace.socket.deliver("events_api", json.loads(body), connect_timeout=30)
                workspace.slack.wait_for(
                    lambda c: c.method == "chat.postMessage" and c.args["channel"] == APPROVALS,
                    timeout=30,
                )
            finally:
                stop(process)
        leaked = password in log_file.read_text()
        assert not leaked, f"the pasted password is in {log_file}"
