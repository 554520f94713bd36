"""Every number read from a person or a payload is bounded: out of range is a clear answer.

Request numbers beyond the database's integer, limits beyond Sarv's, list pages past the
end and digit strings longer than Python will convert all get a plain message and change
nothing: no traceback in the log, no "Something went wrong", no call that changes Sarv.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import requests

from sarvbot.slack import blocks
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, DEV, OPS

from .conftest import Witness, forged_click, forged_submission

HUGE = "99999999999999999999"  # beyond any database integer
ENORMOUS = "9" * 5000  # beyond the 4300 digits int() accepts
BEYOND_INT4 = "2147483648"  # one past PostgreSQL's integer
CRASH = "Something went wrong"
NO_SUCH_REQUEST = "there is no request #"
NOT_A_NUMBER = "`cancel` needs the request number"


def assert_no_crash(witness: Witness, caplog: pytest.LogCaptureFixture) -> None:
    crashes = [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.ERROR and (r.exc_info or "listener failed" in r.getMessage())
    ]
    assert crashes == []
    assert not any(CRASH in reply for reply in witness.replies())
    assert all(r.status_code < 500 for r in witness.slack.responses)


def click(
    witness: Witness, action_id: str, value: str, *, user_id: str = BOB, channel_id: str = APPROVALS
) -> None:
    """A signed click on a button carrying ``value``, as a forger would send it."""
    witness.slack.post(
        forged_click(witness, action_id, value, user_id=user_id, channel_id=channel_id)
    )
    witness.workspace.drain()


def submit(
    witness: Witness, callback_id: str, meta: str, state: dict[str, Any]
) -> requests.Response:
    """A signed submission of a modal with ``private_metadata`` and state values."""
    response = witness.slack.post(forged_submission(witness, callback_id, meta, state))
    witness.workspace.drain()
    return response


def typed(value: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


@pytest.mark.parametrize(
    ("number", "answer"),
    [
        *(pytest.param(n, NO_SUCH_REQUEST, id=n) for n in (HUGE, BEYOND_INT4, "0")),
        pytest.param("#" + "9" * 1990, NO_SUCH_REQUEST, id="#-and-1990-nines"),
        *(pytest.param(n, NOT_A_NUMBER, id=n) for n in ("²", "\u0661", "#", "1.0", "-1")),
    ],
)
def test_cancel_with_a_number_too_big_or_not_a_number_says_which(
    witness: Witness, caplog: pytest.LogCaptureFixture, number: str, answer: str
) -> None:
    witness.workspace.sandbox.add_user(name="smtp1")
    request = witness.request("reset smtp1 forgot it")
    response = witness.command(f"cancel {number}", user_id=ALICE, channel_id=DEV)
    assert answer in response.text
    assert witness.state_of(request.id) == "pending"
    assert_no_crash(witness, caplog)


@pytest.mark.parametrize(
    "text",
    [
        f"add {HUGE} 10",
        f"add 10 {HUGE}",
        f"add {BEYOND_INT4} 10",
        "add ² 10",
        "add 0 10",
        "add 10 " + "9" * 1990,
        f"edit smtp1 total={HUGE}",
        f"edit smtp1 hourly={BEYOND_INT4}",
        "edit smtp1 total=" + "9" * 1900,
        "edit smtp1 hourly=\u0663",
        "edit smtp1 total=-5",
    ],
)
def test_add_or_edit_with_a_limit_out_of_range_changes_nothing(
    witness: Witness, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    witness.workspace.sandbox.add_user(name="smtp1")
    response = witness.command(text, user_id=BOB, channel_id=OPS)
    assert "limit must be" in response.text
    assert witness.sarv_changes() == []
    assert_no_crash(witness, caplog)


def test_add_with_a_huge_leading_zero_limit_is_accepted(
    witness: Witness, caplog: pytest.LogCaptureFixture
) -> None:
    witness.command("add " + "0" * 1990 + "5 7", user_id=BOB, channel_id=OPS)
    added = witness.sarv_changes()
    assert [(c.path, c.params.get("total_limit")) for c in added] == [("settings/addSmtp", 5)]
    assert_no_crash(witness, caplog)


@pytest.mark.parametrize(
    "action_id", [blocks.ACTION_APPROVE, blocks.ACTION_DENY, blocks.ACTION_RETRY]
)
@pytest.mark.parametrize("value", [HUGE, ENORMOUS, BEYOND_INT4, "0", "-1", "1e3", "²"])
def test_forged_decision_button_with_an_impossible_number_is_out_of_date(
    witness: Witness, caplog: pytest.LogCaptureFixture, action_id: str, value: str
) -> None:
    witness.workspace.sandbox.add_user(name="smtp1")
    request = witness.request("reset smtp1 forgot it")
    click(witness, action_id, value)
    assert "That button is out of date." in witness.replies()[-1]
    assert witness.state_of(request.id) == "pending"
    assert witness.sarv_changes() == []
    assert_no_crash(witness, caplog)


@pytest.mark.parametrize(
    "value",
    [
        '{"q": "", "p": Infinity}',
        '{"q": "", "p": 1e999}',
        '{"q": "", "p": NaN}',
        '{"q": "", "p": 1.5}',
        '{"q": "", "p": -1}',
        '{"q": "", "p": true}',
        '{"q": "", "p": "1"}',
        '{"q": "", "p": ' + "9" * 5000 + "}",
    ],
)
def test_forged_list_page_button_is_out_of_date(
    witness: Witness, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    click(witness, blocks.ACTION_LIST_PAGE, value, channel_id=OPS)
    assert "That button is out of date; run `/smtp list` again." in witness.replies()[-1]
    assert_no_crash(witness, caplog)


@pytest.mark.parametrize(
    "page", [2, int(HUGE), 10**4000], ids=["third-of-two", "huge", "4001-digits"]
)
def test_list_page_past_the_end_says_so(
    witness: Witness, caplog: pytest.LogCaptureFixture, page: int
) -> None:
    for index in range(blocks.PAGE_SIZE + 1):  # two pages
        witness.workspace.sandbox.add_user(name=f"smtp{index}")
    value = json.dumps({"q": "", "p": page})
    click(witness, blocks.ACTION_LIST_PAGE, value, user_id=BOB, channel_id=OPS)
    assert "That page is past the end of the list" in witness.replies()[-1]
    assert_no_crash(witness, caplog)


@pytest.mark.parametrize("callback_id", [blocks.VIEW_ADD, blocks.VIEW_EDIT])
@pytest.mark.parametrize("field", ["total_limit", "hourly_limit"])
@pytest.mark.parametrize("value", [ENORMOUS, HUGE, BEYOND_INT4, "0", "²", "1e3", " "])
def test_form_with_an_impossible_limit_asks_again(
    witness: Witness,
    caplog: pytest.LogCaptureFixture,
    callback_id: str,
    field: str,
    value: str,
) -> None:
    state = {"total_limit": typed("100"), "hourly_limit": typed("10"), field: typed(value)}
    if callback_id == blocks.VIEW_EDIT:
        state["status"] = {
            "value": {"type": "static_select", "selected_option": {"value": "Enable"}}
        }
    response = submit(witness, callback_id, json.dumps({"c": OPS, "u": "smtp1"}), state)
    assert response.json() == {
        "response_action": "errors",
        "errors": {field: "Enter a whole number from 1 to 2,147,483,647."},
    }
    assert witness.sarv_changes() == []
    assert_no_crash(witness, caplog)


@pytest.mark.parametrize("number", [int(HUGE), 2**31, 0, -1, True, 1.0, "1", 10**4000])
def test_deny_form_with_a_forged_request_number_is_out_of_date(
    witness: Witness, caplog: pytest.LogCaptureFixture, number: object
) -> None:
    witness.workspace.sandbox.add_user(name="smtp1")
    request = witness.request("reset smtp1 forgot it")
    meta = json.dumps({"c": APPROVALS, "q": number})
    response = submit(witness, blocks.VIEW_DENY, meta, {"reason": typed("no")})
    assert response.json() == {
        "response_action": "errors",
        "errors": {"reason": "This form is out of date."},
    }
    assert witness.state_of(request.id) == "pending"
    assert_no_crash(witness, caplog)
