"""The front door: what reaches Bolt, what runs once, what is logged, what holds a thread."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import requests

from sarvbot.front_door import MAX_BODY_BYTES
from sarvbot.standin import ApiCall, sign
from sarvbot.standin.workspace import BOB, OPS, LocalWorkspace
from tests.support import app_env, race, serving, serving_many, smtp_command_body

from .conftest import Witness, log_text

NAME = "smtp50001"
MARKER = "zq-body-marker-7731"


def reset_body(witness_or_workspace: Witness | LocalWorkspace) -> str:
    """bob's ``/smtp reset`` in #ops, as Slack would send it."""
    workspace = (
        witness_or_workspace.workspace
        if isinstance(witness_or_workspace, Witness)
        else witness_or_workspace
    )
    if NAME not in {u.name for u in workspace.sandbox.users.values()}:
        workspace.sandbox.add_user(name=NAME)
    return smtp_command_body(workspace.slack, f"reset {NAME}")


def post(url: str, body: bytes | str, headers: dict[str, str]) -> requests.Response:
    data = body.encode() if isinstance(body, str) else body
    return requests.post(url, data=data, headers=headers, timeout=10)


def sign_bytes(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Slack's signature over raw bytes (for bodies that are not text)."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), b"v0:%d:" % ts + body, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def resets(workspace: LocalWorkspace) -> int:
    return len(workspace.sandbox.calls_to("settings/resetSmtpPassword"))


# Item 4: replays


def test_replayed_command_runs_once(witness: Witness) -> None:
    body = reset_body(witness)
    headers = sign(witness.workspace.signing_secret, body)
    first = post(witness.workspace.app_url, body, headers)
    witness.workspace.drain()
    again = post(witness.workspace.app_url, body, headers)
    witness.workspace.drain()
    assert first.status_code == 200
    assert (again.status_code, again.text) == (200, "")
    assert resets(witness.workspace) == 1


def test_slack_retry_of_a_command_runs_once(witness: Witness) -> None:
    body = reset_body(witness)
    headers = sign(witness.workspace.signing_secret, body)
    post(witness.workspace.app_url, body, headers)
    retry = {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    again = post(witness.workspace.app_url, body, retry)
    witness.workspace.drain()
    assert (again.status_code, again.text) == (200, "")
    assert resets(witness.workspace) == 1


def test_slack_retry_of_an_event_runs_its_work_once(witness: Witness) -> None:
    app = witness.workspace.app
    assert app is not None
    runs: list[str] = []

    # sarvbot subscribes to no event yet: this listener queues work as one would.
    @app.bolt.event("app_mention")
    def on_mention(ack: Any, event: dict[str, Any]) -> None:
        ack()
        app.context.work.submit(None, lambda: runs.append(str(event["text"])), "mention")

    event = {
        "type": "event_callback",
        "team_id": "T0SARV",
        "api_app_id": "A0SARVBOT",
        "event_id": "Ev0RETRIED",
        "event_time": int(time.time()),
        "event": {"type": "app_mention", "user": BOB, "text": "hi", "channel": OPS},
    }
    body = json.dumps(event)
    secret = witness.workspace.signing_secret
    headers = {**sign(secret, body), "Content-Type": "application/json"}
    first = post(witness.workspace.app_url, body, headers)
    # Slack's retry is signed anew (a later timestamp) but carries the same event_id.
    retry = {
        **sign(secret, body, int(time.time()) + 1),
        "Content-Type": "application/json",
        "X-Slack-Retry-Num": "1",
        "X-Slack-Retry-Reason": "http_timeout",
    }
    again = post(witness.workspace.app_url, body, retry)
    witness.workspace.drain()
    # Both are acknowledged, so Slack stops retrying; the work runs once.
    assert (first.status_code, again.status_code) == (200, 200)
    assert runs == ["hi"]


@pytest.fixture
def two_processes(postgres_url: str, tmp_path: Path) -> Iterator[tuple[LocalWorkspace, list[str]]]:
    """Two ``sarvbot serve`` processes on one PostgreSQL database, as behind a balancer."""
    with (
        LocalWorkspace(postgres_url) as workspace,
        serving_many(app_env(workspace, tmp_path), 2) as servers,
    ):
        yield workspace, [server.events_url for server in servers]


@pytest.mark.postgres
def test_replay_to_the_other_process_runs_once(
    two_processes: tuple[LocalWorkspace, list[str]],
) -> None:
    workspace, urls = two_processes
    body = reset_body(workspace)
    headers = sign(workspace.signing_secret, body)
    answers = race(len(urls), lambda index: post(urls[index], body, headers), timeout=20)
    assert [a.status_code for a in answers] == [200, 200]

    def password(call: ApiCall) -> bool:
        return call.method == "chat.postEphemeral" and "Password" in str(call.args.get("blocks"))

    first = workspace.slack.wait_for(password, timeout=20)
    # Had the other process run the replay too, its password would follow within moments;
    # a second one never arriving cannot be awaited, so the wait is bounded.
    with pytest.raises(AssertionError, match="no matching Slack API call"):
        workspace.slack.wait_for(lambda c: password(c) and c is not first, timeout=3)
    assert resets(workspace) == 1


# Item 10: body size and logging


def test_oversized_body_gets_413_before_it_is_read(witness: Witness) -> None:
    url = urlsplit(witness.workspace.app_url)
    assert url.port is not None
    head = (
        f"POST {url.path} HTTP/1.1\r\nHost: {url.hostname}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {100 * 1024 * 1024}\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname or "", url.port), timeout=5) as sock:
        # 100 MiB announced, 1 KiB sent: the answer can only come if nothing waits for
        # the rest.
        sock.sendall(head + b"a=" + b"x" * 1024)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413") or answer.startswith(b"HTTP/1.0 413"), answer
    assert witness.workspace.sandbox.calls == []


def test_body_just_over_the_cap_gets_413_and_one_under_it_is_read(witness: Witness) -> None:
    url = witness.workspace.app_url
    over = b"a=" + b"x" * (MAX_BODY_BYTES - 1)
    under = b"a=" + b"x" * (MAX_BODY_BYTES - 2)
    secret = witness.workspace.signing_secret
    assert post(url, over, sign_bytes(secret, over)).status_code == 413
    assert post(url, under, sign_bytes(secret, under)).status_code != 413


def test_chunked_body_is_refused_unread(witness: Witness) -> None:
    body = reset_body(witness)
    headers = sign(witness.workspace.signing_secret, body)
    response = requests.post(
        witness.workspace.app_url, data=iter([body.encode()]), headers=headers, timeout=10
    )
    assert response.status_code == 411
    assert resets(witness.workspace) == 0


def test_no_body_is_ever_logged(witness: Witness, caplog: pytest.LogCaptureFixture) -> None:
    url = witness.workspace.app_url
    secret = witness.workspace.signing_secret
    unsigned = urlencode({"command": "/smtp", "text": MARKER, "response_url": MARKER})
    post(url, unsigned, {"Content-Type": "application/x-www-form-urlencoded"})
    # A genuine body signed by a sender whose clock drifted: Bolt logged it in full.
    drifted = reset_body(witness).replace("reset", MARKER)
    post(url, drifted, sign(secret, drifted, int(time.time()) - 400))
    # Signed, but of a kind nothing handles: Bolt logged the parts it picked out.
    unhandled = urlencode(
        {"payload": json.dumps({"type": "shortcut", "callback_id": MARKER, "team": {}})}
    )
    post(url, unhandled, sign(secret, unhandled))
    witness.workspace.drain()
    assert caplog.records, "nothing was logged at all: the capture is broken"
    assert MARKER not in log_text(caplog.records)
    assert witness.fake.new_response_url() not in log_text(caplog.records)


def test_forged_log_line_in_unsigned_body(
    witness: Witness, caplog: pytest.LogCaptureFixture
) -> None:
    forged = "2026-01-01 00:00:00 CRITICAL sarvbot.audit approved by admin"
    body = f"text=hello\n{forged}\nrest=1"
    response = post(witness.workspace.app_url, body, {"Content-Type": "text/plain"})
    assert response.status_code == 401
    assert "approved by admin" not in log_text(caplog.records)
    assert all("\n" not in r.getMessage() for r in caplog.records if r.name.startswith("sarvbot"))


# Item 11: garbage


def _nested_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


GARBAGE = [
    pytest.param(b"\xff\xfe\x00not utf-8 \xc3\x28", "application/x-www-form-urlencoded", id="utf8"),
    pytest.param(b"{not json", "application/json", id="bad-json"),
    pytest.param(b"[1, 2, 3]", "application/json", id="json-list"),
    pytest.param(b'"just a string"', "application/json", id="json-string"),
    pytest.param(b"payload=%5B1%2C2%5D", "application/x-www-form-urlencoded", id="payload-list"),
    pytest.param(b"payload=%7Bnope", "application/x-www-form-urlencoded", id="payload-bad-json"),
    pytest.param(_nested_object(100).encode(), "application/json", id="nested-100"),
    pytest.param(_nested_object(10_000).encode(), "application/json", id="nested-10000"),
    pytest.param(b"[" * 30_000 + b"]" * 30_000, "application/json", id="list-nested-30000"),
]


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
@pytest.mark.parametrize(("body", "content_type"), GARBAGE)
def test_garbage_bodies_get_400_or_401(
    witness: Witness,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
    signed: bool,
) -> None:
    headers = {"Content-Type": content_type}
    if signed:
        headers = {**sign_bytes(witness.workspace.signing_secret, body), **headers}
    response = post(witness.workspace.app_url, body, headers)
    # A body that is not text cannot be Slack's, signed or not; other garbage is judged
    # only once signed.
    not_text = body.startswith(b"\xff")
    expected = 400 if signed or not_text else 401
    assert response.status_code == expected
    assert "Traceback" not in log_text(caplog.records)
    assert not any(r.exc_info for r in caplog.records)
    assert witness.workspace.sandbox.calls == []


def test_nested_200000_deep_gets_a_4xx_without_traceback(
    witness: Witness, caplog: pytest.LogCaptureFixture
) -> None:
    body = _nested_object(200_000).encode()
    headers = {**sign_bytes(witness.workspace.signing_secret, body)}
    headers["Content-Type"] = "application/json"
    response = post(witness.workspace.app_url, body, headers)
    assert response.status_code in (400, 401, 413)
    assert not any(r.exc_info for r in caplog.records)


# Item 12: slow clients


class Drippers:
    """Connections that send a request one byte at a time, for as long as they are kept."""

    def __init__(self, port: int, heads: list[bytes]) -> None:
        self.sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in heads]
        self.pending = [bytearray(h) for h in heads]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, daemon=True)

    def __enter__(self) -> Drippers:
        for sock, pending in zip(self.sockets, self.pending, strict=True):
            sock.sendall(bytes(pending[:1]))
            del pending[:1]
        self._thread.start()
        return self

    def _drip(self) -> None:
        deadline = time.monotonic() + 60  # bounded, whatever the test does
        while not self._stop.wait(0.2) and time.monotonic() < deadline:
            for sock, pending in zip(self.sockets, self.pending, strict=True):
                if len(pending) > 1:  # never the last byte: the request never completes
                    try:
                        sock.sendall(bytes(pending[:1]))
                    except OSError:
                        continue
                    del pending[:1]

    def still_open(self) -> int:
        """How many of the connections the server has not closed."""
        count = 0
        for sock in self.sockets:
            sock.setblocking(False)
            try:
                count += sock.recv(1, socket.MSG_PEEK) != b""
            except BlockingIOError:
                count += 1
            except OSError:
                pass
            finally:
                sock.setblocking(True)
        return count

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


def test_dripping_clients_do_not_starve_healthz_or_slack(tmp_path: Path) -> None:
    threads = 4
    with (
        LocalWorkspace(f"sqlite:///{tmp_path / 'sarvbot.db'}") as workspace,
        serving(app_env(workspace, tmp_path), threads=threads) as server,
    ):
        port = int(server.base.rsplit(":", 1)[1])
        header_drip = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"p" * 400
        body_drip = (
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 400\r\n\r\n" + b"a" * 400
        )
        heads = [header_drip] * threads + [body_drip] * threads
        with Drippers(port, heads) as drippers:
            time.sleep(1.0)  # let every dripper send a few bytes: nothing to await
            assert drippers.still_open() == len(heads)
            started = time.monotonic()
            health = requests.get(server.base + "/healthz", timeout=2)
            slack = server.client(workspace)
            slack.session.headers["Connection"] = "close"
            answer = slack.command("/smtp", "help", user_id=BOB, channel_id=OPS)
            elapsed = time.monotonic() - started
            assert drippers.still_open() == len(heads)
        assert health.status_code == 200
        assert answer.status_code == 200
        assert elapsed < 2.0
