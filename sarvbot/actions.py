"""The one table of what ``/smtp`` can do.

Every layer reads it: the parser (what each action takes), the policy (which actions a
channel may allow or request), help and usage texts, announcements, approval cards and
the dispatch in the core and in Slack. Adding an action is one entry here plus its
handler.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum

__all__ = [
    "SPECS",
    "Action",
    "ActionSpec",
    "Detail",
    "Kind",
    "Takes",
    "spec",
]


class Action(StrEnum):
    """Every action, by the word people type after ``/smtp``."""

    HELP = "help"
    WHOAMI = "whoami"
    LIST = "list"
    SHOW = "show"
    ADD = "add"
    EDIT = "edit"
    ENABLE = "enable"
    DISABLE = "disable"
    RESET = "reset"
    REVEAL = "reveal"
    ROTATE = "rotate"
    FREEZE = "freeze"
    LABEL = "label"
    OWNER = "owner"
    NOTE = "note"
    PENDING = "pending"
    REQUESTS = "requests"
    CANCEL = "cancel"
    AUDIT = "audit"


class Kind(Enum):
    """What an action touches, which decides how it is governed and answered."""

    OPEN = "open"  # touches neither Sarv nor a secret: anyone, anywhere
    READ = "read"  # reads Sarv or sarvbot's records
    CREDENTIALS = "credentials"  # shows a current password, by DM
    CHANGE = "change"  # changes Sarv: acknowledged with a receipt, may be requested


class Takes(Enum):
    """What follows the action word."""

    NOTHING = "nothing"
    TEXT = "text"  # free text, e.g. a filter
    OPTIONAL_USER = "optional user"
    USER = "user"  # exactly one SMTP user name
    USER_AND_REASON = "user and reason"
    USER_AND_CHANGES = "user, key=value changes and reason"
    USER_VALUE_AND_REASON = "user, one value and reason"
    USER_AND_TEXT = "user and a text"
    USER_GRACE_AND_REASON = "user, grace=DURATION and reason"
    LIMITS_AND_REASON = "limits and reason, or nothing for a form"
    REQUEST_NUMBER = "request number"


class Detail(Enum):
    """Which of a change's values its announcement and approval card show."""

    NONE = "none"
    LIMITS = "limits"  # the new limits (add)
    OLD_TO_NEW = "old to new"  # each changed value, before and after (edit)
    STATUS_NOW = "status now"  # only the status it has before the change (enable, disable)
    VALUES = "values"  # the catalogue values it sets (label, owner, note)
    REPLACEMENT = "replacement"  # the user that replaces it (rotate)


@dataclass(frozen=True)
class ActionSpec:
    """One action: how it is typed, governed, described and what it yields."""

    action: Action
    usage: str
    kind: Kind
    takes: Takes
    # The policy entry that governs it; actions riding on another (requests on list) name it.
    governed_by: Action | None = None
    requestable: bool = False
    # Past tense for the channel's announcement ("@bob reset the password of `smtp1`").
    verb: str = ""
    # How an approval card names the request ("reset the password of `smtp1`").
    request_verb: str = ""
    detail: Detail = Detail.NONE
    # The title of the DM that carries the password, for actions that yield one.
    delivery_title: str | None = None
    # With nothing after the action, a modal asks for the values.
    has_form: bool = False
    # It may be given a duration (``for 4h``), after which sarvbot puts the values back.
    time_bound: bool = False
    # The status it sets at Sarv (enable, disable).
    sets_status: str | None = None
    example: str | None = None

    @property
    def yields_password(self) -> bool:
        """True when the action hands a password to the person who ran it."""
        return self.delivery_title is not None

    @property
    def changes_sarv(self) -> bool:
        """True for changes at Sarv (each gets a receipt when it is acknowledged)."""
        return self.kind is Kind.CHANGE

    @property
    def repeatable(self) -> bool:
        """True when running the change twice does no harm (not so when it makes a password)."""
        return not self.yields_password

    @property
    def in_policy(self) -> bool:
        """True when a channel's ``allow`` list may name it."""
        return self.kind is not Kind.OPEN and self.governed_by in (None, self.action)


