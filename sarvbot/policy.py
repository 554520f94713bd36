"""Channel permissions: which actions run, or may be requested, in which channel.

The policy is a TOML file (``SARVBOT_POLICY``)::

    allow_guests = false

    [approvals]
    channel = "C0789APPROVALS"
    expire_after_hours = 24
    approvers = ["U0AAA", "S0OPSGROUP"]
    required = 1
    remind_after = "4h"        # re-announce a waiting request and DM the approvers
    escalate_after = "12h"     # ... and then DM these people too
    escalate_to = ["S0LEADS"]

    [channels.C0123OPS]
    allow = ["list", "show", "add", "edit", "enable", "disable", "reset"]

    [channels.C0456DEV]
    allow = ["list", "show"]
    request = ["add", "edit", "enable", "disable", "reset", "label", "owner", "note"]
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from sarvbot.actions import SPECS, Action, Kind
from sarvbot.durations import seconds_of

__all__ = [
    "GUEST_RULE",
    "POLICY_ACTIONS",
    "REQUESTABLE",
    "ApprovalsPolicy",
    "ChannelRule",
    "Decision",
    "Policy",
    "PolicyError",
    "Verdict",
    "load_policy",
    "parse_policy",
]

# The actions a channel's allow list may name, and those its request list may name.
POLICY_ACTIONS = tuple(a.value for a, s in SPECS.items() if s.in_policy)
REQUESTABLE = tuple(a.value for a, s in SPECS.items() if s.requestable)
GUEST_RULE = "allow_guests is false: guests and external users may run help and whoami"

# Matched whole (fullmatch): "$" alone would let an ID end in a line break.
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")
_APPROVER_ID = re.compile(r"[UWS][A-Z0-9]{2,}")
_APPROVALS_KEYS = (
    "channel",
    "expire_after_hours",
    "approvers",
    "required",
    "remind_after",
    "escalate_after",
    "escalate_to",
)


class PolicyError(Exception):
    """The permissions file is malformed; the message names the file, line and problem."""


class Decision(StrEnum):
    """What a policy says of one action in one place."""

    ALLOW = "allow"
    REQUEST = "request"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Verdict:
    """A decision and the rule that made it (recorded in the audit log)."""

    decision: Decision
    rule: str

    @property
    def allowed(self) -> bool:
        """True when the action may run now."""
        return self.decision is Decision.ALLOW


@dataclass(frozen=True)
class ChannelRule:
    """What one channel may run and request."""

    channel_id: str
    allow: frozenset[str]
    request: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ApprovalsPolicy:
    """Where requests go and who may decide them."""

    channel_id: str
    expire_after_hours: float = 24.0
    approvers: frozenset[str] = frozenset()
    required: int = 1
    # A request still pending after this long is re-announced and DMed to the approvers;
    # after escalate_after it goes to escalate_to as well.
    remind_after_seconds: int | None = None
    escalate_after_seconds: int | None = None
    escalate_to: frozenset[str] = frozenset()

    @property
    def approver_users(self) -> frozenset[str]:
        """Approvers named as users."""
        return frozenset(a for a in self.approvers if not a.startswith("S"))

    @property
    def approver_groups(self) -> frozenset[str]:
        """Approvers named as user groups."""
        return frozenset(a for a in self.approvers if a.startswith("S"))


@dataclass(frozen=True)
class Policy:
    """The whole permissions file."""

    channels: Mapping[str, ChannelRule] = field(default_factory=dict)
    approvals: ApprovalsPolicy | None = None
    allow_guests: bool = False
    source: str = "(built in)"
    # [rotation] max_age_days: owners of users whose password is older are reminded.
    max_password_age_days: int | None = None
    # [freeze] per_hour: freezes one person may make in an hour.
    freezes_per_hour: int = 5
    # [leak_watch]: check messages for current passwords; freeze the users found.
    leak_watch: bool = False
    leak_watch_freezes: bool = False

    def decide(self, channel_id: str, action: str, *, is_guest: bool = False) -> Verdict:
        """May ``action`` run in ``channel_id``, be requested there, or neither?

        ``requests``, ``cancel`` and ``audit`` ride on ``list``; ``requests`` also runs in
        the approvals channel, where ops decide.
        """
        spec = SPECS.get(Action(action)) if action in SPECS else None
        if spec is not None and spec.kind is Kind.OPEN:
            return Verdict(Decision.ALLOW, f"{action} is open to everyone")
        if is_guest and not self.allow_guests:
            return Verdict(Decision.REFUSE, GUEST_RULE)
        if (
            spec is not None
            and spec.action is Action.REQUESTS
            and self.approvals is not None
            and channel_id == self.approvals.channel_id
        ):
            return Verdict(Decision.ALLOW, "approvals.channel")
        # A word that names no action is refused like an action the channel does not allow.
        base = (spec.governed_by or spec.action).value if spec is not None else action
        rule = self.channels.get(channel_id)
        if rule is None:
            return Verdict(Decision.REFUSE, f"channel {channel_id} is not in the policy")
        if base in rule.allow:
            return Verdict(Decision.ALLOW, f"channels.{channel_id}.allow")
        if base in rule.request:
            return Verdict(Decision.REQUEST, f"channels.{channel_id}.request")
        return Verdict(Decision.REFUSE, f"channels.{channel_id} does not allow {base}")

    def allowed_actions(self, channel_id: str, *, is_guest: bool = False) -> list[str]:
        """Every action that runs in ``channel_id``, in the usual order."""
        return [a for a in SPECS if self.decide(channel_id, a, is_guest=is_guest).allowed]

    def requestable_actions(self, channel_id: str, *, is_guest: bool = False) -> list[str]:
        """Every action that may be requested in ``channel_id``."""
        return [
            a
            for a in REQUESTABLE
            if self.decide(channel_id, a, is_guest=is_guest).decision is Decision.REQUEST
        ]


def load_policy(path: str | Path) -> Policy:
    """Read and check the permissions file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{path}: the permissions file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot read the permissions file: {exc}") from None
    return parse_policy(text, source=str(path))


