"""The arrows point one way: slack/ and demo/ → core → sarv/ and store/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sarvbot

PACKAGE = Path(sarvbot.__file__).parent

# What each layer must never import (by module prefix).
FORBIDDEN = {
    "sarv": ("sarvbot.core", "sarvbot.store", "sarvbot.slack", "sarvbot.policy", "slack_"),
    "core": ("sarvbot.slack", "sarvbot.demo", "sarvbot.standin", "slack_bolt", "slack_sdk"),
    "store": ("sarvbot.slack", "sarvbot.demo", "sarvbot.sarv"),
    "slack": ("sarvbot.store",),
    "demo": ("sarvbot.store",),
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_it_must_not(layer: str) -> None:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"no modules in sarvbot/{layer}"
    wrong = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in files
        for name in _imports(path)
        if name.startswith(FORBIDDEN[layer])
    ]
    assert wrong == []


def test_the_forbidden_imports_are_found_where_they_are() -> None:
    # The check itself can fail: the composition root does import the store.
    assert "sarvbot.store" in _imports(PACKAGE / "runtime.py")
