"""``sarvbot demo``: the whole bot in a terminal, with no Slack workspace and no Sarv account.

The real app (its listeners, policy checks, database and Sarv client) runs against the
stand-in Slack and the Sarv sandbox; what it sends to Slack is printed as text.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from .console import Console

__all__ = ["run_demo"]


@contextlib.contextmanager
def _logging_to(path: Path) -> Iterator[None]:
    """Send every log record to a file while the demo runs: the terminal is Slack's screen."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        root.handlers = saved_handlers
        root.setLevel(saved_level)
        handler.close()


def run_demo(
    policy: str | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    colour: bool | None = None,
) -> int:
    """Run the demo on a terminal or from a script; returns the process exit status.

    0 when every step ran, 1 when a script line could not be acted on (or something broke),
    2 when the permissions file is bad. ``colour`` defaults to "if stdout is a terminal".
    """
    console = Console(stdin or sys.stdin, stdout or sys.stdout, colour=colour)
    with (
        tempfile.TemporaryDirectory(prefix="sarvbot-demo-") as tmp,
        _logging_to(Path(tmp) / "demo.log"),
    ):
        # Imported only now: the app's libraries log as they load, and that goes to the file.
        try:
            from .session import run_session
        except ImportError as exc:  # an incomplete install: say what is missing, no traceback
            print(f"sarvbot demo: {exc}", file=sys.stderr)
            return 1
        return run_session(policy, console, Path(tmp))
