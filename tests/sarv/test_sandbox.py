"""The sandbox on its own: bad input, persistence, concurrency, and its command."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from sarvbot.sandbox import Sandbox
from sarvbot.sarv import SarvClient
from tests.support import SARVBOT, clean_environ, free_port, race, run_sarvbot, stop

from .conftest import OWNER_ID, TOKEN


def _post(sandbox: Sandbox, path: str, body: bytes, **headers: str) -> requests.Response:
    return requests.post(sandbox.url + path, data=body, headers=headers, timeout=5)


def _auth(**params: object) -> bytes:
    return json.dumps({"owner_id": OWNER_ID, "token": TOKEN, **params}).encode()


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("settings/addSmtp", b"not json", 400, "the body must be a JSON object"),
        ("settings/addSmtp", b"[]", 400, "the body must be a JSON object"),
        ("settings/addSmtp", b'{"token": "x"}', 400, "owner_id is required"),
        ("settings/addSmtp", _auth(total_limit=5), 400, "hourly_limit is required"),
        ("settings/addSmtp", _auth(total_limit="5", hourly_limit=1), 400, "positive integer"),
        ("settings/addSmtp", _auth(total_limit=True, hourly_limit=1), 400, "positive integer"),
        ("settings/addSmtp", _auth(total_limit=0, hourly_limit=1), 400, "positive integer"),
        ("settings/editSmtp", _auth(), 400, "smtp_user_name is required"),
        ("settings/editSmtp", _auth(smtp_user_name="smtp1"), 400, "smtp1 not found"),
        ("settings/nope", _auth(), 404, "unknown call settings/nope"),
    ],
)
def test_bad_requests_get_documented_error_bodies(
    sandbox: Sandbox, path: str, body: bytes, status: int, message: str
) -> None:
    response = _post(sandbox, path, body, **{"Content-Type": "application/json"})
    assert response.status_code == status
    payload = response.json()
    assert payload["status"] == "error"
    assert payload["code"] == -1
    assert payload["name"] == "ValidationError"
    assert message in payload["message"]
    assert sandbox.users == {}


def test_bad_status_on_edit(sandbox: Sandbox) -> None:
    user = sandbox.add_user()
    body = _auth(smtp_user_name=user.name, status="enabled")
    assert _post(sandbox, "settings/editSmtp", body).json()["name"] == "ValidationError"
    assert sandbox.users[user.name].status == "Enable"


def test_huge_body_is_refused_with_a_body(sandbox: Sandbox) -> None:
    response = _post(sandbox, "settings/addSmtp", b"x" * (1024 * 1024))
    assert response.status_code == 413
    assert "request body over" in response.json()["message"]


def test_get_is_refused(sandbox: Sandbox) -> None:
    response = requests.get(sandbox.url + "settings/listSmtp", timeout=5)
    assert response.status_code == 405
    assert response.json()["name"] == "ValidationError"


def test_concurrent_adds_get_distinct_users(sandbox: Sandbox) -> None:
    def add(_: int) -> str:
        with SarvClient(OWNER_ID, TOKEN, base_url=sandbox.url) as client:
            return client.add_user(10, 1).name

    names = race(20, add)
    assert len(set(names)) == 20
    assert set(sandbox.users) == set(names)


def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "sarv.json"
    first = Sandbox(OWNER_ID, TOKEN, state_file=state).start()
    try:
        with SarvClient(OWNER_ID, TOKEN, base_url=first.url) as client:
            created = client.add_user(70, 7)
            client.edit_user(created.name, status="Disable")
    finally:
        first.stop()
    assert oct(state.stat().st_mode & 0o777) == "0o600"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".sandbox-")]
    with Sandbox(OWNER_ID, TOKEN, state_file=state) as second:
        user = second.users[created.name]
    assert (user.total_limit, user.hourly_limit, user.status) == (70, 7, "Disable")
    assert user.password == created.password.reveal()


def test_unreadable_state_file_is_a_clear_error(tmp_path: Path) -> None:
    state = tmp_path / "sarv.json"
    state.write_text("{broken", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot read the sandbox state"):
        Sandbox(OWNER_ID, TOKEN, state_file=state)


def test_stop_releases_a_hanging_call(sandbox: Sandbox) -> None:
    sandbox.fail_next("hang")
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=10) as conn:
        body = _auth()
        conn.sendall(
            b"POST /v1.0/settings/listSmtp HTTP/1.1\r\nHost: x\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        sandbox.stop()
        try:
            answer = conn.recv(100)
        except ConnectionResetError:
            answer = b""
        assert answer == b""


def test_command_serves_with_env_credentials(tmp_path: Path) -> None:
    port = free_port()
    env = clean_environ({"SARV_OWNER_ID": OWNER_ID, "SARV_TOKEN": TOKEN})
    process = subprocess.Popen(
        [sys.executable, *SARVBOT, "sandbox", "--port", str(port), "--seed-users", "3"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"SARV_API_URL=http://127.0.0.1:{port}/v1.0/" in line
        with SarvClient(OWNER_ID, TOKEN, base_url=f"http://127.0.0.1:{port}/v1.0/") as client:
            assert len(client.list_users()) == 3
    finally:
        stop(process, timeout=10)


def test_command_without_credentials_says_what_to_set() -> None:
    result = run_sarvbot(["sandbox"], timeout=30)
    assert result.returncode == 2
    assert "set SARV_OWNER_ID and SARV_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr
