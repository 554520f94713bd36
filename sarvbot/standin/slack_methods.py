"""The Slack Web API methods sarvbot calls, answered from a small in-memory workspace.

``SlackWorkspace`` holds what the stand-in Slack knows (members, channels, user groups,
IMs, messages, views and the trigger_ids it minted) and answers each method with the
replies, errors and limits Slack documents for it. It speaks no HTTP:
``sarvbot.standin.slack_server.FakeSlackApi`` serves it.

Only the methods sarvbot, Bolt and slack_sdk's Socket Mode client call are here; any
other gets ``unknown_method``.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .block_kit import MAX_MESSAGE_BLOCKS, MAX_VIEW_BLOCKS, check_message_limits

__all__ = ["ApiError", "FunctionExecution", "SlackChannel", "SlackUser", "SlackWorkspace"]


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


class ApiError(Exception):
    """A Slack error reply: ``{"ok": false, "error": code}`` with an HTTP status."""

    def __init__(self, code: str, status: int = 200) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


@dataclass
class FunctionExecution:
    """One run of an app's custom step in a workflow, as Slack tracks it.

    ``bot_access_token`` is the workflow token Slack puts in the ``function_executed``
    event; ``completed_with`` says which token completed it (``bot`` or ``workflow``).
    """

    id: str
    callback_id: str
    bot_access_token: str
    state: str = "running"  # then "completed" or "failed"
    outputs: dict[str, Any] | None = None
    error: str | None = None
    completed_with: str | None = None


@dataclass
class _Trigger:
    user_id: str
    minted_at: float
    used: bool = False


class SlackWorkspace:
    """A Slack workspace as its Web API shows it to one bot, and the methods that use it.

    All state is guarded by one reentrant lock; the public methods take it, and the Web
    API methods run with it held.
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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot_token = bot_token
        self.bot_user_id = bot_user_id
        self.bot_id = "B" + bot_user_id[1:]
        self.app_id = "A" + bot_user_id[1:]
        self.team_id = team_id
        self.team_domain = team_domain
        self.trigger_ttl = trigger_ttl
        self._clock = clock
        self._lock = threading.RLock()
        self._users: dict[str, SlackUser] = {}
        self._channels: dict[str, SlackChannel] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._ims: dict[str, str] = {}  # user id -> IM channel id
        self._im_users: dict[str, str] = {}  # IM channel id -> user id
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._homes: dict[str, dict[str, Any]] = {}  # user id -> their Home tab's view
        self._triggers: dict[str, _Trigger] = {}
        self._ts_micros = 1_700_000_000_000_000
        self._serial = 0
        # App-level tokens (xapp-) and where apps.connections.open gets a websocket URL.
        self._app_tokens: set[str] = set()
        self._open_socket: Callable[[], str] | None = None
        # Custom steps run in workflows, and the token of the call being answered.
        self._executions: dict[str, FunctionExecution] = {}
        self._workflow_tokens: set[str] = set()
        self._caller_kind = "bot"

        self.add_user(SlackUser(bot_user_id, bot_name, team_id=team_id, is_bot=True))
        for user in users:
            self.add_user(user)
        for channel in channels:
            self.add_channel(channel)
        for group_id, members in (usergroups or {}).items():
            self.add_usergroup(group_id, members)

    # -- members, channels, groups -----------------------------------------------------

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

    def new_trigger_id(self, user_id: str) -> str:
        """A fresh trigger_id, as Slack puts in a command or interaction payload."""
        with self._lock:
            trigger_id = f"{self._next_serial()}.{secrets.token_hex(4)}.{secrets.token_hex(16)}"
            self._triggers[trigger_id] = _Trigger(user_id, self._clock())
            return trigger_id

    def enter(
        self, view_id: str, values: Mapping[str, Mapping[str, Mapping[str, Any]]]
    ) -> dict[str, Any]:
        """The person fills in inputs of an open view, ``{block_id: {action_id: state}}`` as
        ``view.state.values`` holds them; returns the view as it now is.
        """
        with self._lock:
            view = self._views[view_id]
            state = view["state"]["values"]
            for block_id, by_action in values.items():
                state.setdefault(block_id, {}).update(by_action)
            return dict(view)

    def start_function(self, callback_id: str) -> FunctionExecution:
        """A workflow reaches the app's step ``callback_id``: a running execution, with the
        function_execution_id and workflow token its ``function_executed`` event carries.
        """
        with self._lock:
            execution = FunctionExecution(
                id=f"Fx{self._next_serial():04d}{secrets.token_hex(4).upper()}",
                callback_id=callback_id,
                bot_access_token="xwfp-" + secrets.token_hex(16),
            )
            self._executions[execution.id] = execution
            self._workflow_tokens.add(execution.bot_access_token)
            return replace(execution)

    def function_execution(self, execution_id: str) -> FunctionExecution:
        """An execution as it stands (KeyError if Slack never started it)."""
        with self._lock:
            return replace(self._executions[execution_id])

    def enable_socket_mode(self, app_token: str, open_connection: Callable[[], str]) -> None:
        """Accept ``app_token`` for ``apps.connections.open``, answered with a fresh URL.

        ``open_connection`` mints the URL, e.g. ``FakeSocketMode.open_connection_url``.
        """
        if not app_token.startswith("xapp-"):
            raise ValueError("an app-level token starts with xapp-")
        with self._lock:
            self._app_tokens.add(app_token)
            self._open_socket = open_connection

    # -- what the methods left behind --------------------------------------------------

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

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The Home tab view last published for a user, or None."""
        with self._lock:
            view = self._homes.get(user_id)
            return dict(view) if view else None

    # -- answering a call (lock held) --------------------------------------------------

    def _check_token(self, method: str, token: str | None) -> None:
        """Raise the error Slack gives for a missing, unknown or wrong kind of token."""
        if not token:
            raise ApiError("not_authed")
        # apps.connections.open takes only an app-level token; every other method, a bot token.
        wanted, other = (
            (self._app_tokens, {self.bot_token})
            if method in _APP_TOKEN_METHODS
            else ({self.bot_token}, self._app_tokens)
        )
        if token in other:
            raise ApiError("not_allowed_token_type")
        if token in self._workflow_tokens and method not in _APP_TOKEN_METHODS:
            self._caller_kind = "workflow"  # a step's token acts as the bot, within its run
            return
        if token not in wanted:
            raise ApiError("invalid_auth")
        self._caller_kind = "bot"

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """The fields of a successful reply besides ``ok``; ApiError for a failed one."""
        handler = _METHODS.get(method)
        if handler is None:
            raise ApiError("unknown_method")
        return handler(self, args)

    def _apply_response(self, source: tuple[str, str] | None, body: Mapping[str, Any]) -> None:
        """Replace or delete the message a response_url came from, as its post asks."""
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

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _next_ts(self) -> str:
        self._ts_micros += 100
        return f"{self._ts_micros // 1_000_000}.{self._ts_micros % 1_000_000:06d}"

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
            "state": {"values": _kept_state(previous, view.get("blocks", []))},
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
# Each takes the workspace (lock held) and the call's arguments, and returns the reply's
# fields besides "ok", or raises ApiError.


def _apps_connections_open(ws: SlackWorkspace, args: dict[str, Any]) -> dict[str, Any]:
    if ws._open_socket is None:
        raise ApiError("invalid_auth")
    return {"url": ws._open_socket()}


def _auth_test(ws: SlackWorkspace, args: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_domain,
        "user": ws._users[ws.bot_user_id].name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def _bots_info(ws: SlackWorkspace, args: dict[str, Any]) -> dict[str, Any]:
    # Slack knows only the bot ids of its workspace; "bot" names the one asked about.
    if args.get("bot") != ws.bot_id:
        raise ApiError("bot_not_found")
    icons = "https://a.slack-edge.com/80588/img/plugins/app/bot_{}.png"
    return {
        "bot": {
            "id": ws.bot_id,
            "deleted": False,
            "name": ws._users[ws.bot_user_id].name,
            "updated": 1_700_000_000,
            "app_id": ws.app_id,
            "user_id": ws.bot_user_id,
            "icons": {f"image_{size}": icons.format(size) for size in (36, 48, 72)},
        }
    }


def _conversations_open(ws: SlackWorkspace, args: dict[str, Any]) -> dict[str, Any]:
    if args.get("channel"):
        channel_id = str(args["channel"])
        if channel_id not in ws._im_users:
            raise ApiError("channel_not_found")
        return {"channel": {"id": channel_id}, "no_op": True, "already_open": True}
    users = [u for u in str(args.get("users") or "").split(",") if u]
    if len(users) != 1:
        raise ApiError("invalid_arguments" if not users else "not_supported")
    already_open = users[0] in ws._ims
    channel_id = ws._open_im(users[0])
    reply: dict[str, Any] = {"channel": {"id": channel_id}}
    if already_open:
        reply.update(no_op=True, already_open=True)
    return reply


def _conversations_members(ws: SlackWorkspace, args: dict[str, Any]) -> dict[str, Any]:
    channel_id = _required_str(args.get("channel"), "channel_not_found")
    members = sorted(ws._members_of(channel_id))
    limit = _int_arg(args.get("limit"), default=100)
    if limit <= 0 or limit > 1000:
        limit = 100 if limit <= 0 else 1000
    start = _decode_cursor(args.get("cursor"))
    page = members[start : start + limit]
    end = start + len(page)
    next_cursor = _encode_cursor(end) if end < len(members) else ""
    return {"members": page, "response_metadata": {"next_cursor": next_cursor}}


def _users_info(ws: SlackWorkspace, args: dict[str, Any]) -> dict[str, Any]:
    user = ws._users.get(str(args.get("user") or ""))
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


def _usergroups_users_list(ws: SlackWorkspace, args: dict[str, Any]) -> dict[str, Any]:
    members = ws._usergroups.get(str(args.get("usergroup") or ""))
    if members is None:
        raise ApiError("no_such_subteam")
    return {"users": list(members)}


def _chat_post_message(ws: SlackWorkspace, args: dict[str, Any]) -> dict[str, Any]:
    channel_id = ws._postable_channel(args.get("channel"))
    _check(args, MAX_MESSAGE_BLOCKS)
    ts = ws._next_ts()
    message = ws._message(args, ts)
    ws._messages[(channel_id, ts)] = message
    return {"channel": channel_id, "ts": ts, "message": dict(message)}


def _chat_post_ephemeral(ws: SlackWorkspace, args: dict[str, Any]) -> dict[str, Any]:
    user_id = str(args.get("user") or "")
    channel_arg = args.get("channel")
    if isinstance(channel_arg, str) and channel_arg in ws._users:
        channel_arg = ws._open_im(channel_arg)
    channel_id = _required_str(channel_arg, "channel_not_found")
    if user_id not in ws._members_of(channel_id):
        raise ApiError("user_not_in_channel")
    channel_id = ws._postable_channel(channel_id)
    _check(args, MAX_MESSAGE_BLOCKS)
    ts = ws._next_ts()
    ws._ephemerals.append(
        {
            "channel": channel_id,
            "user": user_id,
            "message_ts": ts,
            "text": args.get("text") or "",
            "blocks": args.get("blocks"),
        }
    )
    return {"message_ts": ts}


def _chat_update(ws: SlackWorkspace, args: dict[str, Any]) -> dict[str, Any]:
    key = (str(args.get("channel") or ""), str(args.get("ts") or ""))
    message = ws._messages.get(key)
    if message is None:
        raise ApiError("message_not_found")
    _check(args, MAX_MESSAGE_BLOCKS)
    for name in ("text", "blocks", "attachments", "metadata"):
        if name in args:
            message[name] = args[name]
    message["edited"] = {"user": ws.bot_user_id, "ts": ws._next_ts()}
    return {"channel": key[0], "ts": key[1], "text": message["text"], "message": dict(message)}


def _chat_get_permalink(ws: SlackWorkspace, args: dict[str, Any]) -> dict[str, Any]:
    # Slack answers for any message ts in a channel the app can see; the link is its form.
    channel = ws._postable_channel(args.get("channel"))
    ts = str(args.get("message_ts") or "")
    if not ts:
        raise ApiError("message_not_found")
    link = f"https://{ws.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    return {"channel": channel, "permalink": link}


def _views_open(ws: SlackWorkspace, args: dict[str, Any]) -> dict[str, Any]:
    trigger = ws._use_trigger(args.get("trigger_id"))
    view = ws._store_view(args.get("view"))
    trigger.used = True
    return {"view": dict(view)}


def _views_update(ws: SlackWorkspace, args: dict[str, Any]) -> dict[str, Any]:
    view_id = args.get("view_id")
    if not view_id and args.get("external_id"):
        view_id = next(
            (v["id"] for v in ws._views.values() if v["external_id"] == args["external_id"]),
            None,
        )
    if not isinstance(view_id, str) or view_id not in ws._views:
        raise ApiError("not_found")
    expected_hash = args.get("hash")
    if expected_hash and expected_hash != ws._views[view_id]["hash"]:
        raise ApiError("hash_conflict")
    return {"view": dict(ws._store_view(args.get("view"), view_id=view_id))}


def _kept_state(previous: Mapping[str, Any] | None, blocks: object) -> dict[str, Any]:
    """What the person entered that Slack keeps across views.update: the inputs whose
    block_id, action_id and element type stay the same.
    """
    if previous is None or not isinstance(blocks, list):
        return {}
    types = {
        (b.get("block_id"), b["element"].get("action_id")): b["element"].get("type")
        for b in blocks
        if isinstance(b, dict) and b.get("type") == "input" and isinstance(b.get("element"), dict)
    }
    kept: dict[str, Any] = {}
    for block_id, by_action in previous["state"]["values"].items():
        for action_id, state in by_action.items():
            if types.get((block_id, action_id)) == state.get("type"):
                kept.setdefault(block_id, {})[action_id] = dict(state)
    return kept


def _running_execution(ws: SlackWorkspace, args: Mapping[str, Any]) -> FunctionExecution:
    execution_id = _required_str(args.get("function_execution_id"), "invalid_arguments")
    execution = ws._executions.get(execution_id)
    if execution is None:
        raise ApiError("function_execution_not_found")
    if execution.state != "running":
        raise ApiError("execution_not_in_running_state")
    return execution


def _functions_complete_success(ws: SlackWorkspace, args: dict[str, Any]) -> dict[str, Any]:
    outputs = _decoded(args.get("outputs"))
    if not isinstance(outputs, dict):
        raise ApiError("invalid_arguments")
    execution = _running_execution(ws, args)
    execution.state, execution.outputs = "completed", dict(outputs)
    execution.completed_with = ws._caller_kind
    return {}


def _functions_complete_error(ws: SlackWorkspace, args: dict[str, Any]) -> dict[str, Any]:
    error = args.get("error")
    if not isinstance(error, str) or not error.strip():
        raise ApiError("invalid_arguments")
    execution = _running_execution(ws, args)
    execution.state, execution.error = "failed", error
    execution.completed_with = ws._caller_kind
    return {}


def _views_publish(ws: SlackWorkspace, args: dict[str, Any]) -> dict[str, Any]:
    # One Home tab view per user: publishing again replaces it (same id, a new hash).
    user_id = args.get("user_id")
    user = ws._users.get(user_id) if isinstance(user_id, str) else None
    if user is None or user.deleted or user.is_bot:
        raise ApiError("invalid_arguments")  # Slack: "invalid `user_id`"
    view = _decoded(args.get("view"))
    if not isinstance(view, dict) or view.get("type") != "home":
        raise ApiError("invalid_arguments")
    current = ws._homes.get(user.id)
    expected_hash = args.get("hash")
    if expected_hash and current and expected_hash != current["hash"]:
        raise ApiError("hash_conflict")
    # Kept apart from the modals (``views``): a Home tab is no modal to submit or close.
    stored = ws._store_view(view, view_id=current["id"] if current else None)
    ws._homes[user.id] = ws._views.pop(stored["id"])
    return {"view": dict(stored)}


_METHODS: dict[str, Callable[[SlackWorkspace, dict[str, Any]], dict[str, Any]]] = {
    "apps.connections.open": _apps_connections_open,
    "auth.test": _auth_test,
    "bots.info": _bots_info,
    "conversations.open": _conversations_open,
    "conversations.members": _conversations_members,
    "users.info": _users_info,
    "usergroups.users.list": _usergroups_users_list,
    "chat.postMessage": _chat_post_message,
    "chat.postEphemeral": _chat_post_ephemeral,
    "chat.update": _chat_update,
    "chat.getPermalink": _chat_get_permalink,
    "views.open": _views_open,
    "views.update": _views_update,
    "functions.completeSuccess": _functions_complete_success,
    "functions.completeError": _functions_complete_error,
    "views.publish": _views_publish,
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
