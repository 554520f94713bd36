"""How fast a picker's options are answered with many SMTP users.

    python benchmarks/options_bench.py [--users 10000] [--latency 0.5] [--rounds 300]

The real app on loopback (the Sarv sandbox filled with USERS users and answering after
LATENCY seconds, the stand-in Slack), driven by signed ``block_suggestion`` requests as
Slack sends them while someone types into the Manage modal's picker:

1. the first letter typed a second after the modal opened: opening it started loading
   Sarv's list, so this is how it is in use;
2. the first answer with nothing cached (the copy forgotten, as after a change or once
   it is 30 s old): one call to Sarv's list, then the search;
3. ROUNDS answers from the cached list, for texts of 0 to 9 characters (prefixes of
   names, a label, a text that matches nothing), one after another.

Each is timed from the request sent to the answer read (HTTP, signature, Bolt, search).
Nothing is sent off this machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sarvbot.slack.picker import ACTION_PICK_USER
from sarvbot.standin.workspace import BOB, LocalWorkspace
from sarvbot.store import CatalogueStore


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(users: int, latency: float, rounds: int) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalWorkspace(f"sqlite:///{Path(tmp) / 'sarvbot.db'}") as workspace,
    ):
        workspace.sandbox.seed_users(users)
        names = sorted(workspace.sandbox.users)
        CatalogueStore(workspace.database).write(names[users // 2], label="billing-api")
        workspace.sandbox.settings.latency = latency
        slack = workspace.client()
        slack.global_shortcut("manage_smtp_user", user_id=BOB)
        workspace.drain()
        (view,) = workspace.slack.views.values()
        time.sleep(1.0)  # the person reads the form

        began = time.perf_counter()
        typed = slack.suggest(view, ACTION_PICK_USER, "s", user_id=BOB)
        typed_ms = (time.perf_counter() - began) * 1000
        assert len(typed.json()["options"]) == 100

        assert workspace.app is not None
        workspace.app.core.user_index.invalidate()
        began = time.perf_counter()
        first = slack.suggest(view, ACTION_PICK_USER, "", user_id=BOB)
        first_ms = (time.perf_counter() - began) * 1000
        assert len(first.json()["options"]) == 100

        texts = ["", "s", "sm", "smtp", names[-1][:6], names[123], "billing", "BILL", "zzzzzzzzz"]
        samples: list[float] = []
        for index in range(rounds):
            began = time.perf_counter()
            answer = slack.suggest(view, ACTION_PICK_USER, texts[index % len(texts)], user_id=BOB)
            samples.append((time.perf_counter() - began) * 1000)
            assert answer.status_code == 200
        calls = len(workspace.sandbox.calls_to("settings/listSmtp"))
        slack.close()

    print(f"options for {users:,} SMTP users, Sarv latency {latency * 1000:.0f} ms")
    print(f"  first letter, 1 s after the form opened: {typed_ms:7.1f} ms")
    print(
        f"  first answer (uncached): {first_ms:7.1f} ms"
        f"  (Sarv latency + {first_ms - latency * 1000:.1f} ms)"
    )
    print(
        f"  cached answers, {rounds}: p50 {statistics.median(samples):.1f} ms,"
        f" p99 {_percentile(samples, 0.99):.1f} ms, max {max(samples):.1f} ms"
    )
    print(f"  calls to Sarv's list: {calls}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    run(args.users, args.latency, args.rounds)


if __name__ == "__main__":
    main()
