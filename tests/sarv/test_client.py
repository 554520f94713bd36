"""Client behaviour that needs answers the sandbox never gives (stubbed with responses)."""

from __future__ import annotations

import io
import json
import types

import pytest
import requests
import requests.adapters
import responses

import sarvbot.sarv as sarv
from sarvbot.sarv import SarvClient, UserStatus

BASE = "http://sarv.test/v1.0/"
TOKEN = "tok-secret-123456"


@pytest.fixture
def client() -> SarvClient:
    return SarvClient("owner", TOKEN, base_url=BASE, retry_backoff=0)


def test_base_url_defaults_to_https_api_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SARV_API_URL", raising=False)
    assert SarvClient("o", "t", "mail.example.com").base_url == (
        "https://api.mail.example.com/v1.0/"
    )


def test_base_url_replaces_the_default_whole() -> None:
    client = SarvClient("o", "t", "ignored", base_url="http://mail.example.com:7278/v1.0")
    assert client.base_url == "http://mail.example.com:7278/v1.0/"


def test_the_environment_is_never_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SARV_API_URL", "http://elsewhere.example.com/v1.0/")
    assert SarvClient("o", "t", "mail.example.com").base_url == (
        "https://api.mail.example.com/v1.0/"
    )
    with pytest.raises(sarv.ValidationError):
        SarvClient("o", "t")


class _CannedTransport(requests.adapters.BaseAdapter):
    """A transport of the caller's: answers every call itself, and keeps what it was sent."""

    def __init__(self, body: dict[str, object]) -> None:
        super().__init__()
        self.body = body
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        self.sent.append(request)
        response = requests.Response()
        response.status_code = 200
        response.raw = io.BytesIO(json.dumps(self.body).encode())
        response.headers["Content-Type"] = "application/json"
        response.request = request
        return response

    def close(self) -> None:
        pass


def test_an_injected_session_carries_every_call() -> None:
    listed = {
        "status": "success",
        "smtp_list": [
            {
                "smtp_user_name": "smtp1",
                "password": "pw",
                "status": "Enable",
                "total_limit": 10,
                "hourly_limit": 1,
            }
        ],
    }
    transport = _CannedTransport(listed)
    session = requests.Session()
    session.mount("http://sarv.test/", transport)
    client = SarvClient("o", TOKEN, base_url="http://sarv.test/v1.0/", session=session)
    (user,) = client.list_users()
    assert user.name == "smtp1"
    (sent,) = transport.sent
    assert sent.url == "http://sarv.test/v1.0/settings/listSmtp"
    assert json.loads(sent.body or b"{}")["token"] == TOKEN


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"owner_id": "", "token": "t", "domain": "d"}, "owner_id"),
        ({"owner_id": "o", "token": "", "domain": "d"}, "token"),
        ({"owner_id": "o", "token": "t"}, "domain"),
        ({"owner_id": "o", "token": "t", "base_url": "ftp://x/"}, "base_url"),
    ],
)
def test_bad_config_is_refused(
    kwargs: dict[str, str], field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SARV_API_URL", raising=False)
    with pytest.raises(sarv.ValidationError) as caught:
        SarvClient(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_repr_masks_the_token(client: SarvClient) -> None:
    assert TOKEN not in repr(client)
    assert "token='********'" in repr(client)


@pytest.mark.parametrize(
    ("total", "hourly", "field"),
    [
        (True, 1, "total_limit"),
        ("5", 1, "total_limit"),
        (5.0, 1, "total_limit"),
        (0, 1, "total_limit"),
        (-3, 1, "total_limit"),
        (1, None, "hourly_limit"),
        (1, 2**40, "hourly_limit"),
    ],
)
@responses.activate
def test_invalid_limits_are_refused_before_sending(
    client: SarvClient, total: object, hourly: object, field: str
) -> None:
    with pytest.raises(sarv.ValidationError, match=field) as caught:
        client.add_user(total, hourly)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert len(responses.calls) == 0


@pytest.mark.parametrize(
    "name", ["", " smtp1", "smtp 1", "smtp\t1", "smtp\x001", "x" * 65, 12345, None]
)
@responses.activate
def test_invalid_user_names_are_refused_before_sending(client: SarvClient, name: object) -> None:
    with pytest.raises(sarv.ValidationError, match="smtp_user_name"):
        client.reset_password(name)  # type: ignore[arg-type]
    assert len(responses.calls) == 0


@pytest.mark.parametrize("status", ["enable", "ENABLE", "Enabled", 1, True, ""])
@responses.activate
def test_status_must_be_exactly_enable_or_disable(client: SarvClient, status: object) -> None:
    with pytest.raises(sarv.ValidationError, match="status must be Enable or Disable"):
        client.edit_user("smtp1", status=status)  # type: ignore[arg-type]
    assert len(responses.calls) == 0


@responses.activate
def test_edit_needs_something_to_change(client: SarvClient) -> None:
    with pytest.raises(sarv.ValidationError, match="at least one"):
        client.edit_user("smtp1")
    assert len(responses.calls) == 0


@responses.activate
def test_none_parameters_are_left_out_of_the_body(client: SarvClient) -> None:
    responses.post(BASE + "settings/editSmtp", json={"status": "success", "message": "ok"})
    client.settings.editSmtp(smtp_user_name="smtp1", total_limit=9, hourly_limit=None)
    sent = json.loads(responses.calls[0].request.body or b"")
    assert sent == {
        "owner_id": "owner",
        "token": TOKEN,
        "smtp_user_name": "smtp1",
        "total_limit": 9,
    }


@responses.activate
def test_error_type_under_type_key_with_200(client: SarvClient) -> None:
    responses.post(
        BASE + "settings/listSmtp",
        json={"status": "error", "code": -1, "type": "GeneralError", "message": "busy"},
    )
    with pytest.raises(sarv.GeneralError, match="busy") as caught:
        client.list_users()
    assert caught.value.code == -1


@responses.activate
def test_unknown_error_name_keeps_its_name_on_base_error(client: SarvClient) -> None:
    responses.post(
        BASE + "settings/addSmtp",
        status=429,
        json={"status": "error", "name": "QuotaError", "message": "too many users"},
    )
    with pytest.raises(sarv.Error) as caught:
        client.add_user(1, 1)
    assert type(caught.value) is sarv.Error
    assert caught.value.name == "QuotaError"
    assert caught.value.http_status == 429


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (502, b"<html>Bad Gateway</html>", "HTTP 502 with a body that is not Sarv's JSON"),
        (200, b"", "HTTP 200 with an empty body"),
        (200, b"[1, 2]", "not Sarv's JSON"),
        (200, b'{"status": "pending"}', "without a success status"),
        (500, b'{"oops": true}', "names no type"),
    ],
)
@responses.activate
def test_bodies_that_are_not_sarvs_json(
    client: SarvClient, status: int, body: bytes, expected: str
) -> None:
    responses.post(BASE + "settings/resetSmtpPassword", status=status, body=body)
    with pytest.raises(sarv.BadResponseError, match=expected) as caught:
        client.reset_password("smtp1")
    assert caught.value.http_status == status


