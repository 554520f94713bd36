"""The terminal end of the demo: reading lines from a person or a script, and printing."""

from __future__ import annotations

import os
import re
from typing import TextIO

from .render import Style

__all__ = ["Console", "wants_colour"]

_ANSI = re.compile(r"(\x1b\[[0-9;]*m)")


def wants_colour(stream: TextIO) -> bool:
    """Colour only on a terminal that shows it, and never when NO_COLOR is set."""
    if "NO_COLOR" in os.environ or os.environ.get("TERM", "") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Console:
    """Lines in, text out. A script's lines are echoed after their prompt, as if typed."""

    def __init__(self, stdin: TextIO, stdout: TextIO, *, colour: bool | None = None) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.interactive = bool(getattr(stdin, "isatty", None) and stdin.isatty())
        self.style = Style(wants_colour(stdout) if colour is None else colour)
        self.line_number = 0  # of the script line last read
        self._readline = False
        self._unread: str | None = None
        if self.interactive:
            try:
                import readline  # noqa: F401  (importing it gives input() history and editing)

                self._readline = True
            except ImportError:
                pass

    def print(self, text: str = "") -> None:
        """Write a line (or several) and flush, so output keeps pace with what happens."""
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def read(self, prompt: str, *, skip_blank: bool) -> str | None:
        """The next line (without its newline), or None at the end of input.

        In a script, comment lines are skipped, and blank lines too when ``skip_blank``.
        """
        if self._unread is not None:
            line, self._unread = self._unread, None
            self.print(prompt + line)
            return line
        if self.interactive:
            return self._ask(prompt)
        while True:
            raw = self.stdin.readline()
            if not raw:
                return None
            self.line_number += 1
            line = raw.rstrip("\r\n")
            if line.lstrip().startswith("#") or (skip_blank and not line.strip()):
                continue
            self.print(prompt + line)
            return line

    def unread(self, line: str) -> None:
        """Give ``line`` back: the next read returns it (a step typed while a modal was open)."""
        self._unread = line

    def _ask(self, prompt: str) -> str | None:
        if self.style.colour and self._readline:
            # readline counts every byte of the prompt as width unless told otherwise.
            prompt = _ANSI.sub("\x01\\1\x02", prompt)
        try:
            if self.stdin.fileno() != 0 or self.stdout.fileno() != 1:
                raise OSError  # input() only talks to the process's own terminal
            return input(prompt)
        except EOFError:
            self.print()
            return None
        except (OSError, ValueError, AttributeError):
            self.stdout.write(prompt)
            self.stdout.flush()
            line = self.stdin.readline()
            return line.rstrip("\r\n") if line else None
