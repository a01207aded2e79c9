"""Shared fixtures: the shipped workspace, loaded once, and helpers to write YAML trees."""

from __future__ import annotations

import datetime as dt
import os
import textwrap
from pathlib import Path

import pytest

# Tests never read or write the user's cache.
os.environ["AIGUILLAGE_CACHE"] = "0"

TODAY = dt.date(2026, 11, 26)
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def workspace():
    from matcher.workspace import load_workspace

    return load_workspace(today=TODAY)


@pytest.fixture(scope="session")
def router(workspace):
    return workspace.router()


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write {relative path: YAML text} under root (text is dedented)."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root
