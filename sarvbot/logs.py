"""Logging: one configuration for sarvbot, the libraries it drives and gunicorn.

``LOG_LEVEL`` sets the level, ``LOG_FORMAT=json`` one JSON object per line (through
python-json-logger) for a log shipper. Lines about handled requests and audit rows carry
their fields as attributes, which the JSON format shows as keys.
"""

from __future__ import annotations

import logging.config
from typing import Any, Literal

__all__ = ["LogFormat", "configure_logging", "logging_config", "safe_field"]

LogFormat = Literal["text", "json"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def logging_config(level: str = "INFO", log_format: LogFormat = "text") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the root logger and gunicorn's two loggers."""
    if log_format == "json":
        formatter: dict[str, Any] = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    else:
        formatter = {"format": TEXT_FORMAT}
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "sarvbot",
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"sarvbot": formatter},
        "handlers": {"sarvbot": handler},
        "root": {"level": level, "handlers": ["sarvbot"]},
        "loggers": {
            # slack_sdk's webhook client logs each response_url at DEBUG: a URL that lets
            # anyone post into the channel for half an hour, so never below INFO.
            "slack_sdk.webhook": {"level": "INFO"},
            # gunicorn's own lines, in the same format (it applies this in every worker).
            "gunicorn.error": {"level": level, "handlers": ["sarvbot"], "propagate": False},
            # Its access lines only when asked for (GUNICORN_CMD_ARGS=--access-logfile -):
            # sarvbot.requests already has a line per request, with what it was.
            "gunicorn.access": {"level": "WARNING", "handlers": ["sarvbot"], "propagate": False},
        },
    }


def configure_logging(level: str = "INFO", log_format: LogFormat = "text") -> None:
    """Apply :func:`logging_config` to this process."""
    logging.config.dictConfig(logging_config(level, log_format))


def safe_field(value: object, limit: int = 80) -> str:
    """A value fit for a ``key=value`` log line: no spaces or control characters, short."""
    text = "" if value is None else str(value)
    cleaned = "".join(ch if ch.isprintable() and not ch.isspace() else "_" for ch in text)
    return cleaned[:limit] or "-"
