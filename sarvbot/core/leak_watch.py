"""The leak watch: notice a current SMTP password pasted into a message sarvbot can read.

It never keeps a password. It keeps keyed hashes (HMAC-SHA256) of the current passwords,
with a key that is made when the process starts and lives only in its memory, and compares
the hashes of a message's words with them. The index is rebuilt from Sarv's list on a
schedule and after every change sarvbot makes that yields a password.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sarvbot.sarv import SmtpUser

__all__ = ["Leak", "LeakWatch", "candidate_words"]

logger = logging.getLogger("sarvbot.core")

# What may be a password in a message: runs between the characters that delimit words in
# text, code, URLs and key=value lines. Shorter words are never a Sarv password.
_DELIMITERS = re.compile(r"[\s\"'`<>|=:,;()\[\]{}&?/\\]+")
_MIN_LENGTH, _MAX_LENGTH = 8, 128
# Words a message may hold that are looked at, at most (a 40,000-character message has
# fewer than this many of 8 characters or more).
_MAX_WORDS = 10_000


def candidate_words(text: str) -> set[str]:
    """The words of ``text`` that could be a password: split on delimiters, and also the
    words with trailing punctuation (a full stop after a pasted password) taken off.
    """
    words: set[str] = set()
    for word in _DELIMITERS.split(text):
        for candidate in (word, word.rstrip(".!,;")):
            if _MIN_LENGTH <= len(candidate) <= _MAX_LENGTH:
                words.add(candidate)
                if len(words) >= _MAX_WORDS:
                    return words
    return words


@dataclass(frozen=True)
class Leak:
    """A current password found in a message: whose it is (never the password)."""

    name: str


class LeakWatch:
    """Keyed hashes of the current passwords, and the check of a message against them."""

    def __init__(
        self,
        list_users: Callable[[], Iterable[SmtpUser]],
        *,
        refresh_every: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._list_users = list_users
        self._key = secrets.token_bytes(32)  # only in this process's memory, never written
        self._index: dict[bytes, str] = {}
        self._lock = threading.Lock()
        self._refreshed_at: float | None = None
        self._stale = True
        self.refresh_every = refresh_every
        self._clock = clock

    def _digest(self, word: str) -> bytes:
        return hmac.new(self._key, word.encode("utf-8"), hashlib.sha256).digest()

    @property
    def size(self) -> int:
        """How many current passwords are watched."""
        return len(self._index)

    def mark_stale(self) -> None:
        """A password changed: rebuild the index at the next check or round."""
        self._stale = True

    def refresh(self) -> int:
        """Rebuild the index from Sarv's list now; returns how many passwords it holds.

        Sarv's errors propagate and the previous index stays.
        """
        index = {
            self._digest(user.password.reveal()): user.name
            for user in self._list_users()
            if user.password is not None
        }
        with self._lock:
            self._index = index
            self._refreshed_at = self._clock()
            self._stale = False
        return len(index)

    def refresh_if_due(self) -> bool:
        """Rebuild when marked stale or older than ``refresh_every``; True if it did."""
        due = self._refreshed_at is None or self._clock() - self._refreshed_at > self.refresh_every
        if not (self._stale or due):
            return False
        self.refresh()
        return True

    def check(self, text: str) -> list[Leak]:
        """The SMTP users whose current password is among the words of ``text``."""
        with self._lock:
            index = self._index
        if not index:
            return []
        found = {index[d] for d in map(self._digest, candidate_words(text)) if d in index}
        return [Leak(name) for name in sorted(found)]
