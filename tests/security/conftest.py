"""The security suite's harness: a running workspace and a record of everything it says.

Every test talks to the real app over HTTP with signed requests. ``Witness`` keeps each
HTTP answer the app gave, each response_url post Slack's stand-in refused, and offers the
views the assertions need: all text the app sent anywhere, and the database file's bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from sarvbot.core import ApprovalRequest, AuditEntry
from sarvbot.sandbox import RecordedCall
from sarvbot.slack import blocks
from sarvbot.standin import (
    ApiCall,
    FakeSlackApi,
    ResponsePost,
    SlackAppClient,
    SlackUser,
    block_actions_body,
    view_submission_body,
)
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, DEV, LocalWorkspace
from sarvbot.store import ApprovalStore, AuditLog
from tests.support import cards_in

# Loggers that belong to the app and the libraries it drives (not to the stand-ins).
APP_LOGGERS = ("sarvbot", "slack_bolt", "slack_sdk", "urllib3", "requests", "sqlalchemy")
CHANGE_PATHS = ("settings/addSmtp", "settings/editSmtp", "settings/resetSmtpPassword")
DAVE = "U0DAVE"  # a full member of the workspace who is in no channel of the policy


class RecordingClient(SlackAppClient):
    """A SlackAppClient that keeps every HTTP response the app gave."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.responses: list[requests.Response] = []

    def post(
        self, body: str, *, timestamp: int | None = None, content_type: str | None = None
    ) -> requests.Response:
        response = super().post(body, timestamp=timestamp, content_type=content_type)
        self.responses.append(response)
        return response


@dataclass
class RejectedPost:
    """A response_url post the stand-in refused (over Block Kit limits, expired, ...)."""

    status: int
    error: str
    body: dict[str, Any]


@dataclass
class Witness:
    """The workspace under test, a signed client, and what they recorded."""

    workspace: LocalWorkspace
    slack: RecordingClient
    database_file: Path
    rejected_posts: list[RejectedPost] = field(default_factory=list)

    @property
    def fake(self) -> FakeSlackApi:
        return self.workspace.slack

    def command(self, text: str, *, user_id: str, channel_id: str) -> requests.Response:
        """Run ``/smtp text`` and wait for all the work it started."""
        response = self.slack.command("/smtp", text, user_id=user_id, channel_id=channel_id)
        self.workspace.drain()
        return response

    def approval_message(self, request_id: int | None = None) -> dict[str, Any]:
        """The approvals channel's message of a request (the newest one by default)."""
        posted = [c for c in cards_in(self.fake, APPROVALS) if c.ok]
        assert posted, "no request was posted to the approvals channel"
        if request_id is not None:
            posted = [c for c in posted if f"Request #{request_id}:" in str(c.args.get("text"))]
            assert posted, f"request #{request_id} was never posted"
        ts = str(posted[-1].response["ts"])
        return self.fake.messages[(APPROVALS, ts)]

    def click(
        self,
        action_id: str,
        *,
        user_id: str,
        message: dict[str, Any] | None = None,
        channel_id: str = APPROVALS,
    ) -> requests.Response:
        """Click a button of a message (the newest request's by default) and wait."""
        source = message if message is not None else self.approval_message()
        response = self.slack.click(
            action_id, user_id=user_id, message=source, channel_id=channel_id
        )
        self.workspace.drain()
        return response

    def approve(self, *, user_id: str = BOB, channel_id: str = APPROVALS) -> requests.Response:
        return self.click(blocks.ACTION_APPROVE, user_id=user_id, channel_id=channel_id)

    def request(self, text: str, *, user_id: str = ALICE, channel_id: str = DEV) -> ApprovalRequest:
        """Ask for a change where it must be approved; returns the stored request."""
        self.command(text, user_id=user_id, channel_id=channel_id)
        pending = ApprovalStore(self.workspace.database).pending()
        assert pending, f"no request was made by {text!r}: {self.replies()}"
        return pending[-1]

    def state_of(self, request_id: int) -> str:
        request = ApprovalStore(self.workspace.database).get(request_id)
        assert request is not None
        return request.state.value

    # What was said

    def calls(self) -> list[ApiCall]:
        return self.fake.calls

    def posts(self) -> list[ResponsePost]:
        return self.fake.posts

    def replies(self) -> list[str]:
        """The text and blocks of every response_url post, as strings, oldest first."""
        return [str(p.body.get("text", "")) + str(p.body.get("blocks", "")) for p in self.posts()]

    def said_to(self, user_id: str) -> list[str]:
        """Everything shown to one user: replies, ephemerals to them, posts in their DM."""
        texts = self.replies()
        for call in self.calls():
            if call.method not in ("chat.postEphemeral", "chat.postMessage") or not call.ok:
                continue
            to = (
                call.args.get("user")
                if call.method == "chat.postEphemeral"
                else call.args.get("channel")
            )
            if to in (user_id, self.fake.im_channel_id(user_id)):
                texts.append(str(call.args.get("text", "")) + str(call.args.get("blocks", "")))
        return texts

    def http_bodies(self) -> list[str]:
        return [r.text for r in self.slack.responses]

    def database_bytes(self) -> bytes:
        """The SQLite file and its write-ahead log, as stored on disk."""
        data = b""
        for suffix in ("", "-wal", "-journal"):
            path = self.database_file.with_name(self.database_file.name + suffix)
            if path.exists():
                data += path.read_bytes()
        return data

    def audit(self, limit: int = 20) -> list[AuditEntry]:
        return AuditLog(self.workspace.database).latest(limit=limit)

    def sarv_changes(self) -> list[RecordedCall]:
        return [c for c in self.workspace.sandbox.calls if c.path in CHANGE_PATHS]

    def over_limit_failures(self) -> list[str]:
        """Every message Slack's stand-in refused for its size or shape."""
        errors = ("invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text")
        found = [f"{c.method}: {c.error}" for c in self.calls() if c.error in errors]
        found += [f"response_url {p.status}: {p.error}" for p in self.rejected_posts]
        return found