def parse_policy(text: str, *, source: str = "(policy)") -> Policy:
    """Parse and check a permissions file's text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None
    return _Checker(text, source).policy(data)


class _Checker:
    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def fail(self, problem: str, *needles: str) -> PolicyError:
        line = self.line_of(*needles)
        where = f"{self.source}:{line}" if line else self.source
        return PolicyError(f"{where}: {problem}")

    def line_of(self, *needles: str) -> int | None:
        """The first line holding every needle in turn (each after the previous one)."""
        start = 0
        found: int | None = None
        for needle in needles:
            for number in range(start, len(self.lines)):
                if needle in self.lines[number]:
                    found, start = number + 1, number
                    break
            else:
                return found
        return found

    def policy(self, data: Mapping[str, Any]) -> Policy:
        sections = {"channels", "approvals", "allow_guests", "rotation", "freeze", "leak_watch"}
        for key in sorted(set(data) - sections):
            raise self.fail(
                f"unknown setting {key!r} (expected {', '.join(sorted(sections))})", key
            )
        allow_guests = data.get("allow_guests", False)
        if not isinstance(allow_guests, bool):
            raise self.fail("allow_guests must be true or false", "allow_guests")
        channels_data = data.get("channels", {})
        if not isinstance(channels_data, dict):
            raise self.fail("channels must be a table of [channels.CHANNEL_ID]", "channels")
        channels = {cid: self.channel(cid, rule) for cid, rule in channels_data.items()}
        approvals = None
        if "approvals" in data:
            approvals = self.approvals(data["approvals"])
        if approvals is None:
            for rule in channels.values():
                if rule.request:
                    raise self.fail(
                        f"channel {rule.channel_id} has a request list, but there is no "
                        "[approvals] section with the channel where requests go",
                        rule.channel_id,
                        "request",
                    )
        return Policy(
            channels=channels,
            approvals=approvals,
            allow_guests=allow_guests,
            source=self.source,
            max_password_age_days=self.rotation(data.get("rotation", {})),
            freezes_per_hour=self.freeze(data.get("freeze", {})),
            **self.leak_watch(data.get("leak_watch", {})),
        )

    def leak_watch(self, section: object) -> dict[str, bool]:
        if not isinstance(section, dict):
            raise self.fail("[leak_watch] must be a table", "leak_watch")
        values = {"enabled": False, "freeze": False}
        for key, value in section.items():
            if key not in values:
                raise self.fail(
                    f"[leak_watch] has an unknown key {key!r} (expected enabled, freeze)",
                    "[leak_watch]",
                    key,
                )
            if not isinstance(value, bool):
                raise self.fail(f"[leak_watch] {key} must be true or false", "[leak_watch]", key)
            values[key] = value
        return {"leak_watch": values["enabled"], "leak_watch_freezes": values["freeze"]}

    def freeze(self, section: object) -> int:
        if not isinstance(section, dict):
            raise self.fail("[freeze] must be a table", "freeze")
        for key in section:
            if key != "per_hour":
                raise self.fail(
                    f"[freeze] has an unknown key {key!r} (expected per_hour)", "[freeze]", key
                )
        per_hour = section.get("per_hour", 5)
        if isinstance(per_hour, bool) or not isinstance(per_hour, int) or not 1 <= per_hour <= 100:
            raise self.fail(
                "[freeze] per_hour must be a whole number from 1 to 100", "[freeze]", "per_hour"
            )
        return per_hour

    def rotation(self, section: object) -> int | None:
        if not isinstance(section, dict):
            raise self.fail("[rotation] must be a table", "rotation")
        for key in section:
            if key != "max_age_days":
                raise self.fail(
                    f"[rotation] has an unknown key {key!r} (expected max_age_days)",
                    "[rotation]",
                    key,
                )
        days = section.get("max_age_days")
        if days is None:
            return None
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
            raise self.fail(
                "[rotation] max_age_days must be a whole number of days from 1 to 3650",
                "[rotation]",
                "max_age_days",
            )
        return days

    def channel_id(self, value: object, *needles: str) -> str:
        if not isinstance(value, str) or not _CHANNEL_ID.fullmatch(value):
            shown = value if isinstance(value, str) else repr(value)
            hint = (
                "channels are given by ID (like C0123ABCD; run /smtp whoami in the channel to "
                f"see it), not by name: {shown!r}"
            )
            raise self.fail(hint, *needles, str(shown))
        return value

    def channel(self, channel_id: str, rule: object) -> ChannelRule:
        header = f"channels.{channel_id}"
        self.channel_id(channel_id, "channels")
        if not isinstance(rule, dict):
            raise self.fail(f"[{header}] must be a table", header)
        for key in rule:
            if key not in ("allow", "request"):
                raise self.fail(
                    f"[{header}] has an unknown key {key!r} (expected allow, request)", header, key
                )
        allow = self.actions(rule.get("allow", []), header, "allow", POLICY_ACTIONS)
        request = self.actions(rule.get("request", []), header, "request", REQUESTABLE)
        both = allow & request
        if both:
            raise self.fail(
                f"[{header}] lists {', '.join(sorted(both))} under both allow and request",
                header,
                "request",
            )
        return ChannelRule(channel_id, allow, request)

    def actions(
        self, values: object, header: str, key: str, known: Iterable[str]
    ) -> frozenset[str]:
        known = tuple(known)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise self.fail(f"[{header}] {key} must be a list of action names", header, key)
        for value in values:
            if value not in known:
                raise self.fail(
                    f"[{header}] {key} names an unknown action {value!r} "
                    f"(expected one of {', '.join(known)})",
                    header,
                    key,
                    f'"{value}"',
                )
        return frozenset(values)

    def approvals(self, section: object) -> ApprovalsPolicy:
        if not isinstance(section, dict):
            raise self.fail("[approvals] must be a table", "approvals")
        for key in section:
            if key not in _APPROVALS_KEYS:
                raise self.fail(
                    f"[approvals] has an unknown key {key!r} "
                    f"(expected {', '.join(_APPROVALS_KEYS)})",
                    "[approvals]",
                    key,
                )
        if "channel" not in section:
            raise self.fail("[approvals] needs the channel where requests go", "[approvals]")
        channel_id = self.channel_id(section["channel"], "[approvals]", "channel")
        hours = section.get("expire_after_hours", 24)
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 8760:
            raise self.fail(
                "[approvals] expire_after_hours must be a number of hours between 0 and 8760",
                "[approvals]",
                "expire_after_hours",
            )
        approvers = self.people(section, "approvers")
        required = section.get("required", 1)
        if isinstance(required, bool) or not isinstance(required, int) or not 1 <= required <= 10:
            raise self.fail(
                "[approvals] required must be a whole number from 1 to 10",
                "[approvals]",
                "required",
            )
        remind = self.waiting_time(section, "remind_after", hours)
        escalate = self.waiting_time(section, "escalate_after", hours)
        escalate_to = self.people(section, "escalate_to")
        if (escalate is None) != (not escalate_to):
            raise self.fail(
                "[approvals] escalate_after and escalate_to go together: "
                "when to escalate, and to whom",
                "[approvals]",
                "escalate_after" if escalate is not None else "escalate_to",
            )
        if remind is not None and escalate is not None and escalate <= remind:
            raise self.fail(
                "[approvals] escalate_after must be later than remind_after",
                "[approvals]",
                "escalate_after",
            )
        return ApprovalsPolicy(
            channel_id=channel_id,
            expire_after_hours=float(hours),
            approvers=approvers,
            required=required,
            remind_after_seconds=remind,
            escalate_after_seconds=escalate,
            escalate_to=escalate_to,
        )

    def people(self, section: Mapping[str, Any], key: str) -> frozenset[str]:
        """A list of user IDs (U..., W...) and user group IDs (S...)."""
        people = section.get(key, [])
        if not isinstance(people, list):
            raise self.fail(f"[approvals] {key} must be a list", "[approvals]", key)
        for person in people:
            if not isinstance(person, str) or not _APPROVER_ID.fullmatch(person):
                raise self.fail(
                    f"[approvals] {key} are user IDs (U...) or user group IDs (S...), "
                    f"not {person!r}",
                    "[approvals]",
                    key,
                )
        return frozenset(people)

    def waiting_time(self, section: Mapping[str, Any], key: str, expiry_hours: float) -> int | None:
        """``remind_after`` or ``escalate_after``: a duration shorter than the expiry."""
        if key not in section:
            return None
        value = section[key]
        seconds = seconds_of(value) if isinstance(value, str) else None
        if seconds is None or seconds < 60:
            raise self.fail(
                f'[approvals] {key} must be a duration such as "30m", "4h" or "1d", not {value!r}',
                "[approvals]",
                key,
            )
        if seconds >= expiry_hours * 3600:
            raise self.fail(
                f"[approvals] {key} must be shorter than expire_after_hours "
                f"({expiry_hours:g} hours): requests expire before then",
                "[approvals]",
                key,
            )
        return seconds
