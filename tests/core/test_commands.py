"""Parsing /smtp text: each mistake named, with the right form shown."""

from __future__ import annotations

import pytest

from sarvbot.core import Command, CommandError, parse_command
from sarvbot.sarv import UserStatus


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Command("help")),
        ("  HELP ", Command("help")),
        ("whoami", Command("whoami")),
        ("list", Command("list")),
        ("list billing svc", Command("list", text="billing svc")),
        ("show smtp12345", Command("show", user="smtp12345")),
        ("add", Command("add")),
        ("add 500 200", Command("add", total_limit=500, hourly_limit=200)),
        (
            "add 500 200 for billing",
            Command("add", total_limit=500, hourly_limit=200, reason="for billing"),
        ),
        ("reset smtp1 key leaked in CI", Command("reset", user="smtp1", reason="key leaked in CI")),
        ("disable smtp1", Command("disable", user="smtp1")),
        ("edit smtp1", Command("edit", user="smtp1")),
        ("requests", Command("requests")),
        ("cancel 12", Command("cancel", request_id=12)),
        ("cancel #12", Command("cancel", request_id=12)),
        ("audit", Command("audit")),
        ("audit smtp1", Command("audit", user="smtp1")),
    ],
)
def test_commands_parse(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


def test_edit_with_values_and_a_reason() -> None:
    command = parse_command("edit smtp1 total=1000 hourly=50 status=Disable too much spam")
    assert (command.total_limit, command.hourly_limit, command.status) == (
        1000,
        50,
        UserStatus.DISABLE,
    )
    assert command.reason == "too much spam"
    assert not command.wants_modal
    assert parse_command("edit smtp1").wants_modal
    assert parse_command("add").wants_modal


@pytest.mark.parametrize(
    ("text", "problem", "usage"),
    [
        ("frobnicate", "`frobnicate` is not a command I know", "/smtp help"),
        ("show", "`show` needs an SMTP user name", "/smtp show USER"),
        ("show a b", "`show` takes only the user name", "/smtp show USER"),
        (
            "add 500",
            "`add` needs both limits",
            "/smtp add [TOTAL HOURLY [label=LABEL] [owner=@person]] [reason]",
        ),
        (
            "add 0 5",
            "between 1 and",
            "/smtp add [TOTAL HOURLY [label=LABEL] [owner=@person]] [reason]",
        ),
        (
            "add -1 5",
            "must be a positive whole number",
            "/smtp add [TOTAL HOURLY [label=LABEL] [owner=@person]] [reason]",
        ),
        (
            "add \uff15 5",
            "must be a positive whole number",
            "/smtp add [TOTAL HOURLY [label=LABEL] [owner=@person]] [reason]",
        ),
        (
            "add 99999999999 5",
            "between 1 and",
            "/smtp add [TOTAL HOURLY [label=LABEL] [owner=@person]] [reason]",
        ),
        ("edit smtp1 total=x", "must be a positive whole number", None),
        ("edit smtp1 status=enabled", "status must be Enable or Disable", None),
        ("edit smtp1 colour=red", "`colour` is not something `edit` can change", None),
        ("edit smtp1 total=1 total=2", "is given twice", None),
        ("edit smtp1 just words", "give the changes as", None),
        ("cancel x", "`cancel` needs the request number", "/smtp cancel N"),
        ("reset " + "x" * 65, "that is not an SMTP user name", "/smtp reset USER [reason]"),
        ("x" * 2001, "longer than 2000 characters", None),
    ],
)
def test_mistakes_are_named(text: str, problem: str, usage: str | None) -> None:
    with pytest.raises(CommandError) as caught:
        parse_command(text)
    assert problem in caught.value.message
    if usage:
        assert caught.value.usage == usage


@pytest.mark.parametrize(
    ("text", "seconds", "reason"),
    [
        ("edit smtp1 hourly=5000 for 4h campaign", 4 * 3600, "campaign"),
        ("disable smtp1 for 30m", 1800, ""),
        ("enable smtp1 for 2h30m back for the launch", 9000, "back for the launch"),
        ("disable smtp1 for 1w", 7 * 86400, ""),
        ("disable smtp1 for security reasons", None, "for security reasons"),
        ("reset smtp1 for 1h", None, "for 1h"),  # a reset is never time-bound
    ],
)
def test_a_duration_follows_for(text: str, seconds: int | None, reason: str) -> None:
    command = parse_command(text)
    assert command.for_seconds == seconds
    assert command.reason == reason


@pytest.mark.parametrize("text", ["disable smtp1 for 0m", "disable smtp1 for 91d"])
def test_a_duration_out_of_range_is_named(text: str) -> None:
    with pytest.raises(CommandError, match="from 1 minute"):
        parse_command(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("label smtp1", "needs the user and the new label"),
        ("label smtp1 bad/label", "a label is 1 to 40"),
        ("owner smtp1 @alice", "name the person with an @-mention"),
        ("note smtp1", "needs the text"),
        ("add 10 5 colour=blue", "is not something `add` takes"),
    ],
)
def test_catalogue_mistakes_are_named(text: str, problem: str) -> None:
    with pytest.raises(CommandError, match=problem):
        parse_command(text)


def test_an_owner_mention_is_read_as_its_user_id() -> None:
    assert parse_command("owner smtp1 <@U0ALICE|alice>").owner_id == "U0ALICE"
    assert parse_command("add 10 5 owner=<@U0BOB> label=crm").owner_id == "U0BOB"


@pytest.mark.parametrize(
    "text", ["disable smtp1 for", "disable smtp1 for 2 hours", "edit s hourly=5 for"]
)
def test_for_without_a_duration_is_a_mistake_not_a_change_for_good(text: str) -> None:
    with pytest.raises(CommandError, match="give the duration as 30m, 4h, 1d or 2h30m"):
        parse_command(text)
