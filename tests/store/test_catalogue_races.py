"""Two writers making the same catalogue entry at once."""

from __future__ import annotations

import threading

import pytest

from sarvbot.store import CatalogueStore, Database


@pytest.mark.postgres
def test_an_owner_and_a_note_written_at_once_to_a_new_entry_both_land(
    postgres_url: str,
) -> None:
    db = Database(postgres_url)
    db.upgrade()
    store = CatalogueStore(db)
    errors: list[str] = []
    try:
        for index in range(20):
            name = f"smtp6{index:04d}"
            start = threading.Barrier(2)

            def write(name: str = name, start: threading.Barrier = start, **values: str) -> None:
                start.wait()
                try:
                    store.write(name, **values)  # type: ignore[arg-type]
                except Exception as exc:
                    errors.append(str(exc))

            writers = [
                threading.Thread(target=write, kwargs={"owner_id": "U0ALICE"}),
                threading.Thread(target=write, kwargs={"note": "sends invoices"}),
            ]
            for writer in writers:
                writer.start()
            for writer in writers:
                writer.join()
    finally:
        db.dispose()
    # Neither is about a label; one fails as "The label UNSET is already on another user."
    assert errors == []
