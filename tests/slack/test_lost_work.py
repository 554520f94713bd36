"""A change acknowledged by a process that then dies is reported to its person, never rerun.

A real ``sarvbot serve`` acknowledges two changes (one reaches Sarv, which never answers;
one waits in the queue behind it) and is killed with SIGKILL. Another process then
finds both receipts with their lease lapsed and tells each person, by DM, what is known.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from sarvbot.core import LostWork, RequestState
from sarvbot.slack import sentences
from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import ALICE, BOB, CAROL, DEV, OPS, LocalWorkspace
from sarvbot.store import ApprovalStore, Database, ReceiptStore
from tests.support import app_env, race, serving, wait_until

RESET = "settings/resetSmtpPassword"
EDIT = "settings/editSmtp"


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[LocalWorkspace]:
    with LocalWorkspace(f"sqlite:///{tmp_path / 'sarvbot.db'}") as running:
        running.sandbox.add_user(name="smtp50001")
        running.sandbox.add_user(name="smtp50002")
        yield running


@contextmanager
def reset_hanging_then_killed(
    workspace: LocalWorkspace, tmp_path: Path
) -> Iterator[SlackAppClient]:
    """A ``sarvbot serve`` that has acked bob's reset, which hangs at Sarv: a client of it.

    The server is killed (SIGKILL) when the block ends. The whole process group goes,
    master and worker: neither has a chance to answer.
    """
    workspace.sandbox.fail_next("hang", path=RESET, after_apply=True)
    env = app_env(workspace, tmp_path, SARVBOT_WORKERS="1")  # the 2nd change waits behind
    with serving(env, start_new_session=True) as server:
        client = server.client(workspace)
        try:
            assert client.command("/smtp", "reset smtp50001", user_id=BOB, channel_id=OPS).ok
            assert workspace.sandbox.wait_for_call(RESET, timeout=10)
            yield client
        finally:
            client.close()
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)


def receipts(database: Database) -> int:
    """How many receipts are in the database (written by another process)."""
    with database.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM change_receipts")).scalar_one())


def dms_to(workspace: LocalWorkspace, user_id: str) -> list[str]:
    return [
        str(call.args.get("text"))
        for call in workspace.slack.calls_to("chat.postMessage")
        if call.ok and call.args.get("channel") == user_id
    ]


def test_changes_acked_by_a_killed_process_are_reported_once_and_never_rerun(
    workspace: LocalWorkspace, tmp_path: Path
) -> None:
    with reset_hanging_then_killed(workspace, tmp_path) as client:
        assert client.command("/smtp", "disable smtp50002", user_id=CAROL, channel_id=OPS).ok
        # The receipt is written just after the ack, by the server: wait for it (bounded).
        assert wait_until(lambda: receipts(workspace.database) == 2)
    assert workspace.app is not None
    # Nothing is reported while the dead process's lease may still run.
    assert workspace.app.report_lost_work() == []

    later = datetime.now(UTC) + timedelta(minutes=5)
    told = workspace.app.report_lost_work(now=later)
    assert sorted((lost.user_id, lost.started) for lost in told) == [(BOB, True), (CAROL, False)]
    (to_bob,) = dms_to(workspace, BOB)
    assert "unknown whether it was done" in to_bob
    assert "smtp50001" in to_bob
    (to_carol,) = dms_to(workspace, CAROL)
    assert "nothing was changed" in to_carol
    # Told once, and nothing ran again: one reset (the one Sarv never answered), no edit.
    assert workspace.app.report_lost_work(now=later + timedelta(minutes=5)) == []
    assert len(workspace.sandbox.calls_to(RESET)) == 1
    assert workspace.sandbox.calls_to(EDIT) == []


def test_lost_words_say_what_is_known(workspace: LocalWorkspace) -> None:
    """Each state a receipt was lost in has its own words, and none carries a secret."""

    def lost(started: bool, outcome: str | None, error: str | None = None) -> str:
        work = LostWork(1, BOB, OPS, "reset", "smtp50001", started, outcome, error)
        return sentences.lost_work(work)

    assert "nothing was changed" in lost(False, None)
    assert "was done" in lost(True, "done")
    assert "/smtp reveal" in lost(True, "done")
    assert "did not go through: Sarv refused" in lost(True, "failed", "Sarv refused")
    assert "sent for approval (request #4)" in lost(True, "requested", "request #4")
    assert "unknown whether it was done" in lost(True, None)


def test_a_lapsed_receipt_is_claimed_by_one_process_only(database_url: str) -> None:
    """Eight claimers race for five lost receipts: each receipt goes to exactly one."""
    database = Database(database_url)
    database.upgrade()
    store = ReceiptStore(database)
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    for index in range(5):
        store.acknowledge(
            user_id=BOB,
            channel_id=OPS,
            action="reset",
            target=f"smtp{index}",
            owner="dead",
            lease_until=long_ago,
            now=long_ago,
        )

    def claim(index: int) -> list[int]:
        now = datetime.now(UTC)
        found = store.claim_lapsed(owner=f"p{index}", now=now, lease_until=now + timedelta(1))
        return [receipt.id for receipt in found]

    claimed = [receipt_id for ids in race(8, claim) for receipt_id in ids]
    database.dispose()
    assert sorted(claimed) == [1, 2, 3, 4, 5]


def test_lost_work_is_reported_again_when_its_dm_fails(
    workspace: LocalWorkspace, tmp_path: Path
) -> None:
    with reset_hanging_then_killed(workspace, tmp_path):
        # The receipt is written just after the ack, by the server: wait for it (bounded).
        assert wait_until(lambda: receipts(workspace.database) == 1)
    assert workspace.app is not None
    later = datetime.now(UTC) + timedelta(minutes=5)
    # Slack fails the DM: bob has not been told, so the receipt is not done with.
    workspace.slack.fail_next("chat.postMessage", "fatal_error", match={"channel": BOB})
    assert workspace.app.report_lost_work(now=later) == []
    assert dms_to(workspace, BOB) == []
    # Once the claim lapses, the next round tells him.
    told = workspace.app.report_lost_work(now=later + timedelta(minutes=5))
    assert [lost.user_id for lost in told] == [BOB]
    (to_bob,) = dms_to(workspace, BOB)
    assert "unknown whether it was done" in to_bob
    assert workspace.app.report_lost_work(now=later + timedelta(minutes=10)) == []
    assert len(workspace.sandbox.calls_to(RESET)) == 1


def test_housekeeping_marks_a_request_left_running_unknown_and_tells_the_requester(
    workspace: LocalWorkspace,
) -> None:
    """What `sarvbot expire` does, a serving process does by itself."""
    client = workspace.client()
    client.command("/smtp", "reset smtp50001 key leaked", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    client.close()
    store = ApprovalStore(workspace.database)
    (request,) = store.pending()
    # A process claimed it long ago, then died before recording the outcome.
    assert store.claim(request.id, decided_by=BOB, now=datetime.now(UTC) - timedelta(hours=1))
    assert workspace.app is not None
    workspace.app.start_housekeeping(interval=0.05)
    told = workspace.slack.wait_for(
        lambda call: (
            call.method == "chat.postMessage"
            and call.args.get("channel") == ALICE
            and "unknown whether it was done" in str(call.args.get("text"))
        ),
        timeout=10,
    )
    assert told.ok
    final = store.get(request.id)
    assert final is not None
    assert final.state is RequestState.UNKNOWN
    assert workspace.sandbox.calls_to(RESET) == []


def test_an_answer_slack_did_not_take_is_sent_by_dm_instead(workspace: LocalWorkspace) -> None:
    """Every acknowledged change ends with its person told, even when response_url fails."""
    client = workspace.client()
    workspace.slack.response_url_ttl = 0.0  # every response_url has expired by its first use
    # Refused (the user is made up) and its answer lost: the DM says what happened.
    client.command("/smtp", "disable smtp59999", user_id=BOB, channel_id=OPS)
    workspace.drain()
    client.close()
    assert workspace.app is not None
    told = workspace.app.report_lost_work()
    assert [(lost.user_id, lost.action) for lost in told] == [(BOB, "disable")]
    (to_bob,) = dms_to(workspace, BOB)
    assert "did not go through: Sarv has no SMTP user named smtp59999" in to_bob
    assert workspace.app.report_lost_work() == []  # told once


def test_an_answer_slack_took_leaves_nothing_to_report(workspace: LocalWorkspace) -> None:
    client = workspace.client()
    client.command("/smtp", "disable smtp59999", user_id=BOB, channel_id=OPS)
    workspace.drain()
    client.close()
    assert workspace.app is not None
    assert workspace.app.report_lost_work(now=datetime.now(UTC) + timedelta(hours=1)) == []
    assert dms_to(workspace, BOB) == []
