"""Where the shipped catalogue and rules are: inside the installed package, or beside it in a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    installed = _PACKAGE / "shipped" / name  # pyproject maps the top-level folder here on install
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name  # a source checkout: the folder beside matcher/


def shipped_catalogue() -> Path:
    return _shipped("catalogues")


def shipped_rules() -> Path:
    return _shipped("rules")
