"""What a due job carries about its subject, written and read back in one way."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any, Self

__all__ = ["JobPayload"]


class JobPayload:
    """A frozen dataclass that a due job carries as JSON: datetimes as ISO text.

    Reading back is strict: a missing field or a datetime that does not parse raises
    KeyError or ValueError, so a garbled job fails alone.
    """

    def payload(self) -> dict[str, Any]:
        """The JSON-ready fields (never a secret: the store refuses those)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Self:
        """Read a due job's payload back."""
        values: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            value = payload[f.name]
            if f.type in ("datetime", datetime):
                value = datetime.fromisoformat(str(value))
            elif f.type in ("int", int):
                value = int(value)
            elif f.type in ("str", str):
                value = str(value)
            elif f.type in ("int | None",):
                value = value if isinstance(value, int) and not isinstance(value, bool) else None
            elif str(f.type).startswith("dict"):
                value = dict(value)
            values[f.name] = value
        return cls(**values)
