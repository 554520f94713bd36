"""The sarvbot command: clear messages at start, serving through gunicorn, db and expire."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from sarvbot.core import RequestState
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, DEV, OPS, LocalWorkspace
from sarvbot.store import ApprovalStore
from tests.support import (
    GOOD_ENV,
    SARVBOT,
    Served,
    app_env,
    clean_environ,
    free_port,
    run_sarvbot,
    stop,
    wait_healthy,
    write_policy,
)


def test_serve_without_config_lists_every_missing_variable(tmp_path: Path) -> None:
    result = run_sarvbot(["serve"], {}, cwd=tmp_path)
    assert result.returncode == 2
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SARV_OWNER_ID",
        "SARV_TOKEN",
        "SARV_APP_DOMAIN",
    ):
        assert f"{name}: is missing" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("slack_url", "words"),
    [
        pytest.param("http://127.0.0.1:{closed}/api/", "the connection was refused", id="refused"),
        pytest.param(
            "http://sarvbot-no-such-host.invalid/api/",
            "the host name does not resolve (DNS)",
            id="dns",
        ),
        pytest.param("https://127.0.0.1:{plain}/api/", "the TLS handshake failed", id="tls"),
    ],
)
def test_serve_with_slack_unreachable_says_why(tmp_path: Path, slack_url: str, words: str) -> None:
    with LocalWorkspace(f"sqlite:///{tmp_path / 'app.db'}") as workspace:
        plain = workspace.slack.base_url.rsplit(":", 1)[1]  # a server that speaks no TLS
        url = slack_url.format(closed=free_port(), plain=plain)
        env = app_env(workspace, tmp_path, SLACK_API_URL=url)
        result = run_sarvbot(["serve"], env, cwd=tmp_path)
    assert result.returncode == 2
    (line,) = [line for line in result.stderr.splitlines() if "Slack" in line]
    assert line.endswith(f": {words}"), result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_a_bad_policy_names_the_line(tmp_path: Path) -> None:
    policy = write_policy(
        tmp_path, '[channels.C0OPS]\nallow = ["list"]\n\n[channels.dev]\nallow = ["list"]\n'
    )
    result = run_sarvbot(["serve"], {**GOOD_ENV, "SARVBOT_POLICY": str(policy)}, cwd=tmp_path)
    assert result.returncode == 2
    assert f"{policy}:4: channels are given by ID" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_on_a_database_that_is_behind_says_to_upgrade(tmp_path: Path) -> None:
    policy = write_policy(tmp_path)
    env = {**GOOD_ENV, "SARVBOT_POLICY": str(policy), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    result = run_sarvbot(["serve"], env, cwd=tmp_path)
    assert result.returncode == 2
    assert "sarvbot db upgrade" in result.stderr
    upgraded = run_sarvbot(["db", "upgrade"], env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "up to date" in upgraded.stdout
    assert run_sarvbot(["db", "current"], env, cwd=tmp_path).returncode == 0


def test_serve_answers_healthz_and_signed_commands_through_gunicorn(tmp_path: Path) -> None:
    with LocalWorkspace(f"sqlite:///{tmp_path / 'app.db'}") as workspace:
        port = free_port()
        # The port comes from PORT, as a platform gives it, not from --port.
        process = subprocess.Popen(
            [sys.executable, *SARVBOT, "serve", "--host", "127.0.0.1", "--workers", "1"],
            env=clean_environ(app_env(workspace, tmp_path, PORT=str(port))),
            stderr=subprocess.PIPE,
            text=True,
        )
        served = Served(process, f"http://127.0.0.1:{port}")
        try:
            base = served.base
            wait_healthy(process, base + "/healthz")
            health = requests.get(base + "/healthz", timeout=5)
            assert health.json() == {"ok": True}
            # The token was checked at start (auth.test, and bots.info for the app id); the
            # health check itself touches neither Slack nor Sarv.
            assert {c.method for c in workspace.slack.calls} <= {"auth.test", "bots.info"}
            before = len(workspace.slack.calls)
            assert requests.get(base + "/healthz", timeout=5).ok
            assert len(workspace.slack.calls) == before
            assert workspace.sandbox.calls == []
            workspace.sandbox.add_user(name="smtp50001")
            client = served.client(workspace)
            assert (
                client.command(
                    "/smtp", "disable smtp50001", user_id=BOB, channel_id=OPS
                ).status_code
                == 200
            )
            workspace.slack.wait_for(lambda c: c.method == "chat.postMessage", timeout=20)
            assert workspace.sandbox.users["smtp50001"].status == "Disable"
            assert requests.get(base + "/slack/events", timeout=5).status_code == 405
        finally:
            stop(process)


def test_expire_marks_overdue_requests_and_updates_their_message(tmp_path: Path) -> None:
    with LocalWorkspace(f"sqlite:///{tmp_path / 'app.db'}") as workspace:
        workspace.sandbox.add_user(name="smtp50002")
        workspace.client().command("/smtp", "reset smtp50002 leaked", user_id=ALICE, channel_id=DEV)
        workspace.drain()
        store = ApprovalStore(workspace.database)
        request = store.get(1)
        assert request is not None
        # Make it overdue as a day passing would.
        with workspace.database.session() as session:
            session.execute(
                text("UPDATE approval_requests SET expires_at = :t WHERE id = 1"),
                {"t": datetime.now(UTC) - timedelta(minutes=1)},
            )
        result = run_sarvbot(["expire"], app_env(workspace, tmp_path), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "request #1: expired" in result.stdout
        expired = store.get(1)
        assert expired is not None
        assert expired.state is RequestState.EXPIRED
        message = workspace.slack.messages[(APPROVALS, expired.message_ts or "")]
        assert "Expired" in str(message["blocks"])
        assert "approve_request" not in str(message["blocks"])


def test_socket_mode_needs_an_app_token(tmp_path: Path) -> None:
    result = run_sarvbot(["socket"], GOOD_ENV, cwd=tmp_path)
    assert result.returncode == 2
    assert "Socket Mode needs SLACK_APP_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_a_token_slack_refuses_says_so(tmp_path: Path) -> None:
    with LocalWorkspace(f"sqlite:///{tmp_path / 'app.db'}") as workspace:
        env = app_env(workspace, tmp_path, SLACK_BOT_TOKEN="xoxb-revoked")
        result = run_sarvbot(["serve"], env, cwd=tmp_path)
    assert result.returncode == 2
    assert "Slack did not accept SLACK_BOT_TOKEN: invalid_auth" in result.stderr
    assert "xoxb-revoked" not in result.stderr
    assert "Traceback" not in result.stderr


def test_socket_mode_refused_by_slack_says_so(tmp_path: Path) -> None:
    with LocalWorkspace(f"sqlite:///{tmp_path / 'app.db'}") as workspace:
        env = app_env(workspace, tmp_path, SLACK_APP_TOKEN="xapp-1-not-enabled")
        result = run_sarvbot(["socket"], env, cwd=tmp_path)
        opened = workspace.slack.calls_to("apps.connections.open")
    assert result.returncode == 2
    assert "Slack refused the Socket Mode connection:" in result.stderr
    assert "xapp-1-not-enabled" not in result.stderr
    assert "Traceback" not in result.stderr
    assert len(opened) == 1


def test_version(tmp_path: Path) -> None:
    result = run_sarvbot(["--version"], {}, cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == "sarvbot 0.1.0"


def test_db_upgrade_names_its_migrations_and_nothing_else_of_alembic(tmp_path: Path) -> None:
    result = run_sarvbot(
        ["db", "upgrade"], {"DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "Running upgrade  -> 0001" in result.stderr
    assert "setup plugin" not in result.stderr


def test_db_commands_and_the_audit_export_need_only_database_url(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'only.db'}"}
    upgraded = run_sarvbot(["db", "upgrade"], env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    current = run_sarvbot(["db", "current"], env, cwd=tmp_path)
    assert current.returncode == 0, current.stderr
    assert current.stdout.startswith(f"sqlite:///{tmp_path / 'only.db'}: revision ")
    assert current.stdout.rstrip().endswith("up to date")
    exported = run_sarvbot(["audit", "export"], env, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == ""


def test_db_upgrade_takes_database_url_from_dotenv_as_serve_does(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DATABASE_URL=sqlite:///{tmp_path / 'from-dotenv.db'}\n")
    result = run_sarvbot(["db", "upgrade"], {}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "from-dotenv.db: revision" in result.stdout
    assert (tmp_path / "from-dotenv.db").exists()
    assert not (tmp_path / "sarvbot.db").exists()


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("PORT", "http-3000", "PORT: must be a whole number"),
        ("PORT", "65536", "PORT: must be at most 65535"),
        ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY: must be at least 1"),
        ("WEB_CONCURRENCY", "four", "WEB_CONCURRENCY: must be a whole number"),
    ],
)
def test_serve_with_a_bad_port_or_web_concurrency_says_so_in_one_line(
    tmp_path: Path, name: str, value: str, problem: str
) -> None:
    policy = write_policy(tmp_path)
    result = run_sarvbot(
        ["serve"], {**GOOD_ENV, "SARVBOT_POLICY": str(policy), name: value}, cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "sarvbot serve: the configuration has problems:",
        f"  {problem}",
    ]


# Runs main() with the mapping given as the first argument, the command after it.
_GIVEN_MAPPING = [
    "-c",
    "import json, sys; from sarvbot.cli import main; "
    "sys.exit(main(sys.argv[2:], json.loads(sys.argv[1])))",
]


def test_main_takes_its_settings_from_the_mapping_it_is_given(tmp_path: Path) -> None:
    given = {"DATABASE_URL": f"sqlite:///{tmp_path / 'given.db'}"}
    result = run_sarvbot(
        [json.dumps(given), "db", "upgrade"],
        {"DATABASE_URL": "mysql://not/this/one"},
        cwd=tmp_path,
        python=_GIVEN_MAPPING,
    )
    assert result.returncode == 0, result.stderr
    assert "given.db: revision" in result.stdout
    # --port and --workers stand in for PORT and WEB_CONCURRENCY, which are then unread.
    given = {"PORT": "http", "WEB_CONCURRENCY": "none"}
    argv = ["serve", "--port", "3000", "--workers", "1"]
    result = run_sarvbot([json.dumps(given), *argv], cwd=tmp_path, python=_GIVEN_MAPPING)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN: is missing" in result.stderr
    assert "PORT" not in result.stderr
    assert "WEB_CONCURRENCY" not in result.stderr


# Counts how often each variable is read from os.environ while main() runs.
_COUNTING_READS = """
import collections, json, os, sys
from collections.abc import MutableMapping

reads = collections.Counter()

class Counted(MutableMapping):
    def __init__(self, real):
        self._real = real
    def __getitem__(self, key):
        reads[key] += 1
        return self._real[key]
    def __setitem__(self, key, value):
        self._real[key] = value
    def __delitem__(self, key):
        del self._real[key]
    def __iter__(self):
        return iter(self._real)
    def __len__(self):
        return len(self._real)
    def copy(self):
        return dict(self._real)

os.environ = Counted(os.environ)
from sarvbot.cli import main
status = main(sys.argv[1:])
print(json.dumps(reads), file=sys.stderr)
sys.exit(status)
"""


def test_main_reads_the_environment_once(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}", "LOG_LEVEL": "WARNING"}
    for command in (["db", "upgrade"], ["audit", "export"]):
        result = run_sarvbot(["-c", _COUNTING_READS, *command], env, cwd=tmp_path, python=())
        assert result.returncode == 0, result.stderr
        reads = json.loads(result.stderr.splitlines()[-1])
        assert reads["DATABASE_URL"] == 1, command
        assert reads["LOG_LEVEL"] == 1, command
