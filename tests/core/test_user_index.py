"""The pickers' index: shared, brief, loaded once however many ask, forgotten on changes."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from sarvbot.core.model import CatalogueEntry
from sarvbot.core.user_index import Pick, UserIndex
from sarvbot.sarv import Secret, SmtpUser, UserStatus
from sarvbot.store import DatabaseUnavailable
from tests.support import race


def _user(name: str) -> SmtpUser:
    return SmtpUser(name, UserStatus.ENABLE, 100, 10, password=Secret("hunter2-secret"))


class _Sarv:
    """Sarv's list, counting calls; ``gate`` holds each call until it is set."""

    def __init__(self, *names: str) -> None:
        self.names = list(names)
        self.calls = 0
        self.gate = threading.Event()
        self.gate.set()
        self.lock = threading.Lock()

    def list_users(self) -> Sequence[SmtpUser]:
        with self.lock:
            self.calls += 1
            names = list(self.names)
        assert self.gate.wait(10)
        return [_user(n) for n in names]


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _entries(**labels: str) -> list[CatalogueEntry]:
    return [CatalogueEntry(name, label=label) for name, label in labels.items()]


def test_concurrent_misses_make_one_call_to_sarv() -> None:
    sarv = _Sarv("smtp1", "smtp2")
    index = UserIndex(sarv.list_users, list)
    sarv.gate.clear()
    threading.Timer(0.2, sarv.gate.set).start()
    found = race(16, lambda i: index.search("smtp", wait=5))
    assert all([p.name for p in f] == ["smtp1", "smtp2"] for f in found)
    assert sarv.calls == 1


def test_the_copy_lasts_its_time_then_is_loaded_again() -> None:
    sarv, clock = _Sarv("smtp1"), _Clock()
    index = UserIndex(sarv.list_users, list, ttl=30, clock=clock)
    index.search("")
    sarv.names.append("smtp2")
    clock.now = 29
    assert [p.name for p in index.search("")] == ["smtp1"]
    clock.now = 31
    assert [p.name for p in index.search("")] == ["smtp1", "smtp2"]
    assert sarv.calls == 2


def test_a_change_during_a_load_is_not_hidden_by_it() -> None:
    sarv = _Sarv("smtp1")
    index = UserIndex(sarv.list_users, list)
    sarv.gate.clear()
    with pytest.raises(TimeoutError):
        index.search("", wait=0.05)  # the load before the change is under way
    sarv.names.append("smtp2")
    index.invalidate()
    sarv.gate.set()
    assert [p.name for p in index.search("", wait=5)] == ["smtp1", "smtp2"]


def test_sarv_failing_is_not_kept() -> None:
    sarv = _Sarv("smtp1")
    failures = [RuntimeError("Sarv is down")]

    def list_users() -> Sequence[SmtpUser]:
        if failures:
            raise failures.pop()
        return sarv.list_users()

    index = UserIndex(list_users, list)
    with pytest.raises(RuntimeError):
        index.search("")
    assert index.search("") == [Pick("smtp1")]


def test_without_the_database_names_are_still_offered() -> None:
    def catalogue() -> list[CatalogueEntry]:
        raise DatabaseUnavailable("down")

    index = UserIndex(_Sarv("smtp1").list_users, catalogue)
    assert index.search("smtp") == [Pick("smtp1")]


def test_labels_match_and_nothing_kept_holds_a_password() -> None:
    index = UserIndex(_Sarv("smtp1", "smtp2").list_users, lambda: _entries(smtp2="Billing"))
    assert index.search("BILL") == [Pick("smtp2", "Billing")]
    kept = vars(index)["_loaded"]
    assert not any(isinstance(v, SmtpUser | Secret) for v in vars(kept).values())
    assert "hunter2" not in repr(kept)


def test_at_most_the_limit_those_beginning_with_the_text_first() -> None:
    names = [f"x-mail{i:03}" for i in range(150)] + [f"mail{i:03}" for i in range(150)]
    index = UserIndex(_Sarv(*names).list_users, list)
    found = [p.name for p in index.search("MAIL", limit=100)]
    assert found == sorted(n for n in names if n.startswith("mail"))[:100]


def test_warming_loads_once_and_the_first_search_uses_that_load() -> None:
    sarv = _Sarv("smtp1", "smtp2")
    clock = _Clock()
    index = UserIndex(sarv.list_users, list, clock=clock)
    sarv.gate.clear()
    index.warm()
    index.warm()  # a second form opened while the first load is under way
    sarv.gate.set()
    assert [p.name for p in index.search("2", wait=5)] == ["smtp2"]
    index.warm()  # fresh: nothing to do
    assert sarv.calls == 1
    clock.now += 3600
    index.warm()
    assert [p.name for p in index.search("", wait=5)] == ["smtp1", "smtp2"]
    assert sarv.calls == 2
