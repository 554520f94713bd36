"""gunicorn's threaded worker, giving a thread only to a request that has fully arrived.

gthread hands a connection to a thread as soon as its first byte arrives; the thread then
blocks reading the rest. A client that sends its headers a byte at a time holds that
thread for as long as it likes, and as many such clients as threads stop every request,
``/healthz`` included. Here the worker's event loop reads each request's head (and a body
of declared length up to the front door's cap) without blocking, and only then queues the
connection for a thread. A request that has not arrived within
:data:`REQUEST_ARRIVAL_TIMEOUT` seconds is dropped.
"""

from __future__ import annotations

import contextlib
import errno
import re
import selectors
import time
from functools import partial
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

from sarvbot.front_door import MAX_BODY_BYTES

__all__ = ["REQUEST_ARRIVAL_TIMEOUT", "BufferingThreadWorker"]

#: How long a client may take to send a request's head and its (small) body.
REQUEST_ARRIVAL_TIMEOUT = 10.0
# A head longer than this goes to gunicorn's parser, which refuses it by its own limits.
_MAX_HEAD_BYTES = 64 * 1024
_CONTENT_LENGTH = re.compile(rb"\r?\ncontent-length[ \t]*:[ \t]*([0-9]{1,20})[ \t]*\r?\n", re.I)


def _arrived(data: bytes | bytearray) -> bool:
    """Whether ``data`` holds a whole request head and the body it declares (if small)."""
    end = data.find(b"\r\n\r\n")
    separator = 4
    if end < 0:
        end, separator = data.find(b"\n\n"), 2
    if end < 0:
        return len(data) > _MAX_HEAD_BYTES
    match = _CONTENT_LENGTH.search(data, 0, end + separator)
    if match is None:
        # No body, or a chunked one: the front door reads that up to its cap.
        return True
    length = int(match.group(1))
    if length > MAX_BODY_BYTES:
        # The front door refuses it from the header alone.
        return True
    return len(data) - (end + separator) >= length


class BufferingThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gthread whose event loop, not a thread, waits for each request to arrive."""

    def accept(self, listener: Any) -> None:
        """Take a new connection and start reading its request in the event loop."""
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())
        if self.cfg.is_ssl:
            # TLS is read by the thread's handshake; terminate TLS in front instead.
            self.enqueue_req(conn)
            return
        self._await_request(conn)

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        """A kept-alive connection is sending its next request: read it in the event loop."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._await_request(conn)

    def handle(self, conn: Any) -> Any:
        """Give the thread's parser the bytes the event loop already read."""
        arrived = getattr(conn, "sarvbot_arrived", None)
        if arrived:
            conn.sarvbot_arrived = None
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(bytes(arrived))
        return super().handle(conn)

    def _await_request(self, conn: Any) -> None:
        conn.sarvbot_arrived = bytearray()
        # pending_conns is gthread's own list of connections waiting for bytes without
        # a thread: murder_pending drops them past their timeout, oldest first. Every
        # entry here gets the same timeout from now, so the list stays in order.
        conn.timeout = time.monotonic() + REQUEST_ARRIVAL_TIMEOUT
        conn.sock.setblocking(False)
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_request_bytes, conn))

    def _on_request_bytes(self, conn: Any, client: Any) -> None:
        if conn not in self.pending_conns:
            return
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            # The client went away before its request arrived.
            self._forget_pending(conn)
            self.nr_conns -= 1
            conn.close()
            return
        conn.sarvbot_arrived += data
        if _arrived(conn.sarvbot_arrived):
            self._forget_pending(conn)
            conn.data_ready = True
            self.enqueue_req(conn)

    def _forget_pending(self, conn: Any) -> None:
        self.pending_conns.remove(conn)
        with contextlib.suppress(OSError, KeyError, ValueError):  # already unregistered
            self.poller.unregister(conn.sock)
