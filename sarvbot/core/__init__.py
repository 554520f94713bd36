"""The core: permissions, chores at Sarv, approvals, the audit trail and the schedule.

It speaks in the product's words and returns data; it never builds Block Kit or calls Slack.
"""

from sarvbot.store.errors import DatabaseUnavailable

from .approvals import ApprovalDesk, Decided, DecisionKind, Executed, utcnow
from .catalogue import Catalogue, CataloguedUser, CatalogueView
from .chores import SmtpChores
from .commands import USAGE, Command, CommandError, parse_command
from .failures import describe_change_failure, describe_sarv_error, outcome_unknown
from .leak_watch import Leak, LeakWatch
from .ledger import LostWork, WorkLedger
from .model import (
    TERMINAL_STATES,
    Actor,
    ApprovalRequest,
    AuditEntry,
    CatalogueEntry,
    Change,
    ChangeResult,
    Directory,
    LabelTaken,
    NotAMember,
    Refused,
    RequestState,
    TooManyFreezes,
    UnknownSmtpUser,
)
from .permissions import Permissions
from .reverts import Reverted, RevertOutcome, Reverts, TimedChange
from .rotations import Rotation, Rotations
from .schedule import JOB_KINDS, JobKind, Ran, Scheduler
from .trail import AuditTrail
from .units import Core, build_core

__all__ = [
    "JOB_KINDS",
    "TERMINAL_STATES",
    "USAGE",
    "Actor",
    "ApprovalDesk",
    "ApprovalRequest",
    "AuditEntry",
    "AuditTrail",
    "Catalogue",
    "CatalogueEntry",
    "CatalogueView",
    "CataloguedUser",
    "Change",
    "ChangeResult",
    "Command",
    "CommandError",
    "Core",
    "DatabaseUnavailable",
    "Decided",
    "DecisionKind",
    "Directory",
    "Executed",
    "JobKind",
    "LabelTaken",
    "Leak",
    "LeakWatch",
    "LostWork",
    "NotAMember",
    "Permissions",
    "Ran",
    "Refused",
    "RequestState",
    "RevertOutcome",
    "Reverted",
    "Reverts",
    "Rotation",
    "Rotations",
    "Scheduler",
    "SmtpChores",
    "TimedChange",
    "TooManyFreezes",
    "UnknownSmtpUser",
    "WorkLedger",
    "build_core",
    "describe_change_failure",
    "describe_sarv_error",
    "outcome_unknown",
    "parse_command",
    "utcnow",
]
