"""The audit trail as the core writes it: one helper for every row a use case records."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sarvbot.actions import SPECS

from .model import Actor, ApprovalRequest, AuditEntry

if TYPE_CHECKING:
    from sarvbot.store import AuditLog

__all__ = ["AuditTrail"]

logger = logging.getLogger("sarvbot.core")


class AuditTrail:
    """Who did what where, and what came of it, in the audit log."""

    def __init__(self, log: AuditLog) -> None:
        self._log = log

    def record(
        self,
        actor: Actor | str,
        channel_id: str,
        action: str,
        outcome: str,
        target: str | None = None,
        *,
        rule: str | None = None,
        request_id: int | None = None,
        detail: str | None = None,
        error: str | None = None,
        best_effort: bool = False,
    ) -> None:
        """Append one row. DatabaseUnavailable propagates, so a use case may rely on it.

        ``best_effort`` is for rows written after Sarv has acted: nothing may then lose
        the result (or the password) on its way to the person, so a failure is logged
        and the "started" row stands for it.
        """
        try:
            self._log.append(
                actor_id=actor.user_id if isinstance(actor, Actor) else actor,
                channel_id=channel_id,
                action=str(action),
                outcome=outcome,
                target=target,
                rule=rule,
                request_id=request_id,
                detail=detail,
                error=error,
            )
        except Exception as exc:
            if not best_effort:
                raise
            logger.error(
                "could not audit %s %s as %s: %s", action, target, outcome, type(exc).__name__
            )

    def record_about(
        self,
        request: ApprovalRequest,
        outcome: str,
        *,
        actor: Actor | None = None,
        channel_id: str | None = None,
        action: str | None = None,
        rule: str | None = None,
        detail: str | None = None,
        error: str | None = None,
        best_effort: bool = False,
    ) -> None:
        """A row about a request: by default in its requester's name and channel."""
        self.record(
            actor or request.requester_id,
            channel_id or request.requester_channel_id,
            action or request.action,
            outcome,
            request.target,
            rule=rule,
            request_id=request.id,
            detail=detail,
            error=error,
            best_effort=best_effort,
        )

    def record_decision(
        self,
        request: ApprovalRequest,
        outcome: str,
        actor: Actor,
        channel_id: str,
        *,
        rule: str = "approvals",
        detail: str | None = None,
        error: str | None = None,
    ) -> None:
        """A row for a click on a request (a vote, a denial, a refusal), in the clicker's name."""
        self.record_about(
            request,
            outcome,
            actor=actor,
            channel_id=channel_id,
            action="decide",
            rule=rule,
            detail=detail,
            error=error,
        )

    def count_since(self, actor: Actor, action: str, outcome: str, since: datetime) -> int:
        """How many ``action`` rows ending in ``outcome`` ``actor`` has from ``since`` on."""
        return self._log.count(
            actor_id=actor.user_id, action=str(action), outcome=outcome, since=since
        )

    def password_times(self) -> dict[str, datetime]:
        """When each SMTP user last got a password from a change sarvbot made (by name)."""
        makers = tuple(a.value for a, s in SPECS.items() if s.changes_sarv and s.yields_password)
        return self._log.password_times(makers)

    def latest(self, target: str | None = None, limit: int = 20) -> list[AuditEntry]:
        """The newest rows, for one SMTP user or all."""
        return self._log.latest(target=target, limit=limit)
