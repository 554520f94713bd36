"""What sarvbot logs: one line per handled request, audit events, JSON on demand, no secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sarvbot.standin.workspace import BOB, OPS, LocalWorkspace
from tests.support import app_env, serving


def serve_and_reset(tmp_path: Path, **log_env: str) -> tuple[str, list[str]]:
    """Run ``sarvbot serve``, reset a password through it, stop it; its stderr and secrets."""
    with LocalWorkspace(f"sqlite:///{tmp_path / 'app.db'}") as workspace:
        workspace.sandbox.add_user(name="smtp60001")
        env = app_env(workspace, tmp_path, **log_env)
        with (tmp_path / "serve.log").open("w+", encoding="utf-8") as log:
            with serving(env, stderr=log) as server:
                client = server.client(workspace)
                client.command("/smtp", "reset smtp60001", user_id=BOB, channel_id=OPS)
                workspace.slack.wait_for(
                    lambda call: call.method == "chat.postEphemeral" and call.args["user"] == BOB,
                    timeout=10,
                )
                client.close()
            log.seek(0)
            output = log.read()
        secrets = [
            workspace.bot_token,
            workspace.signing_secret,
            workspace.sarv_token,
            workspace.sandbox.users["smtp60001"].password,
        ]
        return output, secrets


def test_json_logs_are_one_object_per_line_with_each_request_and_audit_row(
    tmp_path: Path,
) -> None:
    output, secrets = serve_and_reset(tmp_path, LOG_FORMAT="json", LOG_LEVEL="info")
    lines = [line for line in output.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line, gunicorn's too
    assert any(r["logger"].startswith("gunicorn") for r in records)
    (handled,) = [r for r in records if r["logger"] == "sarvbot.requests"]
    assert {k: handled[k] for k in ("kind", "action", "user", "channel", "target", "outcome")} == {
        "kind": "command",
        "action": "reset",
        "user": BOB,
        "channel": OPS,
        "target": "smtp60001",
        "outcome": "ok",
    }
    assert isinstance(handled["duration_ms"], int)
    assert handled["request_id"]
    audit = [(r["action"], r["outcome"]) for r in records if r["logger"] == "sarvbot.audit"]
    assert audit == [("reset", "started"), ("reset", "done"), ("reset", "delivered")]
    for secret in secrets:
        assert secret not in output


@pytest.mark.parametrize("level", ["WARNING", "warning"])
def test_log_level_hides_the_info_lines(tmp_path: Path, level: str) -> None:
    output, secrets = serve_and_reset(tmp_path, LOG_LEVEL=level)
    assert "sarvbot.requests" not in output
    assert "sarvbot.audit" not in output
    for secret in secrets:
        assert secret not in output


def test_text_logs_carry_the_request_line(tmp_path: Path) -> None:
    output, secrets = serve_and_reset(tmp_path)
    (line,) = [line for line in output.splitlines() if "sarvbot.requests" in line]
    assert f"kind=command action=reset user={BOB} channel={OPS} target=smtp60001" in line
    assert "outcome=ok" in line
    for secret in secrets:
        assert secret not in output


def test_debug_logs_carry_no_response_url(tmp_path: Path) -> None:
    """A response_url lets anyone post into the channel for half an hour: never logged."""
    output, secrets = serve_and_reset(tmp_path, LOG_LEVEL="DEBUG")
    assert "DEBUG" in output
    assert "/response/" not in output
    for secret in secrets:
        assert secret not in output
