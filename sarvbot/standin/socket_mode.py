"""A local Socket Mode server: Slack's side of the websocket an app opens in Socket Mode.

The app calls ``apps.connections.open`` on the fake Web API with its app-level token and
gets a single-use ``ws://127.0.0.1:PORT/link/?ticket=...`` URL from this server. On connect
the server says ``hello``; it then sends envelopes (``slash_commands``, ``interactive``,
``events_api``) and records the acks the app sends back. Tests can ask it to refresh a
connection (``disconnect`` with a reason), drop a socket without a close frame, and ping.

``websockets`` is imported when the server starts, not with this module: the stand-ins
ship in the package, and the product must not need it at run time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, parse_qsl, urlsplit

if TYPE_CHECKING:
    from websockets.http11 import Request, Response
    from websockets.sync.server import Server, ServerConnection

__all__ = [
    "Ack",
    "DisconnectReason",
    "Envelope",
    "EnvelopeType",
    "FakeSocketMode",
    "envelope_from_body",
]

logger = logging.getLogger(__name__)

EnvelopeType = Literal["slash_commands", "interactive", "events_api"]
DisconnectReason = Literal["refresh_requested", "warning", "link_disabled"]

# A ticket from apps.connections.open is good for one connection, for this long.
TICKET_TTL = 30.0


@dataclass(frozen=True)
class Envelope:
    """One envelope as sent to the app, and the connection it went out on."""

    envelope_id: str
    type: EnvelopeType
    payload: dict[str, Any]
    accepts_response_payload: bool
    retry_attempt: int
    retry_reason: str
    connection_id: int
    sent_at: float

    def message(self) -> dict[str, Any]:
        """The JSON object Slack sends on the socket (retries are counted for events only)."""
        message: dict[str, Any] = {
            "envelope_id": self.envelope_id,
            "type": self.type,
            "payload": self.payload,
            "accepts_response_payload": self.accepts_response_payload,
        }
        if self.type == "events_api":
            message["retry_attempt"] = self.retry_attempt
            message["retry_reason"] = self.retry_reason
        return message


@dataclass(frozen=True)
class Ack:
    """One acknowledgement received from the app: ``{"envelope_id", "payload"?}``."""

    envelope_id: str
    payload: dict[str, Any] | None
    connection_id: int
    at: float


@dataclass
class _Link:
    id: int
    connection: ServerConnection
    opened_at: float
    ready: bool = False  # hello sent
    told_to_disconnect: bool = False
    closed: bool = False


@dataclass
class _State:
    tickets: dict[str, float] = field(default_factory=dict)  # ticket -> minted at
    links: list[_Link] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    stray_messages: list[str] = field(default_factory=list)


class FakeSocketMode:
    """Slack's Socket Mode endpoint, served on 127.0.0.1 on a free port.

    Envelopes go to the newest open connection that has not been told to disconnect; while
    there is none (the app is reconnecting), ``send`` waits for one, up to its timeout.
    """

    def __init__(
        self, *, app_id: str = "A0SARVBOT", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.app_id = app_id
        self._clock = clock
        self._changed = threading.Condition(threading.RLock())
        self._state = _State()
        self._serial = 0
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeSocketMode:
        """Bind a free port on 127.0.0.1 and serve on a daemon thread."""
        from websockets.sync.server import serve

        if self._server is not None:
            raise RuntimeError("FakeSocketMode is already running")
        self._server = serve(self._serve_link, "127.0.0.1", 0, process_request=self._check_ticket)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-socket-mode", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close every connection, stop serving and release the port. Safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        with self._changed:
            links = [link for link in self._state.links if not link.closed]
        for link in links:
            link.connection.close()
        if server is not None:
            server.shutdown()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeSocketMode:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._server is None:
            raise RuntimeError("FakeSocketMode is not running; call start() first")
        return int(self._server.socket.getsockname()[1])

    def open_connection_url(self) -> str:
        """A fresh single-use URL, as ``apps.connections.open`` returns it."""
        ticket = secrets.token_urlsafe(16)
        with self._changed:
            self._state.tickets[ticket] = self._clock()
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    # -- what tests do -----------------------------------------------------------------

    def send(
        self,
        type: EnvelopeType,
        payload: Mapping[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        timeout: float = 10.0,
    ) -> Envelope:
        """Send one envelope on the current connection and return it (without waiting).

        ``accepts_response_payload`` defaults to what Slack sends: true for slash commands
        and interactions, false for events. Raises AssertionError if no connection is open
        within ``timeout`` seconds.
        """
        if accepts_response_payload is None:
            accepts_response_payload = type != "events_api"
        with self._changed:
            link = self._changed.wait_for(self._current_link, timeout)
            if link is None:
                raise AssertionError(f"no open Socket Mode connection within {timeout}s")
            envelope = Envelope(
                envelope_id=f"{self._next_serial():08d}-{secrets.token_hex(8)}",
                type=type,
                payload=dict(payload),
                accepts_response_payload=accepts_response_payload,
                retry_attempt=retry_attempt,
                retry_reason=retry_reason,
                connection_id=link.id,
                sent_at=self._clock(),
            )
            self._state.envelopes.append(envelope)
        link.connection.send(json.dumps(envelope.message()))
        return envelope

    def wait_for_ack(self, envelope: Envelope | str, timeout: float = 3.0) -> Ack:
        """Block until the app acks ``envelope`` and return the ack.

        The default timeout is Slack's: an envelope not acked within 3 s has failed.
        """
        envelope_id = envelope if isinstance(envelope, str) else envelope.envelope_id

        def found() -> Ack | None:
            return next((a for a in self._state.acks if a.envelope_id == envelope_id), None)

        with self._changed:
            ack = self._changed.wait_for(found, timeout)
            if ack is None:
                raise AssertionError(
                    f"envelope {envelope_id} was not acked within {timeout}s; "
                    f"acks so far: {[a.envelope_id for a in self._state.acks]}"
                )
            return ack

    def deliver(
        self,
        type: EnvelopeType,
        payload: Mapping[str, Any],
        *,
        timeout: float = 3.0,
        connect_timeout: float = 10.0,
    ) -> tuple[Envelope, Ack]:
        """Send an envelope and wait (``timeout``, 3 s as Slack does) for its ack."""
        envelope = self.send(type, payload, timeout=connect_timeout)
        return envelope, self.wait_for_ack(envelope, timeout)

    def request_disconnect(self, reason: DisconnectReason = "refresh_requested") -> int:
        """Send ``{"type": "disconnect", "reason": ...}`` on the current connection.

        Returns the id of the connection told; no further envelopes go to it. The app is
        expected to open a new connection and close this one, as with Slack's refreshes.
        """
        with self._changed:
            link = self._current_link()
            if link is None:
                raise AssertionError("no open Socket Mode connection to disconnect")
            link.told_to_disconnect = True
            self._changed.notify_all()
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}}
        link.connection.send(json.dumps(message))
        return link.id

    def drop(self) -> int:
        """Cut the current connection's TCP socket with no close frame, as a network would.

        Returns the id of the connection dropped.
        """
        with self._changed:
            link = self._current_link()
            if link is None:
                raise AssertionError("no open Socket Mode connection to drop")
            link.told_to_disconnect = True  # nothing more is sent on it
            self._changed.notify_all()
        with contextlib.suppress(OSError):  # already gone
            link.connection.socket.shutdown(socket.SHUT_RDWR)
        return link.id

    def ping(self, timeout: float = 3.0) -> float:
        """Ping the current connection; return the seconds until the app's pong."""
        with self._changed:
            link = self._current_link()
        if link is None:
            raise AssertionError("no open Socket Mode connection to ping")
        started = time.monotonic()
        pong = link.connection.ping()
        if not pong.wait(timeout):
            raise AssertionError(f"no pong within {timeout}s")
        return time.monotonic() - started

    def wait_for_connection(self, after: int = 0, timeout: float = 15.0) -> int:
        """Block until a connection with an id above ``after`` is open; return its id."""

        def newer() -> int | None:
            link = self._current_link()
            return link.id if link is not None and link.id > after else None

        with self._changed:
            link_id = self._changed.wait_for(newer, timeout)
        if link_id is None:
            raise AssertionError(f"no new Socket Mode connection within {timeout}s")
        return link_id

    def wait_until_closed(self, link_id: int, timeout: float = 10.0) -> None:
        """Block until the connection ``link_id`` is closed (by either side)."""

        def closed() -> bool:
            return any(link.closed for link in self._state.links if link.id == link_id)

        with self._changed:
            if not self._changed.wait_for(closed, timeout):
                raise AssertionError(f"connection {link_id} still open after {timeout}s")

    # -- recorded ----------------------------------------------------------------------

    @property
    def envelopes(self) -> list[Envelope]:
        """Every envelope sent, oldest first."""
        with self._changed:
            return list(self._state.envelopes)

    @property
    def acks(self) -> list[Ack]:
        """Every ack received, oldest first (a repeated ack is recorded again)."""
        with self._changed:
            return list(self._state.acks)

    @property
    def open_connections(self) -> int:
        """How many app connections are open now."""
        with self._changed:
            return sum(1 for link in self._state.links if not link.closed)

    @property
    def connections_opened(self) -> int:
        """How many connections the app has opened so far."""
        with self._changed:
            return len(self._state.links)

    # -- server side (websockets threads) ----------------------------------------------

    def _current_link(self) -> _Link | None:
        for link in reversed(self._state.links):
            if link.ready and not link.closed and not link.told_to_disconnect:
                return link
        return None

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        from http import HTTPStatus

        url = urlsplit(request.path)
        ticket = (parse_qs(url.query).get("ticket") or [""])[0]
        with self._changed:
            minted = self._state.tickets.pop(ticket, None)
        if url.path.rstrip("/") != "/link" or minted is None:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid ticket\n")
        if self._clock() - minted > TICKET_TTL:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "expired ticket\n")
        return None

    def _serve_link(self, connection: ServerConnection) -> None:
        with self._changed:
            link = _Link(self._next_serial(), connection, self._clock())
            self._state.links.append(link)
            open_count = sum(1 for other in self._state.links if not other.closed)
        hello = {
            "type": "hello",
            "num_connections": open_count,
            "debug_info": {
                "host": f"applink-fake-{link.id}",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }
        try:
            connection.send(json.dumps(hello))
            with self._changed:
                # Only now may envelopes go to it: the app has its hello first, as from Slack.
                link.ready = True
                self._changed.notify_all()
            for message in connection:
                self._receive(link, message)
        except Exception as exc:  # a dropped socket ends the loop with an error
            logger.debug("socket mode link %s ended: %s", link.id, type(exc).__name__)
        finally:
            with self._changed:
                link.closed = True
                self._changed.notify_all()

    def _receive(self, link: _Link, message: str | bytes) -> None:
        text = message.decode() if isinstance(message, bytes) else message
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        with self._changed:
            if isinstance(data, dict) and isinstance(data.get("envelope_id"), str):
                payload = data.get("payload")
                self._state.acks.append(
                    Ack(
                        data["envelope_id"],
                        payload if isinstance(payload, dict) else None,
                        link.id,
                        self._clock(),
                    )
                )
            else:
                self._state.stray_messages.append(text)
            self._changed.notify_all()


def envelope_from_body(body: str) -> tuple[EnvelopeType, dict[str, Any]]:
    """The Socket Mode envelope type and payload for a body Slack would POST over HTTP.

    Takes what the builders in ``sarvbot.standin.signed_requests`` return: a slash command's form
    fields become the payload object; ``payload=<json>`` is an interaction; a JSON
    ``event_callback`` (an Events API body) is sent whole as an ``events_api`` payload.
    Slack sends ``url_verification`` and ``app_rate_limited`` only to a Request URL, so
    those are refused like anything else Socket Mode never carries.
    """
    if body.lstrip().startswith(("{", "[")):
        event = json.loads(body)
        if not isinstance(event, dict) or event.get("type") != "event_callback":
            kind = event.get("type") if isinstance(event, dict) else type(event).__name__
            raise ValueError(f"Socket Mode carries Events API event_callback bodies, not {kind}")
        return "events_api", event
    fields = dict(parse_qsl(body, keep_blank_values=True))
    if "payload" in fields:
        payload = json.loads(fields["payload"])
        if not isinstance(payload, dict):
            raise ValueError("an interaction payload must be a JSON object")
        return "interactive", payload
    if "command" in fields:
        return "slash_commands", dict(fields)
    raise ValueError("not a slash command, an interaction or an Events API body")
