"""What a refusing proxy echoes back never carries the Sarv token into an error.

A tiny HTTP server on loopback plays the proxy or the error page in front of Sarv: it
answers with a page built from the request it got, echoing the token raw, URL-encoded
or JSON-escaped, and far enough into the page that cutting before redacting would leave
most of the token behind.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from sarvbot import sarv
from sarvbot.sarv import SarvClient

OWNER_ID = "owner-42"
# Characters URL encoding and JSON escaping change, so every echo differs from the token.
TOKEN = "tok+Z9/qL=a1b2c3d4e5f6a7b8c9d0e1f2"
Page = Callable[[dict[str, Any]], tuple[int, bytes]]


class EchoingProxy(ThreadingHTTPServer):
    """Answers every POST with ``page(request_json)``: a status and a body."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.page: Page = lambda request: (502, b"Bad Gateway")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1.0/"


class _Handler(BaseHTTPRequestHandler):
    server: EchoingProxy

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        status, body = self.server.page(json.loads(self.rfile.read(length)))
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[EchoingProxy]:
    server = EchoingProxy()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def client(proxy: EchoingProxy) -> Iterator[SarvClient]:
    with SarvClient(OWNER_ID, TOKEN, base_url=proxy.url, timeout=(2.0, 2.0)) as sarv_client:
        yield sarv_client


def error_text(error: sarv.Error) -> str:
    """Everything an error shows: its message, repr, excerpt and its args."""
    return " ".join(
        [str(error), repr(error), str(getattr(error, "excerpt", "")), *map(str, error.args)]
    )


def assert_no_part_of_the_token(text: str) -> None:
    """No eight characters in a row of the token, in any of its echoed forms."""
    forms = {TOKEN, quote(TOKEN), quote(TOKEN, safe=""), quote_plus(TOKEN), json.dumps(TOKEN)}
    for form in forms:
        for start in range(len(form) - 7):
            assert form[start : start + 8] not in text, f"{form[start : start + 8]!r} leaked"


def page_with(echo: str, *, at: int, filler: str = "\n") -> bytes:
    """An HTML error page with ``echo`` starting ``at`` bytes into it, after blank lines."""
    head = "<html><body><h1>403 Forbidden</h1><pre>"
    return (head + filler * (at - len(head)) + echo + "</pre></body></html>").encode()


@pytest.mark.parametrize(
    "echo",
    [
        pytest.param(lambda r: f"token={r['token']}", id="raw"),
        pytest.param(lambda r: f"token={quote_plus(r['token'])}", id="quote_plus"),
        pytest.param(lambda r: f"/v1.0/x?token={quote(r['token'])}", id="quote"),
        pytest.param(lambda r: f"token={quote(r['token'], safe='').lower()}", id="lowercase-hex"),
        pytest.param(lambda r: json.dumps(r), id="json"),
        pytest.param(lambda r: json.dumps(r).replace("/", "\\/"), id="json-escaped-solidus"),
    ],
)
@pytest.mark.parametrize("at", [600, 620, 630, 639])
def test_token_echoed_across_the_cut_is_hidden_whole(
    proxy: EchoingProxy, client: SarvClient, echo: Callable[[dict[str, Any]], str], at: int
) -> None:
    # The old excerpt cut at 640 bytes, then redacted what was left: blank lines collapse,
    # so the first part of a token that began before byte 640 reached the message.
    proxy.page = lambda request: (403, page_with(echo(request), at=at - len("token=")))
    with pytest.raises(sarv.BadResponseError) as caught:
        client.list_users()
    assert "403 Forbidden" in str(caught.value)
    assert_no_part_of_the_token(error_text(caught.value))


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda t: t, id="raw"),
        pytest.param(quote_plus, id="quote_plus"),
        pytest.param(lambda t: quote(t, safe=""), id="quote"),
        pytest.param(lambda t: json.dumps(t)[1:-1], id="json"),
    ],
)
def test_token_url_encoded_in_a_short_error_page_is_hidden(
    proxy: EchoingProxy, client: SarvClient, encode: Callable[[str], str]
) -> None:
    proxy.page = lambda request: (
        502,
        f"<p>upstream refused POST /v1.0/settings/listSmtp?token={encode(request['token'])}"
        f"&owner_id={request['owner_id']}</p>".encode(),
    )
    with pytest.raises(sarv.BadResponseError) as caught:
        client.list_users()
    assert "owner_id=owner-42" in caught.value.excerpt
    assert "token=***" in caught.value.excerpt
    assert_no_part_of_the_token(error_text(caught.value))


@pytest.mark.parametrize(
    "encode",
    [pytest.param(quote_plus, id="quote_plus"), pytest.param(lambda t: t.upper(), id="upper")],
)
def test_token_echoed_in_a_sarv_error_message_is_hidden(
    proxy: EchoingProxy, client: SarvClient, encode: Callable[[str], str]
) -> None:
    proxy.page = lambda request: (
        401,
        json.dumps(
            {
                "status": "error",
                "name": "AuthenticationError",
                "message": f"Token MissMatch: {encode(request['token'])}",
            }
        ).encode(),
    )
    with pytest.raises(sarv.AuthenticationError) as caught:
        client.list_users()
    assert str(caught.value) == "Token MissMatch: ***"
    assert_no_part_of_the_token(error_text(caught.value))


def test_password_straddling_the_cut_is_still_masked(
    proxy: EchoingProxy, client: SarvClient
) -> None:
    echo = '"smtp_password": "hunter2-hunter2-hunter2"'
    proxy.page = lambda request: (502, page_with(echo, at=625))
    with pytest.raises(sarv.BadResponseError) as caught:
        client.reset_password("smtp1")
    assert "hunter2" not in error_text(caught.value)
    assert '"smtp_password": ***' in caught.value.excerpt


def test_password_with_escaped_quotes_is_masked_whole(
    proxy: EchoingProxy, client: SarvClient
) -> None:
    echo = json.dumps({"smtp_password": 'qx"mid\\"tail9'})
    proxy.page = lambda request: (502, f"<pre>{echo}</pre>".encode())
    with pytest.raises(sarv.BadResponseError) as caught:
        client.reset_password("smtp1")
    for part in ("qx", "mid", "tail9"):
        assert part not in error_text(caught.value)


def test_excerpt_of_a_huge_page_is_short_and_redacted(
    proxy: EchoingProxy, client: SarvClient
) -> None:
    line = f"<p>refused token={quote_plus(TOKEN)} password=hunter2</p>\n"
    proxy.page = lambda request: (502, (line * 200_000).encode())  # about 14 MB
    with pytest.raises(sarv.BadResponseError) as caught:
        client.list_users()
    assert len(caught.value.excerpt) <= 160
    assert "token=*** password=***" in caught.value.excerpt
    assert_no_part_of_the_token(error_text(caught.value))
