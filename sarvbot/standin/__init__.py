"""Local stand-ins for Slack's side, for the tests, the demo and the benchmarks.

A fake Web API server (``FakeSlackApi``), Slack's Socket Mode side (``FakeSocketMode``),
signed requests as Slack sends them to an app (``SlackAppClient`` and the body builders),
and ``LocalWorkspace``, which runs the real app against them on loopback.
"""

from .block_kit import check_message_limits
from .signed_requests import (
    SlackAppClient,
    block_actions_body,
    event_callback_body,
    find_action,
    function_executed_event,
    message_shortcut_body,
    sign,
    slash_command_body,
    state_values,
    user_context,
    view_closed_body,
    view_submission_body,
)
from .slack_methods import FunctionExecution, SlackChannel, SlackUser
from .slack_server import ApiCall, FakeSlackApi, Recorded, ResponsePost
from .socket_mode import Ack, Envelope, FakeSocketMode, envelope_from_body
from .workspace import (
    ALICE,
    APPROVALS,
    BOB,
    CAROL,
    DEMO_POLICY,
    DEV,
    GUEST,
    OPS,
    LocalWorkspace,
    demo_people,
)

__all__ = [
    "ALICE",
    "APPROVALS",
    "BOB",
    "CAROL",
    "DEMO_POLICY",
    "DEV",
    "GUEST",
    "OPS",
    "Ack",
    "ApiCall",
    "Envelope",
    "FakeSlackApi",
    "FakeSocketMode",
    "FunctionExecution",
    "LocalWorkspace",
    "Recorded",
    "ResponsePost",
    "SlackAppClient",
    "SlackChannel",
    "SlackUser",
    "block_actions_body",
    "check_message_limits",
    "demo_people",
    "envelope_from_body",
    "event_callback_body",
    "find_action",
    "function_executed_event",
    "message_shortcut_body",
    "sign",
    "slash_command_body",
    "state_values",
    "user_context",
    "view_closed_body",
    "view_submission_body",
]
