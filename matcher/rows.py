"""Demandes as the decider reads them: one column per fact, a code per row into its distinct values.

A backlog gives its columns already encoded (each distinct cell checked once); a single demande,
or the few of `rules test`, is a backlog of one or a few rows built here from `Demande` objects.
Either way the facts are derived from the given fields in one place (`fact_columns`): a word
implies its ancestors (friches → urbanisme), the porteur's nature defaults to its territory's
kind, the population to the territory's official figure, the territory's codes are facts too.
numpy only: `route` does not pay for pandas or Arrow.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .conditions import MEMBERSHIP, fmt_number
from .model import Catalogue, Demande, ProgrammeCheck, Territoire

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
    programme_checks: list[tuple[ProgrammeCheck, ...]] = field(default_factory=lambda: [()])
    programme_check: np.ndarray | None = None  # per row: index into `programme_checks`
    memberships_presumed: np.ndarray | None = None  # per row: its adhesions were not declared, but presumed

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


def combine(keys: np.ndarray, column: np.ndarray) -> np.ndarray:
    """Fold one more column of codes into a row key (refactorizing keeps it small)."""
    size = int(column.max()) + 1 if column.size else 1
    if keys.size and (int(keys.max()) + 1) * size >= 2**62:
        keys = group_ids(keys)
    combined = keys * size
    combined += column.astype(np.int64, copy=False)  # in place: no third array of a million keys
    return combined


def group_ids(keys: np.ndarray) -> np.ndarray:
    """Per row the id of its key, ids numbered in order of first appearance.

    Arrow's hash table when a backlog has brought Arrow in; numpy's sort otherwise (`route`
    does not import Arrow for one row). Both give the same ids."""
    pc = sys.modules.get("pyarrow.compute")
    if pc is not None and len(keys):
        from . import arrow  # Arrow is loaded already

        return arrow.numbers(pc.dictionary_encode(arrow.integers(keys)).indices, np.int64)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return inverse_permutation(np.argsort(first, kind="stable"))[inverse.reshape(-1)]


def group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row the id of its key (`group_ids`), and per id its first row."""
    ids = group_ids(keys)
    # Each id written at its rows from the last to the first: the first row's write comes last.
    # Read backwards in place (a view), the ids need no reordered copy.
    first = np.empty(int(ids.max()) + 1 if len(ids) else 0, dtype=np.int64)
    first[ids[::-1]] = np.arange(len(ids) - 1, -1, -1)
    return ids, first


