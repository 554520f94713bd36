"""Which of sarvbot's files and functions one ``/smtp reset`` crosses, traced as it runs.

Runs the app in this process with ``LocalWorkspace`` (the real app over real HTTP on
loopback, the Sarv sandbox, the fake Slack Web API) and sends bob's signed
``/smtp reset USER reason`` from #ops, where a reset needs no approval. One reset warms
the app up (imports, first connections, the directory's lookups), so they do not count.
Then a profiler hook on every thread records each call of a Python function whose code is
in the sarvbot package, except the stand-ins; a second reset runs, from the HTTP request
arriving at the app to the Sarv call, the channel announcement, the password DM and the
rest of its work; and the hook is taken away once that work is over.

Prints the number of distinct files and functions and lists them by file, files and
functions in the order they were first called. A function is its code object's qualified
name in its file (nested functions and methods count; comprehensions and lambdas are listed
apart). Methods that dataclasses generate have no file ("<string>") and are not counted.

    python benchmarks/reset_path.py

It measures the sarvbot of the checkout it is in, whatever the virtualenv has installed.

What is measured is the app as LocalWorkspace serves it: behind wsgiref, with a SarvClient
of its own. Under ``sarvbot serve`` a request also passes gunicorn's worker class
(``sarvbot/web_worker.py``) and ``_ServedApp.__call__`` in ``sarvbot/web.py``, and the Sarv
client reports each call to ``sarvbot.metrics.observe_sarv_call``; those are not counted.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sarvbot  # noqa: E402
from sarvbot.standin import ApiCall  # noqa: E402
from sarvbot.standin.workspace import BOB, OPS, LocalWorkspace  # noqa: E402

PACKAGE = Path(sarvbot.__file__).resolve().parent

# Inside the package but not the product: the stand-ins for Slack and Sarv, and the demo.
# They play Slack and Sarv (and drive the app), so their calls are not part of the path.
EXCLUDED_PATHS = ("standin/", "sandbox.py", "demo/")
# Frames that are part of the function that holds them rather than functions of their
# own: comprehensions, generator expressions and lambdas. Listed apart, not counted.
INLINE_FRAMES = frozenset({"<genexpr>", "<listcomp>", "<setcomp>", "<dictcomp>", "<lambda>"})
# Threads whose calls the request did not cause. MainThread is this script: it sends the
# request and waits (``LocalWorkspace.drain`` calls into the app's WorkTracker). The
# housekeeping loop renews leases and runs timed jobs on its own clock (LocalWorkspace does
# not start it; an app that did would run it beside the request).
EXCLUDED_THREADS = frozenset({"MainThread", "sarvbot-housekeeping"})

TARGET, WARM_UP_TARGET = "smtp10002", "smtp10001"
REASON = "key leaked in CI"
WAIT_SECONDS = 10.0


class CallRecorder:
    """A profiler hook (``sys.setprofile``) recording first calls into the product's code.

    Installed on every thread before the app starts and disarmed until :meth:`arm`, so the
    pool threads that the warm-up starts carry it too. While armed it also counts, per
    thread, the product frames still running, so the end of the work can be seen.
    """

    def __init__(self, package: Path) -> None:
        prefix = str(package) + os.sep
        self._prefix = prefix
        self._excluded = tuple(prefix + path.replace("/", os.sep) for path in EXCLUDED_PATHS)
        self._ours: dict[str, bool] = {}
        self._lock = threading.Lock()
        self._depth: dict[int, int] = {}
        self._names: dict[int, str] = {}
        self.armed = False
        # (file, qualified name) -> the thread it was first called on, in call order.
        self.first_calls: dict[tuple[str, str], str] = {}

    def arm(self) -> None:
        self.armed = True

    def disarm(self) -> None:
        self.armed = False

    def busy_threads(self) -> list[str]:
        """The threads inside the product's code now."""
        with self._lock:
            return [self._names[ident] for ident, depth in self._depth.items() if depth > 0]

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if not self.armed or event not in ("call", "return"):
            return
        code = frame.f_code
        ours = self._ours.get(code.co_filename)
        if ours is None:
            name = code.co_filename
            ours = name.startswith(self._prefix) and not name.startswith(self._excluded)
            self._ours[name] = ours
        if not ours:
            return
        thread = threading.current_thread()
        if thread.name in EXCLUDED_THREADS:
            return
        ident = thread.ident or 0
        with self._lock:
            depth = self._depth.get(ident, 0)
            if event == "return":
                self._depth[ident] = max(depth - 1, 0)  # frames entered before arm()
                return
            self._depth[ident] = depth + 1
            self._names[ident] = thread.name
            key = (code.co_filename, code.co_qualname)
            if key not in self.first_calls:
                self.first_calls[key] = thread.name


