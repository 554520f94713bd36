"""A local HTTP server that answers like Slack's Web API, for tests and the terminal demo.

Point ``slack_sdk.WebClient(token=..., base_url=fake.api_url)`` at it. It serves the
workspace and methods of ``slack_methods``, records every call, can be told to fail calls,
and takes posts to the response_urls it mints.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, urlsplit

from .block_kit import MAX_MESSAGE_BLOCKS, check_message_limits
from .slack_methods import ApiError, SlackChannel, SlackUser, SlackWorkspace

__all__ = ["DEFAULT_BACKLOG", "ApiCall", "FakeSlackApi", "Recorded", "ResponsePost"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
RESPONSE_URL_MAX_POSTS = 5
# socketserver's own listen backlog. A load of many connections at once wants more: when
# the accept queue is full, Linux drops SYNs and the client retries only after a second.
DEFAULT_BACKLOG = 5
# Fields slack_sdk sends as JSON strings when it form-encodes a request.
_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")


@dataclass(frozen=True)
class ApiCall:
    """One Web API call as received: method name, merged arguments and the reply sent.

    ``handled_in`` is how long the fake took over it, waiting for its lock included (0 for
    a call refused before it reached the method, for a bad body).
    """

    method: str
    args: dict[str, Any]
    at: float
    response: dict[str, Any] = field(default_factory=dict)
    handled_in: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the fake answered ``"ok": true``."""
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        """The Slack error code of the reply, if it failed."""
        error = self.response.get("error")
        return error if isinstance(error, str) else None


@dataclass(frozen=True)
class ResponsePost:
    """One accepted JSON post to a response_url; ``handled_in`` as for ApiCall."""

    url: str
    body: dict[str, Any]
    at: float = 0.0
    handled_in: float = 0.0

    @property
    def replace_original(self) -> bool:
        """Whether the post asked Slack to replace the message it came from."""
        return bool(self.body.get("replace_original"))

    @property
    def delete_original(self) -> bool:
        """Whether the post asked Slack to delete the message it came from."""
        return bool(self.body.get("delete_original"))


Recorded = ApiCall | ResponsePost
_R = TypeVar("_R", ApiCall, ResponsePost)


@dataclass
class _Fault:
    error: str
    status: int
    headers: dict[str, str]
    times: int
    delay: float = 0.0  # seconds to hold the answer (past the client's timeout: a timeout)
    drop: bool = False  # close the connection without answering
    match: dict[str, str] = field(default_factory=dict)  # only calls with these arguments


