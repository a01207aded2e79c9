"""What `pip install .` ships: every data file the program reads, the catalogue and the rules."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_every_data_file_is_installed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    patterns = config["package-data"]["matcher.data"]
    missing = [p.name for p in (ROOT / "matcher" / "data").iterdir()
               if p.is_file() and not any(fnmatch.fnmatch(p.name, pattern) for pattern in patterns)]
    assert missing == []
    packages = set(config["packages"])
    sub_packages = {"matcher." + p.parent.relative_to(ROOT / "matcher").as_posix().replace("/", ".")
                    for p in (ROOT / "matcher").rglob("__init__.py") if p.parent != ROOT / "matcher"}
    assert sub_packages <= packages
