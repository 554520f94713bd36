"""Changes that undo themselves: time-bound edits, enables and disables, put back once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sarvbot.config import load_settings
from sarvbot.core import TimedChange
from sarvbot.core.schedule import EXPIRE_REQUESTS, REMIND_REVERT
from sarvbot.runtime import create_app
from sarvbot.sarv import SarvClient
from sarvbot.slack import SlackApp
from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, DEV, OPS, LocalWorkspace
from sarvbot.store import AuditLog, CatalogueStore, Database, JobStore
from tests.support import cards_in, dms_to

USER = "smtp70001"


def _pending(workspace: LocalWorkspace) -> list[TimedChange]:
    assert workspace.app is not None
    return workspace.app.core.reverts.pending()


def _time_is_up(workspace: LocalWorkspace, timed: TimedChange) -> None:
    """The clock reaches the end of ``timed``: its revert job is due now."""
    assert JobStore(workspace.database).due_now(timed.key, now=datetime.now(UTC))


def _reminded(workspace: LocalWorkspace, timed: TimedChange) -> dict[str, Any]:
    """The reminder's time comes; returns the DM it sent, as Slack keeps it."""
    reminder = f"{REMIND_REVERT}:{timed.key}"
    assert JobStore(workspace.database).due_now(reminder, now=datetime.now(UTC))
    assert workspace.app is not None
    workspace.app.run_schedule()
    dm = dms_to(workspace, timed.requester_id)[-1]
    return workspace.slack.messages[(str(dm.response["channel"]), str(dm.response["ts"]))]


def _posted_in(workspace: LocalWorkspace, channel: str) -> str:
    return "\n".join(
        str(c.args.get("text"))
        for c in workspace.slack.calls_to("chat.postMessage")
        if c.args["channel"] == channel
    )


