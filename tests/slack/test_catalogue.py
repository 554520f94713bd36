"""The catalogue: labels, owners and notes, found by label, shown in list and show."""

from __future__ import annotations

from typing import Any

from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, DEV, GUEST, OPS, LocalWorkspace
from sarvbot.store import AuditLog, CatalogueStore
from tests.support import cards_in


def _replies(workspace: LocalWorkspace) -> str:
    return "\n".join(
        str(p.body.get("blocks", p.body.get("text", ""))) for p in workspace.slack.posts
    )


def _run(workspace: LocalWorkspace, slack: SlackAppClient, text: str, **where: str) -> str:
    """Send one command (bob in #ops unless told), wait, and return what it answered."""
    before = len(workspace.slack.posts)
    ack = slack.command(
        "/smtp", text, user_id=where.get("user_id", BOB), channel_id=where.get("channel_id", OPS)
    )
    workspace.drain()
    return "\n".join(
        [ack.text]
        + [
            str(p.body.get("blocks", p.body.get("text", "")))
            for p in workspace.slack.posts[before:]
        ]
    )


def _announcements(workspace: LocalWorkspace, channel: str) -> str:
    return "\n".join(
        str(c.args.get("text"))
        for c in workspace.slack.calls_to("chat.postMessage")
        if c.args["channel"] == channel
    )


