"""The core: policy checks, changes at Sarv, approvals and the audit log, without Slack."""

from .commands import USAGE, Command, CommandError, parse_command
from .failures import describe_change_failure, describe_sarv_error, outcome_unknown
from .ledger import LostWork, WorkLedger
from .model import Actor, Change, ChangeResult, Directory, Refused, UnknownSmtpUser
from .service import Decided, DecisionKind, Executed, SmtpService, utcnow

__all__ = [
    "USAGE",
    "Actor",
    "Change",
    "ChangeResult",
    "Command",
    "CommandError",
    "Decided",
    "DecisionKind",
    "Directory",
    "Executed",
    "LostWork",
    "Refused",
    "SmtpService",
    "UnknownSmtpUser",
    "WorkLedger",
    "describe_change_failure",
    "describe_sarv_error",
    "outcome_unknown",
    "parse_command",
    "utcnow",
]
