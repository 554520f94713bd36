"""What goes on the wire: strict checks before sending, tolerant reading of answers."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from ._errors import (
    ERROR_TYPES,
    BadResponseError,
    Error,
    ValidationError,
)
from ._models import Credentials, Secret, SmtpUser, UserStatus

MAX_LIMIT = 2_147_483_647
MAX_NAME_LENGTH = 64
EXCERPT_LENGTH = 160

# A password's value: a JSON string (escaped quotes and all, even cut short) or a bare word.
_SECRET_VALUE = re.compile(
    r'("?(?:smtp_)?password"?\s*[:=]\s*)("(?:[^"\\]|\\.)*"?|[^\s,}]*)', re.IGNORECASE
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def check_limit(field: str, value: object) -> int:
    """Return ``value`` if it is a positive integer, else raise ValidationError naming field."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            f"{field} must be a whole number, not {type(value).__name__}", field=field
        )
    if value <= 0:
        raise ValidationError(f"{field} must be a positive whole number, not {value}", field=field)
    if value > MAX_LIMIT:
        raise ValidationError(f"{field} must be at most {MAX_LIMIT}, not {value}", field=field)
    return value


def check_status(value: object) -> UserStatus:
    """Return ``value`` as a UserStatus if it is exactly ``Enable`` or ``Disable``."""
    if isinstance(value, str) and value in (UserStatus.ENABLE.value, UserStatus.DISABLE.value):
        return UserStatus(value)
    raise ValidationError(f"status must be Enable or Disable, not {value!r}", field="status")


def check_user_name(value: object, field: str = "smtp_user_name") -> str:
    """Return ``value`` if it can be an SMTP user name."""
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be text, not {type(value).__name__}", field=field)
    if not value:
        raise ValidationError(f"{field} must not be empty", field=field)
    if len(value) > MAX_NAME_LENGTH:
        raise ValidationError(
            f"{field} must be at most {MAX_NAME_LENGTH} characters, not {len(value)}", field=field
        )
    if not value.isprintable() or any(ch.isspace() for ch in value):
        raise ValidationError(
            f"{field} must be printable and hold no spaces: {value!r}", field=field
        )
    return value


def excerpt(body: bytes, *, hide: tuple[str, ...] = ()) -> str:
    """A short, single-line excerpt of a body, with anything that looks like a secret hidden.

    Redaction runs before the cut, over as much of the body as can reach the excerpt, so
    that a secret straddling the cut cannot leave its first part behind.
    """
    text = body.decode("utf-8", errors="replace")
    # A prefix whose redacted, collapsed form is longer than the excerpt plus the longest
    # form of a secret reads the same as the whole body up to the cut: a match the
    # prefix's end splits starts past it. Growing the prefix keeps a 32 MiB body from
    # costing seconds, while a body of control characters is still read to its end.
    margin = EXCERPT_LENGTH + max((len(f) for s in hide if s for f in _forms(s)), default=0)
    size = 4 * margin
    while True:
        shown = _CONTROL.sub(" ", redact(text[:size], hide)).strip()
        if len(shown) > margin or size >= len(text):
            break
        size *= 4
    if len(shown) > EXCERPT_LENGTH:
        shown = shown[: EXCERPT_LENGTH - 1] + "…"
    return shown or "(empty body)"


def redact(text: str, hide: tuple[str, ...] = ()) -> str:
    """``text`` with password values and every form of each ``hide`` secret as ``***``.

    A secret is hidden as written, URL-encoded (``quote`` and ``quote_plus``, in either
    case of hex digit) and JSON-escaped, which is how an error page or a proxy echoes
    the request it refused.
    """
    text = _SECRET_VALUE.sub(r"\1***", text)
    forms = sorted({form for secret in hide if secret for form in _forms(secret)}, key=len)
    if not forms:
        return text
    # Longest first, so that a longer form is never half-replaced by a shorter one.
    pattern = "|".join(re.escape(form) for form in reversed(forms))
    return re.sub(pattern, "***", text, flags=re.IGNORECASE)


def _forms(secret: str) -> set[str]:
    escaped = json.dumps(secret)[1:-1]
    return {
        secret,
        quote(secret),
        quote(secret, safe=""),
        quote_plus(secret),
        escaped,
        escaped.replace("/", "\\/"),  # JSON encoders that escape the solidus
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }


