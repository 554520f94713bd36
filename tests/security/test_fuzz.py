"""Whatever a signed request holds, the app answers without a 500 or an unhandled error.

One workspace serves every example; each example's log records are checked on their own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sarvbot.core import USAGE
from sarvbot.slack import blocks
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, DEV, GUEST, OPS

from .conftest import DAVE, Witness, forged_click, forged_submission, running_witness

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
APP_LOGGERS = ("sarvbot.slack", "sarvbot.core", "sarvbot.bolt", "sarvbot.store", "slack_bolt")
# The app's catch-all for a listener that raised hides the traceback; it is still a crash.
CRASH_MARK = "listener failed"


class ErrorRecords(logging.Handler):
    """Keeps ERROR records of the app's loggers."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(APP_LOGGERS):
            self.records.append(record)

    def crashes(self) -> list[str]:
        return [
            f"{r.name}: {r.getMessage()}"
            for r in self.records
            if r.exc_info or CRASH_MARK in r.getMessage()
        ]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Witness, ErrorRecords]]:
    with running_witness(Path(tmp_path_factory.mktemp("fuzz"))) as witness:
        for name in ("smtp60001", "smtp60002"):
            witness.workspace.sandbox.add_user(name=name)
        witness.request("reset smtp60001 fuzzing")  # a pending request to click at
        handler = ErrorRecords()
        logging.getLogger().addHandler(handler)
        try:
            yield witness, handler
        finally:
            logging.getLogger().removeHandler(handler)


USERS = st.sampled_from([ALICE, BOB, GUEST, DAVE, "U0NOBODY", "W0EXTERN", "", "<!channel>"])
CHANNELS = st.sampled_from([OPS, DEV, APPROVALS, "C0NOPE", "DALICE", "", "#ops"])
WORDS = st.sampled_from(
    [
        *USAGE,
        "smtp60001",
        "smtp60002",
        "=",
        "total=",
        "total=5",
        "hourly=0",
        "status=On",
        '"',
        "'",
        "#1",
        "1",
        "-1",
        "99999999999999999999",
        "<!here>",
        "\u202e",
        "\x00",
    ]
)
COMMAND_TEXTS = st.one_of(
    st.text(max_size=60),
    st.lists(WORDS | st.text(max_size=12), max_size=8).map(" ".join),
    st.builds(lambda verb, tail: f"{verb} {tail}", st.sampled_from(list(USAGE)), st.text()),
    st.integers(1990, 2100).map(lambda n: "reset smtp60001 " + "ß" * n),
    st.just(""),
)
JSONISH: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
META = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda c, u, r, o, q: json.dumps({"c": c, "u": u, "r": r, "o": o, "q": q}),
        CHANNELS | JSONISH,
        JSONISH,
        st.none() | st.text(max_size=20),
        JSONISH,
        JSONISH | st.integers(-2, 3),
    ),
    JSONISH.map(json.dumps),
)
ACTION_IDS = st.sampled_from(
    [
        blocks.ACTION_APPROVE,
        blocks.ACTION_DENY,
        blocks.ACTION_RETRY,
        blocks.ACTION_LIST_PAGE,
        blocks.ACTION_REMOVE_SECRET,
        "unknown_action",
    ]
)
VALUES = st.one_of(
    st.text(max_size=30),
    st.integers(-5, 5).map(str),
    JSONISH.map(json.dumps),
    st.builds(lambda q, p: json.dumps({"q": q, "p": p}), JSONISH, JSONISH),
)
CALLBACKS = st.sampled_from([blocks.VIEW_ADD, blocks.VIEW_EDIT, blocks.VIEW_DENY, "smtp_other"])
# State values shaped as Slack sends them: typed text (or nothing), or a picked option.
STATE = st.dictionaries(
    st.sampled_from(["total_limit", "hourly_limit", "reason", "status", "other"]),
    st.one_of(
        st.builds(
            lambda v: {"value": {"type": "plain_text_input", "value": v}},
            st.none() | st.text(max_size=30) | st.integers(-3, 10**10).map(str),
        ),
        st.builds(
            lambda v: {"value": {"type": "static_select", "selected_option": v}},
            st.none()
            | st.sampled_from(["Enable", "Disable", "On", ""]).map(lambda o: {"value": o}),
        ),
    ),
    max_size=5,
)


def check(witness: Witness, errors: ErrorRecords, status: int) -> None:
    witness.workspace.drain()
    assert status < 500
    assert errors.crashes() == []


@FUZZ
@given(text=COMMAND_TEXTS, user_id=USERS, channel_id=CHANNELS)
def test_any_command_text_is_answered(
    fuzzed: tuple[Witness, ErrorRecords], text: str, user_id: str, channel_id: str
) -> None:
    witness, errors = fuzzed
    errors.records.clear()
    response = witness.slack.command("/smtp", text, user_id=user_id, channel_id=channel_id)
    check(witness, errors, response.status_code)


@FUZZ
@given(
    action_id=ACTION_IDS,
    value=VALUES,
    user_id=USERS,
    channel_id=CHANNELS,
    in_message=st.booleans(),
)
def test_any_button_payload_is_answered(
    fuzzed: tuple[Witness, ErrorRecords],
    action_id: str,
    value: str,
    user_id: str,
    channel_id: str,
    in_message: bool,
) -> None:
    witness, errors = fuzzed
    errors.records.clear()
    body = forged_click(
        witness, action_id, value, user_id=user_id, channel_id=channel_id, in_message=in_message
    )
    check(witness, errors, witness.slack.post(body).status_code)


@FUZZ
@given(callback_id=CALLBACKS, meta=META, state=STATE, user_id=USERS)
def test_any_form_submission_is_answered(
    fuzzed: tuple[Witness, ErrorRecords],
    callback_id: str,
    meta: str,
    state: dict[str, Any],
    user_id: str,
) -> None:
    witness, errors = fuzzed
    errors.records.clear()
    body = forged_submission(witness, callback_id, meta, state, user_id=user_id)
    check(witness, errors, witness.slack.post(body).status_code)


@pytest.mark.parametrize(
    "state",
    [
        pytest.param({"total_limit": {"value": True}}, id="value-is-true"),
        pytest.param({"hourly_limit": "100"}, id="block-is-text"),
        pytest.param({"total_limit": {"value": {"value": 5}}}, id="value-is-a-number"),
    ],
)
def test_form_with_malformed_state_is_answered(
    fuzzed: tuple[Witness, ErrorRecords], state: dict[str, Any]
) -> None:
    witness, errors = fuzzed
    errors.records.clear()
    body = forged_submission(witness, blocks.VIEW_ADD, json.dumps({"c": OPS}), state)
    response = witness.slack.post(body)
    check(witness, errors, response.status_code)
    assert response.json().get("response_action") == "errors"
