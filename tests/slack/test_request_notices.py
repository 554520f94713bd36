"""The people around a request: its requester hears of every outcome by DM, its card keeps a
thread of every click, and a request nobody decides is re-announced and then escalated,
once each, however many processes run the schedule.

Requests are made and decided through real signed HTTP; Slack is the Web API stand-in.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from sarvbot.core import Actor, RequestState
from sarvbot.core.schedule import ESCALATE_REQUEST, REMIND_REQUEST, REQUEST_ENDED
from sarvbot.policy import parse_policy
from sarvbot.slack.flows import nudge_request, tell_request_ended
from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import (
    ALICE,
    APPROVALS,
    BOB,
    CAROL,
    DEMO_POLICY,
    DEV,
    GUEST,
    LocalWorkspace,
)
from sarvbot.store import ApprovalStore, Database, DatabaseUnavailable, JobStore
from tests.support import cards_in, dms_to, race, request_state, thread_replies, told

from .test_schedule import another_process

USER = "smtp70001"
LEADS = "S0LEADS"
OPS_GROUP = "S0OPS"
NUDGING = DEMO_POLICY.replace(
    "expire_after_hours = 24",
    "expire_after_hours = 24\n"
    f'approvers = ["{BOB}", "{OPS_GROUP}"]\n'
    'remind_after = "1h"\n'
    'escalate_after = "4h"\n'
    f'escalate_to = ["{LEADS}"]\n',
)
TWO_NEEDED = DEMO_POLICY.replace("expire_after_hours = 24", "expire_after_hours = 24\nrequired = 2")
# Alice is in the ops group too: she must not be reminded of her own request.
GROUPS = {OPS_GROUP: [BOB, ALICE], LEADS: [CAROL]}


def _workspace(url: str, policy: str) -> LocalWorkspace:
    return LocalWorkspace(url, policy_text=policy, usergroups=GROUPS)


@pytest.fixture
def nudging(tmp_path: Path) -> Iterator[Any]:
    with _workspace(f"sqlite:///{tmp_path / 'sarvbot.db'}", NUDGING) as running:
        running.sandbox.add_user(name=USER, total_limit=100)
        yield running


@pytest.fixture
def two_needed(tmp_path: Path) -> Iterator[Any]:
    with _workspace(f"sqlite:///{tmp_path / 'sarvbot.db'}", TWO_NEEDED) as running:
        running.sandbox.add_user(name=USER, total_limit=100)
        yield running


def _ask(workspace: Any, slack: SlackAppClient, words: str = f"reset {USER} leaked") -> int:
    assert slack.command("/smtp", words, user_id=ALICE, channel_id=DEV).ok
    workspace.drain()
    (request,) = ApprovalStore(workspace.database).pending()
    return request.id


def _card(workspace: Any) -> dict[str, Any]:
    posted = cards_in(workspace.slack, APPROVALS)[-1]
    return workspace.slack.messages[(APPROVALS, str(posted.response["ts"]))]


def _thread(workspace: Any) -> list[str]:
    return thread_replies(workspace.slack, APPROVALS, str(_card(workspace)["ts"]))


def _after(workspace: Any, hours: float) -> list[str]:
    """Run the schedule as it would be ``hours`` after now; the outcomes of the reminder
    and escalation jobs run.
    """
    later = datetime.now(UTC) + timedelta(hours=hours)
    ran = workspace.app.scheduler.run_due(now=later)
    return [r.outcome for r in ran if r.job.kind in (REMIND_REQUEST, ESCALATE_REQUEST)]


def _dm_texts(workspace: Any, user_id: str) -> list[str]:
    return [str(c.args.get("text")) for c in dms_to(workspace, user_id) if c.ok]


def _overdue(workspace: Any, request_id: int) -> None:
    """Make a pending request's expiry a minute past."""
    with workspace.database.session() as session:
        session.execute(
            text("UPDATE approval_requests SET expires_at = :t WHERE id = :id"),
            {"t": datetime.now(UTC) - timedelta(minutes=1), "id": request_id},
        )


def _nudges(workspace: Any, user_id: str) -> list[str]:
    return [t for t in _dm_texts(workspace, user_id) if "has had no decision" in t]


# The requester hears by DM