def decode_body(body: bytes, http_status: int, *, hide: tuple[str, ...]) -> dict[str, Any]:
    """Decode an answer and raise the error it carries, if any; return the success body."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        what = "an empty body" if not body.strip() else "a body that is not Sarv's JSON"
        raise BadResponseError(
            f"Sarv answered HTTP {http_status} with {what}: {excerpt(body, hide=hide)}",
            http_status=http_status,
            excerpt=excerpt(body, hide=hide),
        )
    status = data.get("status")
    is_error = http_status != 200 or (isinstance(status, str) and status.lower() == "error")
    if is_error:
        raise error_from_body(data, http_status, body, hide=hide)
    if not (isinstance(status, str) and status.lower() == "success"):
        raise BadResponseError(
            f"Sarv answered HTTP {http_status} without a success status: "
            f"{excerpt(body, hide=hide)}",
            http_status=http_status,
            excerpt=excerpt(body, hide=hide),
        )
    return data


def error_from_body(
    data: Mapping[str, Any], http_status: int, body: bytes, *, hide: tuple[str, ...]
) -> Error:
    """Build the error an error body describes (type under ``name`` or ``type``)."""
    name = data.get("name") or data.get("type")
    message = data.get("message")
    if not isinstance(name, str) or not name:
        return BadResponseError(
            f"Sarv answered HTTP {http_status} with an error that names no type: "
            f"{excerpt(body, hide=hide)}",
            http_status=http_status,
            excerpt=excerpt(body, hide=hide),
        )
    text = message if isinstance(message, str) and message else f"Sarv reported {name}"
    text = redact(text, hide)
    code = data.get("code")
    kwargs: dict[str, Any] = {
        "name": name,
        "code": code if isinstance(code, int) and not isinstance(code, bool) else None,
        "http_status": http_status,
    }
    return ERROR_TYPES.get(name, Error)(text, **kwargs)


def read_credentials(data: Mapping[str, Any], body: bytes) -> Credentials:
    """Read the name and password of an add or reset answer."""
    name = data.get("smtp_user_name")
    password = data.get("smtp_password", data.get("password"))
    if not isinstance(name, str) or not isinstance(password, str) or not password:
        raise BadResponseError(
            "Sarv's answer lacks the SMTP user name or password",
            http_status=200,
            excerpt=excerpt(body),
        )
    message = data.get("message")
    return Credentials(
        name=name, password=Secret(password), message=message if isinstance(message, str) else ""
    )


def _read_int(item: Mapping[str, Any], key: str) -> int:
    value = item.get(key)
    if isinstance(value, bool):
        raise ValueError(key)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(key)


def _read_status(value: object) -> UserStatus:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("enable", "enabled", "1", "active"):
            return UserStatus.ENABLE
        if lowered in ("disable", "disabled", "0", "inactive"):
            return UserStatus.DISABLE
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return UserStatus.ENABLE if value == 1 else UserStatus.DISABLE
    raise ValueError("status")


def read_user_list(data: Mapping[str, Any]) -> list[SmtpUser]:
    """Read listSmtp's users, accepting every variant the vendor's pages document."""
    items = data.get("smtp_list")
    if items is None:
        return []
    if not isinstance(items, list):
        raise BadResponseError(
            "Sarv's smtp_list is not a list", http_status=200, excerpt=type(items).__name__
        )
    users: list[SmtpUser] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, Mapping):
                raise ValueError("item")
            name = item.get("smtp_user_name")
            if not isinstance(name, str) or not name:
                raise ValueError("smtp_user_name")
            password = item.get("smtp_password", item.get("password"))
            users.append(
                SmtpUser(
                    name=name,
                    status=_read_status(item.get("status")),
                    total_limit=_read_int(item, "total_limit"),
                    hourly_limit=_read_int(item, "hourly_limit"),
                    password=Secret(password) if isinstance(password, str) and password else None,
                )
            )
        except ValueError as exc:
            raise BadResponseError(
                f"Sarv's smtp_list item {index} has a missing or unreadable {exc.args[0]}",
                http_status=200,
                excerpt=f"item {index}",
            ) from None
    return users
