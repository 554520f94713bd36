"""Freezes on the paths the happy ones miss: races, stale cards, reverts, a database gone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sarvbot.policy import parse_policy
from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import (
    ALICE,
    APPROVALS,
    BOB,
    CAROL,
    DEMO_POLICY,
    DEV,
    OPS,
    LocalWorkspace,
)
from sarvbot.store import CatalogueStore, DatabaseUnavailable, JobStore
from tests.slack.test_freeze import _alerts, _card, _say, _shortcut
from tests.support import race

USER = "smtp97001"


def _limit(workspace: LocalWorkspace, per_hour: int) -> None:
    assert workspace.app is not None
    policy = DEMO_POLICY + f"\n[freeze]\nper_hour = {per_hour}\n"
    workspace.app.core.permissions.policy = parse_policy(policy, source="policy")


def test_freezes_sent_at_once_cannot_pass_the_hourly_limit(tmp_path: Path) -> None:
    # The limit is read before Sarv is called and counted after: six at once all pass.
    with LocalWorkspace(f"sqlite:///{tmp_path / 'sarvbot.db'}", sandbox_latency=0.3) as workspace:
        slack = workspace.client()
        try:
            _limit(workspace, 2)
            names = [f"smtp9720{i}" for i in range(6)]
            for name in names:
                workspace.sandbox.add_user(name=name)
            race(
                len(names),
                lambda i: slack.command(
                    "/smtp", f"freeze {names[i]} leaked", user_id=ALICE, channel_id=DEV
                ),
            )
            workspace.drain()
            frozen = [n for n in names if workspace.sandbox.users[n].status == "Disable"]
            assert len(frozen) <= 2, frozen
        finally:
            slack.close()


def test_rotate_on_the_card_of_a_user_enabled_again_is_refused(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    # Acknowledge checks the user is still frozen; Rotate does not, so the old card's
    # button rotates an enabled user outside any request or policy.
    workspace.sandbox.add_user(name=USER)
    _say(workspace, slack, f"freeze {USER} leaked", ALICE, DEV)
    card = _card(workspace)
    _say(workspace, slack, f"enable {USER} false alarm", BOB, OPS)
    assert workspace.sandbox.users[USER].status == "Enable"
    slack.click("rotate_frozen", user_id=CAROL, message=card, channel_id=APPROVALS)
    workspace.drain()
    assert set(workspace.sandbox.users) == {USER}
    assert "is not frozen any more" in str(workspace.slack.posts[-1].body)


def test_a_freeze_is_not_undone_when_an_earlier_time_bound_disable_ends(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    _say(workspace, slack, f"disable {USER} for 1h maintenance", BOB, OPS)
    _say(workspace, slack, f"freeze {USER} password pasted in #general", ALICE, DEV)
    assert workspace.app is not None
    # The freeze made the disable lasting: nothing waits to put Enable back.
    assert workspace.app.core.reverts.pending() == []
    jobs = JobStore(workspace.database)
    for job in jobs.of_kind("revert_change"):
        jobs.due_now(job.key, now=datetime.now(UTC))
    workspace.app.run_schedule()
    entry = CatalogueStore(workspace.database).get(USER)
    assert entry is not None
    assert entry.frozen
    assert workspace.sandbox.users[USER].status == "Disable"


def test_a_freeze_made_at_sarv_is_not_told_as_nothing_changed_when_the_database_goes(
    workspace: LocalWorkspace, slack: SlackAppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace.sandbox.add_user(name=USER)

    def gone(self: CatalogueStore, name: str) -> Any:
        raise DatabaseUnavailable("the database went away")

    # The catalogue is read only after Sarv has disabled the user (for the alert's label).
    monkeypatch.setattr(CatalogueStore, "get", gone)
    answer = _say(workspace, slack, f"freeze {USER} leaked", ALICE, DEV)
    assert workspace.sandbox.users[USER].status == "Disable"
    assert "nothing was changed" not in answer
    assert _alerts(workspace), "ops were not alerted of a user sarvbot disabled"


def test_a_rate_limit_refusal_in_the_message_shortcut_alerts_the_approvals_channel(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    _limit(workspace, 1)
    workspace.sandbox.add_user(name=USER)
    workspace.sandbox.add_user(name="smtp97002")
    _say(workspace, slack, f"freeze {USER} leaked", ALICE, DEV)
    before = len(_alerts(workspace))
    view = _shortcut(workspace, slack, "smtp97002 leaked too", ALICE)
    assert "You froze 1 SMTP users in the last hour" in str(view["blocks"])
    assert len(_alerts(workspace)) == before + 1
    assert "was refused a freeze" in str(_alerts(workspace)[-1].args["text"])


def test_the_acknowledged_card_still_says_where_the_freeze_came_from(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    _say(workspace, slack, f"freeze {USER} leaked", ALICE, DEV)
    slack.click("acknowledge_freeze", user_id=BOB, message=_card(workspace), channel_id=APPROVALS)
    workspace.drain()
    replaced = str(workspace.slack.posts[-1].body["blocks"])
    assert f"Acknowledged by <@{BOB}>" in replaced
    assert f"from <#{DEV}>" in replaced


def test_the_message_shortcut_finds_a_name_at_the_end_of_a_sentence(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name=USER)
    view = _shortcut(workspace, slack, f"oops, I pasted the password of {USER}.", ALICE)
    chosen = [b["element"].get("initial_option", {}) for b in view["blocks"] if "element" in b]
    assert [o["value"] for o in chosen if o] == [USER]


def test_the_message_shortcut_works_on_a_long_message(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    # Slack allows 40,000 characters and sends the message's rich_text blocks beside its
    # text; a pasted CI log of ~32,000 characters is refused at the door (413).
    workspace.sandbox.add_user(name=USER)
    log = '2026-12-06T10:00:00Z INFO step: run "make test" ok=1\n' * 600
    text = f"SMTP_USER={USER} SMTP_PASS=hunter2\n" + log
    rich = {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
    message = {
        "text": text,
        "ts": "1700000000.000100",
        "user": BOB,
        "blocks": [{"type": "rich_text", "block_id": "b", "elements": [rich]}],
    }
    answer = slack.message_shortcut("freeze_from_message", message, user_id=ALICE, channel_id=DEV)
    assert answer.status_code == 200
    workspace.drain()
    (view,) = workspace.slack.views.values()
    assert USER in str(view["blocks"])
