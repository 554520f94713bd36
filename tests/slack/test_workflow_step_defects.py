"""Defects of the Workflow Builder steps, each shown through signed function_executed
events against the running app (see tests/slack/test_workflow_steps.py for the happy paths).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sarvbot.slack.steps import CREATE_USER, REQUEST_CHANGE
from sarvbot.standin import FunctionExecution, SlackAppClient, user_context
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, CAROL, DEV, OPS, LocalWorkspace
from sarvbot.store import ApprovalStore, CatalogueStore
from tests.support import app_env, cards_in, dms_to, serving


def _run_step(
    workspace: LocalWorkspace,
    slack: SlackAppClient,
    callback_id: str,
    inputs: Any,
    *,
    execution: FunctionExecution | None = None,
) -> FunctionExecution:
    execution = execution or workspace.slack.start_function(callback_id)
    answer = slack.function_executed(
        callback_id,
        inputs,
        function_execution_id=execution.id,
        bot_access_token=execution.bot_access_token,
        event_id=f"Ev{secrets.token_hex(8).upper()}",
    )
    assert answer.status_code == 200
    workspace.drain()
    return execution


def _completions(workspace: LocalWorkspace) -> list[str]:
    return [
        c.method
        for c in workspace.slack.calls
        if c.method in ("functions.completeSuccess", "functions.completeError")
    ]


def test_create_step_naming_a_channel_the_requester_is_not_in_does_not_get_its_rights(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """Broken: steps.read_create_user/_run_order (and flows.authorize) never check that the
    requester is in the channel the step names. alice, who is only in #dev (where `add`
    must be approved), names #ops and gets an SMTP user made at once, password in her DM,
    with no approval. A /smtp command only carries a channel its user could type in.
    Should: refuse the step with a readable error (requester not in that channel), make
    no user at Sarv and complete the step with completeError.
    """
    inputs = {
        "channel": OPS,
        "requester": user_context(ALICE),
        "total_limit": 1000,
        "hourly_limit": 50,
    }
    execution = _run_step(workspace, slack, CREATE_USER, inputs)

    assert workspace.sandbox.calls_to("settings/addSmtp") == []
    assert workspace.sandbox.users == {}
    assert workspace.slack.function_execution(execution.id).state == "failed"


def test_request_step_naming_a_channel_the_requester_is_not_in_does_not_get_its_rights(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """Broken: steps._run_order posts an approval card for a requester who is not in the
    channel whose rights it uses: carol (only in #ops and #ops-approvals) names #dev, a
    channel she cannot type /smtp in, and gets its request rights. Should: refuse with a
    readable error, post no card, and complete the step with completeError.
    """
    workspace.sandbox.add_user(name="smtp61001", hourly_limit=100)
    inputs = {
        "channel": DEV,
        "requester": user_context(CAROL),
        "smtp_user": "smtp61001",
        "change": "edit hourly=500",
        "reason": "more mail",
    }
    execution = _run_step(workspace, slack, REQUEST_CHANGE, inputs)

    assert ApprovalStore(workspace.database).pending() == []
    assert cards_in(workspace.slack, APPROVALS) == []
    assert workspace.slack.function_execution(execution.id).state == "failed"


def test_one_execution_delivered_twice_creates_one_smtp_user(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """Broken: listeners/functions.step_executed and steps.run_step key nothing on the
    function_execution_id (only the event_id is remembered by the front door), so the same
    execution delivered in a second event runs again: Sarv makes a second SMTP user and a
    second password goes out, for one workflow run. Should: the second delivery of an
    execution already taken changes nothing (one user, one password, one completion).
    """
    inputs = {
        "channel": OPS,
        "requester": user_context(BOB),
        "total_limit": 1000,
        "hourly_limit": 50,
    }
    execution = _run_step(workspace, slack, CREATE_USER, inputs)
    _run_step(workspace, slack, CREATE_USER, inputs, execution=execution)

    assert len(workspace.sandbox.calls_to("settings/addSmtp")) == 1
    assert len(workspace.sandbox.users) == 1
    assert _completions(workspace) == ["functions.completeSuccess"]


def test_one_request_execution_delivered_twice_raises_one_request(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """Broken: the request step runs again for a second delivery of the same
    function_execution_id: two pending requests, two approval cards, both waiting on one
    step (approving either runs the change; the other still asks ops). Should: one request
    per execution; the second delivery changes nothing.
    """
    workspace.sandbox.add_user(name="smtp61002", hourly_limit=100)
    inputs = {
        "channel": DEV,
        "requester": user_context(ALICE),
        "smtp_user": "smtp61002",
        "change": "reset",
        "reason": "leaked",
    }
    execution = _run_step(workspace, slack, REQUEST_CHANGE, inputs)
    _run_step(workspace, slack, REQUEST_CHANGE, inputs, execution=execution)

    assert len(ApprovalStore(workspace.database).pending()) == 1
    assert len([c for c in cards_in(workspace.slack, APPROVALS) if c.ok]) == 1


@pytest.mark.parametrize(
    "extra",
    [
        {"label": "billing owner=U0CAROL"},
        {"hourly_limit": "50 owner=U0CAROL"},
        {"total_limit": "1000 50", "hourly_limit": "owner=U0CAROL"},
    ],
)
def test_create_step_inputs_cannot_smuggle_command_words(
    workspace: LocalWorkspace, slack: SlackAppClient, extra: dict[str, Any]
) -> None:
    """Broken: steps.read_create_user pastes the label and the limits into /smtp text
    (``_whole`` takes any string, ``_text`` any label), so an input with spaces adds words
    of its own: here ``owner=U0CAROL``, and the user bob's workflow creates is owned by
    carol, although the step promises "the requester owns it" and the inputs were not a
    label and whole numbers. Should: refuse the step ("label"/"hourly_limit must be ...")
    and make no user.
    """
    inputs = {
        "channel": OPS,
        "requester": user_context(BOB),
        "total_limit": 1000,
        "hourly_limit": 50,
        **extra,
    }
    execution = _run_step(workspace, slack, CREATE_USER, inputs)

    owners = [e.owner_id for e in CatalogueStore(workspace.database).all()]
    assert CAROL not in owners
    assert workspace.sandbox.users == {}
    assert workspace.slack.function_execution(execution.id).state == "failed"


def test_a_step_that_arrives_while_the_database_is_gone_is_completed_with_an_error(
    tmp_path: Path,
) -> None:
    """Broken: with the database gone, the work queue's replay check (WorkQueue._run ->
    ledger.first_sight) raises DatabaseUnavailable before steps.run_step ever runs; the
    queue tells "nobody" (respond is None for a step) and the execution is never completed:
    the workflow hangs at the step forever and its person is told nothing. steps.finish has
    a best-effort completion for exactly this case, but it is never reached. Should: the
    step ends with completeError (STEP_DATABASE_DOWN), and nothing is changed at Sarv.
    """
    folder = tmp_path / "db"
    folder.mkdir()
    with LocalWorkspace(f"sqlite:///{folder / 'sarvbot.db'}") as workspace:
        slack = workspace.client()
        try:
            shutil.rmtree(folder)
            workspace.database.dispose()  # pooled connections still hold the deleted file
            inputs = {
                "channel": OPS,
                "requester": user_context(BOB),
                "total_limit": 1000,
                "hourly_limit": 50,
            }
            execution = _run_step(workspace, slack, CREATE_USER, inputs)

            assert workspace.sandbox.calls_to("settings/addSmtp") == []
            ended = workspace.slack.function_execution(execution.id)
            assert ended.state == "failed", "the workflow waits at the step forever"
            assert ended.error is not None
            assert "database" in ended.error
        finally:
            slack.close()


def test_a_create_step_whose_process_dies_after_sarvs_add_is_completed_and_its_person_told(
    workspace: LocalWorkspace, tmp_path: Path
) -> None:
    """Broken: listeners/functions.step_executed submits the step with no receipt (unlike a
    command, whose WorkLedger receipt lets report_lost_work tell its person), and the
    completion job is only scheduled at the very end of steps._run_order. A process killed
    while Sarv's add is under way leaves the execution running at Slack forever: no other
    process or restart completes it, and the requester is never told that an SMTP user may
    have been made. Should: after the dead process's lease lapses, another process ends the
    step (completeError, saying the outcome is unknown) and tells the requester by DM, and
    never runs the add again.
    """
    workspace.sandbox.fail_next("hang", path="settings/addSmtp", after_apply=True)
    env = app_env(workspace, tmp_path, SARVBOT_WORKERS="1")
    execution = workspace.slack.start_function(CREATE_USER)
    with serving(env, start_new_session=True) as server:
        client = server.client(workspace)
        try:
            inputs = {
                "channel": OPS,
                "requester": user_context(BOB),
                "total_limit": 1000,
                "hourly_limit": 50,
            }
            assert client.function_executed(
                CREATE_USER,
                inputs,
                function_execution_id=execution.id,
                bot_access_token=execution.bot_access_token,
            ).ok
            assert workspace.sandbox.wait_for_call("settings/addSmtp", timeout=10)
        finally:
            client.close()
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)

    assert workspace.app is not None
    later = datetime.now(UTC) + timedelta(minutes=5)
    workspace.app.report_lost_work(now=later)
    workspace.app.scheduler.run_due(later)
    workspace.drain()

    assert len(workspace.sandbox.calls_to("settings/addSmtp")) == 1
    ended = workspace.slack.function_execution(execution.id)
    assert ended.state != "running", "the workflow waits at the step forever"
    assert dms_to(workspace, BOB), "bob is never told his step's user may exist"


def test_slacks_retry_of_a_step_event_while_restarting_does_not_end_the_waiting_step(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """Broken: listeners/functions.step_executed turns a step away while the queue is busy
    or restarting by completing it at once with STEP_BUSY ("nothing was changed"), without
    the replay check the queue applies to every other refusal (WorkQueue._send_refusal
    skips a request already let in). Slack's retry of an event already handled (same
    event_id) that lands while the process drains so fails a step that is waiting on its
    approval: the workflow reports "nothing was changed" and moves on, and the approval
    then still runs the change. Should: a retry (or replay) of a handled event changes
    nothing; the step stays running until its request ends.
    """
    workspace.sandbox.add_user(name="smtp61003", hourly_limit=100)
    inputs = {
        "channel": DEV,
        "requester": user_context(ALICE),
        "smtp_user": "smtp61003",
        "change": "edit hourly=500",
        "reason": "more mail",
    }
    execution = workspace.slack.start_function(REQUEST_CHANGE)
    event_id = f"Ev{secrets.token_hex(8).upper()}"
    for _ in range(2):
        assert slack.function_executed(
            REQUEST_CHANGE,
            inputs,
            function_execution_id=execution.id,
            bot_access_token=execution.bot_access_token,
            event_id=event_id,
        ).ok
        workspace.drain()
        assert workspace.slack.function_execution(execution.id).state == "running"
        assert workspace.app is not None
        workspace.app.context.work.stop_taking_work()  # a deploy: the process drains

    assert len(ApprovalStore(workspace.database).pending()) == 1
    assert _completions(workspace) == []
