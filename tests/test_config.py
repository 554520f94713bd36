"""Settings from the environment: one message lists every problem, never a value."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sarvbot.config import (
    ConfigError,
    DatabaseSettings,
    Settings,
    load_database_settings,
    load_log_settings,
    load_serve_settings,
    load_settings,
    read_environment,
)
from sarvbot.standin.workspace import LocalWorkspace
from tests.support import serving, write_policy

ROOT = Path(__file__).resolve().parents[1]

GOOD = {
    "SLACK_BOT_TOKEN": "xoxb-123-secret",
    "SLACK_SIGNING_SECRET": "signing-secret-value",
    "SARV_OWNER_ID": "owner",
    "SARV_TOKEN": "sarv-secret-value",
    "SARV_APP_DOMAIN": "mail.example.com",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [*GOOD, "SLACK_APP_TOKEN", "SARV_API_URL", "SLACK_API_URL", *_OTHERS]:
        monkeypatch.delenv(name, raising=False)


_OTHERS = ("DATABASE_URL", "PORT", "WEB_CONCURRENCY", "LOG_LEVEL", "LOG_FORMAT")


def test_good_settings_hide_their_secrets() -> None:
    settings = load_settings(GOOD)
    assert settings.sarv_owner_id == "owner"
    for secret in ("xoxb-123-secret", "signing-secret-value", "sarv-secret-value"):
        assert secret not in repr(settings)
        assert secret not in str(settings)
    assert settings.database_url.get_secret_value() == "sqlite:///sarvbot.db"


def test_every_problem_is_listed_without_values() -> None:
    env = {**GOOD, "SLACK_BOT_TOKEN": "xoxp-user-token", "SLACK_API_URL": "slack.local"}
    del env["SARV_TOKEN"]
    del env["SLACK_SIGNING_SECRET"]
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert "SLACK_BOT_TOKEN: must be a bot token starting with xoxb-" in message
    assert "SLACK_SIGNING_SECRET: is missing" in message
    assert "SARV_TOKEN: is missing" in message
    assert "SLACK_API_URL: must be an http:// or https:// URL" in message
    assert "xoxp-user-token" not in message


def test_sarv_location_is_required() -> None:
    env = dict(GOOD)
    del env["SARV_APP_DOMAIN"]
    with pytest.raises(ConfigError, match=r"SARV_APP_DOMAIN: is missing \(or set the whole"):
        load_settings(env)
    assert load_settings({**env, "SARV_API_URL": "http://127.0.0.1:7278/v1.0/"}).sarv_api_url


def test_app_token_must_be_app_level() -> None:
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN: must be an app-level token"):
        load_settings({**GOOD, "SLACK_APP_TOKEN": "xoxb-nope"})


def test_a_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [f"{key}={value}" for key, value in GOOD.items() if key != "SARV_OWNER_ID"]
    (tmp_path / ".env").write_text("\n".join([*lines, "SARV_OWNER_ID=from-dotenv"]) + "\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings(read_environment()).sarv_owner_id == "from-dotenv"


# The variables .env.example leaves empty, saying they may stay so.
_LEFT_EMPTY = ("SLACK_APP_TOKEN", "SLACK_API_URL", "SARV_API_URL")


def test_a_copy_of_env_example_is_accepted_with_its_empty_variables_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in _LEFT_EMPTY:
        assert f"\n{name}=\n" in example
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(read_environment())
    assert settings.slack_app_token is None
    assert settings.slack_api_url is None
    assert settings.sarv_api_url is None
    assert settings.sarv_app_domain == "your-app-domain.example.com"


def test_empty_environment_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    for name in _LEFT_EMPTY:
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("DATABASE_URL", "")
    settings = load_settings(read_environment())
    assert settings.slack_app_token is None
    assert settings.database_url.get_secret_value() == "sqlite:///sarvbot.db"


def test_serve_starts_from_a_copy_of_env_example(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    write_policy(tmp_path)
    with LocalWorkspace(f"sqlite:///{tmp_path / 'sarvbot.db'}") as workspace:
        # The stand-ins replace Slack's and Sarv's addresses; the rest comes from .env, and
        # what .env.example leaves empty stays empty.
        stand_ins = {
            key: value
            for key, value in workspace.environ().items()
            if key not in ("SARVBOT_WORKERS", "SARV_OWNER_ID")
        }
        with serving(stand_ins, cwd=tmp_path):
            pass  # it answers /healthz


def test_a_mapping_is_all_that_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither the process environment nor ./.env fills what the mapping lacks."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SARV_OWNER_ID=from-dotenv\n", encoding="utf-8")
    monkeypatch.setenv("SARV_TOKEN", "from-the-environment")
    env = {k: v for k, v in GOOD.items() if k not in ("SARV_OWNER_ID", "SARV_TOKEN")}
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert "SARV_OWNER_ID: is missing" in str(caught.value)
    assert "SARV_TOKEN: is missing" in str(caught.value)


def test_the_database_alone_needs_only_database_url() -> None:
    """`sarvbot db` and `audit export` start without Slack's or Sarv's settings, and
    whatever is wrong with those is none of their business."""
    url = "postgresql://sarvbot:secret@db.example/sarvbot"
    settings = load_database_settings({"DATABASE_URL": url, "SLACK_BOT_TOKEN": "xoxp-wrong"})
    assert settings.database_url.get_secret_value() == url
    assert "secret" not in repr(settings)
    assert load_database_settings({}).database_url.get_secret_value() == "sqlite:///sarvbot.db"
    # One definition of DATABASE_URL: the app's settings are the database's and more.
    assert issubclass(Settings, DatabaseSettings)
    assert load_settings({**GOOD, "DATABASE_URL": url}).database_url.get_secret_value() == url


def test_serve_settings_default_and_read_port_and_web_concurrency() -> None:
    settings = load_serve_settings(GOOD)
    assert (settings.port, settings.web_concurrency) == (3000, 2)
    settings = load_serve_settings({**GOOD, "PORT": "8080", "WEB_CONCURRENCY": "4"})
    assert (settings.port, settings.web_concurrency) == (8080, 4)
    # The command's flags stand in for the variables, which are then not looked at.
    given = load_serve_settings({**GOOD, "PORT": "http"}, port=9000, web_concurrency=1)
    assert (given.port, given.web_concurrency) == (9000, 1)


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("PORT", "http-9000", "  PORT: must be a whole number"),
        ("PORT", "70000", "  PORT: must be at most 65535"),
        ("PORT", "-1", "  PORT: must be at least 0"),
        ("WEB_CONCURRENCY", "0", "  WEB_CONCURRENCY: must be at least 1"),
        ("WEB_CONCURRENCY", "two-workers", "  WEB_CONCURRENCY: must be a whole number"),
        ("SARVBOT_WORKERS", "many-threads", "  SARVBOT_WORKERS: must be a whole number"),
        ("SARVBOT_METRICS", "perhaps-yes", "  SARVBOT_METRICS: must be true or false"),
    ],
)
def test_a_bad_number_is_one_line_naming_it_without_its_value(
    name: str, value: str, line: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_serve_settings({**GOOD, name: value})
    header, *problems = str(caught.value).splitlines()
    assert header == "the configuration has problems:"
    assert problems == [line]
    assert value not in str(caught.value)


def test_every_loader_reads_only_its_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "DATABASE_URL": "sqlite:///from-the-environment.db",
        "PORT": "8080",
        "WEB_CONCURRENCY": "9",
        "LOG_LEVEL": "ERROR",
    }.items():
        monkeypatch.setenv(name, value)
    assert load_database_settings({}).database_url.get_secret_value() == "sqlite:///sarvbot.db"
    settings = load_serve_settings(GOOD)
    assert (settings.port, settings.web_concurrency) == (3000, 2)
    assert load_log_settings({}).log_level == "INFO"
    logs = load_log_settings({"LOG_LEVEL": " debug ", "LOG_FORMAT": "JSON"})
    assert (logs.log_level, logs.log_format) == ("DEBUG", "json")


def test_the_environment_wins_over_dotenv_which_fills_only_sarvbots_gaps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "SARV_OWNER_ID=from-dotenv\n"
        "SARV_TOKEN=from-dotenv\n"
        "port=8080\n"  # names in any case, as pydantic-settings reads .env
        "SARVBOT_WORKERS=\n"
        "PROMETHEUS_MULTIPROC_DIR=/from-dotenv\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SARV_TOKEN", "from-the-environment")
    monkeypatch.setenv("SARV_OWNER_ID", "")  # empty: unset, so .env's counts
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.delenv("SARVBOT_WORKERS", raising=False)
    environ = read_environment()
    assert environ["SARV_TOKEN"] == "from-the-environment"
    assert environ["SARV_OWNER_ID"] == "from-dotenv"
    assert environ["PORT"] == "8080"
    assert "SARVBOT_WORKERS" not in environ
    # prometheus-client reads its variable from the process environment, not from .env.
    assert "PROMETHEUS_MULTIPROC_DIR" not in environ
    # A copy, read once: later changes to the process environment are not in it.
    monkeypatch.setenv("SARV_TOKEN", "changed-later")
    assert environ["SARV_TOKEN"] == "from-the-environment"
    assert read_environment(env_file=None)["SARV_OWNER_ID"] == ""
