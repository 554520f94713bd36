"""The ``sarvbot`` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

__all__ = ["main"]

logger = logging.getLogger("sarvbot")


class UsageError(Exception):
    """A problem with how the command was called or configured; shown without a traceback."""


def _sandbox(args: argparse.Namespace) -> int:
    from .sandbox import Sandbox

    owner_id = args.owner_id or os.environ.get("SARV_OWNER_ID", "")
    token = args.token or os.environ.get("SARV_TOKEN", "")
    if not owner_id or not token:
        raise UsageError(
            "the sandbox needs credentials: set SARV_OWNER_ID and SARV_TOKEN "
            "(or --owner-id and --token)"
        )
    try:
        sandbox = Sandbox(
            owner_id,
            token,
            host=args.host,
            port=args.port,
            state_file=args.state,
            latency=args.latency,
            failure_rate=args.failure_rate,
            failure_kind=args.failure_kind,
            variant=args.variant,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.seed_users:
        sandbox.seed_users(args.seed_users)
    try:
        sandbox.start()
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    print(f"Sarv sandbox listening: SARV_API_URL={sandbox.url}", flush=True)
    try:
        sandbox.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="sarvbot", description="Run a team's Sarv TES SMTP users from Slack."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sandbox = commands.add_parser(
        "sandbox", help="serve a local Sarv TES that behaves like the real one"
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="default: loopback only")
    sandbox.add_argument("--port", type=int, default=7278)
    sandbox.add_argument("--state", metavar="FILE", help="keep the users in FILE across restarts")
    sandbox.add_argument("--owner-id", help="default: $SARV_OWNER_ID")
    sandbox.add_argument("--token", help="default: $SARV_TOKEN")
    sandbox.add_argument("--latency", type=float, default=0.0, help="seconds added to each call")
    sandbox.add_argument(
        "--failure-rate", type=float, default=0.0, help="share of calls that fail (0-1)"
    )
    sandbox.add_argument(
        "--failure-kind",
        choices=["general", "html500", "drop", "hang"],
        default="general",
        help="how a failing call fails",
    )
    sandbox.add_argument(
        "--variant",
        choices=["example", "table"],
        default="example",
        help="which of the vendor's documented wire variants to speak",
    )
    sandbox.add_argument("--seed-users", type=int, default=0, metavar="N", help="create N users")
    sandbox.set_defaults(run=_sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sarvbot`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except UsageError as exc:
        print(f"sarvbot {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
