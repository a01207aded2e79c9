"""Where the catalogue and rules in use are.

By default, those of the folder the command is run from: the first folder, from the current one
upward, that holds both `catalogues/` and `rules/` (a clone of the project being edited, the way
linters find their configuration); else those shipped inside the installed package. `--catalogue`
and `--rules` win over both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import AiguillageError
from .files import display_path

_PACKAGE = Path(__file__).resolve().parent
CATALOGUE_FOLDER, RULES_FOLDER = "catalogues", "rules"


def _shipped(name: str) -> Path:
    installed = _PACKAGE / "shipped" / name  # pyproject maps the top-level folder here on install
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name  # a source checkout: the folder beside matcher/


def shipped_catalogue() -> Path:
    return _shipped(CATALOGUE_FOLDER)


def shipped_rules() -> Path:
    return _shipped(RULES_FOLDER)


def find_project(start: Path | None = None) -> Path | None:
    """The first folder from `start` (the current one) upward that holds `catalogues/` and `rules/`."""
    try:
        folder = Path(start or os.getcwd()).absolute()
    except OSError:  # the current folder was removed
        return None
    for candidate in (folder, *folder.parents):
        try:
            if (candidate / CATALOGUE_FOLDER).is_dir() and (candidate / RULES_FOLDER).is_dir():
                return candidate
        except OSError:
            return None
    return None


def default_catalogue() -> Path:
    """The catalogue in use without --catalogue: the project folder's, else the shipped one."""
    project = find_project()
    return project / CATALOGUE_FOLDER if project else shipped_catalogue()


def default_rules() -> Path:
    """The rules in use without --rules: the project folder's, else the shipped ones."""
    project = find_project()
    return project / RULES_FOLDER if project else shipped_rules()


# Where a folder in use came from, said in the singular and in the plural.
_ORIGINS = {
    "projet": ("trouvé en remontant depuis le dossier courant", "trouvés en remontant depuis le dossier courant"),
    "livre": ("livré avec aiguillage", "livrés avec aiguillage"),
    "--catalogue": ("--catalogue", "--catalogue"),
    "--rules": ("--rules", "--rules"),
    "PATH": ("donné en argument", "donnés en argument"),
}


@dataclass(frozen=True)
class InUse:
    """The catalogue and rules folders a command works on, and where each choice came from."""

    catalogue: Path
    rules: Path
    catalogue_origin: str
    rules_origin: str

    def phrase(self) -> str:
        """Which folders answered, and why those: « catalogue catalogues et règles rules (trouvés en remontant
        depuis le dossier courant) »."""
        catalogue, rules = display_path(self.catalogue), display_path(self.rules)
        if self.catalogue_origin == self.rules_origin:
            return f"catalogue {catalogue} et règles {rules} ({_ORIGINS[self.catalogue_origin][1]})"
        return (f"catalogue {catalogue} ({_ORIGINS[self.catalogue_origin][0]}), "
                f"règles {rules} ({_ORIGINS[self.rules_origin][0]})")

    def locate(self, path: Path) -> Path:
        """A path as an author writes it: as it is when it exists, else `catalogues/…` or `rules/…` inside
        the folders in use — so that `rules check catalogues/territoires/16-charente.yaml` works after a
        plain install, where the shipped catalogue lives inside the package."""
        path = Path(path)
        if path.exists():
            return path
        parts = path.parts
        if len(parts) >= 1 and parts[0] in (CATALOGUE_FOLDER, RULES_FOLDER):
            inside = (self.catalogue if parts[0] == CATALOGUE_FOLDER else self.rules).joinpath(*parts[1:])
            if inside.exists():
                return inside
        raise AiguillageError(f"{path} : fichier ou dossier introuvable")

    def replaced(self, catalogue: Path, rules: Path, origin: str) -> "InUse":
        """The folders actually used when an argument replaced one of these (`rules check PATH`)."""
        def same(a: Path, b: Path) -> bool:
            return a.absolute() == b.absolute()

        return InUse(catalogue, rules, self.catalogue_origin if same(catalogue, self.catalogue) else origin,
                     self.rules_origin if same(rules, self.rules) else origin)

    def as_dict(self) -> dict[str, str]:
        return {"catalogue_dossier": str(self.catalogue.absolute()), "regles_dossier": str(self.rules.absolute())}


def in_use(catalogue_dir: Path | None = None, rules_dir: Path | None = None) -> InUse:
    """The folders a command uses: the options, else the project folder found upward, else the shipped ones."""
    project = find_project()

    def choose(given: Path | None, folder: str, shipped: Path, option: str) -> tuple[Path, str]:
        default, origin = ((project / folder, "projet") if project is not None
                           else (shipped, "livre"))
        if given is None or Path(given).absolute() == default.absolute():
            return (default if given is None else Path(given)), origin
        return Path(given), option

    catalogue, catalogue_origin = choose(catalogue_dir, CATALOGUE_FOLDER, shipped_catalogue(), "--catalogue")
    rules, rules_origin = choose(rules_dir, RULES_FOLDER, shipped_rules(), "--rules")
    return InUse(catalogue, rules, catalogue_origin, rules_origin)