def test_an_approved_request_is_told_to_its_requester_by_dm(nudging: Any) -> None:
    slack = nudging.client()
    _ask(nudging, slack)
    slack.click("approve_request", user_id=BOB, message=_card(nudging), channel_id=APPROVALS)
    nudging.drain()
    (done,) = [t for t in _dm_texts(nudging, ALICE) if "was approved by" in t]
    assert f"<@{BOB}>" in done
    assert "done" in done
    # Nothing about it is left as an ephemeral in #dev, which Slack drops on reload.
    ephemerals = nudging.slack.calls_to("chat.postEphemeral")
    assert not [c for c in ephemerals if c.args.get("channel") == DEV and "approved" in str(c)]


def test_a_failed_request_is_told_to_its_requester_by_dm(nudging: Any) -> None:
    slack = nudging.client()
    _ask(nudging, slack, f"edit {USER} total=900 more mail")
    nudging.sandbox.fail_next("general", path="settings/editSmtp")
    slack.click("approve_request", user_id=BOB, message=_card(nudging), channel_id=APPROVALS)
    nudging.drain()
    assert request_state(nudging.database, 1) is RequestState.FAILED
    assert any("did not go through" in t for t in _dm_texts(nudging, ALICE))
    assert nudging.sandbox.users[USER].total_limit == 100


def test_when_slack_refuses_the_dm_the_requester_is_told_where_they_asked(
    nudging: Any,
) -> None:
    slack = nudging.client()
    _ask(nudging, slack)
    nudging.slack.fail_next("chat.postMessage", "fatal_error", match={"channel": ALICE})
    slack.click("deny_request", user_id=BOB, message=_card(nudging), channel_id=APPROVALS)
    nudging.drain()
    (view,) = nudging.slack.views.values()
    assert slack.submit_view(view, {"reason": {"value": "not today"}}, user_id=BOB).ok
    nudging.drain()
    assert not [t for t in _dm_texts(nudging, ALICE) if "denied" in t]
    fallback = [
        c
        for c in nudging.slack.calls_to("chat.postEphemeral")
        if c.ok and c.args.get("user") == ALICE and "was denied" in str(c.args.get("text"))
    ]
    assert [c.args["channel"] for c in fallback] == [DEV]


# The card's thread


def test_the_card_keeps_a_thread_of_refusals_votes_retries_and_the_outcome(
    two_needed: Any,
) -> None:
    slack = two_needed.client()
    _ask(two_needed, slack, f"edit {USER} total=900 more mail")
    slack.click("approve_request", user_id=ALICE, message=_card(two_needed), channel_id=APPROVALS)
    two_needed.drain()
    slack.click("approve_request", user_id=BOB, message=_card(two_needed), channel_id=APPROVALS)
    two_needed.drain()
    assert f"1 of 2 approvals: <@{BOB}>" in str(_card(two_needed)["blocks"])
    two_needed.sandbox.fail_next("general", path="settings/editSmtp")
    slack.click("approve_request", user_id=CAROL, message=_card(two_needed), channel_id=APPROVALS)
    two_needed.drain()
    slack.click("retry_request", user_id=BOB, message=_card(two_needed), channel_id=APPROVALS)
    two_needed.drain()
    assert two_needed.sandbox.users[USER].total_limit == 900
    thread = _thread(two_needed)
    assert thread == [
        f"<@{ALICE}> tried to approve it, refused: You cannot decide your own request.",
        f"✅ Approved by <@{BOB}> (1 of 2 approvals).",
        f"✅ Approved by <@{CAROL}> (2 of 2 approvals).",
        thread[3],
        f"🔁 <@{BOB}> retried it.",
        f"✅ Done. SMTP user: `{USER}`.",
    ]
    assert thread[3].startswith("❌ It did not go through: ")
    # The card itself shows where things stand now.
    assert "✅ Done" in str(_card(two_needed)["blocks"])


def test_a_thread_slack_refuses_does_not_stop_the_change(nudging: Any) -> None:
    slack = nudging.client()
    _ask(nudging, slack)
    ts = str(_card(nudging)["ts"])
    nudging.slack.fail_next("chat.postMessage", "fatal_error", times=5, match={"thread_ts": ts})
    slack.click("approve_request", user_id=BOB, message=_card(nudging), channel_id=APPROVALS)
    nudging.drain()
    assert request_state(nudging.database, 1) is RequestState.DONE
    assert any(
        "New SMTP password" in str(c.args) for c in nudging.slack.calls_to("chat.postEphemeral")
    )
    assert _thread(nudging) == []


