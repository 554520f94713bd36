"""Receipts of acknowledged changes, so that none ends without its person being told.

A receipt is written when a change is acknowledged, moves to running when its work
starts, and ends when the person has been answered. Each move is one conditional UPDATE,
so a receipt whose process died is claimed, and reported, by exactly one other process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from sarvbot.store.database import Database, update_where
from sarvbot.store.models import ChangeReceiptRow, as_utc

__all__ = ["Receipt", "ReceiptStore"]

OPEN_STATES = ("queued", "running")
# Built once: the ack path runs it for every change, and building costs more than running.
_ACKNOWLEDGE = insert(ChangeReceiptRow).returning(ChangeReceiptRow.id)
CLAIMABLE_STATES = ("queued", "running", "reporting")


@dataclass(frozen=True, slots=True)
class Receipt:
    """An acknowledged change as stored. ``state`` is where it was when last seen.

    ``queued``: acknowledged, its work never started; ``running``: started, perhaps at Sarv;
    ``outcome`` and ``error``: what Sarv's answer came to, once there was one.
    """

    id: int
    created_at: datetime
    user_id: str
    channel_id: str
    action: str
    target: str | None
    state: str
    outcome: str | None
    error: str | None


class ReceiptStore:
    """Write receipts and move them through their states exactly once."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def acknowledge(
        self,
        *,
        user_id: str,
        channel_id: str,
        action: str,
        target: str | None,
        owner: str,
        lease_until: datetime,
        now: datetime,
    ) -> int:
        """Record an acknowledged change; returns its receipt id."""
        values = {
            "created_at": as_utc(now),
            "updated_at": as_utc(now),
            "user_id": user_id,
            "channel_id": channel_id,
            "action": action,
            "target": target,
            "state": "queued",
            "owner": owner,
            "lease_until": as_utc(lease_until),
        }
        # Written before the ack: a locked database must not hold the ack past Slack's 3 s.
        with self._db.transaction(quick=True) as connection:
            return int(connection.execute(_ACKNOWLEDGE, values).scalar_one())

    def start(self, receipt_id: int, *, owner: str, now: datetime) -> bool:
        """Queued to running, if it is still queued and ``owner``'s: the work may run once."""
        return self._move(
            receipt_id,
            [ChangeReceiptRow.state == "queued", ChangeReceiptRow.owner == owner],
            state="running",
            updated_at=as_utc(now),
        )

    def record_outcome(
        self, receipt_id: int, outcome: str, *, error: str | None, now: datetime
    ) -> bool:
        """Keep what Sarv's answer came to (done, failed, unknown, requested)."""
        return self._move(
            receipt_id,
            [ChangeReceiptRow.state == "running"],
            outcome=outcome,
            error=error,
            updated_at=as_utc(now),
        )

    def end(self, receipt_id: int, *, now: datetime) -> bool:
        """The person has been answered: nothing is left to report."""
        return self._move(
            receipt_id,
            [ChangeReceiptRow.state.in_(OPEN_STATES)],
            state="ended",
            updated_at=as_utc(now),
        )

    def hand_over(self, receipt_id: int, *, now: datetime) -> bool:
        """Its work is over but its person did not hear: claimable by anyone, now."""
        return self._move(
            receipt_id,
            [ChangeReceiptRow.state.in_(OPEN_STATES)],
            state="running",
            owner="",
            lease_until=as_utc(now) - timedelta(seconds=1),
            updated_at=as_utc(now),
        )

    def renew(self, owner: str, *, lease_until: datetime) -> int:
        """Extend the lease of every open receipt of ``owner`` (its process is alive)."""
        with self._db.session() as session:
            return update_where(
                session,
                ChangeReceiptRow,
                ChangeReceiptRow.owner == owner,
                ChangeReceiptRow.state.in_(OPEN_STATES),
                lease_until=as_utc(lease_until),
            )

    def claim_lapsed(
        self, *, owner: str, now: datetime, lease_until: datetime, limit: int = 100
    ) -> list[Receipt]:
        """Claim open receipts whose lease lapsed; each is returned to one claimer only.

        They move to ``reporting`` under the claimer's lease: a claimer that dies before
        calling :meth:`reported` leaves them to be claimed again.
        """
        now = as_utc(now)
        lapsed = [
            ChangeReceiptRow.state.in_(CLAIMABLE_STATES),
            ChangeReceiptRow.lease_until < now,
        ]
        with self._db.session() as session:
            rows = list(
                session.scalars(
                    select(ChangeReceiptRow)
                    .where(*lapsed)
                    .order_by(ChangeReceiptRow.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            if not rows:
                return []
            found = [_to_receipt(row) for row in rows]
            session.execute(
                update(ChangeReceiptRow)
                .where(ChangeReceiptRow.id.in_([r.id for r in found]), *lapsed)
                .values(
                    state="reporting",
                    owner=owner,
                    lease_until=as_utc(lease_until),
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            return found

    def reported(self, receipt_id: int, *, owner: str, now: datetime) -> bool:
        """The person has been told what became of a claimed receipt."""
        return self._move(
            receipt_id,
            [ChangeReceiptRow.state == "reporting", ChangeReceiptRow.owner == owner],
            state="reported",
            updated_at=as_utc(now),
        )

    def get(self, receipt_id: int) -> Receipt | None:
        """The receipt with this id, or None."""
        with self._db.session(readonly=True) as session:
            row = session.get(ChangeReceiptRow, receipt_id)
            return _to_receipt(row) if row is not None else None

    def _move(self, receipt_id: int, conditions: Sequence[Any], **values: Any) -> bool:
        with self._db.session() as session:
            moved = update_where(
                session, ChangeReceiptRow, ChangeReceiptRow.id == receipt_id, *conditions, **values
            )
            return moved == 1


def _to_receipt(row: ChangeReceiptRow) -> Receipt:
    return Receipt(
        id=row.id,
        created_at=row.created_at,
        user_id=row.user_id,
        channel_id=row.channel_id,
        action=row.action,
        target=row.target,
        state=row.state,
        outcome=row.outcome,
        error=row.error,
    )
