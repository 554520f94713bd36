"""A maximum password age: list marks old passwords, and owners hear once a week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sarvbot.core.schedule import CHECK_CREDENTIAL_AGE
from sarvbot.policy import PolicyError, parse_policy
from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import ALICE, BOB, DEMO_POLICY, OPS, LocalWorkspace
from sarvbot.store import AuditLog, CatalogueStore, JobStore

OLD, FRESH = "smtp95001", "smtp95002"


def _made(workspace: LocalWorkspace, name: str, days_ago: int) -> None:
    """sarvbot reset ``name``'s password ``days_ago`` days ago (as its audit log says)."""
    AuditLog(workspace.database).append(
        actor_id=BOB,
        channel_id=OPS,
        action="reset",
        outcome="done",
        target=name,
        at=datetime.now(UTC) - timedelta(days=days_ago),
    )


def _dms_to(workspace: LocalWorkspace, user_id: str) -> list[str]:
    return [
        str(c.args.get("text"))
        for c in workspace.slack.calls_to("chat.postMessage")
        if c.args["channel"] == user_id
    ]


@pytest.fixture
def aged(workspace: LocalWorkspace) -> LocalWorkspace:
    assert workspace.app is not None
    policy = DEMO_POLICY + "\n[rotation]\nmax_age_days = 90\n"
    workspace.app.core.permissions.policy = parse_policy(policy, source="policy")
    for name in (OLD, FRESH):
        workspace.sandbox.add_user(name=name)
    CatalogueStore(workspace.database).write(OLD, label="billing-api", owner_id=ALICE)
    _made(workspace, OLD, 120)
    _made(workspace, FRESH, 10)
    return workspace


def test_list_marks_passwords_past_the_maximum_age(
    aged: LocalWorkspace, slack: SlackAppClient
) -> None:
    slack.command("/smtp", "list", user_id=BOB, channel_id=OPS)
    aged.drain()
    listed = str(aged.slack.posts[-1].body)
    assert "🔑 password 120 days old" in listed
    assert "password 10 days old" not in listed


def test_the_owner_is_reminded_once_a_week_however_often_the_check_runs(
    aged: LocalWorkspace,
) -> None:
    assert aged.app is not None
    jobs = JobStore(aged.database)
    for _ in range(3):
        aged.app.run_schedule(everything_now=True)
        assert jobs.due_now(CHECK_CREDENTIAL_AGE, now=datetime.now(UTC))
    (told,) = _dms_to(aged, ALICE)
    assert "The password of `smtp95001` (billing-api), which you own, is 120 days old" in told
    assert "/smtp rotate billing-api" in told
    assert _dms_to(aged, BOB) == []


@pytest.mark.parametrize("value", ["0", "-3", '"ninety"', "true", "4000"])
def test_a_bad_maximum_age_is_one_clear_line(value: str) -> None:
    with pytest.raises(PolicyError, match="max_age_days must be a whole number of days"):
        parse_policy(f"[rotation]\nmax_age_days = {value}\n", source="p.toml")
