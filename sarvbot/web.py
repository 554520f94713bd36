"""HTTP serving: the Bolt app behind the front door, a health check, and gunicorn."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from sarvbot.front_door import FrontDoor
from sarvbot.slack import SlackApp
from sarvbot.store import Database, SeenRequests

__all__ = ["EVENTS_PATH", "gunicorn_settings", "make_wsgi_app", "run_gunicorn", "serve"]

EVENTS_PATH = "/slack/events"

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def make_wsgi_app(app: SlackApp, *, signing_secret: str, seen: SeenRequests) -> WSGIApp:
    """``POST /slack/events`` goes through the front door to Bolt; ``GET /healthz`` answers
    without Slack or Sarv; anything else is 404.

    ``seen`` is where every process records the requests it let in (see
    :class:`~sarvbot.front_door.FrontDoor`).
    """
    front_door = FrontDoor(app.bolt, signing_secret=signing_secret, seen=seen)

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            body = json.dumps({"ok": True}).encode()
            start_response(
                "200 OK",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        if path != EVENTS_PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain;charset=utf-8")])
            return [b"Not Found"]
        if environ.get("REQUEST_METHOD") != "POST":
            start_response("405 Method Not Allowed", [("Allow", "POST")])
            return [b""]
        return front_door(environ, start_response)

    return wsgi


def gunicorn_settings(
    *, host: str, port: int, workers: int, threads: int, log_level: str = "info"
) -> dict[str, Any]:
    """How sarvbot is served: gunicorn's threaded workers (the benchmark's bare app too).

    The worker class is gthread that waits for each request in its event loop, so slow
    or stalled clients hold no thread (see :mod:`sarvbot.web_worker`).
    """
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "sarvbot.web_worker.BufferingThreadWorker",
        "timeout": 60,
        # Work queued after acks finishes before a worker exits (at most 8 x 32 jobs).
        "graceful_timeout": 30,
        "loglevel": log_level,
        "accesslog": None,
        "backlog": 256,
    }


def run_gunicorn(load: Callable[[], WSGIApp], settings: dict[str, Any]) -> None:
    """Run gunicorn in this process; ``load`` builds the WSGI app in each worker."""
    from gunicorn.app.base import BaseApplication

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> WSGIApp:
            return load()

    _Gunicorn().run()


def serve(
    factory: Callable[[], SlackApp],
    *,
    signing_secret: str,
    database_url: str,
    host: str,
    port: int,
    workers: int,
    threads: int,
    log_level: str = "info",
) -> None:
    """Serve with gunicorn; each worker builds its own app and database engine after the fork."""
    settings = gunicorn_settings(
        host=host, port=port, workers=workers, threads=threads, log_level=log_level
    )

    def load() -> WSGIApp:
        seen = SeenRequests(Database(database_url))
        return make_wsgi_app(factory(), signing_secret=signing_secret, seen=seen)

    run_gunicorn(load, settings)
