"""Text from people and from Sarv renders inert in everything sarvbot posts.

Reasons and SMTP names carrying mentions, entities, links, control characters, bidi
overrides and 10 000 characters go through every path that shows them; then every text
the app sent (Web API calls, response_url posts, views) is checked for markup it did not
mean, and Slack's stand-in must have refused nothing for its size.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from sarvbot.slack import blocks
from sarvbot.standin.workspace import ALICE, APPROVALS, BOB, CAROL, DEV, OPS

from .conftest import Witness

HOSTILE = (
    "<!channel> <!here|here> <@U0BOB> <#C0OPS> <https://evil.example|sign in> "
    "&lt;b&gt; &amp; \u202egnp.exe \u2066x\u2069 \x07\x1b[2J *loud* `tick`"
)
HOSTILE_NAMES = [
    "<!channel>",
    "<@U0BOB>",
    "&lt;!here&gt;",
    "<https://evil.example|x>",
    "smtp\u202eexe",
    "smtp\x07\x1b",
]
LONG = "<!channel>" + "<@U0BOB>&lt;" * 999  # 10 000 characters
SENDING_METHODS = (
    "chat.postMessage",
    "chat.postEphemeral",
    "chat.update",
    "views.open",
    "views.update",
)
# What the app itself writes in angle brackets: mentions of actors, channel links, dates.
_DATE = r"<!date\^\d+\^\{date_short_pretty\} \{time\}\|[0-9: -]+UTC>"
_UNSAFE_CHARACTERS = re.compile("[\x00-\x09\x0b-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# An entity may be cut short by an ellipsis when long text is shortened; that is harmless.
_ENTITY = re.compile(r"&(?!(?:amp|lt|gt);|(?:a|am|amp|l|lt|g|gt)?…)")
# Typed entities must stay text: "&lt;b&gt;" shown as typed is "&amp;lt;b&amp;gt;".
TYPED_ENTITIES = ["&lt;b&gt;"]


def texts_in(value: Any) -> Iterator[str]:
    """Every ``text`` string in a message, a view or a block list, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield item
            else:
                yield from texts_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts_in(item)


def sent_texts(witness: Witness) -> list[str]:
    texts: list[str] = []
    for call in witness.calls():
        if call.method in SENDING_METHODS:
            args = {k: v for k, v in call.args.items() if k in ("text", "blocks", "view")}
            texts += texts_in(args)
    for post in witness.posts():
        texts += texts_in(post.body)
    for rejected in witness.rejected_posts:
        texts += texts_in(rejected.body)
    for body in witness.http_bodies():
        if body.startswith("{"):
            texts += texts_in(json.loads(body))
        elif body:
            texts.append(body)
    return texts


def stray_markup(texts: Iterable[str], actors: Iterable[str]) -> list[str]:
    """Each text that holds markup the app did not write for the given real actors."""
    mentions = "|".join(re.escape(f"<@{a}>") for a in actors)
    allowed = re.compile(
        rf"{mentions}|<#(?:{DEV}|{OPS}|{APPROVALS})>|{_DATE}" if mentions else _DATE
    )
    found = []
    for text in texts:
        bare = allowed.sub("", text)
        if "<" in bare or ">" in bare or _ENTITY.search(bare) or _UNSAFE_CHARACTERS.search(bare):
            found.append(text[:300])
    return found


def assert_inert(
    witness: Witness, actors: Iterable[str], typed: Iterable[str] = TYPED_ENTITIES
) -> None:
    texts = sent_texts(witness)
    assert texts, "the app sent nothing"
    assert stray_markup(texts, actors) == []
    assert [t[:300] for t in texts for entity in typed if entity in t] == []
    assert witness.over_limit_failures() == []


def deny_with_reason(witness: Witness, request_id: int, reason: str) -> None:
    message = witness.approval_message(request_id)
    witness.click(blocks.ACTION_DENY, user_id=CAROL, message=message)
    form = next(v for v in witness.fake.views.values() if v["callback_id"] == blocks.VIEW_DENY)
    witness.slack.submit_view(form, {"reason": {"value": reason}}, user_id=CAROL)
    witness.workspace.drain()


def test_the_checker_sees_markup() -> None:
    """The check is able to fail: raw user text would be caught."""
    assert stray_markup([HOSTILE], [BOB]) != []
    assert stray_markup(["&lt;b&gt;"], []) == []
    assert stray_markup(["&amp;lt;b&amp;gt;", "<@U0BOB> did it"], [BOB]) == []
    assert stray_markup(["<@U0BOB> did it"], [ALICE]) != []
    assert stray_markup(["a\u202eb"], []) != []
    assert stray_markup(["&amp;lt;b&amp…"], []) == []
    assert stray_markup(["&#60;"], []) != []


