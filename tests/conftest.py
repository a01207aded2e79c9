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


def pytest_addoption(parser):
    parser.addoption("--regenerate-golden", action="store_true",
                     help="rewrite tests/golden/ from the current outputs instead of comparing with them")


@pytest.fixture
def golden(request):
    """Compare a text with tests/golden/NAME, or rewrite it with --regenerate-golden."""
    regenerate = request.config.getoption("--regenerate-golden")

    def check(name: str, text: str) -> None:
        path = Path(__file__).parent / "golden" / name
        if regenerate:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
        assert text == path.read_text(encoding="utf-8"), f"{name} differs (pytest --regenerate-golden to accept)"

    return check
