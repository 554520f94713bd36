"""A workflow step acknowledged by a process that then dies must still be completed.

A real ``sarvbot serve`` with one worker thread is busy with a reset that hangs at Sarv;
a workflow step is acknowledged (Slack does not deliver it again) and killed with the
process (SIGKILL). Every other way a step can end completes it once; this one must too.
"""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sarvbot.core.schedule import WATCH_ATTEMPTS, WATCH_STEP
from sarvbot.slack import sentences
from sarvbot.slack.steps import CREATE_USER, claim, run_step, watch
from sarvbot.standin import user_context
from sarvbot.standin.workspace import BOB, OPS, LocalWorkspace
from tests.support import app_env, dms_to, serving

RESET = "settings/resetSmtpPassword"
COMPLETIONS = ("functions.completeSuccess", "functions.completeError")


def test_step_acked_by_a_process_killed_before_it_ran_is_completed_by_another(
    tmp_path: Path,
) -> None:
    """Broken: step_executed queues run_step with no receipt and nothing in the database
    (the claim and the "lost" completion job are made only once run_step starts). A
    process killed while the step waits in its queue (or between the claim and
    _expect_end: users.info, conversations.members, Sarv's listing) leaves the execution
    running forever: no process, no ``sarvbot expire``, ever completes it, and its
    requester is never told. README promises each execution is completed exactly once and
    that restarts lose nothing.

    Should: like a change's receipt, the acknowledged step is recorded durably at once, so
    that once the dead process's lease lapses another process completes it with an error
    (the outcome unknown or never run) and tells the requester by DM.
    """
    with LocalWorkspace(f"sqlite:///{tmp_path / 'sarvbot.db'}") as workspace:
        workspace.sandbox.add_user(name="smtp50001")
        workspace.sandbox.fail_next("hang", path=RESET, after_apply=True)
        env = app_env(workspace, tmp_path, SARVBOT_WORKERS="1")
        execution = workspace.slack.start_function(CREATE_USER)
        with serving(env, start_new_session=True) as server:
            client = server.client(workspace)
            try:
                assert client.command("/smtp", "reset smtp50001", user_id=BOB, channel_id=OPS).ok
                assert workspace.sandbox.wait_for_call(RESET, timeout=10)
                inputs = {
                    "channel": OPS,
                    "requester": user_context(BOB),
                    "total_limit": 500,
                    "hourly_limit": 50,
                }
                answer = client.function_executed(
                    CREATE_USER,
                    inputs,
                    function_execution_id=execution.id,
                    bot_access_token=execution.bot_access_token,
                )
                assert answer.status_code == 200  # acknowledged: Slack will not send it again
            finally:
                client.close()
                os.killpg(server.process.pid, signal.SIGKILL)
                server.process.wait(timeout=10)

        assert workspace.app is not None
        later = datetime.now(UTC) + timedelta(days=1)
        workspace.app.report_lost_work(now=later)
        workspace.app.scheduler.run_due(now=later)
        workspace.drain()

        completed = [c.method for c in workspace.slack.calls if c.method in COMPLETIONS]
        assert completed == ["functions.completeError"], (
            f"the step acked by the killed process was never completed: {completed}; "
            f"execution state {workspace.slack.function_execution(execution.id).state}"
        )


def test_a_step_taken_by_a_process_that_died_before_it_was_in_hand_is_ended_as_lost(
    tmp_path: Path,
) -> None:
    with LocalWorkspace(f"sqlite:///{tmp_path / 'sarvbot.db'}") as workspace:
        assert workspace.app is not None
        ctx = workspace.app.context
        execution = workspace.slack.start_function(CREATE_USER)
        # The watch is written before the step is acknowledged; the process then claims the
        # step, and dies before its request or its end is written.
        watch(ctx, execution.id, {"requester": user_context(BOB)})
        assert claim(ctx, execution.id)
        later = datetime.now(UTC) + timedelta(minutes=5)
        outcomes = []
        for hour in range(WATCH_ATTEMPTS + 1):
            ran = workspace.app.scheduler.run_due(now=later + timedelta(hours=hour))
            outcomes += [r.outcome for r in ran if r.job.kind == WATCH_STEP]
        assert outcomes == ["again"] * (WATCH_ATTEMPTS - 1) + ["done"]
        completed = workspace.slack.function_execution(execution.id)
        assert completed.error == sentences.STEP_LOST
        assert sentences.STEP_LOST_DM in [str(c.args["text"]) for c in dms_to(workspace, BOB)]


def test_a_watched_step_never_taken_is_ended_as_not_run_and_never_runs_later(
    tmp_path: Path,
) -> None:
    with LocalWorkspace(f"sqlite:///{tmp_path / 'sarvbot.db'}") as workspace:
        assert workspace.app is not None
        ctx = workspace.app.context
        execution = workspace.slack.start_function(CREATE_USER)
        watch(ctx, execution.id, {"requester": user_context(BOB)})
        workspace.app.scheduler.run_due(now=datetime.now(UTC) + timedelta(minutes=5))
        assert workspace.slack.function_execution(execution.id).error == sentences.STEP_NOT_RUN
        assert sentences.STEP_NOT_RUN_DM in [str(c.args["text"]) for c in dms_to(workspace, BOB)]
        # A delivery arriving after all changes nothing: the step is claimed as not run.
        inputs = {
            "channel": OPS,
            "requester": user_context(BOB),
            "total_limit": 5,
            "hourly_limit": 1,
        }
        run_step(ctx, CREATE_USER, execution.id, inputs)
        assert workspace.sandbox.calls_to("settings/addSmtp") == []
