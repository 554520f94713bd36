"""The client against the sandbox, over real HTTP: every call, every error, every fault."""

from __future__ import annotations

import logging

import pytest

import sarvbot.sarv as sarv
from sarvbot.sandbox import FaultKind, Sandbox, WireVariant
from sarvbot.sarv import SarvClient, UserStatus

from .conftest import OWNER_ID, TOKEN


def test_vendor_examples_work_as_documented_in_python3(sandbox: Sandbox) -> None:
    sarv_client = sarv.Sarv(OWNER_ID, TOKEN, "ignored.example", base_url=sandbox.url)

    created = sarv_client.settings.addSmtpUser(total_limit=500, hourly_limit=200)
    assert created["status"] == "success"
    assert created["message"] == "SMTP User Created"
    assert created["smtp_user_name"].startswith("smtp")
    assert created["smtp_password"] == sandbox.users[created["smtp_user_name"]].password

    name = created["smtp_user_name"]
    edited = sarv_client.settings.editSmtp(
        smtp_user_name=name, total_limit=1000, hourly_limit=None, status="Enable"
    )
    assert edited == {"status": "success", "message": "SMTP User Updated"}
    assert sandbox.calls_to("settings/editSmtp")[-1].params == {
        "smtp_user_name": name,
        "total_limit": 1000,
        "status": "Enable",
    }

    reset = sarv_client.settings.resetSmtpPassword(smtp_user_name=name)
    assert reset["message"] == "password reseted"
    assert reset["smtp_password"] != created["smtp_password"]

    listed = sarv_client.settings.listSmtp()
    assert listed["status"] == "success"
    assert listed["smtp_list"] == [
        {
            "smtp_user_name": name,
            "password": reset["smtp_password"],
            "status": "Enable",
            "total_limit": 1000,
            "hourly_limit": 200,
        }
    ]


def test_vendor_error_handling_catches_every_error_by_name(sandbox: Sandbox) -> None:
    sarv_client = sarv.Sarv(OWNER_ID, "wrong-token", "x", base_url=sandbox.url)
    with pytest.raises(sarv.Error) as caught:
        sarv_client.settings.listSmtp()
    assert type(caught.value).__name__ == "AuthenticationError"
    assert caught.value.name == "AuthenticationError"
    assert str(caught.value) == "Token MissMatch"


def test_typed_calls_round_trip(client: SarvClient, sandbox: Sandbox) -> None:
    created = client.add_user(500, 200)
    assert created.password.reveal() == sandbox.users[created.name].password
    assert client.edit_user(created.name, status=UserStatus.DISABLE) == "SMTP User Updated"
    reset = client.reset_password(created.name)
    assert reset.name == created.name
    assert reset.password != created.password
    (user,) = client.list_users()
    assert (user.name, user.status, user.total_limit, user.hourly_limit) == (
        created.name,
        UserStatus.DISABLE,
        500,
        200,
    )
    assert user.password == reset.password
    assert client.find_user(created.name) == user
    assert client.find_user("smtp00000") is None


def test_unknown_user_is_sarvs_validation_error(client: SarvClient) -> None:
    with pytest.raises(sarv.ValidationError, match="smtp99999 not found") as caught:
        client.reset_password("smtp99999")
    assert caught.value.http_status == 400


def test_table_variant_is_read_the_same(sandbox: Sandbox) -> None:
    sandbox.settings.variant = WireVariant.TABLE
    user = sandbox.add_user(300, 30, status="Disable")
    with SarvClient(OWNER_ID, TOKEN, base_url=sandbox.url) as client:
        (listed,) = client.list_users()
        assert listed.status is UserStatus.DISABLE
        assert listed.password is not None
        assert listed.password.reveal() == user.password
        with pytest.raises(sarv.ValidationError) as caught:
            client.edit_user("smtp99999", total_limit=5)
    # The table variant answers errors with HTTP 200 and names the type under "type".
    assert caught.value.http_status == 200


def test_wrong_token_is_authentication_error(sandbox: Sandbox) -> None:
    with (
        SarvClient(OWNER_ID, "not-the-token", base_url=sandbox.url) as client,
        pytest.raises(sarv.AuthenticationError),
    ):
        client.add_user(1, 1)
    assert sandbox.users == {}


def test_general_error_fault(client: SarvClient, sandbox: Sandbox) -> None:
    sandbox.fail_next(FaultKind.GENERAL)
    with pytest.raises(sarv.GeneralError, match="unexpected error"):
        client.add_user(10, 1)
    assert sandbox.users == {}


