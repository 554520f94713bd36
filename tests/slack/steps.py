"""What the workflow step tests share: a step's inputs and delivery, its completions, and a
``sarvbot serve`` killed while it holds a step.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from sarvbot.standin import FunctionExecution, SlackAppClient, user_context
from sarvbot.standin.workspace import BOB, OPS, LocalWorkspace
from tests.support import app_env, serving

COMPLETIONS = ("functions.completeSuccess", "functions.completeError")


def create_inputs(requester: str = BOB, channel: str = OPS, **given: Any) -> dict[str, Any]:
    """The create step's inputs: 1000 in all and 50 an hour unless ``given`` says otherwise."""
    return {
        "channel": channel,
        "requester": user_context(requester),
        "total_limit": 1000,
        "hourly_limit": 50,
        **given,
    }


def deliver(
    client: SlackAppClient,
    callback_id: str,
    inputs: Any,
    execution: FunctionExecution,
    *,
    event_id: str | None = None,
) -> requests.Response:
    """Send ``execution`` of step ``callback_id`` as a signed function_executed event."""
    return client.function_executed(
        callback_id,
        inputs,
        function_execution_id=execution.id,
        bot_access_token=execution.bot_access_token,
        event_id=event_id,
    )


def completions(workspace: LocalWorkspace) -> list[str]:
    """The functions.complete* calls made, in order."""
    return [c.method for c in workspace.slack.calls if c.method in COMPLETIONS]


@contextmanager
def killed_after(workspace: LocalWorkspace, folder: Path) -> Iterator[SlackAppClient]:
    """A client of a real ``sarvbot serve`` with one worker thread, killed (SIGKILL) at the
    end of the block whatever it did.
    """
    env = app_env(workspace, folder, SARVBOT_WORKERS="1")
    with serving(env, start_new_session=True) as server:
        client = server.client(workspace)
        try:
            yield client
        finally:
            client.close()
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)


def recover_at(workspace: LocalWorkspace, later: datetime) -> None:
    """What a live process does at ``later``: report lost work and run the due jobs."""
    assert workspace.app is not None
    workspace.app.report_lost_work(now=later)
    workspace.app.scheduler.run_due(now=later)
    workspace.drain()
