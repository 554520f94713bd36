"""The core: policy, changes at Sarv, approvals, the audit log and the schedule, no Slack."""

from .commands import USAGE, Command, CommandError, parse_command
from .failures import describe_change_failure, describe_sarv_error, outcome_unknown
from .ledger import LostWork, WorkLedger
from .model import Actor, Change, ChangeResult, Directory, Refused, UnknownSmtpUser
from .schedule import JOB_KINDS, JobKind, Ran, Scheduler
from .service import Decided, DecisionKind, Executed, SmtpService, utcnow

__all__ = [
    "JOB_KINDS",
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
    "JobKind",
    "LostWork",
    "Ran",
    "Refused",
    "Scheduler",
    "SmtpService",
    "UnknownSmtpUser",
    "WorkLedger",
    "describe_change_failure",
    "describe_sarv_error",
    "outcome_unknown",
    "parse_command",
    "utcnow",
]
