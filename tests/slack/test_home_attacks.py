"""The App Home tab attacked: its buttons, its forms and its view, through signed requests.

Every test here fails because of a defect; each docstring says what is broken.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from sarvbot.core import RequestState
from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, CAROL, DEV, LocalWorkspace
from sarvbot.store import ApprovalStore
from tests.support import request_state, thread_replies

RESET = "settings/resetSmtpPassword"


def _open_home(workspace: LocalWorkspace, slack: SlackAppClient, user_id: str) -> dict[str, Any]:
    response = slack.event({"type": "app_home_opened", "user": user_id, "tab": "home"})
    assert response.status_code == 200
    workspace.drain()
    view = workspace.slack.home_view(user_id)
    assert view is not None, f"no Home tab was published for {user_id}"
    return view


def _request_reset(workspace: LocalWorkspace, slack: SlackAppClient, name: str) -> int:
    workspace.sandbox.add_user(name=name)
    slack.command("/smtp", f"reset {name} key leaked in CI", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    pending = ApprovalStore(workspace.database).pending()
    assert pending, "the request was not made"
    return pending[-1].id


def _card(workspace: LocalWorkspace, request_id: int) -> dict[str, Any]:
    request = ApprovalStore(workspace.database).get(request_id)
    assert request is not None
    assert request.message_channel is not None
    assert request.message_ts is not None
    return workspace.slack.messages[(request.message_channel, request.message_ts)]


def _everything_told_to(workspace: LocalWorkspace, user_id: str) -> str:
    """Every answer that reached ``user_id``: their Home tab, ephemerals, DMs, response_urls."""
    parts = [str(workspace.slack.home_view(user_id) or {})]
    for call in workspace.slack.calls:
        if not call.ok:
            continue
        if call.method == "chat.postEphemeral" and call.args.get("user") == user_id:
            parts.append(str(call.args))
        if call.method == "chat.postMessage" and call.args.get("channel") == user_id:
            parts.append(str(call.args))
    return "\n".join(parts)


def test_a_deny_form_opened_from_home_tells_its_submitter_when_the_deny_is_refused(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """BROKEN: the deny form opened from the Home tab carries no response_url and no way
    back to the Home tab (listeners/home.py deny_clicked builds FormMeta(channel_id,
    request_id=...); views.py deny_submitted answers through meta.respond(), which is None).
    When the deny is refused at submission (here: bob approved the request while carol was
    typing her reason), carol is told nothing at all, anywhere. She should be told, as a
    deny from the card is (through its response_url): on her Home tab, or in her DM.
    """
    request_id = _request_reset(workspace, slack, "smtp60001")
    carol = _open_home(workspace, slack, CAROL)
    slack.click("home_deny", user_id=CAROL, view=carol, value=str(request_id))
    workspace.drain()
    (form,) = [v for v in workspace.slack.views.values() if v["type"] == "modal"]

    # Meanwhile bob approves from the card: the request runs and is done.
    card = _card(workspace, request_id)
    slack.click("approve_request", user_id=BOB, message=card, channel_id=APPROVALS)
    workspace.drain()
    assert request_state(workspace.database, request_id) is RequestState.DONE

    workspace.slack.clear()
    response = slack.submit_view(form, {"reason": {"value": "use the new one"}}, user_id=CAROL)
    assert response.status_code == 200
    workspace.drain()
    assert request_state(workspace.database, request_id) is RequestState.DONE
    assert "is already done" in _everything_told_to(workspace, CAROL), (
        "carol's deny was refused and she was told nothing"
    )


def test_a_long_escaped_note_request_never_breaks_the_deciders_home_tab(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """BROKEN: home_blocks._waiting cuts the reason (and describe_request the note) to a
    number of characters *before* escaping them, and puts them in one section: a requested
    note of 500 `&` (each escaped to `&amp;`, five characters) makes a section of some 3300
    characters, over Slack's 3000. views.publish is refused (invalid_blocks) and every
    decider's Home tab stays stale (or empty) for as long as the request waits. The view
    should stay within Slack's limits whatever the text (cut after escaping, or split).
    """
    workspace.sandbox.add_user(name="smtp60002")
    note = "&" * 500
    slack.command("/smtp", f"note smtp60002 {note}", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    (request,) = ApprovalStore(workspace.database).pending()
    assert request.action == "note"

    workspace.slack.clear()
    response = slack.event({"type": "app_home_opened", "user": BOB, "tab": "home"})
    assert response.status_code == 200
    workspace.drain()
    published = [c for c in workspace.slack.calls_to("views.publish") if c.args["user_id"] == BOB]
    assert published, "no views.publish was tried for bob"
    assert all(c.ok for c in published), [c.response for c in published if not c.ok]
    assert f"#{request.id}" in str(workspace.slack.home_view(BOB) or {})


def test_slow_home_refreshes_never_hold_up_an_approved_change(tmp_path: Path) -> None:
    """BROKEN: HomeTab.request_changed runs each refresh (one views.publish, plus a fresh
    guest and membership look-up, per person concerned, one after the other) as a job on the
    same work pool as the Sarv changes (self._work.submit). When Slack is slow to answer
    views.publish (or rate-limits it: the client sleeps Retry-After), a couple of request
    changes fill the pool with Home refreshes, and an approval clicked on the card waits
    behind them: here two refreshes of 3 people at 3 s each hold a 2-worker pool for 9 s.
    The tab is "never in the way of a change": its refreshes should run apart (their own
    small pool, or dropped), so that the approved change runs at once.
    """
    slow = 3.0
    with LocalWorkspace(f"sqlite:///{tmp_path / 'sarvbot.db'}", workers=2) as workspace:
        slack = workspace.client()
        try:
            for name in ("smtp60003", "smtp60004"):
                workspace.sandbox.add_user(name=name)
            workspace.slack.fail_next("views.publish", "fatal_error", times=6, delay=slow)
            for name in ("smtp60003", "smtp60004"):
                slack.command("/smtp", f"reset {name} key leaked", user_id=ALICE, channel_id=DEV)
            workspace.slack.wait_for(
                lambda c: c.method == "chat.postMessage" and "Request #2" in str(c.args),
                timeout=slow,
            )
            workspace.slack.wait_for(
                lambda c: c.method == "views.publish", timeout=slow
            )  # the refreshes have begun
            first = ApprovalStore(workspace.database).pending()[0]
            card = _card(workspace, first.id)
            began = time.monotonic()
            slack.click("approve_request", user_id=BOB, message=card, channel_id=APPROVALS)
            ran = workspace.sandbox.wait_for_call(RESET, timeout=slow)
            waited = time.monotonic() - began
            assert ran, f"the approved reset had not run {waited:.1f} s after the click"
            workspace.drain()
            assert request_state(workspace.database, first.id) is RequestState.DONE
        finally:
            slack.close()


def test_opening_the_home_tab_with_the_database_gone_says_so(
    tmp_path: Path,
) -> None:
    """BROKEN: app_home_opened is queued as work with the event's replay keys, and the work
    queue first records them in the database (WorkLedger.first_sight) before the job runs.
    With the database gone that raises DatabaseUnavailable, the job never runs, and the
    answer goes to nobody (respond is None): nothing is published, so the person keeps
    seeing the stale view, with requests long decided still showing Approve and Deny.
    HomeTab._publish has a view for exactly this (home_unavailable, "could not read
    everything"): opening the tab with the database down should publish it.
    """
    folder = tmp_path / "db"
    folder.mkdir()
    with LocalWorkspace(f"sqlite:///{folder / 'sarvbot.db'}") as workspace:
        slack = workspace.client()
        try:
            _request_reset(workspace, slack, "smtp60005")
            before = _open_home(workspace, slack, BOB)
            assert "home_approve" in str(before)

            shutil.rmtree(folder)
            workspace.database.dispose()  # pooled connections still hold the deleted file
            workspace.slack.clear()
            response = slack.event({"type": "app_home_opened", "user": BOB, "tab": "home"})
            assert response.status_code == 200
            workspace.drain()
            published = [c for c in workspace.slack.calls_to("views.publish") if c.ok]
            assert published, "nothing was published: bob still sees the stale view"
            assert "could not read everything" in str(workspace.slack.home_view(BOB))
        finally:
            slack.close()


def test_a_cancel_from_home_is_told_in_the_cards_thread_as_smtp_cancel_is(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """BROKEN: the Home tab's Cancel is meant to be `/smtp cancel N` (listeners/home.py
    cancel_clicked), but it leaves out what `/smtp cancel` does after withdrawing the
    request (listeners/commands.py _cancel): the note "Withdrawn by @alice" in the card's
    thread. The approvers following the thread (where every click and outcome is kept)
    never learn the request was withdrawn from the Home tab. The Home Cancel should post
    the same thread note.
    """
    request_id = _request_reset(workspace, slack, "smtp60006")
    request = ApprovalStore(workspace.database).get(request_id)
    assert request is not None
    assert request.message_channel is not None
    assert request.message_ts is not None
    alice = _open_home(workspace, slack, ALICE)
    slack.click("home_cancel", user_id=ALICE, view=alice, value=str(request_id))
    workspace.drain()
    assert request_state(workspace.database, request_id) is RequestState.CANCELLED
    replies = thread_replies(workspace.slack, request.message_channel, request.message_ts)
    assert any(f"Withdrawn by <@{ALICE}>" in r for r in replies), replies
