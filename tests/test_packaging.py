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


def test_every_imported_package_is_declared_and_every_declared_one_imported():
    import ast
    import re
    import sys
    from importlib.metadata import packages_distributions

    imported: set[str] = set()
    for path in [ROOT / "cli.py", *(ROOT / "matcher").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {name for name in imported - set(sys.stdlib_module_names) if name not in ("matcher", "cli")}
    distributions = packages_distributions()
    needed = {distributions[name][0].lower().replace("_", "-") for name in third_party}
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {re.split(r"[<>=!~ ]", requirement)[0].lower() for requirement in config["dependencies"]}
    assert needed == declared


def test_every_template_and_static_file_is_installed():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]
    for package, folder in (("matcher", "templates"), ("matcher.web", "static")):
        base = ROOT / package.replace(".", "/")
        files = [p.relative_to(base).as_posix() for p in (base / folder).rglob("*") if p.is_file()]
        assert files
        # Read as setuptools reads them: `templates/*.html` holds no file of `templates/report/`.
        installed = {path for pattern in package_data[package] for path in base.glob(pattern)}
        missing = [f for f in files if base / f not in installed]
        assert missing == []

