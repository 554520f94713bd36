"""``GET /metrics``: Prometheus's text, summed over gunicorn's workers, never a secret."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import ALICE, BOB, DEMO_POLICY, DEV, OPS, LocalWorkspace
from tests.support import free_port, serve_argv, wait_healthy

Sample = tuple[str, tuple[tuple[str, str], ...]]


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[LocalWorkspace, str]]:
    """``sarvbot serve`` with two workers; metrics on unless the test's name says off."""
    enabled = "off" not in request.node.name
    with LocalWorkspace(f"sqlite:///{tmp_path / 'app.db'}") as workspace:
        workspace.sandbox.add_user(name="smtp70001")
        policy = tmp_path / "sarvbot.toml"
        policy.write_text(DEMO_POLICY, encoding="utf-8")
        env = {**os.environ, **workspace.environ(), "SARVBOT_POLICY": str(policy)}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        if enabled:
            env["SARVBOT_METRICS"] = "true"
        port = free_port()
        with (tmp_path / "serve.log").open("w", encoding="utf-8") as log:
            process = subprocess.Popen(
                serve_argv(port, workers=2, threads=4), env=env, stderr=log, text=True
            )
            try:
                wait_healthy(process, f"http://127.0.0.1:{port}/healthz")
                yield workspace, f"http://127.0.0.1:{port}"
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)


def samples(base: str) -> dict[Sample, float]:
    text = requests.get(f"{base}/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def wait_for_samples(base: str, expected: dict[Sample, float], timeout: float = 10) -> dict:
    """Scrape until the expected samples are there (bounded); returns the last scrape."""
    deadline = time.monotonic() + timeout
    while True:
        found = samples(base)
        if all(found.get(key) == value for key, value in expected.items()):
            return found
        if time.monotonic() > deadline:
            return found
        time.sleep(0.05)  # samples land in other processes: nothing here to wait on


def handled(action: str) -> Sample:
    return (
        "sarvbot_requests_total",
        (("action", action), ("kind", "command"), ("outcome", "ok")),
    )


def test_metrics_count_commands_sarv_calls_deliveries_and_requests(
    served: tuple[LocalWorkspace, str],
) -> None:
    workspace, base = served
    client = SlackAppClient(f"{base}/slack/events", workspace.signing_secret, slack=workspace.slack)
    # Enough commands that both workers (behind one port) most likely answer some.
    for _ in range(6):
        client.command("/smtp", "list", user_id=BOB, channel_id=OPS)
    client.command("/smtp", "reset smtp70001", user_id=BOB, channel_id=OPS)
    client.command("/smtp", "disable smtp70001 a reason", user_id=ALICE, channel_id=DEV)
    client.close()
    expected: dict[Sample, float] = {
        handled("list"): 6,
        handled("reset"): 1,
        ("sarvbot_password_deliveries_total", (("outcome", "delivered"),)): 1,
        ("sarvbot_sarv_call_seconds_count", (("call", "resetSmtpPassword"), ("outcome", "ok"))): 1,
        ("sarvbot_approval_requests", (("state", "pending"),)): 1,
    }
    # Each count is summed over both workers, whichever answers the scrape; a job counts
    # itself just after its last answer to Slack, so a scrape may come a moment early.
    found = wait_for_samples(base, expected)
    assert {key: found.get(key) for key in expected} == expected
    text = requests.get(f"{base}/metrics", timeout=10).text
    for secret in (workspace.bot_token, workspace.signing_secret, workspace.sarv_token):
        assert secret not in text
    assert workspace.sandbox.users["smtp70001"].password not in text


def test_metrics_off_by_default(served: tuple[LocalWorkspace, str]) -> None:
    _, base = served
    assert requests.get(f"{base}/metrics", timeout=10).status_code == 404


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["expire"]])
def test_a_preset_metrics_directory_that_is_missing_is_one_clear_line(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "no-such-dir"
    with LocalWorkspace(f"sqlite:///{tmp_path / 'app.db'}") as workspace:
        env = {
            **os.environ,
            **workspace.environ(),
            "SARVBOT_METRICS": "true",
            "PROMETHEUS_MULTIPROC_DIR": str(missing),
        }
        result = subprocess.run(
            [*serve_argv(0)[:3], *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert "PROMETHEUS_MULTIPROC_DIR" in line
    assert str(missing) in line


@pytest.mark.postgres
def test_metrics_still_answer_when_the_database_is_down(
    tmp_path: Path, postgres_admin_engine: object
) -> None:
    from sqlalchemy import Engine, text

    from tests.db_fixtures import _fresh_postgres_database

    assert isinstance(postgres_admin_engine, Engine)
    fresh = _fresh_postgres_database(postgres_admin_engine)
    url = next(fresh)
    name = url.rsplit("/", 1)[-1]
    try:
        with LocalWorkspace(url) as workspace:
            policy = tmp_path / "sarvbot.toml"
            policy.write_text(DEMO_POLICY, encoding="utf-8")
            env = {**os.environ, **workspace.environ(), "SARVBOT_POLICY": str(policy)}
            env.pop("PROMETHEUS_MULTIPROC_DIR", None)
            env["SARVBOT_METRICS"] = "true"
            port = free_port()
            process = subprocess.Popen(
                serve_argv(port, threads=4), env=env, stderr=subprocess.DEVNULL, text=True
            )
            try:
                wait_healthy(process, f"http://127.0.0.1:{port}/healthz")
                workspace.database.dispose()
                with postgres_admin_engine.connect() as connection:
                    connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
                    connection.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE datname = :name"
                        ),
                        {"name": name},
                    )
                answer = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=30)
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
                with postgres_admin_engine.connect() as connection:
                    connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    finally:
        fresh.close()
    # The counters of the process are what an operator needs most during an outage.
    assert answer.status_code == 200
    names = {family.name for family in text_string_to_metric_families(answer.text)}
    assert "sarvbot_work_queue_depth" in names
    assert "sarvbot_approval_requests" not in names