SPECS: dict[Action, ActionSpec] = {
    s.action: s
    for s in (
        ActionSpec(Action.HELP, "/smtp help", Kind.OPEN, Takes.NOTHING),
        ActionSpec(Action.WHOAMI, "/smtp whoami", Kind.OPEN, Takes.NOTHING),
        ActionSpec(
            Action.LIST,
            "/smtp list [TEXT]",
            Kind.READ,
            Takes.TEXT,
            example="/smtp list billing",
        ),
        ActionSpec(Action.SHOW, "/smtp show USER", Kind.READ, Takes.USER),
        ActionSpec(
            Action.ADD,
            "/smtp add [TOTAL HOURLY [label=LABEL] [owner=@person]] [reason]",
            Kind.CHANGE,
            Takes.LIMITS_AND_REASON,
            requestable=True,
            verb="added",
            request_verb="add an SMTP user",
            detail=Detail.LIMITS,
            delivery_title="New SMTP user",
            has_form=True,
        ),
        ActionSpec(
            Action.EDIT,
            "/smtp edit USER [total=N] [hourly=N] [status=Enable|Disable] [for 4h] [reason]",
            Kind.CHANGE,
            Takes.USER_AND_CHANGES,
            requestable=True,
            verb="edited",
            request_verb="edit",
            detail=Detail.OLD_TO_NEW,
            has_form=True,
            time_bound=True,
            example="/smtp edit smtp12345 hourly=200 more mail for billing",
        ),
        ActionSpec(
            Action.ENABLE,
            "/smtp enable USER [for 4h] [reason]",
            Kind.CHANGE,
            Takes.USER_AND_REASON,
            requestable=True,
            verb="enabled",
            request_verb="enable",
            detail=Detail.STATUS_NOW,
            time_bound=True,
            sets_status="Enable",
        ),
        ActionSpec(
            Action.DISABLE,
            "/smtp disable USER [for 30m] [reason]",
            Kind.CHANGE,
            Takes.USER_AND_REASON,
            requestable=True,
            verb="disabled",
            request_verb="disable",
            detail=Detail.STATUS_NOW,
            time_bound=True,
            sets_status="Disable",
        ),
        ActionSpec(
            Action.RESET,
            "/smtp reset USER [reason]",
            Kind.CHANGE,
            Takes.USER_AND_REASON,
            requestable=True,
            verb="reset the password of",
            request_verb="reset the password of",
            delivery_title="New SMTP password",
            example="/smtp reset smtp12345 key leaked in CI",
        ),
        ActionSpec(
            Action.REVEAL,
            "/smtp reveal USER",
            Kind.CREDENTIALS,
            Takes.USER,
            delivery_title="Current SMTP password",
        ),
        ActionSpec(
            Action.ROTATE,
            "/smtp rotate USER [grace=24h] [reason]",
            Kind.CHANGE,
            Takes.USER_GRACE_AND_REASON,
            requestable=True,
            verb="rotated",
            request_verb="rotate",
            detail=Detail.REPLACEMENT,
            delivery_title="New SMTP user, replacing the old one",
            example="/smtp rotate billing-api grace=48h yearly rotation",
        ),
        # Break-glass: disabling is the safe direction, so it is meant to be allowed widely
        # (where other changes are only requested); never requested, always run at once.
        ActionSpec(
            Action.FREEZE,
            "/smtp freeze USER reason",
            Kind.CHANGE,
            Takes.USER_AND_REASON,
            verb="froze",
            request_verb="freeze",
            sets_status="Disable",
            example="/smtp freeze smtp12345 password pasted in #general",
        ),
        ActionSpec(
            Action.LABEL,
            "/smtp label USER LABEL [reason]",
            Kind.CHANGE,
            Takes.USER_VALUE_AND_REASON,
            requestable=True,
            verb="labelled",
            request_verb="label",
            detail=Detail.VALUES,
            example="/smtp label smtp12345 billing-api",
        ),
        ActionSpec(
            Action.OWNER,
            "/smtp owner USER @person [reason]",
            Kind.CHANGE,
            Takes.USER_VALUE_AND_REASON,
            requestable=True,
            verb="set the owner of",
            request_verb="set the owner of",
            detail=Detail.VALUES,
        ),
        ActionSpec(
            Action.NOTE,
            "/smtp note USER TEXT",
            Kind.CHANGE,
            Takes.USER_AND_TEXT,
            requestable=True,
            verb="changed the note on",
            request_verb="change the note on",
            detail=Detail.VALUES,
        ),
        # Listing requests and time-bound changes, cancelling one's own and reading the
        # audit log ride on list.
        ActionSpec(
            Action.PENDING, "/smtp pending", Kind.READ, Takes.NOTHING, governed_by=Action.LIST
        ),
        ActionSpec(
            Action.REQUESTS, "/smtp requests", Kind.READ, Takes.NOTHING, governed_by=Action.LIST
        ),
        ActionSpec(
            Action.CANCEL,
            "/smtp cancel N",
            Kind.READ,
            Takes.REQUEST_NUMBER,
            governed_by=Action.LIST,
        ),
        ActionSpec(
            Action.AUDIT,
            "/smtp audit [USER]",
            Kind.READ,
            Takes.OPTIONAL_USER,
            governed_by=Action.LIST,
        ),
    )
}


def spec(action: Action | str) -> ActionSpec:
    """The spec of ``action``; ValueError for a word that names no action."""
    return SPECS[Action(action)]
