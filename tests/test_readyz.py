"""``GET /readyz`` checks the database and the schedule; ``/healthz`` stays a liveness check."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import requests

from sarvbot.standin.workspace import LocalWorkspace
from tests.support import app_env, serving


def test_a_serving_process_is_ready_with_its_database_and_schedule(tmp_path: Path) -> None:
    with (
        LocalWorkspace(f"sqlite:///{tmp_path / 'app.db'}") as workspace,
        serving(app_env(workspace, tmp_path), stderr=subprocess.DEVNULL) as server,
    ):
        answer = requests.get(f"{server.base}/readyz", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "database": "ok", "schedule": "ok"}


def test_not_ready_without_its_database_but_still_alive(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    with LocalWorkspace(f"sqlite:///{folder / 'app.db'}") as workspace:
        base = workspace.app_url.removesuffix("/slack/events")
        assert requests.get(f"{base}/readyz", timeout=10).status_code == 200
        shutil.rmtree(folder)
        workspace.database.dispose()  # pooled connections still hold the deleted file
        ready = requests.get(f"{base}/readyz", timeout=10)
        alive = requests.get(f"{base}/healthz", timeout=10)
    assert ready.status_code == 503
    assert ready.json()["database"].startswith("unavailable")
    assert "app.db" not in ready.text
    assert alive.status_code == 200
