"""Two app processes behind a load balancer share PostgreSQL: an approval runs once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sarvbot.core import RequestState
from sarvbot.standin import ApiCall, ResponsePost
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, CAROL, DEV, LocalWorkspace
from tests.support import Served, app_env, cards_in, race, request_state, serving_many

pytestmark = pytest.mark.postgres


@pytest.fixture
def shared(postgres_url: str, tmp_path: Path) -> Iterator[tuple[LocalWorkspace, list[Served]]]:
    with (
        LocalWorkspace(postgres_url) as workspace,
        serving_many(app_env(workspace, tmp_path), 2, threads=32) as servers,
    ):
        yield workspace, servers


def test_fifty_concurrent_approvals_at_two_processes_run_one_reset(
    shared: tuple[LocalWorkspace, list[Served]],
) -> None:
    workspace, servers = shared
    workspace.sandbox.add_user(name="smtp40001")
    workspace.client().command("/smtp", "reset smtp40001 leaked key", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    (posted,) = cards_in(workspace.slack, APPROVALS)
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
    clients = [server.client(workspace) for server in servers]

    def click(index: int) -> int:
        response = clients[index % 2].click(
            "approve_request",
            user_id=BOB if index % 3 else CAROL,
            message=message,
            channel_id=APPROVALS,
        )
        return response.status_code

    assert race(50, click) == [200] * 50
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
    assert request_state(workspace.database, 1) is RequestState.DONE
