"""Rotation on its failure paths: one add, one retirement, nothing to the wrong person."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sarvbot.core.rotations import REMIND_RETIRE, RETIRE_OLD
from sarvbot.core.schedule import RETIRE_ATTEMPTS
from sarvbot.policy import parse_policy
from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import ALICE, BOB, DEMO_POLICY, GUEST, OPS, LocalWorkspace
from sarvbot.store import AuditLog, CatalogueStore, JobStore
from tests.support import dms_to, kept_message

OLD = "smtp91001"
ADD, EDIT = "settings/addSmtp", "settings/editSmtp"


def _run(workspace: LocalWorkspace, slack: SlackAppClient, command: str) -> None:
    slack.command("/smtp", command, user_id=BOB, channel_id=OPS)
    workspace.drain()


def test_two_rotations_of_one_user_at_once_add_one_user(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(800, 80, name=OLD)
    assert workspace.app is not None
    chores = workspace.app.core.chores
    add_user = chores.sarv.add_user

    def slow_add(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)  # Sarv takes its time, as it does under load
        return add_user(*args, **kwargs)

    chores.sarv.add_user = slow_add  # type: ignore[method-assign]
    slack.command("/smtp", f"rotate {OLD}", user_id=BOB, channel_id=OPS)
    slack.command("/smtp", f"rotate {OLD}", user_id=BOB, channel_id=OPS)
    workspace.drain()
    assert len(workspace.sandbox.calls_to(ADD)) == 1


def test_a_user_whose_retirement_failed_is_not_rotated_again(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(800, 80, name=OLD)
    _run(workspace, slack, f"rotate {OLD}")
    assert workspace.app is not None
    (rotation,) = workspace.app.core.rotations.under_way()
    jobs = JobStore(workspace.database)
    workspace.sandbox.fail_next("general", path=EDIT, times=RETIRE_ATTEMPTS)
    for _ in range(RETIRE_ATTEMPTS):
        assert jobs.due_now(rotation.key, now=datetime.now(UTC))
        workspace.app.run_schedule()
    assert workspace.sandbox.users[OLD].status == "Enable"  # reported, still retiring
    _run(workspace, slack, f"rotate {OLD}")
    assert len(workspace.sandbox.calls_to(ADD)) == 1


def test_done_while_the_retirement_runs_schedules_no_second_retirement(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(800, 80, name=OLD)
    _run(workspace, slack, f"rotate {OLD}")
    assert workspace.app is not None
    (rotation,) = workspace.app.core.rotations.under_way()
    jobs, now = JobStore(workspace.database), datetime.now(UTC)
    # The grace period ends: another process claims the retirement and is at Sarv.
    assert jobs.due_now(rotation.key, now=now)
    claimed = jobs.claim_due(
        owner="other-process", now=now, lease_until=now + timedelta(minutes=5), kinds=[RETIRE_OLD]
    )
    assert [job.key for job in claimed] == [rotation.key]
    (done,) = [d for d in dms_to(workspace, BOB) if "click *Done*" in str(d.args)]
    slack.click(
        "retire_old", user_id=BOB, message=kept_message(workspace, done), channel_id="D0BOB"
    )
    workspace.drain()
    assert len(jobs.of_kind(RETIRE_OLD)) == 1


def test_a_guest_owner_cannot_retire_the_old_user(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(800, 80, name=OLD)
    CatalogueStore(workspace.database).write(OLD, owner_id=GUEST)
    _run(workspace, slack, f"rotate {OLD}")
    assert workspace.app is not None
    (rotation,) = workspace.app.core.rotations.under_way()
    assert JobStore(workspace.database).due_now(
        f"{REMIND_RETIRE}:{rotation.key}", now=datetime.now(UTC)
    )
    workspace.app.run_schedule()
    reminder = dms_to(workspace, GUEST)[-1]
    slack.click(
        "retire_old", user_id=GUEST, message=kept_message(workspace, reminder), channel_id="D0G"
    )
    workspace.drain()
    assert workspace.sandbox.users[OLD].status == "Enable"


def test_rotating_a_disabled_user_does_not_make_an_enabled_one(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(800, 80, name=OLD, status="Disable")
    _run(workspace, slack, f"rotate {OLD}")
    enabled = [u.name for u in workspace.sandbox.users.values() if u.status == "Enable"]
    assert enabled == []


def test_rotating_during_a_time_bound_raise_does_not_keep_the_raise(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(1000, 100, name=OLD)
    _run(workspace, slack, f"edit {OLD} hourly=5000 for 1h")
    _run(workspace, slack, f"rotate {OLD}")
    (new,) = set(workspace.sandbox.users) - {OLD}
    assert workspace.app is not None
    jobs = JobStore(workspace.database)
    for timed in workspace.app.core.reverts.pending():
        assert jobs.due_now(timed.key, now=datetime.now(UTC))
    workspace.app.run_schedule()
    assert workspace.sandbox.users[new].hourly_limit == 100


def test_the_owner_of_a_retired_user_is_not_told_to_rotate_it(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    assert workspace.app is not None
    policy = DEMO_POLICY + "\n[rotation]\nmax_age_days = 90\n"
    workspace.app.core.permissions.policy = parse_policy(policy, source="policy")
    workspace.sandbox.add_user(800, 80, name=OLD)
    CatalogueStore(workspace.database).write(OLD, label="billing-api", owner_id=ALICE)
    AuditLog(workspace.database).append(
        actor_id=BOB,
        channel_id=OPS,
        action="reset",
        outcome="done",
        target=OLD,
        at=datetime.now(UTC) - timedelta(days=120),
    )
    _run(workspace, slack, "rotate billing-api yearly rotation")
    (rotation,) = workspace.app.core.rotations.under_way()
    assert JobStore(workspace.database).due_now(rotation.key, now=datetime.now(UTC))
    workspace.app.run_schedule()
    assert workspace.sandbox.users[OLD].status == "Disable"
    workspace.app.run_schedule(everything_now=True)
    told = [str(c.args.get("text")) for c in dms_to(workspace, ALICE)]
    assert not [t for t in told if "days old" in t and OLD in t]
