"""Two app processes behind a load balancer share PostgreSQL: an approval runs once."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sarvbot.core import RequestState
from sarvbot.standin import ApiCall, ResponsePost, SlackAppClient
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, CAROL, DEMO_POLICY, DEV, LocalWorkspace
from sarvbot.store import ApprovalStore
from tests.support import free_port, serve_argv, wait_healthy

pytestmark = pytest.mark.postgres


@pytest.fixture
def shared(postgres_url: str, tmp_path: Path) -> Iterator[tuple[LocalWorkspace, list[str]]]:
    with LocalWorkspace(postgres_url) as workspace:
        policy = tmp_path / "sarvbot.toml"
        policy.write_text(DEMO_POLICY, encoding="utf-8")
        env = {**os.environ, **workspace.environ(), "SARVBOT_POLICY": str(policy)}
        processes, urls = [], []
        try:
            for _ in range(2):
                port = free_port()
                process = subprocess.Popen(
                    serve_argv(port, threads=32),
                    env=env,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                processes.append(process)
                wait_healthy(process, f"http://127.0.0.1:{port}/healthz")
                urls.append(f"http://127.0.0.1:{port}/slack/events")
            yield workspace, urls
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)


def test_fifty_concurrent_approvals_at_two_processes_run_one_reset(
    shared: tuple[LocalWorkspace, list[str]],
) -> None:
    workspace, urls = shared
    workspace.sandbox.add_user(name="smtp40001")
    workspace.client().command("/smtp", "reset smtp40001 leaked key", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    (posted,) = [
        c for c in workspace.slack.calls_to("chat.postMessage") if c.args["channel"] == APPROVALS
    ]
    message = workspace.slack.messages[(APPROVALS, posted.response["ts"])]

    refusals = 0
    settled = threading.Event()
    lock = threading.Lock()

    def observe(record: ApiCall | ResponsePost) -> None:
        nonlocal refusals
        text = str(record.body.get("text", "")) if isinstance(record, ResponsePost) else ""
        if "Request #1 is already" in text or "decided a moment ago" in text:
            with lock:
                refusals += 1
                if refusals == 49:
                    settled.set()

    workspace.slack.subscribe(observe)
    clients = [SlackAppClient(url, workspace.signing_secret, slack=workspace.slack) for url in urls]
    barrier = threading.Barrier(50)
    statuses: list[int] = []

    def click(index: int) -> None:
        client = clients[index % 2]
        barrier.wait()
        response = client.click(
            "approve_request",
            user_id=BOB if index % 3 else CAROL,
            message=message,
            channel_id=APPROVALS,
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=click, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 50
    workspace.slack.wait_for(
        lambda c: (
            c.method == "chat.postEphemeral"
            and c.args.get("user") == ALICE
            and "smtp40001" in str(c.args.get("blocks"))
            and "Password" in str(c.args.get("blocks"))
        ),
        timeout=30,
    )
    assert settled.wait(timeout=30), f"only {refusals} clicks were refused"
    assert len(workspace.sandbox.calls_to("settings/resetSmtpPassword")) == 1
    request = ApprovalStore(workspace.database).get(1)
    assert request is not None
    assert request.state is RequestState.DONE
