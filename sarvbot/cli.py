"""The ``sarvbot`` command."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from . import __version__

if TYPE_CHECKING:
    from .config import Settings
    from .slack import SlackApp
    from .store import Database

__all__ = ["main"]

logger = logging.getLogger("sarvbot")

_T = TypeVar("_T")
# What every command is handed: its arguments and the variables main() read, once.
_Command = Callable[[argparse.Namespace, Mapping[str, str]], int]

# Socket Mode stops on either: SIGTERM from a process manager, SIGINT from a terminal.
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# slack_sdk's built-in Socket Mode client notices a dead socket only when four pings in a
# row go unanswered; at its default of 10 s a dropped connection went unnoticed for 40 s+.
_SOCKET_PING_INTERVAL = 3.0


class _StartRefusalFilter(logging.Filter):
    """Drops slack_sdk's log of a refused first connection: the command says it in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to retrieve WSS URL")


class _NoPayloadDebug(logging.Filter):
    """Drops the Socket Mode client's DEBUG lines: they print whole envelopes, and a
    message event's text may hold a password the leak watch is about to find.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO


class UsageError(Exception):
    """A problem with how the command was called or configured; shown without a traceback."""


def _sandbox(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from .config import load_sandbox_settings
    from .sandbox import Sandbox

    given = _configured(load_sandbox_settings, environ)
    owner_id = args.owner_id or given.sarv_owner_id or ""
    token = args.token or (given.sarv_token.get_secret_value() if given.sarv_token else "")
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


def _configured(load: Callable[[Mapping[str, str]], _T], environ: Mapping[str, str]) -> _T:
    """``load(environ)``, or a UsageError listing every problem with the configuration."""
    from .config import ConfigError

    try:
        return load(environ)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _checked(settings: Settings) -> None:
    """Fail at start, with a clear message, on a bad policy or a database that is behind."""
    from .policy import PolicyError, load_policy
    from .store import StoreError

    try:
        load_policy(settings.sarvbot_policy)
    except PolicyError as exc:
        raise UsageError(str(exc)) from None
    database = _database(settings.database_url.get_secret_value())
    try:
        database.check_current()
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    finally:
        database.dispose()
    _check_slack(settings)


def _database(url: str) -> Database:
    """The database of DATABASE_URL, or a UsageError saying in one line why it cannot be."""
    from .store import Database
    from .store.errors import DatabaseUrlError

    try:
        return Database(url)
    except DatabaseUrlError as exc:
        raise UsageError(f"DATABASE_URL: {exc}") from None


def _check_slack(settings: Settings) -> None:
    """The bot token works and Slack names its app, so a wrong token fails here."""
    from slack_sdk.errors import SlackApiError

    from .slack import build_web_client
    from .slack.app import SlackSetupError, installed_app

    client = build_web_client(
        settings.slack_bot_token.get_secret_value(), settings.slack_api_url, silent=True
    )
    try:
        client.auth_test()
        installed_app(client)
    except SlackApiError as exc:
        error = exc.response.get("error") or f"HTTP {exc.response.status_code}"
        raise UsageError(f"Slack did not accept SLACK_BOT_TOKEN: {error}") from None
    except SlackSetupError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(
            f"could not reach Slack's Web API at {client.base_url}: {_network_reason(exc)}"
        ) from None


def _network_reason(exc: BaseException) -> str:
    """Why a connection failed, in words an operator can act on (DNS, refused, TLS, ...)."""
    import socket
    import ssl

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return "the host name does not resolve (DNS)"
        if isinstance(current, ConnectionRefusedError):
            return "the connection was refused"
        if isinstance(current, ssl.SSLCertVerificationError):
            return "its TLS certificate was not accepted"
        if isinstance(current, ssl.SSLError):
            return "the TLS handshake failed"
        if isinstance(current, TimeoutError):
            return "it did not answer in time"
        reason = getattr(current, "reason", None)  # urllib's URLError wraps the cause
        current = reason if isinstance(reason, BaseException) else current.__cause__
    return type(exc).__name__


def _create_app(settings: Settings, *, socket_mode: bool = False) -> SlackApp:
    from . import sarv
    from .policy import PolicyError
    from .runtime import create_app
    from .slack.app import SlackSetupError
    from .store import StoreError

    try:
        return create_app(settings, socket_mode=socket_mode)
    except (PolicyError, StoreError, sarv.Error, SlackSetupError) as exc:
        raise UsageError(str(exc)) from None


def _running_app(settings: Settings, *, socket_mode: bool = False) -> SlackApp:
    """An app that keeps its work leased and reports work lost by processes that died."""
    app = _create_app(settings, socket_mode=socket_mode)
    app.start_housekeeping()
    return app


def _share_metrics(environ: Mapping[str, str]) -> None:
    """Let every gunicorn worker write its metrics where any worker can sum them.

    prometheus-client reads ``PROMETHEUS_MULTIPROC_DIR`` from the process environment when
    it is imported, so this runs before anything imports it and sets it there, where the
    workers inherit it; a directory of the operator's own is kept (and not emptied).
    """
    import atexit
    import shutil
    import tempfile

    preset = environ.get("PROMETHEUS_MULTIPROC_DIR")
    if preset:
        # There already, unless main() was handed a mapping of its own.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = preset
        return
    folder = tempfile.mkdtemp(prefix="sarvbot-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    master = os.getpid()

    def remove() -> None:
        if os.getpid() == master:  # workers exit too; only the master's exit removes it
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove)


def _check_metrics_dir(environ: Mapping[str, str]) -> None:
    """A preset ``PROMETHEUS_MULTIPROC_DIR`` must be a directory sarvbot can write to.

    prometheus-client writes a file there as soon as sarvbot's metrics are defined, in every
    command that loads the app, and a missing directory would end it in a traceback. The
    variable is prometheus-client's, read from the process environment, which ``environ``
    copies (``./.env`` supplies only sarvbot's own variables).
    """
    folder = environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder and not (os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK)):
        raise UsageError(
            f"PROMETHEUS_MULTIPROC_DIR: {folder} is not a directory sarvbot can write to"
        )


def _serve(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from .config import load_log_settings, load_serve_settings

    logs = load_log_settings(environ)
    # --port and --workers, given, stand in for PORT and WEB_CONCURRENCY.
    flags = {"port": args.port, "web_concurrency": args.workers}
    given = {name: value for name, value in flags.items() if value is not None}
    settings = _configured(lambda env: load_serve_settings(env, **given), environ)
    if settings.sarvbot_metrics:
        _share_metrics(environ)
    from .web import serve

    _checked(settings)
    serve(
        lambda: _running_app(settings),
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        host=args.host,
        port=settings.port,
        workers=settings.web_concurrency,
        threads=args.threads,
        log_level="debug" if args.verbose else logs.log_level.lower(),
        log_format=logs.log_format,
        metrics=settings.sarvbot_metrics,
    )
    return 0


def _socket(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from .config import load_settings

    settings = _configured(load_settings, environ)
    if settings.slack_app_token is None:
        raise UsageError("Socket Mode needs SLACK_APP_TOKEN (an app-level token, xapp-...)")
    _checked(settings)
    from slack_sdk.errors import SlackApiError

    app = _running_app(settings, socket_mode=True)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in _STOP_SIGNALS}
    handler: SocketModeHandler | None = None
    try:
        handler = SocketModeHandler(
            app.bolt,
            settings.slack_app_token.get_secret_value(),
            ping_interval=_SOCKET_PING_INTERVAL,
        )
        handler.client.logger.addFilter(_NoPayloadDebug())
        quiet = _StartRefusalFilter()
        handler.client.logger.addFilter(quiet)
        try:
            handler.connect()  # type: ignore[no-untyped-call]
        finally:
            handler.client.logger.removeFilter(quiet)
        stop.wait()
        # A second signal ends the process the usual way, without waiting for the work.
        for sig, before in previous.items():
            signal.signal(sig, before)
        # Still connected while admitted work finishes, so new commands get "restarting".
        app.finish_for_shutdown()
    except SlackApiError as exc:
        error = exc.response.get("error") or f"HTTP {exc.response.status_code}"
        raise UsageError(f"Slack refused the Socket Mode connection: {error}") from None
    finally:
        for sig, before in previous.items():
            signal.signal(sig, before)
        if handler is not None:
            handler.close()  # type: ignore[no-untyped-call]
        app.close()
    return 0


def _db(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from .config import load_database_settings
    from .store import StoreError

    # Only the database is needed here, not Slack's or Sarv's settings.
    settings = _configured(load_database_settings, environ)
    database = _database(settings.database_url.get_secret_value())
    try:
        if args.db_command == "upgrade":
            database.upgrade()
        current = database.current_revision()
        head = database.head_revision()
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    finally:
        database.dispose()
    state = "up to date" if current == head else f"behind (head is {head})"
    print(f"{database.safe_url}: revision {current or 'none'}, {state}")
    return 0 if current == head else 1


def _audit_export(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """``sarvbot audit export``: the audit log as JSON lines or CSV on standard output."""
    import csv
    import dataclasses
    import json

    from .config import load_database_settings
    from .core import AuditEntry
    from .store import AuditLog, StoreError

    settings = _configured(load_database_settings, environ)
    database = _database(settings.database_url.get_secret_value())
    columns = [field.name for field in dataclasses.fields(AuditEntry)]
    out = sys.stdout
    writer = csv.DictWriter(out, fieldnames=columns) if args.format == "csv" else None
    try:
        # A database never upgraded (or a mistyped SQLite path) has no audit table.
        database.check_current()
        if writer is not None:
            writer.writeheader()
        for entry in AuditLog(database).stream(since=args.since):
            row = dataclasses.asdict(entry)
            row["at"] = entry.at.isoformat()
            if writer is not None:
                writer.writerow({key: _csv_cell(value) for key, value in row.items()})
            else:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        out.flush()
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python's own flush of
        # stdout at exit from failing the same way.
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return 1
    finally:
        database.dispose()
    return 0


# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text: a leading ``'`` before a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _since(text: str) -> datetime:
    """``--since``: a date or an ISO date and time, UTC unless it says otherwise."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date: {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)"
        ) from None
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:  # 0001-01-01T00:00+05:00 is before the first day there is
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (out of range)") from None