def test_hostile_reason_is_inert_through_request_deny_list_and_audit(witness: Witness) -> None:
    witness.workspace.sandbox.add_user(name="smtp50001")
    request = witness.request(f"reset smtp50001 {HOSTILE}")
    deny_with_reason(witness, request.id, HOSTILE)
    assert witness.state_of(request.id) == "denied"
    witness.workspace.sandbox.add_user(name="smtp50002")
    witness.request(f"disable smtp50002 {HOSTILE}")
    witness.command("requests", user_id=CAROL, channel_id=OPS)
    witness.command("audit smtp50001", user_id=CAROL, channel_id=OPS)
    assert any("Reason for denial" in t for t in sent_texts(witness))
    assert_inert(witness, [ALICE, CAROL])


def test_ten_thousand_character_reasons_stay_inert_and_within_limits(witness: Witness) -> None:
    witness.command(f"reset smtp50003 {LONG}", user_id=ALICE, channel_id=DEV)
    assert "longer than" in " ".join(witness.http_bodies())
    # Forms take long text where a command cannot: the add form, and the deny form.
    witness.command("add", user_id=ALICE, channel_id=DEV)
    form = next(v for v in witness.fake.views.values() if v["callback_id"] == blocks.VIEW_ADD)
    values = {
        "total_limit": {"value": "100"},
        "hourly_limit": {"value": "10"},
        "reason": {"value": LONG},
    }
    witness.slack.submit_view(form, values, user_id=ALICE)
    witness.workspace.drain()
    request = witness.approval_message()
    assert "Request #1" in str(request)
    deny_with_reason(witness, 1, LONG)
    assert witness.state_of(1) == "denied"
    witness.command("audit", user_id=CAROL, channel_id=OPS)
    assert_inert(witness, [ALICE, CAROL])


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_smtp_names_from_sarv_are_inert_in_lists(witness: Witness, name: str) -> None:
    witness.workspace.sandbox.add_user(name=name)
    witness.workspace.sandbox.add_user(name="smtp50004")
    witness.command("list", user_id=CAROL, channel_id=OPS)
    witness.command(f"list {name}", user_id=CAROL, channel_id=OPS)
    witness.command("list smtp", user_id=CAROL, channel_id=OPS)
    assert any("smtp50004" in t for t in sent_texts(witness))
    assert_inert(witness, [CAROL], [*TYPED_ENTITIES, name])


def test_a_ten_thousand_character_name_from_sarv_still_lists(witness: Witness) -> None:
    witness.workspace.sandbox.add_user(name="smtp" + "x" * 9996)
    witness.workspace.sandbox.add_user(name="smtp50005")
    witness.command("list", user_id=CAROL, channel_id=OPS)
    assert any("smtp50005" in t for t in sent_texts(witness))
    assert_inert(witness, [CAROL])


SHOWABLE = [n for n in HOSTILE_NAMES if n.isprintable() and " " not in n]


@pytest.mark.parametrize("name", SHOWABLE)
def test_hostile_smtp_names_are_inert_when_shown_edited_and_requested(
    witness: Witness, name: str
) -> None:
    witness.workspace.sandbox.add_user(name=name)
    witness.command(f"show {name}", user_id=CAROL, channel_id=OPS)
    witness.command(f"disable {name}", user_id=CAROL, channel_id=OPS)
    witness.command(f"edit {name}", user_id=CAROL, channel_id=OPS)
    request = witness.request(f"enable {name} {HOSTILE}")
    witness.approve(user_id=CAROL)
    assert witness.state_of(request.id) == "done"
    witness.command(f"audit {name}", user_id=CAROL, channel_id=OPS)
    assert witness.workspace.sandbox.users[name].status == "Enable"
    assert_inert(witness, [ALICE, CAROL], [*TYPED_ENTITIES, name])


@pytest.mark.parametrize("name", SHOWABLE)
def test_hostile_smtp_names_are_inert_in_password_messages(witness: Witness, name: str) -> None:
    witness.workspace.sandbox.add_user(name=name)
    witness.command(f"reset {name}", user_id=CAROL, channel_id=OPS)
    witness.command(f"reveal {name}", user_id=CAROL, channel_id=OPS)
    request = witness.request(f"reset {name} {HOSTILE}")
    witness.approve(user_id=CAROL)
    assert witness.state_of(request.id) == "done"
    assert len(witness.fake.ephemerals) >= 3
    assert_inert(witness, [ALICE, CAROL], [*TYPED_ENTITIES, name])
