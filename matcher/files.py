"""Which files make a catalogue or a rules folder, how they are named in messages, and their hash.

Kept apart from the YAML reader so that a command whose catalogue is cached can tell whether it
changed without importing the loaders.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:", re.MULTILINE)


def yaml_files(root: Path) -> list[Path]:
    """The `*.yaml` / `*.yml` files under `root`, in a stable order; hidden folders are skipped."""
    if root.is_file():
        return [root]
    found = [
        p
        for p in root.rglob("*")
        if p.suffix in (".yaml", ".yml") and p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def sections_of(path: Path) -> set[str]:
    """The top-level keys a YAML file seems to have (read leniently: the file may be broken)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:1_000_000]
    except OSError:
        return set()
    return set(_TOP_KEY.findall(text))


def files_with_section(root: Path, section: str) -> list[Path]:
    """The YAML files under `root` (or `root` itself) that hold a top-level `section:`."""
    root = Path(root)
    return [f for f in yaml_files(root) if section in sections_of(f)] if root.exists() else []


def display_path(path: Path) -> str:
    """How a file is named in messages: relative to the working folder when it is below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        return str(path)
    return relative if not relative.startswith("..") else str(path)


def fingerprint(root: Path, files: list[Path]) -> str:
    """The version of a folder of files: sha256 of their relative paths and contents."""
    digest = hashlib.sha256()
    for path in files:  # a file given beside the folder counts by its name
        name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()
