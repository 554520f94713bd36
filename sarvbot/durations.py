"""Durations as people write them: ``30m``, ``4h``, ``1d``, ``1w`` or ``2h30m``.

One syntax for ``/smtp edit ... for 4h``, ``grace=24h`` and the policy's ``remind_after``.
"""

from __future__ import annotations

import re

__all__ = ["seconds_of"]

_DURATION = re.compile(r"^(?:(\d{1,3})w)?(?:(\d{1,3})d)?(?:(\d{1,4})h)?(?:(\d{1,5})m)?$")
_UNIT_SECONDS = (7 * 86400, 86400, 3600, 60)


def seconds_of(word: str) -> int | None:
    """The seconds ``word`` stands for, or None if it is not a duration."""
    found = _DURATION.match(word.lower())
    if not word or found is None or not any(found.groups()):
        return None
    return sum(int(n) * unit for n, unit in zip(found.groups(), _UNIT_SECONDS, strict=True) if n)
