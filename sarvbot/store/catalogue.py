"""The catalogue: labels, owners and notes of SMTP users, one row per Sarv name."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sarvbot.core.model import CatalogueEntry, LabelTaken
from sarvbot.store.database import Database, update_where
from sarvbot.store.models import CatalogueEntryRow, as_utc

__all__ = ["UNSET", "CatalogueStore"]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()
"""A value left as it is by :meth:`CatalogueStore.write` (None clears it)."""


def _insert_missing(session: Session, name: str, now: datetime) -> Any:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(CatalogueEntryRow)
        .values(name=name, retiring=False, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )


def _entry(row: CatalogueEntryRow) -> CatalogueEntry:
    return CatalogueEntry(
        name=row.name,
        label=row.label,
        owner_id=row.owner_id,
        note=row.note,
        retiring=row.retiring,
        frozen_by=row.frozen_by,
        frozen_at=row.frozen_at,
        frozen_reason=row.frozen_reason,
    )


class CatalogueStore:
    """Read and write catalogue entries."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, name: str) -> CatalogueEntry | None:
        """The entry of one Sarv name, or None."""
        with self._db.session(readonly=True) as session:
            row = session.get(CatalogueEntryRow, name)
            return _entry(row) if row is not None else None

    def by_label(self, label: str) -> CatalogueEntry | None:
        """The entry holding ``label`` (any case), or None."""
        with self._db.session(readonly=True) as session:
            row = session.scalars(
                select(CatalogueEntryRow).where(CatalogueEntryRow.label_key == label.lower())
            ).first()
            return _entry(row) if row is not None else None

    def all(self) -> list[CatalogueEntry]:
        """Every entry, by name."""
        with self._db.session(readonly=True) as session:
            rows = session.scalars(select(CatalogueEntryRow).order_by(CatalogueEntryRow.name))
            return [_entry(row) for row in rows]

    def owned_by(self, owner_id: str) -> list[CatalogueEntry]:
        """The entries of one owner, by name."""
        with self._db.session(readonly=True) as session:
            rows = session.scalars(
                select(CatalogueEntryRow)
                .where(CatalogueEntryRow.owner_id == owner_id)
                .order_by(CatalogueEntryRow.name)
            )
            return [_entry(row) for row in rows]

    def count(self) -> int:
        """How many entries there are."""
        with self._db.session(readonly=True) as session:
            return int(session.scalar(select(func.count()).select_from(CatalogueEntryRow)) or 0)

    def start_rotation(self, name: str, *, now: datetime, stale_before: datetime) -> str | None:
        """Let one rotation of ``name`` in: None if this one may go on, else why not.

        A rotation that started before ``stale_before`` and never finished (its process
        died during the add) no longer holds the gate.
        """
        with self._db.session() as session:
            session.execute(_insert_missing(session, name, now))
            moved = update_where(
                session,
                CatalogueEntryRow,
                CatalogueEntryRow.name == name,
                CatalogueEntryRow.retiring.is_(False),
                or_(
                    CatalogueEntryRow.rotating_since.is_(None),
                    CatalogueEntryRow.rotating_since < as_utc(stale_before),
                ),
                rotating_since=as_utc(now),
            )
            if moved == 1:
                return None
            row = session.get(CatalogueEntryRow, name)
            if row is not None and row.retiring:
                return "replaced"
            return "rotating"

    def freeze(self, name: str, *, by: str, reason: str, now: datetime) -> None:
        """Mark ``name`` frozen (by whom, when, why) until it is enabled again."""
        with self._db.session() as session:
            session.execute(_insert_missing(session, name, now))
            update_where(
                session,
                CatalogueEntryRow,
                CatalogueEntryRow.name == name,
                frozen_by=by,
                frozen_at=as_utc(now),
                frozen_reason=reason,
                updated_at=as_utc(now),
            )

    def thaw(self, name: str, *, now: datetime) -> bool:
        """``name`` was enabled: it is frozen no more. False if it was not frozen."""
        with self._db.session() as session:
            return (
                update_where(
                    session,
                    CatalogueEntryRow,
                    CatalogueEntryRow.name == name,
                    CatalogueEntryRow.frozen_at.is_not(None),
                    frozen_by=None,
                    frozen_at=None,
                    frozen_reason=None,
                    updated_at=as_utc(now),
                )
                == 1
            )

    def end_rotation(self, name: str) -> None:
        """The rotation of ``name`` stopped before its add: the gate opens again."""
        with self._db.session() as session:
            update_where(
                session, CatalogueEntryRow, CatalogueEntryRow.name == name, rotating_since=None
            )

    def move(self, old: str, new: str, *, now: datetime | None = None) -> CatalogueEntry | None:
        """A rotation: ``new`` takes over the label, owner and note of ``old``, which is marked
        retiring, in one transaction. Returns the new entry (None if ``old`` had none).
        """
        now = now or datetime.now(UTC)
        with self._db.session() as session:
            row = session.get(CatalogueEntryRow, old)
            if row is None:
                session.add(
                    CatalogueEntryRow(name=old, retiring=True, created_at=now, updated_at=now)
                )
                return None
            label, owner_id, note = row.label, row.owner_id, row.note
            row.label, row.label_key, row.retiring, row.updated_at = None, None, True, now
            row.rotating_since = None
            session.flush()
            session.merge(
                CatalogueEntryRow(
                    name=new,
                    label=label,
                    label_key=label.lower() if label else None,
                    owner_id=owner_id,
                    note=note,
                    retiring=False,
                    created_at=now,
                    updated_at=now,
                )
            )
            return CatalogueEntry(name=new, label=label, owner_id=owner_id, note=note)

    def write(
        self,
        name: str,
        *,
        label: str | _Unset | None = UNSET,
        owner_id: str | _Unset | None = UNSET,
        note: str | _Unset | None = UNSET,
        retiring: bool | _Unset = UNSET,
        now: datetime | None = None,
    ) -> CatalogueEntry:
        """Create or change the entry of ``name``; LabelTaken if another user has the label."""
        now = now or datetime.now(UTC)
        try:
            with self._db.session() as session:
                # Created first if missing, so that two writers of a new entry both land.
                session.execute(_insert_missing(session, name, now))
                row = session.get(CatalogueEntryRow, name, with_for_update=True)
                if row is None:
                    raise LookupError(name)
                if not isinstance(label, _Unset):
                    row.label = label
                    row.label_key = label.lower() if label else None
                if not isinstance(owner_id, _Unset):
                    row.owner_id = owner_id
                if not isinstance(note, _Unset):
                    row.note = note
                if not isinstance(retiring, _Unset):
                    row.retiring = retiring
                row.updated_at = now
                session.flush()
                return _entry(row)
        except IntegrityError:
            holder = self.by_label(label) if isinstance(label, str) else None
            raise LabelTaken(str(label), holder.name if holder else "another user") from None