def test_a_withdrawn_request_says_so_in_its_thread(nudging: Any) -> None:
    slack = nudging.client()
    request_id = _ask(nudging, slack)
    assert slack.command("/smtp", f"cancel {request_id}", user_id=ALICE, channel_id=DEV).ok
    nudging.drain()
    assert _thread(nudging) == [f"↩️ Withdrawn by <@{ALICE}>."]


# Reminders and escalation


def test_a_waiting_request_is_reminded_then_escalated_once_each(nudging: Any) -> None:
    slack = nudging.client()
    request_id = _ask(nudging, slack)
    assert _after(nudging, 0.98) == []
    assert _after(nudging, 1.02) == ["done"]
    thread = _thread(nudging)
    assert len(thread) == 1
    assert thread[0].startswith("⏰ Waiting for a decision for 1 hour")
    assert f"<@{BOB}>" in thread[0]
    assert f"<!subteam^{OPS_GROUP}>" in thread[0]
    broadcast = [c for c in nudging.slack.calls_to("chat.postMessage") if c.args.get("thread_ts")]
    assert broadcast[0].args.get("reply_broadcast") is True
    (reminder,) = _nudges(nudging, BOB)
    assert f"Request #{request_id}" in reminder
    assert USER in reminder
    assert _nudges(nudging, ALICE) == []
    assert _nudges(nudging, CAROL) == []
    assert _after(nudging, 3) == []
    assert _after(nudging, 4.02) == ["done"]
    assert _thread(nudging)[1].startswith("🚨 Still no decision after 4 hours")
    assert f"<!subteam^{LEADS}>" in _thread(nudging)[1]
    (escalated,) = _nudges(nudging, CAROL)
    assert "comes to you as well" in escalated
    assert _after(nudging, 8) == []
    assert len(_nudges(nudging, BOB)) == 1
    assert len(_thread(nudging)) == 2


def test_a_request_decided_in_time_is_neither_reminded_nor_escalated(nudging: Any) -> None:
    slack = nudging.client()
    _ask(nudging, slack)
    slack.click("approve_request", user_id=BOB, message=_card(nudging), channel_id=APPROVALS)
    nudging.drain()
    before = len(_thread(nudging))
    assert _after(nudging, 5) == ["done", "done"]  # the jobs end, saying nothing
    assert len(_thread(nudging)) == before
    assert _nudges(nudging, BOB) == []
    assert _nudges(nudging, CAROL) == []


def test_a_reminder_slack_refuses_is_tried_again_and_nobody_is_told_twice(
    nudging: Any,
) -> None:
    slack = nudging.client()
    _ask(nudging, slack)
    ts = str(_card(nudging)["ts"])
    nudging.slack.fail_next("chat.postMessage", "fatal_error", match={"thread_ts": ts})
    nudging.slack.fail_next("chat.postMessage", "fatal_error", match={"channel": BOB})
    assert _after(nudging, 1.02) == ["again"]
    assert _nudges(nudging, BOB) == []
    assert _thread(nudging) == []
    assert _after(nudging, 1.1) == ["done"]
    assert len(_nudges(nudging, BOB)) == 1
    # Once someone was told, a reminder is not repeated for those Slack refused.
    nudging.slack.fail_next("chat.postMessage", "fatal_error", match={"thread_ts": ts})
    assert _after(nudging, 4.02) == ["done"]
    assert len(_nudges(nudging, CAROL)) == 1


def test_a_reminder_job_run_again_after_a_crash_tells_nobody_twice(nudging: Any) -> None:
    slack = nudging.client()
    request_id = _ask(nudging, slack)
    later = datetime.now(UTC) + timedelta(hours=1.02)
    assert nudging.app.scheduler.run_due(now=later) != []
    # As if the process died after telling people, before the job was marked done.
    assert nudge_request(nudging.app.context, request_id, later, escalate=False) == 1
    assert len(_thread(nudging)) == 1
    assert len(_nudges(nudging, BOB)) == 1


