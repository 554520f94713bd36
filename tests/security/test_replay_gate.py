"""The replay gate holds when the database is slow, and a replay's refusal says nothing false.

Each test captures a genuine signed request as Slack sent it and posts the very same bytes
and headers again, as an attacker who saw it (or a proxy that repeats it) would.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from sarvbot.slack import blocks
from sarvbot.standin import sign
from sarvbot.standin.workspace import ALICE, BOB, CAROL, DEV
from sarvbot.store import SeenRequests
from tests.support import Captured, noticing

from .conftest import Witness
from .test_front_door import reset_body, resets

NAME = "smtp70001"
EDIT = "settings/editSmtp"


@contextmanager
def database_locked(witness: Witness) -> Iterator[None]:
    """Another writer holds SQLite's write lock (a busy moment, another process)."""
    connection = sqlite3.connect(witness.database_file, isolation_level=None, timeout=5)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def edits(witness: Witness) -> int:
    return len(witness.workspace.sandbox.calls_to(EDIT))


def failed_request(witness: Witness) -> dict[str, Any]:
    """An approved edit that Sarv refused: its message now offers Retry."""
    witness.workspace.sandbox.add_user(name=NAME, total_limit=100)
    witness.request(f"edit {NAME} total=900 more mail for billing", user_id=ALICE, channel_id=DEV)
    witness.workspace.sandbox.fail_next("general", path=EDIT)
    witness.approve(user_id=BOB)
    message = witness.approval_message()
    assert "Failed" in str(message["blocks"])
    return message


def refused_retry(witness: Witness) -> tuple[bytes, dict[str, str]]:
    """A Retry click on a failed request that Sarv refuses again: its body and headers."""
    message = failed_request(witness)
    captured = Captured(witness.slack)
    witness.workspace.sandbox.fail_next("general", path=EDIT)
    witness.click(blocks.ACTION_RETRY, user_id=CAROL, message=message)
    return captured.last()


def test_replayed_retry_does_not_run_while_the_database_is_busy(
    witness: Witness,
) -> None:
    body, headers = refused_retry(witness)
    assert witness.state_of(1) == "failed"

    with noticing("could not check a request for replays") as gave_up:
        with database_locked(witness):
            url = witness.workspace.app_url
            answer = requests.post(url, data=body, headers=headers, timeout=10)
            # Held for a moment, as a busy writer would: until the replay check gives up
            # on the lock, if it does, and well inside the wait of every other write.
            gave_up.wait(timeout=2.5)
        witness.workspace.drain()
    assert answer.status_code == 200
    # The replay of a Retry click must not run the change again (Sarv refused it twice,
    # so the sandbox has applied nothing yet).
    assert edits(witness) == 0
    assert witness.workspace.sandbox.users[NAME].total_limit == 100
    assert witness.state_of(1) == "failed"


def test_replay_gate_fails_closed_when_the_database_stays_unavailable(
    witness: Witness,
) -> None:
    body, headers = refused_retry(witness)
    started = time.monotonic()
    with database_locked(witness):
        requests.post(witness.workspace.app_url, data=body, headers=headers, timeout=10)
        # Released only once the app has given up on the lock (its longest wait is 5 s).
        witness.workspace.drain()
    assert time.monotonic() - started < 20
    assert edits(witness) == 0
    assert any("database is unavailable" in reply for reply in witness.replies())


def test_replay_late_in_the_window_whose_work_waits_in_the_queue_runs_once(
    witness: Witness,
) -> None:
    body = reset_body(witness)
    signed_at = int(time.time()) - 280  # still inside Slack's five minutes, just
    headers = sign(witness.workspace.signing_secret, body, signed_at)
    first = requests.post(witness.workspace.app_url, data=body, headers=headers, timeout=10)
    witness.workspace.drain()
    assert first.status_code == 200
    assert resets(witness.workspace) == 1
    # The replay is acknowledged inside the window, but its work may wait behind a full
    # queue (up to DRAIN_SECONDS) before it checks for replays; by then the check itself
    # forgets what has expired. Here, what it would forget two minutes after the window.
    later = datetime.fromtimestamp(signed_at, UTC) + timedelta(minutes=7)
    SeenRequests(witness.workspace.database).prune(later)
    again = requests.post(witness.workspace.app_url, data=body, headers=headers, timeout=10)
    witness.workspace.drain()
    assert again.status_code == 200
    assert resets(witness.workspace) == 1
