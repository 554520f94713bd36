"""Block builders are pure: escaped text, Slack's limits, never a password but in the DM."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sarvbot.core import (
    ApprovalRequest,
    CataloguedUser,
    CatalogueEntry,
    CatalogueView,
    RequestState,
)
from sarvbot.sarv import Credentials, Secret, SmtpUser, UserStatus
from sarvbot.slack import blocks
from sarvbot.slack.mrkdwn import escape, escape_cut


def _request(**changes: object) -> ApprovalRequest:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    values: dict[str, object] = {
        "id": 7,
        "created_at": now,
        "expires_at": now + timedelta(hours=24),
        "updated_at": now,
        "requester_id": "U0ALICE",
        "requester_channel_id": "C0DEV",
        "action": "edit",
        "target": "smtp1",
        "params": {"new": {"total_limit": 900}, "old": {"total_limit": 100}},
        "reason": "more mail",
        "state": RequestState.PENDING,
        "decided_by": None,
        "decided_at": None,
        "deny_reason": None,
        "error": None,
        "result": None,
        "message_channel": None,
        "message_ts": None,
        "approvals": (),
    }
    values.update(changes)
    return ApprovalRequest(**values)  # type: ignore[arg-type]


def test_escape_neutralises_mentions_and_marks() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert escape("a\u202eb\x07c") == "a\ufffdb\ufffdc"


def test_list_pages_stay_within_limits_with_hostile_names() -> None:
    users = [
        CataloguedUser(
            SmtpUser("<!channel>&" * 5 + str(i), UserStatus.ENABLE, 10, 1, Secret("pw")),
            CatalogueEntry("x", label="<!here>" * 5, owner_id="<!channel>", note="<!here>")
            if i % 2
            else None,
        )
        for i in range(200)
    ]
    missing = [CatalogueEntry(f"<!channel>{i}", label="<!here>") for i in range(40)]
    message = blocks.user_list_message(CatalogueView(users, missing), "<!here>", 3)
    assert len(message["blocks"]) <= 50
    for block in message["blocks"]:
        text = block.get("text", {}).get("text", "")
        assert len(text) <= 3000
        assert "<!" not in text
    assert "76-100 of 200" in message["text"]
    assert "pw" not in str(message)


def test_pending_request_has_approve_and_deny_and_failed_has_retry() -> None:
    pending = blocks.approval_message(_request())
    actions = [
        e["action_id"] for b in pending["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert actions == ["approve_request", "deny_request"]
    assert "total 100 → 900" in str(pending["blocks"])
    failed = blocks.approval_message(_request(state=RequestState.FAILED, error="Sarv <!channel>"))
    actions = [
        e["action_id"] for b in failed["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert actions == ["retry_request"]
    assert "&lt;!channel&gt;" in str(failed["blocks"])
    done = blocks.approval_message(_request(state=RequestState.DONE, decided_by="U0BOB"))
    assert not [b for b in done["blocks"] if b["type"] == "actions"]
    assert "approved by <@U0BOB>" in str(done["blocks"])


def test_reason_is_escaped_and_cut() -> None:
    message = blocks.approval_message(_request(reason="<@U0BOB> " + "x" * 5000))
    text = str(message["blocks"])
    assert "<@U0BOB>" not in text
    assert all(len(b["text"]["text"]) <= 3000 for b in message["blocks"] if "text" in b)


def test_escaped_text_is_cut_after_escaping_and_never_inside_an_entity() -> None:
    assert escape_cut("a & b", 20) == "a &amp; b"
    assert escape_cut("&" * 500, 12) == "&amp;&amp;…"
    assert escape_cut("x<" * 10, 8) == "x&lt;x…"
    assert escape_cut("abcdef", 4) == "abc…"
    for size in range(1, 30):
        cut = escape_cut("<&>" * 20, size)
        assert len(cut) <= size
        assert cut.count("&") == cut.count(";")


def test_a_card_full_of_characters_that_escaping_lengthens_stays_within_limits() -> None:
    hostile = "&<>" * 2000
    for request in (
        _request(reason=hostile, deny_reason=hostile, error=hostile, state=RequestState.DENIED),
        _request(action="note", params={"new": {"note": hostile}}, reason=hostile),
        _request(action="label", params={"new": {"label": hostile}}, target=hostile),
    ):
        message = blocks.approval_message(request)
        for block in message["blocks"]:
            assert len(block.get("text", {}).get("text", "")) <= 3000
        assert "<>" not in str(message["blocks"])


def test_only_the_secret_message_holds_the_password() -> None:
    credentials = Credentials("smtp1", Secret("s3cr3t-pw"))
    message = blocks.secret_message(credentials, "New SMTP password")
    assert "s3cr3t-pw" in str(message["blocks"])
    assert "s3cr3t-pw" not in message["text"]  # notifications show only the fallback text
    assert "remove_secret" in str(message["blocks"])


def test_modal_labels_are_exact() -> None:
    view = blocks.edit_modal(SmtpUser("smtp1", UserStatus.DISABLE, 5, 2), "{}", ask_reason=True)
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert labels == [
        "Total limit",
        "Hourly limit",
        "Status",
        "For",
        "Custom duration (e.g. 90m, 2h30m, 3d)",
        "Reason",
    ]
    assert len(view["title"]["text"]) <= 24
    status = next(b for b in view["blocks"] if b.get("block_id") == "status")
    assert status["element"]["initial_option"]["value"] == "Disable"
