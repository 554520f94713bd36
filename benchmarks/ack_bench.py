"""The ack benchmark: how fast ``sarvbot serve`` answers Slack, and whether its work gets done.

Everything runs on loopback. ``sarvbot serve`` runs as deployed (the console script, in
gunicorn, in a subprocess) against the stand-ins, which run in this process: the fake Slack
Web API (``sarvbot.standin.slack_api.FakeSlackApi``) and the Sarv sandbox with 2 s of
latency. 50 clients send signed ``/smtp list``, ``/smtp reset USER`` and Approve clicks
for a fixed time; then the same load goes to a Bolt app that only acks
(``benchmarks/bare_app.py``), served by gunicorn with the same settings. Last, ``/smtp list``
over 10,000 SMTP users measures the time from Sarv's answer to the first page's post.

    python benchmarks/ack_bench.py --duration 20
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sarvbot.sandbox import _Handler as _SandboxHandler
from sarvbot.standin import slack_api
from sarvbot.standin.requests import (
    block_actions_body,
    find_action,
    sign,
    slash_command_body,
)
from sarvbot.standin.slack_api import ApiCall, FakeSlackApi, Recorded, ResponsePost
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, DEMO_POLICY, DEV, OPS, LocalWorkspace

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
EVENTS_PATH = "/slack/events"
TEAM = "T0SARV"
SLACK_TIMEOUT = 3.0
KINDS = ("list", "reset", "approve")

# The fake Slack API listens with socketserver's default backlog of 5. Under this load the
# app opens many connections to it at once, and a full accept queue makes Linux drop SYNs
# (retried after 1 s): that would be the stand-in's limit, not the app's.
slack_api._Server.request_queue_size = 256


# -- measurements ---------------------------------------------------------------------------


@dataclass
class Sample:
    """One request: what it was, when it was sent (monotonic), how it was answered."""

    kind: str
    key: str
    sent: float
    latency: float
    status: int


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Recorder:
    """Watches the fake Slack for the end of each request's work."""

    def __init__(self, slack: FakeSlackApi) -> None:
        self._lock = threading.Lock()
        self.posts: dict[str, tuple[float, dict[str, Any]]] = {}
        self.approved: dict[str, float] = {}
        self.approval_messages: list[tuple[str, float]] = []
        self.busy = 0.0
        self.handled = 0
        self.handle_times: list[float] = []
        slack.subscribe(self._seen)
        self._time_handlers(slack)

    def _seen(self, item: Recorded) -> None:
        with self._lock:
            if isinstance(item, ResponsePost):
                self.posts.setdefault(item.url, (item.at, item.body))
            elif isinstance(item, ApiCall) and item.ok:
                self._seen_call(item)

    def _seen_call(self, call: ApiCall) -> None:
        if call.method == "chat.postMessage" and call.args.get("channel") == APPROVALS:
            self.approval_messages.append((str(call.response["ts"]), call.at))
        elif call.method == "chat.postEphemeral" and call.args.get("user") == ALICE:
            text = str(call.args.get("text", ""))
            if "was approved by" in text and "and done" in text:
                request_id = text.split("#", 1)[1].split(" ", 1)[0]
                self.approved.setdefault(request_id, call.at)

    def _time_handlers(self, slack: FakeSlackApi) -> None:
        """Time each call the fake handles, lock wait included, to see if it keeps up."""
        for name in ("_handle_api", "_handle_response_post"):
            original: Callable[..., Any] = getattr(slack, name)

            def timed(*args: Any, _original: Callable[..., Any] = original) -> Any:
                started = time.perf_counter()
                try:
                    return _original(*args)
                finally:
                    spent = time.perf_counter() - started
                    with self._lock:
                        self.busy += spent
                        self.handled += 1
                        self.handle_times.append(spent)

            setattr(slack, name, timed)

    def fake_load(self) -> tuple[int, float, list[float]]:
        with self._lock:
            return self.handled, self.busy, list(self.handle_times)


