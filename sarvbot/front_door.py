"""The front door: every request to Slack's endpoint passes it before Bolt sees it.

In order, and answering without reading further at the first failure:

1. a body over :data:`MAX_BODY_BYTES` gets 413, from its Content-Length before any of it
   is read, and at most Content-Length bytes are ever read; a chunked body gets 411 unread;
2. a request not signed with the signing secret within Slack's five minutes gets 401;
3. a signed body Bolt could not take (not UTF-8, not a form or a JSON object, absurdly
   nested) gets 400;
4. the rest goes to Bolt, named by its timestamp and signature (and a Slack event by its
   event_id): Bolt acknowledges it as usual, and the work it queues runs only if no app
   process has seen that name before (the work queue checks it in the database before the
   job starts, and does not run the job when the database cannot say). A replay, or
   Slack's retry of an event, is so acknowledged and changes nothing.

Nothing here logs a request body, a header value or anything else the sender chose: each
refusal is one fixed line. :func:`quiet_bolt_logs` makes Bolt's own log lines body-free.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from slack_bolt import App, BoltRequest
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.adapter.wsgi.http_response import WsgiHttpResponse
from slack_sdk.signature import SignatureVerifier

from sarvbot.slack.work import DRAIN_SECONDS, handling_request

__all__ = ["MAX_BODY_BYTES", "FrontDoor", "quiet_bolt_logs"]

logger = logging.getLogger("sarvbot.web")

StartResponse = Callable[..., Any]

#: Most of Slack's payloads are a few kilobytes. A message shortcut carries the whole
#: message, up to 40,000 characters in its text and again in its blocks, form-encoded (a
#: non-ASCII character takes up to 12 bytes there): 1 MiB holds the largest.
MAX_BODY_BYTES = 1024 * 1024
#: Deeper JSON than any Slack payload (a view's blocks nest about a dozen levels).
MAX_NESTING = 64
#: Slack's signing window (slack_sdk.signature refuses timestamps further from now).
SIGNATURE_WINDOW = timedelta(minutes=5)
#: Kept a little longer than the window, for clocks that disagree between processes.
REPLAY_MARGIN = timedelta(minutes=1)
#: How long a signed request is remembered from its timestamp. A replay acknowledged at
#: the end of the window checks for itself only when its work starts, after a queue of up
#: to DRAIN_SECONDS and whatever slow Slack calls the jobs before it made: the original
#: must still be remembered then, so the memory is far longer than the window.
REQUEST_MEMORY = max(
    SIGNATURE_WINDOW + REPLAY_MARGIN + timedelta(seconds=4 * DRAIN_SECONDS), timedelta(hours=1)
)
#: Slack retries an event for about six minutes (at once, after 1 and after 5 minutes).
EVENT_MEMORY = timedelta(hours=1)

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_DIGITS = re.compile(r"[0-9]{1,20}")
_READ_CHUNK = 16 * 1024


class _TooLarge(Exception):
    pass


class _Malformed(Exception):
    pass


class _LengthRequired(Exception):
    pass


class FrontDoor:
    """A WSGI app that checks a request to Slack's endpoint and hands it to Bolt."""

    def __init__(
        self,
        bolt: App,
        *,
        signing_secret: str,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._bolt = bolt
        self._verifier = SignatureVerifier(signing_secret)
        self._max_body_bytes = max_body_bytes
        quiet_bolt_logs(bolt)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            raw = self._read_body(environ)
        except _TooLarge:
            logger.info("refused a request: body over %d bytes", self._max_body_bytes)
            return _answer(start_response, 413, {"error": "request body too large"})
        except _Malformed:
            logger.info("refused a request: unreadable Content-Length")
            return _answer(start_response, 400, {"error": "bad request"})
        except _LengthRequired:
            logger.info("refused a request: body without Content-Length")
            return _answer(start_response, 411, {"error": "length required"})
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            # Slack signs text; a body that is not UTF-8 cannot be one of its requests.
            logger.info("refused a request: body is not UTF-8")
            return _answer(start_response, 400, {"error": "bad request"})
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
        if not self._signed(text, timestamp, signature):
            logger.info("refused a request: missing, stale or wrong signature")
            return _answer(start_response, 401, {"error": "invalid request"})
        request = _bolt_request(environ, text)
        if request is None:
            logger.info("refused a signed request: body is not a Slack payload")
            return _answer(start_response, 400, {"error": "bad request"})
        # Acknowledged either way; the work it queues runs only on its first sight.
        with handling_request(_replay_keys(request.body, timestamp, signature)):
            response = self._bolt.dispatch(request)
        wsgi_response = WsgiHttpResponse(
            status=response.status, headers=response.headers, body=response.body
        )
        start_response(wsgi_response.status, wsgi_response.get_headers())
        result: Iterable[bytes] = wsgi_response.get_body()
        return result

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        stream: BinaryIO | None = environ.get("wsgi.input")
        if stream is None:
            return b""
        declared = str(environ.get("CONTENT_LENGTH") or "").strip()
        if declared:
            if not _DIGITS.fullmatch(declared):
                raise _Malformed
            length = int(declared)
            if length > self._max_body_bytes:
                raise _TooLarge
            return _read_up_to(stream, length)
        if environ.get("HTTP_TRANSFER_ENCODING"):
            # Slack always sends a length. A chunked body is left unread, so a client
            # sending one slowly holds no thread past the server's drain deadline.
            raise _LengthRequired
        return b""

    def _signed(self, text: str, timestamp: str, signature: str) -> bool:
        # The shapes are checked first: slack_sdk raises on a timestamp that is not a
        # number and on a signature that is not ASCII.
        if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
            return False
        return bool(self._verifier.is_valid(text, timestamp, signature))


def _read_up_to(stream: BinaryIO, limit: int) -> bytes:
    """At most ``limit`` bytes, fewer if the sender stops early."""
    parts: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = stream.read(min(remaining, _READ_CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _bolt_request(environ: dict[str, Any], text: str) -> BoltRequest | None:
    """Bolt's request for a signed body, or None if Bolt could not take it safely."""
    headers = WsgiHttpRequest(environ).get_headers()
    try:
        request = BoltRequest(body=text, query=environ.get("QUERY_STRING", ""), headers=headers)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError):
        # Bolt parses the body while building the request: bad JSON, a JSON list or
        # string, or nesting past the interpreter's limit all surface here.
        return None
    if not isinstance(request.body, dict) or _deeper_than(request.body, MAX_NESTING):
        return None
    return request


def _deeper_than(value: object, limit: int) -> bool:
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return False


def _replay_keys(body: dict[str, Any], timestamp: str, signature: str) -> dict[str, datetime]:
    """What identifies this request, each with how long a repeat of it must be refused."""
    signed_at = datetime.fromtimestamp(int(timestamp), UTC)
    keys = {f"request:{timestamp}:{signature}": signed_at + REQUEST_MEMORY}
    event_id = body.get("event_id")
    if body.get("type") == "event_callback" and isinstance(event_id, str) and event_id:
        # A retry (X-Slack-Retry-Num) is signed anew but carries the same event_id.
        keys[f"event:{event_id}"] = datetime.now(UTC) + EVENT_MEMORY
    return keys


def _answer(start_response: StartResponse, status: int, body: object) -> Iterable[bytes]:
    response = WsgiHttpResponse(
        status=status,
        headers={"content-type": ["application/json"]} if body is not None else {},
        body=json.dumps(body) if body is not None else "",
    )
    start_response(response.status, response.get_headers())
    result: Iterable[bytes] = response.get_body()
    return result


# Bolt's log lines that carry a request body (or part of one), with what they become.
_BODY_CARRYING_LINES = (
    ("Invalid request signature detected", "Invalid request signature detected"),
    ("Unhandled request (", "Unhandled request"),
    ("A global middleware (", "A global middleware answered nothing"),
    ("Skipped self event", "Skipped self event"),
)


class _WithoutBodies(logging.Filter):
    """Rewrites Bolt's body-carrying lines to their first words; passes everything else."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg
        if isinstance(message, str):
            for prefix, replacement in _BODY_CARRYING_LINES:
                if message.startswith(prefix):
                    record.msg = replacement + " (request body not logged)"
                    record.args = None
                    break
        return True


def quiet_bolt_logs(bolt: App) -> None:
    """Make every Bolt logger that can print a request body print none of it."""
    # Bolt logs through loggers of its own besides the one it was given; a filter only
    # sees records made on the logger it is attached to.
    names = (
        bolt.logger.name,
        "slack_bolt.App",
        "slack_bolt.RequestVerification",
        "slack_bolt.IgnoringSelfEvents",
    )
    for name in names:
        target = logging.getLogger(name)
        if not any(isinstance(f, _WithoutBodies) for f in target.filters):
            target.addFilter(_WithoutBodies())
