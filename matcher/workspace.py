"""What a command works on: a catalogue, a rules folder, the territorial graph, a router.

Loading checks everything and stops at the first error (`route`, `batch`) or collects them
all (`rules check`). A checked catalogue is cached on disk, keyed by the hash of its files
and of this program, so that a second `route` does not parse and check the YAML again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .catalogue import fingerprint, load_catalogue
from typing import Any

from .demande import Where, build_demande, error_at, porteur_field
from .errors import AiguillageError, IssueCollector, TerritoryError
from .model import Catalogue, Demande, Policy, Territoire
from .paths import shipped_catalogue, shipped_rules
from .policy import load_policy
from .territory import DATA_FILE, TerritoryGraph, TerritoryIndex, default_index, resolve
from .yamlsource import yaml_files


def cache_dir() -> Path | None:
    """$AIGUILLAGE_CACHE, else the user's cache folder; None when caching is switched off."""
    configured = os.environ.get("AIGUILLAGE_CACHE")
    if configured is not None:
        return Path(configured) if configured not in ("", "0", "non") else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "aiguillage"


def _code_fingerprint() -> str:
    """Changes whenever the program or the territorial data changes (a cached catalogue is then stale)."""
    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).parent
    for path in sorted(package.glob("*.py")):
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    stat = DATA_FILE.stat()
    digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _field_name(key: str) -> str:
    return f"champ « {key} »"


@dataclass
class Workspace:
    catalogue: Catalogue
    policy: Policy
    graph: TerritoryGraph

    def router(self):
        from .decide import Router

        return Router(self.catalogue, self.policy, self.graph)

    def prepare(self, data: dict[str, Any], where: Where = _field_name) -> tuple[Demande, Territoire]:
        """A demande and its territory from fields as a user gave them; errors say `where` they are."""
        key, raw = porteur_field(data)
        if raw is None:
            raise error_at(where, "porteur", "porteur manquant (code INSEE, SIREN, departement:NN…)")
        try:
            ref, notes = resolve(str(raw), self.graph.index)
        except AiguillageError as exc:
            raise error_at(where, key, exc.message, TerritoryError, exc.code) from None
        fields = {k: v for k, v in data.items() if k not in ("porteur", "commune")}
        demande = build_demande(fields, self.catalogue, ref, where)
        return demande, self.graph.territoire(ref, notes)


def load_catalogue_cached(root: Path, issues: IssueCollector, index: TerritoryIndex, today: dt.date) -> Catalogue | None:
    """The catalogue, from the cache when its files and this program are unchanged. Only loads
    that stop at the first error use it: they report no warnings, so none is lost."""
    folder = cache_dir()
    if folder is None or not issues.stop_at_first:
        return load_catalogue(root, issues, index, today)
    files = yaml_files(root) if root.exists() else []
    try:
        key = hashlib.sha256(
            f"{fingerprint(root, files)}|{_code_fingerprint()}|{today.isoformat()}|{root.resolve()}".encode()
        ).hexdigest()[:32]
    except OSError:
        return load_catalogue(root, issues, index, today)
    path = folder / f"catalogue-{key}.pickle"
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        pass
    catalogue = load_catalogue(root, issues, index, today)
    if catalogue is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as handle:
                pickle.dump(catalogue, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except OSError:  # a read-only home is not a reason to fail
            pass
    return catalogue


def load_workspace(
    catalogue_dir: Path | None = None,
    rules_dir: Path | None = None,
    issues: IssueCollector | None = None,
    today: dt.date | None = None,
) -> Workspace:
    """Load and check a catalogue and rules (the shipped ones by default); raise on the first error."""
    issues = issues or IssueCollector(stop_at_first=True)
    today = today or dt.date.today()
    index = default_index()
    catalogue = load_catalogue_cached(Path(catalogue_dir or shipped_catalogue()), issues, index, today)
    if catalogue is None:
        raise AiguillageError("catalogue invalide")  # only reached when collecting: errors are in `issues`
    policy = load_policy(Path(rules_dir or shipped_rules()), catalogue, issues, index)
    if policy is None:
        raise AiguillageError("règles invalides")
    graph = TerritoryGraph(index, catalogue.perimetres.values())
    return Workspace(catalogue, policy, graph)
