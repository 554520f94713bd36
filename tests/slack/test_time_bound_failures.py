"""Time-bound changes on their failure paths: each put back once, and only what should be."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import ALICE, BOB, OPS, LocalWorkspace
from sarvbot.store import CatalogueStore, JobStore

USER = "smtp71001"
OTHER = "smtp71002"
EDIT = "settings/editSmtp"


def _run(workspace: LocalWorkspace, slack: SlackAppClient, command: str) -> None:
    slack.command("/smtp", command, user_id=BOB, channel_id=OPS)
    workspace.drain()


def _end_everything(workspace: LocalWorkspace) -> None:
    """Every time-bound change in force reaches its end."""
    assert workspace.app is not None
    jobs = JobStore(workspace.database)
    for timed in workspace.app.core.reverts.pending():
        assert jobs.due_now(timed.key, now=datetime.now(UTC))
    workspace.app.run_schedule()


def test_a_second_time_bound_change_that_sarv_refuses_keeps_the_first_revert(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(1000, 100, name=USER)
    _run(workspace, slack, f"edit {USER} hourly=5000 for 4h")
    workspace.sandbox.fail_next("general", path=EDIT)
    _run(workspace, slack, f"edit {USER} hourly=6000 for 1h")
    assert workspace.sandbox.users[USER].hourly_limit == 5000
    _end_everything(workspace)
    assert workspace.sandbox.users[USER].hourly_limit == 100


def test_taking_over_one_value_still_puts_back_the_others(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(1000, 100, name=USER)
    _run(workspace, slack, f"edit {USER} total=5000 hourly=500 for 4h")
    _run(workspace, slack, f"edit {USER} hourly=600 for 1h")
    _end_everything(workspace)
    user = workspace.sandbox.users[USER]
    assert (user.total_limit, user.hourly_limit) == (1000, 100)


def test_a_time_bound_edit_whose_answer_was_lost_is_still_put_back(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(1000, 100, name=USER)
    # Sarv makes the change, and the connection drops before its answer.
    workspace.sandbox.fail_next("drop", path=EDIT, after_apply=True, times=5)
    _run(workspace, slack, f"edit {USER} hourly=5000 for 1h")
    assert workspace.sandbox.users[USER].hourly_limit == 5000
    _end_everything(workspace)
    assert workspace.sandbox.users[USER].hourly_limit == 100


def test_a_revert_that_never_succeeds_is_reported(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(1000, 100, name=USER)
    CatalogueStore(workspace.database).write(USER, owner_id=ALICE)
    _run(workspace, slack, f"disable {USER} for 1h")
    assert workspace.app is not None
    (timed,) = workspace.app.core.reverts.pending()
    jobs = JobStore(workspace.database)
    workspace.sandbox.fail_next("general", path=EDIT, times=12)
    for _ in range(12):
        assert jobs.due_now(timed.key, now=datetime.now(UTC))
        workspace.app.run_schedule()
    assert workspace.sandbox.users[USER].status == "Disable"
    told = [
        str(c.args)
        for c in workspace.slack.calls_to("chat.postMessage")
        if c.args["channel"] in (BOB, ALICE)
    ]
    assert any(USER in dm for dm in told), "nobody hears that the disable was never put back"


def test_a_permanent_change_to_the_same_values_is_not_undone(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(1000, 100, name=USER)
    _run(workspace, slack, f"disable {USER} for 1h")
    _run(workspace, slack, f"disable {USER} credentials leaked, off for good")
    _end_everything(workspace)
    assert workspace.sandbox.users[USER].status == "Disable"


def test_a_job_with_an_unreadable_payload_does_not_stop_the_others(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(1000, 100, name=USER)
    workspace.sandbox.add_user(1000, 100, name=OTHER)
    _run(workspace, slack, f"disable {USER} for 1h")
    _run(workspace, slack, f"disable {OTHER} for 1h")
    assert workspace.app is not None
    garbled, fine = workspace.app.core.reverts.pending()
    with workspace.database.session() as session:
        session.execute(
            text("UPDATE due_jobs SET payload = '{not json' WHERE key = :key"),
            {"key": garbled.key},
        )
    jobs = JobStore(workspace.database)
    for timed in (garbled, fine):
        assert jobs.due_now(timed.key, now=datetime.now(UTC))
    workspace.app.run_schedule()  # the garbled job fails alone
    assert workspace.sandbox.users[fine.target].status == "Enable"
