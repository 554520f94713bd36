"""The core in process: an in-memory SQLite database, the Sarv sandbox and a fake directory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from sarvbot.core import Core, WorkLedger, build_core
from sarvbot.policy import Policy, parse_policy
from sarvbot.sandbox import Sandbox
from sarvbot.sarv import SarvClient
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, CAROL, DEMO_POLICY, DEV, GUEST, OPS
from sarvbot.store import ApprovalStore, AuditLog, CatalogueStore, Database, JobStore, ReceiptStore

__all__ = [
    "ALICE",
    "APPROVALS",
    "BOB",
    "CAROL",
    "DAVE",
    "DEV",
    "ELSEWHERE",
    "GUEST",
    "OPS",
    "OPS_GROUP",
    "Bench",
    "make_policy",
]

ELSEWHERE, DAVE, OPS_GROUP = "C0ELSEWHERE", "U0DAVE", "S0OPS"


@dataclass
class FakeDirectory:
    """The workspace as the core asks about it: guests, channel members, user groups."""

    guests: set[str] = field(default_factory=lambda: {GUEST})
    members: dict[str, set[str]] = field(
        default_factory=lambda: {APPROVALS: {BOB, CAROL, DAVE, GUEST}}
    )
    groups: dict[str, frozenset[str]] = field(
        default_factory=lambda: {OPS_GROUP: frozenset({BOB, CAROL})}
    )

    def is_guest(self, user_id: str, *, fresh: bool = False) -> bool:
        return user_id in self.guests

    def is_member(self, channel_id: str, user_id: str, *, fresh: bool = True) -> bool:
        return user_id in self.members.get(channel_id, set())

    def group_members(self, group_id: str) -> frozenset[str]:
        return self.groups.get(group_id, frozenset())

    def channel_members(self, channel_id: str) -> frozenset[str]:
        return frozenset(self.members.get(channel_id, set()))


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Bench:
    """One core wired to its parts, with the parts at hand for the test."""

    core: Core
    database: Database
    sandbox: Sandbox
    directory: FakeDirectory
    clock: Clock

    @property
    def audit(self) -> AuditLog:
        return AuditLog(self.database)

    def outcomes(self, action: str) -> list[str]:
        """The audit outcomes recorded for ``action``, oldest first."""
        return [e.outcome for e in reversed(self.audit.latest(limit=100)) if e.action == action]


def make_policy(text: str = DEMO_POLICY) -> Policy:
    return parse_policy(text, source="policy")


@pytest.fixture
def bench() -> Iterator[Bench]:
    database = Database("sqlite://")
    database.upgrade()
    directory = FakeDirectory()
    clock = Clock()
    with Sandbox("owner-1", "sarv-token") as sandbox:
        ledger = WorkLedger(ReceiptStore(database))
        core = build_core(
            sarv_client=SarvClient("owner-1", "sarv-token", base_url=sandbox.url),
            policy=make_policy(),
            audit=AuditLog(database),
            approvals=ApprovalStore(database),
            catalogue=CatalogueStore(database),
            directory=directory,
            ledger=ledger,
            jobs=JobStore(database),
            clock=clock,
        )
        yield Bench(core, database, sandbox, directory, clock)
        ledger.close()
    database.dispose()