class _DropConnection(Exception):
    """The handler closes the connection without an answer, after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__("dropped")
        self.delay = delay


@dataclass
class _ResponseUrl:
    created_at: float
    source: tuple[str, str] | None  # (channel, ts) of the message it came from
    uses: int = 0


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeSlackApi, backlog: int) -> None:
        self.request_queue_size = backlog  # read by listen() in the constructor
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class FakeSlackApi(SlackWorkspace):
    """Slack's Web API and response_url endpoints, served on 127.0.0.1 on a free port.

    All state is guarded by one lock; handler threads take it for each request, so calls
    are processed one at a time, in arrival order. ``backlog`` is the listen backlog.
    """

    def __init__(
        self,
        bot_token: str,
        *,
        users: Iterable[SlackUser] = (),
        channels: Iterable[SlackChannel] = (),
        usergroups: Mapping[str, Iterable[str]] | None = None,
        bot_user_id: str = "U0SARVBOT",
        bot_name: str = "sarvbot",
        team_id: str = "T0SARV",
        team_domain: str = "sarv",
        trigger_ttl: float = 3.0,
        response_url_ttl: float = 30 * 60.0,
        clock: Callable[[], float] = time.monotonic,
        backlog: int = DEFAULT_BACKLOG,
    ) -> None:
        super().__init__(
            bot_token,
            users=users,
            channels=channels,
            usergroups=usergroups,
            bot_user_id=bot_user_id,
            bot_name=bot_name,
            team_id=team_id,
            team_domain=team_domain,
            trigger_ttl=trigger_ttl,
            clock=clock,
        )
        self.response_url_ttl = response_url_ttl
        self.backlog = backlog
        self._changed = threading.Condition(self._lock)
        self._calls: list[ApiCall] = []
        self._posts: list[ResponsePost] = []
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._subscribers: list[Callable[[Recorded], None]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeSlackApi:
        """Bind a free port on 127.0.0.1 and serve on a daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakeSlackApi is already running")
        self._server = _Server(self, self.backlog)
        # A short poll interval keeps stop() (and so each test's teardown) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-slack-api",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeSlackApi:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        if self._server is None:
            raise RuntimeError("FakeSlackApi is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL to give ``WebClient(base_url=...)``."""
        return f"{self.base_url}/api/"

    def new_response_url(
        self, *, channel_id: str | None = None, message_ts: str | None = None
    ) -> str:
        """A fresh absolute response_url on this server; it accepts 5 posts.

        Give the channel and ts of the message a button was clicked in, and posts with
        ``replace_original``/``delete_original`` change that message in ``messages``.
        """
        source = (channel_id, message_ts) if channel_id and message_ts else None
        with self._lock:
            key = secrets.token_urlsafe(12)
            self._response_urls[key] = _ResponseUrl(self._clock(), source)
        return f"{self.base_url}/response/{key}"

    # -- fault injection and observers -------------------------------------------------

    def fail_next(
        self,
        method: str,
        error: str,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
        *,
        delay: float = 0.0,
        drop: bool = False,
        match: Mapping[str, str] | None = None,
    ) -> None:
        """Make the next ``times`` calls to ``method`` fail with ``error``.

        ``delay`` holds each answer that long first (longer than the client waits makes a
        timeout); ``drop`` closes the connection without any answer, as a broken network
        would. The call is recorded either way (with ``error``), and it has no effect.
        ``match`` limits the fault to calls whose arguments hold those values.
        """
        with self._lock:
            fault = _Fault(
                error,
                status,
                dict(headers or {}),
                times,
                delay=delay,
                drop=drop,
                match=dict(match or {}),
            )
            self._faults.setdefault(method, []).append(fault)

    def subscribe(self, callback: Callable[[Recorded], None]) -> Callable[[], None]:
        """Call ``callback`` with each ApiCall/ResponsePost once recorded.

        Callbacks run on the server's request threads, outside the lock. Returns a function
        that unsubscribes.
        """
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    # -- recorded calls ----------------------------------------------------------------

    @property
    def calls(self) -> list[ApiCall]:
        """All Web API calls so far, oldest first."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[ApiCall]:
        """The calls to one method, oldest first."""
        with self._lock:
            return [c for c in self._calls if c.method == method]

    @property
    def posts(self) -> list[ResponsePost]:
        """All accepted response_url posts, oldest first."""
        with self._lock:
            return list(self._posts)

    def clear(self) -> None:
        """Forget recorded calls and posts; workspace, messages and views are kept."""
        with self._lock:
            self._calls.clear()
            self._posts.clear()

    def wait_for(self, predicate: Callable[[ApiCall], bool] | str, timeout: float = 5.0) -> ApiCall:
        """Block until a recorded call matches, and return the first match.

        ``predicate`` may be a method name. Raises AssertionError listing the calls seen.
        """
        match = _as_predicate(predicate)
        return self._wait(self._calls, match, timeout, "Slack API call", "calls")

    def wait_for_post(
        self, predicate: Callable[[ResponsePost], bool] | None = None, timeout: float = 5.0
    ) -> ResponsePost:
        """Block until a response_url post matches (any post if no predicate)."""
        match = predicate or (lambda _post: True)
        return self._wait(self._posts, match, timeout, "response_url post", "posts")

    def _wait(
        self,
        recorded: list[_R],
        match: Callable[[_R], bool],
        timeout: float,
        what: str,
        plural: str,
    ) -> _R:
        """The first item of ``recorded`` that matches, once there is one."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((item for item in recorded if match(item)), None), timeout
            )
            if found is None:
                raise AssertionError(
                    f"no matching {what} within {timeout}s; {plural} so far:\n"
                    + _summarise(recorded)
                )
            return found

    # -- request handling (called from handler threads) -------------------------------

    def _handle_api(
        self, method: str, args: dict[str, Any], bearer: str | None
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        started = time.perf_counter()
        fault: _Fault | None = None
        with self._lock:
            status, headers = 200, {}
            token = bearer or args.pop("token", None)
            args.pop("token", None)
            try:
                self._check_token(method, token)
                fault = self._take_fault(method, args)
                if fault is not None:
                    status, headers = fault.status, fault.headers
                    raise ApiError(fault.error, fault.status)
                reply = {"ok": True, **self._answer(method, args)}
            except ApiError as exc:
                reply = {"ok": False, "error": exc.code}
            call = ApiCall(method, args, self._clock(), reply, time.perf_counter() - started)
            self._calls.append(call)
            self._changed.notify_all()
        self._notify(call)
        if fault is not None and fault.drop:
            raise _DropConnection(fault.delay)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)  # the client has given up by now: this is its timeout
        return status, headers, reply

    def _handle_response_post(self, key: str, body: dict[str, Any]) -> tuple[int, str]:
        started = time.perf_counter()
        with self._lock:
            entry = self._response_urls.get(key)
            if entry is None:
                return 404, "no_active_hooks"
            if self._clock() - entry.created_at > self.response_url_ttl:
                return 404, "expired_url"
            if entry.uses >= RESPONSE_URL_MAX_POSTS:
                return 404, "used_url"
            error = check_message_limits(
                text=body.get("text"),
                blocks=body.get("blocks"),
                max_blocks=MAX_MESSAGE_BLOCKS,
                require_content=not body.get("delete_original"),
            )
            if error is not None:
                return 400, error
            entry.uses += 1
            self._apply_response(entry.source, body)
            url = f"{self.base_url}/response/{key}"
            post = ResponsePost(url, body, self._clock(), time.perf_counter() - started)
            self._posts.append(post)
            self._changed.notify_all()
        self._notify(post)
        return 200, "ok"

    def _record_rejected(self, method: str, error: str) -> None:
        with self._lock:
            call = ApiCall(method, {}, self._clock(), {"ok": False, "error": error})
            self._calls.append(call)
            self._changed.notify_all()
        self._notify(call)

    def _notify(self, item: Recorded) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(item)
            except Exception:
                logger.exception("FakeSlackApi subscriber failed")

    def _take_fault(self, method: str, args: Mapping[str, Any]) -> _Fault | None:
        queue = self._faults.get(method) or []
        for fault in queue:
            if all(str(args.get(key)) == value for key, value in fault.match.items()):
                fault.times -= 1
                if fault.times <= 0:
                    queue.remove(fault)
                return fault
        return None


