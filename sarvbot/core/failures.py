"""One place that turns Sarv's errors into words for people."""

from __future__ import annotations

from sarvbot import sarv

__all__ = ["describe_change_failure", "describe_sarv_error", "outcome_unknown"]


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


# Sarv's own documented JSON errors: Sarv answered and refused, so nothing was changed.
_SARV_REFUSALS = (sarv.ValidationError, sarv.GeneralError, sarv.AuthenticationError)


def outcome_unknown(error: sarv.Error, *, repeatable: bool) -> bool:
    """True when a failed change may still have been applied and must not be re-run.

    Only Sarv's documented JSON errors, and a request that never left this machine, prove
    that nothing happened. Anything else (a timeout, a proxy's HTML 502, a 200 that cannot be
    read or lacks the password) may hide a change that was made.
    """
    if repeatable or isinstance(error, _SARV_REFUSALS):
        return False
    if isinstance(error, sarv.TransportError):
        return error.may_have_reached_sarv
    return True


def describe_change_failure(error: sarv.Error, *, action: str, repeatable: bool) -> str:
    """Like describe_sarv_error, but says so when a change may have happened after all."""
    if outcome_unknown(error, repeatable=repeatable):
        what = (
            "Sarv did not answer"
            if isinstance(error, sarv.TransportError)
            else ("Sarv's answer could not be read")
        )
        return (
            f"{what}, so the outcome of this {action} is unknown. Check the user "
            "at Sarv (`/smtp list`) before trying again: running it twice is not harmless."
        )
    return describe_sarv_error(error)
