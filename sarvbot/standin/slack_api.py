"""A local HTTP server that answers like Slack's Web API, for tests and the terminal demo.

Point ``slack_sdk.WebClient(token=..., base_url=fake.api_url)`` at it. It keeps a small
workspace (users, channels, user groups), records every call, and checks the limits and
errors Slack documents for the methods sarvbot uses.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "ApiCall",
    "ApiError",
    "FakeSlackApi",
    "Recorded",
    "ResponsePost",
    "SlackChannel",
    "SlackUser",
    "check_message_limits",
]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT_OBJECT_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_MESSAGE_CHARS = 40_000
RESPONSE_URL_MAX_POSTS = 5
# Fields slack_sdk sends as JSON strings when it form-encodes a request.
_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")


@dataclass
class SlackUser:
    """A workspace member. ``guest`` maps to ``is_restricted`` in users.info."""

    id: str
    name: str
    team_id: str = "T0SARV"
    is_bot: bool = False
    guest: bool = False
    deleted: bool = False
    messages_tab_enabled: bool = True
    single_channel_guest: bool = False


@dataclass
class SlackChannel:
    """A public or private channel; ``members`` holds user ids."""

    id: str
    name: str
    members: set[str] = field(default_factory=set)
    is_private: bool = False


@dataclass(frozen=True)
class ApiCall:
    """One Web API call as received: method name, merged arguments and the reply sent."""

    method: str
    args: dict[str, Any]
    at: float
    response: dict[str, Any] = field(default_factory=dict)

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
    """One accepted JSON post to a response_url."""

    url: str
    body: dict[str, Any]
    at: float = 0.0

    @property
    def replace_original(self) -> bool:
        """Whether the post asked Slack to replace the message it came from."""
        return bool(self.body.get("replace_original"))

    @property
    def delete_original(self) -> bool:
        """Whether the post asked Slack to delete the message it came from."""
        return bool(self.body.get("delete_original"))


Recorded = ApiCall | ResponsePost


class ApiError(Exception):
    """A Slack error reply: ``{"ok": false, "error": code}`` with an HTTP status."""

    def __init__(self, code: str, status: int = 200) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


def check_message_limits(
    *, text: object, blocks: object, max_blocks: int, require_content: bool = True
) -> str | None:
    """Return the Slack error code a message or view would get for its size, or None.

    ``blocks`` is the decoded block list (or None); ``max_blocks`` is 50 for messages and
    100 for views.
    """
    if blocks is not None:
        if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
            return "invalid_blocks_format"
        if len(blocks) > max_blocks:
            return "invalid_blocks"
        for block in blocks:
            if _block_too_long(block):
                return "invalid_blocks"
    if text is not None and not isinstance(text, str):
        return "invalid_arguments"
    if isinstance(text, str) and len(text) > MAX_MESSAGE_CHARS:
        return "msg_too_long"
    if require_content and not text and not blocks:
        return "no_text"
    return None


def _block_too_long(block: Mapping[str, Any]) -> bool:
    def text_of(obj: object) -> str:
        if isinstance(obj, dict):
            value = obj.get("text", "")
            return value if isinstance(value, str) else ""
        return ""

    kind = block.get("type")
    if kind == "section":
        fields = block.get("fields") or []
        return len(text_of(block.get("text"))) > MAX_TEXT_OBJECT_CHARS or (
            isinstance(fields, list) and any(len(text_of(f)) > 2000 for f in fields)
        )
    if kind == "context":
        elements = block.get("elements") or []
        return isinstance(elements, list) and any(
            len(text_of(e)) > MAX_TEXT_OBJECT_CHARS for e in elements
        )
    if kind == "header":
        return len(text_of(block.get("text"))) > MAX_HEADER_CHARS
    return False


@dataclass
class _Trigger:
    user_id: str
    minted_at: float
    used: bool = False


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

    def __init__(self, fake: FakeSlackApi) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class FakeSlackApi:
    """Slack's Web API and response_url endpoints, served on 127.0.0.1 on a free port.

    All state is guarded by one lock; handler threads take it for each request, so calls
    are processed one at a time, in arrival order.
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
    ) -> None:
        self.bot_token = bot_token
        self.bot_user_id = bot_user_id
        self.bot_id = "B" + bot_user_id[1:]
        self.app_id = "A" + bot_user_id[1:]
        self.team_id = team_id
        self.team_domain = team_domain
        self.trigger_ttl = trigger_ttl
        self.response_url_ttl = response_url_ttl
        self._clock = clock
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._users: dict[str, SlackUser] = {}
        self._channels: dict[str, SlackChannel] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._ims: dict[str, str] = {}  # user id -> IM channel id
        self._im_users: dict[str, str] = {}  # IM channel id -> user id
        self._calls: list[ApiCall] = []
        self._posts: list[ResponsePost] = []
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._subscribers: list[Callable[[Recorded], None]] = []
        self._ts_micros = 1_700_000_000_000_000
        self._serial = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # App-level tokens (xapp-) and where apps.connections.open gets a websocket URL.
        self._app_tokens: set[str] = set()
        self._open_socket: Callable[[], str] | None = None

        self.add_user(SlackUser(bot_user_id, bot_name, team_id=team_id, is_bot=True))
        for user in users:
            self.add_user(user)
        for channel in channels:
            self.add_channel(channel)
        for group_id, members in (usergroups or {}).items():
            self.add_usergroup(group_id, members)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeSlackApi:
        """Bind a free port on 127.0.0.1 and serve on a daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakeSlackApi is already running")
        self._server = _Server(self)
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

    # -- workspace ---------------------------------------------------------------------

    def add_user(self, user: SlackUser) -> SlackUser:
        """Add or replace a workspace member."""
        with self._lock:
            self._users[user.id] = user
        return user

    def add_channel(self, channel: SlackChannel, *, with_bot: bool = True) -> SlackChannel:
        """Add or replace a channel, returning the stored copy.

        By default the bot is made a member, as after ``/invite @sarvbot``.
        """
        members = set(channel.members) | ({self.bot_user_id} if with_bot else set())
        stored = replace(channel, members=members)
        with self._lock:
            self._channels[stored.id] = stored
        return stored

    def add_usergroup(self, group_id: str, members: Iterable[str]) -> None:
        """Add or replace a user group (``S…`` id) and its members."""
        with self._lock:
            self._usergroups[group_id] = list(members)

    def user(self, user_id: str) -> SlackUser:
        """The member with this id (KeyError if none)."""
        with self._lock:
            return self._users[user_id]

    def channel(self, channel_id: str) -> SlackChannel:
        """The channel with this id (KeyError if none; IMs are not channels here)."""
        with self._lock:
            return self._channels[channel_id]

    def im_channel_id(self, user_id: str) -> str:
        """The stable ``D…`` id of the bot's IM with a user, opening it if needed."""
        with self._lock:
            im = self._ims.get(user_id)
            if im is None:
                im = "D" + user_id[1:]
                while im in self._im_users or im in self._channels:
                    im += "X"
                self._ims[user_id] = im
                self._im_users[im] = user_id
            return im

    # -- minted ids --------------------------------------------------------------------

    def new_trigger_id(self, user_id: str) -> str:
        """A fresh trigger_id, as Slack puts in a command or interaction payload."""
        with self._lock:
            trigger_id = f"{self._next_serial()}.{secrets.token_hex(4)}.{secrets.token_hex(16)}"
            self._triggers[trigger_id] = _Trigger(user_id, self._clock())
            return trigger_id

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

    # -- Socket Mode -------------------------------------------------------------------

    def enable_socket_mode(self, app_token: str, open_connection: Callable[[], str]) -> None:
        """Accept ``app_token`` for ``apps.connections.open``, answered with a fresh URL.

        ``open_connection`` mints the URL, e.g. ``FakeSocketMode.open_connection_url``.
        """
        if not app_token.startswith("xapp-"):
            raise ValueError("an app-level token starts with xapp-")
        with self._lock:
            self._app_tokens.add(app_token)
            self._open_socket = open_connection

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
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((c for c in self._calls if match(c)), None), timeout
            )
            if found is None:
                raise AssertionError(
                    f"no matching Slack API call within {timeout}s; calls so far:\n"
                    + _summarise(self._calls)
                )
            return found

    def wait_for_post(
        self, predicate: Callable[[ResponsePost], bool] | None = None, timeout: float = 5.0
    ) -> ResponsePost:
        """Block until a response_url post matches (any post if no predicate)."""
        match = predicate or (lambda _post: True)
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((p for p in self._posts if match(p)), None), timeout
            )
            if found is None:
                raise AssertionError(
                    f"no matching response_url post within {timeout}s; posts so far:\n"
                    + _summarise(self._posts)
                )
            return found

    # -- state -------------------------------------------------------------------------

    @property
    def messages(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Current channel messages by (channel id, ts), after updates and deletes."""
        with self._lock:
            return {key: dict(msg) for key, msg in self._messages.items()}

    @property
    def ephemerals(self) -> list[dict[str, Any]]:
        """Every accepted ephemeral message: channel, user, message_ts, text, blocks."""
        with self._lock:
            return [dict(e) for e in self._ephemerals]

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        """Current views by view id, as Slack would return them."""
        with self._lock:
            return {vid: dict(view) for vid, view in self._views.items()}

    # -- request handling (called from handler threads) -------------------------------

    def _handle_api(
        self, method: str, args: dict[str, Any], bearer: str | None
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        fault: _Fault | None = None
        with self._lock:
            status, headers = 200, {}
            token = bearer or args.pop("token", None)
            args.pop("token", None)
            try:
                _check_token(self, method, token)
                fault = self._take_fault(method, args)
                if fault is not None:
                    status, headers = fault.status, fault.headers
                    raise ApiError(fault.error, fault.status)
                handler = _METHODS.get(method)
                if handler is None:
                    raise ApiError("unknown_method")
                reply = {"ok": True, **handler(self, args)}
            except ApiError as exc:
                reply = {"ok": False, "error": exc.code}
            call = ApiCall(method, args, self._clock(), reply)
            self._calls.append(call)
            self._changed.notify_all()
        self._notify(call)
        if fault is not None and fault.drop:
            raise _DropConnection(fault.delay)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)  # the client has given up by now: this is its timeout
        return status, headers, reply

    def _socket_url(self) -> str:
        if self._open_socket is None:
            raise ApiError("invalid_auth")
        return self._open_socket()

    def _handle_response_post(self, key: str, body: dict[str, Any]) -> tuple[int, str]:
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
            self._apply_to_source(entry.source, body)
            post = ResponsePost(f"{self.base_url}/response/{key}", body, self._clock())
            self._posts.append(post)
            self._changed.notify_all()
        self._notify(post)
        return 200, "ok"

    def _apply_to_source(self, source: tuple[str, str] | None, body: Mapping[str, Any]) -> None:
        message = self._messages.get(source) if source else None
        if source is None or message is None:
            return
        if body.get("delete_original"):
            del self._messages[source]
        elif body.get("replace_original"):
            message["text"] = body.get("text") or ""
            for name in ("blocks", "attachments"):
                if name in body:
                    message[name] = body[name]
                else:
                    message.pop(name, None)

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

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _next_ts(self) -> str:
        self._ts_micros += 100
        return f"{self._ts_micros // 1_000_000}.{self._ts_micros % 1_000_000:06d}"

    # -- lookups shared by methods -----------------------------------------------------

    def _members_of(self, channel_id: str) -> set[str]:
        if channel_id in self._im_users:
            return {self._im_users[channel_id], self.bot_user_id}
        channel = self._channels.get(channel_id)
        if channel is None:
            raise ApiError("channel_not_found")
        return channel.members

    def _postable_channel(self, channel_arg: Any) -> str:
        """Resolve a chat.* ``channel`` argument to a channel id the bot may post in."""
        channel_id = _required_str(channel_arg, "channel_not_found")
        if channel_id in self._users:
            channel_id = self._open_im(channel_id)
        if channel_id in self._im_users:
            if not self._users[self._im_users[channel_id]].messages_tab_enabled:
                raise ApiError("messages_tab_disabled")
            return channel_id
        channel = self._channels.get(channel_id)
        if channel is None or (channel.is_private and self.bot_user_id not in channel.members):
            raise ApiError("channel_not_found")
        if self.bot_user_id not in channel.members:
            raise ApiError("not_in_channel")
        return channel_id

    def _open_im(self, user_id: str) -> str:
        user = self._users.get(user_id)
        if user is None:
            raise ApiError("user_not_found")
        if user.deleted:
            raise ApiError("user_disabled")
        return self.im_channel_id(user_id)

    def _use_trigger(self, trigger_arg: Any) -> _Trigger:
        trigger_id = _required_str(trigger_arg, "invalid_trigger_id")
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise ApiError("invalid_trigger_id")
        if trigger.used:
            raise ApiError("exchanged_trigger_id")
        if self._clock() - trigger.minted_at > self.trigger_ttl:
            raise ApiError("expired_trigger_id")
        return trigger

    def _store_view(self, view_arg: Any, *, view_id: str | None = None) -> dict[str, Any]:
        view = _decoded(view_arg)
        if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
            raise ApiError("invalid_arguments")
        error = check_message_limits(
            text=None,
            blocks=view.get("blocks", []),
            max_blocks=MAX_VIEW_BLOCKS,
            require_content=False,
        )
        if error is not None:
            raise ApiError(error)
        previous = self._views.get(view_id) if view_id else None
        stored: dict[str, Any] = {
            "id": view_id or f"V{self._next_serial():010d}",
            "team_id": self.team_id,
            "type": view["type"],
            "title": view.get("title"),
            "submit": view.get("submit"),
            "close": view.get("close"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "previous_view_id": previous.get("previous_view_id") if previous else None,
            "root_view_id": previous.get("root_view_id") if previous else None,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        if stored["root_view_id"] is None:
            stored["root_view_id"] = stored["id"]
        self._views[stored["id"]] = stored
        return stored

    def _message(self, args: Mapping[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "text": args.get("text") or "",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "team": self.team_id,
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if args.get(key) is not None:
                message[key] = args[key]
        return message


# -- Web API methods ------------------------------------------------------------------


def _check_token(fake: FakeSlackApi, method: str, token: str | None) -> None:
    """Raise the error Slack gives for a missing, unknown or wrong kind of token."""
    if not token:
        raise ApiError("not_authed")
    # apps.connections.open takes only an app-level token; every other method, a bot token.
    wanted, other = (
        (fake._app_tokens, {fake.bot_token})
        if method in _APP_TOKEN_METHODS
        else ({fake.bot_token}, fake._app_tokens)
    )
    if token in other:
        raise ApiError("not_allowed_token_type")
    if token not in wanted:
        raise ApiError("invalid_auth")


def _apps_connections_open(fake: FakeSlackApi, args: dict[str, Any]) -> dict[str, Any]:
    return {"url": fake._socket_url()}


# Each takes the fake (lock held) and the call's arguments, and returns the reply's fields
# besides "ok", or raises ApiError.


def _auth_test(fake: FakeSlackApi, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": f"https://{fake.team_domain}.slack.com/",
        "team": fake.team_domain,
        "user": fake._users[fake.bot_user_id].name,
        "team_id": fake.team_id,
        "user_id": fake.bot_user_id,
        "bot_id": fake.bot_id,
        "is_enterprise_install": False,
    }


def _bots_info(fake: FakeSlackApi, args: dict[str, Any]) -> dict[str, Any]:
    # Slack knows only the bot ids of its workspace; "bot" names the one asked about.
    if args.get("bot") != fake.bot_id:
        raise ApiError("bot_not_found")
    icons = "https://a.slack-edge.com/80588/img/plugins/app/bot_{}.png"
    return {
        "bot": {
            "id": fake.bot_id,
            "deleted": False,
            "name": fake._users[fake.bot_user_id].name,
            "updated": 1_700_000_000,
            "app_id": fake.app_id,
            "user_id": fake.bot_user_id,
            "icons": {f"image_{size}": icons.format(size) for size in (36, 48, 72)},
        }
    }


def _conversations_open(fake: FakeSlackApi, args: dict[str, Any]) -> dict[str, Any]:
    if args.get("channel"):
        channel_id = str(args["channel"])
        if channel_id not in fake._im_users:
            raise ApiError("channel_not_found")
        return {"channel": {"id": channel_id}, "no_op": True, "already_open": True}
    users = [u for u in str(args.get("users") or "").split(",") if u]
    if len(users) != 1:
        raise ApiError("invalid_arguments" if not users else "not_supported")
    already_open = users[0] in fake._ims
    channel_id = fake._open_im(users[0])
    reply: dict[str, Any] = {"channel": {"id": channel_id}}
    if already_open:
        reply.update(no_op=True, already_open=True)
    return reply


def _conversations_members(fake: FakeSlackApi, args: dict[str, Any]) -> dict[str, Any]:
    channel_id = _required_str(args.get("channel"), "channel_not_found")
    members = sorted(fake._members_of(channel_id))
    limit = _int_arg(args.get("limit"), default=100)
    if limit <= 0 or limit > 1000:
        limit = 100 if limit <= 0 else 1000
    start = _decode_cursor(args.get("cursor"))
    page = members[start : start + limit]
    end = start + len(page)
    next_cursor = _encode_cursor(end) if end < len(members) else ""
    return {"members": page, "response_metadata": {"next_cursor": next_cursor}}


def _users_info(fake: FakeSlackApi, args: dict[str, Any]) -> dict[str, Any]:
    user = fake._users.get(str(args.get("user") or ""))
    if user is None:
        raise ApiError("user_not_found")
    return {
        "user": {
            "id": user.id,
            "team_id": user.team_id,
            "name": user.name,
            "real_name": user.name,
            "deleted": user.deleted,
            "is_admin": False,
            "is_owner": False,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "is_restricted": user.guest or user.single_channel_guest,
            "is_ultra_restricted": user.single_channel_guest,
            "profile": {"real_name": user.name, "display_name": user.name, "team": user.team_id},
        }
    }


def _usergroups_users_list(fake: FakeSlackApi, args: dict[str, Any]) -> dict[str, Any]:
    members = fake._usergroups.get(str(args.get("usergroup") or ""))
    if members is None:
        raise ApiError("no_such_subteam")
    return {"users": list(members)}


def _chat_post_message(fake: FakeSlackApi, args: dict[str, Any]) -> dict[str, Any]:
    channel_id = fake._postable_channel(args.get("channel"))
    _check(args, MAX_MESSAGE_BLOCKS)
    ts = fake._next_ts()
    message = fake._message(args, ts)
    fake._messages[(channel_id, ts)] = message
    return {"channel": channel_id, "ts": ts, "message": dict(message)}


def _chat_post_ephemeral(fake: FakeSlackApi, args: dict[str, Any]) -> dict[str, Any]:
    user_id = str(args.get("user") or "")
    channel_arg = args.get("channel")
    if isinstance(channel_arg, str) and channel_arg in fake._users:
        channel_arg = fake._open_im(channel_arg)
    channel_id = _required_str(channel_arg, "channel_not_found")
    if user_id not in fake._members_of(channel_id):
        raise ApiError("user_not_in_channel")
    channel_id = fake._postable_channel(channel_id)
    _check(args, MAX_MESSAGE_BLOCKS)
    ts = fake._next_ts()
    fake._ephemerals.append(
        {
            "channel": channel_id,
            "user": user_id,
            "message_ts": ts,
            "text": args.get("text") or "",
            "blocks": args.get("blocks"),
        }
    )
    return {"message_ts": ts}


def _chat_update(fake: FakeSlackApi, args: dict[str, Any]) -> dict[str, Any]:
    key = (str(args.get("channel") or ""), str(args.get("ts") or ""))
    message = fake._messages.get(key)
    if message is None:
        raise ApiError("message_not_found")
    _check(args, MAX_MESSAGE_BLOCKS)
    for name in ("text", "blocks", "attachments", "metadata"):
        if name in args:
            message[name] = args[name]
    message["edited"] = {"user": fake.bot_user_id, "ts": fake._next_ts()}
    return {"channel": key[0], "ts": key[1], "text": message["text"], "message": dict(message)}


def _views_open(fake: FakeSlackApi, args: dict[str, Any]) -> dict[str, Any]:
    trigger = fake._use_trigger(args.get("trigger_id"))
    view = fake._store_view(args.get("view"))
    trigger.used = True
    return {"view": dict(view)}


def _views_update(fake: FakeSlackApi, args: dict[str, Any]) -> dict[str, Any]:
    view_id = args.get("view_id")
    if not view_id and args.get("external_id"):
        view_id = next(
            (v["id"] for v in fake._views.values() if v["external_id"] == args["external_id"]),
            None,
        )
    if not isinstance(view_id, str) or view_id not in fake._views:
        raise ApiError("not_found")
    expected_hash = args.get("hash")
    if expected_hash and expected_hash != fake._views[view_id]["hash"]:
        raise ApiError("hash_conflict")
    return {"view": dict(fake._store_view(args.get("view"), view_id=view_id))}


_METHODS: dict[str, Callable[[FakeSlackApi, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": _auth_test,
    "bots.info": _bots_info,
    "conversations.open": _conversations_open,
    "conversations.members": _conversations_members,
    "users.info": _users_info,
    "usergroups.users.list": _usergroups_users_list,
    "chat.postMessage": _chat_post_message,
    "chat.postEphemeral": _chat_post_ephemeral,
    "chat.update": _chat_update,
    "views.open": _views_open,
    "views.update": _views_update,
    "apps.connections.open": _apps_connections_open,
}
_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


# -- argument helpers -----------------------------------------------------------------


def _check(args: Mapping[str, Any], max_blocks: int) -> None:
    error = check_message_limits(
        text=args.get("text"), blocks=args.get("blocks"), max_blocks=max_blocks
    )
    if error is not None:
        raise ApiError(error)


def _required_str(value: object, error: str) -> str:
    if not isinstance(value, str) or not value:
        raise ApiError(error)
    return value


def _decoded(value: object) -> object:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _int_arg(value: object, *, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ApiError("invalid_arguments")
    try:
        return int(value)
    except ValueError:
        raise ApiError("invalid_arguments") from None


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: object) -> int:
    if not cursor:
        return 0
    try:
        prefix, _, number = base64.b64decode(str(cursor), validate=True).decode().partition(":")
        if prefix != "offset":
            raise ValueError(prefix)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError("invalid_cursor") from None


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
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_text(self, status: int, text: str) -> None:
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
