"""What the store tests share: their clock and a request to work on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sarvbot.core import ApprovalRequest
from sarvbot.store import ApprovalStore

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
EXPIRY = T0 + timedelta(hours=1)


def request_reset(store: ApprovalStore, **overrides: Any) -> ApprovalRequest:
    """U0DEV's pending request, made at T0 in #dev, to reset smtp123; it expires an hour on."""
    fields: dict[str, Any] = {
        "requester_id": "U0DEV",
        "requester_channel_id": "C0DEV",
        "action": "reset",
        "target": "smtp123",
        "params": {},
        "reason": "password leaked in a log",
        "expires_at": EXPIRY,
        "now": T0,
    }
    return store.create(**(fields | overrides))
