"""The demo from a script: the real app, stand-in Slack and sandbox, read as a transcript."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from sarvbot.demo import run_demo


def _demo(script: str, policy: str | None = None) -> tuple[int, list[str]]:
    """Run ``script`` through the demo; the exit status and the transcript's lines."""
    out = io.StringIO()
    status = run_demo(policy=policy, stdin=io.StringIO(script), stdout=out, colour=False)
    return status, out.getvalue().splitlines()


def test_developer_lists_the_seeded_users_in_dev() -> None:
    status, lines = _demo("/smtp list\n")
    assert status == 0
    assert "alice@#dev> /smtp list" in lines
    assert "[1] #dev  sarvbot (only visible to you): SMTP users: 1-4 of 4" in lines
    assert "    `smtp10004`  _unlabelled_  ⛔ Disable  ·  total 500  ·  hourly 50" in lines


def test_ops_adds_a_user_in_the_modal_and_gets_its_password_in_a_dm() -> None:
    status, lines = _demo(":as bob\n:in #ops\n/smtp add\n100\n10\n\n")
    assert status == 0
    assert "  Total limit: 100" in lines
    assert "  Hourly limit: 10" in lines
    added = [
        line
        for line in lines
        if re.fullmatch(r"\[3\] #ops  sarvbot: @bob added `smtp\d+` \(total 100, hourly 10\)", line)
    ]
    assert len(added) == 1
    # The password is delivered before anything else is said about the change.
    assert "[1] DM @bob  sarvbot (only visible to you): New SMTP user" in lines
    passwords = [line for line in lines if line.startswith("    Password: `")]
    assert len(passwords) == 1


def test_ops_edits_in_the_modal_and_a_bad_value_is_asked_again() -> None:
    script = ":as bob\n:in #ops\n/smtp edit smtp10001\n8000\nlots\nDisable\n\n\n300\n"
    status, lines = _demo(script)
    assert status == 0
    start = lines.index("bob@#ops> /smtp edit smtp10001")
    assert lines[start + 1 :] == [
        "  │ Modal: Edit SMTP user  (Cancel | Save)",
        "  │ SMTP user `smtp10001`",
        "  Total limit [5000]: 8000",
        "  Hourly limit [200]: lots",
        "  Status: 1. Enable / 2. Disable",
        "  Status [Enable]: Disable",
        "  For: 1. Until changed / 2. 1 hour / 3. 4 hours / 4. 1 day / 5. 1 week"
        " / 6. Custom (below)",
        "  For [Until changed]: ",
        "  Custom duration (e.g. 90m, 2h30m, 3d) (optional): ",
        "  ! Hourly limit: Enter a whole number from 1 to 2,147,483,647.",
        "  Hourly limit [lots]: 300",
        "[1] #ops  sarvbot: @bob edited `smtp10001` (total 8000, hourly 300, status Disable)",
    ]


def test_ops_resets_a_password_and_only_the_dm_shows_it() -> None:
    status, lines = _demo(":as bob\n:in #ops\n/smtp reset smtp10003 rotating\n")
    assert status == 0
    # The password is delivered first; the announcement follows.
    assert "[1] DM @bob  sarvbot (only visible to you): New SMTP password" in lines
    assert (
        "[2] #ops  sarvbot (only visible to you): "
        "The password of `smtp10003` is in your DM with sarvbot."
    ) in lines
    assert "[3] #ops  sarvbot: @bob reset the password of `smtp10003`" in lines
    (password_line,) = [line for line in lines if "Password: `" in line]
    password = password_line.split("`")[1]
    assert sum(password in line for line in lines) == 1


def test_dev_requests_reset_and_ops_approves() -> None:
    script = (
        "/smtp reset smtp10002 leaked in a CI log\n:as bob\n:in #ops-approvals\n:click Approve\n"
    )
    status, lines = _demo(script)
    assert status == 0
    assert "[1] #ops-approvals  sarvbot: Request #1: reset the password of `smtp10002`" in lines
    assert "    From: @alice in #dev" in lines
    assert "    [Approve] [Deny]" in lines
    assert (
        "[2] #dev  sarvbot (only visible to you): Request #1 sent for approval in "
        "#ops-approvals. Withdraw it with `/smtp cancel 1`."
    ) in lines
    after = lines[lines.index("bob@#ops-approvals> :click Approve") + 1 :]
    # The vote is kept under the card as it is made, before Sarv is called ...
    assert after[0] == "[3] #ops-approvals, thread of [1]  sarvbot: ✅ Approved by @bob."
    # ... and the password is delivered before any other word about the approved change.
    assert after[1] == "[4] DM @alice  sarvbot (only visible to @alice): New SMTP password"
    assert "[5] #ops-approvals, thread of [1]  sarvbot: ✅ Done. SMTP user: `smtp10002`." in after
    assert (
        "[6] DM @alice  sarvbot (only visible to @alice): Request #1 was approved by @bob "
        "and done: reset the password of `smtp10002`."
    ) in after
    assert "[1] updated: Request #1: reset the password of `smtp10002`" in after
    assert any(line.startswith("    ✅ Done · approved by @bob ") for line in after)


