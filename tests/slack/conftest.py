from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sarvbot.policy import parse_policy
from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import BOB, LocalWorkspace
from sarvbot.store import CatalogueStore
from tests.slack.leaks import LEAKED, WATCHING


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[LocalWorkspace]:
    with LocalWorkspace(f"sqlite:///{tmp_path / 'sarvbot.db'}") as running:
        yield running


@pytest.fixture
def slack(workspace: LocalWorkspace) -> Iterator[SlackAppClient]:
    client = workspace.client()
    yield client
    client.close()


@pytest.fixture
def watched(workspace: LocalWorkspace) -> LocalWorkspace:
    """The workspace with the leak watch on (freezing), and a labelled user bob owns."""
    assert workspace.app is not None
    workspace.app.core.permissions.policy = parse_policy(WATCHING, source="policy")
    workspace.sandbox.add_user(name=LEAKED)
    CatalogueStore(workspace.database).write(LEAKED, label="billing-api", owner_id=BOB)
    return workspace
