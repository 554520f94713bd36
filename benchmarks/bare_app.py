"""A Bolt app that only acks: the ceiling the ack benchmark compares sarvbot against.

It answers ``/smtp`` and the buttons sarvbot has with a bare ``ack()`` and does nothing
else. Serve it the way ``sarvbot serve`` serves sarvbot (see ``sarvbot/web.py``)::

    SLACK_SIGNING_SECRET=... SLACK_BOT_TOKEN=xoxb-... SLACK_API_URL=http://.../api/ \\
        python benchmarks/bare_app.py --port 3001 --workers 2 --threads 32
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from sarvbot.web import EVENTS_PATH, gunicorn_settings, run_gunicorn

ACTIONS = ("approve_request", "deny_request", "retry_request", "list_page", "remove_secret")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def build_app() -> WSGIApp:
    """The Bolt app behind Bolt's WSGI adapter, configured from the environment."""
    client = WebClient(
        token=os.environ["SLACK_BOT_TOKEN"],
        base_url=os.environ.get("SLACK_API_URL") or WebClient.BASE_URL,
    )
    bolt = App(
        client=client,
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        token_verification_enabled=False,
    )

    def just_ack(ack: Callable[[], None]) -> None:
        ack()

    bolt.command("/smtp")(just_ack)
    for action_id in ACTIONS:
        bolt.action(action_id)(just_ack)
    handler = SlackRequestHandler(bolt, path=EVENTS_PATH)

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
            return [b"ok"]
        result: Iterable[bytes] = handler(environ, start_response)
        return result

    return wsgi


def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Gunicorn with exactly the settings of ``sarvbot serve``; each worker builds its app."""
    settings = gunicorn_settings(
        host=host, port=port, workers=workers, threads=threads, log_level="warning"
    )
    run_gunicorn(build_app, settings)


def main() -> None:
    """``python benchmarks/bare_app.py --port N``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args()
    serve(args.host, args.port, args.workers, args.threads)


if __name__ == "__main__":
    main()
