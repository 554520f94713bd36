"""Small helpers shared by tests that start servers in other processes."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import requests


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(process: subprocess.Popen[str], url: str, timeout: float = 30.0) -> None:
    """Wait until ``url`` answers 200, failing with the process's output if it exits."""
    session = requests.Session()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stderr.read() if process.stderr else ""
            raise AssertionError(f"the server exited: {output}")
        try:
            if session.get(url, timeout=0.5).ok:
                return
        except requests.ConnectionError:
            time.sleep(0.1)  # gunicorn is still starting: it offers nothing to wait on
    raise AssertionError(f"{url} did not answer within {timeout} s")


def serve_argv(port: int, *, workers: int = 1, threads: int = 32) -> list[str]:
    """The command line of a ``sarvbot serve`` on 127.0.0.1:``port``, run by this Python."""
    return [
        *(sys.executable, "-m", "sarvbot.cli", "serve", "--host", "127.0.0.1"),
        *("--port", str(port), "--workers", str(workers), "--threads", str(threads)),
    ]
