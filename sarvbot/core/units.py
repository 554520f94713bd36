"""The core's units, built together once per app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sarvbot.policy import Policy
from sarvbot.sarv import SarvClient

from .approvals import ApprovalDesk, utcnow
from .catalogue import Catalogue
from .chores import SmtpChores
from .leak_watch import LeakWatch
from .ledger import WorkLedger
from .model import Directory
from .permissions import Permissions
from .reverts import Reverts
from .rotations import Rotations
from .trail import AuditTrail
from .user_index import UserIndex

if TYPE_CHECKING:
    from sarvbot.store import ApprovalStore, AuditLog, CatalogueStore, JobStore

__all__ = ["Core", "build_core"]


@dataclass(frozen=True)
class Core:
    """Who may act, the chores at Sarv, the approval lifecycle, the audit trail, receipts
    and the due jobs of timed work.
    """

    permissions: Permissions
    chores: SmtpChores
    approvals: ApprovalDesk
    catalogue: Catalogue
    reverts: Reverts
    rotations: Rotations
    leak_watch: LeakWatch
    trail: AuditTrail
    ledger: WorkLedger
    jobs: JobStore
    user_index: UserIndex


def build_core(
    *,
    sarv_client: SarvClient,
    policy: Policy,
    audit: AuditLog,
    approvals: ApprovalStore,
    catalogue: CatalogueStore,
    directory: Directory,
    ledger: WorkLedger,
    jobs: JobStore,
    clock: Callable[[], datetime] = utcnow,
) -> Core:
    """Wire the units around one policy, one audit log and one Sarv client."""
    trail = AuditTrail(audit)
    permissions = Permissions(policy, directory, trail, reserve=ledger.first_sight)
    reverts = Reverts(jobs, clock=clock)
    rotations = Rotations(jobs, clock=clock)
    chores = SmtpChores(sarv_client, trail, catalogue, ledger, reverts, rotations)
    # Sarv's own list (not the chores' shared call): the watch holds no password itself.
    leak_watch = LeakWatch(sarv_client.list_users)
    chores.leak_watch = leak_watch
    # One per process: every picker shares it; the chores forget it after each change.
    user_index = UserIndex(chores.list_users, catalogue.all)
    chores.user_index = user_index
    desk = ApprovalDesk(approvals, chores=chores, permissions=permissions, trail=trail, clock=clock)
    return Core(
        permissions=permissions,
        chores=chores,
        approvals=desk,
        catalogue=Catalogue(
            catalogue,
            chores,
            trail,
            max_age_days=lambda: permissions.policy.max_password_age_days,
            clock=clock,
        ),
        reverts=reverts,
        rotations=rotations,
        leak_watch=leak_watch,
        trail=trail,
        ledger=ledger,
        jobs=jobs,
        user_index=user_index,
    )
