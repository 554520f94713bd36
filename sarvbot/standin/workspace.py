"""A whole sarvbot on loopback: the real app, the Sarv sandbox, a stand-in Slack.

Used by the end-to-end tests, the demo and the benchmarks.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from sarvbot.config import load_settings
from sarvbot.policy import Policy, parse_policy
from sarvbot.runtime import create_app
from sarvbot.sandbox import Sandbox
from sarvbot.sarv import SarvClient
from sarvbot.slack import SlackApp
from sarvbot.standin.signed_requests import SlackAppClient
from sarvbot.standin.slack_methods import SlackChannel, SlackUser
from sarvbot.standin.slack_server import DEFAULT_BACKLOG, FakeSlackApi
from sarvbot.standin.socket_mode import FakeSocketMode
from sarvbot.store import Database
from sarvbot.web import EVENTS_PATH, make_wsgi_app

__all__ = [
    "ALICE",
    "APPROVALS",
    "BOB",
    "CAROL",
    "DEMO_POLICY",
    "DEV",
    "GUEST",
    "OPS",
    "LocalWorkspace",
    "demo_people",
]

logger = logging.getLogger("sarvbot.standin")

OPS, DEV, APPROVALS = "C0OPS", "C0DEV", "C0APPROVALS"
ALICE, BOB, CAROL, GUEST = "U0ALICE", "U0BOB", "U0CAROL", "U0GUEST"

DEMO_POLICY = f"""
[approvals]
channel = "{APPROVALS}"
expire_after_hours = 24

[channels.{OPS}]
allow = [
    "list", "show", "add", "edit", "enable", "disable", "reset", "reveal", "rotate", "freeze",
    "label", "owner", "note",
]

[channels.{DEV}]
allow = ["list", "show", "freeze"]
request = [
    "add", "edit", "enable", "disable", "reset", "rotate", "label", "owner", "note",
]
"""


def demo_people() -> tuple[list[SlackUser], list[SlackChannel]]:
    """alice the developer, bob and carol in ops, a guest; #ops, #dev and #ops-approvals."""
    users = [
        SlackUser(ALICE, "alice"),
        SlackUser(BOB, "bob"),
        SlackUser(CAROL, "carol"),
        SlackUser(GUEST, "gus", guest=True),
    ]
    channels = [
        SlackChannel(OPS, "ops", {BOB, CAROL}),
        SlackChannel(DEV, "dev", {ALICE, BOB, GUEST}),
        SlackChannel(APPROVALS, "ops-approvals", {BOB, CAROL}),
    ]
    return users, channels


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("app %s", format % args)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128


@dataclass
class LocalWorkspace:
    """Starts and wires everything; ``slack`` records every Web API call."""

    database_url: str
    policy_text: str = DEMO_POLICY
    sandbox_latency: float = 0.0
    workers: int = 16
    users: list[SlackUser] = field(default_factory=list)
    channels: list[SlackChannel] = field(default_factory=list)
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    # Also serve Slack's Socket Mode side, for a ``sarvbot socket`` given ``environ()``.
    socket_mode: bool = False
    # The stand-in Slack's listen backlog; a load test opening many connections wants more.
    slack_backlog: int = DEFAULT_BACKLOG

    def __post_init__(self) -> None:
        if not self.users and not self.channels:
            self.users, self.channels = demo_people()
        self.bot_token = "xoxb-" + secrets.token_hex(8)
        self.signing_secret = secrets.token_hex(16)
        self.sarv_token = secrets.token_hex(12)
        self.policy: Policy = parse_policy(self.policy_text, source="policy")
        self.slack = FakeSlackApi(
            self.bot_token,
            users=self.users,
            channels=self.channels,
            usergroups=self.usergroups,
            backlog=self.slack_backlog,
        )
        self.app_token = "xapp-1-" + self.slack.app_id + "-" + secrets.token_hex(8)
        self.socket = FakeSocketMode(app_id=self.slack.app_id) if self.socket_mode else None
        self.sandbox = Sandbox("owner-1", self.sarv_token, latency=self.sandbox_latency)
        self.database = Database(self.database_url)
        self._server: _ThreadingServer | None = None
        self.app: SlackApp | None = None

    def environ(self) -> dict[str, str]:
        """The environment a separate ``sarvbot serve`` (or ``socket``) process would need."""
        socket_mode = {"SLACK_APP_TOKEN": self.app_token} if self.socket is not None else {}
        return {
            **socket_mode,
            "SLACK_BOT_TOKEN": self.bot_token,
            "SLACK_SIGNING_SECRET": self.signing_secret,
            "SLACK_API_URL": self.slack.api_url,
            "SARV_OWNER_ID": "owner-1",
            "SARV_TOKEN": self.sarv_token,
            "SARV_API_URL": self.sandbox.url,
            "DATABASE_URL": self.database_url,
            "SARVBOT_WORKERS": str(self.workers),
        }

    def start(self) -> LocalWorkspace:
        """Start Slack's stand-in, the sandbox, the database schema and the app."""
        self.slack.start()
        if self.socket is not None:
            self.socket.start()
            self.slack.enable_socket_mode(self.app_token, self.socket.open_connection_url)
        self.sandbox.start()
        self.database.upgrade()
        settings = load_settings(self.environ())
        self.app = create_app(
            settings,
            policy=self.policy,
            database=self.database,
            sarv_client=SarvClient("owner-1", self.sarv_token, base_url=self.sandbox.url),
        )
        self._server = make_server(
            "127.0.0.1",
            0,
            make_wsgi_app(self.app, signing_secret=self.signing_secret),
            server_class=_ThreadingServer,
            handler_class=_QuietHandler,
        )
        threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True, name="sarvbot-app"
        ).start()
        # The app checked its token at start (auth.test); what follows is what tests watch.
        self.slack.clear()
        return self

    @property
    def app_url(self) -> str:
        """Where Slack would send requests."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}{EVENTS_PATH}"

    def client(self) -> SlackAppClient:
        """Sends signed requests to the app, as Slack does."""
        return SlackAppClient(self.app_url, self.signing_secret, slack=self.slack)

    def drain(self) -> None:
        """Wait until every piece of work queued after an ack has finished."""
        assert self.app is not None
        self.app.drain()

    def stop(self) -> None:
        """Stop everything started."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self.app is not None:
            self.app.close()
        self.sandbox.stop()
        if self.socket is not None:
            self.socket.stop()
        self.slack.stop()
        self.database.dispose()

    def __enter__(self) -> LocalWorkspace:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
