"""The SMTP chores at Sarv, on their own: reads, reveal and changes, each audited."""

from __future__ import annotations

import pytest

from sarvbot import sarv
from sarvbot.actions import SPECS, Action, Kind
from sarvbot.core import Actor, Change, UnknownSmtpUser
from sarvbot.core.chores import _RUNNERS
from sarvbot.sarv import UserStatus
from sarvbot.store import AuditLog, DatabaseUnavailable

from .conftest import BOB, OPS, Bench


def test_every_change_in_the_action_table_has_a_way_to_run() -> None:
    changes = {a for a, s in SPECS.items() if s.kind is Kind.CHANGE}
    assert set(_RUNNERS) == changes


def test_list_matches_names_in_any_case_in_order(bench: Bench) -> None:
    for name in ("smtp30002", "smtp30001", "other1"):
        bench.sandbox.add_user(name=name)
    assert [u.name for u in bench.core.chores.list_users("SMTP")] == ["smtp30001", "smtp30002"]


def test_reset_hands_back_the_new_password_and_audits_start_and_end(bench: Bench) -> None:
    old = bench.sandbox.add_user(name="smtp30003").password
    result = bench.core.chores.apply(Actor(BOB), OPS, Change(Action.RESET, "smtp30003"), rule="r")
    assert result.credentials is not None
    new = bench.sandbox.users["smtp30003"].password
    assert result.credentials.password.reveal() == new != old
    assert bench.outcomes("reset") == ["started", "done"]
    assert new not in str(bench.audit.latest())


def test_disable_keeps_the_values_from_before(bench: Bench) -> None:
    bench.sandbox.add_user(total_limit=500, name="smtp30004")
    result = bench.core.chores.apply(Actor(BOB), OPS, Change(Action.DISABLE, "smtp30004"), rule="r")
    assert result.before is not None
    assert result.before.status is UserStatus.ENABLE
    assert bench.sandbox.users["smtp30004"].status == "Disable"
    assert bench.sandbox.users["smtp30004"].total_limit == 500


def test_a_change_to_an_unknown_user_fails_and_is_audited(bench: Bench) -> None:
    with pytest.raises(UnknownSmtpUser):
        bench.core.chores.apply(Actor(BOB), OPS, Change(Action.ENABLE, "smtp39999"), rule="r")
    assert bench.outcomes("enable") == ["started", "failed"]


def test_a_reset_whose_answer_is_lost_is_audited_as_unknown(bench: Bench) -> None:
    bench.sandbox.add_user(name="smtp30005")
    bench.sandbox.fail_next("html500", path="settings/resetSmtpPassword", after_apply=True)
    with pytest.raises(sarv.Error):
        bench.core.chores.apply(Actor(BOB), OPS, Change(Action.RESET, "smtp30005"), rule="r")
    assert bench.outcomes("reset") == ["started", "unknown"]


def test_nothing_reaches_sarv_when_the_start_cannot_be_audited(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench.sandbox.add_user(name="smtp30006")

    def unavailable(*args: object, **kwargs: object) -> None:
        raise DatabaseUnavailable("database unavailable (test): gone")

    monkeypatch.setattr(AuditLog, "append", unavailable)
    with pytest.raises(DatabaseUnavailable):
        bench.core.chores.apply(Actor(BOB), OPS, Change(Action.RESET, "smtp30006"), rule="r")
    assert bench.sandbox.calls_to("settings/resetSmtpPassword") == []


def test_reveal_gives_the_current_password_and_audits_it(bench: Bench) -> None:
    password = bench.sandbox.add_user(name="smtp30007").password
    credentials = bench.core.chores.reveal(Actor(BOB), OPS, "smtp30007", "r")
    assert credentials.password.reveal() == password
    assert bench.outcomes("reveal") == ["done"]
