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


@pytest.fixture(scope="session")
def year(tmp_path_factory):
    """One year of decisions for the governance outputs: the backlog of tests/yearbacklog.py routed by
    `aiguillage batch` against the shipped catalogue plus the fixture offers of tests/fixtures/ok/veille/
    (an offer with a capacity, one whose validity ends soon); `previous` is the same backlog routed
    against the shipped catalogue alone."""
    import shutil
    from types import SimpleNamespace

    import pandas as pd

    import yearbacklog
    from clirun import run
    from matcher.paths import shipped_catalogue

    root = tmp_path_factory.mktemp("annee")
    catalogue = root / "catalogue"
    shutil.copytree(shipped_catalogue(), catalogue)
    shutil.copy(FIXTURES / "ok" / "veille" / "offres.yaml", catalogue / "veille.yaml")
    backlog = yearbacklog.write(root / "carnet.csv")
    decisions, previous = root / "decisions.csv", root / "decisions-avant.csv"
    date = ["--date", TODAY.isoformat()]
    for out, extra in ((decisions, ["--catalogue", catalogue]), (previous, [])):
        result = run("batch", backlog, "-o", out, *date, *extra)
        assert result.code == 0, result.stderr
    frame = pd.read_csv(decisions, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return SimpleNamespace(root=root, catalogue=catalogue, backlog=backlog, decisions=decisions, previous=previous,
                           frame=frame, options=["--catalogue", str(catalogue), *date])
