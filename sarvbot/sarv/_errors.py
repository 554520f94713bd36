"""The errors a Sarv call can raise.

Every error derives from :class:`Error`. The three error types Sarv documents map to
subclasses of the same name, so ``type(e).__name__`` equals the ``name`` in Sarv's body;
a name Sarv has not documented is kept on a plain :class:`Error`.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BadResponseError",
    "Error",
    "GeneralError",
    "TransportError",
    "ValidationError",
]


class Error(Exception):
    """Base class of every error raised by the Sarv client.

    ``name`` is Sarv's error type (``ValidationError``, ...), ``message`` the human readable
    text Sarv sent (or ours), ``code`` Sarv's numeric code when given, and ``http_status``
    the HTTP status of the answer when there was one.
    """

    def __init__(
        self,
        message: str,
        *,
        name: str | None = None,
        code: int | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.name = name or type(self).__name__
        self.code = code
        self.http_status = http_status

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, message={self.message!r})"


class ValidationError(Error):
    """A parameter is invalid or missing: raised by Sarv, or locally before anything is sent."""

    def __init__(self, message: str, *, field: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.field = field


class GeneralError(Error):
    """Sarv failed unexpectedly on its side."""


class AuthenticationError(Error):
    """Sarv did not accept the owner id and token."""


class TransportError(Error):
    """Sarv could not be reached, or did not answer in time.

    ``may_have_reached_sarv`` is False only when the request certainly never left this
    machine (connection refused, DNS failure, connect timeout). When it is True, a change
    may have been applied even though no answer came back.
    """

    def __init__(self, message: str, *, may_have_reached_sarv: bool) -> None:
        super().__init__(message)
        self.may_have_reached_sarv = may_have_reached_sarv


class BadResponseError(Error):
    """Sarv (or something in front of it) answered with a body that is not Sarv's JSON.

    Carries the HTTP status and a short, redacted excerpt of the body.
    """

    def __init__(self, message: str, *, http_status: int | None, excerpt: str) -> None:
        super().__init__(message, http_status=http_status)
        self.excerpt = excerpt


ERROR_TYPES: dict[str, type[Error]] = {
    cls.__name__: cls for cls in (ValidationError, GeneralError, AuthenticationError)
}
