"""Demandes as the decider reads them: one column per fact, a code per row into its distinct values.

A backlog gives its columns already encoded (each distinct cell checked once); a single demande,
or the few of `rules test`, is a backlog of one or a few rows built here from `Demande` objects.
Either way the facts are derived from the given fields in one place (`fact_columns`): a word
implies its ancestors (friches → urbanisme), the porteur's nature defaults to its territory's
kind, the population to the territory's official figure, the territory's codes are facts too.
numpy only: `route` does not pay for pandas or Arrow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .model import Catalogue, Demande, Territoire

LIST_FIELDS = ("thematiques", "besoins", "programmes")
TERRITORY_FIELDS = ("commune", "epci", "departement", "region", "zone")
DEFAULTS = {"complexite": "simple", "saisine": "dt"}


@dataclass
class FactColumns:
    """Every fact of every row, as a code per row into a list of distinct values."""

    codes: dict[str, np.ndarray]
    values: dict[str, list[Any]]

    def row(self, row: int) -> dict[str, Any]:
        """One row's facts as the conditions read them (a missing value is left out)."""
        facts: dict[str, Any] = {}
        for name, codes in self.codes.items():
            value = self.values[name][codes[row]]
            if value is not None:
                facts[name] = value
        return facts


@dataclass
class Rows:
    """What the decider needs of demandes: their territories, their facts, their own words."""

    territory: np.ndarray  # per row: index into `territoires` (-1: the row is in error)
    territoires: list[Territoire | None]
    facts: FactColumns
    words: dict[str, list[tuple[str, ...]]]  # thematiques/besoins as written, per code of `facts`
    avis_dt: np.ndarray  # per row: the DT's opinion ('' when none)

    def __len__(self) -> int:
        return len(self.territory)


def factorize(values: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    """Per value the index of its first equal, and the distinct values in order of appearance. A list
    (an attribute such as `adhesions: [atd-89]`) is compared by its items and kept as the list it is."""
    index: dict[Any, int] = {}
    distinct: list[Any] = []

    def code(value: Any) -> int:
        key = ("liste", *value) if isinstance(value, list) else value
        if key not in index:
            index[key] = len(distinct)
            distinct.append(value)
        return index[key]

    codes = np.fromiter((code(v) for v in values), dtype=np.int64, count=len(values))
    return codes, distinct


def fact_columns(
    catalogue: Catalogue,
    n: int,
    given: dict[str, tuple[np.ndarray, list[Any]]],
    territory: np.ndarray,
    territoires: list[Territoire | None],
    attributes: dict[str, tuple[np.ndarray, list[Any]]],
) -> tuple[FactColumns, dict[str, list[tuple[str, ...]]], np.ndarray]:
    """The facts of `n` rows from the fields they give (per field: codes, distinct values; None is
    blank), their territories (per row an index into `territoires`, -1 for none) and attributes.
    Also returns the thematiques/besoins as written (per code) and each row's avis du DT."""
    voc = catalogue.vocabularies
    codes: dict[str, np.ndarray] = {}
    values: dict[str, list[Any]] = {}

    def field(name: str, convert: Any = None, default: Any = None) -> None:
        found = given.get(name)
        if found is None:
            codes[name], distinct = np.zeros(n, dtype=np.int64), [None]
        else:
            codes[name], distinct = found
        blank = [default if v is None else v for v in distinct] or [default]
        values[name] = [convert(v) for v in blank] if convert else blank

    for name in LIST_FIELDS:
        field(name, voc[name].with_ancestors, ())
    field("complexite", default=DEFAULTS["complexite"])
    field("saisine", default=DEFAULTS["saisine"])
    field("avis_dt")
    field("montant")
    for name, (attribute_codes, distinct) in attributes.items():
        codes[name] = attribute_codes
        values[name] = [("true" if v else "false") if isinstance(v, bool) else v for v in distinct] or [None]
    safe = np.maximum(territory, 0)
    for name in TERRITORY_FIELDS:
        codes[name] = safe
        values[name] = [getattr(t, name) if t is not None else None for t in territoires] or [None]
    # The porteur's nature: as given, else its territory's kind; the population: as given, else official.
    kinds = [t.kind if t is not None else None for t in territoires] or [None]
    type_codes, type_values = given.get("type_porteur") or (np.zeros(n, dtype=np.int64), [None])
    codes["porteur"], values["porteur"] = _derive(
        type_codes, safe, lambda given_type, t: given_type if given_type is not None else kinds[t], type_values)
    official = [t.population if t is not None else None for t in territoires] or [None]
    pop_codes, pop_values = given.get("population") or (np.zeros(n, dtype=np.int64), [None])
    codes["population"], values["population"] = _derive(
        pop_codes, safe, lambda given_pop, t: _number(given_pop if given_pop is not None else official[t]), pop_values)
    words = {}
    for name in ("thematiques", "besoins"):
        found = given.get(name)
        words[name] = [v or () for v in found[1]] if found is not None else [()]
    avis = given.get("avis_dt")
    avis_dt = (np.array([v or "" for v in avis[1]] or [""], dtype=object)[avis[0]] if avis is not None
               else np.full(n, "", dtype=object))
    return FactColumns(codes, values), words, avis_dt


def _derive(a: np.ndarray, b: np.ndarray, combine: Any, a_values: list[Any]) -> tuple[np.ndarray, list[Any]]:
    """A column derived from two: `combine(value of a, code of b)` computed once per distinct pair."""
    width = int(b.max()) + 1 if len(b) else 1
    pairs, inverse = np.unique(a.astype(np.int64) * width + b, return_inverse=True)
    derived, distinct = factorize([combine(a_values[p // width], int(p % width)) for p in pairs.tolist()])
    return derived[inverse.reshape(-1)], distinct


def _number(value: Any) -> Any:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


def _given(value: Any) -> Any:
    return None if value is None or value == () or value == "" else value


def rows_of_demandes(items: Sequence[tuple[Demande, Territoire]], catalogue: Catalogue) -> Rows:
    """Demandes as rows: a demande is a backlog of one."""
    n = len(items)
    demandes = [d for d, _ in items]
    territory, territoires = factorize([t.ref for _, t in items])
    by_ref = {t.ref: t for _, t in items}
    territoires = [by_ref[ref] for ref in territoires]
    given = {name: factorize([_given(getattr(d, name)) for d in demandes])
             for name in (*LIST_FIELDS, "complexite", "saisine", "avis_dt", "montant", "type_porteur", "population")}
    names = sorted({name for d in demandes for name in d.attributs})
    attributes = {name: factorize([d.attributs.get(name) for d in demandes]) for name in names}
    facts, words, avis_dt = fact_columns(catalogue, n, given, territory, territoires, attributes)
    return Rows(territory, territoires, facts, words, avis_dt)


def demande_facts(demande: Demande, territoire: Territoire, catalogue: Catalogue) -> dict[str, Any]:
    """One demande's facts, as the conditions read them."""
    return rows_of_demandes([(demande, territoire)], catalogue).facts.row(0)


__all__ = ["FactColumns", "Rows", "factorize", "fact_columns", "rows_of_demandes", "demande_facts"]
