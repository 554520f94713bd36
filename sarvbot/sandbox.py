"""A local Sarv TES that behaves like the real one as documented, with faults on demand.

Start it from the command line (``sarvbot sandbox``) or from Python::

    with Sandbox(owner_id="o1", token="t1") as sandbox:
        client = SarvClient("o1", "t1", base_url=sandbox.url)
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import random
import secrets
import socket
import string
import tempfile
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["Fault", "FaultKind", "Sandbox", "SandboxUser", "WireVariant"]

logger = logging.getLogger("sarvbot.sandbox")

API_PREFIX = "/v1.0/"
MAX_REQUEST_BYTES = 64 * 1024
PASSWORD_ALPHABET = string.ascii_letters + string.digits


class FaultKind(StrEnum):
    """What goes wrong with a call."""

    GENERAL = "general"  # a documented GeneralError body
    HTML_500 = "html500"  # HTTP 500 with an HTML page, as a proxy would send
    DROP = "drop"  # the connection is closed without an answer
    HANG = "hang"  # no answer until the client gives up
    GARBLED = "garbled"  # HTTP 200 with a body that is not JSON, as a broken proxy would send
    # HTTP 200 with Sarv's success body, but the password missing
    NO_PASSWORD = "no-password"  # noqa: S105 (a fault's name, not a password)


class WireVariant(StrEnum):
    """Which of the vendor's documented variants the sandbox speaks.

    ``example``: as the vendor's examples (``password``, status ``Enable``, error ``name``).
    ``table``: as the vendor's field tables (``smtp_password``, status 1/0, error ``type``,
    errors answered with HTTP 200).
    """

    EXAMPLE = "example"
    TABLE = "table"


@dataclass
class Fault:
    """One scheduled fault. ``after_apply`` lets the change happen before the failure."""

    kind: FaultKind
    times: int = 1
    path: str | None = None
    after_apply: bool = False


@dataclass
class SandboxUser:
    """An SMTP user as the sandbox keeps it."""

    name: str
    password: str
    total_limit: int
    hourly_limit: int
    status: str = "Enable"


@dataclass(frozen=True)
class RecordedCall:
    """A call the sandbox answered: its path and parameters, without credentials."""

    path: str
    params: dict[str, Any]


class _Server(ThreadingHTTPServer):
    # The standard backlog of 5 resets connections when many clients connect at once.
    request_queue_size = 128
    daemon_threads = True


class _SarvError(Exception):
    def __init__(self, name: str, message: str, status: HTTPStatus) -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        self.status = status


def _validation(message: str) -> _SarvError:
    return _SarvError("ValidationError", message, HTTPStatus.BAD_REQUEST)


@dataclass
class _Settings:
    latency: float = 0.0
    failure_rate: float = 0.0
    failure_kind: FaultKind = FaultKind.GENERAL
    hang_seconds: float = 60.0
    variant: WireVariant = WireVariant.EXAMPLE
    faults: list[Fault] = field(default_factory=list)


class Sandbox:
    """A thread-safe Sarv TES stand-in served over HTTP on loopback (by default)."""

    def __init__(
        self,
        owner_id: str,
        token: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_file: str | Path | None = None,
        latency: float = 0.0,
        failure_rate: float = 0.0,
        failure_kind: FaultKind | str = FaultKind.GENERAL,
        variant: WireVariant | str = WireVariant.EXAMPLE,
        seed: int | None = None,
    ) -> None:
        if not owner_id or not token:
            raise ValueError("the sandbox needs an owner id and a token")
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")
        if latency < 0:
            raise ValueError("latency must not be negative")
        self._owner_id = owner_id
        self._token = token
        self._host = host
        self._port = port
        self._state_file = Path(state_file) if state_file else None
        self._lock = threading.Lock()
        self._called = threading.Condition(self._lock)
        self._users: dict[str, SandboxUser] = {}
        self._calls: list[RecordedCall] = []
        self._random = random.Random(seed)
        self._stopping = threading.Event()
        self.settings = _Settings(
            latency=latency,
            failure_rate=failure_rate,
            failure_kind=FaultKind(failure_kind),
            variant=WireVariant(variant),
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        if self._state_file and self._state_file.exists():
            self._load()

    def __repr__(self) -> str:
        return f"Sandbox(url={self.url if self._server else None!r}, users={len(self._users)})"

    # Life cycle

    def start(self) -> Sandbox:
        """Start serving in a background thread; returns self."""
        handler = type("Handler", (_Handler,), {"sandbox": self})
        self._server = _Server((self._host, self._port), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="sarv-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        handler = type("Handler", (_Handler,), {"sandbox": self})
        self._server = _Server((self._host, self._port), handler)
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def wait(self) -> None:
        """Block until the sandbox stops (or the process is interrupted)."""
        while not self._stopping.wait(1.0):
            pass

    def stop(self) -> None:
        """Stop serving; calls that hang are released."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port served on."""
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The API base URL to give the client (``SARV_API_URL``)."""
        host = self._host if self._host not in ("0.0.0.0", "") else "127.0.0.1"  # noqa: S104
        return f"http://{host}:{self.port}{API_PREFIX}"

    # Inspection and set-up, for tests and the demo

    @property
    def users(self) -> dict[str, SandboxUser]:
        """A copy of the users, by name."""
        with self._lock:
            return {name: SandboxUser(**vars(user)) for name, user in self._users.items()}

    @property
    def calls(self) -> list[RecordedCall]:
        """Every call answered so far, in order, without credentials."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, path: str) -> list[RecordedCall]:
        """The calls answered for one path such as ``settings/addSmtp``."""
        return [call for call in self.calls if call.path == path]

    def wait_for_call(self, path: str, timeout: float = 5.0) -> bool:
        """Wait until a call to ``path`` has been applied (answered or not); False on timeout."""
        with self._called:
            return self._called.wait_for(
                lambda: any(call.path == path for call in self._calls), timeout
            )

    def add_user(
        self,
        total_limit: int = 1000,
        hourly_limit: int = 100,
        *,
        name: str | None = None,
        status: str = "Enable",
    ) -> SandboxUser:
        """Create a user directly (not counted as a call)."""
        with self._lock:
            user = SandboxUser(
                name=name or self._new_name(),
                password=self._new_password(),
                total_limit=total_limit,
                hourly_limit=hourly_limit,
                status=status,
            )
            self._users[user.name] = user
            self._save()
            return SandboxUser(**vars(user))

    def seed_users(self, count: int) -> None:
        """Create ``count`` users at once, with varied limits and statuses."""
        with self._lock:
            for index in range(count):
                name = self._new_name()
                self._users[name] = SandboxUser(
                    name=name,
                    password=self._new_password(),
                    total_limit=100 * (1 + index % 50),
                    hourly_limit=10 * (1 + index % 20),
                    status="Disable" if index % 7 == 0 else "Enable",
                )
            self._save()

    def fail_next(
        self,
        kind: FaultKind | str,
        *,
        times: int = 1,
        path: str | None = None,
        after_apply: bool = False,
    ) -> None:
        """Make the next ``times`` calls (to ``path``, if given) fail with ``kind``."""
        with self._lock:
            self.settings.faults.append(
                Fault(FaultKind(kind), times=times, path=path, after_apply=after_apply)
            )

    # Request handling

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.settings.faults:
                if fault.path in (None, path) and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self.settings.faults.remove(fault)
                    return fault
            rate = self.settings.failure_rate
            if rate and self._random.random() < rate:
                return Fault(self.settings.failure_kind)
        return None

    def handle(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Answer one call: a success body, or raise _SarvError."""
        owner_id, token = body.get("owner_id"), body.get("token")
        if not isinstance(owner_id, str) or not owner_id:
            raise _validation("owner_id is required")
        if not isinstance(token, str) or not token:
            raise _validation("token is required")
        if not (
            hmac.compare_digest(owner_id.encode(), self._owner_id.encode())
            and hmac.compare_digest(token.encode(), self._token.encode())
        ):
            raise _SarvError("AuthenticationError", "Token MissMatch", HTTPStatus.UNAUTHORIZED)
        params = {k: v for k, v in body.items() if k not in ("owner_id", "token")}
        call = {
            "settings/addSmtp": self._add,
            "settings/editSmtp": self._edit,
            "settings/resetSmtpPassword": self._reset,
            "settings/listSmtp": self._list,
        }.get(path)
        if call is None:
            raise _SarvError("ValidationError", f"unknown call {path}", HTTPStatus.NOT_FOUND)
        with self._lock:
            result = call(params)
            self._calls.append(RecordedCall(path, params))
            self._called.notify_all()
            return result

    def _add(self, params: dict[str, Any]) -> dict[str, Any]:
        total = _positive(params, "total_limit", required=True)
        hourly = _positive(params, "hourly_limit", required=True)
        assert total is not None
        assert hourly is not None
        user = SandboxUser(self._new_name(), self._new_password(), total, hourly)
        self._users[user.name] = user
        self._save()
        return {
            "status": "success",
            "message": "SMTP User Created",
            "smtp_user_name": user.name,
            "smtp_password": user.password,
        }

    def _existing(self, params: dict[str, Any]) -> SandboxUser:
        name = params.get("smtp_user_name")
        if not isinstance(name, str) or not name:
            raise _validation("smtp_user_name is required")
        user = self._users.get(name)
        if user is None:
            raise _validation(f"SMTP user {name} not found")
        return user

    def _edit(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._existing(params)
        total = _positive(params, "total_limit", required=False)
        hourly = _positive(params, "hourly_limit", required=False)
        status = params.get("status")
        if status is not None and status not in ("Enable", "Disable"):
            raise _validation("status must be either Enable or Disable")
        if total is not None:
            user.total_limit = total
        if hourly is not None:
            user.hourly_limit = hourly
        if status is not None:
            user.status = status
        self._save()
        return {"status": "success", "message": "SMTP User Updated"}

    def _reset(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._existing(params)
        user.password = self._new_password()
        self._save()
        return {
            "status": "success",
            "message": "password reseted",
            "smtp_user_name": user.name,
            "smtp_password": user.password,
        }

    def _list(self, params: dict[str, Any]) -> dict[str, Any]:
        table = self.settings.variant is WireVariant.TABLE
        items = [
            {
                "smtp_user_name": user.name,
                ("smtp_password" if table else "password"): user.password,
                "status": (1 if user.status == "Enable" else 0) if table else user.status,
                "total_limit": user.total_limit,
                "hourly_limit": user.hourly_limit,
            }
            for user in self._users.values()
        ]
        return {"status": "success", "message": "SMTP Users", "smtp_list": items}

    def error_body(self, name: str, message: str) -> dict[str, Any]:
        """An error body in the configured wire variant."""
        key = "type" if self.settings.variant is WireVariant.TABLE else "name"
        return {"status": "error", "code": -1, key: name, "message": message}

    def error_status(self, status: HTTPStatus) -> HTTPStatus:
        """The HTTP status for an error: the table variant answers errors with 200."""
        return HTTPStatus.OK if self.settings.variant is WireVariant.TABLE else status

    def hang(self) -> None:
        """Wait long past any client's timeout, or until the sandbox stops."""
        self._stopping.wait(self.settings.hang_seconds)

    # Names, passwords, state

    def _new_name(self) -> str:
        while True:
            name = f"smtp{secrets.randbelow(90000) + 10000}"
            if name not in self._users:
                return name

    @staticmethod
    def _new_password() -> str:
        return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(16))

    def _load(self) -> None:
        assert self._state_file is not None
        try:
            data = json.loads(self._state_file.read_text(encoding="utf-8"))
            users = {item["name"]: SandboxUser(**item) for item in data["users"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"cannot read the sandbox state {self._state_file}: {exc}") from None
        self._users = users

    def _save(self) -> None:
        if self._state_file is None:
            return
        data = {"users": [vars(user) for user in self._users.values()]}
        directory = self._state_file.parent
        fd, tmp = tempfile.mkstemp(prefix=".sandbox-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self._state_file)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp)
            raise


def _positive(params: dict[str, Any], key: str, *, required: bool) -> int | None:
    value = params.get(key)
    if value is None:
        if required:
            raise _validation(f"{key} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _validation(f"{key} must be a positive integer")
    return value


class _Handler(BaseHTTPRequestHandler):
    sandbox: Sandbox
    server_version = "SarvSandbox/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sandbox %s", format % args)

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            # Say so, as a server that closes after answering does: a client must not
            # send its next request (a retry) on this connection.
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def _send_json(self, status: int, data: dict[str, Any]) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _send_error(self, name: str, message: str, status: HTTPStatus) -> None:
        sandbox = self.sandbox
        self._send_json(sandbox.error_status(status), sandbox.error_body(name, message))

    def _drop(self) -> None:
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def do_GET(self) -> None:
        self._send_error("ValidationError", "use POST", HTTPStatus.METHOD_NOT_ALLOWED)

    def do_POST(self) -> None:
        sandbox = self.sandbox
        length_header = self.headers.get("Content-Length")
        try:
            length = int(length_header) if length_header is not None else -1
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send_error(
                "ValidationError", "Content-Length is required", HTTPStatus.BAD_REQUEST
            )
            return
        if length > MAX_REQUEST_BYTES:
            self.close_connection = True
            self._send_error(
                "ValidationError",
                f"request body over {MAX_REQUEST_BYTES} bytes",
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            )
            return
        raw = self.rfile.read(length)
        if not self.path.startswith(API_PREFIX):
            self._send_error("ValidationError", f"unknown path {self.path}", HTTPStatus.NOT_FOUND)
            return
        path = self.path[len(API_PREFIX) :].split("?", 1)[0]
        if sandbox.settings.latency:
            time.sleep(sandbox.settings.latency)
        fault = sandbox._take_fault(path)
        if fault is not None and not fault.after_apply:
            self._fail(fault)
            return
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            self._send_error(
                "ValidationError", "the body must be a JSON object", HTTPStatus.BAD_REQUEST
            )
            return
        try:
            result = sandbox.handle(path, body)
        except _SarvError as failure:
            self._send_error(failure.name, failure.message, failure.status)
            return
        except Exception:
            logger.exception("sandbox failed on %s", path)
            self._send_error("GeneralError", "unexpected failure", HTTPStatus.INTERNAL_SERVER_ERROR)
            return
        if fault is not None:
            self._fail(fault)
            return
        self._send_json(HTTPStatus.OK, result)

    def _fail(self, fault: Fault) -> None:
        if fault.kind is FaultKind.GENERAL:
            self._send_error(
                "GeneralError",
                "An unexpected error occurred, Sarv developers were notified",
                HTTPStatus.INTERNAL_SERVER_ERROR,
            )
        elif fault.kind is FaultKind.HTML_500:
            self.close_connection = True
            page = b"<html><head><title>500 Internal Server Error</title></head><body>"
            page += b"<h1>Internal Server Error</h1></body></html>"
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, page, "text/html")
        elif fault.kind is FaultKind.DROP:
            self._drop()
        elif fault.kind is FaultKind.GARBLED:
            self._send(HTTPStatus.OK, b"\x89\xff<not json", "application/json")
        elif fault.kind is FaultKind.NO_PASSWORD:
            self._send_json(HTTPStatus.OK, {"status": "success", "message": "Done"})
        else:
            self.sandbox.hang()
            self._drop()