@responses.activate
def test_truncated_body_with_a_password_keeps_it_out_of_the_error(client: SarvClient) -> None:
    responses.post(
        BASE + "settings/resetSmtpPassword",
        body=b'{"status":"success","smtp_user_name":"smtp1","smtp_password":"hunter2-very',
    )
    with pytest.raises(sarv.BadResponseError) as caught:
        client.reset_password("smtp1")
    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in caught.value.excerpt


@responses.activate
def test_success_without_password_is_a_bad_response(client: SarvClient) -> None:
    responses.post(BASE + "settings/addSmtp", json={"status": "success", "smtp_user_name": "s"})
    with pytest.raises(sarv.BadResponseError, match="lacks"):
        client.add_user(1, 1)


@responses.activate
def test_list_reads_every_documented_variant(client: SarvClient) -> None:
    responses.post(
        BASE + "settings/listSmtp",
        json={
            "status": "Success",
            "smtp_list": [
                {
                    "smtp_user_name": "a",
                    "password": "p1",
                    "status": "Enable",
                    "total_limit": 1,
                    "hourly_limit": 1,
                },
                {
                    "smtp_user_name": "b",
                    "smtp_password": "p2",
                    "status": 0,
                    "total_limit": "20",
                    "hourly_limit": 2,
                },
                {"smtp_user_name": "c", "status": "1", "total_limit": 3, "hourly_limit": 3},
            ],
        },
    )
    users = client.list_users()
    assert [(u.name, u.status, u.total_limit) for u in users] == [
        ("a", UserStatus.ENABLE, 1),
        ("b", UserStatus.DISABLE, 20),
        ("c", UserStatus.ENABLE, 3),
    ]
    assert users[1].password is not None
    assert users[1].password.reveal() == "p2"
    assert users[2].password is None


@responses.activate
def test_unreadable_list_item_names_the_field(client: SarvClient) -> None:
    responses.post(
        BASE + "settings/listSmtp",
        json={"status": "success", "smtp_list": [{"smtp_user_name": "a", "status": "maybe"}]},
    )
    with pytest.raises(sarv.BadResponseError, match="item 0 has a missing or unreadable status"):
        client.list_users()


def test_secret_hides_itself() -> None:
    secret = sarv.Secret("p@ss")
    assert "p@ss" not in f"{secret} {secret!r} {secret!s}"
    assert secret.reveal() == "p@ss"
    assert secret == sarv.Secret("p@ss")
    assert secret != sarv.Secret("other")


def test_public_names_are_pinned_to_what_the_module_exports() -> None:
    # Every public name of the package is in __all__ and nothing else is: its private
    # modules (_client, _wire, ...) stay behind it.
    public = {
        name
        for name, value in vars(sarv).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } - {"annotations"}
    assert set(sarv.__all__) == public
    assert {"SarvClient", "Sarv", "Error", "Secret", "SmtpUser"} <= public
