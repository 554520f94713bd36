"""The database layer: the core's records (audit log, approval requests, receipts, seen
requests, due jobs) mapped to tables, on SQLite or PostgreSQL.

Nothing happens at import time: build a :class:`Database` from a URL, bring its schema
up to date with :meth:`Database.upgrade`, and hand it to the repositories.
"""

from sarvbot.store.approval_requests import ApprovalStore
from sarvbot.store.audit import AuditLog
from sarvbot.store.catalogue import CatalogueStore
from sarvbot.store.database import Database
from sarvbot.store.errors import DatabaseBehind, DatabaseUnavailable, StoreError
from sarvbot.store.jobs import REQUEST_ENDED, DueJob, JobStore
from sarvbot.store.receipts import Receipt, ReceiptStore
from sarvbot.store.replays import SeenRequests

__all__ = [
    "REQUEST_ENDED",
    "ApprovalStore",
    "AuditLog",
    "CatalogueStore",
    "Database",
    "DatabaseBehind",
    "DatabaseUnavailable",
    "DueJob",
    "JobStore",
    "Receipt",
    "ReceiptStore",
    "SeenRequests",
    "StoreError",
]
