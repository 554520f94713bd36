"""Workflow Builder steps end to end: signed function_executed events, the approval card,
and exactly one functions.completeSuccess or completeError per execution.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from sqlalchemy import MetaData, select

from sarvbot.core import RequestState
from sarvbot.core.schedule import COMPLETE_STEP
from sarvbot.slack.steps import CREATE_USER, REQUEST_CHANGE
from sarvbot.standin import FunctionExecution, SlackAppClient, SlackChannel, user_context
from sarvbot.standin.workspace import (
    ALICE,
    APPROVALS,
    BOB,
    CAROL,
    DEV,
    GUEST,
    OPS,
    LocalWorkspace,
)
from sarvbot.store import ApprovalStore, CatalogueStore
from tests.slack.steps import completions, create_inputs, deliver, killed_after, recover_at
from tests.support import (
    app_env,
    cards_in,
    dms_to,
    lose_database,
    own_workspace,
    request_state,
    serving_many,
    wait_until,
)


def _run_step(
    workspace: LocalWorkspace,
    slack: SlackAppClient,
    callback_id: str,
    inputs: Any,
    *,
    execution: FunctionExecution | None = None,
) -> FunctionExecution:
    """Deliver a step (a new execution, or ``execution`` again) and wait for its work."""
    execution = execution or workspace.slack.start_function(callback_id)
    assert deliver(slack, callback_id, inputs, execution).status_code == 200
    workspace.drain()
    return execution


def _edit_request(
    user: str, change: str = "edit hourly=500", requester: str = ALICE
) -> dict[str, Any]:
    return {
        "channel": DEV,
        "requester": user_context(requester),
        "smtp_user": user,
        "change": change,
        "reason": "billing sends more mail",
    }


def _card(workspace: LocalWorkspace) -> dict[str, Any]:
    posted = cards_in(workspace.slack, APPROVALS)
    assert posted, "no approval card was posted"
    return workspace.slack.messages[(APPROVALS, posted[-1].response["ts"])]


def _deny(workspace: LocalWorkspace, slack: SlackAppClient) -> None:
    slack.click("deny_request", user_id=BOB, message=_card(workspace), channel_id=APPROVALS)
    workspace.drain()
    (view,) = workspace.slack.views.values()
    assert slack.submit_view(view, {"reason": {"value": "not now"}}, user_id=BOB).ok
    workspace.drain()


def _stored_text(workspace: LocalWorkspace) -> str:
    """Every row of every table, as text."""
    engine = workspace.database.engine
    tables = MetaData()
    tables.reflect(engine)
    dump = []
    with engine.connect() as connection:
        for table in tables.sorted_tables:
            dump += [str(row) for row in connection.execute(select(table))]
    return "\n".join(dump)


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def test_request_step_approved_on_the_card_completes_with_state_decider_and_name(
    workspace: LocalWorkspace, slack: SlackAppClient, logged: pytest.LogCaptureFixture
) -> None:
    workspace.sandbox.add_user(name="smtp60001", hourly_limit=100)
    inputs = _edit_request("smtp60001")
    execution = _run_step(workspace, slack, REQUEST_CHANGE, inputs)
    card = _card(workspace)
    assert "billing sends more mail" in str(card["blocks"])
    assert completions(workspace) == []
    assert workspace.slack.function_execution(execution.id).state == "running"

    slack.click("approve_request", user_id=BOB, message=card, channel_id=APPROVALS)
    workspace.drain()

    assert workspace.sandbox.users["smtp60001"].hourly_limit == 500
    done = workspace.slack.function_execution(execution.id)
    assert done.state == "completed"
    assert done.outputs == {
        "state": "done",
        "decided_by": BOB,
        "smtp_user": "smtp60001",
        "request_id": 1,
    }
    assert done.completed_with == "bot"
    assert completions(workspace) == ["functions.completeSuccess"]
    # The workflow's token and the requester's user context secret are used, kept and
    # logged nowhere.
    for secret in (execution.bot_access_token, inputs["requester"]["secret"]):
        assert secret not in str([c.args for c in workspace.slack.calls])
        assert secret not in _stored_text(workspace)
        assert secret not in logged.text
    stored = ApprovalStore(workspace.database).get(1)
    assert stored is not None
    assert stored.function_execution_id == execution.id


def test_request_step_denied_completes_with_state_denied_for_workflows_that_branch(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp60002", hourly_limit=100)
    execution = _run_step(workspace, slack, REQUEST_CHANGE, _edit_request("smtp60002"))
    _deny(workspace, slack)

    denied = workspace.slack.function_execution(execution.id)
    assert denied.state == "completed"
    assert denied.outputs is not None
    assert denied.outputs["state"] == "denied"
    assert denied.outputs["decided_by"] == BOB
    assert workspace.sandbox.users["smtp60002"].hourly_limit == 100
    assert completions(workspace) == ["functions.completeSuccess"]


def test_request_step_whose_change_fails_at_sarv_completes_with_an_error(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp60003", hourly_limit=100)
    execution = _run_step(workspace, slack, REQUEST_CHANGE, _edit_request("smtp60003"))
    workspace.sandbox.fail_next("general", path="settings/editSmtp")
    slack.click("approve_request", user_id=BOB, message=_card(workspace), channel_id=APPROVALS)
    workspace.drain()

    failed = workspace.slack.function_execution(execution.id)
    assert failed.state == "failed"
    assert failed.error is not None
    assert failed.error.startswith("Request #1 ended failed:")
    assert "Sarv is unavailable" in failed.error
    assert request_state(workspace.database, 1) is RequestState.FAILED
    assert completions(workspace) == ["functions.completeError"]

    # A retry on the card runs the change; the step, ended already, is not completed again.
    failed_card = _card(workspace)
    slack.click("retry_request", user_id=BOB, message=failed_card, channel_id=APPROVALS)
    workspace.drain()
    assert workspace.sandbox.users["smtp60003"].hourly_limit == 500
    assert completions(workspace) == ["functions.completeError"]


def test_request_step_cancelled_by_its_requester_completes_with_state_cancelled(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp60004")
    execution = _run_step(workspace, slack, REQUEST_CHANGE, _edit_request("smtp60004", "reset"))
    slack.command("/smtp", "cancel 1", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    cancelled = workspace.slack.function_execution(execution.id)
    assert cancelled.outputs is not None
    assert cancelled.outputs["state"] == "cancelled"


@pytest.mark.parametrize(
    ("callback_id", "inputs", "words"),
    [
        ("make_coffee", {}, "no workflow step called 'make_coffee'"),
        (REQUEST_CHANGE, None, "inputs cannot be used: there are none"),
        (REQUEST_CHANGE, {"channel": DEV, "requester": user_context(ALICE)}, "change is missing"),
        (REQUEST_CHANGE, _edit_request("smtp60010", "edit hourly=lots"), "hourly limit"),
        (REQUEST_CHANGE, _edit_request("smtp60010", "freeze"), "not a change a workflow"),
        (REQUEST_CHANGE, _edit_request("smtp60010", "reset now please"), "put them in reason"),
        (
            REQUEST_CHANGE,
            {**_edit_request("smtp60010"), "requester": {"id": "alice", "secret": "s"}},
            "not a Slack ID",
        ),
        (
            REQUEST_CHANGE,
            {**_edit_request("smtp60010"), "requester": ALICE},
            "requester must be the person who ran the workflow",
        ),
        (REQUEST_CHANGE, {**_edit_request("smtp60010"), "reason": 7}, "reason must be text"),
        (
            REQUEST_CHANGE,
            {**_edit_request("smtp60010"), "requester": user_context(GUEST)},
            "Guests",
        ),
        (
            REQUEST_CHANGE,
            {**_edit_request("smtp60010"), "channel": "C0NOWHERE"},
            "policy of channel C0NOWHERE",
        ),
        (REQUEST_CHANGE, {**_edit_request("smtp60010"), "reason": ""}, "reason is missing"),
        (REQUEST_CHANGE, _edit_request("smtp69999"), "Sarv has no SMTP user named smtp69999"),
        (
            CREATE_USER,
            create_inputs(total_limit=True, hourly_limit=10),
            "total_limit must be a whole number",
        ),
        (
            CREATE_USER,
            create_inputs(total_limit=100, hourly_limit=-1),
            "hourly_limit must be a whole number",
        ),
        (
            CREATE_USER,
            create_inputs(ALICE, DEV, total_limit=100, hourly_limit=10),
            "A request needs a reason",
        ),
    ],
)
def test_a_bad_step_completes_with_a_readable_error_and_changes_nothing(
    workspace: LocalWorkspace, slack: SlackAppClient, callback_id: str, inputs: Any, words: str
) -> None:
    workspace.sandbox.add_user(name="smtp60010", hourly_limit=100)
    calls_before = len(workspace.sandbox.calls)
    execution = _run_step(workspace, slack, callback_id, inputs)

    ended = workspace.slack.function_execution(execution.id)
    assert ended.state == "failed"
    assert ended.error is not None
    assert words in ended.error
    assert completions(workspace) == ["functions.completeError"]
    changes = [c for c in workspace.sandbox.calls[calls_before:] if c.path != "settings/listSmtp"]
    assert all("add" not in c.path and "edit" not in c.path for c in changes)
    assert ApprovalStore(workspace.database).pending() == []
    assert not [
        c for c in workspace.slack.calls_to("chat.postMessage") if c.args["channel"] == APPROVALS
    ]


def test_create_step_allowed_makes_the_user_and_hands_the_password_only_to_the_requester(
    workspace: LocalWorkspace, slack: SlackAppClient, logged: pytest.LogCaptureFixture
) -> None:
    inputs = create_inputs(total_limit=5000, hourly_limit="100", label="onboarding-mail")
    execution = _run_step(workspace, slack, CREATE_USER, inputs)

    ((name, user),) = workspace.sandbox.users.items()
    assert (user.total_limit, user.hourly_limit) == (5000, 100)
    done = workspace.slack.function_execution(execution.id)
    assert done.state == "completed"
    assert done.outputs == {"state": "done", "smtp_user": name}
    holders = [c for c in workspace.slack.calls if user.password in str(c.args)]
    assert [(c.method, c.args["user"]) for c in holders] == [("chat.postEphemeral", BOB)]
    assert user.password not in logged.text
    assert user.password not in _stored_text(workspace)
    assert execution.bot_access_token not in logged.text
    assert completions(workspace) == ["functions.completeSuccess"]


def test_create_step_where_the_policy_says_request_completes_on_the_decision(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    inputs = create_inputs(ALICE, DEV, reason="a new starter's app")
    execution = _run_step(workspace, slack, CREATE_USER, inputs)
    assert workspace.sandbox.users == {}
    assert workspace.slack.function_execution(execution.id).state == "running"

    slack.click("approve_request", user_id=BOB, message=_card(workspace), channel_id=APPROVALS)
    workspace.drain()

    ((name, user),) = workspace.sandbox.users.items()
    done = workspace.slack.function_execution(execution.id)
    assert done.outputs == {"state": "done", "decided_by": BOB, "smtp_user": name, "request_id": 1}
    holders = [c for c in workspace.slack.calls if user.password in str(c.args)]
    assert [(c.method, c.args["user"]) for c in holders] == [("chat.postEphemeral", ALICE)]


def test_a_completion_slack_does_not_take_is_tried_again_by_the_schedule_once(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp60020", hourly_limit=100)
    execution = _run_step(workspace, slack, REQUEST_CHANGE, _edit_request("smtp60020"))
    workspace.slack.fail_next("functions.completeSuccess", "internal_error", status=500, times=3)
    _deny(workspace, slack)
    assert workspace.slack.function_execution(execution.id).state == "running"

    assert workspace.app is not None
    later = datetime.now(UTC) + timedelta(hours=1)
    for _ in range(4):
        workspace.app.scheduler.run_due(later)
        later += timedelta(hours=1)

    assert workspace.slack.function_execution(execution.id).outputs is not None
    answered = [c.ok for c in workspace.slack.calls_to("functions.completeSuccess")]
    assert answered.count(True) == 1
    assert answered[-1] is True


def test_a_completion_that_landed_before_its_answer_was_lost_ends_its_job(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp60021", hourly_limit=100)
    execution = _run_step(workspace, slack, REQUEST_CHANGE, _edit_request("smtp60021"))
    workspace.slack.fail_next("functions.completeSuccess", "internal_error", status=500)
    _deny(workspace, slack)
    # The first try did complete it at Slack; only its answer was lost.
    assert workspace.app is not None
    workspace.app.context.client.functions_completeSuccess(
        function_execution_id=execution.id, outputs={"state": "denied"}
    )
    ran = workspace.app.scheduler.run_due(datetime.now(UTC) + timedelta(hours=1))

    assert [r.outcome for r in ran if r.job.kind == COMPLETE_STEP] == ["done"]
    calls = workspace.slack.calls_to("functions.completeSuccess")
    assert [c.error for c in calls] == [
        "internal_error",
        None,
        "execution_not_in_running_state",
    ]


def test_a_request_step_whose_card_cannot_be_posted_ends_at_once_and_is_withdrawn(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp60022")
    workspace.slack.fail_next("chat.postMessage", "not_in_channel", match={"channel": APPROVALS})
    execution = _run_step(workspace, slack, REQUEST_CHANGE, _edit_request("smtp60022", "reset"))

    ended = workspace.slack.function_execution(execution.id)
    assert ended.state == "failed"
    assert ended.error is not None
    assert "withdrawn" in ended.error
    assert request_state(workspace.database, 1) is RequestState.CANCELLED
    assert completions(workspace) == ["functions.completeError"]


def test_the_fake_completes_an_execution_once_and_checks_its_arguments(
    workspace: LocalWorkspace,
) -> None:
    assert workspace.app is not None
    client = workspace.app.context.client
    execution = workspace.slack.start_function(REQUEST_CHANGE)
    bad = [
        ("functions.completeSuccess", {"outputs": "{}"}),
        ("functions.completeSuccess", {"function_execution_id": execution.id, "outputs": "[1]"}),
        ("functions.completeError", {"function_execution_id": execution.id, "error": ""}),
        ("functions.completeError", {"function_execution_id": "Fx0000NOPE", "error": "x"}),
    ]
    for method, params in bad:
        with pytest.raises(SlackApiError):
            client.api_call(method, params=params)
    client.functions_completeError(function_execution_id=execution.id, error="no")
    with pytest.raises(SlackApiError) as again:
        client.functions_completeSuccess(function_execution_id=execution.id, outputs={})
    assert again.value.response["error"] == "execution_not_in_running_state"
    errors = [c.error for c in workspace.slack.calls]
    assert errors[:4] == [
        "invalid_arguments",
        "invalid_arguments",
        "invalid_arguments",
        "function_execution_not_found",
    ]


@pytest.mark.postgres
def test_a_step_started_at_one_process_and_approved_at_another_completes_once(
    postgres_url: str, tmp_path: Path
) -> None:
    with (
        LocalWorkspace(postgres_url) as workspace,
        serving_many(app_env(workspace, tmp_path), 2, threads=8) as servers,
    ):
        first, second = (server.client(workspace) for server in servers)
        workspace.sandbox.add_user(name="smtp60030", hourly_limit=100)
        execution = workspace.slack.start_function(REQUEST_CHANGE)
        deliver(first, REQUEST_CHANGE, _edit_request("smtp60030"), execution)
        wait_until(lambda: bool(_approval_cards(workspace)), timeout=20)
        card = workspace.slack.messages[(APPROVALS, _approval_cards(workspace)[-1])]
        second.click("approve_request", user_id=BOB, message=card, channel_id=APPROVALS)
        wait_until(
            lambda: workspace.slack.function_execution(execution.id).state != "running",
            timeout=20,
        )
        assert workspace.slack.function_execution(execution.id).outputs == {
            "state": "done",
            "decided_by": BOB,
            "smtp_user": "smtp60030",
            "request_id": 1,
        }
        # Every process runs its schedule: none completes the step a second time.
        assert workspace.app is not None
        workspace.app.run_schedule(everything_now=True)
        assert completions(workspace) == ["functions.completeSuccess"]


def _approval_cards(workspace: LocalWorkspace) -> list[str]:
    return [
        str(c.response["ts"])
        for c in workspace.slack.calls_to("chat.postMessage")
        if c.args["channel"] == APPROVALS and c.ok
    ]


def test_an_unknown_channel_in_the_workspace_is_refused_like_one_the_policy_does_not_know(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.slack.add_channel(SlackChannel("C0RANDOM", "random", {ALICE}))
    workspace.sandbox.add_user(name="smtp60040")
    inputs = {**_edit_request("smtp60040", "reset"), "channel": "C0RANDOM"}
    execution = _run_step(workspace, slack, REQUEST_CHANGE, inputs)
    ended = workspace.slack.function_execution(execution.id)
    assert ended.error is not None
    assert "policy of channel C0RANDOM" in ended.error
    assert workspace.sandbox.calls_to("settings/resetSmtpPassword") == []


# Whose rights a step uses, once per execution, and ended whatever happens


def test_create_step_naming_a_channel_the_requester_is_not_in_does_not_get_its_rights(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """The create step refuses a channel its requester is not in, as a /smtp command only
    carries a channel its user could type in: alice, only in #dev (where `add` must be
    approved), naming #ops gets no SMTP user at once; the step ends with completeError and
    nothing is made at Sarv.
    """
    execution = _run_step(workspace, slack, CREATE_USER, create_inputs(ALICE, OPS))

    assert workspace.sandbox.calls_to("settings/addSmtp") == []
    assert workspace.sandbox.users == {}
    assert workspace.slack.function_execution(execution.id).state == "failed"


def test_request_step_naming_a_channel_the_requester_is_not_in_does_not_get_its_rights(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """The request step refuses a channel its requester is not in: carol (only in #ops and
    #ops-approvals) naming #dev gets none of its request rights; no card is posted and the
    step ends with completeError.
    """
    workspace.sandbox.add_user(name="smtp61001", hourly_limit=100)
    inputs = _edit_request("smtp61001", requester=CAROL)
    execution = _run_step(workspace, slack, REQUEST_CHANGE, inputs)

    assert ApprovalStore(workspace.database).pending() == []
    assert cards_in(workspace.slack, APPROVALS) == []
    assert workspace.slack.function_execution(execution.id).state == "failed"


def test_one_execution_delivered_twice_creates_one_smtp_user(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """A create step's execution delivered again in a second event (another event_id, the
    same function_execution_id) changes nothing: one SMTP user, one password, one
    completion for one workflow run.
    """
    inputs = create_inputs()
    execution = _run_step(workspace, slack, CREATE_USER, inputs)
    _run_step(workspace, slack, CREATE_USER, inputs, execution=execution)

    assert len(workspace.sandbox.calls_to("settings/addSmtp")) == 1
    assert len(workspace.sandbox.users) == 1
    assert completions(workspace) == ["functions.completeSuccess"]


def test_one_request_execution_delivered_twice_raises_one_request(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """A request step's execution delivered twice raises one request and one approval card,
    not two waiting on one step.
    """
    workspace.sandbox.add_user(name="smtp61002", hourly_limit=100)
    inputs = _edit_request("smtp61002", "reset")
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
    """The create step refuses a label or a limit with words of its own (here
    ``owner=U0CAROL``, which would make carol the owner of the user bob's workflow creates,
    although the step promises "the requester owns it"): the step fails and makes no user.
    """
    execution = _run_step(workspace, slack, CREATE_USER, create_inputs(**extra))

    owners = [e.owner_id for e in CatalogueStore(workspace.database).all()]
    assert CAROL not in owners
    assert workspace.sandbox.users == {}
    assert workspace.slack.function_execution(execution.id).state == "failed"


def test_a_step_that_arrives_while_the_database_is_gone_is_completed_with_an_error(
    tmp_path: Path,
) -> None:
    """A step that arrives while the database is gone (so that the work queue's replay
    check fails before the step runs) still ends, with completeError saying the database
    is down (STEP_DATABASE_DOWN), and nothing is changed at Sarv: the workflow never hangs
    at the step.
    """
    folder = tmp_path / "db"
    with own_workspace(folder) as (workspace, slack):
        lose_database(workspace, folder)
        execution = _run_step(workspace, slack, CREATE_USER, create_inputs())

        assert workspace.sandbox.calls_to("settings/addSmtp") == []
        ended = workspace.slack.function_execution(execution.id)
        assert ended.state == "failed", "the workflow waits at the step forever"
        assert ended.error is not None
        assert "database" in ended.error


def test_a_create_step_whose_process_dies_after_sarvs_add_is_completed_and_its_person_told(
    workspace: LocalWorkspace, tmp_path: Path
) -> None:
    """A create step whose process is killed while Sarv's add is under way is still ended:
    once the dead process's lease lapses, another process ends the step (completeError,
    the outcome unknown) and tells the requester by DM that an SMTP user may have been
    made, and never runs the add again.
    """
    workspace.sandbox.fail_next("hang", path="settings/addSmtp", after_apply=True)
    execution = workspace.slack.start_function(CREATE_USER)
    with killed_after(workspace, tmp_path) as client:
        assert deliver(client, CREATE_USER, create_inputs(), execution).ok
        assert workspace.sandbox.wait_for_call("settings/addSmtp", timeout=10)

    recover_at(workspace, datetime.now(UTC) + timedelta(minutes=5))

    assert len(workspace.sandbox.calls_to("settings/addSmtp")) == 1
    ended = workspace.slack.function_execution(execution.id)
    assert ended.state != "running", "the workflow waits at the step forever"
    assert dms_to(workspace, BOB), "bob is never told his step's user may exist"


def test_slacks_retry_of_a_step_event_while_restarting_does_not_end_the_waiting_step(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """Slack's retry (or a replay) of a step event already handled changes nothing, even
    when it lands while the process drains for a restart: the step is not turned away with
    STEP_BUSY ("nothing was changed") but stays running, waiting on its approval, until its
    request ends.
    """
    workspace.sandbox.add_user(name="smtp61003", hourly_limit=100)
    inputs = _edit_request("smtp61003")
    execution = workspace.slack.start_function(REQUEST_CHANGE)
    event_id = f"Ev{secrets.token_hex(8).upper()}"
    for _ in range(2):
        assert deliver(slack, REQUEST_CHANGE, inputs, execution, event_id=event_id).ok
        workspace.drain()
        assert workspace.slack.function_execution(execution.id).state == "running"
        assert workspace.app is not None
        workspace.app.context.work.stop_taking_work()  # a deploy: the process drains

    assert len(ApprovalStore(workspace.database).pending()) == 1
    assert completions(workspace) == []


def test_a_completion_slack_fails_for_a_minute_and_a_half_still_ends_the_step(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """A step's completion keeps being tried (as reverts are, for about an hour) until Slack takes
    it, so that a workflow waiting on a request is not left running for good.
    """
    workspace.sandbox.add_user(name="smtp60022", hourly_limit=100)
    execution = _run_step(workspace, slack, REQUEST_CHANGE, _edit_request("smtp60022"))
    workspace.slack.fail_next("functions.completeSuccess", "internal_error", status=500, times=5)
    _deny(workspace, slack)
    assert workspace.app is not None
    later = datetime.now(UTC) + timedelta(minutes=2)
    for _ in range(6):
        workspace.app.scheduler.run_due(later)
        later += timedelta(minutes=2)
    assert workspace.slack.function_execution(execution.id).outputs is not None
