"""Rotation without downtime: a new user replaces the old, which is retired later, once."""

from __future__ import annotations

from datetime import UTC, datetime

from sarvbot.core import Rotation
from sarvbot.core.rotations import REMIND_RETIRE
from sarvbot.core.schedule import RETIRE_ATTEMPTS
from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, DEV, OPS, LocalWorkspace
from sarvbot.store import AuditLog, CatalogueStore, JobStore
from tests.support import cards_in, dms_to, kept_message

OLD = "smtp90001"
ADD, EDIT = "settings/addSmtp", "settings/editSmtp"


def _new_user(workspace: LocalWorkspace) -> str:
    (new,) = set(workspace.sandbox.users) - {OLD}
    return new


def _rotation(workspace: LocalWorkspace) -> Rotation:
    assert workspace.app is not None
    (rotation,) = workspace.app.core.rotations.under_way()
    return rotation


def _labelled_old(workspace: LocalWorkspace) -> None:
    workspace.sandbox.add_user(800, 80, name=OLD)
    CatalogueStore(workspace.database).write(
        OLD, label="billing-api", owner_id=ALICE, note="invoices"
    )


def test_ops_rotates_a_user_and_the_old_one_is_retired_on_done(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    _labelled_old(workspace)
    slack.command("/smtp", "rotate billing-api yearly rotation", user_id=BOB, channel_id=OPS)
    workspace.drain()
    new = _new_user(workspace)
    assert (
        workspace.sandbox.users[new].total_limit,
        workspace.sandbox.users[new].hourly_limit,
    ) == (
        800,
        80,
    )
    catalogue = CatalogueStore(workspace.database)
    moved, old = catalogue.get(new), catalogue.get(OLD)
    assert moved is not None
    assert (moved.label, moved.owner_id, moved.note) == ("billing-api", ALICE, "invoices")
    assert old is not None
    assert (old.label, old.retiring) == (None, True)
    password = workspace.sandbox.users[new].password
    (secret,) = [c for c in workspace.slack.calls if password in str(c.args)]
    assert (secret.method, secret.args["user"]) == ("chat.postEphemeral", BOB)
    assert workspace.sandbox.users[OLD].status == "Enable"

    (done_dm,) = dms_to(workspace, BOB)
    assert "click *Done* to disable" in str(done_dm.args["blocks"])
    slack.click(
        "retire_old", user_id=BOB, message=kept_message(workspace, done_dm), channel_id="D0BOB"
    )
    workspace.drain()
    assert workspace.sandbox.users[OLD].status == "Disable"
    assert workspace.sandbox.users[new].status == "Enable"
    posted = " ".join(str(c.args.get("text")) for c in workspace.slack.calls_to("chat.postMessage"))
    assert f"rotated `{OLD}`: `{new}` replaces it" in posted
    assert f"sarvbot disabled `{OLD}`: `{new}` replaced it." in posted
    assert len(workspace.sandbox.calls_to(ADD)) == 1
    outcomes = [(e.action, e.outcome) for e in AuditLog(workspace.database).latest(limit=50)]
    assert ("rotate", "retired") in outcomes
    assert ("rotate", "started") in outcomes
    assert ("rotate", "delivered") in outcomes


def test_the_old_user_is_retired_when_the_grace_period_ends_after_a_reminder(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    _labelled_old(workspace)
    slack.command("/smtp", f"rotate {OLD} grace=48h", user_id=BOB, channel_id=OPS)
    workspace.drain()
    rotation = _rotation(workspace)
    jobs, now = JobStore(workspace.database), datetime.now(UTC)
    assert (rotation.retire_at - now).total_seconds() > 47 * 3600
    assert jobs.due_now(f"{REMIND_RETIRE}:{rotation.key}", now=now)
    assert workspace.app is not None
    workspace.app.run_schedule()
    (reminder,) = dms_to(workspace, ALICE)  # the owner; bob, who asked, hears too
    assert f"sarvbot disables `{OLD}`" in str(reminder.args["blocks"])
    assert len(dms_to(workspace, BOB)) == 2
    assert jobs.due_now(rotation.key, now=now)
    workspace.app.run_schedule()
    assert workspace.sandbox.users[OLD].status == "Disable"
    assert workspace.app.core.rotations.under_way() == []


def test_a_rotation_whose_retirement_keeps_failing_is_reported_and_resumed_without_a_new_add(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    _labelled_old(workspace)
    slack.command("/smtp", f"rotate {OLD}", user_id=BOB, channel_id=OPS)
    workspace.drain()
    rotation = _rotation(workspace)
    jobs = JobStore(workspace.database)
    workspace.sandbox.fail_next("general", path=EDIT, times=RETIRE_ATTEMPTS)
    assert workspace.app is not None
    for _ in range(RETIRE_ATTEMPTS):  # each try finds Sarv down; the job waits, then again
        assert jobs.due_now(rotation.key, now=datetime.now(UTC))
        workspace.app.run_schedule()
    assert workspace.sandbox.users[OLD].status == "Enable"
    failed = [d for d in dms_to(workspace, BOB) if "could not disable" in str(d.args)]
    assert len(failed) == 1
    assert "It is still enabled" in str(failed[0].args["blocks"])
    assert [d for d in dms_to(workspace, ALICE) if "could not disable" in str(d.args)]

    slack.click(
        "retire_old", user_id=BOB, message=kept_message(workspace, failed[0]), channel_id="D0BOB"
    )
    workspace.drain()
    assert workspace.sandbox.users[OLD].status == "Disable"
    assert len(workspace.sandbox.calls_to(ADD)) == 1


def test_dev_requests_a_rotation_and_ops_approves_it(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    _labelled_old(workspace)
    slack.command("/smtp", "rotate billing-api grace=2h leaked key", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    assert workspace.sandbox.calls_to(ADD) == []
    (posted,) = cards_in(workspace.slack, APPROVALS)
    message = workspace.slack.messages[(APPROVALS, posted.response["ts"])]
    assert f"rotate `{OLD}` (the old user stays enabled for 2 hours)" in str(message["blocks"])
    slack.click("approve_request", user_id=BOB, message=message, channel_id=APPROVALS)
    workspace.drain()
    new = _new_user(workspace)
    password = workspace.sandbox.users[new].password
    holders = [c for c in workspace.slack.calls if password in str(c.args)]
    assert [(c.method, c.args["user"]) for c in holders] == [("chat.postEphemeral", ALICE)]
    assert [d for d in dms_to(workspace, ALICE) if "click *Done*" in str(d.args["blocks"])]


def test_a_user_being_rotated_is_not_rotated_again(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    _labelled_old(workspace)
    slack.command("/smtp", f"rotate {OLD}", user_id=BOB, channel_id=OPS)
    workspace.drain()
    slack.command("/smtp", f"rotate {OLD}", user_id=BOB, channel_id=OPS)
    workspace.drain()
    assert len(workspace.sandbox.calls_to(ADD)) == 1
    replies = "\n".join(str(p.body) for p in workspace.slack.posts)
    assert f"{OLD} is being rotated to" in replies


def test_only_the_requester_or_owner_retires(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=OLD)
    slack.command("/smtp", f"rotate {OLD}", user_id=BOB, channel_id=OPS)
    workspace.drain()
    (done_dm,) = dms_to(workspace, BOB)
    slack.click(
        "retire_old", user_id=ALICE, message=kept_message(workspace, done_dm), channel_id="D0AL"
    )
    workspace.drain()
    assert workspace.sandbox.users[OLD].status == "Enable"


def test_a_rotation_whose_password_did_not_arrive_keeps_the_old_user_until_done(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    _labelled_old(workspace)
    workspace.slack.fail_next("conversations.open", "user_disabled")
    slack.command("/smtp", f"rotate {OLD}", user_id=BOB, channel_id=OPS)
    workspace.drain()
    assert workspace.app is not None
    assert workspace.app.core.rotations.under_way() == []  # no grace period runs out
    (done_dm,) = [d for d in dms_to(workspace, BOB) if "click *Done*" in str(d.args["blocks"])]
    assert "stays enabled until then" in str(done_dm.args["blocks"])
    workspace.app.run_schedule(everything_now=True)
    assert workspace.sandbox.users[OLD].status == "Enable"
    slack.click(
        "retire_old", user_id=BOB, message=kept_message(workspace, done_dm), channel_id="D0BOB"
    )
    workspace.drain()
    assert workspace.sandbox.users[OLD].status == "Disable"
    assert len(workspace.sandbox.calls_to(ADD)) == 1
