"""One place that turns Sarv's errors into words for people."""

from __future__ import annotations

from sarvbot import sarv

__all__ = ["describe_sarv_error", "outcome_unknown"]


def describe_sarv_error(error: sarv.Error) -> str:
    """A sentence for the person who ran the command. Never holds a secret."""
    if isinstance(error, sarv.AuthenticationError):
        return (
            "Sarv did not accept sarvbot's credentials. An admin must check the bot's "
            "Sarv owner id and token."
        )
    if isinstance(error, sarv.ValidationError):
        return f"Sarv refused: {error.message}"
    if isinstance(error, sarv.TransportError | sarv.GeneralError | sarv.BadResponseError):
        return "Sarv is unavailable right now. Try again in a minute."
    return f"Sarv refused ({error.name}): {error.message}"


def outcome_unknown(error: sarv.Error, *, repeatable: bool) -> bool:
    """True when a failed change may still have been applied and must not be re-run."""
    return not repeatable and isinstance(error, sarv.TransportError) and error.may_have_reached_sarv
