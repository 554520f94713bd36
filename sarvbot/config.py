"""Settings from the environment, checked once at start."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ConfigError",
    "LogSettings",
    "Settings",
    "load_log_settings",
    "load_settings",
]

DEFAULT_DATABASE_URL = "sqlite:///sarvbot.db"


class ConfigError(Exception):
    """The configuration is incomplete or invalid; the message lists every problem."""


class Settings(BaseSettings):
    """Everything sarvbot reads from its environment (see ``.env.example``)."""

    # An empty variable is an unset one, in the environment and in .env alike:
    # .env.example leaves the optional ones empty, and platforms often do too.
    model_config = SettingsConfigDict(
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
    )

    slack_bot_token: SecretStr = Field(description="the bot token, xoxb-...")
    slack_signing_secret: SecretStr = Field(description="the app's signing secret")
    slack_app_token: SecretStr | None = Field(
        default=None, description="the app-level token, xapp-..., for Socket Mode"
    )
    slack_api_url: str | None = Field(
        default=None, description="Slack's Web API base URL, for GovSlack and tests"
    )
    sarv_owner_id: str = Field(description="the Sarv owner id")
    sarv_token: SecretStr = Field(description="the Sarv API token")
    sarv_api_url: str | None = Field(default=None, description="the whole Sarv API base URL")
    # Checked even when unset (validate_default), so that its absence is listed with the
    # other problems rather than only once every field is valid.
    sarv_app_domain: str | None = Field(
        default=None, validate_default=True, description="the Sarv TES app domain"
    )
    sarvbot_policy: Path = Field(default=Path("sarvbot.toml"), description="permissions file")
    database_url: SecretStr = Field(
        default=SecretStr(DEFAULT_DATABASE_URL), description="SQLAlchemy database URL"
    )
    sarvbot_workers: int = Field(
        default=32, ge=1, le=512, description="threads per process doing Sarv work after acks"
    )
    sarvbot_metrics: bool = Field(
        default=False, description="serve Prometheus metrics at GET /metrics"
    )
    sarvbot_lease_seconds: int = Field(
        default=60,
        ge=3,
        le=3600,
        description="how long a silent process keeps its acknowledged work before another "
        "process reports it lost",
    )

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("slack_signing_secret", "sarv_token")
    @classmethod
    def _not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("sarv_owner_id")
    @classmethod
    def _owner(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("slack_api_url", "sarv_api_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value or None

    @field_validator("sarv_app_domain")
    @classmethod
    def _sarv_location(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value and not info.data.get("sarv_api_url"):
            raise ValueError("is missing (or set the whole SARV_API_URL)")
        return value or None


class LogSettings(BaseSettings):
    """How sarvbot logs (``LOG_LEVEL``, ``LOG_FORMAT``); read before anything else."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, env_ignore_empty=True
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_any_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_any_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


def load_log_settings() -> LogSettings:
    """The logging settings; invalid values fall back to the defaults, and say so."""
    try:
        return LogSettings()
    except ValidationError:
        logging.getLogger("sarvbot").warning(
            "LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR and LOG_FORMAT text or json;"
            " using INFO and text"
        )
        return LogSettings.model_construct()


class _GivenSettings(Settings):
    """Settings from the values given and nothing else: Settings would fill the gaps from
    the process environment and ./.env, which a caller handing a mapping did not ask for."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


_ENV_NAMES = {name: name.upper() for name in Settings.model_fields}


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read the settings from ``environ``, and from nothing else; without one, from the
    process environment and ``./.env``.

    Raises ConfigError listing every missing or invalid variable, never their values.
    """
    try:
        if environ is None:
            return Settings(**overrides)
        values = {
            field: environ[env]
            for field, env in _ENV_NAMES.items()
            if env in environ and environ[env] != ""
        }
        return _GivenSettings(**{**values, **overrides})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = error.get("loc") or ()
            name = _ENV_NAMES.get(str(location[0]), str(location[0])) if location else ""
            message = error.get("msg", "is invalid")
            if error.get("type") == "missing":
                message = "is missing"
            message = message.removeprefix("Value error, ")
            problems.append(f"  {name}: {message}" if name else f"  {message}")
        raise ConfigError("the configuration has problems:\n" + "\n".join(problems)) from None
