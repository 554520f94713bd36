"""SMTP users by name and label, for pickers: a short-lived copy of Sarv's list.

A person typing into a picker asks on every keystroke, and Slack waits 3 seconds at most
for the answer: the names and labels are kept for a short while, shared by everyone in
the process, loaded once however many ask at the same moment, and loaded again as soon as
a change made through sarvbot could have changed them. Nothing here holds a password.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from sarvbot.sarv import SmtpUser

from .model import CatalogueEntry

__all__ = ["DEFAULT_TTL", "Pick", "UserIndex"]

logger = logging.getLogger("sarvbot.core")

#: How long a copy of Sarv's list answers pickers before it is loaded again.
DEFAULT_TTL = 30.0


@dataclass(frozen=True)
class Pick:
    """One SMTP user a picker offers: its Sarv name and catalogue label."""

    name: str
    label: str | None = None


@dataclass(frozen=True)
class _Loaded:
    picks: tuple[Pick, ...]
    keys: tuple[tuple[str, str], ...]  # (name, label) in lower case, for matching
    generation: int
    at: float


class UserIndex:
    """Finds SMTP users whose name or label holds what a person typed."""

    def __init__(
        self,
        list_users: Callable[[], Sequence[SmtpUser]],
        catalogue: Callable[[], Sequence[CatalogueEntry]],
        *,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._list_users = list_users
        self._catalogue = catalogue
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None
        self._generation = 0
        self._loading: tuple[int, Future[_Loaded]] | None = None

    def invalidate(self) -> None:
        """Forget the copy: a change may have added, replaced or labelled a user."""
        with self._lock:
            self._generation += 1
            self._loaded = None

    def warm(self) -> None:
        """Start loading a copy if there is no fresh one: a form with a picker was opened,
        and its person is about to type. Never waits, never raises.
        """
        if self._fresh() is None:
            self._load()

    def search(self, text: str, *, limit: int = 100, wait: float | None = None) -> list[Pick]:
        """Up to ``limit`` users whose name or label holds ``text`` (any case), those that
        begin with it first, each group by name.

        Waits at most ``wait`` seconds for Sarv when there is no fresh copy (TimeoutError
        then; the load goes on for the next caller). Sarv's errors propagate.
        """
        loaded = self._fresh() or self._load().result(timeout=wait)
        needle = text.strip().lower()
        if not needle:
            return list(loaded.picks[:limit])
        first: list[Pick] = []
        then: list[Pick] = []
        for pick, (name, label) in zip(loaded.picks, loaded.keys, strict=True):
            if name.startswith(needle) or label.startswith(needle):
                first.append(pick)
                if len(first) >= limit:
                    break
            elif len(then) < limit and (needle in name or needle in label):
                then.append(pick)
        return (first + then)[:limit]

    def _fresh(self) -> _Loaded | None:
        with self._lock:
            loaded = self._loaded
            if loaded is not None and self._clock() - loaded.at < self._ttl:
                return loaded
            return None

    def _load(self) -> Future[_Loaded]:
        """The load under way for the current generation, or a new one on its own thread."""
        with self._lock:
            if self._loading is not None and self._loading[0] == self._generation:
                return self._loading[1]
            generation = self._generation
            future: Future[_Loaded] = Future()
            self._loading = (generation, future)
        threading.Thread(
            target=self._run_load, args=(generation, future), name="user-index", daemon=True
        ).start()
        return future

    def _run_load(self, generation: int, future: Future[_Loaded]) -> None:
        try:
            loaded = self._read(generation)
        except BaseException as exc:
            logger.warning("could not load SMTP users for pickers: %s", type(exc).__name__)
            future.set_exception(exc)
        else:
            with self._lock:
                if generation == self._generation:
                    self._loaded = loaded
            future.set_result(loaded)
        finally:
            with self._lock:
                if self._loading is not None and self._loading[1] is future:
                    self._loading = None

    def _read(self, generation: int) -> _Loaded:
        started = self._clock()
        users = sorted(self._list_users(), key=lambda u: u.name)
        try:
            labels = {e.name: e.label for e in self._catalogue() if e.label}
        except Exception as exc:
            # Names alone still let people pick; labels come back with the database.
            logger.warning("pickers show no labels: %s", type(exc).__name__)
            labels = {}
        picks = tuple(Pick(u.name, labels.get(u.name)) for u in users)
        keys = tuple((p.name.lower(), (p.label or "").lower()) for p in picks)
        return _Loaded(picks, keys, generation, started)
