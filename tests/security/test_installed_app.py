"""A correctly signed request runs only if it names the workspace and the app sarvbot is.

An app's signing secret is the same in every workspace it is installed in, so a valid
signature alone does not say the request is for this installation: its team and its
``api_app_id`` must be the installed app's too.
"""

from __future__ import annotations

from sarvbot.core import AuditEntry
from sarvbot.slack import blocks
from sarvbot.slack.app import INSTALLED_APP_RULE
from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, DEV, OPS
from tests.support import smtp_command_body

from .conftest import Witness

OTHER_TEAM = "T0OTHERCO"
OTHER_APP = "A0SOMEOTHERAPP"


def signed_reset(witness: Witness, name: str, *, team_id: str, api_app_id: str) -> str:
    """bob's ``/smtp reset NAME`` in #ops, as Slack would send it for that team and app."""
    return smtp_command_body(witness.fake, f"reset {name}", team_id=team_id, api_app_id=api_app_id)


def refusals(witness: Witness) -> list[AuditEntry]:
    return [e for e in witness.audit() if e.rule == INSTALLED_APP_RULE]


def test_signed_reset_from_another_workspace_is_refused_and_audited(witness: Witness) -> None:
    name = witness.workspace.sandbox.add_user(name="smtp50001").name
    body = signed_reset(witness, name, team_id=OTHER_TEAM, api_app_id=witness.fake.app_id)

    response = witness.slack.post(body)
    witness.workspace.drain()

    assert witness.sarv_changes() == []
    assert response.status_code == 200
    assert "nothing was done" in response.json()["text"]
    assert witness.calls() == []  # not even a users.info: nothing ran
    (entry,) = refusals(witness)
    assert (entry.actor_id, entry.channel_id, entry.outcome) == (BOB, OPS, "refused")
    assert entry.detail is not None
    assert OTHER_TEAM in entry.detail

    # The installed workspace's own command still runs.
    witness.command(f"reset {name}", user_id=BOB, channel_id=OPS)
    assert len(witness.sarv_changes()) == 1


def test_signed_reset_for_another_app_is_refused_and_audited(witness: Witness) -> None:
    name = witness.workspace.sandbox.add_user(name="smtp50002").name
    body = signed_reset(witness, name, team_id=witness.fake.team_id, api_app_id=OTHER_APP)

    response = witness.slack.post(body)
    witness.workspace.drain()

    assert witness.sarv_changes() == []
    assert response.status_code == 200
    assert "nothing was done" in response.json()["text"]
    (entry,) = refusals(witness)
    assert entry.error == "a request from another app"
    assert entry.detail is not None
    assert OTHER_APP in entry.detail


def test_click_from_another_workspace_decides_nothing_and_is_audited(witness: Witness) -> None:
    witness.workspace.sandbox.add_user(name="smtp50003")
    request = witness.request("reset smtp50003 leaked key", user_id=ALICE, channel_id=DEV)
    message = witness.approval_message(request.id)
    witness.fake.clear()
    foreign = SlackAppClient(
        witness.workspace.app_url,
        witness.workspace.signing_secret,
        slack=witness.fake,
        team_id=OTHER_TEAM,
    )
    try:
        response = foreign.click(
            blocks.ACTION_APPROVE,
            user_id=BOB,
            message=message,
            channel_id=APPROVALS,
        )
    finally:
        foreign.close()
    witness.workspace.drain()

    assert response.status_code == 200
    assert witness.state_of(request.id) == "pending"
    assert witness.sarv_changes() == []
    assert witness.calls() == []
    assert witness.posts() == []
    (entry,) = refusals(witness)
    assert (entry.actor_id, entry.channel_id, entry.action) == (BOB, APPROVALS, "block_actions")

    # The same click from the installed workspace approves it.
    witness.click(blocks.ACTION_APPROVE, user_id=BOB, message=message)
    assert witness.state_of(request.id) == "done"
    assert len(witness.sarv_changes()) == 1