def test_a_time_bound_raise_is_put_back_when_its_time_is_up(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(1000, 100, name=USER)
    slack.command("/smtp", f"edit {USER} hourly=5000 for 4h campaign", user_id=BOB, channel_id=OPS)
    workspace.drain()
    assert workspace.sandbox.users[USER].hourly_limit == 5000
    assert "(hourly 5000) for 4 hours" in _posted_in(workspace, OPS)
    (timed,) = _pending(workspace)
    assert (timed.set_values, timed.before) == ({"hourly_limit": 5000}, {"hourly_limit": 100})

    slack.command("/smtp", "pending", user_id=BOB, channel_id=OPS)
    workspace.drain()
    assert "then back to hourly 100" in str(workspace.slack.posts[-1].body)

    _time_is_up(workspace, timed)
    assert workspace.app is not None
    workspace.app.run_schedule()
    assert workspace.sandbox.users[USER].hourly_limit == 100
    assert workspace.sandbox.users[USER].total_limit == 1000
    assert "sarvbot put back hourly 100" in _posted_in(workspace, OPS)
    assert _pending(workspace) == []
    outcomes = [e.outcome for e in AuditLog(workspace.database).latest(target=USER)]
    assert "reverted" in outcomes


def test_a_revert_that_finds_the_user_changed_leaves_it_and_tells_requester_and_owner(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(1000, 100, name=USER)
    CatalogueStore(workspace.database).write(USER, label="billing-api", owner_id=ALICE)
    slack.command("/smtp", "edit billing-api hourly=5000 for 1h", user_id=BOB, channel_id=OPS)
    workspace.drain()
    slack.command("/smtp", "edit billing-api hourly=300", user_id=BOB, channel_id=OPS)
    workspace.drain()
    (timed,) = _pending(workspace)
    _time_is_up(workspace, timed)
    assert workspace.app is not None
    workspace.app.run_schedule()
    assert workspace.sandbox.users[USER].hourly_limit == 300
    for person in (BOB, ALICE):
        (dm,) = dms_to(workspace, person)
        assert "someone changed it meanwhile: it has hourly 300" in str(dm.args["text"])
    outcomes = [e.outcome for e in AuditLog(workspace.database).latest(target=USER)]
    assert "not reverted" in outcomes
    assert "reverted" not in outcomes


def test_a_time_bound_disable_requested_from_dev_shows_its_duration_to_ops(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    slack.command(
        "/smtp", f"disable {USER} for 30m noisy bounce loop", user_id=ALICE, channel_id=DEV
    )
    workspace.drain()
    (posted,) = cards_in(workspace.slack, APPROVALS)
    message = workspace.slack.messages[(APPROVALS, posted.response["ts"])]
    assert f"disable `{USER}` (now Enable) for 30 minutes" in str(message["blocks"])
    slack.click("approve_request", user_id=BOB, message=message, channel_id=APPROVALS)
    workspace.drain()
    assert workspace.sandbox.users[USER].status == "Disable"
    (timed,) = _pending(workspace)
    assert timed.request_id == 1
    assert timed.before == {"status": "Enable"}


def test_the_reminder_offers_revert_now_which_puts_it_back_at_once(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(1000, 100, name=USER)
    slack.command("/smtp", f"disable {USER} for 2h", user_id=BOB, channel_id=OPS)
    workspace.drain()
    (timed,) = _pending(workspace)
    message = _reminded(workspace, timed)
    assert "sarvbot then puts back status Enable" in str(message["blocks"])
    slack.click("revert_now", user_id=ALICE, message=message, channel_id="D0BOB")
    workspace.drain()
    assert workspace.sandbox.users[USER].status == "Disable"  # alice is neither
    slack.click("revert_now", user_id=BOB, message=message, channel_id="D0BOB")
    workspace.drain()
    assert workspace.sandbox.users[USER].status == "Enable"
    assert _pending(workspace) == []
    replies = "\n".join(str(p.body) for p in workspace.slack.posts)
    assert "Only the person who made the change, or the user's owner, can revert it." in replies


def test_extend_from_dev_is_requested_and_ends_where_the_first_change_began(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(1000, 100, name=USER)
    slack.command(
        "/smtp", f"edit {USER} hourly=900 for 1h launch day", user_id=ALICE, channel_id=DEV
    )
    workspace.drain()
    first = _approval(workspace, 0)
    slack.click("approve_request", user_id=BOB, message=first, channel_id=APPROVALS)
    workspace.drain()
    (timed,) = _pending(workspace)
    message = _reminded(workspace, timed)
    slack.click("extend_change", user_id=ALICE, message=message, channel_id="D0ALICE")
    workspace.drain()
    second = _approval(workspace, 1)
    assert f"edit `{USER}`: hourly 900 → 900 for 1 hour" in str(second["blocks"])
    assert "extend it by 1 hour from now" in str(second["blocks"])
    slack.click("approve_request", user_id=BOB, message=second, channel_id=APPROVALS)
    workspace.drain()
    (extended,) = _pending(workspace)
    assert extended.key != timed.key
    assert extended.before == {"hourly_limit": 100}
    assert extended.ends_at > timed.ends_at
    _time_is_up(workspace, extended)
    assert workspace.app is not None
    workspace.app.run_schedule()
    assert workspace.sandbox.users[USER].hourly_limit == 100


def _approval(workspace: LocalWorkspace, index: int) -> dict[str, Any]:
    posted = cards_in(workspace.slack, APPROVALS)
    return workspace.slack.messages[(APPROVALS, posted[index].response["ts"])]


# Two processes on PostgreSQL, after a restart


@pytest.fixture
def shared(postgres_url: str) -> Iterator[LocalWorkspace]:
    with LocalWorkspace(postgres_url) as running:
        running.sandbox.add_user(1000, 100, name=USER)
        yield running


def _another_process(workspace: LocalWorkspace, database: Database) -> SlackApp:
    return create_app(
        load_settings(workspace.environ()),
        policy=workspace.policy,
        database=database,
        sarv_client=SarvClient("owner-1", workspace.sarv_token, base_url=workspace.sandbox.url),
    )


def _state(jobs: JobStore, key: str) -> str | None:
    job = jobs.get(key)
    return job.state if job is not None else None


def _due(jobs: JobStore, key: str) -> datetime:
    job = jobs.get(key)
    return job.due_at if job is not None else datetime.min.replace(tzinfo=UTC)


def _wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        pause.wait(0.02)


@pytest.mark.postgres
def test_a_change_made_before_a_restart_is_put_back_once_by_one_of_two_processes(
    shared: LocalWorkspace,
) -> None:
    client = shared.client()
    client.command("/smtp", f"edit {USER} hourly=5000 for 1m", user_id=BOB, channel_id=OPS)
    shared.drain()
    client.close()
    assert shared.app is not None
    (timed,) = shared.app.core.reverts.pending()
    shared.app.close()  # the process that made the change stops
    edits_before = len(shared.sandbox.calls_to("settings/editSmtp"))

    databases = [Database(shared.database_url) for _ in range(2)]
    processes = [_another_process(shared, database) for database in databases]
    try:
        _time_is_up(shared, timed)
        for process in processes:
            process.start_housekeeping(interval=0.05)
        jobs = JobStore(shared.database)
        _wait_until(lambda: _state(jobs, timed.key) == "done")
        # Both processes go on with their rounds for a while: nothing is put back twice.
        seen = datetime.now(UTC)
        _wait_until(lambda: _due(jobs, EXPIRE_REQUESTS) > seen + timedelta(seconds=0.3))
    finally:
        for process in processes:
            process.close()
        for database in databases:
            database.dispose()
    assert len(shared.sandbox.calls_to("settings/editSmtp")) == edits_before + 1
    assert _posted_in(shared, OPS).count("sarvbot put back hourly 100") == 1


def test_the_edit_form_makes_a_change_for_a_while(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(1000, 100, name=USER)
    slack.command("/smtp", f"edit {USER}", user_id=BOB, channel_id=OPS)
    workspace.drain()
    (view,) = workspace.slack.views.values()
    typed = {
        "total_limit": {"value": "1000"},
        "hourly_limit": {"value": "400"},
        "status": {"value": "Enable"},
        "for": {"value": "custom"},
        "for_custom": {"value": "forever"},
    }
    refused = slack.submit_view(view, typed, user_id=BOB).json()
    assert refused["errors"] == {"for_custom": "Give a duration such as 90m, 4h or 2d."}
    typed["for_custom"] = {"value": "90m"}
    assert slack.submit_view(view, typed, user_id=BOB).ok
    workspace.drain()
    assert workspace.sandbox.users[USER].hourly_limit == 400
    (timed,) = _pending(workspace)
    assert timed.seconds == 5400
