"""A payload routed to the Retry listener is a retry, whatever the shape of its actions.

Bolt routes ``app.action("retry_request")`` on block_actions by action_id, but also on an
interactive_message (legacy attachments) by callback_id; then the action Bolt hands the
listener carries no action_id. A retry of a pending request is refused: only failed
requests are retried, and a retry must never count as an approval.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from sarvbot.core import RequestState
from sarvbot.slack import blocks
from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, DEV, LocalWorkspace
from sarvbot.store import ApprovalStore

RESET = "settings/resetSmtpPassword"


def test_a_retry_routed_by_callback_id_does_not_approve_a_pending_request(
    workspace: LocalWorkspace, slack: SlackAppClient
) -> None:
    workspace.sandbox.add_user(name="smtp20901")
    slack.command("/smtp", "reset smtp20901 key leaked", user_id=ALICE, channel_id=DEV)
    workspace.drain()
    payload = {
        "type": "interactive_message",
        "callback_id": blocks.ACTION_RETRY,
        "actions": [{"name": "retry", "type": "button", "value": "1"}],
        "team": {"id": slack.team_id, "domain": "sarv"},
        "user": {"id": BOB, "name": "bob"},
        "channel": {"id": APPROVALS, "name": "approvals"},
        "action_ts": "1700000001.000001",
        "message_ts": "1700000000.000001",
        "attachment_id": "1",
        "api_app_id": workspace.slack.app_id,
        "response_url": workspace.slack.new_response_url(channel_id=APPROVALS),
        "trigger_id": workspace.slack.new_trigger_id(BOB),
    }
    response = slack.post(urlencode({"payload": json.dumps(payload)}))
    assert response.status_code == 200
    workspace.drain()

    request = ApprovalStore(workspace.database).get(1)
    assert request is not None
    assert request.state is RequestState.PENDING
    assert workspace.sandbox.calls_to(RESET) == []
