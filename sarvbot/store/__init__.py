"""The database layer: audit log, approvals, seen requests and due jobs, on SQLite or PostgreSQL.

Nothing happens at import time: build a :class:`Database` from a URL, bring its schema
up to date with :meth:`Database.upgrade`, and hand it to the repositories.
"""

from sarvbot.store.approvals import ApprovalRequest, ApprovalStore
from sarvbot.store.audit import AuditEntry, AuditLog
from sarvbot.store.database import Database
from sarvbot.store.errors import DatabaseBehind, DatabaseUnavailable, StoreError
from sarvbot.store.jobs import REQUEST_ENDED, DueJob, JobStore
from sarvbot.store.receipts import Receipt, ReceiptStore
from sarvbot.store.replays import SeenRequests
from sarvbot.store.states import TERMINAL_STATES, RequestState

__all__ = [
    "REQUEST_ENDED",
    "TERMINAL_STATES",
    "ApprovalRequest",
    "ApprovalStore",
    "AuditEntry",
    "AuditLog",
    "Database",
    "DatabaseBehind",
    "DatabaseUnavailable",
    "DueJob",
    "JobStore",
    "Receipt",
    "ReceiptStore",
    "RequestState",
    "SeenRequests",
    "StoreError",
]
