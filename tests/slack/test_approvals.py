"""Approvals end to end: dev requests, ops decide with a click, the change runs once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import tenacity

from sarvbot.core import RequestState
from sarvbot.standin import SlackAppClient, SlackUser
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, CAROL, DEV, GUEST, LocalWorkspace
from sarvbot.store import ApprovalStore, AuditLog, DatabaseUnavailable
from tests.support import cards_in, dms_to, join_channel, leave_channel, request_state, told


def _approval_message(workspace: LocalWorkspace) -> dict[str, Any]:
    posted = cards_in(workspace.slack, APPROVALS)
    assert posted, "no approval message was posted"
    ts = posted[-1].response["ts"]
    return workspace.slack.messages[(APPROVALS, ts)]


def _replies(workspace: LocalWorkspace) -> str:
    return "\n".join(str(p.body.get("text", "")) for p in workspace.slack.posts)


def _request_reset(workspace: LocalWorkspace, slack: SlackAppClient, name: str) -> dict[str, Any]:
    workspace.sandbox.add_user(name=name)
    slack.command("/smtp", f"reset {name} key leaked in CI", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    return _approval_message(workspace)


@pytest.fixture
def any_workspace(database_url: str) -> Iterator[LocalWorkspace]:
    """A workspace on SQLite, then on PostgreSQL."""
    with LocalWorkspace(database_url) as running:
        yield running


def test_dev_requests_reset_and_ops_approves(any_workspace: LocalWorkspace) -> None:
    workspace = any_workspace
    slack = workspace.client()
    message = _request_reset(workspace, slack, "smtp20001")
    assert "Request #1 sent for approval" in _replies(workspace)
    assert "reset the password of `smtp20001`" in message["text"] + str(message["blocks"])
    assert "key leaked in CI" in str(message["blocks"])
    assert workspace.sandbox.calls_to("settings/resetSmtpPassword") == []

    slack.click("approve_request", user_id=BOB, message=message, channel_id=APPROVALS)
    workspace.drain()

    assert len(workspace.sandbox.calls_to("settings/resetSmtpPassword")) == 1
    password = workspace.sandbox.users["smtp20001"].password
    holders = [c for c in workspace.slack.calls if password in str(c.args)]
    assert [(c.method, c.args["user"]) for c in holders] == [("chat.postEphemeral", ALICE)]
    final = _approval_message(workspace)
    assert "Done" in str(final["blocks"])
    assert "approve_request" not in str(final["blocks"])
    request = ApprovalStore(workspace.database).get(1)
    assert request is not None
    assert request.state is RequestState.DONE
    assert request.decided_by == BOB
    outcomes = [(e.action, e.outcome) for e in AuditLog(workspace.database).latest(limit=10)]
    assert ("reset", "requested") in outcomes
    assert ("decide", "approved") in outcomes
    assert ("reset", "done") in outcomes


def test_requester_cannot_approve_own_request(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    message = _request_reset(workspace, slack, "smtp20002")
    # Alice is not even in the approvals channel; make her a member to test the rule itself.
    join_channel(workspace.slack, APPROVALS, ALICE)
    slack.click("approve_request", user_id=ALICE, message=message, channel_id=APPROVALS)
    workspace.drain()
    assert "You cannot decide your own request." in _replies(workspace)
    assert workspace.sandbox.calls_to("settings/resetSmtpPassword") == []
    assert request_state(workspace.database, 1) is RequestState.PENDING


def test_non_member_and_guest_cannot_decide(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    message = _request_reset(workspace, slack, "smtp20003")
    slack.click("approve_request", user_id=GUEST, message=message, channel_id=APPROVALS)
    workspace.drain()
    assert "Guests and external users cannot decide requests." in _replies(workspace)
    leave_channel(workspace.slack, APPROVALS, BOB)
    slack.click("approve_request", user_id=BOB, message=message, channel_id=APPROVALS)
    workspace.drain()
    assert "Only current members of the approvals channel" in _replies(workspace)
    assert workspace.sandbox.calls_to("settings/resetSmtpPassword") == []


def test_click_from_another_channel_is_refused(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    message = _request_reset(workspace, slack, "smtp20004")
    slack.click("approve_request", user_id=BOB, message=message, channel_id=DEV)
    workspace.drain()
    assert "Requests are decided only in the approvals channel." in _replies(workspace)
    assert workspace.sandbox.calls_to("settings/resetSmtpPassword") == []


def test_double_click_runs_once(workspace: LocalWorkspace, slack: SlackAppClient) -> None:
    message = _request_reset(workspace, slack, "smtp20005")
    for user in (BOB, CAROL, BOB):
        slack.click("approve_request", user_id=user, message=message, channel_id=APPROVALS)
    workspace.drain()
    assert len(workspace.sandbox.calls_to("settings/resetSmtpPassword")) == 1
    replies = _replies(workspace)
    # The two losing clicks are refused, whichever moment they arrive in.
    assert replies.count("Request #1 is already") + replies.count("decided a moment ago") == 2


def test_denied_request_changes_nothing(workspace: LocalWorkspace, slack: SlackAppClient) -> None:
    message = _request_reset(workspace, slack, "smtp20006")
    slack.click("deny_request", user_id=BOB, message=message, channel_id=APPROVALS)
    workspace.drain()
    (view,) = workspace.slack.views.values()
    response = slack.submit_view(view, {"reason": {"value": "rotate it yourself"}}, user_id=BOB)
    assert response.status_code == 200
    workspace.drain()
    request = ApprovalStore(workspace.database).get(1)
    assert request is not None
    assert request.state is RequestState.DENIED
    assert request.deny_reason == "rotate it yourself"
    assert "Denied" in str(_approval_message(workspace)["blocks"])
    # The requester hears by DM, where it stays: not an ephemeral Slack drops on reload.
    (denied,) = [t for t in told(workspace.slack, ALICE) if "was denied" in t]
    assert denied in [str(c.args["text"]) for c in dms_to(workspace, ALICE)]
    assert workspace.sandbox.calls_to("settings/resetSmtpPassword") == []


def test_request_needs_a_reason(workspace: LocalWorkspace, slack: SlackAppClient) -> None:
    workspace.sandbox.add_user(name="smtp20007")
    slack.command("/smtp", "disable smtp20007", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    assert "A request needs a reason" in _replies(workspace)
    assert ApprovalStore(workspace.database).get(1) is None


def test_requester_cancels_and_ops_cannot_approve_it(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    message = _request_reset(workspace, slack, "smtp20008")
    slack.command("/smtp", "cancel 1", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    assert "Request #1 is withdrawn." in _replies(workspace)
    slack.click("approve_request", user_id=BOB, message=message, channel_id=APPROVALS)
    workspace.drain()
    assert "Request #1 is already cancelled." in _replies(workspace)
    assert workspace.sandbox.calls_to("settings/resetSmtpPassword") == []


def test_sarv_failure_marks_failed_and_retry_runs_it(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp20009", total_limit=100)
    slack.command(
        "/smtp", "edit smtp20009 total=900 more mail for billing", user_id=ALICE, channel_id=DEV
    )
    workspace.drain()
    message = _approval_message(workspace)
    assert "total 100 → 900" in str(message["blocks"])
    workspace.sandbox.fail_next("general", path="settings/editSmtp")
    slack.click("approve_request", user_id=BOB, message=message, channel_id=APPROVALS)
    workspace.drain()
    failed = _approval_message(workspace)
    assert "Failed" in str(failed["blocks"])
    assert "Sarv is unavailable" in str(failed["blocks"])
    assert workspace.sandbox.users["smtp20009"].total_limit == 100
    slack.click("retry_request", user_id=CAROL, message=failed, channel_id=APPROVALS)
    workspace.drain()
    assert workspace.sandbox.users["smtp20009"].total_limit == 900
    assert request_state(workspace.database, 1) is RequestState.DONE


TWO_APPROVERS = """
[approvals]
channel = "C0APPROVALS"
approvers = ["S0OPS"]
required = 2

