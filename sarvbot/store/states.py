"""The life cycle of an approval request."""

from __future__ import annotations

from enum import StrEnum


class RequestState(StrEnum):
    """Where an approval request stands.

    pending → running (claimed by the approval that completed it) → done, failed or
    unknown. pending may also end as denied, expired or cancelled. failed is not final:
    it can be claimed again (failed → running) to retry.
    """

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True when nothing can happen to the request any more."""
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {
        RequestState.DONE,
        RequestState.UNKNOWN,
        RequestState.DENIED,
        RequestState.EXPIRED,
        RequestState.CANCELLED,
    }
)