def _thread_kind(name: str) -> str:
    """A thread's name without its serial number: the pool or the server it belongs to."""
    match = re.fullmatch(r"Thread-\d+ \((.+)\)", name)
    if match:
        return match.group(1)
    return re.sub(r"_\d+$", "", name)


def reset(workspace: LocalWorkspace, target: str) -> tuple[ApiCall, ApiCall]:
    """Bob resets ``target`` in #ops; returns the announcement and the password DM."""
    fake = workspace.slack
    client = workspace.client()
    try:
        ack = client.command("/smtp", f"reset {target} {REASON}", user_id=BOB, channel_id=OPS)
    finally:
        client.close()
    if ack.status_code != 200:
        raise SystemExit(f"the app answered the reset with HTTP {ack.status_code}")
    announcement = fake.wait_for(
        lambda c: (
            c.method == "chat.postMessage"
            and c.args.get("channel") == OPS
            and "reset the password of" in str(c.args.get("text"))
            and target in str(c.args.get("text"))
        ),
        timeout=WAIT_SECONDS,
    )
    im = fake.im_channel_id(BOB)
    dm = fake.wait_for(
        lambda c: (
            c.method == "chat.postEphemeral"
            and c.args.get("user") == BOB
            and c.args.get("channel") == im
        ),
        timeout=WAIT_SECONDS,
    )
    password = workspace.sandbox.users[target].password
    if password not in str(dm.args):
        raise SystemExit("the DM does not hold the new password: this was not the reset")
    return announcement, dm


def wait_until_quiet(workspace: LocalWorkspace, recorder: CallRecorder) -> None:
    """The queued work is over (the app's WorkTracker) and no thread is in the product."""
    workspace.drain()
    deadline = time.monotonic() + WAIT_SECONDS
    while busy := recorder.busy_threads():
        if time.monotonic() > deadline:
            raise SystemExit(f"still inside sarvbot after {WAIT_SECONDS} s: {busy}")
        time.sleep(0.01)


def trace_reset(database_url: str) -> CallRecorder:
    recorder = CallRecorder(PACKAGE)
    threading.setprofile(recorder)
    sys.setprofile(recorder)
    try:
        with LocalWorkspace(database_url) as workspace:
            workspace.sandbox.add_user(name=WARM_UP_TARGET)
            workspace.sandbox.add_user(name=TARGET)
            reset(workspace, WARM_UP_TARGET)
            workspace.drain()
            workspace.slack.clear()
            recorder.arm()
            reset(workspace, TARGET)
            wait_until_quiet(workspace, recorder)
            recorder.disarm()
    finally:
        recorder.disarm()
        sys.setprofile(None)
        threading.setprofile(None)
    return recorder


def report(recorder: CallRecorder) -> None:
    by_file: dict[str, list[tuple[str, str]]] = {}
    inline: dict[str, list[tuple[str, str]]] = {}
    for (filename, qualname), thread in recorder.first_calls.items():
        leaf = qualname.rsplit(".", 1)[-1]
        into = inline if leaf in INLINE_FRAMES else by_file
        shown = Path(filename).relative_to(PACKAGE.parent).as_posix()
        into.setdefault(shown, []).append((qualname, _thread_kind(thread)))
        by_file.setdefault(shown, [])  # a file is crossed even if only a lambda ran there
    functions = sum(len(names) for names in by_file.values())
    inline_frames = sum(len(names) for names in inline.values())
    threads = sorted({_thread_kind(t) for t in recorder.first_calls.values()})
    print(f"# /smtp reset, traced: {PACKAGE}")
    print("# (HTTP request at the app -> Sarv reset -> #ops announcement -> password DM)")
    print(f"files: {len(by_file)}")
    print(f"functions: {functions}")
    print(f"comprehensions and lambdas (not counted as functions): {inline_frames}")
    print(f"threads: {', '.join(threads)}")
    for shown, names in by_file.items():
        print(f"\n{shown} ({len(names)})")
        rows = names + [(f"({qualname})", thread) for qualname, thread in inline.get(shown, [])]
        width = max(len(qualname) for qualname, _ in rows)
        for qualname, thread in rows:
            print(f"  {qualname:<{width}}  [{thread}]")


def main() -> None:
    if not PACKAGE.is_relative_to(ROOT):
        raise SystemExit(f"imported sarvbot from {PACKAGE}, not from this checkout ({ROOT})")
    with tempfile.TemporaryDirectory(prefix="sarvbot-reset-path-") as tmp:
        recorder = trace_reset(f"sqlite:///{Path(tmp) / 'sarvbot.db'}")
    report(recorder)


if __name__ == "__main__":
    main()
