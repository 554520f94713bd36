"""One person's own view of sarvbot: what waits on them, what they asked, what they own."""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import ApprovalRequest, CatalogueEntry
from .reverts import TimedChange
from .units import Core

__all__ = ["PersonalView", "personal_view"]

# How many of one's own requests the view looks at (newest first).
OWN_REQUESTS = 20


@dataclass(frozen=True)
class PersonalView:
    """What one person sees of sarvbot, all read from the database (nothing from Sarv).

    ``decider`` says whether they may decide requests now; ``waiting`` holds the pending
    requests they may still approve or deny (not their own, not voted on yet). A guest
    sees nothing but what guests may do.
    """

    user_id: str
    is_guest: bool = False
    decider: bool = False
    required: int = 1
    waiting: list[ApprovalRequest] = field(default_factory=list)
    mine: list[ApprovalRequest] = field(default_factory=list)
    timed: list[TimedChange] = field(default_factory=list)
    owned: list[CatalogueEntry] = field(default_factory=list)
    frozen: list[CatalogueEntry] = field(default_factory=list)


def personal_view(core: Core, user_id: str) -> PersonalView:
    """The view of ``user_id``, with who may decide asked of the workspace afresh."""
    permissions = core.permissions
    if permissions.directory.is_guest(user_id, fresh=True):
        return PersonalView(user_id, is_guest=True)
    approvals = permissions.policy.approvals
    decider = approvals is not None and permissions.approver_problem(user_id)[0] is None
    now = core.approvals.clock()
    waiting = (
        [
            r
            for r in core.approvals.pending()
            if r.requester_id != user_id and user_id not in r.approvals and r.expires_at > now
        ]
        if decider
        else []
    )
    owned = core.catalogue.owned_by(user_id)
    owned_names = {e.name for e in owned}
    timed = [
        t
        for t in core.reverts.pending()
        if decider or t.requester_id == user_id or t.target in owned_names
    ]
    frozen = [e for e in core.catalogue.frozen() if decider or e.name in owned_names]
    return PersonalView(
        user_id,
        decider=decider,
        required=approvals.required if approvals else 1,
        waiting=waiting,
        mine=core.approvals.of_requester(user_id, OWN_REQUESTS),
        timed=timed,
        owned=owned,
        frozen=frozen,
    )
