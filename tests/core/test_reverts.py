"""The end of a time-bound change, decided on the user as Sarv lists it then."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sarvbot import sarv
from sarvbot.actions import Action
from sarvbot.core import Actor, Change, RevertOutcome

from .conftest import BOB, OPS, Bench


def _raise_for_an_hour(bench: Bench) -> None:
    bench.sandbox.add_user(1000, 100, name="smtp80001")
    change = Change(Action.EDIT, "smtp80001", hourly_limit=900, for_seconds=3600)
    result = bench.core.chores.apply(Actor(BOB), OPS, change, rule="r")
    assert result.ends_at == bench.clock.now + timedelta(hours=1)


def test_the_values_it_set_are_put_back(bench: Bench) -> None:
    _raise_for_an_hour(bench)
    (timed,) = bench.core.reverts.pending()
    assert bench.core.chores.revert(timed).outcome is RevertOutcome.REVERTED
    assert bench.sandbox.users["smtp80001"].hourly_limit == 100


def test_values_changed_meanwhile_are_left_as_they_are(bench: Bench) -> None:
    _raise_for_an_hour(bench)
    bench.core.chores.apply(
        Actor(BOB), OPS, Change(Action.EDIT, "smtp80001", hourly_limit=300), rule="r"
    )
    (timed,) = bench.core.reverts.pending()
    reverted = bench.core.chores.revert(timed)
    assert reverted.outcome is RevertOutcome.CHANGED_MEANWHILE
    assert reverted.found == {"hourly_limit": 300}
    assert bench.sandbox.users["smtp80001"].hourly_limit == 300


def test_a_change_sarv_refused_leaves_nothing_to_put_back(bench: Bench) -> None:
    bench.sandbox.add_user(1000, 100, name="smtp80002")
    bench.sandbox.fail_next("general", path="settings/editSmtp")
    change = Change(Action.DISABLE, "smtp80002", for_seconds=600)
    with pytest.raises(sarv.GeneralError):
        bench.core.chores.apply(Actor(BOB), OPS, change, rule="r")
    assert bench.core.reverts.pending() == []


def test_a_second_time_bound_change_takes_over_the_first_revert(bench: Bench) -> None:
    _raise_for_an_hour(bench)
    change = Change(Action.EDIT, "smtp80001", hourly_limit=2000, for_seconds=7200)
    bench.core.chores.apply(Actor(BOB), OPS, change, rule="r")
    (timed,) = bench.core.reverts.pending()
    assert timed.set_values == {"hourly_limit": 2000}
    assert timed.before == {"hourly_limit": 100}