def test_html_500_is_a_bad_response_with_status_and_excerpt(
    client: SarvClient, sandbox: Sandbox
) -> None:
    sandbox.fail_next(FaultKind.HTML_500, path="settings/addSmtp")
    with pytest.raises(sarv.BadResponseError) as caught:
        client.add_user(10, 1)
    assert caught.value.http_status == 500
    assert "Internal Server Error" in caught.value.excerpt
    assert "HTTP 500" in str(caught.value)


def test_list_is_retried_through_transient_failures(client: SarvClient, sandbox: Sandbox) -> None:
    sandbox.add_user()
    sandbox.fail_next(FaultKind.HTML_500, times=2, path="settings/listSmtp")
    assert len(client.list_users()) == 1


def test_list_gives_up_after_two_retries(client: SarvClient, sandbox: Sandbox) -> None:
    sandbox.fail_next(FaultKind.HTML_500, times=3, path="settings/listSmtp")
    with pytest.raises(sarv.BadResponseError):
        client.list_users()
    assert sandbox.settings.faults == []


def test_add_is_never_retried(client: SarvClient, sandbox: Sandbox) -> None:
    sandbox.fail_next(FaultKind.DROP, path="settings/addSmtp", after_apply=True)
    with pytest.raises(sarv.TransportError) as caught:
        client.add_user(10, 1)
    assert caught.value.may_have_reached_sarv
    # The add reached Sarv once and was applied once; the client did not send it again.
    assert len(sandbox.calls_to("settings/addSmtp")) == 1
    assert len(sandbox.users) == 1


def test_dropped_connection_is_transport_error(client: SarvClient, sandbox: Sandbox) -> None:
    sandbox.fail_next(FaultKind.DROP, path="settings/resetSmtpPassword")
    with pytest.raises(sarv.TransportError, match="closed the connection"):
        client.reset_password("smtp12345")


def test_hang_past_timeout_is_transport_error(sandbox: Sandbox) -> None:
    sandbox.settings.hang_seconds = 5
    sandbox.fail_next(FaultKind.HANG, path="settings/editSmtp")
    with (
        SarvClient(OWNER_ID, TOKEN, base_url=sandbox.url, timeout=(1.0, 0.3)) as client,
        pytest.raises(sarv.TransportError, match=r"did not answer within 0\.3 s") as caught,
    ):
        client.edit_user("smtp12345", total_limit=5)
    assert caught.value.may_have_reached_sarv


def test_refused_connection_never_reached_sarv() -> None:
    with Sandbox(OWNER_ID, TOKEN) as gone:
        url = gone.url
    with (
        SarvClient(OWNER_ID, TOKEN, base_url=url, list_retries=0) as client,
        pytest.raises(sarv.TransportError, match="could not be reached") as caught,
    ):
        client.add_user(1, 1)
    assert caught.value.may_have_reached_sarv is False


def test_dns_failure_never_reached_sarv() -> None:
    with (
        SarvClient(OWNER_ID, TOKEN, base_url="http://sarv.invalid/v1.0/") as client,
        pytest.raises(sarv.TransportError, match="could not be reached") as caught,
    ):
        client.reset_password("smtp12345")
    assert caught.value.may_have_reached_sarv is False


def test_latency_is_added(sandbox: Sandbox) -> None:
    sandbox.settings.latency = 0.4
    with (
        SarvClient(
            OWNER_ID, TOKEN, base_url=sandbox.url, timeout=(1.0, 0.1), list_retries=0
        ) as client,
        pytest.raises(sarv.TransportError),
    ):
        client.list_users()


def test_failure_rate_fails_a_share_of_calls(sandbox: Sandbox) -> None:
    sandbox.settings.failure_rate = 0.5
    outcomes = []
    with SarvClient(OWNER_ID, TOKEN, base_url=sandbox.url, list_retries=0) as client:
        for _ in range(40):
            try:
                client.edit_user("smtp12345", total_limit=1)
            except sarv.GeneralError:
                outcomes.append("fault")
            except sarv.ValidationError:
                outcomes.append("answered")
    assert 5 < outcomes.count("fault") < 35


def test_no_secret_in_logs_or_errors(
    client: SarvClient, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = client.add_user(5, 5)
    client.list_users()
    sandbox.fail_next(FaultKind.HTML_500)
    with pytest.raises(sarv.Error) as caught:
        client.reset_password(created.name)
    password = created.password.reveal()
    for text in (caplog.text, str(caught.value), repr(caught.value), repr(client), repr(created)):
        assert TOKEN not in text
        assert password not in text
    assert "sarv settings/addSmtp answered HTTP 200" in caplog.text
