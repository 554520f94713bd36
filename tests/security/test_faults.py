"""When Sarv or the database fails, people are told, and no change is lost or run twice."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from sarvbot.core import ApprovalRequest
from sarvbot.sandbox import WireVariant
from sarvbot.slack import blocks
from sarvbot.standin.workspace import ALICE, BOB, DEV, OPS, LocalWorkspace
from sarvbot.store import ApprovalStore

from .conftest import Witness, running_witness

RESET = "settings/resetSmtpPassword"
NAME = "smtp70001"
UNAVAILABLE = "Sarv is unavailable"


@pytest.fixture
def witness(tmp_path: Path) -> Iterator[Witness]:
    """A workspace whose Sarv client gives up after half a second; the DB in its own folder."""
    folder = tmp_path / "db"
    folder.mkdir()
    with running_witness(folder) as witness:
        app = witness.workspace.app
        assert app is not None
        app.core.chores.sarv.timeout = (1.0, 0.5)
        witness.workspace.sandbox.settings.hang_seconds = 1.5
        witness.workspace.sandbox.add_user(name=NAME)
        yield witness


def resets(workspace: LocalWorkspace) -> int:
    return len(workspace.sandbox.calls_to(RESET))


def reply_saying(witness: Witness, user_id: str, words: str) -> list[str]:
    return [t for t in witness.said_to(user_id) if words in t]


def break_sarv(witness: Witness, fault: str) -> None:
    sandbox = witness.workspace.sandbox
    if fault == "down":
        sandbox.stop()
    elif fault == "answers-200-with-an-error":
        sandbox.settings.variant = WireVariant.TABLE
        sandbox.fail_next("general", path=RESET)
    else:
        sandbox.fail_next(fault, path=RESET)


NOT_APPLIED = [
    pytest.param("general", id="general-error"),
    pytest.param("answers-200-with-an-error", id="200-with-error"),
    pytest.param("down", id="down"),
]
# Any answer that is not Sarv's own JSON error may hide a change that was made.
UNKNOWN_OUTCOME = [
    pytest.param("hang", id="hangs-past-the-timeout"),
    pytest.param("drop", id="drops-after-applying"),
    pytest.param("html500", id="proxy-html-500-after-applying"),
    pytest.param("garbled", id="unreadable-200-after-applying"),
    pytest.param("no-password", id="200-without-the-password-after-applying"),
]


def break_sarv_after_apply(witness: Witness, fault: str) -> None:
    if fault == "hang":
        witness.workspace.sandbox.fail_next("hang", path=RESET)
    else:
        witness.workspace.sandbox.fail_next(fault, path=RESET, after_apply=True)


def applied_by(fault: str) -> int:
    """Resets made at Sarv by a fault of UNKNOWN_OUTCOME: all but the hang apply first."""
    return 0 if fault == "hang" else 1


@pytest.mark.parametrize("fault", NOT_APPLIED)
def test_direct_reset_when_sarv_fails_tells_the_user(witness: Witness, fault: str) -> None:
    break_sarv(witness, fault)
    witness.command(f"reset {NAME}", user_id=BOB, channel_id=OPS)
    assert reply_saying(witness, BOB, UNAVAILABLE), witness.said_to(BOB)
    assert resets(witness.workspace) == 0
    assert witness.audit(limit=1)[0].outcome == "failed"


@pytest.mark.parametrize("fault", NOT_APPLIED)
def test_approved_reset_when_sarv_fails_is_kept_for_one_retry(witness: Witness, fault: str) -> None:
    request = witness.request(f"reset {NAME} key leaked in CI")
    message = witness.approval_message(request.id)
    break_sarv(witness, fault)
    witness.approve(user_id=BOB)
    assert witness.state_of(request.id) == "failed"
    assert reply_saying(witness, ALICE, "did not go through"), witness.said_to(ALICE)
    assert resets(witness.workspace) == 0
    # A second Approve on the old message is refused; Retry runs it exactly once.
    witness.click(blocks.ACTION_APPROVE, user_id=BOB, message=message)
    assert witness.state_of(request.id) == "failed"
    if fault == "down":
        return  # the sandbox cannot come back on the same address
    witness.workspace.sandbox.settings.variant = WireVariant.EXAMPLE
    failed = witness.approval_message(request.id)
    witness.click(blocks.ACTION_RETRY, user_id=BOB, message=failed)
    witness.click(blocks.ACTION_RETRY, user_id=BOB, message=failed)
    assert witness.state_of(request.id) == "done"
    assert resets(witness.workspace) == 1


@pytest.mark.parametrize("fault", UNKNOWN_OUTCOME)
def test_approved_reset_with_unknown_outcome_is_never_run_again(
    witness: Witness, fault: str
) -> None:
    request = witness.request(f"reset {NAME} key leaked in CI")
    message = witness.approval_message(request.id)
    break_sarv_after_apply(witness, fault)
    witness.approve(user_id=BOB)
    applied = applied_by(fault)
    assert resets(witness.workspace) == applied
    assert witness.state_of(request.id) == "unknown"
    assert reply_saying(witness, ALICE, "unknown"), witness.said_to(ALICE)
    shown = witness.approval_message(request.id)
    assert "Outcome unknown" in str(shown["blocks"])
    # Neither a second Approve nor a forged Retry runs it again.
    witness.click(blocks.ACTION_APPROVE, user_id=BOB, message=message)
    retry = {"type": "button", "action_id": blocks.ACTION_RETRY, "value": str(request.id)}
    forged = {**message, "blocks": [{"type": "actions", "block_id": "r", "elements": [retry]}]}
    witness.click(blocks.ACTION_RETRY, user_id=BOB, message=forged)
    assert resets(witness.workspace) == applied
    assert witness.state_of(request.id) == "unknown"
    assert reply_saying(witness, BOB, f"Request #{request.id} is already")
    assert reply_saying(witness, BOB, "only failed ones are retried")


@pytest.mark.parametrize("fault", UNKNOWN_OUTCOME)
def test_direct_reset_with_unknown_outcome_tells_the_user(witness: Witness, fault: str) -> None:
    break_sarv_after_apply(witness, fault)
    witness.command(f"reset {NAME}", user_id=BOB, channel_id=OPS)
    assert witness.said_to(BOB), "bob was told nothing"
    assert resets(witness.workspace) == applied_by(fault)
    assert witness.audit(limit=1)[0].outcome == "unknown"


@pytest.mark.parametrize("fault", UNKNOWN_OUTCOME)
def test_direct_reset_with_unknown_outcome_says_it_is_unknown(witness: Witness, fault: str) -> None:
    break_sarv_after_apply(witness, fault)
    witness.command(f"reset {NAME}", user_id=BOB, channel_id=OPS)
    told = " ".join(witness.said_to(BOB))
    assert "unknown" in told
    assert "Try again" not in told


def test_direct_add_dropped_after_apply_creates_one_user(witness: Witness) -> None:
    before = set(witness.workspace.sandbox.users)
    witness.workspace.sandbox.fail_next("drop", path="settings/addSmtp", after_apply=True)
    witness.command("add 100 10", user_id=BOB, channel_id=OPS)
    assert witness.said_to(BOB)
    assert len(set(witness.workspace.sandbox.users) - before) == 1
    assert len(witness.workspace.sandbox.calls_to("settings/addSmtp")) == 1


ADD = "settings/addSmtp"
PROXY_FAULTS = [
    pytest.param("html500", id="proxy-html-500"),
    pytest.param("garbled", id="unreadable-200"),
    pytest.param("no-password", id="200-without-the-password"),
]


@pytest.mark.parametrize("fault", PROXY_FAULTS)
def test_approved_add_answered_by_a_proxy_is_unknown_and_never_retried(
    witness: Witness, fault: str
) -> None:
    sandbox = witness.workspace.sandbox
    before = set(sandbox.users)
    request = witness.request("add 100 10 for the billing service")
    sandbox.fail_next(fault, path=ADD, after_apply=True)
    witness.approve(user_id=BOB)
    assert witness.state_of(request.id) == "unknown"
    assert reply_saying(witness, ALICE, "unknown"), witness.said_to(ALICE)
    # The card offers no Retry, and a forged Retry is refused: one user, never two.
    shown = witness.approval_message(request.id)
    assert blocks.ACTION_RETRY not in str(shown["blocks"])
    retry = {"type": "button", "action_id": blocks.ACTION_RETRY, "value": str(request.id)}
    forged = {**shown, "blocks": [{"type": "actions", "block_id": "r", "elements": [retry]}]}
    witness.click(blocks.ACTION_RETRY, user_id=BOB, message=forged)
    assert len(sandbox.calls_to(ADD)) == 1
    assert len(set(sandbox.users) - before) == 1
    assert witness.state_of(request.id) == "unknown"


@pytest.mark.parametrize("fault", PROXY_FAULTS)
def test_direct_add_answered_by_a_proxy_says_unknown_not_try_again(
    witness: Witness, fault: str
) -> None:
    witness.workspace.sandbox.fail_next(fault, path=ADD, after_apply=True)
    witness.command("add 100 10", user_id=BOB, channel_id=OPS)
    told = " ".join(witness.said_to(BOB))
    assert "unknown" in told
    assert "Try again" not in told
    assert witness.audit(limit=1)[0].outcome == "unknown"


DB_DOWN = "database is unavailable"


def test_database_locked_past_the_busy_timeout(witness: Witness) -> None:
    pending = witness.request(f"reset {NAME} earlier request")
    locker = sqlite3.connect(witness.database_file, timeout=0, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        # Both wait out the app's busy timeout together.
        witness.slack.command("/smtp", f"reset {NAME}", user_id=BOB, channel_id=OPS)
        witness.slack.command("/smtp", f"disable {NAME} why not", user_id=ALICE, channel_id=DEV)
        witness.workspace.drain()
    finally:
        locker.rollback()
        locker.close()
    assert reply_saying(witness, BOB, DB_DOWN), witness.said_to(BOB)
    assert reply_saying(witness, ALICE, DB_DOWN), witness.said_to(ALICE)
    assert witness.sarv_changes() == []
    assert [r.id for r in _pending(witness)] == [pending.id]


def _pending(witness: Witness) -> list[ApprovalRequest]:
    return ApprovalStore(witness.workspace.database).pending()


def test_database_gone(witness: Witness) -> None:
    request = witness.request(f"reset {NAME} earlier request")
    assert request.state.value == "pending"
    shutil.rmtree(witness.database_file.parent)
    witness.workspace.database.dispose()  # pooled connections still hold the deleted file
    witness.command(f"reset {NAME}", user_id=BOB, channel_id=OPS)
    assert reply_saying(witness, BOB, DB_DOWN), witness.said_to(BOB)
    witness.command(f"disable {NAME} why not", user_id=ALICE, channel_id=DEV)
    assert reply_saying(witness, ALICE, DB_DOWN), witness.said_to(ALICE)
    message = witness.approval_message(request.id)
    witness.fake.clear()
    witness.click(blocks.ACTION_APPROVE, user_id=BOB, message=message)
    assert reply_saying(witness, BOB, DB_DOWN), witness.said_to(BOB)
    assert witness.sarv_changes() == []
