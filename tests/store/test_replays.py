"""SeenRequests: each key is let in once, on SQLite and PostgreSQL, even under a race."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from sarvbot.store import Database, SeenRequests
from sarvbot.store.models import SeenRequestRow
from tests.support import race

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=6)


def test_a_key_is_let_in_once(database: Database) -> None:
    seen = SeenRequests(database)
    assert seen.first_sight({"request:1:v0=a": LATER}, now=NOW)
    assert not seen.first_sight({"request:1:v0=a": LATER}, now=NOW)
    assert seen.first_sight({"request:1:v0=b": LATER}, now=NOW)


def test_a_repeat_under_any_of_its_keys_is_a_repeat(database: Database) -> None:
    seen = SeenRequests(database)
    assert seen.first_sight({"request:1:v0=a": LATER, "event:Ev1": LATER}, now=NOW)
    assert not seen.first_sight({"request:2:v0=b": LATER, "event:Ev1": LATER}, now=NOW)


def test_looking_a_key_up_records_nothing_and_sees_only_live_keys(database: Database) -> None:
    seen = SeenRequests(database)
    assert not seen.seen({"request:1:v0=a": LATER}, now=NOW)
    assert seen.first_sight({"request:1:v0=a": LATER}, now=NOW)
    assert seen.seen({"request:9:v0=z": LATER, "request:1:v0=a": LATER}, now=NOW)
    assert not seen.seen({"request:1:v0=a": LATER}, now=LATER + timedelta(seconds=1))
    assert seen.first_sight({"request:9:v0=z": LATER}, now=NOW)


def test_expired_keys_are_pruned_and_live_ones_kept(database: Database) -> None:
    seen = SeenRequests(database)
    seen.first_sight({"old": NOW + timedelta(minutes=1), "live": LATER}, now=NOW)
    assert seen.prune(NOW + timedelta(minutes=2)) == 1
    assert not seen.first_sight({"live": LATER}, now=NOW)
    with database.session(readonly=True) as session:
        assert session.scalar(select(func.count()).select_from(SeenRequestRow)) == 1


def test_keys_are_stored_as_digests(database: Database) -> None:
    SeenRequests(database).first_sight({"request:1:v0=deadbeef": LATER}, now=NOW)
    with database.session(readonly=True) as session:
        (key,) = session.scalars(select(SeenRequestRow.key)).all()
    assert "deadbeef" not in key
    assert len(key) == 64


def test_concurrent_sightings_of_one_key_let_in_exactly_one(database: Database) -> None:
    # Two stores, as in two processes: nothing shared but the database.
    stores = [
        SeenRequests(database),
        SeenRequests(Database(database.engine.url.render_as_string(hide_password=False))),
    ]

    def sight(index: int) -> bool:
        return stores[index % 2].first_sight({"request:1:v0=raced": LATER}, now=NOW)

    assert sorted(race(8, sight)) == [False] * 7 + [True]
