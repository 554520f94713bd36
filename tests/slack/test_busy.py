"""A full queue turns new work away at once: the refusal never waits behind the backlog."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sarvbot.slack import blocks
from sarvbot.slack.work import (
    BUSY,
    HOME_LIMIT,
    QUEUE_ROUNDS,
    QUICK_LIMIT,
    QUICK_WORKERS,
    WorkQueue,
    WorkTracker,
)
from sarvbot.standin import Recorded, SlackAppClient
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, DEV, OPS, LocalWorkspace
from sarvbot.store import ApprovalStore
from tests.support import Captured, noticing

WORKERS = 1


@pytest.fixture
def small(tmp_path: Path) -> Iterator[tuple[LocalWorkspace, SlackAppClient]]:
    """A workspace whose app has one worker thread for Sarv work."""
    workspace = LocalWorkspace(f"sqlite:///{tmp_path / 'sarvbot.db'}", workers=WORKERS).start()
    client = workspace.client()
    try:
        yield workspace, client
    finally:
        client.close()
        # Release the hanging Sarv calls first, so the backlog ends at once.
        workspace.sandbox.stop()
        workspace.stop()


def is_busy(post: object) -> bool:
    return BUSY in str(getattr(post, "body", {}).get("text", ""))


def requested(workspace: LocalWorkspace, slack: SlackAppClient, prefix: str) -> dict[str, Any]:
    """alice asks to reset ``PREFIX1`` (users enough to fill the queue made too): the message."""
    for number in range(1, 2 + QUEUE_ROUNDS * WORKERS):
        workspace.sandbox.add_user(name=f"{prefix}{number}")
    slack.command("/smtp", f"reset {prefix}1 leaked key", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    (posted,) = workspace.slack.calls_to("chat.postMessage")
    return workspace.slack.messages[(APPROVALS, posted.response["ts"])]


def fill_the_queue(workspace: LocalWorkspace, slack: SlackAppClient, prefix: str) -> None:
    """Every reset hangs at Sarv: the first holds the one worker, the rest fill the queue."""
    workspace.sandbox.fail_next("hang", times=100, path="settings/resetSmtpPassword")
    for number in range(2, 2 + QUEUE_ROUNDS * WORKERS):
        assert slack.command("/smtp", f"reset {prefix}{number}", user_id=BOB, channel_id=OPS).ok


def test_busy_answer_to_a_click_does_not_wait_behind_the_backlog(
    small: tuple[LocalWorkspace, SlackAppClient],
) -> None:
    workspace, slack = small
    message = requested(workspace, slack, "smtp6000")
    (request,) = ApprovalStore(workspace.database).pending()
    workspace.slack.clear()

    fill_the_queue(workspace, slack, "smtp6000")

    response = slack.click(
        blocks.ACTION_APPROVE, user_id=BOB, message=message, channel_id=APPROVALS
    )

    assert response.status_code == 200
    workspace.slack.wait_for_post(is_busy, timeout=10)
    # The refusal came while the backlog was still hanging: none of it has answered yet.
    assert [p for p in workspace.slack.posts if not is_busy(p)] == []
    stored = ApprovalStore(workspace.database).get(request.id)
    assert stored is not None
    assert stored.state.value == "pending"


def test_forms_beyond_the_form_pool_bound_are_turned_away_at_once(
    small: tuple[LocalWorkspace, SlackAppClient],
) -> None:
    workspace, slack = small
    opened = threading.Event()
    release = threading.Event()
    lock = threading.Lock()
    hanging = 0

    def hold_views_open(record: Recorded) -> None:
        # Runs on the stand-in's request thread before it answers: views.open hangs.
        nonlocal hanging
        if getattr(record, "method", None) == "views.open":
            with lock:
                hanging += 1
                if hanging == QUICK_WORKERS:
                    opened.set()
            release.wait(30)

    unsubscribe = workspace.slack.subscribe(hold_views_open)
    try:
        for _ in range(QUICK_LIMIT):
            assert slack.command("/smtp", "add", user_id=BOB, channel_id=OPS).ok
        assert opened.wait(10), "the form pool never opened its forms"

        assert slack.command("/smtp", "add", user_id=BOB, channel_id=OPS).ok

        workspace.slack.wait_for_post(is_busy, timeout=10)
        # Turned away while the forms ahead of it were still waiting for Slack.
        assert len(workspace.slack.calls_to("views.open")) == QUICK_WORKERS
        assert len(workspace.slack.posts) == 1
    finally:
        release.set()
        unsubscribe()


def test_replayed_approval_turned_away_while_busy_does_not_say_nothing_was_done(
    small: tuple[LocalWorkspace, SlackAppClient],
) -> None:
    workspace, slack = small
    message = requested(workspace, slack, "smtp6100")
    captured = Captured(slack)
    slack.click(blocks.ACTION_APPROVE, user_id=BOB, message=message, channel_id=APPROVALS)
    workspace.drain()
    assert len(workspace.sandbox.calls_to("settings/resetSmtpPassword")) == 1
    body, headers = captured.last()
    workspace.slack.clear()

    fill_the_queue(workspace, slack, "smtp6100")
    with noticing("a replay turned away") as turned_away:
        # The captured Approve click, sent again while the queue is full.
        replay = requests.post(workspace.app_url, data=body, headers=headers, timeout=10)
        assert replay.status_code == 200
        turned_away.wait(timeout=5)
    # The approval was done: its clicker must not hear that nothing was.
    assert [p for p in workspace.slack.posts if is_busy(p)] == []


def test_home_views_past_their_pool_bound_are_dropped_and_never_hold_up_a_change() -> None:
    tracker = WorkTracker()
    work = WorkQueue(tracker, workers=1, tell=lambda respond, text: None)
    release, changed = threading.Event(), threading.Event()

    def slow_publish() -> None:
        release.wait(30)

    try:
        for _ in range(HOME_LIMIT):
            assert work.publish(slow_publish, "home refresh")
        assert not work.publish(lambda: None, "home refresh"), "a full home pool queued more"

        assert work.submit(None, changed.set, "reset")
        assert changed.wait(10), "the change waited behind the Home tab views"
    finally:
        release.set()
        assert tracker.wait_idle(10)
        work.shutdown()