def inverse_permutation(order: np.ndarray) -> np.ndarray:
    """Per item, its rank in `order` (a permutation of 0…n-1): where `order` puts it."""
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions `starts[i]`, …, `starts[i] + lengths[i] - 1` of every i, one after the other: many
    slices of one array gathered at once, without a loop over them."""
    ends = np.cumsum(lengths)
    return np.repeat(starts - (ends - lengths), lengths) + np.arange(ends[-1] if len(ends) else 0)


def positions_by_value(codes: np.ndarray, count: int) -> list[np.ndarray]:
    """For each value 0…count-1 of small non-negative codes, the positions that hold it, in order:
    one stable sort (numpy sorts 16-bit integers by radix) and the counts, not a scan per value."""
    narrow = codes.astype(np.int16) if count < 2**15 else codes
    order = np.argsort(narrow, kind="stable")
    ends = np.cumsum(np.bincount(codes, minlength=count)[:count]) if len(codes) else np.zeros(count, np.int64)
    return [order[start:end] for start, end in zip(np.concatenate([[0], ends[:-1]]).tolist(), ends.tolist())]


def codes_present(codes: np.ndarray, count: int) -> list[int]:
    """The distinct codes (each one of 0…count-1) among many, in increasing order: counted by numpy,
    not gathered into a Python set (a million rows' codes are a few thousand values)."""
    return np.flatnonzero(np.bincount(codes, minlength=count)).tolist()


def sorted_distinct(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys in increasing order, and per key the index of its own among them (`np.unique`
    with `return_inverse`), found by hashing: only the distinct keys are sorted, not every row's."""
    ids, first = group(keys)
    distinct = keys[first]
    order = np.argsort(distinct, kind="stable")
    return distinct[order], inverse_permutation(order)[ids]


def fact_columns(
    catalogue: Catalogue,
    n: int,
    given: dict[str, tuple[np.ndarray, list[Any]]],
    territory: np.ndarray,
    territoires: list[Territoire | None],
    attributes: dict[str, tuple[np.ndarray, list[Any]]],
) -> Rows:
    """The rows' facts from the fields they give (per field: codes, distinct values; None is blank),
    their territories (per row an index into `territoires`, -1 for none) and attributes; with the
    thematiques/besoins as written, each row's avis du DT and the check of its programmes."""
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

    for name in ("thematiques", "besoins"):
        field(name, voc[name].with_ancestors, ())
    field("complexite", default=DEFAULTS["complexite"])
    field("saisine", default=DEFAULTS["saisine"])
    field("avis_dt")
    field("montant")
    attributes, presumed = _presume_memberships(catalogue, n, attributes)
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
    # Programmes are facts about the porteur: one it cannot belong to is not a fact the decision reads.
    declared_codes, declared = given.get("programmes") or (np.zeros(n, dtype=np.int64), [None])
    key = np.where(declared_codes == _blank_code(declared), -1,
                   ((declared_codes * (len(territoires) + 1) + safe) * len(values["population"])
                    + codes["population"]) * len(values["porteur"]) + codes["porteur"])
    distinct, inverse = sorted_distinct(key)
    checks, effective = [()], [()]
    sizes = (len(values["porteur"]), len(values["population"]), len(territoires) + 1)
    for k in distinct.tolist():
        if k < 0:
            continue
        k, porteur = divmod(k, sizes[0])
        k, population = divmod(k, sizes[1])
        programmes, t = divmod(k, sizes[2])
        found = check_programmes(catalogue, declared[programmes] or (), territoires[t],
                                 values["population"][population], values["porteur"][porteur])
        checks.append(found)
        effective.append(tuple(c.programme for c in found if c.adhesion != "impossible"))
    slot = inverse + (0 if len(distinct) and distinct[0] < 0 else 1)  # 0: no programme declared
    codes["programmes"], values["programmes"] = _derive(
        slot, np.zeros(n, dtype=np.int64), lambda words, _: voc["programmes"].with_ancestors(words), effective)
    return Rows(territory, territoires, FactColumns(codes, values), words, avis_dt, checks, slot, presumed)


def _presume_memberships(catalogue: Catalogue, n: int, attributes: dict[str, tuple[np.ndarray, list[Any]]]
                         ) -> tuple[dict[str, tuple[np.ndarray, list[Any]]], np.ndarray]:
    """A row that does not declare its adhesions is presumed a member of every structure that reserves
    an offer to its members: the DT would not send a commune national because nobody wrote down that
    it adheres to its agence technique; the decision then says the membership is to be checked. An
    empty declaration (`adhesions: []`) is a declaration: the porteur adheres to nothing."""
    structures = catalogue.memberships
    if not structures:
        return attributes, np.zeros(n, dtype=bool)
    codes, distinct = attributes.get(MEMBERSHIP) or (np.zeros(n, dtype=np.int64), [None])
    presumed = np.isin(codes, [i for i, v in enumerate(distinct) if v is None])
    return {**attributes, MEMBERSHIP: (codes, [list(structures) if v is None else v for v in distinct])}, presumed


def _blank_code(distinct: list[Any]) -> int:
    """The code of a blank cell among distinct values (-2 when there is none)."""
    return next((i for i, v in enumerate(distinct) if not v), -2)


def check_programmes(catalogue: Catalogue, declared: tuple[str, ...], territoire: Territoire | None,
                     population: Any, porteur: str | None) -> tuple[ProgrammeCheck, ...]:
    """Each programme a demande declares, against who can belong to it (declared once in the
    vocabulary): on the public member list (verifiee), within the bounds without a public list
    (non_verifiee), or out of them (impossible: the demande is not routed on it)."""
    result = []
    for word in declared:
        rule = catalogue.programmes.get(word)
        label = catalogue.vocabularies["programmes"].label(word)
        if rule is None:
            result.append(ProgrammeCheck(word, "non_verifiee", f"{label} : aucune condition d'adhésion publiée, "
                                                              "adhésion déclarée non vérifiée"))
            continue
        why_not = []
        if rule.porteurs and porteur not in rule.porteurs:
            why_not.append(f"le programme s'adresse aux porteurs {', '.join(rule.porteurs)}, pas {porteur}")
        # The bounds are a commune's (« communes de moins de 20 000 habitants »): an EPCI that carries
        # the project of a member commune is not held to them.
        counted = population if porteur == "commune" else None
        if counted is not None and rule.population_max is not None and counted > rule.population_max:
            why_not.append(f"population {fmt_number(counted)} > {fmt_number(rule.population_max)}")
        if counted is not None and rule.population_min is not None and counted < rule.population_min:
            why_not.append(f"population {fmt_number(counted)} < {fmt_number(rule.population_min)}")
        if not why_not and rule.membres is not None:
            member = territoire is not None and bool(rule.membres & territoire.containers)
            if member:
                result.append(ProgrammeCheck(word, "verifiee", f"{label} : sur la liste publique des membres"))
                continue
            why_not.append("absent de la liste publique des membres")
        if why_not:
            result.append(ProgrammeCheck(word, "impossible", f"{label} : {' ; '.join(why_not)} — le porteur ne "
                                                            "peut pas en être, la demande n'est pas orientée sur ce programme"))
        else:
            bounds = [f"population ≤ {fmt_number(rule.population_max)}" if counted and rule.population_max else "",
                      f"population ≥ {fmt_number(rule.population_min)}" if counted and rule.population_min else ""]
            held = ", ".join(b for b in bounds if b)
            result.append(ProgrammeCheck(word, "non_verifiee", f"{label} : conditions remplies"
                                         + (f" ({held})" if held else "") + " ; pas de liste publique des membres, "
                                         "adhésion déclarée non vérifiée"))
    return tuple(result)


def _derive(a: np.ndarray, b: np.ndarray, make: Any, a_values: list[Any]) -> tuple[np.ndarray, list[Any]]:
    """A column derived from two: `make(value of a, code of b)` computed once per distinct pair."""
    width = int(b.max()) + 1 if len(b) else 1
    pairs, inverse = sorted_distinct(a.astype(np.int64) * width + b)
    derived, distinct = factorize([make(a_values[p // width], int(p % width)) for p in pairs.tolist()])
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
    return fact_columns(catalogue, n, given, territory, territoires, attributes)


def demande_facts(demande: Demande, territoire: Territoire, catalogue: Catalogue) -> dict[str, Any]:
    """One demande's facts, as the conditions read them."""
    return rows_of_demandes([(demande, territoire)], catalogue).facts.row(0)


__all__ = ["FactColumns", "Rows", "factorize", "combine", "group", "group_ids", "codes_present",
           "sorted_distinct", "positions_by_value", "inverse_permutation", "ranges", "fact_columns",
           "check_programmes", "rows_of_demandes", "demande_facts"]
