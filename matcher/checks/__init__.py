"""`aiguillage rules lint`: what the catalogue and the rules say as a whole, one class per check.

A check is a subclass of `Check`, registered under its class name when its module is imported;
it reads a `LintContext` (the loaded catalogue and rules, the territorial graph, the solver of
`logic`) and yields `Issue`s. Each finding names both places involved: its location is where
the problem shows, `related` (and the message) the other place that causes it.
Findings are warnings, unless the check is certain that what is written is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Iterable

from ..errors import Issue, Location
from ..model import Catalogue, Offre, Policy, Regle
from ..territory import TerritoryGraph
from ..yamlsource import Document, load
from .logic import Solver

if TYPE_CHECKING:
    from ..workspace import Workspace

CHECKS: dict[str, type["Check"]] = {}


class Check:
    """One authoring check. Subclasses set `code` and `description`, and implement `run`."""

    code: ClassVar[str]
    description: ClassVar[str]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        CHECKS[cls.__name__] = cls

    def run(self, ctx: "LintContext") -> Iterable[Issue]:
        raise NotImplementedError


@dataclass
class Places:
    """Where a key of an offer or rule is written (the loaders keep only where each record starts)."""

    _documents: dict[str, Document] = field(default_factory=dict)
    _records: dict[tuple[str, int, int], tuple] = field(default_factory=dict)

    def _document(self, path: str) -> Document | None:
        if path not in self._documents:
            try:
                self._documents[path] = load(Path(path), path)
            except Exception:  # noqa: BLE001 - a file read moments ago; without it, the record's start will do
                return None
            for keypath, where in self._documents[path].value_positions.items():
                if len(keypath) == 2 and isinstance(keypath[1], int):
                    self._records[(path, where.line, where.column)] = keypath
        return self._documents[path]

    def of(self, record: Location | None, *keys: str | int) -> Location | None:
        """The position of `keys` inside the record that starts at `record`."""
        if record is None:
            return None
        doc = self._document(record.path)
        keypath = self._records.get((record.path, record.line, record.column))
        if doc is None or keypath is None:
            return record
        return doc.where(keypath + keys)


@dataclass
class LintContext:
    catalogue: Catalogue
    policy: Policy
    graph: TerritoryGraph
    places: Places = field(default_factory=Places)
    memo: dict[str, object] = field(default_factory=dict)  # what several checks compute once

    @cached_property
    def solver(self) -> Solver:
        return Solver(self.catalogue.vocabularies)

    @property
    def offres(self) -> list[Offre]:
        return [o for o in self.catalogue.offres if not o.repli]

    @property
    def before_rules(self) -> list[Regle]:
        """The rules that move a decision (escalate, exclude): those read before it."""
        return [r for r in self.policy.regles if not r.after_decision]


def where(thing: Offre | Regle | None) -> str:
    """How a message names the place of another offer or rule."""
    return str(thing.location) if thing is not None and thing.location else "?"


def run_checks(ctx: LintContext, only: Iterable[str] = ()) -> list[Issue]:
    """Run the registered checks (or those named in `only`); findings in file order."""
    from . import offers, rules  # noqa: F401 - importing registers their checks

    names = list(only) or list(CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        from ..conditions import did_you_mean
        from ..errors import AiguillageError

        raise AiguillageError(f"vérification inconnue « {unknown[0]} »{did_you_mean(unknown[0], CHECKS)} "
                              f"(connues : {', '.join(CHECKS)})")
    found: list[Issue] = []
    for name in names:
        found.extend(CHECKS[name]().run(ctx))
    unique = list(dict.fromkeys(found))
    unique.sort(key=lambda i: (i.location or Location(""), i.code))
    return unique


def lint(workspace: "Workspace", only: Iterable[str] = ()) -> list[Issue]:
    """Every finding of the registered checks on a loaded catalogue and rules."""
    return run_checks(LintContext(workspace.catalogue, workspace.policy, workspace.graph), only)


def registered() -> dict[str, type[Check]]:
    from . import offers, rules  # noqa: F401

    return dict(CHECKS)


__all__ = ["Check", "CHECKS", "LintContext", "Places", "lint", "run_checks", "registered", "where"]
