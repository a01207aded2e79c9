"""What a command works on: a catalogue, a rules folder, the territorial graph, a router.

Loading checks everything and stops at the first error (`route`, `batch`) or collects them
all (`rules check`). A checked catalogue and its rules are cached on disk, keyed by the hash of
their files and of this program, so that the next `route` neither parses nor checks the YAML
again (nor imports the loaders).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .demande import Where, build_demande, error_at, porteur_field
from .errors import AiguillageError, IssueCollector, TerritoryError
from .files import fingerprint, yaml_files
from .model import Catalogue, Decision, Demande, Policy, Territoire
from .paths import default_catalogue, default_rules
from .territory import DATA_FILE, TerritoryGraph, default_index, resolve


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
    engine_plan: Any = None  # which engine program asks about each offer, when the cache kept it
    _router: Any = field(default=None, init=False, repr=False, compare=False)

    def in_use(self):
        """Which catalogue and rules folders these are, and why those (`paths.InUse`)."""
        from .paths import in_use

        return in_use(Path(self.catalogue.root), Path(self.policy.root))

    def router(self):
        from .decide import Router

        return Router(self.catalogue, self.policy, self.graph, self.engine_plan)

    def route(self, data: dict[str, Any], day: dt.date, where: Where = _field_name) -> Decision:
        """The decision on one demande given as fields (options, a file, a form); errors say `where`.

        The router is built once per workspace: a long-running process (the web page) reuses its
        compiled rules and its caches."""
        if self._router is None:
            self._router = self.router()
        demande, territoire = self.prepare(data, where)
        return self._router.route(demande, territoire, day)

    def route_many(self, data: Sequence[dict[str, Any]], day: dt.date, where: Where = _field_name
                   ) -> list[Decision | AiguillageError]:
        """Demandes given as fields, decided together as a backlog's rows are: for each, its decision
        or the error that refuses it (the others are decided all the same)."""
        if self._router is None:
            self._router = self.router()
        outcomes: list[Decision | AiguillageError | None] = [None] * len(data)
        prepared = []
        for i, fields in enumerate(data):
            try:
                prepared.append((i, self.prepare(fields, where)))
            except AiguillageError as exc:
                outcomes[i] = exc
        try:
            decided: list[Decision | AiguillageError] = list(self._router.route_many([p for _, p in prepared], day))
        except AiguillageError:  # refused as a whole: each alone, to say which
            decided = []
            for _, (demande, territoire) in prepared:
                try:
                    decided.append(self._router.route(demande, territoire, day))
                except AiguillageError as exc:
                    decided.append(exc)
        for (i, _), outcome in zip(prepared, decided):
            outcomes[i] = outcome
        return outcomes  # type: ignore[return-value]

    def prepare(self, data: dict[str, Any], where: Where = _field_name) -> tuple[Demande, Territoire]:
        """A demande and its territory from fields as a user gave them; errors say `where` they are."""
        key, raw = porteur_field(data)
        if raw is None:
            raise error_at(where, "porteur", "porteur manquant (code INSEE, SIREN, departement:NN…)")
        try:
            ref, notes = resolve(raw, self.graph.index, insee=key == "commune")
        except AiguillageError as exc:
            raise error_at(where, key, exc.message, TerritoryError, exc.code) from None
        fields = {k: v for k, v in data.items() if k not in ("porteur", "commune")}
        demande = build_demande(fields, self.catalogue, ref, where)
        return demande, self.graph.territoire(ref, notes)


def _cache_path(catalogue_root: Path, rules_root: Path) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    try:
        parts = [
            fingerprint(catalogue_root, yaml_files(catalogue_root)) if catalogue_root.exists() else "absent",
            fingerprint(rules_root, yaml_files(rules_root)) if rules_root.exists() else "absent",
            _code_fingerprint(), str(catalogue_root.resolve()), str(rules_root.resolve()),
        ]
    except OSError:
        return None
    return folder / f"espace-{hashlib.sha256('|'.join(parts).encode()).hexdigest()[:32]}.pickle"


def _load_checked(catalogue_root: Path, rules_root: Path, issues: IssueCollector, today: dt.date
                  ) -> tuple[Catalogue, Policy, dict[str, frozenset[str]], Any]:
    """The checked catalogue and rules, the named perimeters each territory lies in (read on the
    territorial graph once) and which engine program asks about each offer: all kept in the cache,
    so that a route does not compute them again."""
    from .catalogue import load_catalogue
    from .policy import load_policy

    index = default_index()
    catalogue = load_catalogue(catalogue_root, issues, index, today)
    if catalogue is None:
        raise AiguillageError("catalogue invalide")  # only reached when collecting: errors are in `issues`
    policy = load_policy(rules_root, catalogue, issues, index)
    if policy is None:
        raise AiguillageError("règles invalides")
    from .decide import Router

    graph = TerritoryGraph(index, catalogue.perimetres.values())
    return catalogue, policy, graph.perimeters_of, Router(catalogue, policy, graph).engine_plan()


def load_workspace(
    catalogue_dir: Path | None = None,
    rules_dir: Path | None = None,
    issues: IssueCollector | None = None,
    today: dt.date | None = None,
) -> Workspace:
    """Load and check a catalogue and rules (the shipped ones by default); raise on the first error.

    Only a load that stops at the first error uses the cache: it reports no warnings, so none
    is lost by not reading the files again. What is cached does not depend on the day (the day
    only adds warnings, such as an expired offer), so the first run of a day reuses it."""
    issues = issues or IssueCollector(stop_at_first=True)
    today = today or dt.date.today()
    catalogue_root = Path(catalogue_dir or default_catalogue())
    rules_root = Path(rules_dir or default_rules())
    path = _cache_path(catalogue_root, rules_root) if issues.stop_at_first else None
    loaded = None
    if path is not None:
        try:
            with open(path, "rb") as handle:
                loaded = pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
            loaded = None
    if loaded is None:
        loaded = _load_checked(catalogue_root, rules_root, issues, today)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                with open(tmp, "wb") as handle:
                    pickle.dump(loaded, handle, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, path)
            except OSError:  # a read-only home is not a reason to fail
                pass
    catalogue, policy, perimeters_of, engine_plan = loaded
    graph = TerritoryGraph(default_index(), catalogue.perimetres.values(), perimeters_of)
    return Workspace(catalogue, policy, graph, engine_plan)