def _expire(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from .config import load_settings
    from .core.schedule import EXPIRE_REQUESTS, REPORT_LOST_WORK

    settings = _configured(load_settings, environ)
    _checked(settings)
    app = _create_app(settings)
    try:
        # The same due jobs a serving process runs, all brought forward to now.
        ran = app.run_schedule(everything_now=True)
    finally:
        app.close()
    changed: list[Any] = []
    lost = 0
    for run in ran:
        if run.job.kind == EXPIRE_REQUESTS and isinstance(run.result, list):
            changed.extend(run.result)
        elif run.job.kind == REPORT_LOST_WORK and isinstance(run.result, list):
            lost += len(run.result)
    for request in changed:
        print(f"request #{request.id}: {request.state.value}")
    print(f"{len(changed)} request(s) changed")
    print(f"{lost} person(s) told of a change lost to a restart")
    return 0


def _demo(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from .demo import run_demo

    return run_demo(policy=args.policy)


def _port(text: str) -> int:
    """``--port``: a TCP port number, as PORT must be."""
    number = _whole_number(text)
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"not a port: {number} (0 to 65535)")
    return number


def _at_least_one(text: str) -> int:
    """``--workers``: a count, at least 1, as WEB_CONCURRENCY must be."""
    number = _whole_number(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="sarvbot", description="Run a team's Sarv TES SMTP users from Slack."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG")
    parser.add_argument("--version", action="version", version=f"sarvbot {__version__}")
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

    serve = commands.add_parser("serve", help="serve the Slack app over HTTP (gunicorn)")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a web service
    serve.add_argument(
        "--port", type=_port, default=None, help="default: $PORT, then 3000 (0: any free port)"
    )
    serve.add_argument(
        "--workers", type=_at_least_one, default=None, help="default: $WEB_CONCURRENCY or 2"
    )
    serve.add_argument("--threads", type=int, default=32, help="threads per worker")
    serve.set_defaults(run=_serve)

    socket = commands.add_parser("socket", help="run the Slack app in Socket Mode")
    socket.set_defaults(run=_socket)

    db = commands.add_parser("db", help="the database schema")
    db.add_argument("db_command", choices=["upgrade", "current"])
    db.set_defaults(run=_db)

    audit = commands.add_parser("audit", help="the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    export = audit_commands.add_parser(
        "export",
        help="write the audit log to standard output, oldest first, streamed (in CSV, a"
        " cell that would start a spreadsheet formula gets a leading ')",
    )
    export.add_argument("--since", type=_since, metavar="DATE", help="from this date on")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.set_defaults(run=_audit_export)

    expire = commands.add_parser(
        "expire", help="expire overdue approval requests (run it from a scheduler)"
    )
    expire.set_defaults(run=_expire)

    demo = commands.add_parser(
        "demo", help="the whole bot in this terminal: no Slack workspace, no Sarv account"
    )
    demo.add_argument("--policy", metavar="FILE", help="try your own permissions file")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of the ``sarvbot`` console script.

    ``environ`` holds the variables that configure the command; by default the process
    environment, with ``./.env`` supplying sarvbot's variables it leaves unset. They are
    read here, once, and every command takes its settings from this mapping.
    """
    from .config import load_log_settings, read_environment
    from .logs import configure_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    if environ is None:
        environ = read_environment()
    logs = load_log_settings(environ)
    configure_logging("DEBUG" if args.verbose else logs.log_level, logs.log_format)
    if args.command != "db" and not args.verbose:
        # Alembic talks at INFO as it loads and whenever the schema revision is checked,
        # which is every start; only `sarvbot db` has migrations worth naming.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    elif not args.verbose:
        # Even there, the list of plugins it sets up on import says nothing to an operator.
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    run: _Command = args.run
    try:
        _check_metrics_dir(environ)
        return run(args, environ)
    except UsageError as exc:
        print(f"sarvbot {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
