"""HTTP serving: the Bolt app behind the front door, a health check, and gunicorn."""

from __future__ import annotations

import json
import logging
import math
import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from sarvbot.front_door import FrontDoor
from sarvbot.logs import LogFormat, logging_config
from sarvbot.slack import SlackApp
from sarvbot.slack.work import DRAIN_SECONDS

__all__ = ["EVENTS_PATH", "gunicorn_settings", "make_wsgi_app", "run_gunicorn", "serve"]

logger = logging.getLogger("sarvbot.web")

EVENTS_PATH = "/slack/events"
# The master waits this long for a worker after SIGTERM before it kills it: the worker's
# drain of a full queue (DRAIN_SECONDS) and a little for its last requests and exit.
GRACEFUL_SECONDS = math.ceil(DRAIN_SECONDS) + 15

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def make_wsgi_app(app: SlackApp, *, signing_secret: str, metrics: bool = False) -> WSGIApp:
    """``POST /slack/events`` goes through the front door to Bolt; ``GET /healthz`` answers
    without Slack, Sarv or the database (liveness); ``GET /readyz`` checks the database and
    the schedule (readiness); ``GET /metrics`` (when ``metrics``) is Prometheus's text;
    anything else is 404.
    """
    front_door = FrontDoor(app.bolt, signing_secret=signing_secret)

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics" and metrics:
            return _metrics(app, start_response)
        if path == "/readyz":
            report = app.readiness()
            ready = report["database"] == "ok" and report["schedule"] in (
                "ok",
                "not run by this process",
            )
            body = json.dumps({"ok": ready, **report}).encode()
            start_response(
                "200 OK" if ready else "503 Service Unavailable",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
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


def _metrics(app: SlackApp, start_response: StartResponse) -> Iterable[bytes]:
    from sarvbot import metrics

    try:
        body = metrics.scrape(app.core.approvals.counts)
    except Exception as exc:  # the database: the scrape fails, the app goes on
        logger.warning("metrics scrape failed: %s", type(exc).__name__)
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"metrics unavailable\n"]
    start_response(
        "200 OK", [("Content-Type", metrics.CONTENT_TYPE), ("Content-Length", str(len(body)))]
    )
    return [body]


def gunicorn_settings(
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    log_level: str = "info",
    log_format: LogFormat = "text",
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
        # Work admitted after acks finishes before a worker exits (see GRACEFUL_SECONDS).
        "graceful_timeout": GRACEFUL_SECONDS,
        "post_worker_init": _drain_on_sigterm,
        "worker_exit": _close_on_exit,
        "child_exit": _forget_worker,
        "loglevel": log_level,
        # gunicorn's own lines in sarvbot's format (LOG_FORMAT), set up in every worker.
        "logconfig_dict": logging_config(log_level.upper(), log_format),
        "accesslog": None,
        "backlog": 256,
        # gunicorn 25+ opens a control socket, by default in $HOME/.gunicorn/, and leaves it
        # there; sarvbot has no use for it (GUNICORN_CMD_ARGS can name one if wanted).
        "control_socket_disable": True,
    }


class _ServedApp:
    """The WSGI app of one worker, keeping the SlackApp for the shutdown hooks."""

    def __init__(self, app: SlackApp, *, signing_secret: str, metrics: bool = False) -> None:
        self.slack_app = app
        self._wsgi = make_wsgi_app(app, signing_secret=signing_secret, metrics=metrics)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return self._wsgi(environ, start_response)


def _forget_worker(server: Any, worker: Any) -> None:
    """gunicorn's child_exit (in the master): a dead worker's live metrics stop counting."""
    from sarvbot import metrics

    metrics.process_exited(int(worker.pid))


def _drain_on_sigterm(worker: Any) -> None:
    """gunicorn's post_worker_init: on SIGTERM, finish admitted work before stopping.

    gunicorn's own handler stops accepting at once. Instead the worker goes on serving, so
    a command that arrives meanwhile is told "restarting" in its ack, and only stops (as
    gunicorn's handler would) once the work admitted before the signal has finished.
    """
    served = getattr(worker, "wsgi", None)
    app = getattr(served, "slack_app", None)
    if not isinstance(app, SlackApp):
        return

    def finish() -> None:
        app.finish_for_shutdown(DRAIN_SECONDS)
        # Now what gunicorn's own SIGTERM handler does: stop serving and exit.
        worker.handle_exit(signal.SIGTERM, None)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if not app.draining:
            app.stop_taking_work()
            threading.Thread(target=finish, name="sarvbot-drain", daemon=True).start()

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn has it: requests go on undisturbed


def _close_on_exit(server: Any, worker: Any) -> None:
    """gunicorn's worker_exit: whatever ended the worker, admitted work finishes first."""
    app = getattr(getattr(worker, "wsgi", None), "slack_app", None)
    if isinstance(app, SlackApp):
        app.close()


def _let_access_lines_through(cfg: Any) -> None:
    """Access lines are off in sarvbot's log configuration; an access log asked for (by
    ``--access-logfile`` in ``GUNICORN_CMD_ARGS`` or a config file) turns them on again."""
    dict_config = cfg.settings["logconfig_dict"].get() if "logconfig_dict" in cfg.settings else {}
    access = dict_config.get("loggers", {}).get("gunicorn.access")
    if not cfg.accesslog or access is None:
        return
    handler: dict[str, Any] = {"formatter": "sarvbot"}
    if cfg.accesslog == "-":
        handler.update({"class": "logging.StreamHandler", "stream": "ext://sys.stdout"})
    else:
        handler.update({"class": "logging.FileHandler", "filename": cfg.accesslog})
    dict_config["handlers"]["sarvbot-access"] = handler
    access.update(
        level=dict_config.get("root", {}).get("level", "INFO"), handlers=["sarvbot-access"]
    )


def run_gunicorn(load: Callable[[], WSGIApp], settings: dict[str, Any]) -> None:
    """Run gunicorn in this process; ``load`` builds the WSGI app in each worker.

    ``settings`` are sarvbot's defaults. On top of them, as for the ``gunicorn`` command,
    come a config file (``--config`` in ``GUNICORN_CMD_ARGS``, else ``./gunicorn.conf.py``)
    and then ``GUNICORN_CMD_ARGS`` itself. Settings this gunicorn does not know are skipped.
    """
    from gunicorn.app.base import Application
    from gunicorn.config import get_default_config_file

    class _Gunicorn(Application):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in settings.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)
            # Application.load_config would parse sys.argv, which is sarvbot's command line;
            # only the environment's arguments are gunicorn's here.
            env_args = self.cfg.parser().parse_args(self.cfg.get_cmd_args_from_env())
            config_file = env_args.config or get_default_config_file()
            if config_file:
                self.load_config_from_file(config_file)
            for key, value in vars(env_args).items():
                if value is not None and key != "args":
                    self.cfg.set(key.lower(), value)
            _let_access_lines_through(self.cfg)

        def load(self) -> WSGIApp:
            return load()

    _Gunicorn().run()


def serve(
    factory: Callable[[], SlackApp],
    *,
    signing_secret: str,
    host: str,
    port: int,
    workers: int,
    threads: int,
    log_level: str = "info",
    log_format: LogFormat = "text",
    metrics: bool = False,
) -> None:
    """Serve with gunicorn; each worker builds its own app after the fork."""
    settings = gunicorn_settings(
        host=host,
        port=port,
        workers=workers,
        threads=threads,
        log_level=log_level,
        log_format=log_format,
    )

    def load() -> WSGIApp:
        return _ServedApp(factory(), signing_secret=signing_secret, metrics=metrics)

    run_gunicorn(load, settings)
