"""The domain: who acts, what changes, and what came of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sarvbot.sarv import Credentials, SmtpUser, UserStatus

__all__ = ["Actor", "Change", "ChangeResult", "Directory", "Refused", "UnknownSmtpUser"]


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

    def is_member(self, channel_id: str, user_id: str) -> bool:
        """True when the user is a current member of the channel."""
        ...

    def group_members(self, group_id: str) -> frozenset[str]:
        """The users of a user group."""
        ...


class Refused(Exception):
    """The action may not run; ``message`` says why, ``rule`` which rule said so."""

    def __init__(self, message: str, rule: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule


class UnknownSmtpUser(Exception):
    """Sarv has no SMTP user of that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"Sarv has no SMTP user named {name}")
        self.name = name


@dataclass(frozen=True)
class Change:
    """One change to Sarv: add, edit, enable, disable or reset."""

    action: str
    target: str | None = None
    total_limit: int | None = None
    hourly_limit: int | None = None
    status: UserStatus | None = None

    @property
    def makes_password(self) -> bool:
        """add and reset produce a password."""
        return self.action in ("add", "reset")

    @property
    def repeatable(self) -> bool:
        """True when running it twice does no harm (not so for add and reset)."""
        return not self.makes_password

    def params(self) -> dict[str, Any]:
        """The values to keep with an approval request (never a secret)."""
        values: dict[str, Any] = {}
        if self.total_limit is not None:
            values["total_limit"] = self.total_limit
        if self.hourly_limit is not None:
            values["hourly_limit"] = self.hourly_limit
        if self.status is not None:
            values["status"] = self.status.value
        return values

    @classmethod
    def from_params(cls, action: str, target: str | None, params: dict[str, Any]) -> Change:
        """Rebuild a change kept with an approval request."""
        new = params.get("new", params)
        status = new.get("status")
        return cls(
            action=action,
            target=target,
            total_limit=new.get("total_limit"),
            hourly_limit=new.get("hourly_limit"),
            status=UserStatus(status) if status else None,
        )


@dataclass(frozen=True)
class ChangeResult:
    """What a change did. ``credentials`` holds a password for add and reset only."""

    change: Change
    target: str
    before: SmtpUser | None = None
    credentials: Credentials | None = None
