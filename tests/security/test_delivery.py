"""Once Sarv has made a password, it reaches its owner's DM whatever else Slack does.

Every Slack call after Sarv's answer is best effort; the delivery itself, failing in any
way, ends in the "could not send you the password" message; and no exception that has
seen the password is raised past the delivery or logged with its traceback.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sarvbot.standin.workspace import ALICE, BOB, DEV, OPS
from tests.support import told

from .conftest import APP_LOGGERS, Witness, capture_app_logs, running_witness

NAME = "smtp70001"
COULD_NOT_SEND = "I could not send you the password"
# A timeout (the answer comes after the client gave up), a dropped connection, and two
# of Slack's own errors that are neither not_in_channel nor channel_not_found.
FAILURES = [
    pytest.param({"error": "restricted_action"}, id="restricted_action"),
    pytest.param({"error": "fatal_error", "status": 500}, id="fatal_error"),
    pytest.param({"error": "timeout", "delay": 1.0}, id="timeout"),
    pytest.param({"error": "dropped", "drop": True}, id="connection-dropped"),
]


@pytest.fixture
def witness(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Witness]:
    """A workspace whose Slack clients give up after half a second."""
    capture_app_logs(caplog)
    with running_witness(tmp_path) as witness:
        app = witness.workspace.app
        assert app is not None
        app.context.messenger.client.timeout = 0.5
        app.context.messenger._secret_client.timeout = 0.5
        witness.workspace.sandbox.add_user(name=NAME)
        yield witness


def fail(witness: Witness, method: str, failure: dict[str, Any], **match: str) -> None:
    """Make every call to ``method`` (with ``match``) fail, retries included."""
    witness.fake.fail_next(method, times=10, match=match, **failure)


def password_of(witness: Witness, name: str) -> str:
    return witness.workspace.sandbox.users[name].password


def delivered_to(witness: Witness, user_id: str, password: str) -> bool:
    """True when an ephemeral holding ``password`` reached ``user_id``'s DM with the app."""
    im = witness.fake.im_channel_id(user_id)
    return any(
        call.ok and call.args.get("channel") == im and password in str(call.args.get("blocks"))
        for call in witness.fake.calls_to("chat.postEphemeral")
    )


def outcomes(witness: Witness) -> list[str]:
    return [entry.outcome for entry in witness.audit(limit=10)]


@pytest.mark.parametrize("failure", FAILURES)
def test_password_still_delivered_when_announcement_fails(
    witness: Witness, failure: dict[str, Any]
) -> None:
    fail(witness, "chat.postMessage", failure, channel=OPS)
    witness.command(f"reset {NAME}", user_id=BOB, channel_id=OPS)
    assert delivered_to(witness, BOB, password_of(witness, NAME))
    told = " ".join(witness.said_to(BOB))
    assert "is in your DM" in told
    assert "could not post the announcement" in told
    assert "Something went wrong" not in told
    assert "delivered" in outcomes(witness)


@pytest.mark.parametrize("failure", FAILURES)
def test_new_user_still_delivered_when_announcement_fails(
    witness: Witness, failure: dict[str, Any]
) -> None:
    before = set(witness.workspace.sandbox.users)
    fail(witness, "chat.postMessage", failure, channel=OPS)
    witness.command("add 100 10", user_id=BOB, channel_id=OPS)
    (name,) = set(witness.workspace.sandbox.users) - before
    assert delivered_to(witness, BOB, password_of(witness, name))
    assert "Something went wrong" not in " ".join(witness.said_to(BOB))


@pytest.mark.parametrize("failure", FAILURES)
def test_password_still_delivered_when_approval_card_update_fails(
    witness: Witness, failure: dict[str, Any]
) -> None:
    request = witness.request(f"reset {NAME} key leaked in CI")
    fail(witness, "chat.update", failure)
    witness.approve(user_id=BOB)
    assert delivered_to(witness, ALICE, password_of(witness, NAME))
    assert witness.state_of(request.id) == "done"
    assert "delivered" in outcomes(witness)


