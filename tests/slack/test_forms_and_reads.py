"""Modals, paging, reveal, help and whoami, and Sarv's errors as people see them."""

from __future__ import annotations

from typing import Any

from sarvbot.sandbox import FaultKind
from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, DEV, OPS, LocalWorkspace


def _replies(workspace: LocalWorkspace) -> str:
    return "\n".join(str(p.body.get("text", "")) for p in workspace.slack.posts)


def _only_view(workspace: LocalWorkspace) -> dict[str, Any]:
    (view,) = workspace.slack.views.values()
    return view


def test_edit_modal_opens_at_once_then_fills_in(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(700, 70, name="smtp30001")
    slack.command("/smtp", "edit smtp30001", user_id=BOB, channel_id=OPS)
    workspace.drain()
    opened = workspace.slack.calls_to("views.open")[0]
    assert "Looking up" in str(opened.args["view"]["blocks"])
    view = _only_view(workspace)
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert labels[:3] == ["Total limit", "Hourly limit", "Status"]
    assert labels[3:] == ["For", "Custom duration (e.g. 90m, 2h30m, 3d)"]
    initial = {
        b["block_id"]: b["element"].get("initial_value")
        for b in view["blocks"]
        if b["type"] == "input"
    }
    assert initial["total_limit"] == "700"
    assert initial["hourly_limit"] == "70"


def test_edit_modal_bad_value_gets_inline_error_and_changes_nothing(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(700, 70, name="smtp30002")
    slack.command("/smtp", "edit smtp30002", user_id=BOB, channel_id=OPS)
    workspace.drain()
    view = _only_view(workspace)
    response = slack.submit_view(
        view,
        {
            "total_limit": {"value": "-5"},
            "hourly_limit": {"value": "lots"},
            "status": {"value": "Enable"},
        },
        user_id=BOB,
    )
    body = response.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"total_limit", "hourly_limit"}
    workspace.drain()
    assert workspace.sandbox.calls_to("settings/editSmtp") == []


def test_edit_modal_saves_only_what_changed(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(700, 70, name="smtp30003")
    slack.command("/smtp", "edit smtp30003", user_id=BOB, channel_id=OPS)
    workspace.drain()
    response = slack.submit_view(
        _only_view(workspace),
        {
            "total_limit": {"value": "700"},
            "hourly_limit": {"value": "90"},
            "status": {"value": "Disable"},
        },
        user_id=BOB,
    )
    assert response.status_code == 200
    assert response.text == ""
    workspace.drain()
    (call,) = workspace.sandbox.calls_to("settings/editSmtp")
    assert call.params == {"smtp_user_name": "smtp30003", "hourly_limit": 90, "status": "Disable"}
    announcement = workspace.slack.calls_to("chat.postMessage")[-1]
    assert announcement.args["channel"] == OPS
    assert f"<@{BOB}> edited `smtp30003`" in announcement.args["text"]


def test_edit_modal_from_dev_asks_a_reason_and_makes_a_request(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(700, 70, name="smtp30004")
    slack.command("/smtp", "edit smtp30004", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    view = _only_view(workspace)
    assert "Reason" in [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    slack.submit_view(
        view,
        {
            "total_limit": {"value": "800"},
            "hourly_limit": {"value": "70"},
            "status": {"value": "Enable"},
            "reason": {"value": "billing needs more"},
        },
        user_id=ALICE,
    )
    workspace.drain()
    assert workspace.sandbox.calls_to("settings/editSmtp") == []
    posted = workspace.slack.calls_to("chat.postMessage")[-1]
    assert posted.args["channel"] == APPROVALS
    assert "total 700 → 800" in str(posted.args["blocks"])


def test_add_modal_creates_and_dms_the_password(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    slack.command("/smtp", "add", user_id=BOB, channel_id=OPS)
    workspace.drain()
    view = _only_view(workspace)
    slack.submit_view(
        view, {"total_limit": {"value": "500"}, "hourly_limit": {"value": "200"}}, user_id=BOB
    )
    workspace.drain()
    (user,) = workspace.sandbox.users.values()
    assert (user.total_limit, user.hourly_limit) == (500, 200)
    holders = [c for c in workspace.slack.calls if user.password in str(c.args)]
    assert [(c.method, c.args["user"]) for c in holders] == [("chat.postEphemeral", BOB)]
    assert "is in your DM with sarvbot" in _replies(workspace)


def test_edit_of_unknown_user_says_so_in_the_modal(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    slack.command("/smtp", "edit smtp99999", user_id=BOB, channel_id=OPS)
    workspace.drain()
    assert "Sarv has no SMTP user named `smtp99999`" in str(_only_view(workspace)["blocks"])


def test_direct_edit_with_values(workspace: LocalWorkspace, slack: SlackAppClient) -> None:
    workspace.sandbox.add_user(700, 70, name="smtp30005")
    slack.command("/smtp", "edit smtp30005 total=1000 status=Disable", user_id=BOB, channel_id=OPS)
    workspace.drain()
    user = workspace.sandbox.users["smtp30005"]
    assert (user.total_limit, user.status) == (1000, "Disable")


def test_disable_announces_in_channel(workspace: LocalWorkspace, slack: SlackAppClient) -> None:
    workspace.sandbox.add_user(name="smtp30006")
    slack.command("/smtp", "disable smtp30006", user_id=BOB, channel_id=OPS)
    workspace.drain()
    call = workspace.slack.calls_to("chat.postMessage")[-1]
    assert call.args["text"] == f"<@{BOB}> disabled `smtp30006`"
    assert call.args["unfurl_links"] in (False, "false", "0", 0)
    assert workspace.sandbox.users["smtp30006"].status == "Disable"


def test_long_list_pages_within_block_kit_limits(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.seed_users(3000)
    slack.command("/smtp", "list", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    first = workspace.slack.posts[-1]
    blocks = first.body["blocks"]
    assert len(blocks) <= 50
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks)
    assert "1-25 of 3,000" in str(blocks)
    assert "Previous" not in str(blocks)
    response_url = first.url
    message = {"ts": "1", "blocks": blocks}
    slack.click(
        "list_page", user_id=ALICE, message=message, channel_id=DEV, response_url=response_url
    )
    workspace.drain()
    second = workspace.slack.posts[-1]
    assert second.body["replace_original"] is True
    assert "26-50 of 3,000" in str(second.body["blocks"])


def test_paging_is_checked_again_against_the_channel(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.seed_users(30)
    message = {
        "ts": "1",
        "blocks": [
            {
                "type": "actions",
                "block_id": "list_pages",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "list_page",
                        "text": {"type": "plain_text", "text": "Next"},
                        "value": '{"q": "", "p": 1}',
                    }
                ],
            }
        ],
    }
    slack.click("list_page", user_id=ALICE, message=message, channel_id="C0ELSEWHERE")
    workspace.drain()
    assert "`list` is not allowed in this channel." in _replies(workspace)
    assert workspace.sandbox.calls == []


def test_reveal_in_ops_and_delivery_failure_points_to_reveal(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp30007")
    workspace.slack.fail_next("chat.postEphemeral", "messages_tab_disabled")
    slack.command("/smtp", "reset smtp30007", user_id=BOB, channel_id=OPS)
    workspace.drain()
    password = workspace.sandbox.users["smtp30007"].password
    assert "I could not send you the password of `smtp30007`" in _replies(workspace)
    assert "/smtp reveal smtp30007" in _replies(workspace)
    assert password not in str(workspace.slack.posts)
    slack.command("/smtp", "reveal smtp30007", user_id=BOB, channel_id=OPS)
    workspace.drain()
    delivered = [c for c in workspace.slack.calls if password in str(c.args) and c.ok]
    assert [(c.method, c.args["user"]) for c in delivered] == [("chat.postEphemeral", BOB)]


def test_reveal_is_granted_only_where_listed(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp30008")
    slack.command("/smtp", "reveal smtp30008", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    assert "`reveal` is not allowed in this channel." in _replies(workspace)
    assert workspace.sandbox.calls == []


def test_remove_button_deletes_the_password_message(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp30009")
    slack.command("/smtp", "reset smtp30009", user_id=BOB, channel_id=OPS)
    workspace.drain()
    dm = workspace.slack.calls_to("chat.postEphemeral")[-1]
    message = {"ts": dm.response["message_ts"], "blocks": dm.args["blocks"]}
    slack.click(
        "remove_secret", user_id=BOB, message=message, channel_id=dm.args["channel"], ephemeral=True
    )
    workspace.drain()
    assert workspace.slack.posts[-1].delete_original is True


def test_whoami_and_help_in_a_channel_not_in_the_policy(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    slack.command("/smtp", "whoami", user_id=ALICE, channel_id="C0NEW")
    workspace.drain()
    text = str(workspace.slack.posts[-1].body["blocks"])
    assert "U0ALICE" in text
    assert "[channels.C0NEW]" in text
    slack.command("/smtp", "help", user_id=ALICE, channel_id="C0NEW")
    workspace.drain()
    text = str(workspace.slack.posts[-1].body["blocks"])
    assert "/smtp whoami" in text
    assert "/smtp list" not in text


def test_sarv_errors_get_their_own_words(workspace: LocalWorkspace, slack: SlackAppClient) -> None:
    workspace.sandbox.fail_next(FaultKind.HTML_500, times=3, path="settings/listSmtp")
    slack.command("/smtp", "list", user_id=BOB, channel_id=OPS)
    workspace.drain()
    assert "Sarv is unavailable right now. Try again in a minute." in _replies(workspace)
    slack.command("/smtp", "reset smtp00001", user_id=BOB, channel_id=OPS)
    workspace.drain()
    assert "Sarv refused: SMTP user smtp00001 not found" in _replies(workspace)


def test_bad_credentials_tell_an_admin_to_check(tmp_path: Any) -> None:
    with LocalWorkspace(f"sqlite:///{tmp_path / 'db.sqlite'}") as workspace:
        workspace.sandbox._token = "rotated"  # Sarv no longer accepts the bot's token
        client = workspace.client()
        client.command("/smtp", "list", user_id=BOB, channel_id=OPS)
        workspace.drain()
        assert "An admin must check the bot's Sarv owner id and token." in _replies(workspace)
        assert workspace.sarv_token not in _replies(workspace)


def test_audit_shows_latest_changes(workspace: LocalWorkspace, slack: SlackAppClient) -> None:
    workspace.sandbox.add_user(name="smtp30010")
    slack.command("/smtp", "disable smtp30010", user_id=BOB, channel_id=OPS)
    slack.command("/smtp", "reveal smtp30010", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    slack.command("/smtp", "audit smtp30010", user_id=BOB, channel_id=OPS)
    workspace.drain()
    text = str(workspace.slack.posts[-1].body["blocks"])
    assert "disable `smtp30010` · *done*" in text
    assert "reveal `smtp30010` · *refused*" in text


def test_reset_whose_answer_is_lost_is_shown_as_unknown(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp30011")
    before = workspace.sandbox.users["smtp30011"].password
    workspace.sandbox.fail_next(FaultKind.DROP, path="settings/resetSmtpPassword", after_apply=True)
    slack.command("/smtp", "reset smtp30011", user_id=BOB, channel_id=OPS)
    workspace.drain()
    assert "the outcome of this reset is unknown" in _replies(workspace)
    assert "Try again in a minute" not in _replies(workspace)
    assert len(workspace.sandbox.calls_to("settings/resetSmtpPassword")) == 1
    after = workspace.sandbox.users["smtp30011"].password
    assert after != before
    assert after not in str(workspace.slack.calls) + str(workspace.slack.posts)
