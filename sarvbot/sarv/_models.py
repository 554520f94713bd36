"""Typed results of the Sarv calls."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Credentials", "Secret", "SmtpUser", "UserStatus"]


class Secret:
    """A password that does not show itself.

    ``str()`` and ``repr()`` give a mask; the value is read explicitly with :meth:`reveal`.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value. Call it only where the value is delivered."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"

    def __format__(self, format_spec: str) -> str:
        return "********"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not to be pickled")


class UserStatus(StrEnum):
    """Whether an SMTP user may send."""

    ENABLE = "Enable"
    DISABLE = "Disable"


@dataclass(frozen=True, slots=True)
class SmtpUser:
    """One SMTP user as Sarv lists it."""

    name: str
    status: UserStatus
    total_limit: int
    hourly_limit: int
    password: Secret | None = None

    @property
    def enabled(self) -> bool:
        """True when the user may send."""
        return self.status is UserStatus.ENABLE


@dataclass(frozen=True, slots=True)
class Credentials:
    """The name and password Sarv returned for a new user or a reset."""

    name: str
    password: Secret
    message: str = ""