@pytest.mark.postgres
def test_two_processes_remind_and_escalate_once_each(postgres_url: str) -> None:
    with _workspace(postgres_url, NUDGING) as shared:
        shared.sandbox.add_user(name=USER)
        slack = shared.client()
        request_id = _ask(shared, slack)
        with shared.database.session() as session:
            session.execute(
                text("UPDATE due_jobs SET due_at = :t WHERE key IN (:a, :b)"),
                {
                    "t": datetime.now(UTC) - timedelta(seconds=1),
                    "a": f"{REMIND_REQUEST}:{request_id}",
                    "b": f"{ESCALATE_REQUEST}:{request_id}",
                },
            )
        database = Database(shared.database_url)
        other = another_process(shared, database)
        try:
            apps = [shared.app, other]
            outcomes = race(4, lambda i: [r.outcome for r in apps[i % 2].scheduler.run_due()])
        finally:
            other.close()
            database.dispose()
        assert sorted(o for ran in outcomes for o in ran) == ["done", "done"]
        assert len(_nudges(shared, BOB)) == 1
        assert len(_nudges(shared, CAROL)) == 1
        assert len(_thread(shared)) == 2
        jobs = JobStore(shared.database)
        for kind in (REMIND_REQUEST, ESCALATE_REQUEST):
            job = jobs.get(f"{kind}:{request_id}")
            assert job is not None
            assert job.state == "done"


def test_the_requester_hears_of_every_click_only_where_it_concerns_them(nudging: Any) -> None:
    slack = nudging.client()
    _ask(nudging, slack)
    slack.click("approve_request", user_id=CAROL, message=_card(nudging), channel_id=APPROVALS)
    nudging.drain()
    # Carol is not among the approvers: her click is refused and kept in the thread only.
    assert "refused" in _thread(nudging)[0]
    assert not [t for t in told(nudging.slack, ALICE) if "refused" in t]


# Found by attacking the above: each is said once, to whom it concerns, or tried again


@pytest.fixture
def guest_in_groups(tmp_path: Path) -> Iterator[Any]:
    """The nudging policy, with the guest gus in the ops group and in the leads group."""
    groups = {OPS_GROUP: [BOB, GUEST], LEADS: [CAROL, GUEST]}
    url = f"sqlite:///{tmp_path / 'sarvbot.db'}"
    with LocalWorkspace(url, policy_text=NUDGING, usergroups=groups) as running:
        running.sandbox.add_user(name=USER, total_limit=100)
        yield running


def _outcome_notices(workspace: Any, request_id: int) -> list[str]:
    """What the requester was told of how request ``request_id`` ended."""
    return [
        t
        for t in _dm_texts(workspace, ALICE)
        if t.startswith(f"Request #{request_id}") and "approved" in t
    ]


def test_an_unknown_outcome_is_told_once_in_the_thread_and_to_the_requester(
    nudging: Any,
) -> None:
    """One "❓ Outcome unknown" reply and one DM to the requester saying the outcome is unknown."""
    slack = nudging.client()
    request_id = _ask(nudging, slack)
    nudging.sandbox.fail_next("garbled", path="settings/resetSmtpPassword")
    slack.click("approve_request", user_id=BOB, message=_card(nudging), channel_id=APPROVALS)
    nudging.drain()
    _after(nudging, 0.01)  # what a serving process's housekeeping runs next
    assert request_state(nudging.database, request_id) is RequestState.UNKNOWN
    unknown = [t for t in _thread(nudging) if t.startswith("❓")]
    assert len(unknown) == 1, unknown
    notices = _outcome_notices(nudging, request_id)
    assert len(notices) == 1, notices
    assert "did not go through" not in notices[0]


def test_a_reminder_run_again_after_a_crash_is_not_broadcast_twice(nudging: Any) -> None:
    """The reminder is said under the card once per request, however often the job runs (exactly
    once across restarts).
    """
    slack = nudging.client()
    request_id = _ask(nudging, slack)
    later = datetime.now(UTC) + timedelta(hours=1.02)
    assert [r.outcome for r in nudging.app.scheduler.run_due(now=later)] == ["done"]
    # As if the process died after telling people, before the job was marked done.
    nudge_request(nudging.app.context, request_id, later, escalate=False)
    reminders = [t for t in _thread(nudging) if t.startswith("⏰")]
    assert len(reminders) == 1, reminders


