from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import LocalWorkspace


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[LocalWorkspace]:
    with LocalWorkspace(f"sqlite:///{tmp_path / 'sarvbot.db'}") as running:
        yield running


@pytest.fixture
def slack(workspace: LocalWorkspace) -> Iterator[SlackAppClient]:
    client = workspace.client()
    yield client
    client.close()
