"""Whole numbers read from people: ASCII digits within a bound, or nothing."""

from __future__ import annotations

import pytest

from sarvbot.core.commands import MAX_REQUEST_ID, request_number, whole_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("007", 7),
        ("0" * 5000 + "42", 42),
        (str(MAX_REQUEST_ID), MAX_REQUEST_ID),
        (str(MAX_REQUEST_ID + 1), None),
        ("9" * 5000, None),
        ("0", None),
        ("", None),
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1_000", None),
        ("\u00b2", None),
        ("\u0661\u0662", None),
    ],
)
def test_whole_number_is_ascii_digits_within_the_bound(text: str, expected: int | None) -> None:
    assert whole_number(text, MAX_REQUEST_ID) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1),
        (MAX_REQUEST_ID, MAX_REQUEST_ID),
        (MAX_REQUEST_ID + 1, None),
        (0, None),
        (True, None),
        (1.0, None),
        ("1", None),
        (None, None),
    ],
)
def test_request_number_from_json_is_a_bounded_integer(value: object, expected: int | None) -> None:
    assert request_number(value) == expected
