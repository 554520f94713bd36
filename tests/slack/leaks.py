"""What the leak-watch tests share: a watched user, message events, the alerts ops got."""

from __future__ import annotations

import itertools
from typing import Any

from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import ALICE, APPROVALS, DEMO_POLICY, DEV, LocalWorkspace

LEAKED = "smtp98001"
WATCHING = DEMO_POLICY + "\n[leak_watch]\nenabled = true\nfreeze = true\n"
_serial = itertools.count(1)


def password_of(workspace: LocalWorkspace, name: str = LEAKED) -> str:
    return workspace.sandbox.users[name].password


def message_event(text: str, **extra: Any) -> dict[str, Any]:
    """alice's message in #dev, each with a timestamp of its own unless given one."""
    event = {"type": "message", "channel": DEV, "channel_type": "channel", "user": ALICE}
    event.update({"text": text, "ts": f"1700000000.{next(_serial):06d}", **extra})
    return event


def post_message(slack: SlackAppClient, workspace: LocalWorkspace, text: str, **extra: Any) -> None:
    """Deliver the message event and wait for its check."""
    assert slack.event(message_event(text, **extra)).ok
    workspace.drain()


def approvals_alerts(workspace: LocalWorkspace) -> list[str]:
    """What the approvals channel was told (posts Slack took)."""
    return [
        str(c.args.get("text"))
        for c in workspace.slack.calls_to("chat.postMessage")
        if c.args["channel"] == APPROVALS and not c.response.get("error")
    ]