def test_requester_cannot_approve_her_own_request() -> None:
    script = "/smtp reset smtp10002 leaked\n:in #ops-approvals\n:click Approve\n"
    status, lines = _demo(script)
    assert status == 0
    assert lines[-2:] == [
        "[3] #ops-approvals, thread of [1]  sarvbot: @alice tried to approve it, refused: "
        "You cannot decide your own request.",
        "[4] #ops-approvals  sarvbot (only visible to you): You cannot decide your own request.",
    ]
    assert not any("updated" in line for line in lines)


def test_ops_denies_a_request_with_a_reason() -> None:
    script = (
        "/smtp enable smtp10004 billing needs it\n"
        ":as carol\n:in #ops-approvals\n:click Deny\nuse smtp10003 instead\n"
    )
    status, lines = _demo(script)
    assert status == 0
    assert "  │ Modal: Deny request #1  (Cancel | Deny)" in lines
    assert "  Reason (optional): use smtp10003 instead" in lines
    assert any(line.startswith("    🚫 Denied · denied by @carol ") for line in lines)
    assert "    Reason for denial: use smtp10003 instead" in lines
    assert lines[-2:] == [
        "[3] #ops-approvals, thread of [1]  sarvbot: 🚫 Denied by @carol: use smtp10003 instead",
        "[4] DM @alice  sarvbot (only visible to @alice): Request #1 was denied by @carol. "
        "Reason: use smtp10003 instead",
    ]


def test_a_modal_closed_with_cancel_changes_nothing() -> None:
    status, lines = _demo(":as bob\n:in #ops\n/smtp add\n100\n:cancel\n/smtp list\n")
    assert status == 0
    assert "  (modal closed without submitting)" in lines
    assert "[1] #ops  sarvbot (only visible to you): SMTP users: 1-4 of 4" in lines


def test_a_line_that_is_not_a_step_fails_the_script() -> None:
    status, lines = _demo("/smtp whoami\nhello there\n:dance\n:click Approve\n/smtp help\n")
    assert status == 1
    assert any(line.startswith("error: type a slash command") for line in lines)
    assert "error: unknown demo command :dance (:help lists them)" in lines
    assert "error: any message you can see has no [Approve] button" in lines
    assert lines[-1] == "3 step(s) failed: line 2, 3, 4"
    assert "alice@#dev> /smtp help" in lines  # the script went on after the errors


def test_a_script_that_runs_past_a_modal_fails_and_goes_on() -> None:
    status, lines = _demo(":as bob\n:in #ops\n/smtp add\n100\n/smtp list\n")
    assert status == 1
    assert "error: the modal still wanted answers when the script went on" in lines
    assert "bob@#ops> /smtp list" in lines
    assert lines[-1] == "1 step(s) failed: line 5"


def test_parse_errors_from_the_app_are_shown_as_its_ack() -> None:
    status, lines = _demo("/smtp frobnicate\n")
    assert status == 0
    assert lines[-2].startswith("[1] #dev  sarvbot (only visible to you): ")
    assert "is not a command I know" in lines[-2]


def test_own_policy_file_gives_its_channels(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[approvals]\nchannel = "C0APPROVE"\napprovers = ["S0OPS"]\n\n'
        '[channels.C0TEAM]\nallow = ["list"]\nrequest = ["reset"]\n',
        encoding="utf-8",
    )
    script = "/smtp reset smtp10001 why not\n:as bob\n:in C0APPROVE\n:click Approve\n"
    status, lines = _demo(script, policy=str(policy))
    assert status == 0
    assert "alice@#c0team> /smtp reset smtp10001 why not" in lines
    assert "bob@#c0approve> :click Approve" in lines
    assert any(line.startswith("    ✅ Done · approved by @bob ") for line in lines)


def test_a_bad_policy_file_names_its_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[channels.C0TEAM]\nallow = ["list", "fly"]\n', encoding="utf-8")
    status, lines = _demo("/smtp list\n", policy=str(policy))
    assert status == 2
    assert lines == []
    assert f"{policy}:2: " in capsys.readouterr().err


def test_a_request_left_waiting_is_said_again_under_its_card_and_to_the_approvers() -> None:
    status, lines = _demo("/smtp reset smtp10002 leaked in a CI log\n:later\n:later\n")
    assert status == 0
    reminded = [line for line in lines if "Waiting for a decision" in line]
    assert reminded == [
        "[3] #ops-approvals, thread of [1]  sarvbot: ⏰ Waiting for a decision for 4 hours: "
        "@bob, @carol, please decide."
    ]
    dms = [line for line in lines if "has had no decision for 4 hours" in line]
    assert [line.split("  ")[0] for line in dms] == ["[4] DM @bob", "[5] DM @carol"]
    assert "(time passes: 0 timed job(s) come due)" in lines
