"""Serving processes run the schedule: an overdue request is expired and its requester told
once, however many processes run it, and even when the process that expired it died first.

Requests are made through real signed HTTP against the app; Slack is the Web API stand-in.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from sarvbot.config import load_settings
from sarvbot.core import RequestState
from sarvbot.core.schedule import EXPIRE_REQUESTS
from sarvbot.runtime import create_app
from sarvbot.sarv import SarvClient
from sarvbot.slack import SlackApp
from sarvbot.standin import ApiCall
from sarvbot.standin.workspace import ALICE, APPROVALS, DEV, LocalWorkspace
from sarvbot.store import REQUEST_ENDED, ApprovalStore, Database, JobStore
from tests.support import wait_until

USER = "smtp60001"
EXPIRED_WORDS = "expired without a decision"


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[LocalWorkspace]:
    with LocalWorkspace(f"sqlite:///{tmp_path / 'sarvbot.db'}") as running:
        running.sandbox.add_user(name=USER)
        yield running


@pytest.fixture
def shared(postgres_url: str) -> Iterator[LocalWorkspace]:
    with LocalWorkspace(postgres_url) as running:
        running.sandbox.add_user(name=USER)
        yield running


def another_process(workspace: LocalWorkspace, database: Database) -> SlackApp:
    """A second app on the same database, as another serving process would be."""
    return create_app(
        load_settings(workspace.environ()),
        policy=workspace.policy,
        database=database,
        sarv_client=SarvClient("owner-1", workspace.sarv_token, base_url=workspace.sandbox.url),
    )


def overdue_request(workspace: LocalWorkspace) -> int:
    """Alice asks for a reset over HTTP; then a day passes without a decision."""
    client = workspace.client()
    assert client.command("/smtp", f"reset {USER} key leaked", user_id=ALICE, channel_id=DEV).ok
    workspace.drain()
    client.close()
    (request,) = ApprovalStore(workspace.database).pending()
    with workspace.database.session() as session:
        session.execute(
            text("UPDATE approval_requests SET expires_at = :t WHERE id = :id"),
            {"t": datetime.now(UTC) - timedelta(minutes=1), "id": request.id},
        )
    return request.id


def is_expiry_notice(call: ApiCall) -> bool:
    return (
        call.ok
        and call.method == "chat.postMessage"
        and call.args.get("channel") == ALICE
        and EXPIRED_WORDS in str(call.args.get("text"))
    )


def expiry_notices(workspace: LocalWorkspace) -> list[ApiCall]:
    return [call for call in workspace.slack.calls if is_expiry_notice(call)]


def notice_state(workspace: LocalWorkspace, request_id: int) -> str | None:
    job = JobStore(workspace.database).get(f"{REQUEST_ENDED}:{request_id}:expired")
    return job.state if job is not None else None


def assert_message_shows_expired(workspace: LocalWorkspace, request_id: int) -> None:
    request = ApprovalStore(workspace.database).get(request_id)
    assert request is not None
    assert request.state is RequestState.EXPIRED
    shown = workspace.slack.messages[(APPROVALS, request.message_ts or "")]
    assert "Expired" in str(shown["blocks"])
    assert "approve_request" not in str(shown["blocks"])


@pytest.mark.postgres
def test_overdue_request_is_expired_and_its_requester_told_once_by_two_serving_processes(
    shared: LocalWorkspace,
) -> None:
    request_id = overdue_request(shared)
    database = Database(shared.database_url)
    other = another_process(shared, database)
    try:
        assert shared.app is not None
        shared.app.start_housekeeping(interval=0.05)
        other.start_housekeeping(interval=0.05)
        told = shared.slack.wait_for(is_expiry_notice, timeout=10)
        assert f"Request #{request_id}" in str(told.args.get("text"))
        assert wait_until(lambda: notice_state(shared, request_id) == "done")
        # Both processes go on sweeping for several more rounds: nobody is told again.
        jobs = JobStore(shared.database)
        seen = datetime.now(UTC)

        def swept_since() -> bool:
            sweep = jobs.get(EXPIRE_REQUESTS)
            return sweep is not None and sweep.due_at > seen + timedelta(seconds=0.3)

        assert wait_until(swept_since)
    finally:
        other.close()
        database.dispose()
    assert len(expiry_notices(shared)) == 1
    assert_message_shows_expired(shared, request_id)


def test_requester_is_told_when_the_expiring_process_dies_before_telling(
    workspace: LocalWorkspace,
) -> None:
    request_id = overdue_request(workspace)
    assert workspace.app is not None
    # A process expires the request and dies before any Slack call.
    (expired,) = workspace.app.core.approvals.expire()
    assert expired.id == request_id
    assert expiry_notices(workspace) == []
    database = Database(workspace.database_url)
    survivor = another_process(workspace, database)
    try:
        survivor.start_housekeeping(interval=0.05)
        workspace.slack.wait_for(is_expiry_notice, timeout=10)
        assert wait_until(lambda: notice_state(workspace, request_id) == "done")
    finally:
        survivor.close()
        database.dispose()
    assert len(expiry_notices(workspace)) == 1
    assert_message_shows_expired(workspace, request_id)


def test_a_notice_claimed_by_a_process_that_died_is_sent_once_its_lease_lapses(
    workspace: LocalWorkspace,
) -> None:
    request_id = overdue_request(workspace)
    assert workspace.app is not None
    workspace.app.core.approvals.expire()
    jobs = JobStore(workspace.database)
    now = datetime.now(UTC)
    # The dying process had claimed the notice; its lease runs out as it dies.
    (claimed,) = jobs.claim_due(owner="dead-process", now=now, lease_until=now)
    assert claimed.kind == REQUEST_ENDED
    workspace.app.start_housekeeping(interval=0.05)
    workspace.slack.wait_for(is_expiry_notice, timeout=10)
    assert wait_until(lambda: notice_state(workspace, request_id) == "done")
    finished = jobs.get(claimed.key)
    assert finished is not None
    assert (finished.owner, finished.attempts) == (workspace.app.scheduler.owner, 2)
    assert len(expiry_notices(workspace)) == 1
    assert_message_shows_expired(workspace, request_id)


def test_requester_is_told_later_when_slack_fails_the_expiry_notice(
    workspace: LocalWorkspace,
) -> None:
    request_id = overdue_request(workspace)
    assert workspace.app is not None
    # Slack takes neither the DM nor the ephemeral it falls back to.
    workspace.slack.fail_next("chat.postEphemeral", "fatal_error", match={"user": ALICE})
    workspace.slack.fail_next("chat.postMessage", "fatal_error", match={"channel": ALICE})
    assert [r.id for r in workspace.app.expire_requests()] == [request_id]
    assert expiry_notices(workspace) == []
    assert notice_state(workspace, request_id) == "due"
    ran = workspace.app.scheduler.run_due(now=datetime.now(UTC) + timedelta(minutes=1))
    assert [r.outcome for r in ran] == ["done"]
    assert len(expiry_notices(workspace)) == 1
    assert workspace.app.scheduler.run_due(now=datetime.now(UTC) + timedelta(hours=1)) == []
    assert len(expiry_notices(workspace)) == 1


def test_finished_jobs_do_not_stay_in_due_jobs_for_ever(workspace: LocalWorkspace) -> None:
    """A job finished long ago (well past any key it could collide with) is removed by the
    schedule's own housekeeping.
    """
    request_id = overdue_request(workspace)
    assert workspace.app is not None
    workspace.app.expire_requests()
    assert notice_state(workspace, request_id) == "done"
    far = datetime.now(UTC) + timedelta(days=800)
    workspace.app.scheduler.start_periodic(bring_forward=True)
    for step in range(3):
        workspace.app.scheduler.run_due(now=far + timedelta(hours=step))
    assert notice_state(workspace, request_id) is None


def test_no_timed_job_is_started_after_the_app_is_closed(
    workspace: LocalWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once ``close`` has begun no new job is started (the claimed ones are left due, or to their
    lease, for another process), and ``close`` returns only when the job under way has ended.
    """
    assert workspace.app is not None
    app = workspace.app
    first = overdue_request(workspace)
    app.core.approvals.expire()
    second = overdue_request(workspace)
    app.core.approvals.expire()
    assert notice_state(workspace, first) == notice_state(workspace, second) == "due"

    import sarvbot.slack.app as app_module

    real = app_module.tell_request_ended
    started = threading.Event()
    release = threading.Event()
    closed = threading.Event()
    after_close: list[int] = []

    def slow(ctx: object, request: object) -> bool:
        if closed.is_set():
            after_close.append(request.id)  # type: ignore[attr-defined]
        if not started.is_set():
            started.set()
            release.wait(10)
        return real(ctx, request)  # type: ignore[arg-type]

    monkeypatch.setattr(app_module, "tell_request_ended", slow)
    app.start_housekeeping(interval=60)
    assert started.wait(10)
    app.close()
    closed.set()
    release.set()
    wait_until(lambda: notice_state(workspace, second) == "done" or bool(after_close), timeout=5)
    assert after_close == []
