"""Break-glass: a leaked SMTP user frozen at once from #dev, with ops alerted."""

from __future__ import annotations

from typing import Any

from sarvbot.policy import parse_policy
from sarvbot.standin import ApiCall, SlackAppClient
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
from tests.support import cards_in, dms_to

USER = "smtp97001"


def _say(workspace: LocalWorkspace, slack: SlackAppClient, text: str, user: str, where: str) -> str:
    before = len(workspace.slack.posts)
    ack = slack.command("/smtp", text, user_id=user, channel_id=where)
    workspace.drain()
    return "\n".join([ack.text] + [str(p.body) for p in workspace.slack.posts[before:]])


def _alerts(workspace: LocalWorkspace) -> list[ApiCall]:
    return cards_in(workspace.slack, APPROVALS)


def _card(workspace: LocalWorkspace) -> dict[str, Any]:
    posted = _alerts(workspace)[-1]
    return workspace.slack.messages[(APPROVALS, str(posted.response["ts"]))]


def test_a_developer_freezes_a_leaked_user_at_once_and_ops_are_alerted(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    CatalogueStore(workspace.database).write(USER, label="billing-api")
    _say(workspace, slack, "freeze billing-api password pasted in #general", ALICE, DEV)
    assert workspace.sandbox.users[USER].status == "Disable"
    card = str(_card(workspace)["blocks"])
    assert f"froze `{USER}` (billing-api)* from <#{DEV}>" in card
    assert "password pasted in #general" in card
    assert "acknowledge_freeze" in card
    assert "rotate_frozen" in card
    listed = _say(workspace, slack, "list", ALICE, DEV)
    assert f"🧊 frozen by <@{ALICE}>" in listed
    outcomes = [(e.action, e.outcome) for e in AuditLog(workspace.database).latest(target=USER)]
    assert ("freeze", "done") in outcomes


def test_a_freeze_needs_a_reason(workspace: LocalWorkspace, slack: SlackAppClient) -> None:
    workspace.sandbox.add_user(name=USER)
    answer = _say(workspace, slack, f"freeze {USER}", ALICE, DEV)
    assert "A freeze needs a reason" in answer
    assert workspace.sandbox.users[USER].status == "Enable"
    assert _alerts(workspace) == []


def test_ops_acknowledge_the_alert_and_others_cannot(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    _say(workspace, slack, f"freeze {USER} leaked in CI", ALICE, DEV)
    card = _card(workspace)
    slack.click("acknowledge_freeze", user_id=GUEST, message=card, channel_id=APPROVALS)
    workspace.drain()
    assert "Acknowledged" not in str(workspace.slack.posts[-1].body)
    slack.click("acknowledge_freeze", user_id=BOB, message=card, channel_id=APPROVALS)
    workspace.drain()
    replaced = workspace.slack.posts[-1].body
    assert f"Acknowledged by <@{BOB}>" in str(replaced["blocks"])
    assert "acknowledge_freeze" not in str(replaced["blocks"])
    outcomes = [(e.actor_id, e.outcome) for e in AuditLog(workspace.database).latest(target=USER)]
    assert (BOB, "acknowledged") in outcomes


def test_the_rate_limit_refuses_and_alerts(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    assert workspace.app is not None
    policy = DEMO_POLICY + "\n[freeze]\nper_hour = 2\n"
    workspace.app.core.permissions.policy = parse_policy(policy, source="policy")
    names = [f"smtp9710{i}" for i in range(3)]
    for name in names:
        workspace.sandbox.add_user(name=name)
    for name in names[:2]:
        _say(workspace, slack, f"freeze {name} leaked", ALICE, DEV)
    answer = _say(workspace, slack, f"freeze {names[2]} leaked", ALICE, DEV)
    assert "You froze 2 SMTP users in the last hour" in answer
    assert workspace.sandbox.users[names[2]].status == "Enable"
    assert "was refused a freeze of `smtp97102`" in str(_alerts(workspace)[-1].args["text"])


def test_enabling_a_frozen_user_ends_the_freeze(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    _say(workspace, slack, f"freeze {USER} leaked", ALICE, DEV)
    _say(workspace, slack, f"enable {USER}", BOB, OPS)
    entry = CatalogueStore(workspace.database).get(USER)
    assert entry is not None
    assert not entry.frozen
    assert "frozen" not in _say(workspace, slack, "list", BOB, OPS)


def test_rotate_from_the_alert_replaces_the_frozen_user(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(700, 70, name=USER)
    CatalogueStore(workspace.database).write(USER, label="billing-api", owner_id=ALICE)
    _say(workspace, slack, f"freeze {USER} leaked", ALICE, DEV)
    slack.click("rotate_frozen", user_id=BOB, message=_card(workspace), channel_id=APPROVALS)
    workspace.drain()
    (new,) = set(workspace.sandbox.users) - {USER}
    assert workspace.sandbox.users[new].status == "Enable"
    assert workspace.sandbox.users[new].hourly_limit == 70
    assert workspace.sandbox.users[USER].status == "Disable"
    password = workspace.sandbox.users[new].password
    holders = [c for c in workspace.slack.calls if password in str(c.args)]
    assert [(c.method, c.args["user"]) for c in holders] == [("chat.postEphemeral", BOB)]
    moved = CatalogueStore(workspace.database).get(new)
    assert moved is not None
    assert moved.label == "billing-api"
    assert dms_to(workspace, BOB)  # the Done button for the old user


def _shortcut(workspace: LocalWorkspace, slack: SlackAppClient, text: str, user: str) -> Any:
    """Use "Freeze this SMTP user" on a message in #dev; returns the modal it opened."""
    message = {"text": text, "ts": "1700000000.000100", "user": BOB}
    assert slack.message_shortcut("freeze_from_message", message, user_id=user, channel_id=DEV).ok
    workspace.drain()
    (view,) = workspace.slack.views.values()
    return view


def test_the_message_shortcut_finds_users_by_name_and_label_and_freezes_the_chosen_one(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    workspace.sandbox.add_user(name="smtp97002")
    CatalogueStore(workspace.database).write("smtp97002", label="billing-api")
    text = f"CI log: SMTP_USER={USER} SMTP_PASS=hunter2, and billing-api too"
    view = _shortcut(workspace, slack, text, ALICE)
    assert f"names `{USER}`, `smtp97002 (billing-api)`." in str(view["blocks"])
    (picker,) = [b for b in view["blocks"] if b.get("block_id") == "smtp_user"]
    assert picker["element"]["type"] == "external_select"
    assert picker["element"]["initial_option"]["value"] == USER
    picked = {"smtp_user": {"pick_smtp_user": USER}}
    refused = slack.submit_view(view, picked, user_id=ALICE).json()
    assert refused["errors"] == {"reason": "Say why: ops read it on the alert."}
    typed = {**picked, "reason": {"value": "pasted in a CI log"}}
    assert slack.submit_view(view, typed, user_id=ALICE).ok
    workspace.drain()
    assert workspace.sandbox.users[USER].status == "Disable"
    assert workspace.sandbox.users["smtp97002"].status == "Enable"
    assert "pasted in a CI log" in str(_card(workspace)["blocks"])


def test_the_message_shortcut_says_so_when_a_message_names_no_user(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    view = _shortcut(workspace, slack, "nothing to see here", ALICE)
    assert "names no SMTP user" in str(view["blocks"])
    assert not view.get("submit")


def test_the_message_shortcut_is_refused_where_freeze_is_not_allowed(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    view = _shortcut(workspace, slack, f"{USER}", GUEST)
    assert "Guests and people from other organisations" in str(view["blocks"])
    assert workspace.sandbox.users[USER].status == "Enable"


def test_the_person_who_froze_a_user_does_not_rotate_it_from_the_alert(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    _say(workspace, slack, f"freeze {USER} leaked", BOB, OPS)
    slack.click("rotate_frozen", user_id=BOB, message=_card(workspace), channel_id=APPROVALS)
    workspace.drain()
    assert set(workspace.sandbox.users) == {USER}
    assert "You froze it" in str(workspace.slack.posts[-1].body)
    refused = [e.outcome for e in AuditLog(workspace.database).latest(target=USER)]
    assert "refused" in refused


def test_rotate_from_the_alert_is_a_request_where_two_approvals_are_needed(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    assert workspace.app is not None
    policy = DEMO_POLICY.replace("expire_after_hours = 24", "expire_after_hours = 24\nrequired = 2")
    workspace.app.core.permissions.policy = parse_policy(policy, source="policy")
    workspace.sandbox.add_user(name=USER)
    _say(workspace, slack, f"freeze {USER} leaked", ALICE, DEV)
    slack.click("rotate_frozen", user_id=BOB, message=_card(workspace), channel_id=APPROVALS)
    workspace.drain()
    assert set(workspace.sandbox.users) == {USER}
    assert "The policy wants 2 approvals" in str(workspace.slack.posts[-1].body)


def test_the_freeze_form_stays_within_slacks_option_limits_for_a_long_sarv_name(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    """The form Slack is sent stays within Slack's option limits (the long name is not
    preselected), so the person gets a form or a clear notice.
    """
    long_name = "smtp" + "x" * 196
    workspace.sandbox.add_user(name=long_name)
    view = _shortcut(workspace, slack, f"leaked {long_name} in the CI log", BOB)
    updates = workspace.slack.calls_to("views.update")
    assert updates
    assert all(c.ok for c in updates)
    assert "Looking for SMTP users" not in str(view["blocks"])
    pickers = [b["element"] for b in view["blocks"] if b.get("block_id") == "smtp_user"]
    assert check_options([p["initial_option"] for p in pickers if "initial_option" in p]) is None