class _TimedSandboxHandler(_SandboxHandler):
    """Notes when the sandbox finished writing each listSmtp answer."""

    answers: list[tuple[float, float]]

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        started = time.monotonic()
        # The app may be stopped with calls still waiting on the sandbox's latency.
        with suppress(BrokenPipeError, ConnectionResetError):
            super().do_POST()
        if self.path.endswith("settings/listSmtp"):
            self.answers.append((started, time.monotonic()))


# -- servers --------------------------------------------------------------------------------


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages."""
    with suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A gunicorn master we started, and where it listens."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{EVENTS_PATH}"

    def workers(self) -> list[int]:
        """Pids of the gunicorn workers (children of the master)."""
        pid = self.process.pid
        with suppress(OSError):
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
            return [int(child) for child in text.split()]
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with suppress(OSError, IndexError, ValueError):
                    stat = (entry / "stat").read_text()
                    if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                        children.append(int(entry.name))
        return children

    def peak_rss_mib(self) -> list[float]:
        """VmHWM of each worker, in MiB."""
        peaks = []
        for pid in self.workers():
            with suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]) / 1024)
        return peaks

    def cpu_seconds(self) -> float:
        """User and system CPU time of the workers so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.workers():
            with suppress(OSError, IndexError, ValueError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log}:\n{self.log.read_text()}")
            with suppress(OSError, http.client.HTTPException):
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    connection.close()
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer /healthz within {timeout} s")

    def stop(self) -> None:
        """SIGTERM the master's process group, then SIGKILL it if work keeps it alive."""
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def start_server(name: str, argv: list[str], env: dict[str, str], port: int, log: Path) -> Server:
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(name, process, port, log)
    server.wait_ready()
    return server


# -- load -------------------------------------------------------------------------------


@dataclass
class Workload:
    """Builds signed bodies for each kind; approve clicks use the pending requests given."""

    slack: FakeSlackApi
    smtp_users: list[str]
    approvals: list[dict[str, Any]]
    caps: dict[str, int]
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _issued: dict[str, int] = field(default_factory=dict)

    def take(self, kind: str) -> tuple[str, str] | None:
        """``(body, key)`` for the next request of ``kind``, or None once its cap is reached."""
        with self._lock:
            index = self._issued.get(kind, 0)
            limit = (
                self.caps[kind] if kind != "approve" else min(self.caps[kind], len(self.approvals))
            )
            if index >= limit:
                return None
            self._issued[kind] = index + 1
        if kind == "list":
            return self.command(BOB, OPS, "list")
        if kind == "reset":
            return self.command(BOB, OPS, f"reset {random.choice(self.smtp_users)}")
        return self.approve(self.approvals[index])

    def command(self, user_id: str, channel_id: str, text: str) -> tuple[str, str]:
        response_url = self.slack.new_response_url()
        body = slash_command_body(
            command="/smtp",
            text=text,
            user_id=user_id,
            user_name=self.slack.user(user_id).name,
            channel_id=channel_id,
            channel_name=self.slack.channel(channel_id).name,
            team_id=TEAM,
            response_url=response_url,
            trigger_id=self.slack.new_trigger_id(user_id),
        )
        return body, response_url

    def approve(self, message: dict[str, Any]) -> tuple[str, str]:
        block_id, element = find_action(message["blocks"], "approve_request")
        body = block_actions_body(
            user_id=BOB,
            user_name="bob",
            team_id=TEAM,
            channel_id=APPROVALS,
            channel_name="ops-approvals",
            message=message,
            container={
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": APPROVALS,
                "is_ephemeral": False,
            },
            actions=[
                {
                    "action_id": "approve_request",
                    "block_id": block_id,
                    "value": element["value"],
                    "text": element["text"],
                }
            ],
            response_url=self.slack.new_response_url(
                channel_id=APPROVALS, message_ts=message["ts"]
            ),
            trigger_id=self.slack.new_trigger_id(BOB),
        )
        return body, str(element["value"])


def post_signed(
    connection: http.client.HTTPConnection | None, port: int, secret: str, body: str
) -> tuple[http.client.HTTPConnection | None, int]:
    """POST one signed body on a kept-alive connection; returns it (None if broken), status."""
    if connection is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = sign(secret, body)
    try:
        connection.request("POST", EVENTS_PATH, body=body.encode(), headers=headers)
        response = connection.getresponse()
        response.read()
    except (OSError, http.client.HTTPException):
        connection.close()
        return None, 0
    if response.will_close:
        connection.close()
        return None, response.status
    return connection, response.status


