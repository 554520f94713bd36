"""Defects of the policy's escalation settings: a wrong value must be refused, clearly."""

from __future__ import annotations

import pytest

from sarvbot.policy import PolicyError, parse_policy


def test_an_escalate_to_id_with_a_line_break_is_refused() -> None:
    """Broken: ``_APPROVER_ID`` (policy.py) ends in ``$``, which also matches before a
    final line break, so ``escalate_to = ["S0LEADS\\n"]`` is taken as a user group. That ID
    names no group Slack knows: the escalation pings nobody (the thread shows the raw text
    instead of a mention) and DMs nobody, with no word of it when the file is read.
    Should: the file is refused with the line and the problem, as for any other ID that
    is not a Slack user or user group ID.
    """
    text = '[approvals]\nchannel = "C0789"\nescalate_after = "4h"\nescalate_to = ["S0LEADS\\n"]\n'
    with pytest.raises(PolicyError, match=r"policy:4: .*escalate_to"):
        parse_policy(text, source="policy")