def _as_predicate(predicate: Callable[[ApiCall], bool] | str) -> Callable[[ApiCall], bool]:
    if isinstance(predicate, str):
        method = predicate
        return lambda call: call.method == method
    return predicate


def _summarise(items: Iterable[Recorded]) -> str:
    lines = []
    for number, item in enumerate(items, 1):
        if isinstance(item, ApiCall):
            outcome = "ok" if item.ok else f"error={item.error}"
            lines.append(f"  {number}. {item.method} {_short(item.args)} -> {outcome}")
        else:
            lines.append(f"  {number}. POST {item.url} {_short(item.body)}")
    return "\n".join(lines) or "  (none)"


def _short(value: object, limit: int = 160) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """Decode a JSON or form body into arguments; form-encoded JSON fields are decoded."""
    text = raw.decode("utf-8")
    if content_type.split(";")[0].strip().lower() == "application/json":
        data = json.loads(text) if text.strip() else {}
        if not isinstance(data, dict):
            raise ValueError("JSON body must be an object")
        return data
    args: dict[str, Any] = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=False))
    for name in _JSON_FIELDS:
        if isinstance(args.get(name), str) and args[name]:
            try:
                args[name] = json.loads(args[name])
            except ValueError:
                code = "invalid_blocks_format" if name == "blocks" else "invalid_arguments"
                raise ApiError(code) from None
    return args


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # a stalled client must not hold a thread forever

    def do_POST(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake slack: %s", format % args)

    def _dispatch(self) -> None:
        fake = self.server.fake
        try:
            url = urlsplit(self.path)
            if url.path.startswith("/api/"):
                self._api(fake, url.path.removeprefix("/api/"), url.query)
            elif url.path.startswith("/response/") and self.command == "POST":
                self._response_url(fake, url.path.removeprefix("/response/"))
            else:
                self._drain()
                self._send(404, {"ok": False, "error": "not_found"})
        except Exception:
            logger.exception("fake slack failed on %s", self.path)
            self._send(500, {"ok": False, "error": "fatal_error"})

    def _api(self, fake: FakeSlackApi, method: str, query: str) -> None:
        try:
            raw = self._read_body()
            args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
            args.update(_parse_body(raw, self.headers.get("Content-Type", "")))
        except ValueError:  # bad JSON, bad UTF-8
            fake._record_rejected(method, "invalid_arguments")
            self._send(200, {"ok": False, "error": "invalid_arguments"})
            return
        except ApiError as exc:
            fake._record_rejected(method, exc.code)
            self._send(exc.status, {"ok": False, "error": exc.code})
            return
        auth = self.headers.get("Authorization", "")
        bearer = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
        try:
            status, headers, reply = fake._handle_api(method, args, bearer)
        except _DropConnection as dropped:
            time.sleep(dropped.delay)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(status, reply, headers)

    def _response_url(self, fake: FakeSlackApi, key: str) -> None:
        try:
            body = json.loads(self._read_body().decode("utf-8"))
        except ApiError as exc:
            self._send_text(exc.status, exc.code)
            return
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._send_text(400, "invalid_payload")
            return
        status, text = fake._handle_response_post(key, cast(dict[str, Any], body))
        self._send_text(status, text)

    def _content_length(self) -> int | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        return length if length >= 0 else None

    def _read_body(self) -> bytes:
        """The request body; raises ApiError if its length is bad or over the limit."""
        length = self._content_length()
        if length is None:
            self.close_connection = True
            raise ApiError("invalid_arguments")
        if length > MAX_BODY_BYTES:
            # Read and drop it, so the client gets the reply rather than a reset connection.
            self._drain(length)
            raise ApiError("request_too_large", 413)
        return self.rfile.read(length)

    def _drain(self, length: int | None = None) -> None:
        remaining = self._content_length() if length is None else length
        remaining = min(remaining or 0, 16 * MAX_BODY_BYTES)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                break
            remaining -= len(chunk)
        self.close_connection = True

    def _send(
        self, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        self._send_bytes(status, json.dumps(body).encode(), "application/json", headers)

    def _send_text(self, status: int, text: str) -> None:
        self._send_bytes(status, text.encode(), "text/plain")

    def _send_bytes(
        self,
        status: int,
        payload: bytes,
        media_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"{media_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
