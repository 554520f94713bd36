"""What the leak watch costs: checks per second, and slash-command acks under chatter.

    python benchmarks/leak_watch_bench.py [--passwords 10000] [--rate 50] [--commands 200]

1. The check alone: messages of several sizes against the keyed hashes of N passwords,
   in checks per second (one core).
2. The app on loopback (the real app, the Sarv sandbox with N users, the stand-in Slack):
   a thread posts message events at RATE a second into #dev while `/smtp help` is sent
   COMMANDS times, one after another; the ack latency of the commands is printed with the
   leak watch off, then on. Both loops are bounded; nothing is sent off this machine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from sarvbot.core import LeakWatch
from sarvbot.policy import parse_policy
from sarvbot.sarv import Secret, SmtpUser, UserStatus
from sarvbot.standin.workspace import ALICE, BOB, DEMO_POLICY, DEV, OPS, LocalWorkspace

CHATTER = "deploy of billing-api finished in 42s, see https://ci.example.com/run/1234?x=1 ok "


def check_rate(passwords: int) -> None:
    users = [
        SmtpUser(f"smtp{i:06d}", UserStatus.ENABLE, 1000, 100, Secret(f"Pw{i:014d}"))
        for i in range(passwords)
    ]
    watch = LeakWatch(lambda: users)
    began = time.perf_counter()
    watch.refresh()
    print(f"index of {watch.size:,} passwords built in {time.perf_counter() - began:.3f} s")
    for label, text in (
        ("chat line, 80 chars", CHATTER),
        ("paragraph, 800 chars", CHATTER * 10),
        ("CI log, 8,000 chars", CHATTER * 100),
        ("CI log with a password", CHATTER * 100 + f" SMTP_PASS=Pw{7:014d}"),
    ):
        rounds, began = 0, time.perf_counter()
        while time.perf_counter() - began < 1.0:
            watch.check(text)
            rounds += 1
        per_second = rounds / (time.perf_counter() - began)
        print(f"  {label:<24} {per_second:>10,.0f} checks/s")


def ack_latency(passwords: int, rate: float, commands: int, *, watching: bool) -> list[float]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalWorkspace(f"sqlite:///{Path(tmp) / 'sarvbot.db'}") as workspace,
    ):
        assert workspace.app is not None
        policy = DEMO_POLICY + ("\n[leak_watch]\nenabled = true\n" if watching else "")
        workspace.app.core.permissions.policy = parse_policy(policy, source="bench")
        workspace.sandbox.seed_users(passwords)
        chatter, commander = workspace.client(), workspace.client()
        stop = threading.Event()

        def chat() -> None:
            sent = 0
            while not stop.is_set() and sent < rate * 600:  # ten minutes at most
                event = {"type": "message", "channel": DEV, "channel_type": "channel"}
                event.update({"user": ALICE, "text": CHATTER * 6, "ts": f"1700000000.{sent:06d}"})
                chatter.event(event)
                sent += 1
                stop.wait(1 / rate)

        thread = threading.Thread(target=chat, daemon=True)
        thread.start()
        time.sleep(1.0)  # the chatter is under way (and the index built) before timing
        latencies = []
        for _ in range(commands):
            began = time.perf_counter()
            commander.command("/smtp", "help", user_id=BOB, channel_id=OPS)
            latencies.append((time.perf_counter() - began) * 1000)
        stop.set()
        thread.join(timeout=5)
        workspace.drain()
        return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passwords", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--commands", type=int, default=200)
    args = parser.parse_args()
    print(f"# the check, against {args.passwords:,} passwords")
    check_rate(args.passwords)
    print(f"# /smtp help acks under {args.rate:g} message events a second in #dev")
    for watching in (False, True):
        ms = sorted(ack_latency(args.passwords, args.rate, args.commands, watching=watching))
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        print(
            f"  leak watch {'on ' if watching else 'off'}: p50 {statistics.median(ms):6.1f} ms"
            f"  p99 {p99:6.1f} ms  max {ms[-1]:6.1f} ms  ({len(ms)} commands)"
        )


if __name__ == "__main__":
    main()