def record_rejected_posts(fake: FakeSlackApi, into: list[RejectedPost]) -> None:
    """Keep the response_url posts the stand-in refuses; it records only accepted ones."""
    accept = fake._handle_response_post

    def recording(key: str, body: dict[str, Any]) -> tuple[int, str]:
        status, text = accept(key, body)
        if status != 200:
            into.append(RejectedPost(status, text, body))
        return status, text

    fake._handle_response_post = recording  # type: ignore[method-assign]


@contextmanager
def running_witness(folder: Path) -> Iterator[Witness]:
    """A fresh workspace, its database in ``folder``, and its witness; stopped at the end."""
    database_file = folder / "sarvbot.db"
    with LocalWorkspace(f"sqlite:///{database_file}") as workspace:
        workspace.slack.add_user(SlackUser(DAVE, "dave"))
        slack = RecordingClient(workspace.app_url, workspace.signing_secret, slack=workspace.slack)
        witness = Witness(workspace, slack, database_file)
        record_rejected_posts(workspace.slack, witness.rejected_posts)
        try:
            yield witness
        finally:
            slack.close()


def capture_app_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Have ``caplog`` keep everything the app and its libraries log, down to DEBUG."""
    caplog.set_level(logging.DEBUG)
    for name in APP_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)


@pytest.fixture
def witness(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Witness]:
    """A fresh workspace with everything the app logs captured at DEBUG."""
    capture_app_logs(caplog)
    with running_witness(tmp_path) as witness:
        yield witness


def forged_click(
    witness: Witness,
    action_id: str,
    value: str,
    *,
    user_id: str,
    channel_id: str,
    in_message: bool = True,
) -> str:
    """A click on a button carrying ``value`` that the app never sent, as a forger makes it.

    In a message by default; otherwise with neither message nor channel nor response_url,
    as a click in a modal comes.
    """
    return block_actions_body(
        user_id=user_id,
        user_name="forger",
        team_id="T0SARV",
        channel_id=channel_id if in_message else None,
        message={"ts": "1.000100", "blocks": []} if in_message else None,
        container={"type": "message", "message_ts": "1.000100", "channel_id": channel_id},
        actions=[{"action_id": action_id, "block_id": "b", "value": value}],
        response_url=witness.fake.new_response_url() if in_message else None,
        trigger_id=witness.fake.new_trigger_id(user_id or "U0NOBODY"),
    )


def forged_submission(
    witness: Witness, callback_id: str, meta: str, state: dict[str, Any], *, user_id: str = BOB
) -> str:
    """A submission of a modal the app never opened: its ``private_metadata`` and values."""
    view = {
        "id": "V0FORGED",
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": meta,
        "blocks": [],
        "state": {"values": state},
    }
    return view_submission_body(
        user_id=user_id, team_id="T0SARV", view=view, trigger_id=witness.fake.new_trigger_id(BOB)
    )


def log_text(records: list[logging.LogRecord]) -> str:
    """Every record as formatted, with its raw arguments and any traceback."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(f"{formatter.format(r)} {r.args!r}" for r in records)
