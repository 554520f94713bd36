"""Parsing the text after ``/smtp`` into a command, with a usage line for each mistake."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sarvbot.actions import SPECS, Action, Takes
from sarvbot.durations import seconds_of
from sarvbot.sarv import MAX_LIMIT, MAX_NAME_LENGTH, UserStatus

from .model import Change

__all__ = [
    "LABEL_PATTERN",
    "MAX_REQUEST_ID",
    "USAGE",
    "Command",
    "CommandError",
    "parse_command",
    "parse_duration",
    "parse_label",
    "parse_person",
    "request_number",
    "whole_number",
]

USAGE: dict[str, str] = {a.value: s.usage for a, s in SPECS.items()}

_MAX_TEXT = 2000
# Request numbers are the database's INTEGER primary key, 32 bits on PostgreSQL; a larger
# number names no request and must not reach the database (it overflows the driver).
MAX_REQUEST_ID = 2_147_483_647
_KEYS = {"total": "total_limit", "hourly": "hourly_limit", "status": "status"}
_NAME = re.compile(rf"^[^\s]{{1,{MAX_NAME_LENGTH}}}$")
LABEL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
MAX_NOTE = 500
# A mention as Slack sends it in a command's text (should_escape), or a bare user ID.
_MENTION = re.compile(r"^<@([UW][A-Z0-9]{2,20})(?:\|[^>]*)?>$|^([UW][A-Z0-9]{2,20})$")


class CommandError(Exception):
    """The command text is unknown or malformed; ``usage`` shows the right form."""

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


@dataclass(frozen=True)
class Command:
    """One parsed ``/smtp`` command."""

    action: Action
    user: str | None = None
    text: str = ""
    total_limit: int | None = None
    hourly_limit: int | None = None
    status: UserStatus | None = None
    request_id: int | None = None
    reason: str = ""
    changes: dict[str, object] = field(default_factory=dict)
    label: str | None = None
    owner_id: str | None = None
    note: str | None = None
    for_seconds: int | None = None
    grace_seconds: int | None = None

    @property
    def wants_modal(self) -> bool:
        """An action with a form (add, edit), given no values, opens a modal."""
        return (
            SPECS[self.action].has_form
            and self.total_limit is None
            and self.hourly_limit is None
            and not self.changes
        )

    def change(self) -> Change:
        """The change this command asks for; a freeze keeps its reason as the why."""
        return Change(
            self.action,
            self.user,
            total_limit=self.total_limit,
            hourly_limit=self.hourly_limit,
            status=self.status,
            label=self.label,
            owner_id=self.owner_id,
            note=self.note,
            for_seconds=self.for_seconds,
            grace_seconds=self.grace_seconds,
            why=self.reason if self.action is Action.FREEZE else None,
        )


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


MIN_SECONDS, MAX_SECONDS = 60, 90 * 86400


def parse_duration(word: str) -> int | None:
    """``30m``, ``4h``, ``1d``, ``1w`` or ``2h30m`` in seconds; None if it is not one.

    A duration out of range (under a minute, over 90 days) is a CommandError.
    """
    seconds = seconds_of(word)
    if seconds is None:
        return None
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise CommandError("a duration is from 1 minute (1m) to 90 days (90d)")
    return seconds


def _take_duration(words: list[str], usage: str) -> tuple[int | None, list[str]]:
    """``for DURATION`` at the start of ``words``: its seconds and the words after it.

    ``for`` followed by a word is left as it is (it starts the reason); ``for`` alone, or
    followed by a number that is no duration (``for 2 hours``), is a mistake: the change
    must not silently last for good.
    """
    if not words or words[0].lower() != "for":
        return None, words
    after = words[1] if len(words) > 1 else ""
    try:
        seconds = parse_duration(after)
    except CommandError as exc:
        raise CommandError(exc.message, usage) from None
    if seconds is not None:
        return seconds, words[2:]
    if not after or after[0].isdigit():
        raise CommandError("give the duration as 30m, 4h, 1d or 2h30m", usage)
    return None, words


def parse_label(word: str, usage: str | None = None) -> str:
    """A label: up to 40 letters, digits, dots, dashes or underscores."""
    if not LABEL_PATTERN.match(word):
        raise CommandError(
            "a label is 1 to 40 letters, digits, `.`, `-` or `_`, starting with a letter or "
            f"digit, not `{_shown(word)}`",
            usage,
        )
    return word


def parse_person(word: str, usage: str | None = None) -> str:
    """A Slack user ID from a mention (``<@U123|name>``) or a bare ID."""
    found = _MENTION.match(word)
    if found is None:
        raise CommandError(
            f"name the person with an @-mention (so Slack says who it is), not `{_shown(word)}`",
            usage,
        )
    return found.group(1) or found.group(2)


def _user(words: list[str], action: Action) -> str:
    usage = SPECS[action].usage
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
        return Command(Action.HELP)
    word, rest = words[0].lower(), words[1:]
    if word not in SPECS:
        raise CommandError(f"`{words[0][:40]}` is not a command I know", USAGE["help"])
    action = Action(word)
    return _PARSERS[SPECS[action].takes](action, rest, SPECS[action].usage)


def _nothing(action: Action, rest: list[str], usage: str) -> Command:
    return Command(action)


def _text(action: Action, rest: list[str], usage: str) -> Command:
    return Command(action, text=" ".join(rest)[:MAX_NAME_LENGTH])


def _optional_user(action: Action, rest: list[str], usage: str) -> Command:
    return Command(action, user=_user(rest, action) if rest else None)


def _only_user(action: Action, rest: list[str], usage: str) -> Command:
    user = _user(rest, action)
    if rest[1:]:
        raise CommandError(f"`{action}` takes only the user name", usage)
    return Command(action, user=user)


def _user_and_reason(action: Action, rest: list[str], usage: str) -> Command:
    user = _user(rest, action)
    seconds, rest = (
        _take_duration(rest[1:], usage) if SPECS[action].time_bound else (None, rest[1:])
    )
    return Command(action, user=user, reason=" ".join(rest), for_seconds=seconds)


def _request_number(action: Action, rest: list[str], usage: str) -> Command:
    digits = rest[0].removeprefix("#") if len(rest) == 1 else ""
    if not digits.isascii() or not digits.isdigit():
        raise CommandError(f"`{action}` needs the request number", usage)
    request_id = whole_number(digits, MAX_REQUEST_ID)
    if request_id is None:
        raise CommandError(f"there is no request #{_shown(digits)}", usage)
    return Command(action, request_id=request_id)


def _limits_and_reason(action: Action, rest: list[str], usage: str) -> Command:
    if not rest:
        return Command(action)
    if len(rest) < 2:
        raise CommandError(f"`{action}` needs both limits, or none to open a form", usage)
    extras: dict[str, str] = {}
    index = 2
    while index < len(rest) and "=" in rest[index]:
        key, _, value = rest[index].partition("=")
        key = key.lower()
        if key not in ("label", "owner"):
            raise CommandError(f"`{key[:40]}` is not something `{action}` takes", usage)
        if key in extras:
            raise CommandError(f"`{key}` is given twice", usage)
        extras[key] = value
        index += 1
    return Command(
        action,
        total_limit=_limit(rest[0], "the total limit", usage),
        hourly_limit=_limit(rest[1], "the hourly limit", usage),
        reason=" ".join(rest[index:]),
        label=parse_label(extras["label"], usage) if "label" in extras else None,
        owner_id=parse_person(extras["owner"], usage) if "owner" in extras else None,
    )


def _user_value_and_reason(action: Action, rest: list[str], usage: str) -> Command:
    user = _user(rest, action)
    if len(rest) < 2:
        raise CommandError(f"`{action}` needs the user and the new {action}", usage)
    reason = " ".join(rest[2:])
    if action is Action.OWNER:
        return Command(action, user=user, owner_id=parse_person(rest[1], usage), reason=reason)
    return Command(action, user=user, label=parse_label(rest[1], usage), reason=reason)


def _user_grace_and_reason(action: Action, rest: list[str], usage: str) -> Command:
    user = _user(rest, action)
    rest = rest[1:]
    grace = None
    if rest and rest[0].lower().startswith("grace="):
        word = rest[0].partition("=")[2]
        try:
            grace = parse_duration(word)
        except CommandError as exc:
            raise CommandError(exc.message, usage) from None
        if grace is None:
            raise CommandError(f"grace must be a duration such as 24h, not `{_shown(word)}`", usage)
        rest = rest[1:]
    return Command(action, user=user, reason=" ".join(rest), grace_seconds=grace)


def _user_and_text(action: Action, rest: list[str], usage: str) -> Command:
    user = _user(rest, action)
    text = " ".join(rest[1:])
    if not text:
        raise CommandError(f"`{action}` needs the text after the user", usage)
    if len(text) > MAX_NOTE:
        raise CommandError(f"a {action} is at most {MAX_NOTE} characters", usage)
    # The note explains itself: it is its own reason when it is requested.
    return Command(action, user=user, note=text, reason=text)


def _user_and_changes(action: Action, rest: list[str], usage: str) -> Command:
    user = _user(rest, action)
    rest = rest[1:]
    changes: dict[str, object] = {}
    index = 0
    while index < len(rest) and "=" in rest[index]:
        key, _, value = rest[index].partition("=")
        field_name = _KEYS.get(key.lower())
        if field_name is None:
            raise CommandError(f"`{key[:40]}` is not something `{action}` can change", usage)
        if field_name in changes:
            raise CommandError(f"`{key}` is given twice", usage)
        if field_name == "status":
            if value not in ("Enable", "Disable"):
                raise CommandError("status must be Enable or Disable", usage)
            changes[field_name] = UserStatus(value)
        else:
            changes[field_name] = _limit(value, f"the {key.lower()} limit", usage)
        index += 1
    seconds, after = _take_duration(rest[index:], usage)
    reason = " ".join(after)
    if (reason or seconds) and not changes:
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
        for_seconds=seconds,
    )


_PARSERS: dict[Takes, Callable[[Action, list[str], str], Command]] = {
    Takes.NOTHING: _nothing,
    Takes.TEXT: _text,
    Takes.OPTIONAL_USER: _optional_user,
    Takes.USER: _only_user,
    Takes.USER_AND_REASON: _user_and_reason,
    Takes.REQUEST_NUMBER: _request_number,
    Takes.LIMITS_AND_REASON: _limits_and_reason,
    Takes.USER_AND_CHANGES: _user_and_changes,
    Takes.USER_VALUE_AND_REASON: _user_value_and_reason,
    Takes.USER_AND_TEXT: _user_and_text,
    Takes.USER_GRACE_AND_REASON: _user_grace_and_reason,
}
