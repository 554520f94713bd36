"""Pick, don't type: the SMTP user picker and the global shortcut "Manage an SMTP user"."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sarvbot.policy import parse_policy
from sarvbot.slack.listeners import picker as picker_listener
from sarvbot.slack.picker import ACTION_PICK_USER, MANAGE_ACTIONS, PICKER_BLOCK
from sarvbot.standin import SlackAppClient, SlackUser
from sarvbot.standin.block_kit import check_options
from sarvbot.standin.workspace import (
    ALICE,
    APPROVALS,
    BOB,
    DEMO_POLICY,
    DEV,
    GUEST,
    OPS,
    LocalWorkspace,
)
from sarvbot.store import AuditLog, CatalogueStore
from tests.support import noticing, wait_until

LIST = "settings/listSmtp"
USER = "smtp97001"
DAVE = "U0DAVE"  # a full member of the workspace who is in no channel of the policy


def _opened_since(workspace: LocalWorkspace, before: set[str]) -> dict[str, Any]:
    """The one modal opened since the views were ``before``."""
    workspace.drain()
    (opened,) = set(workspace.slack.views) - before
    return workspace.slack.views[opened]


def _manage_form(workspace: LocalWorkspace, slack: SlackAppClient, user: str) -> dict[str, Any]:
    """Use the global shortcut; returns the modal it opened."""
    before = set(workspace.slack.views)
    assert slack.global_shortcut("manage_smtp_user", user_id=user).ok
    return _opened_since(workspace, before)


def _cold_form(workspace: LocalWorkspace, slack: SlackAppClient, user: str) -> dict[str, Any]:
    """The Manage modal, once the list its opening loaded is forgotten (as a change, or
    the copy's age, makes it): the next letter typed loads it again.
    """
    view = _manage_form(workspace, slack, user)
    workspace.drain()
    assert wait_until(lambda: len(workspace.sandbox.calls_to(LIST)) == 1)
    assert workspace.app is not None
    index = workspace.app.core.user_index
    index.search("", wait=5)  # the opening's load, done
    index.invalidate()
    return view


def _offered(
    slack: SlackAppClient, view: dict[str, Any], typed: str, user: str = BOB
) -> list[dict[str, Any]]:
    """What the picker offers once ``typed`` is typed: checked against Slack's limits."""
    answer = slack.suggest(view, ACTION_PICK_USER, typed, user_id=user)
    assert answer.status_code == 200
    options = answer.json()["options"]
    assert check_options(options) is None
    return list(options)


def _values(offered: list[dict[str, Any]]) -> list[str]:
    return [o["value"] for o in offered]


def _manage(
    slack: SlackAppClient,
    view: dict[str, Any],
    user: str,
    *,
    name: str | None = USER,
    action: str | None,
    channel: str | None,
    details: str | None = None,
    person: str | None = None,
) -> Any:
    values = {
        PICKER_BLOCK: {ACTION_PICK_USER: name},
        "action": {"value": action},
        "channel": {"value": channel},
        "details": {"value": details},
        "person": {"value": person},
    }
    answer = slack.submit_view(view, values, user_id=user)
    assert answer.status_code == 200
    return answer.json() if answer.text else {}


def _told(workspace: LocalWorkspace) -> str:
    return "\n".join(str(p.body) for p in workspace.slack.posts)


# The picker


def test_the_picker_matches_names_and_labels_in_any_case(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    workspace.sandbox.add_user(name="smtp97002")
    workspace.sandbox.add_user(name="smtp12345")
    CatalogueStore(workspace.database).write("smtp97002", label="Billing-API")
    view = _manage_form(workspace, slack, BOB)
    assert _values(_offered(slack, view, "bILL")) == ["smtp97002"]
    assert _values(_offered(slack, view, "SMTP97")) == [USER, "smtp97002"]
    assert _values(_offered(slack, view, "api")) == ["smtp97002"]
    assert _offered(slack, view, "nothing like it") == []
    (labelled,) = _offered(slack, view, "billing")
    assert labelled["text"]["text"] == "smtp97002 (Billing-API)"


def test_what_begins_with_the_text_comes_first(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="aaa-mail")
    workspace.sandbox.add_user(name="mail-1")
    view = _manage_form(workspace, slack, BOB)
    assert _values(_offered(slack, view, "mail")) == ["mail-1", "aaa-mail"]


def test_nothing_typed_offers_the_first_hundred_by_name(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.seed_users(150)
    view = _manage_form(workspace, slack, BOB)
    offered = _values(_offered(slack, view, ""))
    assert len(offered) == 100
    assert offered == sorted(workspace.sandbox.users)[:100]


def test_long_names_and_labels_fit_an_option_and_labels_stay_plain_text(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    long_name = "s" * 60
    workspace.sandbox.add_user(name=long_name)
    workspace.sandbox.add_user(name="x" * 151)  # past an option value's 150: never offered
    CatalogueStore(workspace.database).write(long_name, label="<!channel>*bold*")
    view = _manage_form(workspace, slack, BOB)
    (only,) = _offered(slack, view, "")
    assert only["value"] == long_name
    assert only["text"]["type"] == "plain_text"
    assert len(only["text"]["text"]) == 75
    assert only["text"]["text"].startswith(long_name + " (<!channel>")


def test_when_sarv_fails_the_picker_offers_nothing_and_tries_again_next_time(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    view = _cold_form(workspace, slack, BOB)
    workspace.sandbox.fail_next("html500", times=3, path=LIST)  # the list is retried twice
    with noticing("picker answered with no options: ") as logged:
        assert _offered(slack, view, "smtp") == []
    assert logged.is_set()
    assert _values(_offered(slack, view, "smtp")) == [USER]


def test_a_slow_sarv_gets_an_empty_answer_in_time_and_the_next_one_is_full(
    workspace: LocalWorkspace, slack: SlackAppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace.sandbox.add_user(name=USER)
    view = _cold_form(workspace, slack, BOB)
    monkeypatch.setattr(picker_listener, "OPTIONS_WAIT", 0.2)
    workspace.sandbox.settings.latency = 1.0
    started = time.monotonic()
    with noticing("picker answered with no options: Sarv is slow"):
        assert _offered(slack, view, "smtp") == []
    assert time.monotonic() - started < 1.0
    workspace.sandbox.settings.latency = 0.0
    assert workspace.sandbox.wait_for_call(LIST)
    monkeypatch.setattr(picker_listener, "OPTIONS_WAIT", 5.0)
    assert _values(_offered(slack, view, "smtp")) == [USER]
    assert len(workspace.sandbox.calls_to(LIST)) == 2  # the form's, and the slow one


def test_the_list_is_kept_for_everyone_and_a_user_added_through_sarvbot_is_offered_at_once(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    view = _manage_form(workspace, slack, BOB)
    assert _values(_offered(slack, view, "", BOB)) == [USER]
    assert _values(_offered(slack, view, "smtp", ALICE)) == [USER]
    assert len(workspace.sandbox.calls_to(LIST)) == 1
    slack.command("/smtp", "add 100 10 label=newsletter", user_id=BOB, channel_id=OPS)
    workspace.drain()
    (added,) = set(workspace.sandbox.users) - {USER}
    assert _values(_offered(slack, view, "NEWS")) == [added]


def test_a_label_set_through_sarvbot_is_offered_at_once(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    view = _manage_form(workspace, slack, BOB)
    assert _offered(slack, view, "billing") == []
    slack.command("/smtp", f"label {USER} billing-api", user_id=BOB, channel_id=OPS)
    workspace.drain()
    assert _values(_offered(slack, view, "billing")) == [USER]


def test_ten_thousand_users_are_searched_from_one_call_to_sarv(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.seed_users(10_000)
    names = sorted(workspace.sandbox.users)
    CatalogueStore(workspace.database).write(names[5000], label="the-newsletter")
    view = _manage_form(workspace, slack, BOB)
    assert len(_offered(slack, view, "")) == 100
    assert _values(_offered(slack, view, names[7777])) == [names[7777]]
    assert _values(_offered(slack, view, "NEWSLETTER")) == [names[5000]]
    assert len(_offered(slack, view, "smtp")) == 100
    assert len(workspace.sandbox.calls_to(LIST)) == 1


# The Manage shortcut


def test_the_shortcut_opens_the_picker_with_the_actions_that_take_a_user(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    view = _manage_form(workspace, slack, ALICE)
    (picker,) = [b for b in view["blocks"] if b.get("block_id") == PICKER_BLOCK]
    assert picker["element"]["type"] == "external_select"
    (actions,) = [b for b in view["blocks"] if b.get("block_id") == "action"]
    offered = [o["value"] for o in actions["element"]["options"]]
    assert offered == [s.action.value for s in MANAGE_ACTIONS]
    assert {"reset", "edit", "freeze", "show", "reveal"} <= set(offered)
    assert not {"add", "help", "list", "pending"} & set(offered)
    (channel,) = [b for b in view["blocks"] if b.get("block_id") == "channel"]
    assert channel["element"]["response_url_enabled"] is True


def test_opening_the_form_loads_the_list_so_the_first_letter_finds_it_ready(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    view = _manage_form(workspace, slack, BOB)
    workspace.drain()
    assert wait_until(lambda: len(workspace.sandbox.calls_to("settings/listSmtp")) == 1)
    assert USER in _values(_offered(slack, view, USER[:6]))
    assert len(workspace.sandbox.calls_to("settings/listSmtp")) == 1


def test_a_refused_action_stays_on_the_form_and_changes_nothing(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    password = workspace.sandbox.users[USER].password
    view = _manage_form(workspace, slack, ALICE)
    answer = _manage(slack, view, ALICE, action="reveal", channel=DEV)
    assert answer == {
        "response_action": "errors",
        "errors": {"action": "`reveal` is not allowed in this channel."},
    }
    workspace.drain()
    assert workspace.sandbox.users[USER].password == password
    assert workspace.slack.posts == []
    assert workspace.slack.calls_to("chat.postEphemeral") == []
    refused = [(e.action, e.outcome) for e in AuditLog(workspace.database).latest(target=USER)]
    assert refused == [("reveal", "refused")]


def test_a_guest_is_refused_on_the_form(workspace: LocalWorkspace, slack: SlackAppClient) -> None:
    workspace.sandbox.add_user(name=USER)
    view = _manage_form(workspace, slack, GUEST)
    answer = _manage(slack, view, GUEST, action="show", channel=DEV)
    assert "Guests" in answer["errors"]["action"]


def test_a_form_missing_its_choices_says_which(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    view = _manage_form(workspace, slack, BOB)
    answer = _manage(slack, view, BOB, name=None, action=None, channel=None)
    assert set(answer["errors"]) == {PICKER_BLOCK, "action", "channel"}


def test_bad_details_stay_on_the_form_with_the_usage(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    view = _manage_form(workspace, slack, BOB)
    answer = _manage(slack, view, BOB, action="label", channel=OPS, details="not/a/label")
    assert "Usage: /smtp label USER LABEL [reason]" in answer["errors"]["details"]
    answer = _manage(slack, view, BOB, action="freeze", channel=OPS)
    assert answer["errors"] == {"details": "Say why, here: ops read it."}
    assert workspace.sandbox.users[USER].status == "Enable"
    assert AuditLog(workspace.database).latest(target=USER) == []


def test_a_request_without_a_reason_stays_on_the_form(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    view = _manage_form(workspace, slack, ALICE)
    answer = _manage(slack, view, ALICE, action="disable", channel=DEV)
    assert answer["errors"] == {"details": "Say why, here: ops read it."}
    workspace.drain()
    assert workspace.slack.calls_to("chat.postMessage") == []


def test_a_requestable_action_becomes_a_request(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    password = workspace.sandbox.users[USER].password
    view = _manage_form(workspace, slack, ALICE)
    assert _manage(slack, view, ALICE, action="reset", channel=DEV, details="leaked") == {}
    workspace.drain()
    assert workspace.sandbox.users[USER].password == password
    posted = workspace.slack.calls_to("chat.postMessage")
    cards = [c for c in posted if c.args["channel"] == APPROVALS]
    assert len(cards) == 1
    assert "leaked" in str(cards[0].args)
    (told,) = workspace.slack.posts
    assert "#1" in str(told.body)
    assert password not in str(workspace.slack.calls) + _told(workspace)


def test_an_allowed_reset_runs_and_the_password_goes_only_to_the_dm(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    view = _manage_form(workspace, slack, BOB)
    assert _manage(slack, view, BOB, action="reset", channel=OPS) == {}
    workspace.drain()
    password = workspace.sandbox.users[USER].password
    holders = [c for c in workspace.slack.calls if password in str(c.args)]
    assert [(c.method, c.args["user"]) for c in holders] == [("chat.postEphemeral", BOB)]
    assert holders[0].args["channel"] == workspace.slack.im_channel_id(BOB)
    assert password not in _told(workspace)
    done = [(e.action, e.outcome) for e in AuditLog(workspace.database).latest(target=USER)]
    assert ("reset", "done") in done


def test_a_read_is_answered_in_the_chosen_channel(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    view = _manage_form(workspace, slack, ALICE)
    assert _manage(slack, view, ALICE, action="show", channel=DEV) == {}
    workspace.drain()
    assert USER in _told(workspace)
    assert workspace.slack.posts[-1].body["response_type"] == "ephemeral"


def test_owner_takes_the_person_picked(workspace: LocalWorkspace, slack: SlackAppClient) -> None:
    workspace.sandbox.add_user(name=USER)
    view = _manage_form(workspace, slack, BOB)
    assert _manage(slack, view, BOB, action="owner", channel=OPS, person=ALICE) == {}
    workspace.drain()
    entry = CatalogueStore(workspace.database).get(USER)
    assert entry is not None
    assert entry.owner_id == ALICE


def test_edit_goes_on_in_the_edit_form(workspace: LocalWorkspace, slack: SlackAppClient) -> None:
    workspace.sandbox.add_user(700, 70, name=USER)
    view = _manage_form(workspace, slack, BOB)
    answer = _manage(slack, view, BOB, action="edit", channel=OPS)
    assert answer["response_action"] == "update"
    assert answer["view"]["callback_id"] == "smtp_edit"
    workspace.drain()
    form = workspace.slack.views[view["id"]]
    assert form["callback_id"] == "smtp_edit"
    assert "700" in str(form["blocks"])
    typed = {
        "total_limit": {"value": "700"},
        "hourly_limit": {"value": "90"},
        "status": {"value": "Enable"},
    }
    assert slack.submit_view(form, typed, user_id=BOB).ok
    workspace.drain()
    assert workspace.sandbox.users[USER].hourly_limit == 90
    assert "edited" in str(workspace.slack.calls_to("chat.postMessage")[-1].args)


def test_the_shortcut_tells_the_person_by_dm_when_slack_will_not_open_the_form(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.slack.fail_next("views.open", "expired_trigger_id")
    assert slack.global_shortcut("manage_smtp_user", user_id=ALICE).ok
    workspace.drain()
    (dm,) = workspace.slack.calls_to("chat.postMessage")
    assert dm.args["channel"] == ALICE
    assert "use the shortcut again" in str(dm.args["text"])


# Who may use the form, and what it costs


def test_manage_refuses_a_channel_the_person_is_not_a_member_of(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """The Manage form refuses a channel the person is not in: `/smtp` can only be typed in
    a channel one is in, so the channel's membership is part of its policy. Alice is only
    in #dev; choosing the public #ops (whose `reveal` #dev refuses) stays on the form with
    an error on "channel", is audited, and reveals nothing.
    """
    workspace.sandbox.add_user(name=USER)
    password = workspace.sandbox.users[USER].password
    assert ALICE not in workspace.slack.channel(OPS).members
    view = _manage_form(workspace, slack, ALICE)
    answer = _manage(slack, view, ALICE, action="reveal", channel=OPS)
    workspace.drain()
    delivered = [c for c in workspace.slack.calls if password in str(c.args)]
    assert delivered == [], "a password went to someone who is not in the channel"
    assert answer.get("response_action") == "errors"
    assert "channel" in answer["errors"]


def test_manage_cannot_reset_through_a_channel_the_person_is_not_in(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """The Manage form refuses a change through a channel the person is not in: Alice (not
    in #ops) choosing #ops, where #dev would only let her request a reset, resets nothing
    at Sarv.
    """
    workspace.sandbox.add_user(name=USER)
    password = workspace.sandbox.users[USER].password
    view = _manage_form(workspace, slack, ALICE)
    _manage(slack, view, ALICE, action="reset", channel=OPS)
    workspace.drain()
    assert workspace.sandbox.users[USER].password == password
    done = [(e.action, e.outcome) for e in AuditLog(workspace.database).latest(target=USER)]
    assert ("reset", "done") not in done


def test_the_picker_offers_no_names_to_a_guest(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """The picker offers a guest no options: a guest may run only help and whoami (`/smtp
    list` and `show` are refused), so typing into the picker of the Manage modal (which the
    shortcut opens for anyone) must not give them Sarv's names and labels either.
    """
    workspace.sandbox.add_user(name=USER)
    view = _manage_form(workspace, slack, GUEST)
    assert _offered(slack, view, "", GUEST) == []


def test_the_picker_offers_no_names_to_someone_who_may_list_nowhere(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """The picker offers names only to someone a channel of the policy lets list (or show):
    Dave, in no channel of the policy, who may not `/smtp list` or `show` anywhere, gets no
    options.
    """
    workspace.slack.add_user(SlackUser(DAVE, "dave"))
    workspace.sandbox.add_user(name=USER)
    view = _manage_form(workspace, slack, DAVE)
    assert _offered(slack, view, "", DAVE) == []


def test_freezes_through_manage_count_once_each_against_the_rate_limit(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """A freeze through the Manage form takes one of the hour's freeze slots, not one when
    the form is checked and another when the command runs: with the default 5 freezes an
    hour, three freezes through Manage all pass (no false "too many freezes" alert).
    """
    names = [f"smtp9700{i}" for i in range(1, 4)]
    for name in names:
        workspace.sandbox.add_user(name=name)
    for name in names:
        view = _manage_form(workspace, slack, BOB)
        answer = _manage(slack, view, BOB, name=name, action="freeze", channel=OPS, details="leak")
        assert answer == {}
        workspace.drain()
    frozen = [n for n in names if workspace.sandbox.users[n].status == "Disable"]
    assert frozen == names


def test_slack_unreachable_while_checking_the_manage_form_is_told(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """The Manage form tells the person when Slack does not answer at all (users.info's
    connection dropped, not only a SlackApiError): the form stays open with an error, or
    the person is told by message; the modal never just closes in silence.
    """
    workspace.sandbox.add_user(name=USER)
    view = _manage_form(workspace, slack, ALICE)
    workspace.slack.fail_next("users.info", "dropped", drop=True, times=10)
    answer = _manage(slack, view, ALICE, action="show", channel=DEV)
    workspace.drain()
    told = answer.get("response_action") == "errors" or workspace.slack.posts
    assert told, "the modal closed and nobody was told anything"


def test_freezes_through_the_message_shortcut_count_once_each_against_the_rate_limit(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """A freeze through the message shortcut takes one of the hour's freeze slots: opening
    its form takes none, submitting it one. With `[freeze] per_hour = 2`, two freezes
    through the shortcut both pass, and ops get no false alert.
    """
    assert workspace.app is not None
    policy = DEMO_POLICY + "\n[freeze]\nper_hour = 2\n"
    workspace.app.core.permissions.policy = parse_policy(policy, source="policy")
    names = ["smtp97001", "smtp97002"]
    for name in names:
        workspace.sandbox.add_user(name=name)
    for name in names:
        before = set(workspace.slack.views)
        message = {"text": f"leaked {name}", "ts": "1700000000.000100", "user": BOB}
        assert slack.message_shortcut(
            "freeze_from_message", message, user_id=ALICE, channel_id=DEV
        ).ok
        view = _opened_since(workspace, before)
        assert "You froze" not in str(view["blocks"]), f"{name}: refused by the rate limit"
        typed = {PICKER_BLOCK: {ACTION_PICK_USER: name}, "reason": {"value": "pasted"}}
        assert slack.submit_view(view, typed, user_id=ALICE).ok
        workspace.drain()
    frozen = [n for n in names if workspace.sandbox.users[n].status == "Disable"]
    assert frozen == names


def test_the_manage_form_is_answered_within_slacks_three_seconds_when_slack_is_slow(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """The Manage form's submission is answered within Slack's 3 s whatever users.info does
    (Slack shows its own "trouble connecting" error after 3 s and drops a later answer), so
    that the form's own "Slack did not answer in time" error reaches the person.
    """
    workspace.sandbox.add_user(name=USER)
    view = _manage_form(workspace, slack, ALICE)
    workspace.slack.fail_next("users.info", "fatal_error", delay=4.0)
    started = time.monotonic()
    _manage(slack, view, ALICE, action="show", channel=DEV)
    assert time.monotonic() - started < 3.0


def test_a_channel_sarvbot_cannot_read_is_refused_on_the_form_not_blamed_on_slack(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """Be refused as ``/smtp show`` typed in a channel the policy does not know is (and as the
    workflow steps refuse it), with nothing changed.
    """
    workspace.sandbox.add_user(name=USER)
    view = _manage_form(workspace, slack, BOB)
    answer = _manage(slack, view, BOB, action="show", channel="C0SECRET")
    assert answer["response_action"] == "errors"
    shown = " ".join(answer["errors"].values())
    assert "did not answer in time" not in shown
    assert "not allowed" in shown


# The channel chosen narrows the actions


def _choose_channel(
    workspace: LocalWorkspace,
    slack: SlackAppClient,
    view: dict[str, Any],
    channel: str,
    user: str,
) -> dict[str, Any]:
    """Choose ``channel`` on the Manage form; returns the form as Slack then shows it."""
    assert slack.choose(view, "channel", "value", channel, user_id=user).status_code == 200
    workspace.drain()
    return workspace.slack.views[view["id"]]


def _action_texts(view: dict[str, Any]) -> dict[str, str]:
    """The actions offered, by value, with the words shown for each."""
    found = [b for b in view["blocks"] if b.get("block_id") == "action"]
    if not found:
        return {}
    return {o["value"]: o["text"]["text"] for o in found[0]["element"]["options"]}


def _allows_line(view: dict[str, Any]) -> str:
    (line,) = [b for b in view["blocks"] if b.get("block_id") == "channel_allows"]
    return str(line["elements"][0]["text"])


def test_choosing_a_channel_asks_slack_for_its_actions(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    view = _manage_form(workspace, slack, BOB)
    (channel,) = [b for b in view["blocks"] if b.get("block_id") == "channel"]
    assert channel["dispatch_action"] is True
    assert "Choose the channel first" in _allows_line(view)


def test_choosing_ops_offers_what_ops_allows(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    view = _manage_form(workspace, slack, BOB)
    shown = _choose_channel(workspace, slack, view, OPS, BOB)
    (update,) = workspace.slack.calls_to("views.update")
    assert update.ok
    assert update.args["hash"] == view["hash"]
    offered = _action_texts(shown)
    assert list(offered) == [s.action.value for s in MANAGE_ACTIONS]
    assert offered["reset"] == "Reset"
    assert "needs approval" not in str(offered)
    assert f"<#{OPS}>" in _allows_line(shown)


def test_choosing_dev_offers_its_reads_and_marks_what_needs_approval(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    view = _manage_form(workspace, slack, ALICE)
    offered = _action_texts(_choose_channel(workspace, slack, view, DEV, ALICE))
    runs = [v for v, text in offered.items() if "needs approval" not in text]
    asks = [v for v, text in offered.items() if text.endswith("(needs approval)")]
    assert runs == ["show", "freeze", "audit"]
    assert asks == ["edit", "enable", "disable", "reset", "rotate", "label", "owner", "note"]
    assert offered["reset"] == "Reset (needs approval)"
    assert "reveal" not in offered


@pytest.mark.parametrize(
    ("user", "channel"), [(GUEST, DEV), (BOB, APPROVALS)], ids=["guest", "channel-not-in-policy"]
)
def test_where_nothing_is_possible_the_form_says_so_instead_of_the_actions(
    workspace: LocalWorkspace, slack: SlackAppClient, user: str, channel: str
) -> None:
    view = _manage_form(workspace, slack, user)
    shown = _choose_channel(workspace, slack, view, channel, user)
    assert workspace.slack.calls_to("views.update")[-1].ok
    assert _action_texts(shown) == {}
    assert "Nothing on this form is possible for you" in _allows_line(shown)
    answer = slack.submit_view(shown, {"channel": {"value": channel}}, user_id=user).json()
    assert answer["errors"] == {
        PICKER_BLOCK: "Choose an SMTP user: type part of its name or label.",
        "channel": "Nothing on this form is possible for you here: choose another channel.",
    }


def test_what_the_person_entered_survives_the_narrowing(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    view = _manage_form(workspace, slack, ALICE)
    slack.enter(view, {PICKER_BLOCK: {ACTION_PICK_USER: USER}, "details": {"value": "leaked"}})
    shown = _choose_channel(workspace, slack, view, DEV, ALICE)
    assert "reset" in _action_texts(shown)
    kept = shown["state"]["values"]
    assert kept[PICKER_BLOCK][ACTION_PICK_USER]["selected_option"]["value"] == USER
    assert kept["details"]["value"]["value"] == "leaked"
    assert kept["channel"]["value"]["selected_conversation"] == DEV


def test_a_stale_hash_leaves_the_form_as_it_was(
    workspace: LocalWorkspace, slack: SlackAppClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Two channels chosen in quick succession: the second answer comes with the view the
    first one already replaced, and Slack refuses it; the form stays, quietly.
    """
    view = _manage_form(workspace, slack, ALICE)
    shown = _choose_channel(workspace, slack, view, DEV, ALICE)
    again = _choose_channel(workspace, slack, view, OPS, ALICE)
    assert workspace.slack.calls_to("views.update")[-1].error == "hash_conflict"
    assert again["blocks"] == shown["blocks"]
    assert again["hash"] == shown["hash"]
    assert not [r for r in caplog.records if r.exc_info]


def test_slack_refusing_the_update_leaves_the_form_as_it_was(
    workspace: LocalWorkspace, slack: SlackAppClient, caplog: pytest.LogCaptureFixture
) -> None:
    view = _manage_form(workspace, slack, BOB)
    workspace.slack.fail_next("views.update", "internal_error")
    shown = _choose_channel(workspace, slack, view, DEV, BOB)
    assert workspace.slack.calls_to("views.update")[-1].error == "internal_error"
    assert shown["blocks"] == view["blocks"]
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.parametrize(
    ("callback_id", "channel"),
    [("smtp_manage", "C0OPS>"), ("smtp_manage", "#ops"), ("someone_elses_form", OPS)],
    ids=["channel-with-markup", "channel-by-name", "not-our-form"],
)
def test_a_forged_channel_choice_changes_nothing(
    workspace: LocalWorkspace, slack: SlackAppClient, callback_id: str, channel: str
) -> None:
    view = _manage_form(workspace, slack, BOB)
    forged = {**view, "callback_id": callback_id}
    assert _choose_channel(workspace, slack, forged, channel, BOB)["blocks"] == view["blocks"]
    assert workspace.slack.calls_to("views.update") == []


def test_the_submission_is_still_checked_in_full_after_the_narrowing(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """The narrowing helps; it does not gate: a submission naming an action the chosen
    channel does not offer is refused as before, and changes nothing.
    """
    workspace.sandbox.add_user(name=USER)
    password = workspace.sandbox.users[USER].password
    view = _manage_form(workspace, slack, ALICE)
    assert "reveal" not in _action_texts(_choose_channel(workspace, slack, view, DEV, ALICE))
    answer = _manage(slack, view, ALICE, action="reveal", channel=DEV)
    assert answer["errors"] == {"action": "`reveal` is not allowed in this channel."}
    answer = _manage(slack, view, ALICE, action="reset", channel=OPS)
    assert answer["response_action"] == "errors"
    assert "channel" in answer["errors"]
    workspace.drain()
    assert workspace.sandbox.users[USER].password == password
