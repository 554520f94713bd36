"""Helpers shared by the tests: sarvbot processes, servers, racing threads, signed bodies."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import requests

from sarvbot.core import RequestState
from sarvbot.standin import ApiCall, FakeSlackApi, SlackAppClient, slash_command_body
from sarvbot.standin.workspace import BOB, DEMO_POLICY, OPS, LocalWorkspace
from sarvbot.store import ApprovalStore, Database

T = TypeVar("T")

# Settings the app would pick up from the environment (the test process's own ones too).
SETTING_PREFIXES = (
    "SLACK_",
    "SARV",
    "DATABASE_",
    "PORT",
    "WEB_CONCURRENCY",
    "LOG_",
    "PROMETHEUS_",
)
# A complete configuration, every value made up: enough for ``serve`` to read it.
GOOD_ENV = {
    "SLACK_BOT_TOKEN": "xoxb-1-2-3",
    "SLACK_SIGNING_SECRET": "secret",
    "SARV_OWNER_ID": "owner",
    "SARV_TOKEN": "sarv-token",
    "SARV_APP_DOMAIN": "mail.example.com",
}
SARVBOT = ("-m", "sarvbot.cli")


# Waiting


def wait_until(
    condition: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05
) -> bool:
    """Poll ``condition`` until it holds; False if it did not within ``timeout`` seconds.

    Only for what another process (or a database) changes: there is nothing to wait on.
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() >= deadline:
            return False
        pause.wait(interval)
    return True


