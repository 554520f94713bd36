"""Requests as Slack sends them to an app's Request URL: signed, form-encoded bodies.

The body builders are pure functions returning the raw body string; ``sign`` gives the
headers; ``SlackAppClient`` posts both to a running app.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests

if TYPE_CHECKING:
    from sarvbot.standin.slack_server import FakeSlackApi

__all__ = [
    "SlackAppClient",
    "block_actions_body",
    "block_suggestion_body",
    "find_action",
    "function_executed_event",
    "global_shortcut_body",
    "sign",
    "slash_command_body",
    "state_values",
    "user_context",
    "view_closed_body",
    "view_submission_body",
]

DEFAULT_TEAM_DOMAIN = "sarv"
DEFAULT_API_APP_ID = "A0SARVBOT"
# The deprecated verification token Slack still puts in every payload.
DEFAULT_VERIFICATION_TOKEN = "sarvbot-verification-token"  # noqa: S105

_VALUE_ELEMENTS = {"plain_text_input", "email_text_input", "url_text_input", "number_input"}
_OPTION_ELEMENTS = {"static_select", "radio_buttons", "external_select"}
_SELECTED_KEYS = {
    "users_select": "selected_user",
    "conversations_select": "selected_conversation",
    "channels_select": "selected_channel",
}


def sign(signing_secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack sends with ``body``: timestamp, ``v0=`` HMAC-SHA256 signature, type."""
    ts = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{ts}:{body}".encode()
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def slash_command_body(
    *,
    command: str,
    text: str,
    user_id: str,
    user_name: str,
    channel_id: str,
    channel_name: str,
    team_id: str,
    response_url: str,
    trigger_id: str,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_API_APP_ID,
    token: str = DEFAULT_VERIFICATION_TOKEN,
) -> str:
    """The form body of a slash command invocation (no enterprise fields)."""
    return urlencode(
        {
            "token": token,
            "team_id": team_id,
            "team_domain": team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def block_actions_body(
    *,
    user_id: str,
    user_name: str,
    team_id: str,
    channel_id: str | None,
    message: Mapping[str, Any] | None,
    container: Mapping[str, Any],
    actions: list[dict[str, Any]],
    response_url: str | None,
    trigger_id: str,
    view: Mapping[str, Any] | None = None,
    channel_name: str = "",
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_API_APP_ID,
    token: str = DEFAULT_VERIFICATION_TOKEN,
) -> str:
    """``payload=<json>`` for a block_actions interaction.

    Each action needs ``action_id`` and ``block_id``; ``type`` defaults to ``"button"`` and
    ``action_ts`` to now. ``message`` is omitted when None (clicks in ephemeral messages and
    modals); ``channel`` and ``response_url`` are omitted when None (clicks in modals).
    """
    now = f"{time.time():.6f}"
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": token,
        "container": dict(container),
        "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
    }
    if channel_id is not None:
        payload["channel"] = {"id": channel_id, "name": channel_name}
    if message is not None:
        payload["message"] = dict(message)
    if view is not None:
        payload["view"] = dict(view)
    payload["state"] = {"values": {}}
    if response_url is not None:
        payload["response_url"] = response_url
    payload["actions"] = [{"type": "button", "action_ts": now, **action} for action in actions]
    return _payload_body(payload)


def event_callback_body(
    event: Mapping[str, Any],
    *,
    team_id: str,
    event_id: str,
    api_app_id: str = DEFAULT_API_APP_ID,
    token: str = DEFAULT_VERIFICATION_TOKEN,
) -> str:
    """A JSON ``event_callback`` body, as the Events API posts one."""
    return json.dumps(
        {
            "token": token,
            "team_id": team_id,
            "api_app_id": api_app_id,
            "event": dict(event),
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": team_id, "is_bot": True}],
        }
    )


def user_context(user_id: str) -> dict[str, str]:
    """A ``slack#/types/user_context`` value, as Slack fills it in from whoever ran the
    workflow: their ID and an opaque ``secret`` no workflow author can make up.
    """
    return {"id": user_id, "secret": secrets.token_urlsafe(24)}


def function_executed_event(
    *,
    callback_id: str,
    inputs: object,
    function_execution_id: str,
    bot_access_token: str,
    app_id: str = DEFAULT_API_APP_ID,
) -> dict[str, Any]:
    """A ``function_executed`` event: a workflow ran the app's step ``callback_id``.

    Slack puts the step's own workflow token in it as ``bot_access_token``. ``inputs`` is
    sent as given (a mapping, or anything else to test how a bad event is met).
    """
    now = time.time()
    return {
        "type": "function_executed",
        "function": {
            "id": f"Fn{secrets.token_hex(5).upper()}",
            "callback_id": callback_id,
            "title": callback_id,
            "description": "",
            "type": "app",
            "input_parameters": [],
            "output_parameters": [],
            "app_id": app_id,
            "date_created": int(now),
            "date_updated": int(now),
            "date_deleted": 0,
        },
        "inputs": dict(inputs) if isinstance(inputs, Mapping) else inputs,
        "function_execution_id": function_execution_id,
        "workflow_execution_id": f"Wx{secrets.token_hex(5).upper()}",
        "event_ts": f"{now:.6f}",
        "bot_access_token": bot_access_token,
    }


def message_shortcut_body(
    *,
    callback_id: str,
    user_id: str,
    user_name: str,
    team_id: str,
    channel_id: str,
    message: Mapping[str, Any],
    response_url: str,
    trigger_id: str,
    channel_name: str = "",
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    token: str = DEFAULT_VERIFICATION_TOKEN,
) -> str:
    """``payload=<json>`` for a message shortcut (``message_action``).

    As Slack sends it: the whole message, the channel it is in, a response_url and a
    trigger_id, and no ``api_app_id``.
    """
    payload: dict[str, Any] = {
        "type": "message_action",
        "token": token,
        "action_ts": f"{time.time():.6f}",
        "team": {"id": team_id, "domain": team_domain},
        "user": _user(user_id, user_name, team_id),
        "channel": {"id": channel_id, "name": channel_name},
        "callback_id": callback_id,
        "trigger_id": trigger_id,
        "message_ts": str(message.get("ts", "")),
        "message": {"type": "message", **message},
        "response_url": response_url,
    }
    return _payload_body(payload)


def view_submission_body(
    *,
    user_id: str,
    team_id: str,
    view: Mapping[str, Any],
    trigger_id: str,
    values: Mapping[str, Mapping[str, str | None]] | None = None,
    user_name: str | None = None,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_API_APP_ID,
    token: str = DEFAULT_VERIFICATION_TOKEN,
    response_urls: list[dict[str, str]] | None = None,
) -> str:
    """``payload=<json>`` for a modal submission.

    ``values`` is ``{block_id: {action_id: value}}`` as a person would type or pick it; it
    is nested into ``view.state.values`` the way Slack does for the element found in the
    view (``{"type": "plain_text_input", "value": ...}``, or ``selected_option`` with the
    matching option for a static_select). Without ``values`` the view's own state is sent.
    ``response_urls`` are those Slack gives for a conversations_select with
    ``response_url_enabled`` (``block_id``, ``action_id``, ``channel_id``, ``response_url``).
    """
    sent_view = copy.deepcopy(dict(view))
    if values is not None:
        sent_view["state"] = {"values": state_values(view, values)}
    sent_view.setdefault("state", {"values": {}})
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": team_domain},
        "user": _user(user_id, user_name or user_id, team_id),
        "api_app_id": api_app_id,
        "token": token,
        "trigger_id": trigger_id,
        "view": sent_view,
        "response_urls": list(response_urls or []),
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_body(payload)


def view_closed_body(
    *,
    user_id: str,
    team_id: str,
    view: Mapping[str, Any],
    is_cleared: bool = False,
    user_name: str | None = None,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_API_APP_ID,
    token: str = DEFAULT_VERIFICATION_TOKEN,
) -> str:
    """``payload=<json>`` Slack sends when a modal with ``notify_on_close`` is closed."""
    payload = {
        "type": "view_closed",
        "team": {"id": team_id, "domain": team_domain},
        "user": _user(user_id, user_name or user_id, team_id),
        "api_app_id": api_app_id,
        "token": token,
        "view": copy.deepcopy(dict(view)),
        "is_cleared": is_cleared,
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_body(payload)


def state_values(
    view: Mapping[str, Any], values: Mapping[str, Mapping[str, str | None]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Nest typed-in values the way Slack reports them in ``view.state.values``.

    Raises ValueError if a block/action pair is not in the view, or a select has no option
    with the given value.
    """
    state: dict[str, dict[str, dict[str, Any]]] = {}
    for block_id, by_action in values.items():
        for action_id, value in by_action.items():
            element = _input_element(view.get("blocks") or [], block_id, action_id)
            state.setdefault(block_id, {})[action_id] = _element_state(element, value)
    return state


def find_action(
    blocks: list[dict[str, Any]], action_id: str, value: str | None = None
) -> tuple[str, dict[str, Any]]:
    """The ``(block_id, element)`` of the interactive element with ``action_id``.

    When several elements share the action_id, ``value`` picks one. Raises LookupError.
    """
    for block in blocks:
        for element in _elements(block):
            if element.get("action_id") != action_id:
                continue
            if value is not None and element.get("value") != value:
                continue
            return str(block.get("block_id", "")), element
    raise LookupError(f"no element with action_id={action_id!r} value={value!r} in blocks")


class SlackAppClient:
    """Posts signed Slack requests to an app's Request URL with ``requests``.

    Give it the fake API as ``slack`` to have response_urls and trigger_ids minted there
    and user/channel names looked up from its workspace.
    """

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        *,
        slack: FakeSlackApi | None = None,
        team_id: str = "T0SARV",
        timeout: float = 10.0,
    ) -> None:
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.slack = slack
        self.team_id = team_id
        self.timeout = timeout
        self.session = requests.Session()

    def post(
        self, body: str, *, timestamp: int | None = None, content_type: str | None = None
    ) -> requests.Response:
        """Sign ``body`` (now, or at ``timestamp``) and post it to the app."""
        headers = sign(self.signing_secret, body, timestamp)
        if content_type is not None:
            headers["Content-Type"] = content_type
        return self.session.post(
            self.app_url, data=body.encode(), headers=headers, timeout=self.timeout
        )

    def command(
        self,
        command: str,
        text: str = "",
        *,
        user_id: str,
        channel_id: str,
        user_name: str | None = None,
        channel_name: str | None = None,
        response_url: str | None = None,
        trigger_id: str | None = None,
    ) -> requests.Response:
        """Invoke a slash command as ``user_id`` in ``channel_id``."""
        body = slash_command_body(
            command=command,
            text=text,
            user_id=user_id,
            user_name=user_name or self._user_name(user_id),
            channel_id=channel_id,
            channel_name=channel_name or self._channel_name(channel_id),
            team_id=self.team_id,
            response_url=response_url or self._response_url(),
            trigger_id=trigger_id or self._trigger_id(user_id),
        )
        return self.post(body)

    def click(
        self,
        action_id: str,
        *,
        user_id: str,
        value: str | None = None,
        message: Mapping[str, Any] | None = None,
        channel_id: str | None = None,
        ephemeral: bool = False,
        view: Mapping[str, Any] | None = None,
        user_name: str | None = None,
        response_url: str | None = None,
        trigger_id: str | None = None,
    ) -> requests.Response:
        """Click the button ``action_id`` in a message or a modal.

        For a message pass ``message`` (with ``ts`` and ``blocks``, e.g. from
        ``FakeSlackApi.messages``) and ``channel_id``; set ``ephemeral`` for an ephemeral
        message, which Slack then leaves out of the payload. For a modal pass ``view``.
        ``value`` picks among buttons sharing an action_id; the button's own value is sent.
        """
        source = view if view is not None else message
        if source is None:
            raise ValueError("click() needs the message or the view that holds the button")
        block_id, element = find_action(list(source.get("blocks") or []), action_id, value)
        action = {"action_id": action_id, "block_id": block_id, "type": element["type"]}
        if "value" in element:
            action["value"] = element["value"]
        if isinstance(element.get("text"), dict):
            action["text"] = element["text"]
        container: dict[str, Any]
        url: str | None = None  # Slack sends no response_url for clicks in modals
        if view is not None:
            container = {"type": "view", "view_id": view.get("id")}
        else:
            # Only a channel message can be replaced through the fake's messages state.
            url = response_url or self._response_url(None if ephemeral else channel_id, source)
            container = {
                "type": "message",
                "message_ts": source.get("ts"),
                "channel_id": channel_id,
                "is_ephemeral": ephemeral,
            }
        body = block_actions_body(
            user_id=user_id,
            user_name=user_name or self._user_name(user_id),
            team_id=self.team_id,
            channel_id=None if view is not None else channel_id,
            channel_name=self._channel_name(channel_id) if channel_id else "",
            message=None if view is not None or ephemeral else message,
            container=container,
            actions=[action],
            response_url=url,
            trigger_id=trigger_id or self._trigger_id(user_id),
            view=view,
        )
        return self.post(body)

    def choose(
        self,
        view: Mapping[str, Any],
        block_id: str,
        action_id: str,
        value: str,
        *,
        user_id: str,
    ) -> requests.Response:
        """Choose ``value`` in a select of ``view`` whose input block dispatches its action.

        The choice joins what the person entered (kept in the fake, when given), and the app
        gets the block_actions Slack sends: the action, and ``view`` (its id and hash as
        passed, so an old view sends a stale hash) with the entered state.
        """
        element = _input_element(view.get("blocks") or [], block_id, action_id)
        chosen = _element_state(element, value)
        sent = copy.deepcopy(dict(view))
        entered: dict[str, Any] = copy.deepcopy(dict(sent.get("state") or {}).get("values") or {})
        if self.slack is not None and view.get("id") in self.slack.views:
            now = self.slack.enter(str(view["id"]), {block_id: {action_id: chosen}})
            entered = copy.deepcopy(now["state"]["values"])
        else:
            entered.setdefault(block_id, {})[action_id] = chosen
        sent["state"] = {"values": entered}
        body = block_actions_body(
            user_id=user_id,
            user_name=self._user_name(user_id),
            team_id=self.team_id,
            channel_id=None,
            message=None,
            container={"type": "view", "view_id": view.get("id")},
            actions=[{"action_id": action_id, "block_id": block_id, **chosen}],
            response_url=None,
            trigger_id=self._trigger_id(user_id),
            view=sent,
        )
        return self.post(body)

    def enter(
        self, view: Mapping[str, Any], values: Mapping[str, Mapping[str, str | None]]
    ) -> dict[str, Any]:
        """Fill in inputs of ``view`` as its person would, without sending anything: the
        fake keeps them, as Slack keeps what is typed until the form is submitted.
        """
        if self.slack is None:
            raise ValueError("give SlackAppClient the fake as slack= to enter values")
        return self.slack.enter(str(view.get("id")), state_values(view, values))

    def message_shortcut(
        self,
        callback_id: str,
        message: Mapping[str, Any],
        *,
        user_id: str,
        channel_id: str,
    ) -> requests.Response:
        """Use a message shortcut on ``message`` (with ``text`` and ``ts``) in ``channel_id``."""
        body = message_shortcut_body(
            callback_id=callback_id,
            user_id=user_id,
            user_name=self._user_name(user_id),
            team_id=self.team_id,
            channel_id=channel_id,
            channel_name=self._channel_name(channel_id),
            message=message,
            response_url=self._response_url(channel_id, message),
            trigger_id=self._trigger_id(user_id),
        )
        return self.post(body)

    def global_shortcut(self, callback_id: str, *, user_id: str) -> requests.Response:
        """Use a global shortcut (from search or the composer: no channel, no message)."""
        body = global_shortcut_body(
            callback_id=callback_id,
            user_id=user_id,
            user_name=self._user_name(user_id),
            team_id=self.team_id,
            trigger_id=self._trigger_id(user_id),
        )
        return self.post(body)

    def suggest(
        self, view: Mapping[str, Any], action_id: str, typed: str, *, user_id: str
    ) -> requests.Response:
        """Type ``typed`` into the external_select ``action_id`` of ``view``: Slack asks
        the app for its options.
        """
        block_id, _ = find_action(list(view.get("blocks") or []), action_id)
        body = block_suggestion_body(
            user_id=user_id,
            user_name=self._user_name(user_id),
            team_id=self.team_id,
            view=view,
            block_id=block_id,
            action_id=action_id,
            value=typed,
        )
        return self.post(body)

    def _response_urls(
        self, view: Mapping[str, Any], values: Mapping[str, Mapping[str, str | None]]
    ) -> list[dict[str, str]]:
        found = []
        for block_id, by_action in values.items():
            for action_id, value in by_action.items():
                element = _input_element(view.get("blocks") or [], block_id, action_id)
                if element.get("response_url_enabled") and value and self.slack is not None:
                    url = self.slack.new_response_url(channel_id=value)
                    found.append(
                        {
                            "block_id": block_id,
                            "action_id": action_id,
                            "channel_id": value,
                            "response_url": url,
                        }
                    )
        return found

    def event(self, event: Mapping[str, Any], *, event_id: str | None = None) -> requests.Response:
        """Deliver one Events API event (a message posted or edited, say)."""
        # Slack's event ids are unique across the workspace, whoever the client is.
        body = event_callback_body(
            event, team_id=self.team_id, event_id=event_id or f"Ev{secrets.token_hex(8).upper()}"
        )
        return self.post(body, content_type="application/json")

    def function_executed(
        self,
        callback_id: str,
        inputs: object,
        *,
        function_execution_id: str | None = None,
        bot_access_token: str | None = None,
        event_id: str | None = None,
    ) -> requests.Response:
        """A workflow reaches the app's step ``callback_id`` with ``inputs``.

        The execution (its id and workflow token) is started in the fake API given as
        ``slack``, unless both are passed.
        """
        if function_execution_id is None or bot_access_token is None:
            if self.slack is None:
                raise ValueError("pass the execution, or give SlackAppClient the fake as slack=")
            execution = self.slack.start_function(callback_id)
            function_execution_id = function_execution_id or execution.id
            bot_access_token = bot_access_token or execution.bot_access_token
        event = function_executed_event(
            callback_id=callback_id,
            inputs=inputs,
            function_execution_id=function_execution_id,
            bot_access_token=bot_access_token,
        )
        return self.event(event, event_id=event_id)

    def submit_view(
        self,
        view: Mapping[str, Any],
        values: Mapping[str, Mapping[str, str | None]] | None = None,
        *,
        user_id: str,
        user_name: str | None = None,
        trigger_id: str | None = None,
    ) -> requests.Response:
        """Submit a modal (e.g. from ``FakeSlackApi.views``) with typed-in ``values``."""
        body = view_submission_body(
            user_id=user_id,
            user_name=user_name or self._user_name(user_id),
            team_id=self.team_id,
            view=view,
            trigger_id=trigger_id or self._trigger_id(user_id),
            values=values,
            response_urls=self._response_urls(view, values or {}),
        )
        return self.post(body)

    def close_view(
        self, view: Mapping[str, Any], *, user_id: str, is_cleared: bool = False
    ) -> requests.Response:
        """Close a modal, as Slack reports it to an app that asked with notify_on_close."""
        body = view_closed_body(
            user_id=user_id,
            user_name=self._user_name(user_id),
            team_id=self.team_id,
            view=view,
            is_cleared=is_cleared,
        )
        return self.post(body)

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    def _user_name(self, user_id: str) -> str:
        if self.slack is not None:
            try:
                return self.slack.user(user_id).name
            except KeyError:
                pass
        return user_id

    def _channel_name(self, channel_id: str) -> str:
        if channel_id.startswith("D"):
            return "directmessage"
        if self.slack is not None:
            try:
                return self.slack.channel(channel_id).name
            except KeyError:
                pass
        return channel_id

    def _response_url(
        self, channel_id: str | None = None, message: Mapping[str, Any] | None = None
    ) -> str:
        if self.slack is None:
            raise ValueError("pass response_url, or give SlackAppClient the fake as slack=")
        ts = message.get("ts") if message is not None else None
        return self.slack.new_response_url(
            channel_id=channel_id, message_ts=ts if isinstance(ts, str) else None
        )

    def _trigger_id(self, user_id: str) -> str:
        if self.slack is None:
            raise ValueError("pass trigger_id, or give SlackAppClient the fake as slack=")
        return self.slack.new_trigger_id(user_id)


def _user(user_id: str, user_name: str, team_id: str) -> dict[str, str]:
    return {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id}


def _payload_body(payload: Mapping[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def _elements(block: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    if isinstance(block.get("accessory"), dict):
        yield block["accessory"]
    if isinstance(block.get("element"), dict):
        yield block["element"]
    for element in block.get("elements") or []:
        if isinstance(element, dict):
            yield element


def _input_element(blocks: list[dict[str, Any]], block_id: str, action_id: str) -> dict[str, Any]:
    for block in blocks:
        if block.get("block_id") != block_id:
            continue
        for element in _elements(block):
            if element.get("action_id") == action_id:
                return element
    raise ValueError(f"the view has no element {block_id!r}/{action_id!r}")


def _element_state(element: Mapping[str, Any], value: str | None) -> dict[str, Any]:
    kind = str(element.get("type"))
    if kind in _OPTION_ELEMENTS:
        selected = None
        if value is not None:
            selected = next(
                (o for o in _options(element) if o.get("value") == value),
                None,
            )
            if selected is None and kind == "external_select":
                selected = _offered_option(value)
            if selected is None:
                raise ValueError(f"{element.get('action_id')!r} has no option {value!r}")
        return {"type": kind, "selected_option": selected}
    if kind in _SELECTED_KEYS:
        return {"type": kind, _SELECTED_KEYS[kind]: value}
    if kind in _VALUE_ELEMENTS:
        return {"type": kind, "value": value}
    raise ValueError(f"cannot fill an element of type {kind!r}")


def _options(element: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    yield from element.get("options") or []
    for group in element.get("option_groups") or []:
        yield from group.get("options") or []


def _offered_option(value: str) -> dict[str, Any]:
    """The option an app offered for ``value`` in an external_select, as Slack echoes it."""
    return {"text": {"type": "plain_text", "text": value, "emoji": True}, "value": value}


def global_shortcut_body(
    *,
    callback_id: str,
    user_id: str,
    user_name: str,
    team_id: str,
    trigger_id: str,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    token: str = DEFAULT_VERIFICATION_TOKEN,
) -> str:
    """``payload=<json>`` for a global shortcut (``shortcut``).

    As Slack sends it: a trigger_id, and no channel, message, response_url or api_app_id.
    """
    payload: dict[str, Any] = {
        "type": "shortcut",
        "token": token,
        "action_ts": f"{time.time():.6f}",
        "team": {"id": team_id, "domain": team_domain},
        "user": _user(user_id, user_name, team_id),
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id,
    }
    return _payload_body(payload)


def block_suggestion_body(
    *,
    user_id: str,
    user_name: str,
    team_id: str,
    view: Mapping[str, Any],
    block_id: str,
    action_id: str,
    value: str,
    team_domain: str = DEFAULT_TEAM_DOMAIN,
    api_app_id: str = DEFAULT_API_APP_ID,
    token: str = DEFAULT_VERIFICATION_TOKEN,
) -> str:
    """``payload=<json>`` Slack sends for an external_select's options as someone types
    (``block_suggestion``): what was typed as ``value``, and the view it is in.
    """
    payload: dict[str, Any] = {
        "type": "block_suggestion",
        "user": _user(user_id, user_name, team_id),
        "container": {"type": "view", "view_id": str(view.get("id", ""))},
        "api_app_id": api_app_id,
        "token": token,
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": copy.deepcopy(dict(view)),
    }
    return _payload_body(payload)
