"""Defects of "the people around a request": the requester's notices, the card's thread,
and the reminders and escalations of a request nobody decides.

Each test states the promise it holds sarvbot to; requests are made and decided through
real signed HTTP, Slack is the Web API stand-in, and the schedule runs as a serving
process runs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from sarvbot.core import RequestState
from sarvbot.slack.flows import nudge_request
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, CAROL, GUEST, LocalWorkspace
from sarvbot.store import DatabaseUnavailable
from tests.support import request_state

from .test_request_notices import (
    LEADS,
    NUDGING,
    OPS_GROUP,
    USER,
    _after,
    _ask,
    _card,
    _dm_texts,
    _nudges,
    _thread,
    _workspace,
)


@pytest.fixture
def nudging(tmp_path: Path) -> Iterator[Any]:
    with _workspace(f"sqlite:///{tmp_path / 'sarvbot.db'}", NUDGING) as running:
        running.sandbox.add_user(name=USER, total_limit=100)
        yield running


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
    """Broken: when Sarv's answer to an approved change cannot be read, ``run_approved``
    (flows.py) tells the requester "it did not go through" and replies "❓ Outcome unknown"
    under the card, and ``mark_unknown`` (store/approval_requests.py) also schedules a
    ``request_ended`` job whose ``tell_request_ended`` says both again: two thread replies,
    and two DMs that contradict each other (the first says it did not happen, the second
    that sarvbot "stopped before it recorded the outcome"). Should: one "❓ Outcome unknown"
    reply and one DM to the requester saying the outcome is unknown.
    """
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
    """Broken: ``nudge_request`` (flows.py) claims each DM in the ledger, but posts its
    broadcast thread reply (which pings the approvers' user groups in the channel) on every
    run. A process that dies after posting, before the job is marked done, has it posted
    again by the next run. Should: the reminder is said under the card once per request,
    however often the job runs (exactly once across restarts).
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
    """Broken: when the database goes away while ``nudge_request`` (flows.py) claims the
    first DM, the job fails after the broadcast reply was posted; its retry posts the
    broadcast again, pinging the channel twice. Should: the retry tells the approvers it
    did not reach, and posts nothing under the card that is there already.
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
    """Broken: ``nudge_request`` (flows.py) raises to be tried again only when it found
    people to DM (``if not posted and people and not sent``). When Slack refuses the thread
    reply and, for a moment, the member list of the ``escalate_to`` group, nobody is told
    and the job still ends "done": the escalation is lost for good. Should: a run that
    told nobody at all is tried again, so the leads hear of it once Slack answers.
    """
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
    """Broken: ``Permissions.people_named`` (core/permissions.py) gives ``nudge_request``
    every member of the approvers' and escalate_to's user groups, guests included, so a
    guest gets DMs naming the request, its requester and its SMTP user, and telling them to
    "Approve or deny it". A guest may not decide a request, and the Home tab shows a guest
    no request. Should: reminders and escalations go to nobody a decision would refuse as
    a guest.
    """
    workspace = guest_in_groups
    slack = workspace.client()
    _ask(workspace, slack)
    assert _after(workspace, 1.02) == ["done"]
    assert _after(workspace, 4.02) == ["done"]
    assert len(_nudges(workspace, BOB)) == 1  # the reminders did go out
    assert _dm_texts(workspace, GUEST) == []


def test_an_expiry_notice_tried_again_does_not_repeat_its_thread_reply(nudging: Any) -> None:
    """Broken: ``tell_request_ended`` (flows.py) replies under the card each time it runs,
    and the ``request_ended`` job runs again whenever Slack refused the requester's notice.
    Slack refusing the DM and its fallback once leaves "⌛ Expired without a decision."
    twice in the thread. Should: the retry only tells the requester; the thread says how
    the request ended once.
    """
    slack = nudging.client()
    request_id = _ask(nudging, slack)
    with nudging.database.session() as session:
        session.execute(
            text("UPDATE approval_requests SET expires_at = :t WHERE id = :id"),
            {"t": datetime.now(UTC) - timedelta(minutes=1), "id": request_id},
        )
    nudging.slack.fail_next("chat.postMessage", "fatal_error", match={"channel": ALICE})
    nudging.slack.fail_next("chat.postEphemeral", "fatal_error", match={"user": ALICE})
    assert [r.id for r in nudging.app.expire_requests()] == [request_id]
    nudging.app.scheduler.run_due(now=datetime.now(UTC) + timedelta(minutes=1))
    assert [t for t in _dm_texts(nudging, ALICE) if "expired" in t]  # told on the retry
    assert _thread(nudging) == ["⌛ Expired without a decision."]
