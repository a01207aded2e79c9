"""Can a condition hold? A small, conservative solver over the condition language.

A condition is put in disjunctive normal form (bounded: beyond `MAX_TERMS` the answer is
"unknown"); each conjunction of tests is then either shown impossible, with the tests that
contradict each other, or satisfied by a witness — a demande's facts, built field by field and
checked again with `conditions.holds`, so that a finding never rests on the solver alone.

What the solver knows of the facts a demande always has (`demande_facts`): `thematiques` and
`besoins` are never empty and hold the ancestors of their words; `complexite`, `saisine`,
`porteur`, `departement`, `region` and `zone` are always given, from closed lists for the enums.
It knows nothing else (which départements lie in which region, for instance): "impossible"
is only said when it is certain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from ..conditions import FIELDS, AllOf, AnyOf, Condition, NoneOf, Test, describe, holds, negate
from ..errors import Location
from ..model import Vocabulary

MAX_TERMS = 512
ALWAYS_GIVEN = frozenset({"thematiques", "besoins", "complexite", "saisine", "porteur", "departement", "region",
                          "zone", "niveau", "offre"})
NEVER_EMPTY = frozenset({"thematiques", "besoins"})


class TooComplex(Exception):
    """The disjunctive normal form would exceed `MAX_TERMS`: no answer."""


def terms(cond: Condition | None) -> list[tuple[Test, ...]]:
    """The condition as an OR of ANDs of tests (no NoneOf left); raises TooComplex."""
    if cond is None:
        return [()]
    if isinstance(cond, Test):
        return [(cond,)]
    if isinstance(cond, NoneOf):
        return terms(AllOf(tuple(negate(c) for c in cond.children), cond.location))
    if isinstance(cond, AnyOf):
        found = [t for child in cond.children for t in terms(child)]
        if len(found) > MAX_TERMS:
            raise TooComplex
        return found
    result: list[tuple[Test, ...]] = [()]
    for child in cond.children:
        child_terms = terms(child)
        if len(result) * len(child_terms) > MAX_TERMS:
            raise TooComplex
        result = [a + b for a, b in product(result, child_terms)]
    return result


@dataclass
class Contradiction:
    """Why a conjunction cannot hold: a French reason and the tests involved."""

    reason: str
    tests: tuple[Test, ...]

    @property
    def locations(self) -> tuple[Location, ...]:
        return tuple(dict.fromkeys(t.location for t in self.tests if t.location is not None))


@dataclass
class Answer:
    """`witness` when the condition can hold; else `contradictions` (one per term) when it cannot;
    neither when the solver cannot tell."""

    witness: dict[str, Any] | None = None
    contradictions: list[Contradiction] = field(default_factory=list)

    @property
    def impossible(self) -> bool:
        return self.witness is None and bool(self.contradictions)

    @property
    def possible(self) -> bool:
        return self.witness is not None


class Solver:
    """Decides, when it can, whether conditions can hold together, on the facts of real demandes."""

    def __init__(self, vocabularies: dict[str, Vocabulary]):
        self.vocabularies = vocabularies

    def solve(self, cond: Condition | None) -> Answer:
        try:
            all_terms = terms(cond)
        except TooComplex:
            return Answer()
        contradictions = []
        for term in all_terms:
            result = self._term(term)
            if isinstance(result, Contradiction):
                contradictions.append(result)
                continue
            if result is not None and holds(cond, result):
                return Answer(witness=result)
            return Answer()  # a witness the evaluation does not confirm: no answer rather than a wrong one
        return Answer(contradictions=contradictions)

    def minimal_cover(self, base: Condition | None, rules: list, condition_of) -> list:
        """The fewest of `rules` (greedily) whose conditions, negated together with `base`, stay
        impossible: the rules that really make `base` never hold on its own."""
        kept = list(rules)
        for rule in list(rules):
            trial = [r for r in kept if r is not rule]
            if trial and self.both(base, *(negate(condition_of(r)) for r in trial)).impossible:
                kept = trial
        return kept

    def both(self, *conds: Condition | None) -> Answer:
        present = tuple(c for c in conds if c is not None)
        return self.solve(AllOf(present) if present else None)

    # ------------------------------------------------------------------ one conjunction

    def _term(self, term: tuple[Test, ...]) -> dict[str, Any] | Contradiction | None:
        by_field: dict[str, list[Test]] = {}
        for test in term:
            by_field.setdefault(test.field, []).append(test)
        facts: dict[str, Any] = {}
        for name in sorted(set(by_field) | (NEVER_EMPTY | {"complexite", "saisine", "porteur", "zone"})):
            tests = by_field.get(name, [])
            is_list = name in NEVER_EMPTY or (FIELDS.get(name) and FIELDS[name].kind == "list") or any(
                t.is_list for t in tests)
            outcome = self._list(name, tests) if is_list else self._scalar(name, tests)
            if isinstance(outcome, Contradiction) or outcome is None:
                return outcome
            if outcome is not _MISSING:
                facts[name] = outcome[0]
        for name in ("departement", "region"):
            facts.setdefault(name, "~autre")
        return facts

    def _scalar(self, name: str, tests: list[Test]) -> tuple | object | Contradiction | None:
        spec = FIELDS.get(name)
        choices = spec.choices if spec is not None and spec.kind == "enum" else None
        always = name in ALWAYS_GIVEN
        must, must_not = [t for t in tests if t.op in _NEEDS_VALUE], [t for t in tests if t.op == "not_exists"]
        if must_not:
            if must:
                return Contradiction(f"{describe(must[0])} et {describe(must_not[0])}", (must[0], must_not[0]))
            if always:
                return Contradiction(f"{describe(must_not[0])} : ce champ est toujours renseigné", (must_not[0],))
            return _MISSING
        if not must and not always:
            return _MISSING  # missing satisfies every negative test
        allowed: set | None = set(choices) if choices else None
        lo, hi = -math.inf, math.inf
        lo_strict = hi_strict = False
        numeric: list[Test] = []
        for t in tests:
            values = set(t.value) if isinstance(t.value, tuple) else {t.value}
            if t.op in ("eq", "in"):
                allowed = values if allowed is None else allowed & values
            elif t.op in ("ne", "not_in"):
                allowed = allowed - values if allowed is not None else None
            elif t.op in ("min", "above"):
                numeric.append(t)
                if t.value > lo or (t.value == lo and t.op == "above"):
                    lo, lo_strict = t.value, t.op == "above"
            elif t.op in ("max", "below"):
                numeric.append(t)
                if t.value < hi or (t.value == hi and t.op == "below"):
                    hi, hi_strict = t.value, t.op == "below"
        excluded = {v for t in tests if t.op in ("ne", "not_in")
                    for v in (t.value if isinstance(t.value, tuple) else (t.value,))}
        if lo > hi or (lo == hi and (lo_strict or hi_strict)):
            tight = [t for t in numeric if t.value in (lo, hi)]
            return Contradiction(" et ".join(describe(t) for t in tight) + " : aucun nombre ne convient", tuple(tight))
        if allowed is not None:
            ordered = [c for c in choices if c in allowed] if choices else sorted(allowed, key=str)
            candidates = [v for v in ordered if _in_range(v, lo, hi, lo_strict, hi_strict, numeric)]
            if not candidates:
                involved = tuple(t for t in tests if t.op in ("eq", "in", "ne", "not_in") or t in numeric)
                written = [set(t.value) if isinstance(t.value, tuple) else {t.value} for t in tests if t.op in ("eq", "in")]
                by_domain = choices and (not written or set.intersection(*written) - excluded)
                domain = f" ({_label(name)} ne peut valoir que {', '.join(choices)})" if by_domain else ""
                return Contradiction(" et ".join(describe(t) for t in involved) + f" : aucune valeur ne convient{domain}",
                                     involved)
            return (candidates[0],)
        if numeric:
            value = _pick_number(lo, hi, lo_strict, hi_strict, excluded)
            return None if value is None else (value,)
        fresh = "~valeur"
        return (fresh,)

    def _list(self, name: str, tests: list[Test]) -> tuple | object | Contradiction | None:
        vocabulary = self.vocabularies.get(FIELDS[name].vocabulary or "") if name in FIELDS else None

        def implied(word: str) -> tuple[str, ...]:
            return (word, *vocabulary.ancestors(word)) if vocabulary else (word,)

        excluded: dict[str, Test] = {}
        for t in tests:
            if t.op in ("not_contains", "contains_none"):
                for v in t.value if isinstance(t.value, tuple) else (t.value,):
                    excluded.setdefault(v, t)
        empty = [t for t in tests if t.op == "not_exists"]
        wants = [t for t in tests if t.op in ("contains", "contains_any", "exists")]
        if empty:
            if wants:
                return Contradiction(f"{describe(wants[0])} et {describe(empty[0])}", (wants[0], empty[0]))
            if name in NEVER_EMPTY:
                return Contradiction(f"{describe(empty[0])} : une demande en a toujours au moins un", (empty[0],))
            return ((),)
        chosen: list[str] = []
        for t in wants:
            if t.op == "exists":
                continue
            options = t.value if isinstance(t.value, tuple) else (t.value,)
            usable = [w for w in options if not any(a in excluded for a in implied(w))]
            if not usable:
                blockers = tuple(dict.fromkeys(excluded[a] for w in options for a in implied(w) if a in excluded))
                via = ""
                if vocabulary and any(a != w and a in excluded for w in options for a in implied(w)):
                    via = " (un mot implique ses mots parents)"
                return Contradiction(f"{describe(t)} et " + " et ".join(describe(b) for b in blockers)
                                     + f" : aucune valeur ne convient{via}", (t, *blockers))
            if not any(w in chosen for w in usable):
                chosen.append(usable[0])
        if not chosen and (name in NEVER_EMPTY or wants):
            pool = list(vocabulary.terms) if vocabulary else ["~autre"]
            usable = [w for w in pool if not any(a in excluded for a in implied(w))]
            if not usable:
                return Contradiction(f"{_label(name)} : tous les mots sont exclus", tuple(dict.fromkeys(excluded.values())))
            chosen.append(usable[0])
        words: dict[str, None] = {}
        for w in chosen:
            for a in implied(w):
                words.setdefault(a, None)
        return (tuple(words),)


_MISSING = object()
_NEEDS_VALUE = ("eq", "in", "min", "max", "exists")


def _label(name: str) -> str:
    spec = FIELDS.get(name)
    return spec.label if spec else f"attribut « {name} »"


def _in_range(v: Any, lo: float, hi: float, lo_strict: bool, hi_strict: bool, numeric: list[Test]) -> bool:
    if not numeric:
        return True
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    return (v > lo if lo_strict else v >= lo) and (v < hi if hi_strict else v <= hi)


def _pick_number(lo: float, hi: float, lo_strict: bool, hi_strict: bool, excluded: set) -> float | None:
    candidates = []
    if math.isfinite(lo):
        candidates += [lo + (1 if lo_strict else 0), lo + 0.5]
    if math.isfinite(hi):
        candidates += [hi - (1 if hi_strict else 0), hi - 0.5]
    if math.isfinite(lo) and math.isfinite(hi):
        candidates.append((lo + hi) / 2)
    candidates.append(0)
    for v in candidates:
        if v in excluded:
            continue
        if (v > lo if lo_strict else v >= lo) and (v < hi if hi_strict else v <= hi):
            return v
    return None


def describe_facts(facts: dict[str, Any], fields: set[str] | None = None) -> str:
    """A witness in French, limited to the fields that matter (`fields`)."""
    parts = []
    for name, value in facts.items():
        if fields is not None and name not in fields:
            continue
        if isinstance(value, str) and value.startswith("~"):
            continue
        if isinstance(value, tuple):
            value = ", ".join(v for v in value if not v.startswith("~"))
            if not value:
                continue
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        parts.append(f"{_label(name)} = {value}")
    return ", ".join(parts)


__all__ = ["Solver", "Answer", "Contradiction", "terms", "describe_facts", "TooComplex"]
