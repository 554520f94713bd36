"""Slack's mrkdwn and blocks as terminal text."""

from __future__ import annotations

from sarvbot.demo.render import Names, Style, message_lines, modal_fields, mrkdwn_to_text
from sarvbot.slack import blocks

NAMES = Names(
    user=lambda uid: {"U0BOB": "bob"}.get(uid, uid),
    channel=lambda cid: {"C0DEV": "dev"}.get(cid, cid),
)
PLAIN = Style(colour=False)


def test_mentions_channels_and_dates_read_as_names() -> None:
    text = "<@U0BOB> in <#C0DEV> at <!date^1700000000^{date_short}|2023-11-14 22:13 UTC>"
    assert mrkdwn_to_text(text, NAMES, PLAIN) == "@bob in #dev at 2023-11-14 22:13 UTC"


def test_escaped_text_is_unescaped_and_bold_marks_dropped() -> None:
    text = "*Why:* a &lt;b&gt; &amp;amp; `x&lt;y`"
    assert mrkdwn_to_text(text, NAMES, PLAIN) == "Why: a <b> &amp; `x<y`"


def test_colour_styles_code_and_bold() -> None:
    shown = mrkdwn_to_text("*A* `b`", NAMES, Style(colour=True))
    assert shown == "\x1b[1mA\x1b[0m \x1b[36mb\x1b[0m"


def test_buttons_show_as_labels_in_brackets() -> None:
    message = {
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "Hello"}},
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Approve"}},
                    {"type": "button", "text": {"type": "plain_text", "text": "Deny"}},
                ],
            },
        ]
    }
    assert message_lines(message, NAMES, PLAIN) == ["Hello", "[Approve] [Deny]"]


def test_edit_modal_fields_carry_their_current_values() -> None:
    view = blocks.add_modal("{}", ask_reason=True)
    fields = modal_fields(view)
    assert [(f.block_id, f.label, f.initial, f.optional) for f in fields] == [
        ("total_limit", "Total limit", None, False),
        ("hourly_limit", "Hourly limit", None, False),
        ("label", "Label (e.g. billing-api)", None, True),
        ("reason", "Reason", None, False),
    ]
    deny = modal_fields(blocks.deny_modal(3, "{}"))
    assert [(f.label, f.optional) for f in deny] == [("Reason", True)]
