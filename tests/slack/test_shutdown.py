"""SIGTERM to ``sarvbot serve``: new work is told "restarting", admitted work all finishes."""

from __future__ import annotations

import signal
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

from sarvbot import sarv
from sarvbot.slack.work import RESTARTING, WorkQueue, WorkTracker
from sarvbot.standin.workspace import BOB, OPS, LocalWorkspace
from sarvbot.web import gunicorn_settings
from tests.support import app_env, serving

RESETS = 8
SARVBOT_WORKERS = 2


def delivered_passwords(workspace: LocalWorkspace, names: list[str]) -> Counter[str]:
    """How often each SMTP user's new password reached bob's DM."""
    seen: Counter[str] = Counter()
    for call in workspace.slack.calls_to("chat.postEphemeral"):
        shown = str(call.args.get("blocks"))
        if call.ok and call.args.get("user") == BOB and "Password" in shown:
            seen.update(name for name in names if name in shown)
    return seen


def test_sigterm_with_a_backlog_finishes_every_acked_reset_and_tells_its_user(
    tmp_path: Path,
) -> None:
    with LocalWorkspace(
        f"sqlite:///{tmp_path / 'sarvbot.db'}", sandbox_latency=1.0, workers=SARVBOT_WORKERS
    ) as workspace:
        names = [workspace.sandbox.add_user(name=f"smtp7{n:04d}").name for n in range(RESETS)]
        with (tmp_path / "serve.log").open("w+", encoding="utf-8") as log:
            with (
                serving(app_env(workspace, tmp_path), threads=8, stderr=log) as server,
                closing(server.client(workspace)) as slack,
            ):
                process = server.process
                workspace.slack.clear()
                # A backlog: two threads, a second per reset at Sarv.
                for name in names:
                    ack = slack.command("/smtp", f"reset {name}", user_id=BOB, channel_id=OPS)
                    assert ack.status_code == 200
                    assert not ack.text

                process.send_signal(signal.SIGTERM)

                # The worker learns of the signal from the master; until then commands are
                # taken (or turned away as busy: the queue is full). Nothing here changes Sarv.
                answer = ""
                deadline = time.monotonic() + 10
                while RESTARTING not in answer and time.monotonic() < deadline:
                    ack = slack.command("/smtp", "help", user_id=BOB, channel_id=OPS)
                    answer = ack.text
                assert RESTARTING in answer

                assert process.wait(timeout=90) == 0
            log.seek(0)
            output = log.read()

        resets = Counter(
            c.params["smtp_user_name"]
            for c in workspace.sandbox.calls_to("settings/resetSmtpPassword")
        )
        assert resets == Counter(names), output
        assert delivered_passwords(workspace, names) == Counter(names), output


def test_graceful_timeout_outlasts_a_full_queue_of_sarv_calls_at_their_timeout() -> None:
    per_thread = WorkQueue(WorkTracker(), workers=1, tell=lambda respond, text: None).limit
    settings = gunicorn_settings(host="127.0.0.1", port=0, workers=1, threads=8)
    assert settings["graceful_timeout"] >= per_thread * sum(sarv.DEFAULT_TIMEOUT)
