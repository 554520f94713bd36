from __future__ import annotations

from collections.abc import Iterator

import pytest

from sarvbot.sandbox import Sandbox
from sarvbot.sarv import SarvClient

OWNER_ID = "owner-42"
TOKEN = "tok-7f3a9c1e55d2b8aa"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(OWNER_ID, TOKEN) as running:
        yield running


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[SarvClient]:
    with SarvClient(OWNER_ID, TOKEN, base_url=sandbox.url, timeout=(2.0, 2.0)) as sarv_client:
        yield sarv_client
