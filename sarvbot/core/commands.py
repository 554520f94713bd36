"""Parsing the text after ``/smtp`` into a command, with a usage line for each mistake."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sarvbot.sarv import MAX_LIMIT, MAX_NAME_LENGTH, UserStatus

__all__ = [
    "MAX_REQUEST_ID",
    "USAGE",
    "Command",
    "CommandError",
    "parse_command",
    "request_number",
    "whole_number",
]

USAGE: dict[str, str] = {
    "help": "/smtp help",
    "whoami": "/smtp whoami",
    "list": "/smtp list [TEXT]",
    "show": "/smtp show USER",
    "add": "/smtp add [TOTAL HOURLY] [reason]",
    "edit": "/smtp edit USER [total=N] [hourly=N] [status=Enable|Disable] [reason]",
    "enable": "/smtp enable USER [reason]",
    "disable": "/smtp disable USER [reason]",
    "reset": "/smtp reset USER [reason]",
    "reveal": "/smtp reveal USER",
    "requests": "/smtp requests",
    "cancel": "/smtp cancel N",
    "audit": "/smtp audit [USER]",
}

_MAX_TEXT = 2000
# Request numbers are the database's INTEGER primary key, 32 bits on PostgreSQL; a larger
# number names no request and must not reach the database (it overflows the driver).
MAX_REQUEST_ID = 2_147_483_647
_KEYS = {"total": "total_limit", "hourly": "hourly_limit", "status": "status"}
_NAME = re.compile(rf"^[^\s]{{1,{MAX_NAME_LENGTH}}}$")


class CommandError(Exception):
    """The command text is unknown or malformed; ``usage`` shows the right form."""

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


@dataclass(frozen=True)
class Command:
    """One parsed ``/smtp`` command."""

    action: str
    user: str | None = None
    text: str = ""
    total_limit: int | None = None
    hourly_limit: int | None = None
    status: UserStatus | None = None
    request_id: int | None = None
    reason: str = ""
    changes: dict[str, object] = field(default_factory=dict)

    @property
    def wants_modal(self) -> bool:
        """``add`` and ``edit`` without values open a modal."""
        if self.action == "add":
            return self.total_limit is None
        if self.action == "edit":
            return not self.changes
        return False


def whole_number(text: str, most: int) -> int | None:
    """``text`` as a whole number from 1 to ``most``; None for anything else.

    Only ASCII digits count, and a number too long to be in range is refused before
    ``int()`` sees it (Python refuses to convert more than 4300 digits).
    """
    if not text.isascii() or not text.isdigit():
        return None
    digits = text.lstrip("0")
    if not digits or len(digits) > len(str(most)):
        return None
    value = int(digits)
    return value if value <= most else None


def request_number(value: object) -> int | None:
    """A request number read from JSON we wrote; None unless it is one (never a bool)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_REQUEST_ID:
        return value
    return None


def _shown(word: str) -> str:
    return word if len(word) <= 40 else word[:39] + "…"


def _limit(word: str, what: str, usage: str) -> int:
    value = whole_number(word, MAX_LIMIT)
    if value is not None:
        return value
    if not word.isascii() or not word.isdigit():
        raise CommandError(f"{what} must be a positive whole number, not `{_shown(word)}`", usage)
    raise CommandError(f"{what} must be between 1 and {MAX_LIMIT}", usage)


def _user(words: list[str], action: str) -> str:
    usage = USAGE[action]
    if not words:
        raise CommandError(f"`{action}` needs an SMTP user name", usage)
    name = words[0]
    if not _NAME.match(name) or not name.isprintable():
        raise CommandError("that is not an SMTP user name", usage)
    return name


def parse_command(text: str) -> Command:
    """Parse the text after ``/smtp``. Raises CommandError naming the problem."""
    if len(text) > _MAX_TEXT:
        raise CommandError(f"the command is longer than {_MAX_TEXT} characters")
    words = text.split()
    if not words:
        return Command("help")
    action, rest = words[0].lower(), words[1:]
    if action not in USAGE:
        raise CommandError(f"`{words[0][:40]}` is not a command I know", USAGE["help"])
    usage = USAGE[action]
    if action in ("help", "whoami", "requests"):
        return Command(action)
    if action == "list":
        return Command(action, text=" ".join(rest)[:MAX_NAME_LENGTH])
    if action == "audit":
        return Command(action, user=_user(rest, action) if rest else None)
    if action == "cancel":
        digits = rest[0].removeprefix("#") if len(rest) == 1 else ""
        if not digits.isascii() or not digits.isdigit():
            raise CommandError("`cancel` needs the request number", usage)
        request_id = whole_number(digits, MAX_REQUEST_ID)
        if request_id is None:
            raise CommandError(f"there is no request #{_shown(digits)}", usage)
        return Command(action, request_id=request_id)
    if action == "add":
        if not rest:
            return Command(action)
        if len(rest) < 2:
            raise CommandError("`add` needs both limits, or none to open a form", usage)
        return Command(
            action,
            total_limit=_limit(rest[0], "the total limit", usage),
            hourly_limit=_limit(rest[1], "the hourly limit", usage),
            reason=" ".join(rest[2:]),
        )
    user = _user(rest, action)
    rest = rest[1:]
    if action in ("show", "reveal"):
        if rest:
            raise CommandError(f"`{action}` takes only the user name", usage)
        return Command(action, user=user)
    if action in ("enable", "disable", "reset"):
        return Command(action, user=user, reason=" ".join(rest))
    # edit
    changes: dict[str, object] = {}
    index = 0
    while index < len(rest) and "=" in rest[index]:
        key, _, value = rest[index].partition("=")
        field_name = _KEYS.get(key.lower())
        if field_name is None:
            raise CommandError(f"`{key[:40]}` is not something `edit` can change", usage)
        if field_name in changes:
            raise CommandError(f"`{key}` is given twice", usage)
        if field_name == "status":
            if value not in ("Enable", "Disable"):
                raise CommandError("status must be Enable or Disable", usage)
            changes[field_name] = UserStatus(value)
        else:
            changes[field_name] = _limit(value, f"the {key.lower()} limit", usage)
        index += 1
    reason = " ".join(rest[index:])
    if reason and not changes:
        raise CommandError("give the changes as total=N hourly=N status=Enable|Disable", usage)
    total = changes.get("total_limit")
    hourly = changes.get("hourly_limit")
    status = changes.get("status")
    return Command(
        action,
        user=user,
        total_limit=total if isinstance(total, int) else None,
        hourly_limit=hourly if isinstance(hourly, int) else None,
        status=status if isinstance(status, UserStatus) else None,
        reason=reason,
        changes=changes,
    )
