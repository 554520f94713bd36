"""sarvbot's settings, checked once at start, from the variables an entry point hands in.

Every ``load_*`` function reads the mapping it is given and nothing else. The process
environment and ``./.env`` are read by :func:`read_environment`, which an entry point (the
``sarvbot`` command, Alembic's ``env.py`` run from a checkout) calls once and hands on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, DotEnvSettingsSource, SettingsConfigDict

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ConfigError",
    "DatabaseSettings",
    "LogSettings",
    "SandboxSettings",
    "ServeSettings",
    "Settings",
    "load_database_settings",
    "load_log_settings",
    "load_sandbox_settings",
    "load_serve_settings",
    "load_settings",
    "read_environment",
]

DEFAULT_DATABASE_URL = "sqlite:///sarvbot.db"


class ConfigError(Exception):
    """The configuration is incomplete or invalid; the message lists every problem."""


class _Given(BaseModel):
    """Settings from the values given and nothing else. Each field is the variable of its
    name in upper case. A model, not pydantic-settings' BaseSettings, which scans the
    process environment on every instance even when told to use none of it."""

    model_config = ConfigDict(
        extra="ignore", frozen=True, hide_input_in_errors=True, validate_default=True
    )


class _DotEnv(BaseSettings):
    """The settings class pydantic-settings' ``.env`` reader wants; only names are read."""

    model_config = SettingsConfigDict(extra="ignore")


class DatabaseSettings(_Given):
    """What the commands that touch only the database need (``sarvbot db``, ``audit``)."""

    database_url: SecretStr = Field(
        default=SecretStr(DEFAULT_DATABASE_URL), description="SQLAlchemy database URL"
    )


class Settings(DatabaseSettings):
    """Everything the Slack app reads from its environment (see ``.env.example``)."""

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


class ServeSettings(Settings):
    """``sarvbot serve``'s settings: the app's, and where and how wide gunicorn serves."""

    port: int = Field(default=3000, ge=0, le=65535, description="the HTTP port (--port)")
    web_concurrency: int = Field(
        default=2, ge=1, description="gunicorn worker processes (--workers)"
    )


class SandboxSettings(_Given):
    """``sarvbot sandbox``'s defaults for the credentials it accepts (``--owner-id``,
    ``--token``): the ones the app would send it."""

    sarv_owner_id: str | None = None
    sarv_token: SecretStr | None = None


class LogSettings(_Given):
    """How sarvbot logs (``LOG_LEVEL``, ``LOG_FORMAT``); read before anything else."""

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


_G = TypeVar("_G", bound=_Given)

# Every variable some settings class here reads: the ones ./.env may supply.
_VARIABLES = frozenset(
    name.upper()
    for cls in (ServeSettings, SandboxSettings, LogSettings)
    for name in cls.model_fields
)


def read_environment(env_file: Path | None = Path(".env")) -> dict[str, str]:
    """A copy of the process environment, with ``env_file``'s values (``./.env`` by default)
    for the variables sarvbot reads that the environment leaves unset or empty.

    For an entry point to call once and hand to the ``load_*`` functions. Only sarvbot's
    own variables come from the file: others (``PROMETHEUS_MULTIPROC_DIR``, gunicorn's)
    are read from the process environment by the libraries they belong to.
    """
    environ = dict(os.environ)
    if env_file is None:
        return environ
    # pydantic-settings' reader: quotes, comments, `export`, names in any case, empties unset.
    source = DotEnvSettingsSource(_DotEnv, env_file=env_file, env_ignore_empty=True)
    for field, value in source().items():
        name = field.upper()
        if name in _VARIABLES and isinstance(value, str) and not environ.get(name):
            environ[name] = value
    return environ


def _load(cls: type[_G], environ: Mapping[str, str], overrides: Mapping[str, Any]) -> _G:
    """``cls`` from ``environ``'s variables and ``overrides``; ConfigError lists every
    missing or invalid variable, one line each, never its value."""
    names = {field: field.upper() for field in cls.model_fields}
    # An empty variable is an unset one: .env.example leaves the optional ones empty, and
    # platforms often do too.
    values = {field: environ[name] for field, name in names.items() if environ.get(name)}
    try:
        return cls(**{**values, **overrides})
    except ValidationError as exc:
        problems = [_problem(error, names) for error in exc.errors()]
        raise ConfigError("the configuration has problems:\n" + "\n".join(problems)) from None


def _problem(error: ErrorDetails, names: Mapping[str, str]) -> str:
    """One line for one problem, in words; pydantic's ``input`` is never used."""
    location = error.get("loc") or ()
    name = names.get(str(location[0]), str(location[0])) if location else ""
    limits = error.get("ctx") or {}
    kind = error.get("type")
    if kind == "missing":
        message = "is missing"
    elif kind == "int_parsing":
        message = "must be a whole number"
    elif kind == "bool_parsing":
        message = "must be true or false"
    elif kind == "greater_than_equal":
        message = f"must be at least {limits.get('ge')}"
    elif kind == "less_than_equal":
        message = f"must be at most {limits.get('le')}"
    else:
        message = error.get("msg", "is invalid").removeprefix("Value error, ")
    return f"  {name}: {message}" if name else f"  {message}"


def load_database_settings(environ: Mapping[str, str]) -> DatabaseSettings:
    """The database settings in ``environ``; nothing of Slack's or Sarv's is needed."""
    return _load(DatabaseSettings, environ, {})


def load_settings(environ: Mapping[str, str], **overrides: Any) -> Settings:
    """The app's settings in ``environ``, and in nothing else.

    Raises ConfigError listing every missing or invalid variable, never their values.
    """
    return _load(Settings, environ, overrides)


def load_serve_settings(environ: Mapping[str, str], **overrides: Any) -> ServeSettings:
    """``sarvbot serve``'s settings in ``environ``: the app's, PORT and WEB_CONCURRENCY."""
    return _load(ServeSettings, environ, overrides)


def load_sandbox_settings(environ: Mapping[str, str]) -> SandboxSettings:
    """``sarvbot sandbox``'s default credentials in ``environ``."""
    return _load(SandboxSettings, environ, {})


def load_log_settings(environ: Mapping[str, str]) -> LogSettings:
    """The logging settings in ``environ``; invalid values fall back to the defaults, and
    say so."""
    try:
        return _load(LogSettings, environ, {})
    except ConfigError:
        logging.getLogger("sarvbot").warning(
            "LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR and LOG_FORMAT text or json;"
            " using INFO and text"
        )
        return LogSettings.model_construct()
