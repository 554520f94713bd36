"""The fake Slack Web API, driven over real HTTP by slack_sdk's WebClient."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from sarvbot.standin import (
    ApiCall,
    FakeSlackApi,
    Recorded,
    ResponsePost,
    SlackChannel,
    SlackUser,
    check_message_limits,
)

TOKEN = "xoxb-test-token"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeSlackApi]:
    api = FakeSlackApi(
        TOKEN,
        users=[
            SlackUser("U0ALICE", "alice"),
            SlackUser("U0BOB", "bob"),
            SlackUser("U0GUEST", "gus", guest=True),
            SlackUser("U0SOLO", "sol", single_channel_guest=True),
            SlackUser("U0GONE", "gone", deleted=True),
            SlackUser("U0QUIET", "quiet", messages_tab_enabled=False),
            SlackUser("U0OTHER", "otto", team_id="T0OTHER"),
        ],
        channels=[
            SlackChannel("C0OPS", "ops", {"U0ALICE", "U0BOB", "U0QUIET"}),
            SlackChannel("C0SECRET", "secret", {"U0ALICE"}, is_private=True),
        ],
        usergroups={"S0ADMINS": ["U0ALICE", "U0BOB"]},
        trigger_ttl=3.0,
        clock=clock,
    )
    api.add_channel(SlackChannel("C0NOBOT", "nobot", {"U0ALICE"}), with_bot=False)
    with api:
        yield api


@pytest.fixture
def client(fake: FakeSlackApi) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.api_url)


def slack_error(excinfo: pytest.ExceptionInfo[SlackApiError]) -> Any:
    return excinfo.value.response["error"]


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def modal(blocks: int = 1) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "reset",
        "title": {"type": "plain_text", "text": "Reset"},
        "blocks": [section(f"line {n}") for n in range(blocks)],
    }


# -- server, auth, bodies -------------------------------------------------------------


def test_api_url_is_local_with_a_real_port(fake: FakeSlackApi) -> None:
    assert fake.api_url.startswith("http://127.0.0.1:")
    assert fake.api_url.endswith("/api/")
    assert int(fake.api_url.split(":")[2].split("/")[0]) > 0


def test_auth_test_describes_the_bot(client: WebClient) -> None:
    reply = client.auth_test()
    assert reply["user_id"] == "U0SARVBOT"
    assert reply["team_id"] == "T0SARV"
    assert reply["bot_id"] == "B0SARVBOT"


def test_wrong_token_gets_invalid_auth_with_http_200(fake: FakeSlackApi) -> None:
    bad = WebClient(token="xoxb-wrong", base_url=fake.api_url)
    with pytest.raises(SlackApiError) as excinfo:
        bad.chat_postMessage(channel="C0OPS", text="hi")
    assert excinfo.value.response.status_code == 200
    assert slack_error(excinfo) == "invalid_auth"
    assert fake.messages == {}
    assert fake.calls[-1].error == "invalid_auth"


def test_missing_token_gets_not_authed(fake: FakeSlackApi) -> None:
    reply = requests.post(fake.api_url + "auth.test", timeout=5)
    assert reply.json() == {"ok": False, "error": "not_authed"}


def test_form_encoded_blocks_arrive_decoded(fake: FakeSlackApi, client: WebClient) -> None:
    blocks = [section("*hello*")]
    client.api_call(
        "chat.postMessage", data={"channel": "C0OPS", "text": "hi", "blocks": json.dumps(blocks)}
    )
    assert fake.calls_to("chat.postMessage")[0].args["blocks"] == blocks


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{not json"),
        ("application/json", b"[1, 2]"),
        ("application/x-www-form-urlencoded", b"channel=\xff\xfe"),
        ("application/x-www-form-urlencoded", b"channel=C0OPS&blocks=%5Bnope"),
    ],
)
def test_malformed_bodies_are_refused_and_the_server_keeps_serving(
    fake: FakeSlackApi, client: WebClient, content_type: str, body: bytes
) -> None:
    reply = requests.post(
        fake.api_url + "chat.postMessage",
        data=body,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type},
        timeout=5,
    )
    assert reply.status_code == 200
    assert reply.json()["error"] in {"invalid_arguments", "invalid_blocks_format"}
    assert client.auth_test()["ok"] is True


def test_body_over_one_megabyte_is_refused(fake: FakeSlackApi, client: WebClient) -> None:
    reply = requests.post(
        fake.api_url + "chat.postMessage",
        data=b"text=" + b"a" * (1024 * 1024),
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert reply.status_code == 413
    assert reply.json() == {"ok": False, "error": "request_too_large"}
    assert client.auth_test()["ok"] is True


def test_unknown_method(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.api_call("chat.scheduleMessage", json={"channel": "C0OPS"})
    assert slack_error(excinfo) == "unknown_method"


# -- conversations, users, usergroups ---------------------------------------------------


def test_conversations_open_gives_a_stable_im_per_user(client: WebClient) -> None:
    first = client.conversations_open(users="U0ALICE")
    again = client.conversations_open(users="U0ALICE")
    bob = client.conversations_open(users="U0BOB")
    assert first["channel"]["id"].startswith("D")
    assert again["channel"]["id"] == first["channel"]["id"]
    assert again["already_open"] is True
    assert bob["channel"]["id"] != first["channel"]["id"]


@pytest.mark.parametrize(
    ("user", "error"), [("U0NOBODY", "user_not_found"), ("U0GONE", "user_disabled")]
)
def test_conversations_open_errors(client: WebClient, user: str, error: str) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.conversations_open(users=user)
    assert slack_error(excinfo) == error


def test_conversations_members_pages_with_a_cursor(fake: FakeSlackApi, client: WebClient) -> None:
    fake.add_channel(SlackChannel("C0BIG", "big", {f"U{n:04d}" for n in range(7)}))
    pages: list[list[str]] = []
    cursor = ""
    while True:
        reply = client.conversations_members(channel="C0BIG", limit=3, cursor=cursor)
        pages.append(reply["members"])
        cursor = reply["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert [len(page) for page in pages] == [3, 3, 2]
    assert sorted(m for page in pages for m in page) == sorted(
        [f"U{n:04d}" for n in range(7)] + ["U0SARVBOT"]
    )


def test_conversations_members_errors(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.conversations_members(channel="C0OPS", cursor="garbage!")
    assert slack_error(excinfo) == "invalid_cursor"
    with pytest.raises(SlackApiError) as excinfo:
        client.conversations_members(channel="C0MISSING")
    assert slack_error(excinfo) == "channel_not_found"


@pytest.mark.parametrize(
    ("user_id", "field", "expected"),
    [
        ("U0ALICE", "is_restricted", False),
        ("U0GUEST", "is_restricted", True),
        ("U0GUEST", "is_ultra_restricted", False),
        ("U0SOLO", "is_ultra_restricted", True),
        ("U0SOLO", "is_restricted", True),
        ("U0SARVBOT", "is_bot", True),
        ("U0GONE", "deleted", True),
        ("U0OTHER", "team_id", "T0OTHER"),
        ("U0BOB", "name", "bob"),
    ],
)
def test_users_info_fields(client: WebClient, user_id: str, field: str, expected: object) -> None:
    assert client.users_info(user=user_id)["user"][field] == expected


def test_users_info_unknown_user(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.users_info(user="U0NOBODY")
    assert slack_error(excinfo) == "user_not_found"


def test_usergroups_users_list(client: WebClient) -> None:
    assert client.usergroups_users_list(usergroup="S0ADMINS")["users"] == ["U0ALICE", "U0BOB"]
    with pytest.raises(SlackApiError) as excinfo:
        client.usergroups_users_list(usergroup="S0NONE")
    assert slack_error(excinfo) == "no_such_subteam"


# -- chat -----------------------------------------------------------------------------


def test_post_message_returns_increasing_unique_ts(fake: FakeSlackApi, client: WebClient) -> None:
    first = client.chat_postMessage(channel="C0OPS", text="one")
    second = client.chat_postMessage(channel="C0OPS", text="two")
    assert first["ts"] == "1700000000.000100"
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["text"] == "one"
    assert fake.messages[("C0OPS", second["ts"])]["text"] == "two"


def test_post_message_to_a_user_id_lands_in_their_im(fake: FakeSlackApi, client: WebClient) -> None:
    reply = client.chat_postMessage(channel="U0ALICE", text="psst")
    assert reply["channel"] == fake.im_channel_id("U0ALICE")


@pytest.mark.parametrize(
    ("channel", "error"),
    [
        ("C0MISSING", "channel_not_found"),
        ("C0NOBOT", "not_in_channel"),
        ("U0QUIET", "messages_tab_disabled"),
    ],
)
def test_post_message_errors(client: WebClient, channel: str, error: str) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel=channel, text="hi")
    assert slack_error(excinfo) == error


def test_post_ephemeral_to_a_channel_member(fake: FakeSlackApi, client: WebClient) -> None:
    reply = client.chat_postEphemeral(channel="C0OPS", user="U0BOB", text="only you")
    assert reply["message_ts"]
    assert fake.ephemerals == [
        {
            "channel": "C0OPS",
            "user": "U0BOB",
            "message_ts": reply["message_ts"],
            "text": "only you",
            "blocks": None,
        }
    ]
    assert fake.messages == {}


def test_post_ephemeral_in_an_im_reaches_only_its_user(
    fake: FakeSlackApi, client: WebClient
) -> None:
    im = client.conversations_open(users="U0ALICE")["channel"]["id"]
    assert client.chat_postEphemeral(channel=im, user="U0ALICE", text="pw")["ok"] is True
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postEphemeral(channel=im, user="U0BOB", text="pw")
    assert slack_error(excinfo) == "user_not_in_channel"


@pytest.mark.parametrize(
    ("channel", "user", "error"),
    [
        ("C0OPS", "U0GUEST", "user_not_in_channel"),
        ("C0MISSING", "U0ALICE", "channel_not_found"),
        ("DQUIET", "U0QUIET", "messages_tab_disabled"),
    ],
)
def test_post_ephemeral_errors(
    fake: FakeSlackApi, client: WebClient, channel: str, user: str, error: str
) -> None:
    if channel == "DQUIET":
        channel = fake.im_channel_id("U0QUIET")
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postEphemeral(channel=channel, user=user, text="hi")
    assert slack_error(excinfo) == error
    assert fake.ephemerals == []


def test_update_changes_the_stored_message(fake: FakeSlackApi, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C0OPS", text="pending")["ts"]
    updated = client.chat_update(channel="C0OPS", ts=ts, text="approved", blocks=[section("ok")])
    assert updated["ts"] == ts
    assert fake.messages[("C0OPS", ts)]["text"] == "approved"
    assert fake.messages[("C0OPS", ts)]["blocks"] == [section("ok")]


def test_update_of_an_unknown_message(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_update(channel="C0OPS", ts="1.000001", text="x")
    assert slack_error(excinfo) == "message_not_found"


# -- limits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": "x", "blocks": [section("b")] * 51}, "invalid_blocks"),
        ({"text": "x", "blocks": [section("a" * 3001)]}, "invalid_blocks"),
        (
            {
                "text": "x",
                "blocks": [
                    {"type": "context", "elements": [{"type": "mrkdwn", "text": "a" * 3001}]}
                ],
            },
            "invalid_blocks",
        ),
        ({"text": "a" * 40_001}, "msg_too_long"),
        ({}, "no_text"),
    ],
)
@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
def test_message_limits(client: WebClient, kwargs: dict[str, Any], error: str) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="C0OPS", **kwargs)
    assert slack_error(excinfo) == error


def test_messages_at_the_limits_are_accepted(client: WebClient) -> None:
    blocks = [section("a" * 3000)] * 50
    assert client.chat_postMessage(channel="C0OPS", text="a" * 40_000, blocks=blocks)["ok"]


def test_check_message_limits_for_views() -> None:
    blocks = [section("x")] * 100
    assert check_message_limits(text=None, blocks=blocks, max_blocks=100) is None
    assert check_message_limits(text=None, blocks=[*blocks, section("y")], max_blocks=100) == (
        "invalid_blocks"
    )


# -- views ----------------------------------------------------------------------------


def test_views_open_with_a_fresh_trigger(fake: FakeSlackApi, client: WebClient) -> None:
    view = client.views_open(trigger_id=fake.new_trigger_id("U0ALICE"), view=modal())["view"]
    assert view["id"].startswith("V")
    assert view["hash"]
    assert view["callback_id"] == "reset"
    assert fake.views[view["id"]]["blocks"] == modal()["blocks"]


def test_a_trigger_works_once(fake: FakeSlackApi, client: WebClient) -> None:
    trigger = fake.new_trigger_id("U0ALICE")
    client.views_open(trigger_id=trigger, view=modal())
    with pytest.raises(SlackApiError) as excinfo:
        client.views_open(trigger_id=trigger, view=modal())
    assert slack_error(excinfo) == "exchanged_trigger_id"


def test_a_trigger_expires_after_its_ttl(
    fake: FakeSlackApi, client: WebClient, clock: FakeClock
) -> None:
    trigger = fake.new_trigger_id("U0ALICE")
    clock.advance(3.01)
    with pytest.raises(SlackApiError) as excinfo:
        client.views_open(trigger_id=trigger, view=modal())
    assert slack_error(excinfo) == "expired_trigger_id"


def test_an_unknown_trigger_is_invalid(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as excinfo:
        client.views_open(trigger_id="123.456.abc", view=modal())
    assert slack_error(excinfo) == "invalid_trigger_id"


def test_a_view_over_100_blocks_is_refused_and_keeps_the_trigger(
    fake: FakeSlackApi, client: WebClient
) -> None:
    trigger = fake.new_trigger_id("U0ALICE")
    with pytest.raises(SlackApiError) as excinfo:
        client.views_open(trigger_id=trigger, view=modal(blocks=101))
    assert slack_error(excinfo) == "invalid_blocks"
    assert client.views_open(trigger_id=trigger, view=modal(blocks=100))["ok"] is True


def test_views_update_checks_id_and_hash(fake: FakeSlackApi, client: WebClient) -> None:
    opened = client.views_open(trigger_id=fake.new_trigger_id("U0ALICE"), view=modal())["view"]
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal(2))
    assert updated["view"]["id"] == opened["id"]
    assert len(fake.views[opened["id"]]["blocks"]) == 2
    with pytest.raises(SlackApiError) as excinfo:
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal(3))
    assert slack_error(excinfo) == "hash_conflict"
    with pytest.raises(SlackApiError) as excinfo:
        client.views_update(view_id="V0MISSING", view=modal())
    assert slack_error(excinfo) == "not_found"


def _input(block_id: str, element_type: str) -> dict[str, Any]:
    element: dict[str, Any] = {"type": element_type, "action_id": "value"}
    if element_type == "static_select":
        element["options"] = [{"text": {"type": "plain_text", "text": "A"}, "value": "a"}]
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": block_id},
        "element": element,
    }


def test_views_update_keeps_what_was_entered_in_inputs_that_stay(
    fake: FakeSlackApi, client: WebClient
) -> None:
    """Slack keeps an input's value across views.update while its block_id and element type
    stay the same; it drops the others.
    """
    blocks = [_input("kept", "plain_text_input"), _input("retyped", "plain_text_input")]
    view = {**modal(), "blocks": blocks}
    opened = client.views_open(trigger_id=fake.new_trigger_id("U0ALICE"), view=view)["view"]
    typed = {"type": "plain_text_input", "value": "typed"}
    fake.enter(opened["id"], {"kept": {"value": typed}, "retyped": {"value": typed}})
    changed = {**view, "blocks": [blocks[0], _input("retyped", "static_select")]}
    client.views_update(view_id=opened["id"], hash=opened["hash"], view=changed)
    assert fake.views[opened["id"]]["state"]["values"] == {"kept": {"value": typed}}


def test_a_static_select_without_options_is_refused(fake: FakeSlackApi, client: WebClient) -> None:
    empty = _input("action", "static_select")
    empty["element"]["options"] = []
    view = {**modal(), "blocks": [empty]}
    with pytest.raises(SlackApiError) as excinfo:
        client.views_open(trigger_id=fake.new_trigger_id("U0ALICE"), view=view)
    assert slack_error(excinfo) == "invalid_blocks"


# -- faults and retries ---------------------------------------------------------------


def test_rate_limit_is_retried_after_retry_after(fake: FakeSlackApi) -> None:
    fake.fail_next("chat.postMessage", "ratelimited", status=429, headers={"Retry-After": "0"})
    retrying = WebClient(
        token=TOKEN, base_url=fake.api_url, retry_handlers=[RateLimitErrorRetryHandler()]
    )
    assert retrying.chat_postMessage(channel="C0OPS", text="hi")["ok"] is True
    assert [c.error for c in fake.calls_to("chat.postMessage")] == ["ratelimited", None]


def test_rate_limit_without_a_retry_handler_surfaces_429(
    fake: FakeSlackApi, client: WebClient
) -> None:
    fake.fail_next("chat.postMessage", "ratelimited", status=429, headers={"Retry-After": "1"})
    with pytest.raises(SlackApiError) as excinfo:
        client.chat_postMessage(channel="C0OPS", text="hi")
    assert excinfo.value.response.status_code == 429
    assert excinfo.value.response.headers["Retry-After"] == "1"
    assert client.chat_postMessage(channel="C0OPS", text="hi")["ok"] is True


def test_fail_next_counts_down(fake: FakeSlackApi, client: WebClient) -> None:
    fake.fail_next("chat.postEphemeral", "messages_tab_disabled", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as excinfo:
            client.chat_postEphemeral(channel="C0OPS", user="U0BOB", text="x")
        assert slack_error(excinfo) == "messages_tab_disabled"
    assert client.chat_postEphemeral(channel="C0OPS", user="U0BOB", text="x")["ok"] is True


# -- recording ------------------------------------------------------------------------


def test_calls_are_recorded_in_order(fake: FakeSlackApi, client: WebClient) -> None:
    client.auth_test()
    client.chat_postMessage(channel="C0OPS", text="hi")
    assert [c.method for c in fake.calls] == ["auth.test", "chat.postMessage"]
    assert fake.calls_to("chat.postMessage")[0].args == {"channel": "C0OPS", "text": "hi"}
    fake.clear()
    assert fake.calls == []


def test_wait_for_wakes_on_a_call_from_another_thread(
    fake: FakeSlackApi, client: WebClient
) -> None:
    started = threading.Event()

    def post_when_waiting() -> None:
        started.wait(5)
        client.chat_postMessage(channel="C0OPS", text="late")

    worker = threading.Thread(target=post_when_waiting)
    worker.start()
    started.set()
    call = fake.wait_for(lambda c: c.method == "chat.postMessage" and c.args["text"] == "late")
    worker.join(5)
    assert call.args["channel"] == "C0OPS"


def test_wait_for_timeout_lists_the_calls_seen(fake: FakeSlackApi, client: WebClient) -> None:
    client.chat_postMessage(channel="C0OPS", text="hi")
    with pytest.raises(AssertionError, match=r"1\. chat\.postMessage .*-> ok"):
        fake.wait_for("views.open", timeout=0.05)


def test_subscribers_see_calls_and_posts(fake: FakeSlackApi, client: WebClient) -> None:
    seen: list[Recorded] = []
    unsubscribe = fake.subscribe(seen.append)
    client.auth_test()
    WebhookClient(fake.new_response_url()).send(text="done")
    unsubscribe()
    client.auth_test()
    assert [type(item) for item in seen] == [ApiCall, ResponsePost]


def test_calls_and_posts_record_how_long_the_fake_took(
    fake: FakeSlackApi, client: WebClient
) -> None:
    client.auth_test()
    WebhookClient(fake.new_response_url()).send(text="done")
    assert fake.calls[0].handled_in > 0
    assert fake.posts[0].handled_in > 0


# -- response_url ---------------------------------------------------------------------


def test_response_url_takes_five_posts_then_refuses(fake: FakeSlackApi) -> None:
    url = fake.new_response_url()
    assert url.startswith(fake.base_url + "/response/")
    hook = WebhookClient(url)
    statuses = [hook.send(text=f"post {n}", replace_original=True).status_code for n in range(5)]
    sixth = hook.send(text="one too many")
    assert statuses == [200] * 5
    assert (sixth.status_code, sixth.body) == (404, "used_url")
    assert [p.body["text"] for p in fake.posts] == [f"post {n}" for n in range(5)]
    assert all(p.replace_original for p in fake.posts)


def test_wait_for_post_sees_delete_original(fake: FakeSlackApi) -> None:
    url = fake.new_response_url()
    WebhookClient(url).send_dict({"delete_original": True})
    post = fake.wait_for_post(lambda p: p.url == url)
    assert post.delete_original is True


def test_wait_for_post_timeout_lists_the_posts_seen(fake: FakeSlackApi) -> None:
    WebhookClient(fake.new_response_url()).send(text="done")
    with pytest.raises(AssertionError, match=r"posts so far:\n  1\. POST http://\S+ .*done"):
        fake.wait_for_post(lambda p: p.body.get("text") == "other", timeout=0.05)


def test_delete_original_removes_the_source_message(fake: FakeSlackApi, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="C0OPS", text="pending")["ts"]
    url = fake.new_response_url(channel_id="C0OPS", message_ts=ts)
    WebhookClient(url).send_dict({"delete_original": True})
    assert ("C0OPS", ts) not in fake.messages


def test_unknown_response_url_is_404(fake: FakeSlackApi) -> None:
    reply = requests.post(fake.base_url + "/response/nope", json={"text": "x"}, timeout=5)
    assert reply.status_code == 404
    assert fake.posts == []


# -- views.publish (the Home tab) ------------------------------------------------------


def home(blocks: int = 1) -> dict[str, Any]:
    return {"type": "home", "blocks": [section(f"line {n}") for n in range(blocks)]}


def test_views_publish_keeps_one_home_view_per_user(fake: FakeSlackApi, client: WebClient) -> None:
    first = client.views_publish(user_id="U0ALICE", view=home(1))["view"]
    second = client.views_publish(user_id="U0ALICE", view=home(2))["view"]
    assert first["type"] == "home"
    assert second["id"] == first["id"]
    assert second["hash"] != first["hash"]
    shown = fake.home_view("U0ALICE")
    assert shown is not None
    assert len(shown["blocks"]) == 2
    assert fake.home_view("U0BOB") is None
    assert [c.args["user_id"] for c in fake.calls_to("views.publish")] == ["U0ALICE"] * 2


@pytest.mark.parametrize(
    ("user", "view", "error"),
    [
        (None, home(), "invalid_arguments"),
        ("U0NOBODY", home(), "invalid_arguments"),
        ("U0GONE", home(), "invalid_arguments"),
        ("U0ALICE", modal(), "invalid_arguments"),
        ("U0ALICE", {"blocks": []}, "invalid_arguments"),
        ("U0ALICE", home(101), "invalid_blocks"),
        ("U0ALICE", {"type": "home", "blocks": [section("x" * 3001)]}, "invalid_blocks"),
    ],
)
def test_views_publish_refuses_what_slack_refuses(
    fake: FakeSlackApi, client: WebClient, user: str | None, view: dict[str, Any], error: str
) -> None:
    arguments: dict[str, Any] = {"view": view}
    if user is not None:
        arguments["user_id"] = user
    with pytest.raises(SlackApiError) as excinfo:
        client.api_call("views.publish", json=arguments)
    assert slack_error(excinfo) == error
    assert fake.home_view("U0ALICE") is None


def test_views_publish_with_a_stale_hash_is_a_conflict(client: WebClient) -> None:
    published = client.views_publish(user_id="U0BOB", view=home())["view"]
    client.views_publish(user_id="U0BOB", view=home(2), hash=published["hash"])
    with pytest.raises(SlackApiError) as excinfo:
        client.views_publish(user_id="U0BOB", view=home(3), hash=published["hash"])
    assert slack_error(excinfo) == "hash_conflict"


def test_a_home_view_of_a_hundred_blocks_is_taken(client: WebClient) -> None:
    assert client.views_publish(user_id="U0BOB", view=home(100))["ok"]