def test_a_reminder_retried_after_the_database_failed_is_not_broadcast_twice(
    nudging: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry tells the approvers it did not reach, and posts nothing under the card that is
    there already.
    """
    slack = nudging.client()
    _ask(nudging, slack)
    ledger = nudging.app.context.core.ledger
    claim = ledger.first_sight
    failures = [DatabaseUnavailable("the database went away")]

    def flaky(keys: Any) -> bool:
        if failures:
            raise failures.pop()
        return claim(keys)

    monkeypatch.setattr(ledger, "first_sight", flaky)
    assert _after(nudging, 1.02) == ["again"]
    assert _after(nudging, 1.2) == ["done"]
    assert len(_nudges(nudging, BOB)) == 1
    reminders = [t for t in _thread(nudging) if t.startswith("⏰")]
    assert len(reminders) == 1, reminders


def test_an_escalation_nobody_heard_is_tried_again(nudging: Any) -> None:
    """A run that told nobody at all is tried again, so the leads hear of it once Slack answers."""
    slack = nudging.client()
    _ask(nudging, slack)
    assert _after(nudging, 1.02) == ["done"]
    ts = str(_card(nudging)["ts"])
    nudging.slack.fail_next("chat.postMessage", "fatal_error", match={"thread_ts": ts})
    nudging.slack.fail_next("usergroups.users.list", "fatal_error", match={"usergroup": LEADS})
    _after(nudging, 4.02)
    _after(nudging, 4.2)
    assert len(_nudges(nudging, CAROL)) == 1
    assert len([t for t in _thread(nudging) if t.startswith("🚨")]) == 1


def test_a_guest_among_the_approvers_is_not_sent_reminders(guest_in_groups: Any) -> None:
    """Reminders and escalations go to nobody a decision would refuse as a guest."""
    workspace = guest_in_groups
    slack = workspace.client()
    _ask(workspace, slack)
    assert _after(workspace, 1.02) == ["done"]
    assert _after(workspace, 4.02) == ["done"]
    assert len(_nudges(workspace, BOB)) == 1  # the reminders did go out
    assert _dm_texts(workspace, GUEST) == []


def test_an_expiry_notice_tried_again_does_not_repeat_its_thread_reply(nudging: Any) -> None:
    """The retry only tells the requester; the thread says how the request ended once."""
    slack = nudging.client()
    request_id = _ask(nudging, slack)
    _overdue(nudging, request_id)
    nudging.slack.fail_next("chat.postMessage", "fatal_error", match={"channel": ALICE})
    nudging.slack.fail_next("chat.postEphemeral", "fatal_error", match={"user": ALICE})
    assert [r.id for r in nudging.app.expire_requests()] == [request_id]
    nudging.app.scheduler.run_due(now=datetime.now(UTC) + timedelta(minutes=1))
    assert [t for t in _dm_texts(nudging, ALICE) if "expired" in t]  # told on the retry
    assert _thread(nudging) == ["⌛ Expired without a decision."]


def test_a_refused_clicker_is_kept_in_the_thread_once_however_often_they_click(
    nudging: Any,
) -> None:
    slack = nudging.client()
    _ask(nudging, slack)
    for _ in range(3):
        slack.click("approve_request", user_id=ALICE, message=_card(nudging), channel_id=APPROVALS)
        nudging.drain()
    refusals = [p for p in nudging.slack.posts if "own request" in str(p.body)]
    assert len(refusals) == 3  # each click is answered
    assert [t for t in _thread(nudging) if "refused" in t] == [
        f"<@{ALICE}> tried to approve it, refused: You cannot decide your own request."
    ]


def test_an_approver_whose_vote_is_in_is_not_reminded(tmp_path: Path) -> None:
    policy = NUDGING.replace("expire_after_hours = 24", "expire_after_hours = 24\nrequired = 2")
    with _workspace(f"sqlite:///{tmp_path / 'sarvbot.db'}", policy) as workspace:
        workspace.sandbox.add_user(name=USER)
        slack = workspace.client()
        _ask(workspace, slack)
        slack.click("approve_request", user_id=BOB, message=_card(workspace), channel_id=APPROVALS)
        workspace.drain()
        assert _after(workspace, 1.02) == ["done"]
        assert _nudges(workspace, BOB) == []
        assert [t for t in _thread(workspace) if t.startswith("⏰")] != []


def test_a_reminder_the_policy_no_longer_asks_for_says_nothing(nudging: Any) -> None:
    slack = nudging.client()
    _ask(nudging, slack)
    # The policy changed (a restart with a new file) after the request was made.
    nudging.app.core.permissions.policy = parse_policy(DEMO_POLICY, source="policy")
    assert _after(nudging, 5) == ["done", "done"]
    assert _thread(nudging) == []
    assert _nudges(nudging, BOB) == []


def test_an_expiry_notice_run_again_after_a_crash_does_not_dm_the_requester_twice(
    nudging: Any,
) -> None:
    """The requester's notice is claimed once per request and end, like the thread reply, so a
    repeat of the job tells nobody again.
    """
    slack = nudging.client()
    request_id = _ask(nudging, slack)
    _overdue(nudging, request_id)
    assert [r.id for r in nudging.app.expire_requests()] == [request_id]
    assert len([t for t in _dm_texts(nudging, ALICE) if "expired" in t]) == 1
    # As if the process died after telling the requester, before the job was marked done.
    expired = ApprovalStore(nudging.database).get(request_id)
    assert expired is not None
    tell_request_ended(nudging.app.context, expired)
    notices = [t for t in _dm_texts(nudging, ALICE) if "expired" in t]
    assert len(notices) == 1, notices


def _done_notices(workspace: Any) -> list[str]:
    return [t for t in _dm_texts(workspace, ALICE) if "was approved by" in t and "done" in t]


def test_a_request_run_by_a_process_that_died_before_telling_is_told_by_another(
    nudging: Any,
) -> None:
    slack = nudging.client()
    request_id = _ask(nudging, slack)
    core = nudging.app.core
    # A process claims and runs the approved change, then dies before any word of it.
    decided = core.approvals.decide(Actor(BOB), APPROVALS, request_id, approve=True)
    assert core.approvals.execute(decided.request).result is not None
    assert _done_notices(nudging) == []
    later = datetime.now(UTC) + timedelta(minutes=3)
    nudging.app.scheduler.run_due(now=later)
    assert len(_done_notices(nudging)) == 1
    assert _thread(nudging) == [f"✅ Done. SMTP user: `{USER}`."]
    assert "✅ Done" in str(_card(nudging)["blocks"])
    nudging.app.scheduler.run_due(now=later + timedelta(hours=1))
    assert len(_done_notices(nudging)) == 1


def test_a_request_told_by_the_process_that_ran_it_is_not_told_again(nudging: Any) -> None:
    slack = nudging.client()
    _ask(nudging, slack)
    slack.click("approve_request", user_id=BOB, message=_card(nudging), channel_id=APPROVALS)
    nudging.drain()
    assert len(_done_notices(nudging)) == 1
    ran = nudging.app.scheduler.run_due(now=datetime.now(UTC) + timedelta(minutes=3))
    assert [r.job.kind for r in ran if r.outcome == "done"].count(REQUEST_ENDED) == 1
    assert len(_done_notices(nudging)) == 1
    assert [t for t in _thread(nudging) if "Done" in t] == [f"✅ Done. SMTP user: `{USER}`."]


def test_each_failure_of_a_retried_request_is_told(nudging: Any) -> None:
    slack = nudging.client()
    _ask(nudging, slack, f"edit {USER} total=900 more mail")
    nudging.sandbox.fail_next("general", path="settings/editSmtp", times=20)
    slack.click("approve_request", user_id=BOB, message=_card(nudging), channel_id=APPROVALS)
    nudging.drain()
    slack.click("retry_request", user_id=BOB, message=_card(nudging), channel_id=APPROVALS)
    nudging.drain()
    failed = [t for t in _dm_texts(nudging, ALICE) if "did not go through" in t]
    assert len(failed) == 2
    assert len([t for t in _thread(nudging) if t.startswith("❌")]) == 2


def test_a_denial_recorded_by_a_process_that_died_before_telling_is_told_by_another(
    nudging: Any,
) -> None:
    slack = nudging.client()
    request_id = _ask(nudging, slack)
    core = nudging.app.core
    core.approvals.decide(Actor(BOB), APPROVALS, request_id, approve=False, reason="not now")
    denied = [t for t in _dm_texts(nudging, ALICE) if "was denied" in t]
    assert denied == []
    later = datetime.now(UTC) + timedelta(minutes=3)
    nudging.app.scheduler.run_due(now=later)
    nudging.app.scheduler.run_due(now=later + timedelta(hours=1))
    assert [t for t in _dm_texts(nudging, ALICE) if "was denied" in t] == [
        f"Request #{request_id} was denied by <@{BOB}>. Reason: not now"
    ]
    assert _thread(nudging) == [f"🚫 Denied by <@{BOB}>: not now"]
    assert "Denied" in str(_card(nudging)["blocks"])
