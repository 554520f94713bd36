"""The work ledger: every acknowledged change ends with its person told, even after a crash.

A change gets a receipt when it is acknowledged. The process that acknowledged it keeps
the receipt's lease alive while it works; if the process dies (a crash, SIGKILL, a worker
killed past its graceful timeout), the lease lapses and any other process claims the
receipt, exactly once, to tell the person what became of the change. Nothing is ever run
again from a receipt: it only carries words.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sarvbot.store.receipts import Receipt, ReceiptStore
from sarvbot.store.replays import SeenRequests

__all__ = ["LostWork", "WorkLedger"]

logger = logging.getLogger("sarvbot.core")

DEFAULT_LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class LostWork:
    """A change whose person was never told how it ended, and what is known of it.

    ``started`` is False when its work never began (nothing was changed); ``outcome`` is
    Sarv's answer when one was recorded (done, failed, unknown, requested).
    """

    receipt_id: int
    user_id: str
    channel_id: str
    action: str
    target: str | None
    started: bool
    outcome: str | None
    error: str | None

    @classmethod
    def from_receipt(cls, receipt: Receipt) -> LostWork:
        """What a claimed receipt says."""
        return cls(
            receipt_id=receipt.id,
            user_id=receipt.user_id,
            channel_id=receipt.channel_id,
            action=receipt.action,
            target=receipt.target,
            started=receipt.state != "queued" or receipt.outcome is not None,
            outcome=receipt.outcome,
            error=receipt.error,
        )


class WorkLedger:
    """Receipts for acknowledged changes, held by this process under a renewable lease."""

    def __init__(
        self,
        receipts: ReceiptStore,
        *,
        seen: SeenRequests | None = None,
        lease: timedelta = DEFAULT_LEASE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._receipts = receipts
        self._seen = seen
        self.lease = lease
        self._clock = clock
        # One identity per process (and per app built in it), never reused.
        self.owner = uuid.uuid4().hex
        # Receipts are written in order by one thread of their own, right after the ack:
        # the ack never waits for the database (SQLite lets one writer in at a time).
        self._journal = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sarvbot-receipts")

    def acknowledge_soon(
        self, user_id: str, channel_id: str, action: str, target: str | None
    ) -> Future[int]:
        """A receipt for a change being acknowledged, written at once on the journal thread.

        Its work must wait for the future (DatabaseUnavailable if it could not be written)
        before it runs, so nothing runs without its receipt.
        """
        return self._journal.submit(self.acknowledge, user_id, channel_id, action, target)

    def close(self) -> None:
        """Write the receipts still queued and stop the journal thread."""
        self._journal.shutdown(wait=True)

    def acknowledge(self, user_id: str, channel_id: str, action: str, target: str | None) -> int:
        """A receipt for a change, written now. DatabaseUnavailable propagates."""
        now = self._clock()
        return self._receipts.acknowledge(
            user_id=user_id,
            channel_id=channel_id,
            action=action,
            target=target,
            owner=self.owner,
            lease_until=now + self.lease,
            now=now,
        )

    def first_sight(self, keys: Mapping[str, datetime]) -> bool:
        """Record a request's identities; False if any was seen before (a replay).

        Shared by every process through the database. When it cannot be reached,
        DatabaseUnavailable propagates and the work does not run: a busy moment passes
        while a replay's work would still be waiting, so letting it in could run it twice.
        """
        if self._seen is None or not keys:
            return True
        return self._seen.first_sight(keys)

    def forget(self, keys: Iterable[str]) -> None:
        """Let keys recorded by :meth:`first_sight` be seen anew (best effort)."""
        if self._seen is None:
            return
        try:
            self._seen.forget(keys)
        except Exception as exc:
            logger.warning("could not forget a claim: %s", type(exc).__name__)

    def seen_before(self, keys: Mapping[str, datetime]) -> bool:
        """Whether a request was let in before (so this one is a replay). Records nothing.

        False when it cannot be told: the caller then answers as for a new request.
        """
        if self._seen is None or not keys:
            return False
        try:
            return self._seen.seen(keys)
        except Exception as exc:
            logger.warning("could not look a request up among those seen: %s", type(exc).__name__)
            return False

    def start(self, receipt_id: int) -> bool:
        """True if the work may run: the receipt was still queued and still ours."""
        return self._receipts.start(receipt_id, owner=self.owner, now=self._clock())

    def record(self, receipt_id: int | None, outcome: str, error: str | None = None) -> None:
        """Keep what the change came to; best effort (the audit log has it too)."""
        if receipt_id is None:
            return
        try:
            self._receipts.record_outcome(receipt_id, outcome, error=error, now=self._clock())
        except Exception as exc:
            logger.warning("could not record receipt %s: %s", receipt_id, type(exc).__name__)

    def end(self, receipt_id: int, *, told: bool = True) -> None:
        """The work is over. ``told``: its person heard how it ended; if not, the receipt
        is handed over at once to be reported by DM (``claim_lost``), by any process.

        Best effort: if this fails, they may hear twice.
        """
        try:
            if told:
                self._receipts.end(receipt_id, now=self._clock())
            else:
                self._receipts.hand_over(receipt_id, now=self._clock())
        except Exception as exc:
            logger.warning("could not end receipt %s: %s", receipt_id, type(exc).__name__)

    def renew(self) -> int:
        """Keep this process's receipts leased: it is alive. Returns how many."""
        return self._receipts.renew(self.owner, lease_until=self._clock() + self.lease)

    def claim_lost(self, now: datetime | None = None) -> list[LostWork]:
        """Claim the receipts of processes that died; each is handed to one claimer only."""
        now = now or self._clock()
        claimed = self._receipts.claim_lapsed(
            owner=self.owner, now=now, lease_until=now + self.lease
        )
        return [LostWork.from_receipt(receipt) for receipt in claimed]

    def reported(self, lost: LostWork) -> None:
        """Its person has been told."""
        self._receipts.reported(lost.receipt_id, owner=self.owner, now=self._clock())
