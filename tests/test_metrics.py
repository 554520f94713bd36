"""``GET /metrics``: Prometheus's text, summed over gunicorn's workers, never a secret."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from sarvbot.standin.workspace import ALICE, BOB, DEV, OPS, LocalWorkspace
from tests.support import Served, app_env, run_sarvbot, serving, wait_until

Sample = tuple[str, tuple[tuple[str, str], ...]]


@pytest.fixture
def served(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[LocalWorkspace, Served]]:
    """``sarvbot serve`` with two workers; metrics on unless the test's name says off."""
    enabled = "off" not in request.node.name
    with LocalWorkspace(f"sqlite:///{tmp_path / 'app.db'}") as workspace:
        workspace.sandbox.add_user(name="smtp70001")
        env = app_env(workspace, tmp_path, **({"SARVBOT_METRICS": "true"} if enabled else {}))
        with (
            (tmp_path / "serve.log").open("w", encoding="utf-8") as log,
            serving(env, workers=2, threads=4, stderr=log) as server,
        ):
            yield workspace, server


def samples(base: str) -> dict[Sample, float]:
    text = requests.get(f"{base}/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def wait_for_samples(base: str, expected: dict[Sample, float], timeout: float = 10) -> dict:
    """Scrape until the expected samples are there (bounded); returns the last scrape."""
    found: dict[Sample, float] = {}

    def arrived() -> bool:  # samples land in other processes: nothing here to wait on
        nonlocal found
        found = samples(base)
        return all(found.get(key) == value for key, value in expected.items())

    wait_until(arrived, timeout)
    return found


def handled(action: str) -> Sample:
    return (
        "sarvbot_requests_total",
        (("action", action), ("kind", "command"), ("outcome", "ok")),
    )


def test_metrics_count_commands_sarv_calls_deliveries_and_requests(
    served: tuple[LocalWorkspace, Served],
) -> None:
    workspace, server = served
    base = server.base
    client = server.client(workspace)
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


def test_metrics_off_by_default(served: tuple[LocalWorkspace, Served]) -> None:
    _, server = served
    assert requests.get(f"{server.base}/metrics", timeout=10).status_code == 404


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["expire"]])
def test_a_preset_metrics_directory_that_is_missing_is_one_clear_line(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "no-such-dir"
    with LocalWorkspace(f"sqlite:///{tmp_path / 'app.db'}") as workspace:
        env = {
            **workspace.environ(),
            "SARVBOT_METRICS": "true",
            "PROMETHEUS_MULTIPROC_DIR": str(missing),
        }
        result = run_sarvbot(command, env)
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
            env = app_env(workspace, tmp_path, SARVBOT_METRICS="true")
            try:
                with serving(env, stderr=subprocess.DEVNULL) as server:
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
                    answer = requests.get(f"{server.base}/metrics", timeout=30)
            finally:
                with postgres_admin_engine.connect() as connection:
                    connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    finally:
        fresh.close()
    # The counters of the process are what an operator needs most during an outage.
    assert answer.status_code == 200
    names = {family.name for family in text_string_to_metric_families(answer.text)}
    assert "sarvbot_work_queue_depth" in names
    assert "sarvbot_approval_requests" not in names