def test_ops_labels_a_user_gives_it_an_owner_and_finds_it_by_label(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp50001")
    workspace.sandbox.add_user(name="smtp50002")
    _run(workspace, slack, "label smtp50001 billing-api")
    _run(workspace, slack, f"owner billing-api <@{ALICE}|alice>")
    _run(workspace, slack, "note billing-api sends invoices; ask alice before changing")
    entry = CatalogueStore(workspace.database).get("smtp50001")
    assert entry is not None
    assert (entry.label, entry.owner_id) == ("billing-api", ALICE)
    assert entry.note == "sends invoices; ask alice before changing"
    assert "labelled `smtp50001` (label billing-api)" in _announcements(workspace, OPS)

    shown = _run(workspace, slack, "show billing-api")
    assert "smtp50001" in shown
    assert f"<@{ALICE}>" in shown
    assert "sends invoices" in shown

    listed = _run(workspace, slack, "list billing")
    assert "smtp50001" in listed
    assert "smtp50002" not in listed
    everything = _run(workspace, slack, "list")
    assert "_unlabelled_" in everything  # smtp50002

    audit = [e.action for e in AuditLog(workspace.database).latest(target="smtp50001")]
    assert {"label", "owner", "note"} <= set(audit)


def test_a_change_by_label_runs_on_its_user(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(100, 10, name="smtp50003")
    _run(workspace, slack, "label smtp50003 alerts")
    _run(workspace, slack, "edit alerts hourly=20")
    assert workspace.sandbox.users["smtp50003"].hourly_limit == 20


def test_a_label_already_taken_is_refused_and_changes_nothing(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp50004")
    workspace.sandbox.add_user(name="smtp50005")
    _run(workspace, slack, "label smtp50004 newsletter")
    answer = _run(workspace, slack, "label smtp50005 Newsletter")
    assert "The label Newsletter is already on smtp50004." in answer
    assert CatalogueStore(workspace.database).get("smtp50005") is None


def test_an_unknown_label_names_the_labels_like_it(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp50006")
    workspace.sandbox.add_user(name="smtp50007")
    _run(workspace, slack, "label smtp50006 billing-api")
    _run(workspace, slack, "label smtp50007 billing-cron")
    answer = _run(workspace, slack, "show billing")
    assert "Sarv has no SMTP user named `billing`, and no label is `billing`." in answer
    assert "`billing-api`" in answer
    assert "`billing-cron`" in answer


def test_a_label_that_is_another_users_sarv_name_is_refused(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp50008")
    workspace.sandbox.add_user(name="smtp50009")
    answer = _run(workspace, slack, "label smtp50008 SMTP50009")
    assert "SMTP50009 is the Sarv name of another SMTP user: choose another label." in answer
    assert CatalogueStore(workspace.database).get("smtp50008") is None


def test_a_label_that_became_another_users_name_is_ambiguous(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp50008")
    _run(workspace, slack, "label smtp50008 smtp50009")
    workspace.sandbox.add_user(name="smtp50009")  # Sarv names a new user like the label
    answer = _run(workspace, slack, "disable smtp50009")
    assert "is the label of smtp50008 and also the name of another SMTP user" in answer
    assert workspace.sandbox.users["smtp50008"].status == "Enable"
    assert workspace.sandbox.users["smtp50009"].status == "Enable"


def test_an_entry_whose_user_sarv_no_longer_lists_is_flagged_not_dropped(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    CatalogueStore(workspace.database).write("smtp59999", label="gone-app")
    listed = _run(workspace, slack, "list")
    assert "`smtp59999` *gone-app*: in the catalogue, but Sarv no longer lists it" in listed


def test_an_owner_must_be_a_mention(workspace: LocalWorkspace, slack: SlackAppClient) -> None:
    workspace.sandbox.add_user(name="smtp50010")
    answer = _run(workspace, slack, "owner smtp50010 @alice")
    assert "name the person with an @-mention" in answer
    assert CatalogueStore(workspace.database).get("smtp50010") is None


def test_dev_requests_a_label_and_ops_approves_it(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp50011")
    _run(
        workspace,
        slack,
        "label smtp50011 signup-mail for the signup flow",
        user_id=ALICE,
        channel_id=DEV,
    )
    assert CatalogueStore(workspace.database).get("smtp50011") is None
    (posted,) = cards_in(workspace.slack, APPROVALS)
    message = workspace.slack.messages[(APPROVALS, posted.response["ts"])]
    assert "label `smtp50011`: label signup-mail" in str(message["blocks"])
    slack.click("approve_request", user_id=BOB, message=message, channel_id=APPROVALS)
    workspace.drain()
    entry = CatalogueStore(workspace.database).get("smtp50011")
    assert entry is not None
    assert entry.label == "signup-mail"


def test_add_with_a_label_and_an_owner_catalogues_the_new_user(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    _run(workspace, slack, f"add 1000 100 label=reports owner=<@{ALICE}|alice>")
    (name,) = workspace.sandbox.users
    entry = CatalogueStore(workspace.database).get(name)
    assert entry is not None
    assert (entry.label, entry.owner_id) == ("reports", ALICE)


def test_an_add_whose_label_is_taken_is_refused_before_sarv_makes_a_user(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp50012")
    _run(workspace, slack, "label smtp50012 reports")
    answer = _run(workspace, slack, "add 1000 100 label=reports")
    assert "The label reports is already on smtp50012." in answer
    assert workspace.sandbox.calls_to("settings/addSmtp") == []


def test_the_add_form_takes_a_label_and_an_owner(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    slack.command("/smtp", "add", user_id=BOB, channel_id=OPS)
    workspace.drain()
    (view,) = workspace.slack.views.values()
    owner: Any = next(b for b in view["blocks"] if b.get("block_id") == "owner")
    assert owner["element"]["initial_user"] == BOB
    slack.submit_view(
        view,
        {
            "total_limit": {"value": "500"},
            "hourly_limit": {"value": "50"},
            "label": {"value": "crm-sync"},
            "owner": {"value": ALICE},
        },
        user_id=BOB,
    )
    workspace.drain()
    (name,) = workspace.sandbox.users
    entry = CatalogueStore(workspace.database).get(name)
    assert entry is not None
    assert (entry.label, entry.owner_id) == ("crm-sync", ALICE)


def test_a_guest_cannot_be_made_an_owner(workspace: LocalWorkspace, slack: SlackAppClient) -> None:
    workspace.sandbox.add_user(name="smtp50013")
    answer = _run(workspace, slack, f"owner smtp50013 <@{GUEST}|gus>")
    assert "Guests and external users cannot own an SMTP user." in answer
    assert CatalogueStore(workspace.database).get("smtp50013") is None
