"""The Sarv TES client: typed methods and the vendor's documented interface, one transport."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NameResolutionError, NewConnectionError
from urllib3.util.retry import Retry

from ._errors import BadResponseError, Error, TransportError, ValidationError
from ._models import Credentials, SmtpUser, UserStatus
from ._wire import (
    check_limit,
    check_status,
    check_user_name,
    decode_body,
    read_credentials,
    read_user_list,
)

__all__ = ["DEFAULT_TIMEOUT", "Sarv", "SarvClient"]

logger = logging.getLogger("sarvbot.sarv")

DEFAULT_TIMEOUT = (5.0, 20.0)
MAX_BODY_BYTES = 32 * 1024 * 1024

ADD = "settings/addSmtp"
EDIT = "settings/editSmtp"
RESET = "settings/resetSmtpPassword"
LIST = "settings/listSmtp"


class SarvClient:
    """A client for Sarv TES's SMTP-user calls.

    ``base_url`` replaces the default ``https://api.<domain>/v1.0/`` whole; nothing is read
    from the environment. ``session`` is a ``requests.Session`` of the caller's to send
    through, as it is; without one the client makes its own, on which only the list call
    is retried: add, edit and reset are never sent twice, since a second add creates a
    second user.
    """

    def __init__(
        self,
        owner_id: str,
        token: str,
        domain: str | None = None,
        *,
        base_url: str | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        list_retries: int = 2,
        retry_backoff: float = 0.3,
        pool_size: int = 10,
        on_call: Callable[[str, str, float], None] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        if not isinstance(owner_id, str) or not owner_id:
            raise ValidationError("owner_id must be non-empty text", field="owner_id")
        if not isinstance(token, str) or not token:
            raise ValidationError("token must be non-empty text", field="token")
        url = base_url or ""
        if not url:
            if not domain:
                raise ValidationError(
                    "give the Sarv app domain, or the whole API URL as base_url",
                    field="domain",
                )
            url = f"https://api.{domain}/v1.0/"
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValidationError(
                f"the Sarv API URL must be an http(s) URL, not {url!r}", field="base_url"
            )
        self.owner_id = owner_id
        self._token = token
        self.base_url = url if url.endswith("/") else url + "/"
        self.timeout = timeout
        if session is not None:
            # The caller's own transport (proxies, certificates, a test double) as it is:
            # its retries are the caller's, and must never resend a change.
            self._session = session
        else:
            self._session = requests.Session()
            # Session.mount picks the longest matching prefix: only listSmtp gets retries.
            self._session.mount(
                self.base_url + LIST, self._adapter(list_retries, retry_backoff, pool_size)
            )
            self._session.mount(
                self.base_url,
                HTTPAdapter(max_retries=Retry(total=0, read=False), pool_maxsize=pool_size),
            )
        self._session.headers.update({"Accept": "application/json"})
        self.settings = VendorSettings(self)
        # Told of every call once it ends: its path, "ok" or the error's class, seconds.
        self.on_call = on_call

    @staticmethod
    def _adapter(retries: int, backoff: float, pool_size: int) -> HTTPAdapter:
        return HTTPAdapter(
            pool_maxsize=pool_size,
            max_retries=Retry(
                total=retries,
                connect=retries,
                read=retries,
                status=retries,
                other=0,
                backoff_factor=backoff,
                status_forcelist=(500, 502, 503, 504),
                allowed_methods=frozenset({"POST"}),
                raise_on_status=False,
                respect_retry_after_header=True,
            ),
        )

    def __repr__(self) -> str:
        return (
            f"SarvClient(owner_id={self.owner_id!r}, token='********', base_url={self.base_url!r})"
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def __enter__(self) -> SarvClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Typed interface

    def add_user(self, total_limit: int, hourly_limit: int) -> Credentials:
        """Create an SMTP user; returns its generated name and password."""
        data, body = self._request(ADD, _add_params(total_limit, hourly_limit))
        return read_credentials(data, body)

    def edit_user(
        self,
        name: str,
        *,
        total_limit: int | None = None,
        hourly_limit: int | None = None,
        status: UserStatus | str | None = None,
    ) -> str:
        """Change a user's limits or status; returns Sarv's message."""
        data, _ = self._request(EDIT, _edit_params(name, total_limit, hourly_limit, status))
        message = data.get("message")
        return message if isinstance(message, str) else ""

    def reset_password(self, name: str) -> Credentials:
        """Give a user a new password; returns it."""
        data, body = self._request(RESET, {"smtp_user_name": check_user_name(name)})
        return read_credentials(data, body)

    def list_users(self) -> list[SmtpUser]:
        """Every SMTP user of the account, with its password held in a Secret."""
        data, _ = self._request(LIST, {})
        return read_user_list(data)

    def find_user(self, name: str) -> SmtpUser | None:
        """The user called ``name``, or None."""
        check_user_name(name)
        return next((user for user in self.list_users() if user.name == name), None)

    # Transport

    def call(self, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Send one call with already checked parameters; return Sarv's success body."""
        data, _ = self._request(path, params)
        return data

    def _request(self, path: str, params: Mapping[str, Any]) -> tuple[dict[str, Any], bytes]:
        if self.on_call is None:
            return self._send(path, params)
        started = time.monotonic()
        outcome = "ok"
        try:
            return self._send(path, params)
        except Error as exc:
            outcome = type(exc).__name__
            raise
        finally:
            self.on_call(path, outcome, time.monotonic() - started)

    def _send(self, path: str, params: Mapping[str, Any]) -> tuple[dict[str, Any], bytes]:
        url = self.base_url + path
        payload = {"owner_id": self.owner_id, "token": self._token, **params}
        host = urlsplit(url).netloc
        started = time.monotonic()
        try:
            response = self._session.post(url, json=payload, timeout=self.timeout, stream=True)
            try:
                body = _read_capped(response)
            finally:
                response.close()
        except requests.exceptions.ConnectTimeout as exc:
            raise TransportError(
                f"Could not connect to Sarv at {host} within {self.timeout[0]:g} s",
                may_have_reached_sarv=False,
            ) from exc
        except requests.exceptions.ReadTimeout as exc:
            raise TransportError(
                f"Sarv at {host} did not answer within {self.timeout[1]:g} s",
                may_have_reached_sarv=True,
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            refused = _never_sent(exc)
            reason = "could not be reached" if refused else "closed the connection before answering"
            raise TransportError(
                f"Sarv at {host} {reason}", may_have_reached_sarv=not refused
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise TransportError(
                f"Sarv at {host} failed: {type(exc).__name__}", may_have_reached_sarv=True
            ) from exc
        logger.debug(
            "sarv %s answered HTTP %s in %.0f ms",
            path,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        if body is None:
            raise BadResponseError(
                f"Sarv answered HTTP {response.status_code} with a body over "
                f"{MAX_BODY_BYTES} bytes",
                http_status=response.status_code,
                excerpt="(too large)",
            )
        data = decode_body(body, response.status_code, hide=(self._token,))
        return data, body


def _read_capped(response: requests.Response) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _never_sent(exc: BaseException) -> bool:
    """True when the failure happened before a connection existed (refused, DNS)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (NewConnectionError, NameResolutionError, ConnectionRefusedError)):
            return True
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            current = reason
            continue
        args = getattr(current, "args", ())
        nested = next((a for a in args if isinstance(a, BaseException)), None)
        current = nested or current.__cause__ or current.__context__
    return False


def _add_params(total_limit: object, hourly_limit: object) -> dict[str, Any]:
    return {
        "total_limit": check_limit("total_limit", total_limit),
        "hourly_limit": check_limit("hourly_limit", hourly_limit),
    }


def _edit_params(
    name: object, total_limit: object, hourly_limit: object, status: object
) -> dict[str, Any]:
    params: dict[str, Any] = {"smtp_user_name": check_user_name(name)}
    if total_limit is not None:
        params["total_limit"] = check_limit("total_limit", total_limit)
    if hourly_limit is not None:
        params["hourly_limit"] = check_limit("hourly_limit", hourly_limit)
    if status is not None:
        params["status"] = check_status(status).value
    if len(params) == 1:
        raise ValidationError(
            "give at least one of total_limit, hourly_limit or status to change", field="params"
        )
    return params


class VendorSettings:
    """The vendor's documented ``client.settings`` interface, returning Sarv's dicts."""

    def __init__(self, client: SarvClient) -> None:
        self._client = client

    def addSmtpUser(self, total_limit: int, hourly_limit: int) -> dict[str, Any]:  # noqa: N802
        """``settings/addSmtp``: the success body, with ``smtp_user_name`` and ``smtp_password``."""
        return self._client.call(ADD, _add_params(total_limit, hourly_limit))

    def editSmtp(  # noqa: N802
        self,
        smtp_user_name: str,
        total_limit: int | None = None,
        hourly_limit: int | None = None,
        status: str | None = None,
    ) -> dict[str, Any]:
        """``settings/editSmtp``; a parameter given as None is left out."""
        return self._client.call(
            EDIT, _edit_params(smtp_user_name, total_limit, hourly_limit, status)
        )

    def resetSmtpPassword(self, smtp_user_name: str) -> dict[str, Any]:  # noqa: N802
        """``settings/resetSmtpPassword``: the success body with the new ``smtp_password``."""
        return self._client.call(RESET, {"smtp_user_name": check_user_name(smtp_user_name)})

    def listSmtp(self) -> dict[str, Any]:  # noqa: N802
        """``settings/listSmtp``: the success body with ``smtp_list``."""
        return self._client.call(LIST, {})


class Sarv(SarvClient):
    """The vendor's documented entry point: ``sarv.Sarv(owner_id, token, domain)``."""
