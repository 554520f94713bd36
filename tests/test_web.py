"""``sarvbot serve`` under gunicorn: the operator's gunicorn knobs, and nothing left behind."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sarvbot.standin.workspace import LocalWorkspace
from tests.support import free_port, serve_argv, wait_healthy, write_policy


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[LocalWorkspace]:
    with LocalWorkspace(f"sqlite:///{tmp_path / 'sarvbot.db'}") as workspace:
        yield workspace


def _serve(
    workspace: LocalWorkspace, tmp_path: Path, port: int, **extra: str
) -> subprocess.Popen[str]:
    policy = write_policy(tmp_path)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("GUNICORN_CMD_ARGS", "XDG_RUNTIME_DIR")
    }
    env.update(workspace.environ(), SARVBOT_POLICY=str(policy), HOME=str(home), **extra)
    return subprocess.Popen(
        serve_argv(port, threads=4),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.terminate()
    return process.communicate(timeout=60)


def test_gunicorn_cmd_args_go_on_top_of_sarvbot_defaults(
    workspace: LocalWorkspace, tmp_path: Path
) -> None:
    sarvbot_port, operator_port = free_port(), free_port()
    process = _serve(
        workspace,
        tmp_path,
        sarvbot_port,
        GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{operator_port} --access-logfile -",
    )
    try:
        wait_healthy(process, f"http://127.0.0.1:{operator_port}/healthz")
    finally:
        stdout, stderr = _stop(process)
    assert f"Listening at: http://127.0.0.1:{operator_port}" in stderr
    assert f"127.0.0.1:{sarvbot_port}" not in stderr
    assert '"GET /healthz HTTP/1.1" 200' in stdout


def test_a_gunicorn_config_file_in_the_working_directory_is_read(
    workspace: LocalWorkspace, tmp_path: Path
) -> None:
    (tmp_path / "gunicorn.conf.py").write_text('accesslog = "-"\n', encoding="utf-8")
    port = free_port()
    process = _serve(workspace, tmp_path, port)
    try:
        wait_healthy(process, f"http://127.0.0.1:{port}/healthz")
    finally:
        stdout, _ = _stop(process)
    assert '"GET /healthz HTTP/1.1" 200' in stdout


def test_serve_leaves_no_control_socket_in_home(workspace: LocalWorkspace, tmp_path: Path) -> None:
    port = free_port()
    process = _serve(workspace, tmp_path, port)
    try:
        wait_healthy(process, f"http://127.0.0.1:{port}/healthz")
        assert not (tmp_path / "home" / ".gunicorn").exists()
    finally:
        _, stderr = _stop(process)
    assert process.returncode == 0, stderr
    assert list((tmp_path / "home").iterdir()) == []
