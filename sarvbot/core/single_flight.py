"""Single flight: callers that arrive while a call is in flight share its result."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

__all__ = ["SharedCall"]

T = TypeVar("T")


class SharedCall(Generic[T]):
    """Wraps a call so that concurrent callers make it once and all get its result."""

    def __init__(self, function: Callable[[], T]) -> None:
        self._function = function
        self._lock = threading.Lock()
        self._pending: Future[T] | None = None

    def __call__(self) -> T:
        with self._lock:
            pending = self._pending
            leader = pending is None
            if pending is None:
                pending = self._pending = Future()
        if leader:
            try:
                pending.set_result(self._function())
            except BaseException as exc:
                pending.set_exception(exc)
            finally:
                with self._lock:
                    self._pending = None
        return pending.result()
