"""Settings from the environment: one message lists every problem, never a value."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sarvbot.config import ConfigError, load_settings
from sarvbot.standin.workspace import DEMO_POLICY, LocalWorkspace
from tests.support import free_port, serve_argv, wait_healthy

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
    for name in [*GOOD, "SLACK_APP_TOKEN", "SARV_API_URL", "SLACK_API_URL", "DATABASE_URL"]:
        monkeypatch.delenv(name, raising=False)


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
    assert load_settings().sarv_owner_id == "from-dotenv"


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
    settings = load_settings()
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
    settings = load_settings()
    assert settings.slack_app_token is None
    assert settings.database_url.get_secret_value() == "sqlite:///sarvbot.db"


def test_serve_starts_from_a_copy_of_env_example(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    (tmp_path / "sarvbot.toml").write_text(DEMO_POLICY, encoding="utf-8")
    with LocalWorkspace(f"sqlite:///{tmp_path / 'sarvbot.db'}") as workspace:
        # The stand-ins replace Slack's and Sarv's addresses; the rest comes from .env, and
        # what .env.example leaves empty stays empty.
        stand_ins = {
            key: value
            for key, value in workspace.environ().items()
            if key not in ("SARVBOT_WORKERS", "SARV_OWNER_ID")
        }
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SARV", "SLACK_"))},
            **stand_ins,
        }
        port = free_port()
        process = subprocess.Popen(
            serve_argv(port, threads=4), cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
        )
        try:
            wait_healthy(process, f"http://127.0.0.1:{port}/healthz")
        finally:
            process.terminate()
            process.communicate(timeout=60)


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