[channels.C0DEV]
allow = ["list"]
request = ["add", "reset"]
"""


def test_two_approvals_from_the_approver_group_are_needed(tmp_path: Any) -> None:
    with LocalWorkspace(
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        policy_text=TWO_APPROVERS,
        usergroups={"S0OPS": [BOB, CAROL]},
    ) as workspace:
        slack = workspace.client()
        join_channel(workspace.slack, APPROVALS, "U0DAVE")
        workspace.slack.add_user(SlackUser("U0DAVE", "dave"))
        slack.command("/smtp", "add 500 200 for billing", user_id=ALICE, channel_id=DEV)
        workspace.drain()
        message = _approval_message(workspace)
        assert "add an SMTP user (total 500, hourly 200)" in str(message["blocks"])

        slack.click("approve_request", user_id="U0DAVE", message=message, channel_id=APPROVALS)
        workspace.drain()
        assert "You are not one of the approvers named in the policy." in _replies(workspace)

        slack.click("approve_request", user_id=BOB, message=message, channel_id=APPROVALS)
        workspace.drain()
        assert "1 of 2 approvals" in str(_approval_message(workspace)["blocks"])
        assert workspace.sandbox.users == {}

        slack.click("approve_request", user_id=BOB, message=message, channel_id=APPROVALS)
        workspace.drain()
        assert workspace.sandbox.users == {}  # the same person twice is one approval

        slack.click("approve_request", user_id=CAROL, message=message, channel_id=APPROVALS)
        workspace.drain()
        (user,) = workspace.sandbox.users.values()
        holders = [c for c in workspace.slack.calls if user.password in str(c.args)]
        assert [(c.method, c.args["user"]) for c in holders] == [("chat.postEphemeral", ALICE)]
        slack.close()


def test_policy_change_after_the_request_stops_it(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    message = _request_reset(workspace, slack, "smtp20010")
    assert workspace.app is not None
    workspace.app.core.permissions.policy = workspace.policy.__class__(
        channels={}, approvals=workspace.policy.approvals
    )
    slack.click("approve_request", user_id=BOB, message=message, channel_id=APPROVALS)
    workspace.drain()
    assert workspace.sandbox.calls_to("settings/resetSmtpPassword") == []
    final = _approval_message(workspace)
    assert "The policy no longer lets" in str(final["blocks"])


def test_rate_limited_post_is_retried_after_retry_after(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp20011")
    workspace.slack.fail_next(
        "chat.postMessage", "ratelimited", status=429, headers={"Retry-After": "0"}
    )
    slack.command("/smtp", "reset smtp20011 rotate", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    attempts = cards_in(workspace.slack, APPROVALS)
    assert [c.error for c in attempts] == ["ratelimited", None]
    assert "Request #1 sent for approval" in _replies(workspace)


def test_outcome_is_recorded_through_a_database_hiccup(
    workspace: LocalWorkspace, slack: SlackAppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = _request_reset(workspace, slack, "smtp20012")
    assert workspace.app is not None
    real_finish = ApprovalStore.finish
    failures = iter([True, True])

    def flaky_finish(*args: Any, **kwargs: Any) -> Any:
        if next(failures, False):
            raise DatabaseUnavailable("database unavailable (test): locked")
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(ApprovalStore, "finish", flaky_finish)
    monkeypatch.setattr("sarvbot.core.approvals.RECORD_WAIT", tenacity.wait_none())
    slack.click("approve_request", user_id=BOB, message=message, channel_id=APPROVALS)
    workspace.drain()
    assert request_state(workspace.database, 1) is RequestState.DONE
    password = workspace.sandbox.users["smtp20012"].password
    assert [c.args["user"] for c in workspace.slack.calls if password in str(c.args)] == [ALICE]


def test_requester_gets_the_password_even_if_the_outcome_cannot_be_recorded(
    workspace: LocalWorkspace, slack: SlackAppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = _request_reset(workspace, slack, "smtp20013")
    assert workspace.app is not None

    def broken_finish(*args: Any, **kwargs: Any) -> Any:
        raise DatabaseUnavailable("database unavailable (test): gone")

    monkeypatch.setattr(ApprovalStore, "finish", broken_finish)
    monkeypatch.setattr("sarvbot.core.approvals.RECORD_WAIT", tenacity.wait_none())
    slack.click("approve_request", user_id=BOB, message=message, channel_id=APPROVALS)
    workspace.drain()
    assert len(workspace.sandbox.calls_to("settings/resetSmtpPassword")) == 1
    password = workspace.sandbox.users["smtp20013"].password
    assert [c.args["user"] for c in workspace.slack.calls if password in str(c.args)] == [ALICE]
    # Still shown as running: `sarvbot expire` marks it unknown later; it never runs again.
    assert request_state(workspace.database, 1) is RequestState.RUNNING


def test_expire_marks_a_request_left_running_as_unknown(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    message = _request_reset(workspace, slack, "smtp20014")
    store = ApprovalStore(workspace.database)
    long_ago = datetime.now(UTC) - timedelta(minutes=20)
    # A process claimed it, then died before calling Sarv or recording the result.
    assert store.claim(1, decided_by=BOB, now=long_ago) is not None
    assert workspace.app is not None
    changed = workspace.app.expire_requests()
    assert [(r.id, r.state) for r in changed] == [(1, RequestState.UNKNOWN)]
    shown = workspace.slack.messages[(APPROVALS, message["ts"])]
    assert "Outcome unknown" in str(shown["blocks"])
    assert "retry_request" not in str(shown["blocks"])
    slack.click("approve_request", user_id=CAROL, message=message, channel_id=APPROVALS)
    workspace.drain()
    assert workspace.sandbox.calls_to("settings/resetSmtpPassword") == []
