"""The permissions file: what it allows, and the messages for a file that is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from sarvbot.policy import Decision, PolicyError, load_policy, parse_policy

GOOD = """
allow_guests = false

[approvals]
channel = "C0789APPROVALS"
expire_after_hours = 24
approvers = ["U0AAA", "S0OPSGROUP"]
required = 2

[channels.C0123OPS]
allow = ["list", "show", "add", "edit", "enable", "disable", "reset"]

[channels.C0456DEV]
allow = ["list", "show"]
request = ["add", "edit", "enable", "disable", "reset"]
"""


def test_channels_allow_request_or_refuse() -> None:
    policy = parse_policy(GOOD)
    assert policy.decide("C0123OPS", "reset").decision is Decision.ALLOW
    assert policy.decide("C0123OPS", "reset").rule == "channels.C0123OPS.allow"
    assert policy.decide("C0456DEV", "reset").decision is Decision.REQUEST
    assert policy.decide("C0456DEV", "list").decision is Decision.ALLOW
    assert policy.decide("C0999ELSE", "list").decision is Decision.REFUSE
    assert policy.decide("D0123DM", "list").decision is Decision.REFUSE
    assert policy.decide("D0123DM", "help").decision is Decision.ALLOW


def test_reveal_only_where_listed() -> None:
    policy = parse_policy(GOOD)
    assert policy.decide("C0123OPS", "reveal").decision is Decision.REFUSE


def test_guests_may_run_help_and_whoami_only_unless_allowed() -> None:
    policy = parse_policy(GOOD)
    assert policy.decide("C0123OPS", "list", is_guest=True).decision is Decision.REFUSE
    assert policy.decide("C0123OPS", "whoami", is_guest=True).decision is Decision.ALLOW
    relaxed = parse_policy(GOOD.replace("allow_guests = false", "allow_guests = true"))
    assert relaxed.decide("C0123OPS", "list", is_guest=True).decision is Decision.ALLOW


def test_reminders_and_escalation_are_read() -> None:
    text = GOOD.replace(
        "required = 2",
        'required = 2\nremind_after = "90m"\nescalate_after = "20h"\nescalate_to = ["S0LEADS"]',
    )
    approvals = parse_policy(text).approvals
    assert approvals is not None
    assert (approvals.remind_after_seconds, approvals.escalate_after_seconds) == (5400, 72000)
    assert approvals.escalate_to == {"S0LEADS"}
    quiet = parse_policy(GOOD).approvals
    assert quiet is not None
    assert (quiet.remind_after_seconds, quiet.escalate_after_seconds) == (None, None)


def test_approvals_section_is_read() -> None:
    approvals = parse_policy(GOOD).approvals
    assert approvals is not None
    assert approvals.required == 2
    assert approvals.approver_users == {"U0AAA"}
    assert approvals.approver_groups == {"S0OPSGROUP"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[channels.ops]\nallow = ["list"]\n', r"policy:1: channels are given by ID .*'ops'"),
        (
            '[channels.C0123OPS]\nallow = ["list", "destroy"]\n',
            r"policy:2: .*unknown action 'destroy'",
        ),
        ('[channels.C0123OPS]\nallow = "list"\n', r"policy:2: .*must be a list"),
        (
            '[channels.C0123OPS]\nallow = ["list"]\nrequest = ["reset"]\n',
            r"policy:3: .*no \[approvals\]",
        ),
        (
            (
                '[channels.C0123OPS]\nallow = ["reset"]\nrequest = ["reset"]\n'
                '[approvals]\nchannel = "C0A"\n'
            ),
            r"under both",
        ),
        ('[approvals]\nchannel = "#ops-approvals"\n', r"policy:2: channels are given by ID"),
        ('[approvals]\nchannel = "C0789"\nrequired = 0\n', r"policy:3: .*required"),
        ('[approvals]\nchannel = "C0789"\napprovers = ["bob"]\n', r"policy:3: .*approvers"),
        (
            '[approvals]\nchannel = "C0789"\nexpire_after_hours = -1\n',
            r"policy:3: .*expire_after_hours",
        ),
        ('[channels.C0123OPS]\nalow = ["list"]\n', r"policy:2: .*unknown key 'alow'"),
        ("allow_guests = 1\n", r"policy:1: allow_guests must be true or false"),
        ("[channels.C0123OPS\n", r"policy: not valid TOML: .*line 1"),
        (
            '[channels.C0123OPS]\nrequest = ["reveal"]\n[approvals]\nchannel = "C0A1"\n',
            r"unknown action 'reveal'",
        ),
        ('[approvals]\nchannel = "C0789"\nremind_after = 4\n', r"policy:3: .*a duration"),
        ('[approvals]\nchannel = "C0789"\nremind_after = "4 hours"\n', r"policy:3: .*duration"),
        ('[approvals]\nchannel = "C0789"\nremind_after = "2d"\n', r"policy:3: .*shorter than"),
        ('[approvals]\nchannel = "C0789"\nescalate_after = "4h"\n', r"policy:3: .*go together"),
        ('[approvals]\nchannel = "C0789"\nescalate_to = ["U0AAA"]\n', r"policy:3: .*together"),
        (
            '[approvals]\nchannel = "C0789"\nremind_after = "4h"\nescalate_after = "2h"\n'
            'escalate_to = ["U0AAA"]\n',
            r"policy:4: .*later than remind_after",
        ),
        (
            '[approvals]\nchannel = "C0789"\nescalate_after = "4h"\nescalate_to = ["S0LEADS\\n"]\n',
            r"policy:4: .*escalate_to",
        ),
        ('[approvals]\nchannel = "C0789\\n"\n', r"policy:2: channels are given by ID"),
    ],
)
def test_a_wrong_file_names_its_line_and_problem(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(text, source="policy")


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(tmp_path / "nope.toml")


def test_empty_file_allows_only_help_and_whoami() -> None:
    policy = parse_policy("")
    assert policy.allowed_actions("C0123OPS") == ["help", "whoami"]


def test_requests_run_where_list_does_and_in_the_approvals_channel() -> None:
    policy = parse_policy(GOOD)
    assert policy.decide("C0789APPROVALS", "requests").decision is Decision.ALLOW
    assert policy.decide("C0789APPROVALS", "audit").decision is Decision.REFUSE
    assert policy.decide("C0456DEV", "audit").rule == "channels.C0456DEV.allow"
    assert "requests" in policy.allowed_actions("C0456DEV")
    assert "cancel" in policy.allowed_actions("C0456DEV")
