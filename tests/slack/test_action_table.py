"""Every action in the table is reachable: parsed, governed, and run or answered."""

from __future__ import annotations

from sarvbot.actions import SPECS, Kind
from sarvbot.core import CommandError, parse_command
from sarvbot.core.chores import _RUNNERS
from sarvbot.policy import POLICY_ACTIONS, REQUESTABLE
from sarvbot.slack.listeners.commands import _ANSWERS


def test_every_action_is_either_run_at_sarv_or_answered() -> None:
    for action, spec in SPECS.items():
        handlers = (action in _RUNNERS, action in _ANSWERS)
        assert handlers == (spec.changes_sarv, not spec.changes_sarv), action


def test_every_usage_line_names_its_action_and_a_bare_action_is_parsed_as_it() -> None:
    for action, spec in SPECS.items():
        assert spec.usage.split()[1] == action
        try:
            parsed = parse_command(action).action
        except CommandError as exc:  # it needs more: the mistake shows its own usage line
            parsed = action if exc.usage == spec.usage else None
        assert parsed is action


def test_the_policy_file_knows_the_actions_of_the_table() -> None:
    changes = {a for a, s in SPECS.items() if s.kind is Kind.CHANGE}
    # Every change can be requested but a freeze, which is break-glass: run at once.
    assert set(REQUESTABLE) == changes - {"freeze"}
    assert "freeze" in POLICY_ACTIONS
    assert "help" not in POLICY_ACTIONS
    assert "requests" not in POLICY_ACTIONS
    assert {"list", "reveal", "reset"} <= set(POLICY_ACTIONS)
