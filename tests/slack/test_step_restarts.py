"""A workflow step acknowledged by a process that then dies must still be completed.

A real ``sarvbot serve`` with one worker thread is busy with a reset that hangs at Sarv;
a workflow step is acknowledged (Slack does not deliver it again) and killed with the
process (SIGKILL). Every other way a step can end completes it once; this one must too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sarvbot.core.schedule import COMPLETE_STEP, WATCH_ATTEMPTS, WATCH_STEP, DueJob
from sarvbot.slack import sentences
from sarvbot.slack.context import SlackContext
from sarvbot.slack.steps import CREATE_USER, claim, complete_step, run_step, watch
from sarvbot.standin import FunctionExecution, user_context
from sarvbot.standin.workspace import BOB, OPS, LocalWorkspace
from tests.slack.steps import completions, create_inputs, deliver, killed_after, recover_at
from tests.support import dms_to

RESET = "settings/resetSmtpPassword"


def _watched(workspace: LocalWorkspace) -> tuple[SlackContext, FunctionExecution]:
    """A create step of bob's whose watch is written, as it is before the step is acked."""
    assert workspace.app is not None
    ctx = workspace.app.context
    execution = workspace.slack.start_function(CREATE_USER)
    watch(ctx, execution.id, {"requester": user_context(BOB)})
    return ctx, execution


def _told_bob(workspace: LocalWorkspace) -> list[str]:
    return [str(c.args["text"]) for c in dms_to(workspace, BOB)]


def test_step_acked_by_a_process_killed_before_it_ran_is_completed_by_another(
    workspace: LocalWorkspace, tmp_path: Path
) -> None:
    """A step acknowledged by a process killed while the step waits in its queue (or
    between the claim and _expect_end: users.info, conversations.members, Sarv's listing)
    is still completed exactly once: as a change's receipt is, the acknowledged step is
    recorded durably at once, so that once the dead process's lease lapses another process
    completes it with an error (the outcome unknown or never run) and tells the requester
    by DM. README promises each execution is completed exactly once and that restarts lose
    nothing.
    """
    workspace.sandbox.add_user(name="smtp50001")
    workspace.sandbox.fail_next("hang", path=RESET, after_apply=True)
    execution = workspace.slack.start_function(CREATE_USER)
    with killed_after(workspace, tmp_path) as client:
        assert client.command("/smtp", "reset smtp50001", user_id=BOB, channel_id=OPS).ok
        assert workspace.sandbox.wait_for_call(RESET, timeout=10)
        answer = deliver(client, CREATE_USER, create_inputs(total_limit=500), execution)
        assert answer.status_code == 200  # acknowledged: Slack will not send it again

    recover_at(workspace, datetime.now(UTC) + timedelta(days=1))

    completed = completions(workspace)
    assert completed == ["functions.completeError"], (
        f"the step acked by the killed process was never completed: {completed}; "
        f"execution state {workspace.slack.function_execution(execution.id).state}"
    )


def test_a_step_taken_by_a_process_that_died_before_it_was_in_hand_is_ended_as_lost(
    workspace: LocalWorkspace,
) -> None:
    # The watch is written before the step is acknowledged; the process then claims the
    # step, and dies before its request or its end is written.
    ctx, execution = _watched(workspace)
    assert claim(ctx, execution.id)
    assert workspace.app is not None
    later = datetime.now(UTC) + timedelta(minutes=5)
    outcomes = []
    for hour in range(WATCH_ATTEMPTS + 1):
        ran = workspace.app.scheduler.run_due(now=later + timedelta(hours=hour))
        outcomes += [r.outcome for r in ran if r.job.kind == WATCH_STEP]
    assert outcomes == ["again"] * (WATCH_ATTEMPTS - 1) + ["done"]
    completed = workspace.slack.function_execution(execution.id)
    assert completed.error == sentences.STEP_LOST
    assert sentences.STEP_LOST_DM in _told_bob(workspace)


def test_a_watched_step_never_taken_is_ended_as_not_run_and_never_runs_later(
    workspace: LocalWorkspace,
) -> None:
    ctx, execution = _watched(workspace)
    assert workspace.app is not None
    workspace.app.scheduler.run_due(now=datetime.now(UTC) + timedelta(minutes=5))
    assert workspace.slack.function_execution(execution.id).error == sentences.STEP_NOT_RUN
    assert sentences.STEP_NOT_RUN_DM in _told_bob(workspace)
    # A delivery arriving after all changes nothing: the step is claimed as not run.
    run_step(ctx, CREATE_USER, execution.id, create_inputs(total_limit=5, hourly_limit=1))
    assert workspace.sandbox.calls_to("settings/addSmtp") == []


def test_the_lost_notice_of_a_step_is_sent_once_though_its_job_runs_again(
    workspace: LocalWorkspace,
) -> None:
    assert workspace.app is not None
    execution = workspace.slack.start_function(CREATE_USER)
    payload = {
        "function_execution_id": execution.id,
        "error": sentences.STEP_LOST,
        "requester_id": BOB,
        "channel_id": OPS,
        "action": "add",
    }
    job = DueJob(
        1,
        COMPLETE_STEP,
        f"{COMPLETE_STEP}:{execution.id}",
        datetime.now(UTC),
        payload,
        "running",
        "me",
        1,
        None,
    )
    # As if the process died after telling Bob, before the job was marked done.
    complete_step(workspace.app.context, job)
    complete_step(workspace.app.context, job)
    assert completions(workspace) == ["functions.completeError", "functions.completeError"]
    lost = sentences.step_lost("add", OPS)
    assert [t for t in _told_bob(workspace) if t == lost] == [lost]