# Processes


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environ(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any setting of sarvbot's, then ``env``."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}
    return {**kept, **(env or {})}


def write_policy(folder: Path, text: str = DEMO_POLICY) -> Path:
    """``folder/sarvbot.toml`` holding ``text`` (the demo policy by default)."""
    policy = folder / "sarvbot.toml"
    policy.write_text(text, encoding="utf-8")
    return policy


def app_env(workspace: LocalWorkspace, folder: Path, **extra: str) -> dict[str, str]:
    """The settings of a sarvbot process for ``workspace``, with the demo policy in ``folder``."""
    policy = write_policy(folder)
    return {**workspace.environ(), "SARVBOT_POLICY": str(policy), **extra}


def run_sarvbot(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    cwd: Path | None = None,
    python: Sequence[str] = SARVBOT,
    timeout: float = 60,
    check: bool = False,
    input: str | None = None,
    stdin: IO[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``sarvbot ARGS`` (``python PYTHON ARGS``) in a fresh interpreter set up by ``env`` alone."""
    return subprocess.run(
        [sys.executable, *python, *args],
        env=clean_environ(env),
        cwd=cwd,
        input=input,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def stop(*processes: subprocess.Popen[str], timeout: float = 60) -> None:
    """SIGTERM every process still running, then wait for each; SIGKILL one that hangs on."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_healthy(process: subprocess.Popen[str], url: str, timeout: float = 30.0) -> None:
    """Wait until ``url`` answers 200, failing with the process's output if it exits."""
    session = requests.Session()

    def answered() -> bool:
        if process.poll() is not None:
            output = process.stderr.read() if process.stderr else ""
            raise AssertionError(f"the server exited: {output}")
        try:
            return session.get(url, timeout=0.5).ok
        except requests.ConnectionError:
            return False  # gunicorn is still starting: it offers nothing to wait on

    try:
        if not wait_until(answered, timeout, interval=0.1):
            raise AssertionError(f"{url} did not answer within {timeout} s")
    finally:
        session.close()


def serve_argv(port: int, *, workers: int = 1, threads: int = 32) -> list[str]:
    """The command line of a ``sarvbot serve`` on 127.0.0.1:``port``, run by this Python."""
    return [
        *(sys.executable, *SARVBOT, "serve", "--host", "127.0.0.1"),
        *("--port", str(port), "--workers", str(workers), "--threads", str(threads)),
    ]


@dataclass
class Served:
    """A running ``sarvbot serve`` and where it listens."""

    process: subprocess.Popen[str]
    base: str  # http://127.0.0.1:PORT

    @property
    def events_url(self) -> str:
        return self.base + "/slack/events"

    def client(self, workspace: LocalWorkspace) -> SlackAppClient:
        """A client signing as ``workspace``'s Slack does, posting to this server."""
        return SlackAppClient(self.events_url, workspace.signing_secret, slack=workspace.slack)


@contextmanager
def serving_many(
    env: Mapping[str, str],
    count: int,
    *,
    workers: int = 1,
    threads: int = 4,
    stderr: int | IO[str] = subprocess.PIPE,
    cwd: Path | None = None,
    start_new_session: bool = False,
) -> Iterator[list[Served]]:
    """``count`` ``sarvbot serve`` processes set up by ``env``, each answering /healthz.

    All are stopped at the end (SIGTERM, then SIGKILL for one that will not stop).
    """
    started: list[Served] = []
    try:
        for _ in range(count):
            port = free_port()
            process = subprocess.Popen(
                serve_argv(port, workers=workers, threads=threads),
                env=clean_environ(env),
                cwd=cwd,
                stderr=stderr,
                text=True,
                start_new_session=start_new_session,
            )
            started.append(Served(process, f"http://127.0.0.1:{port}"))
            wait_healthy(process, f"http://127.0.0.1:{port}/healthz")
        yield started
    finally:
        stop(*(served.process for served in started))


@contextmanager
def serving(env: Mapping[str, str], **options: Any) -> Iterator[Served]:
    """One ``sarvbot serve``, as ``serving_many`` starts them."""
    with serving_many(env, 1, **options) as (served,):
        yield served


# Threads


def race(count: int, run: Callable[[int], T], *, timeout: float = 60.0) -> list[T]:
    """``run(0)`` to ``run(count - 1)``, each on its own thread, all released at once.

    A barrier holds every thread until all have started, so the calls overlap as much as
    they can. Returns the results in index order; an exception in any thread is raised.
    """
    barrier = threading.Barrier(count, timeout=timeout)

    def at_once(index: int) -> T:
        barrier.wait()
        return run(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(at_once, range(count), timeout=timeout))


class LogNotice(logging.Handler):
    """Sets ``seen`` once a record whose message holds ``words`` is logged."""

    def __init__(self, words: str) -> None:
        super().__init__()
        self.words = words
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.words in record.getMessage():
            self.seen.set()


@contextmanager
def noticing(words: str, logger: str = "sarvbot") -> Iterator[threading.Event]:
    """An event set once ``logger`` logs a message holding ``words``, while in the block."""
    notice = LogNotice(words)
    logging.getLogger(logger).addHandler(notice)
    try:
        yield notice.seen
    finally:
        logging.getLogger(logger).removeHandler(notice)


# The workspace and its records


@contextmanager
def own_workspace(
    folder: Path, *, workers: int = 16
) -> Iterator[tuple[LocalWorkspace, SlackAppClient]]:
    """A workspace of its own (not the ``workspace`` fixture's), its SQLite database alone in
    ``folder`` (made if need be, so :func:`lose_database` can take it), and a client.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with LocalWorkspace(f"sqlite:///{folder / 'sarvbot.db'}", workers=workers) as workspace:
        slack = workspace.client()
        try:
            yield workspace, slack
        finally:
            slack.close()


def lose_database(workspace: LocalWorkspace, folder: Path) -> None:
    """Delete the folder of an :func:`own_workspace`'s database: the database is gone."""
    shutil.rmtree(folder)
    workspace.database.dispose()  # pooled connections still hold the deleted file


def join_channel(slack: FakeSlackApi, channel_id: str, user_id: str) -> None:
    """Make ``user_id`` a member of ``channel_id`` in Slack's stand-in."""
    channel = slack.channel(channel_id)
    channel.members.add(user_id)
    slack.add_channel(channel)


def leave_channel(slack: FakeSlackApi, channel_id: str, user_id: str) -> None:
    """Take ``user_id`` out of ``channel_id`` in Slack's stand-in."""
    channel = slack.channel(channel_id)
    channel.members.discard(user_id)
    slack.add_channel(channel)


def request_state(database: Database, request_id: int) -> RequestState:
    """The stored state of approval request ``request_id``, which must exist."""
    request = ApprovalStore(database).get(request_id)
    assert request is not None, f"there is no request #{request_id}"
    return request.state


# Signed requests


class Captured:
    """Keeps the signed posts a client makes (bytes and headers), to send them again."""

    def __init__(self, client: SlackAppClient) -> None:
        self.posts: list[tuple[bytes, dict[str, str]]] = []
        send = client.session.post

        def recording(url: str, *, data: bytes, headers: dict[str, str], **kw: Any) -> Any:
            self.posts.append((data, dict(headers)))
            return send(url, data=data, headers=headers, **kw)

        client.session.post = recording  # type: ignore[method-assign,assignment]

    def last(self) -> tuple[bytes, dict[str, str]]:
        return self.posts[-1]


def smtp_command_body(
    slack: FakeSlackApi, text: str, *, team_id: str = "T0SARV", **fields: str
) -> str:
    """bob's ``/smtp TEXT`` in #ops as Slack sends it, with a response_url from ``slack``."""
    return slash_command_body(
        command="/smtp",
        text=text,
        user_id=BOB,
        user_name="bob",
        channel_id=OPS,
        channel_name="ops",
        team_id=team_id,
        response_url=slack.new_response_url(),
        trigger_id=slack.new_trigger_id(BOB),
        **fields,
    )


def dms_to(workspace: LocalWorkspace, user_id: str) -> list[ApiCall]:
    """The messages the app posted in ``user_id``'s DM with it, in order."""
    return [c for c in workspace.slack.calls_to("chat.postMessage") if c.args["channel"] == user_id]


def kept_message(workspace: LocalWorkspace, call: ApiCall) -> dict[str, Any]:
    """A posted message as the stand-in Slack keeps it (to click its buttons)."""
    return workspace.slack.messages[(str(call.response["channel"]), str(call.response["ts"]))]


def cards_in(fake: FakeSlackApi, channel_id: str) -> list[ApiCall]:
    """The messages the app posted in ``channel_id`` itself (not in a thread), in order."""
    return [
        c
        for c in fake.calls_to("chat.postMessage")
        if c.args["channel"] == channel_id and not c.args.get("thread_ts")
    ]


def thread_replies(fake: FakeSlackApi, channel_id: str, ts: str) -> list[str]:
    """The texts the app posted in the thread under message ``ts``, in order."""
    return [
        str(c.args.get("text"))
        for c in fake.calls_to("chat.postMessage")
        if c.ok and c.args["channel"] == channel_id and c.args.get("thread_ts") == ts
    ]


def told(fake: FakeSlackApi, user_id: str) -> list[str]:
    """What the app told ``user_id`` (DMs, and ephemerals anywhere) that Slack took, in order."""
    return [
        str(c.args.get("text"))
        for c in fake.calls
        if c.ok
        and (
            (c.method == "chat.postMessage" and c.args.get("channel") == user_id)
            or (c.method == "chat.postEphemeral" and c.args.get("user") == user_id)
        )
    ]
