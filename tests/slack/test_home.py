"""The App Home tab end to end: the view people see, and its buttons deciding as the card."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from sarvbot.core import ApprovalRequest, RequestState
from sarvbot.core.home import PersonalView
from sarvbot.policy import parse_policy
from sarvbot.slack.home_blocks import HOME_BLOCK_LIMIT, home_view
from sarvbot.standin import SlackAppClient, SlackUser, check_message_limits
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
from sarvbot.store import ApprovalStore, AuditLog, CatalogueStore, DatabaseUnavailable
from tests.support import (
    join_channel,
    lose_database,
    own_workspace,
    race,
    request_state,
    thread_replies,
)

DAN = "U0DAN"  # in the workspace and in #dev, not in the approvals channel
RESET = "settings/resetSmtpPassword"


def _home_opened(workspace: LocalWorkspace, slack: SlackAppClient, user_id: str) -> None:
    response = slack.event({"type": "app_home_opened", "user": user_id, "tab": "home"})
    assert response.status_code == 200
    workspace.drain()


def _open_home(workspace: LocalWorkspace, slack: SlackAppClient, user_id: str) -> dict[str, Any]:
    _home_opened(workspace, slack, user_id)
    view = workspace.slack.home_view(user_id)
    assert view is not None, f"no Home tab was published for {user_id}"
    return view


def _text(view: dict[str, Any]) -> str:
    return str(view["blocks"])


def _request_reset(workspace: LocalWorkspace, slack: SlackAppClient, name: str) -> int:
    workspace.sandbox.add_user(name=name)
    slack.command("/smtp", f"reset {name} key leaked in CI", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    pending = ApprovalStore(workspace.database).pending()
    assert pending, "the request was not made"
    return pending[-1].id


def _click_home(
    workspace: LocalWorkspace,
    slack: SlackAppClient,
    action: str,
    user_id: str,
    request_id: int,
    *,
    button_of: str | None = None,
) -> dict[str, Any]:
    """Open the Home tab as ``user_id`` and click ``action`` on request ``request_id``;
    the button is taken from ``button_of``'s view when ``user_id``'s has none (a view
    published before they lost the right, or a forged click: the same to sarvbot).
    """
    view = _open_home(workspace, slack, button_of or user_id)
    response = slack.click(action, user_id=user_id, view=view, value=str(request_id))
    assert response.status_code == 200
    workspace.drain()
    after = workspace.slack.home_view(user_id)
    assert after is not None
    return after


def _card_place(workspace: LocalWorkspace, request_id: int) -> tuple[str, str]:
    """The channel and ts of the request's card."""
    request = ApprovalStore(workspace.database).get(request_id)
    assert request is not None
    assert request.message_channel is not None
    assert request.message_ts is not None
    return request.message_channel, request.message_ts


def _card(workspace: LocalWorkspace, request_id: int) -> dict[str, Any]:
    return workspace.slack.messages[_card_place(workspace, request_id)]


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


def _published_to(workspace: LocalWorkspace) -> set[str]:
    return {str(c.args["user_id"]) for c in workspace.slack.calls_to("views.publish") if c.ok}


@pytest.fixture
def dan(workspace: LocalWorkspace) -> str:
    workspace.slack.add_user(SlackUser(DAN, "dan"))
    join_channel(workspace.slack, DEV, DAN)
    return DAN


# The view


