"""The domain: who acts, what changes, what came of it, and what is kept of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sarvbot.actions import SPECS, Action
from sarvbot.sarv import Credentials, SmtpUser, UserStatus

__all__ = [
    "TERMINAL_STATES",
    "Actor",
    "ApprovalRequest",
    "AuditEntry",
    "CatalogueEntry",
    "Change",
    "ChangeResult",
    "Directory",
    "LabelTaken",
    "NotAMember",
    "Refused",
    "RequestState",
    "TooManyFreezes",
    "UnknownSmtpUser",
]


@dataclass(frozen=True)
class Actor:
    """A Slack user acting through sarvbot."""

    user_id: str
    is_guest: bool = False


class Directory(Protocol):
    """What sarvbot must know of the workspace's people and channels."""

    def is_guest(self, user_id: str, *, fresh: bool = False) -> bool:
        """True for guest accounts and users of another organisation.

        ``fresh`` asks Slack now instead of trusting a cached answer (for decisions).
        """
        ...

    def is_member(self, channel_id: str, user_id: str, *, fresh: bool = True) -> bool:
        """True when the user is a current member of the channel.

        ``fresh=False`` accepts an answer cached briefly (for what is asked on every keystroke).
        """
        ...

    def group_members(self, group_id: str) -> frozenset[str]:
        """The users of a user group."""
        ...

    def channel_members(self, channel_id: str) -> frozenset[str]:
        """The current members of a channel."""
        ...


class Refused(Exception):
    """The action may not run; ``message`` says why, ``rule`` which rule said so."""

    def __init__(self, message: str, rule: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule


class UnknownSmtpUser(Exception):
    """Sarv has no SMTP user of that name, and no label names one.

    ``suggestions`` are labels that hold the name, for people who half remember one.
    """

    def __init__(self, name: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(f"Sarv has no SMTP user named {name}")
        self.name = name
        self.suggestions = suggestions


@dataclass(frozen=True)
class Change:
    """One change to Sarv: an action of kind CHANGE and its values."""

    action: Action
    target: str | None = None
    total_limit: int | None = None
    hourly_limit: int | None = None
    status: UserStatus | None = None
    label: str | None = None
    owner_id: str | None = None
    note: str | None = None
    # A time-bound change: sarvbot puts the values back after this many seconds.
    for_seconds: int | None = None
    # A rotation: how long the old user stays enabled beside its replacement.
    grace_seconds: int | None = None
    # A freeze: why (kept with the freeze and shown on its alert).
    why: str | None = None

    @property
    def makes_password(self) -> bool:
        """True when the change produces a password (add, reset)."""
        return SPECS[self.action].yields_password

    @property
    def repeatable(self) -> bool:
        """True when running it twice does no harm (not so when it makes a password)."""
        return SPECS[self.action].repeatable

    def params(self) -> dict[str, Any]:
        """The values to keep with an approval request (never a secret)."""
        values: dict[str, Any] = {}
        if self.total_limit is not None:
            values["total_limit"] = self.total_limit
        if self.hourly_limit is not None:
            values["hourly_limit"] = self.hourly_limit
        if self.status is not None:
            values["status"] = self.status.value
        for key in ("label", "owner_id", "note", "for_seconds", "grace_seconds", "why"):
            if getattr(self, key) is not None:
                values[key] = getattr(self, key)
        return values

    def sarv_values(self) -> dict[str, Any]:
        """The values the change sets on the user at Sarv (limits and status)."""
        values = {
            k: v for k, v in self.params().items() if k in ("total_limit", "hourly_limit", "status")
        }
        status = SPECS[self.action].sets_status
        if status is not None:
            values["status"] = status
        return values

    @classmethod
    def from_params(
        cls, action: Action | str, target: str | None, params: dict[str, Any]
    ) -> Change:
        """Rebuild a change kept with an approval request."""
        new = params.get("new", params)
        status = new.get("status")
        return cls(
            action=Action(action),
            target=target,
            total_limit=new.get("total_limit"),
            hourly_limit=new.get("hourly_limit"),
            status=UserStatus(status) if status else None,
            label=new.get("label"),
            owner_id=new.get("owner_id"),
            note=new.get("note"),
            for_seconds=new.get("for_seconds"),
            grace_seconds=new.get("grace_seconds"),
            why=new.get("why"),
        )


@dataclass(frozen=True)
class ChangeResult:
    """What a change did. ``credentials`` holds a password for add and reset only."""

    change: Change
    target: str
    before: SmtpUser | None = None
    credentials: Credentials | None = None
    # When a time-bound change will be put back.
    ends_at: datetime | None = None
    # A rotation: the user the new one replaces, and the key of its retirement (None if
    # the retirement could not be scheduled).
    replaces: str | None = None
    rotation_key: str | None = None
    retire_at: datetime | None = None


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


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """A change asked for in one channel and decided in the approvals channel.

    ``approvals`` holds the ids of those who approved it, in vote order.
    """

    id: int
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    requester_id: str
    requester_channel_id: str
    action: str
    target: str | None
    params: dict[str, Any]
    reason: str
    state: RequestState
    decided_by: str | None
    decided_at: datetime | None
    deny_reason: str | None
    error: str | None
    result: dict[str, Any] | None
    message_channel: str | None
    message_ts: str | None
    approvals: tuple[str, ...]
    # The Workflow Builder step that completes when the request ends, if one asked.
    function_execution_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One recorded event. ``rule`` is the policy rule that allowed or refused it."""

    id: int
    at: datetime
    actor_id: str
    channel_id: str
    action: str
    outcome: str
    target: str | None
    error: str | None
    rule: str | None
    request_id: int | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """What sarvbot keeps of one SMTP user: a short unique label, an owner and a note.

    ``retiring`` marks a user that a rotation replaced and will disable; ``frozen_*`` say
    who froze it, when and why, until it is enabled again.
    """

    name: str
    label: str | None = None
    owner_id: str | None = None
    note: str | None = None
    retiring: bool = False
    frozen_by: str | None = None
    frozen_at: datetime | None = None
    frozen_reason: str | None = None

    @property
    def frozen(self) -> bool:
        """True from a freeze until the user is enabled again."""
        return self.frozen_at is not None


class TooManyFreezes(Refused):
    """One person used the freezes the policy allows them in an hour."""

    def __init__(self, per_hour: int, frozen: int) -> None:
        told = f"You froze {frozen} SMTP users in the last hour"
        if frozen >= per_hour:
            told += ", as many as the policy allows."
        else:
            # The other slots went to freezes still under way, or that failed at Sarv.
            told += (
                f"; with your other freezes of this hour (under way, or failed) that makes "
                f"the {per_hour} the policy allows."
            )
        super().__init__(
            told + " Ask ops in the approvals channel, who have been alerted.", "freeze.per_hour"
        )
        self.per_hour = per_hour
        self.frozen = frozen


class NotAMember(Refused):
    """A channel chosen on a form is one the person is not in: ``/smtp`` can be typed only
    in a channel one is in, so its rules are only for its members.
    """

    def __init__(self) -> None:
        super().__init__(
            "Not a member of that channel: its rules are only for its members.", "channel.members"
        )


class LabelTaken(Refused):
    """Another SMTP user already has that label."""

    def __init__(self, label: str, holder: str) -> None:
        super().__init__(f"The label {label} is already on {holder}.", "catalogue.label")
        self.label = label
        self.holder = holder
