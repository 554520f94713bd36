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
from datetime import UTC, datetime
from urllib.parse import unquote

from sarvbot.sarv import SmtpUser

__all__ = ["Leak", "LeakWatch", "candidate_words"]

logger = logging.getLogger("sarvbot.core")

# What may be a password in a message: runs between the characters that delimit words in
# text, code, URLs and key=value lines. Shorter words are never a Sarv password. The words
# are also split again on the marks of Markdown, URLs' user info and quotes of other
# languages, and percent-decoded, in case a password holds none of those characters: each
# reading is a candidate.
_DELIMITERS = re.compile(r"[\s\"'`<>|=:,;()\[\]{}&?/\\]+")
_MORE_DELIMITERS = re.compile("[*_~@#$+%\u2022\u201c\u201d\u201e\u00ab\u00bb\u2018\u2019]+")
_EDGES = ".!,;*_~#$+-\u2022"
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
        if len(word) < _MIN_LENGTH:
            continue
        readings = {word, word.strip(_EDGES), unquote(word)}
        readings.update(_MORE_DELIMITERS.split(word))
        for candidate in readings:
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
        # When this process first saw each user's current password (for one alert each).
        self._seen_since: dict[str, tuple[bytes, datetime]] = {}
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._refreshed_at: float | None = None
        self._failed_at: float | None = None
        self._stale = True
        self.refresh_every = refresh_every
        self.retry_after = 30.0
        self._clock = clock

    def _digest(self, word: str) -> bytes:
        return hmac.new(self._key, word.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

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
        now = datetime.now(UTC)
        with self._lock:
            first = self._refreshed_at is None
            seen = {}
            for digest, name in index.items():
                before = self._seen_since.get(name)
                kept = before is not None and before[0] == digest
                seen[name] = before if kept and before else (digest, now)
                if first:
                    seen[name] = (digest, datetime.min.replace(tzinfo=UTC))
            self._seen_since = seen
            self._index = index
            self._refreshed_at = self._clock()
            self._failed_at = None
            self._stale = False
        logger.debug("leak watch: %s current passwords watched", len(index))
        return len(index)

    def refresh_if_due(self) -> bool:
        """Rebuild when marked stale or older than ``refresh_every``; True if it did.

        One rebuild at a time. While a password is known to have changed (stale), a check
        waits for the rebuild under way, so the new password is looked for; a rebuild that
        is only due by age lets the others check with the index there is. A failure is
        logged, keeps the index, and is not tried again for ``retry_after`` seconds.
        """
        now = self._clock()
        due = self._refreshed_at is None or now - self._refreshed_at > self.refresh_every
        if not (self._stale or due):
            return False
        if self._failed_at is not None and now - self._failed_at < self.retry_after:
            return False
        if not self._refreshing.acquire(blocking=self._stale, timeout=10.0 if self._stale else -1):
            return False
        try:
            if (
                not self._stale
                and self._refreshed_at is not None
                and (self._clock() - self._refreshed_at <= self.refresh_every)
            ):
                return False  # another check rebuilt it while this one waited
            self.refresh()
            return True
        except Exception as exc:
            self._failed_at = self._clock()
            logger.warning("leak watch: could not list the passwords: %s", type(exc).__name__)
            return False
        finally:
            self._refreshing.release()

    def confirm(self, text: str) -> list[Leak]:
        """:meth:`check`, and on a match the index rebuilt and the text checked again: a
        password changed in another process since the last rebuild is no current leak.
        """
        if not self.check(text):
            return []
        with self._refreshing:
            try:
                self.refresh()
            except Exception as exc:  # the index it had stands
                logger.warning("leak watch: could not confirm: %s", type(exc).__name__)
        return self.check(text)

    def current_since(self, name: str) -> datetime | None:
        """When this process first saw ``name``'s current password (None: from the start)."""
        with self._lock:
            seen = self._seen_since.get(name)
        if seen is None or seen[1] == datetime.min.replace(tzinfo=UTC):
            return None
        return seen[1]

    def check(self, text: str) -> list[Leak]:
        """The SMTP users whose current password is among the words of ``text``."""
        with self._lock:
            index = self._index
        if not index:
            return []
        found = {index[d] for d in map(self._digest, candidate_words(text)) if d in index}
        return [Leak(name) for name in sorted(found)]