@dataclass
class LoadResult:
    """What one load run produced."""

    samples: list[Sample]
    elapsed: float
    server_cpu: float
    bench_cpu: float


def run_load(
    server: Server, secret: str, workload: Workload, clients: int, duration: float
) -> LoadResult:
    """``clients`` closed-loop clients, each cycling through the kinds, for ``duration``."""
    samples: list[Sample] = []
    samples_lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client(number: int) -> None:
        connection: http.client.HTTPConnection | None = None
        mine: list[Sample] = []
        turn = number
        exhausted: set[str] = set()
        start.wait()
        while time.monotonic() < deadline[0] and len(exhausted) < len(KINDS):
            kind = KINDS[turn % len(KINDS)]
            turn += 1
            if kind in exhausted:
                continue
            taken = workload.take(kind)
            if taken is None:
                exhausted.add(kind)
                continue
            body, key = taken
            sent = time.monotonic()
            began = time.perf_counter()
            connection, status = post_signed(connection, server.port, secret, body)
            mine.append(Sample(kind, key, sent, time.perf_counter() - began, status))
        if connection is not None:
            connection.close()
        with samples_lock:
            samples.extend(mine)

    threads = [
        threading.Thread(target=client, args=(n,), name=f"client-{n}", daemon=True)
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    cpu_before, bench_before = server.cpu_seconds(), time.process_time()
    began = time.monotonic()
    deadline[0] = began + duration
    start.wait()
    for thread in threads:
        thread.join(duration + 30)
    elapsed = time.monotonic() - began
    return LoadResult(
        samples,
        elapsed,
        server.cpu_seconds() - cpu_before,
        time.process_time() - bench_before,
    )


# -- the benchmark ----------------------------------------------------------------------


@dataclass
class Bench:
    """The stand-ins, the temp files and the settings shared by every run."""

    args: argparse.Namespace
    tmp: Path
    workspace: LocalWorkspace
    recorder: Recorder
    answers: list[tuple[float, float]]
    smtp_users: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def say(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SARV"))}
        env.update(self.workspace.environ())
        env["SARVBOT_POLICY"] = str(self.tmp / "policy.toml")
        env.pop("WEB_CONCURRENCY", None)
        return env

    def server_argv(self, port: int) -> list[str]:
        return [
            str(BIN / "sarvbot"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(self.args.workers),
            "--threads",
            str(self.args.threads),
        ]

    @contextmanager
    def sarvbot(self, label: str) -> Iterator[Server]:
        port = free_port()
        server = start_server(
            "sarvbot serve", self.server_argv(port), self.env, port, self.tmp / f"{label}.log"
        )
        try:
            yield server
        finally:
            server.stop()

    @contextmanager
    def bare(self) -> Iterator[Server]:
        port = free_port()
        argv = [
            sys.executable,
            str(HERE / "bare_app.py"),
            "--port",
            str(port),
            "--workers",
            str(self.args.workers),
            "--threads",
            str(self.args.threads),
        ]
        server = start_server("bare Bolt app", argv, self.env, port, self.tmp / "bare.log")
        try:
            yield server
        finally:
            server.stop()

    def send_many(self, server: Server, bodies: list[str], clients: int) -> list[int]:
        """Send bodies from ``clients`` threads; returns the statuses."""
        statuses: list[int] = []
        queue = list(reversed(bodies))
        lock = threading.Lock()
        secret = self.workspace.signing_secret

        def client() -> None:
            connection: http.client.HTTPConnection | None = None
            while True:
                with lock:
                    if not queue:
                        break
                    body = queue.pop()
                connection, status = post_signed(connection, server.port, secret, body)
                with lock:
                    statuses.append(status)
            if connection is not None:
                connection.close()

        threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return statuses

    def wait_posts(self, urls: Sequence[str], timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while True:
            done = sum(1 for url in urls if url in self.recorder.posts)
            if done == len(urls) or time.monotonic() > deadline:
                return done
            time.sleep(0.05)

    def warm_up(self, server: Server, workload: Workload) -> None:
        """Each worker's first request makes it call auth.test and users.info; do it now."""
        pairs = [workload.command(BOB, OPS, "list") for _ in range(4 * self.args.workers)]
        self.send_many(server, [body for body, _ in pairs], 4 * self.args.workers)
        self.wait_posts([url for _, url in pairs], 20)

    def pending_requests(self, server: Server, count: int) -> list[dict[str, Any]]:
        """Create ``count`` pending reset requests (alice, #dev) and return their messages."""
        self.workspace.sandbox.settings.latency = 0.0
        workload = Workload(self.workspace.slack, self.smtp_users, [], {})
        before = len(self.recorder.approval_messages)
        bodies = [
            workload.command(
                ALICE, DEV, f"reset {self.smtp_users[i % len(self.smtp_users)]} bench"
            )[0]
            for i in range(count)
        ]
        self.send_many(server, bodies, 16)
        deadline = time.monotonic() + 60
        while len(self.recorder.approval_messages) - before < count:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        stamps = [ts for ts, _ in self.recorder.approval_messages[before:]]
        messages = self.workspace.slack.messages
        return [messages[(APPROVALS, ts)] for ts in stamps if (APPROVALS, ts) in messages]

    # -- reports ------------------------------------------------------------------------

    def finished(self, sample: Sample) -> float | None:
        """When the work of an acked request was seen done (monotonic), or None."""
        if sample.kind == "approve":
            return self.recorder.approved.get(sample.key)
        post = self.recorder.posts.get(sample.key)
        if post is None:
            return None
        at, body = post
        text = json.dumps(body)
        if sample.kind == "list" and "blocks" in body and "SMTP user" in text:
            return at
        if sample.kind == "reset" and "is in your DM" in text:
            return at
        return None

    def settled(self, samples: list[Sample]) -> int:
        """How many acked requests got any answer after the ack (done or an error)."""
        count = 0
        for sample in samples:
            if sample.kind == "approve":
                count += sample.key in self.recorder.approved
            else:
                count += sample.key in self.recorder.posts
        return count

    def wait_work(self, samples: list[Sample], grace: float) -> float:
        """Wait until every acked request settled, or ``grace`` seconds; returns the wait."""
        acked = [s for s in samples if s.status == 200]
        began = time.monotonic()
        while self.settled(acked) < len(acked) and time.monotonic() - began < grace:
            time.sleep(0.25)
        return time.monotonic() - began

    def report(
        self, title: str, result: LoadResult, server: Server, *, with_work: bool
    ) -> dict[str, float]:
        """Print the per-kind table; returns total and per-kind throughput."""
        self.say(f"\n## {title}")
        self.say(f"load average (other processes share these cores): {loadavg()}")
        self.say(
            f"{len(result.samples)} requests in {result.elapsed:.1f} s from "
            f"{self.args.clients} clients; server CPU {result.server_cpu:.1f} s, "
            f"benchmark process CPU {result.bench_cpu:.1f} s (2 x {result.elapsed:.1f} s "
            "available)"
        )
        header = f"{'kind':<8} {'count':>6} {'rps':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
        header += f" {'max ms':>7} {'timeouts':>8}"
        if with_work:
            header += f" {'work done':>10} {'done p50 s':>10} {'done p95 s':>10}"
        self.say(header)
        throughput: dict[str, float] = {}
        for kind in (*KINDS, "all"):
            rows = [s for s in result.samples if kind in ("all", s.kind)]
            if not rows:
                continue
            latencies = [s.latency * 1000 for s in rows]
            timeouts = sum(1 for s in rows if s.status != 200 or s.latency > SLACK_TIMEOUT)
            span = max(s.sent + s.latency for s in rows) - min(s.sent for s in rows)
            rps = len(rows) / max(span, 1e-9)
            throughput[kind] = rps
            line = (
                f"{kind:<8} {len(rows):>6} {rps:>7.1f} {percentile(latencies, 0.5):>7.1f} "
                f"{percentile(latencies, 0.95):>7.1f} {percentile(latencies, 0.99):>7.1f} "
                f"{max(latencies):>7.1f} {timeouts:>8}"
            )
            if with_work:
                acked = [s for s in rows if s.status == 200]
                ends = [(s, self.finished(s)) for s in acked]
                done = [end - s.sent for s, end in ends if end is not None]
                share = 100 * len(done) / max(1, len(acked))
                line += (
                    f" {share:>9.1f}% {percentile(done, 0.5):>10.1f} "
                    f"{percentile(done, 0.95):>10.1f}"
                )
            self.say(line)
        peaks = ", ".join(f"{p:.0f}" for p in server.peak_rss_mib())
        self.say(f"peak RSS of the gunicorn workers (VmHWM, MiB): {peaks}")
        return throughput

    def report_fake(self, since: tuple[int, float, list[float]], wall: float) -> None:
        handled, busy, times = self.recorder.fake_load()
        count = handled - since[0]
        spent = busy - since[1]
        recent = [t * 1000 for t in times[len(since[2]) :]]
        self.say(
            f"fake Slack: {count} calls, handling p50 {percentile(recent, 0.5):.1f} ms, "
            f"p99 {percentile(recent, 0.99):.1f} ms, busy {100 * spent / max(wall, 1e-9):.1f}% "
            "of the run (one lock: 100% would make it the bottleneck)"
        )

    def database_states(self) -> dict[str, int]:
        path = self.workspace.database_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as db:
            rows = db.execute("SELECT state, COUNT(*) FROM approval_requests GROUP BY state")
            return {str(state): int(count) for state, count in rows}


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="sarvbot-bench-") as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "policy.toml").write_text(DEMO_POLICY)
        workspace = LocalWorkspace(f"sqlite:///{tmp / 'sarvbot.db'}")
        answers: list[tuple[float, float]] = []
        workspace.slack.start()
        workspace.sandbox.start()
        server_of_sandbox = workspace.sandbox._server
        assert server_of_sandbox is not None
        server_of_sandbox.RequestHandlerClass = type(
            "Handler", (_TimedSandboxHandler,), {"sandbox": workspace.sandbox, "answers": answers}
        )
        bench = Bench(args, tmp, workspace, Recorder(workspace.slack), answers)
        try:
            return bench_all(bench)
        finally:
            workspace.sandbox.stop()
            workspace.slack.stop()


def bench_all(bench: Bench) -> int:
    args = bench.args
    workspace = bench.workspace
    sandbox = workspace.sandbox
    for _ in range(args.smtp_users):
        bench.smtp_users.append(sandbox.add_user().name)
    upgrade = subprocess.run(
        [str(BIN / "sarvbot"), "db", "upgrade"], env=bench.env, capture_output=True, check=False
    )
    if upgrade.returncode != 0:
        print(upgrade.stdout.decode(), upgrade.stderr.decode(), file=sys.stderr)
        return 1
    caps = {"list": args.max_requests, "reset": args.max_requests, "approve": args.approvals}
    bench.say(
        f"# sarvbot ack benchmark: {args.clients} clients x {args.duration:g} s, "
        f"{args.workers} gunicorn workers x {args.threads} threads (gthread), "
        f"Sarv latency {args.latency:g} s, {args.smtp_users} SMTP users, "
        f"at most {args.max_requests} list/reset and {args.approvals} approve requests"
    )

    ours_rps: dict[str, float] = {}
    with bench.sarvbot("sarvbot") as server:
        plain = Workload(workspace.slack, bench.smtp_users, [], caps)
        bench.warm_up(server, plain)
        began = time.monotonic()
        approvals = bench.pending_requests(server, args.approvals)
        bench.say(
            f"{len(approvals)} pending reset requests created for the Approve clicks "
            f"in {time.monotonic() - began:.1f} s (Sarv latency 0 meanwhile)"
        )
        sandbox.settings.latency = args.latency
        workload = Workload(workspace.slack, bench.smtp_users, approvals, caps)
        since = bench.recorder.fake_load()
        result = run_load(server, workspace.signing_secret, workload, args.clients, args.duration)
        waited = bench.wait_work(result.samples, args.grace)
        bench.say(
            f"\n(load stopped; waited {waited:.1f} s of at most {args.grace:g} s for the work)"
        )
        ours_rps = bench.report("sarvbot serve", result, server, with_work=True)
        bench.report_fake(since, result.elapsed + waited)
        bench.say(f"approval requests by state in the database: {bench.database_states()}")

    with bench.bare() as server:
        sandbox.settings.latency = args.latency
        workload = Workload(workspace.slack, bench.smtp_users, approvals, caps)
        result = run_load(server, workspace.signing_secret, workload, args.clients, args.duration)
        bare_rps = bench.report("bare Bolt app (ack only)", result, server, with_work=False)
    bench.say("\nsarvbot's throughput as a share of the bare app's:")
    for kind in (*KINDS, "all"):
        if kind in ours_rps and kind in bare_rps:
            bench.say(f"  {kind:<8} {100 * ours_rps[kind] / bare_rps[kind]:6.1f}%")

    list_10k(bench)
    return 0


def list_10k(bench: Bench) -> None:
    """``/smtp list`` over 10,000 users: Sarv's answer to the first page's post."""
    args = bench.args
    sandbox = bench.workspace.sandbox
    missing = args.big_list - len(sandbox.users)
    if missing > 0:
        sandbox.seed_users(missing)
    with bench.sarvbot("sarvbot-10k") as server:
        workload = Workload(bench.workspace.slack, bench.smtp_users, [], {})
        sandbox.settings.latency = 0.0
        bench.warm_up(server, workload)
        sandbox.settings.latency = args.latency
        bench.answers.clear()
        sent: list[tuple[float, str]] = []
        connection: http.client.HTTPConnection | None = None
        for _ in range(args.big_list_samples):
            body, url = workload.command(BOB, OPS, "list")
            at = time.monotonic()
            connection, status = post_signed(
                connection, server.port, bench.workspace.signing_secret, body
            )
            if status == 200:
                sent.append((at, url))
            time.sleep(args.big_list_gap)
        if connection is not None:
            connection.close()
        bench.wait_posts([url for _, url in sent], args.latency + 30)
        answers = sorted(bench.answers)
        delays: list[float] = []
        totals: list[float] = []
        for at, url in sent:
            post = bench.recorder.posts.get(url)
            answer = next((a for a in answers if a[0] >= at), None)
            if post is None or answer is None or "Next" not in json.dumps(post[1]):
                continue
            delays.append((post[0] - answer[1]) * 1000)
            totals.append(post[0] - at)
        bench.say(f"\n## /smtp list over {len(sandbox.users):,} SMTP users")
        bench.say(
            f"{len(delays)} of {len(sent)} lists answered with a first page; Sarv's answer "
            f"to the response_url post: p50 {percentile(delays, 0.5):.0f} ms, "
            f"p95 {percentile(delays, 0.95):.0f} ms, max {max(delays, default=0):.0f} ms "
            f"(command to post p50 {percentile(totals, 0.5):.2f} s)"
        )
        peaks = ", ".join(f"{p:.0f}" for p in server.peak_rss_mib())
        bench.say(f"peak RSS of the gunicorn workers (VmHWM, MiB): {peaks}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per app")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both apps)")
    parser.add_argument("--threads", type=int, default=32, help="threads per worker")
    parser.add_argument("--latency", type=float, default=2.0, help="Sarv sandbox latency, s")
    parser.add_argument(
        "--max-requests", type=int, default=20_000, help="cap on list and on reset requests"
    )
    parser.add_argument(
        "--approvals", type=int, default=1000, help="pending requests made for Approve clicks"
    )
    parser.add_argument("--smtp-users", type=int, default=50, help="users for list and reset")
    parser.add_argument(
        "--grace", type=float, default=30.0, help="seconds to wait for the work after the load"
    )
    parser.add_argument("--big-list", type=int, default=10_000, help="users for the big list")
    parser.add_argument("--big-list-samples", type=int, default=12)
    parser.add_argument("--big-list-gap", type=float, default=0.6, help="seconds between lists")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the whole benchmark."""
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