def test_opening_the_home_tab_shows_each_person_their_own_view(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    request_id = _request_reset(workspace, slack, "smtp30001")
    workspace.sandbox.add_user(name="smtp30002")
    catalogue = CatalogueStore(workspace.database)
    catalogue.write("smtp30002", label="billing-api", owner_id=ALICE)
    slack.command("/smtp", "freeze smtp30002 pasted in #general", user_id=BOB, channel_id=DEV)
    slack.command(
        "/smtp", "edit smtp30001 hourly=500 for 2h campaign", user_id=BOB, channel_id="C0OPS"
    )
    workspace.drain()

    bob = _text(_open_home(workspace, slack, BOB))
    assert "Waiting on you" in bob
    assert f"#{request_id}" in bob
    assert "home_approve" in bob
    assert "home_deny" in bob
    assert "reset the password of `smtp30001`" in bob
    assert "key leaked in CI" in bob
    assert "`smtp30002` frozen by <@U0BOB>" in bob
    assert "`smtp30001` edit" in bob  # a time-bound change: ops see them all

    alice = _text(_open_home(workspace, slack, ALICE))
    assert "Waiting on you" not in alice
    assert "home_approve" not in alice
    assert "Your requests" in alice
    assert "Waiting for approval" in alice
    assert "home_cancel" in alice
    assert "`smtp30002` · `billing-api`" in alice  # she owns it
    assert "`smtp30002` frozen" in alice  # and so sees its freeze
    assert "No time-bound change of yours is in force." in alice


def test_the_messages_tab_and_strangers_get_no_home_view(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    slack.event({"type": "app_home_opened", "user": BOB, "tab": "messages"})
    slack.event({"type": "app_home_opened", "tab": "home"})
    slack.event({"type": "app_home_opened", "user": ["U0BOB"], "tab": "home"})
    workspace.drain()
    assert workspace.slack.calls_to("views.publish") == []


def test_a_guest_sees_only_what_guests_may_do(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    _request_reset(workspace, slack, "smtp30003")
    guest = _text(_open_home(workspace, slack, GUEST))
    assert "Guests and people from other organisations" in guest
    assert "smtp30003" not in guest
    assert "home_" not in guest


def test_the_view_stays_within_slacks_hundred_blocks_and_says_how_many_more(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    store = ApprovalStore(workspace.database)
    now = datetime.now(UTC)
    for n in range(40):
        store.create(
            requester_id=ALICE,
            requester_channel_id=DEV,
            action="disable",
            target=f"smtp4{n:04d}",
            params={},
            reason="a reason",
            expires_at=now + timedelta(hours=1),
            now=now,
        )
    catalogue = CatalogueStore(workspace.database)
    for n in range(60):
        catalogue.write(f"smtp5{n:04d}", owner_id=BOB, note="x" * 200)
    bob = _open_home(workspace, slack, BOB)
    assert len(bob["blocks"]) <= HOME_BLOCK_LIMIT
    assert "…and 25 more." in _text(bob)  # 40 waiting, 15 shown
    assert "…and 35 more." in _text(bob)  # 60 owned, 25 shown
    alice = _open_home(workspace, slack, ALICE)
    assert "…and 10 more." in _text(alice)  # her last 20 requests, 10 shown


def test_every_list_full_stays_within_the_limits() -> None:
    now = datetime.now(UTC)
    store_like = [
        _request(n, now) for n in range(200)
    ]  # more than any list shows, each with a long reason
    view = PersonalView(BOB, decider=True, required=2, waiting=store_like, mine=store_like)
    built = home_view(view, APPROVALS, notice="n" * 5000)
    assert len(built["blocks"]) <= HOME_BLOCK_LIMIT
    assert check_message_limits(text=None, blocks=built["blocks"], max_blocks=100) is None


def _request(n: int, now: datetime) -> ApprovalRequest:
    return ApprovalRequest(
        id=n,
        created_at=now,
        expires_at=now + timedelta(hours=1),
        updated_at=now,
        requester_id=ALICE,
        requester_channel_id=DEV,
        action="disable",
        target="s" * 300,
        params={},
        reason="r" * 5000,
        state=RequestState.PENDING,
        decided_by=None,
        decided_at=None,
        deny_reason=None,
        error=None,
        result=None,
        message_channel=None,
        message_ts=None,
        approvals=(BOB, CAROL),
    )


# Approve, Deny and Cancel from the Home tab


def test_approve_from_the_home_tab_runs_the_change_as_the_card_would(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    request_id = _request_reset(workspace, slack, "smtp30004")
    after = _click_home(workspace, slack, "home_approve", BOB, request_id)
    assert len(workspace.sandbox.calls_to(RESET)) == 1
    assert request_state(workspace.database, request_id) is RequestState.DONE
    password = workspace.sandbox.users["smtp30004"].password
    holders = [c for c in workspace.slack.calls if password in str(c.args)]
    assert [(c.method, c.args["user"]) for c in holders] == [("chat.postEphemeral", ALICE)]
    assert "Done" in str(_card(workspace, request_id)["blocks"])
    assert "home_approve" not in _text(after)  # nothing waits on bob any more


def test_the_home_tab_refuses_whoever_the_card_refuses(
    workspace: LocalWorkspace, slack: SlackAppClient, dan: str
) -> None:
    request_id = _request_reset(workspace, slack, "smtp30005")
    # Not in the approvals channel.
    refused = _click_home(workspace, slack, "home_approve", dan, request_id, button_of=BOB)
    assert "Only current members of the approvals channel can decide requests." in _text(refused)
    # A guest.
    refused = _click_home(workspace, slack, "home_approve", GUEST, request_id, button_of=BOB)
    assert "Guests and external users cannot decide requests." in _text(refused)
    # The requester, even once in the approvals channel.
    join_channel(workspace.slack, APPROVALS, ALICE)
    refused = _click_home(workspace, slack, "home_approve", ALICE, request_id, button_of=BOB)
    assert "You cannot decide your own request." in _text(refused)
    # Deny is refused the same way, before any form opens.
    refused = _click_home(workspace, slack, "home_deny", dan, request_id, button_of=BOB)
    assert "Only current members of the approvals channel" in _text(refused)
    assert workspace.slack.calls_to("views.open") == []

    assert workspace.sandbox.calls_to(RESET) == []
    assert request_state(workspace.database, request_id) is RequestState.PENDING
    refusals = [e for e in AuditLog(workspace.database).latest(limit=50) if e.outcome == "refused"]
    assert {e.actor_id for e in refusals} >= {DAN, GUEST, ALICE}


def test_a_member_who_is_not_a_named_approver_is_refused_at_home(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    assert workspace.app is not None
    named = DEMO_POLICY.replace(
        "expire_after_hours = 24", f'expire_after_hours = 24\napprovers = ["{CAROL}"]'
    )
    workspace.app.core.permissions.policy = parse_policy(named, source="policy")
    request_id = _request_reset(workspace, slack, "smtp30006")
    bob = _open_home(workspace, slack, BOB)
    assert "Waiting on you" not in _text(bob)  # no buttons for him
    # A click on a button from an older view still meets the check.
    carol = _open_home(workspace, slack, CAROL)
    slack.click("home_approve", user_id=BOB, view=carol, value=str(request_id))
    workspace.drain()
    assert "You are not one of the approvers named in the policy." in _text(
        workspace.slack.home_view(BOB) or {}
    )
    assert request_state(workspace.database, request_id) is RequestState.PENDING
    _click_home(workspace, slack, "home_approve", CAROL, request_id)
    assert request_state(workspace.database, request_id) is RequestState.DONE
    assert len(workspace.sandbox.calls_to(RESET)) == 1


def test_deny_from_the_home_tab_opens_the_cards_form_and_denies(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    request_id = _request_reset(workspace, slack, "smtp30007")
    _click_home(workspace, slack, "home_deny", CAROL, request_id)
    (form,) = [v for v in workspace.slack.views.values() if v["type"] == "modal"]
    response = slack.submit_view(form, {"reason": {"value": "use the new one"}}, user_id=CAROL)
    assert response.status_code == 200
    workspace.drain()
    request = ApprovalStore(workspace.database).get(request_id)
    assert request is not None
    assert request.state is RequestState.DENIED
    assert request.deny_reason == "use the new one"
    assert "Denied" in str(_card(workspace, request_id)["blocks"])
    assert workspace.sandbox.calls_to(RESET) == []


def test_the_requester_cancels_from_the_home_tab_and_nobody_else_can(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    request_id = _request_reset(workspace, slack, "smtp30008")
    alice = _open_home(workspace, slack, ALICE)
    # bob clicks the Cancel of a view that is not his: the core refuses it.
    slack.click("home_cancel", user_id=BOB, view=alice, value=str(request_id))
    workspace.drain()
    assert "is not yours to cancel" in _text(workspace.slack.home_view(BOB) or {})
    assert request_state(workspace.database, request_id) is RequestState.PENDING

    after = _click_home(workspace, slack, "home_cancel", ALICE, request_id)
    assert "Request #1 is withdrawn." in _text(after)
    assert request_state(workspace.database, request_id) is RequestState.CANCELLED
    assert "Withdrawn" in str(_card(workspace, request_id)["blocks"])
    slack.click("home_cancel", user_id=ALICE, view=alice, value=str(request_id))  # a stale view
    workspace.drain()
    assert "is already cancelled" in _text(workspace.slack.home_view(ALICE) or {})


def test_bad_clicks_get_a_clear_answer_and_change_nothing(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    request_id = _request_reset(workspace, slack, "smtp30009")
    bob = _open_home(workspace, slack, BOB)
    alice = _open_home(workspace, slack, ALICE)
    for user, view, action in ((BOB, bob, "home_approve"), (ALICE, alice, "home_cancel")):
        for value in ("", "not-a-number", "-1", "99999999999999999999", "424242"):
            response = slack.click(action, user_id=user, view=_forged(view, action, value))
            assert response.status_code == 200
            workspace.drain()
            shown = _text(workspace.slack.home_view(user) or {})
            expected = "does not exist" if value == "424242" else "That button is out of date."
            assert expected in shown, (action, value)
    # A Home tab button in a message is not the Home tab's: nobody is told anything.
    response = slack.click(
        "home_approve", user_id=BOB, message={"ts": "1.2", **bob}, channel_id=APPROVALS
    )
    assert response.status_code == 200
    workspace.drain()
    assert request_state(workspace.database, request_id) is RequestState.PENDING
    assert workspace.sandbox.calls_to(RESET) == []


def _forged(view: dict[str, Any], action: str, value: str) -> dict[str, Any]:
    button = {"type": "button", "action_id": action, "value": value}
    return {**view, "blocks": [{"type": "actions", "elements": [button]}]}


# Exactly once, and never in the way


def test_an_approval_from_home_racing_one_from_the_card_runs_the_change_once(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    for round_ in range(4):
        name = f"smtp3100{round_}"
        request_id = _request_reset(workspace, slack, name)
        card = _card(workspace, request_id)
        home = _open_home(workspace, slack, BOB)
        answers = race(2, _card_and_home_clicks(slack, card, home, request_id))
        assert [a.status_code for a in answers] == [200, 200]
        workspace.drain()
        resets = [c for c in workspace.sandbox.calls_to(RESET) if name in str(c)]
        assert len(resets) == 1, f"round {round_}: Sarv was called {len(resets)} times"
        audit = AuditLog(workspace.database).latest(limit=200)
        done = [e for e in audit if e.request_id == request_id and e.outcome == "done"]
        approved = [e for e in audit if e.request_id == request_id and e.outcome == "approved"]
        assert len(done) == 1
        assert len(approved) == 1
        assert request_state(workspace.database, request_id) is RequestState.DONE


def _card_and_home_clicks(
    slack: SlackAppClient, card: dict[str, Any], home: dict[str, Any], request_id: int
) -> Callable[[int], requests.Response]:
    """carol's Approve on the card (0) and bob's in his Home tab (1)."""

    def click(index: int) -> requests.Response:
        if index == 0:
            return slack.click("approve_request", user_id=CAROL, message=card, channel_id=APPROVALS)
        return slack.click("home_approve", user_id=BOB, view=home, value=str(request_id))

    return click


def test_the_view_is_refreshed_for_the_requester_and_approvers_when_a_request_changes(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    request_id = _request_reset(workspace, slack, "smtp30010")
    assert _published_to(workspace) == {ALICE, BOB, CAROL}  # not the bot, not the guest
    assert f"#{request_id}" in _text(workspace.slack.home_view(CAROL) or {})

    workspace.slack.clear()
    card = _card(workspace, request_id)
    slack.click("approve_request", user_id=BOB, message=card, channel_id=APPROVALS)
    workspace.drain()
    assert _published_to(workspace) == {ALICE, BOB, CAROL}
    assert "home_approve" not in _text(workspace.slack.home_view(CAROL) or {})
    assert "Done" in _text(workspace.slack.home_view(ALICE) or {})


def test_a_failing_views_publish_never_breaks_the_change(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.slack.fail_next("views.publish", "fatal_error", times=100)
    request_id = _request_reset(workspace, slack, "smtp30011")
    card = _card(workspace, request_id)
    slack.click("approve_request", user_id=BOB, message=card, channel_id=APPROVALS)
    workspace.drain()
    assert workspace.slack.calls_to("views.publish"), "no refresh was tried"
    assert request_state(workspace.database, request_id) is RequestState.DONE
    assert len(workspace.sandbox.calls_to(RESET)) == 1
    password = workspace.sandbox.users["smtp30011"].password
    holders = [c for c in workspace.slack.calls if password in str(c.args)]
    assert [(c.method, c.args["user"]) for c in holders] == [("chat.postEphemeral", ALICE)]


def test_a_slow_views_publish_never_delays_the_change(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    slow = 4.0
    workspace.slack.fail_next("views.publish", "fatal_error", times=100, delay=slow)
    workspace.sandbox.add_user(name="smtp30012")
    began = time.monotonic()
    slack.command("/smtp", "reset smtp30012 key leaked", user_id=ALICE, channel_id=DEV)
    workspace.slack.wait_for_post(lambda p: "sent for approval" in str(p.body), timeout=slow - 1)
    (request,) = ApprovalStore(workspace.database).pending()
    card = _card(workspace, request.id)
    slack.click("approve_request", user_id=BOB, message=card, channel_id=APPROVALS)
    workspace.slack.wait_for(
        lambda c: c.method == "chat.update" and "Done" in str(c.args.get("blocks")),
        timeout=slow - 1,
    )
    assert time.monotonic() - began < slow
    workspace.drain()
    assert request_state(workspace.database, request.id) is RequestState.DONE


def test_an_unreadable_database_shows_a_notice_not_an_error(
    workspace: LocalWorkspace, slack: SlackAppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def gone(self: ApprovalStore, *args: Any, **kwargs: Any) -> Any:
        raise DatabaseUnavailable("the database went away")

    monkeypatch.setattr(ApprovalStore, "of_requester", gone)
    view = _open_home(workspace, slack, ALICE)
    assert "could not read everything" in _text(view)


# Told, within limits, and never waiting on Slack or the database


def test_a_deny_form_opened_from_home_tells_its_submitter_when_the_deny_is_refused(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """A deny form opened from the Home tab tells its submitter when the deny is refused at
    submission (here: bob approved the request while carol was typing her reason), on her
    Home tab or in her DM, as a deny from the card is told through its response_url.
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
    """The Home tab stays within Slack's limits whatever the text of a request: a requested
    note of 500 `&` (each escaped to `&amp;`) must not make a section over Slack's 3000
    characters, which views.publish refuses (invalid_blocks), leaving every decider's tab
    stale for as long as the request waits.
    """
    workspace.sandbox.add_user(name="smtp60002")
    note = "&" * 500
    slack.command("/smtp", f"note smtp60002 {note}", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    (request,) = ApprovalStore(workspace.database).pending()
    assert request.action == "note"

    workspace.slack.clear()
    _home_opened(workspace, slack, BOB)
    published = [c for c in workspace.slack.calls_to("views.publish") if c.args["user_id"] == BOB]
    assert published, "no views.publish was tried for bob"
    assert all(c.ok for c in published), [c.response for c in published if not c.ok]
    assert f"#{request.id}" in str(workspace.slack.home_view(BOB) or {})


def test_slow_home_refreshes_never_hold_up_an_approved_change(tmp_path: Path) -> None:
    """Home tab refreshes run apart from the Sarv changes, "never in the way of a change":
    when Slack is slow to answer views.publish (or rate-limits it), the refreshes of two
    requests (3 people at 3 s each) must not fill a 2-worker pool, and an approval clicked
    on the card runs at once.
    """
    slow = 3.0
    with own_workspace(tmp_path, workers=2) as (workspace, slack):
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


def test_opening_the_home_tab_with_the_database_gone_says_so(
    tmp_path: Path,
) -> None:
    """Opening the Home tab with the database gone publishes the tab's "could not read
    everything" view (HomeTab._publish's home_unavailable), even though the work queue
    cannot record the event's replay keys: the person must not keep seeing a stale view
    whose long-decided requests still show Approve and Deny.
    """
    folder = tmp_path / "db"
    with own_workspace(folder) as (workspace, slack):
        _request_reset(workspace, slack, "smtp60005")
        before = _open_home(workspace, slack, BOB)
        assert "home_approve" in str(before)

        lose_database(workspace, folder)
        workspace.slack.clear()
        _home_opened(workspace, slack, BOB)
        published = [c for c in workspace.slack.calls_to("views.publish") if c.ok]
        assert published, "nothing was published: bob still sees the stale view"
        assert "could not read everything" in str(workspace.slack.home_view(BOB))


def test_a_cancel_from_home_is_told_in_the_cards_thread_as_smtp_cancel_is(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """The Home tab's Cancel does all that `/smtp cancel N` does, the note "Withdrawn by
    @alice" in the card's thread included, so that the approvers following the thread
    learn the request was withdrawn.
    """
    request_id = _request_reset(workspace, slack, "smtp60006")
    channel, ts = _card_place(workspace, request_id)
    alice = _open_home(workspace, slack, ALICE)
    slack.click("home_cancel", user_id=ALICE, view=alice, value=str(request_id))
    workspace.drain()
    assert request_state(workspace.database, request_id) is RequestState.CANCELLED
    replies = thread_replies(workspace.slack, channel, ts)
    assert any(f"Withdrawn by <@{ALICE}>" in r for r in replies), replies
