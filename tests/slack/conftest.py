from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from sarvbot.standin import SlackAppClient
from sarvbot.standin.workspace import LocalWorkspace
from tests.db_fixtures import _fresh_postgres_database


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[LocalWorkspace]:
    with LocalWorkspace(f"sqlite:///{tmp_path / 'sarvbot.db'}") as running:
        yield running


@pytest.fixture
def postgres_url(postgres_admin_engine: Engine) -> Iterator[str]:
    yield from _fresh_postgres_database(postgres_admin_engine)


@pytest.fixture
def slack(workspace: LocalWorkspace) -> Iterator[SlackAppClient]:
    client = workspace.client()
    yield client
    client.close()