@pytest.mark.parametrize("failure", FAILURES)
def test_password_still_delivered_when_the_note_to_the_requester_fails(
    witness: Witness, failure: dict[str, Any]
) -> None:
    witness.request(f"reset {NAME} key leaked in CI")
    # The note "approved and done" goes where she asked, then to her DM: both fail.
    fail(witness, "chat.postEphemeral", failure, channel=DEV)
    fail(witness, "chat.postMessage", failure, channel=ALICE)
    witness.approve(user_id=BOB)
    assert delivered_to(witness, ALICE, password_of(witness, NAME))


DELIVERY_FAILURES = [
    *FAILURES,
    pytest.param({"error": "messages_tab_disabled"}, id="messages_tab_disabled"),
]


@pytest.mark.parametrize("failure", DELIVERY_FAILURES)
def test_direct_reset_whose_delivery_fails_says_could_not_send(
    witness: Witness, failure: dict[str, Any]
) -> None:
    fail(witness, "chat.postEphemeral", failure, channel=witness.fake.im_channel_id(BOB))
    witness.command(f"reset {NAME}", user_id=BOB, channel_id=OPS)
    told = " ".join(witness.said_to(BOB))
    assert COULD_NOT_SEND in told
    assert f"/smtp reveal {NAME}" in told
    assert "Something went wrong" not in told
    assert "undelivered" in outcomes(witness)
    assert password_of(witness, NAME) not in told


@pytest.mark.parametrize("failure", DELIVERY_FAILURES)
def test_approved_reset_whose_delivery_fails_tells_the_requester(
    witness: Witness, failure: dict[str, Any]
) -> None:
    witness.request(f"reset {NAME} key leaked in CI")
    fail(witness, "chat.postEphemeral", failure, channel=witness.fake.im_channel_id(ALICE))
    witness.approve(user_id=BOB)
    told = " ".join(witness.said_to(ALICE))
    assert COULD_NOT_SEND in told
    assert password_of(witness, NAME) not in told
    assert "undelivered" in outcomes(witness)


def _values_holding(secret: str, tb: types.TracebackType | None) -> list[str]:
    """The frames of ``tb`` whose local variables hold ``secret``, by function name."""
    found = []
    while tb is not None:
        frame = tb.tb_frame
        for value in frame.f_locals.values():
            try:
                text = repr(value)
            except Exception:  # a repr that fails shows nothing to an error tracker either
                text = ""
            if secret in text:
                found.append(frame.f_code.co_name)
                break
        tb = tb.tb_next
    return found


def _exceptions_in(record: logging.LogRecord) -> Iterator[BaseException]:
    if not record.exc_info or record.exc_info[1] is None:
        return
    seen: set[int] = set()
    pending: list[BaseException] = [record.exc_info[1]]
    while pending:
        exc = pending.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        yield exc
        pending += [e for e in (exc.__cause__, exc.__context__) if e is not None]


@pytest.mark.parametrize("failure", DELIVERY_FAILURES)
def test_no_exception_that_saw_the_password_is_logged(
    witness: Witness, failure: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    fail(witness, "chat.postEphemeral", failure, channel=witness.fake.im_channel_id(BOB))
    witness.command(f"reset {NAME}", user_id=BOB, channel_id=OPS)
    witness.request(f"reset {NAME} leaked again")
    fail(witness, "chat.postEphemeral", failure, channel=witness.fake.im_channel_id(ALICE))
    witness.approve(user_id=BOB)
    password = password_of(witness, NAME)
    app_records = [r for r in caplog.records if r.name.startswith(APP_LOGGERS)]
    with_traceback = [r for r in app_records if r.exc_info]
    holding = {
        r.getMessage(): _values_holding(password, exc.__traceback__)
        for r in with_traceback
        for exc in _exceptions_in(r)
        if _values_holding(password, exc.__traceback__)
    }
    assert holding == {}
    assert not [r.getMessage() for r in app_records if password in r.getMessage()]
    assert any(COULD_NOT_SEND in text for text in witness.replies())  # bob, where he ran it
    assert any(COULD_NOT_SEND in text for text in told(witness.fake, ALICE))
