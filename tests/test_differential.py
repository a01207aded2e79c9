"""The engine against the Python explanation on random catalogues and random demandes.

Each example writes offers' conditions in YAML (every operator, nested tous / un_de / aucun, numbers
with exponents and beyond 64 bits, unicode, dates written three ways, lists and values, booleans, an
attribute used as a list by one offer and as a value by another, many attributes), reads them as the
catalogue loader does, and asks the engine, through the canonical facts the router gives it, about
random demandes read as a demande file or a backlog's cell would be. A catalogue the loader refuses
must be refused with a located message; one it accepts must get from the engine, on every demande,
exactly the offers whose conditions hold in Python, and an explanation exactly for the others.

The examples are the same on every run; AIGUILLAGE_DIFFERENTIEL=N runs N fresh random ones.
"""

from __future__ import annotations

import datetime as dt
import os

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from matcher.conditions import (
    LIST, Canonicalizer, ParseContext, attribute_value, compile_condition, explain, holds, parse_condition,
    with_list_attributes,
)
from matcher.engine import EngineRule, Program
from matcher.errors import CompileError, IssueCollector
from matcher.model import Term, Vocabulary
from matcher.yamlsource import dump, parse

BUDGET = os.environ.get("AIGUILLAGE_DIFFERENTIEL")
VOCABULARIES = {kind: Vocabulary(kind, {w: Term(w, w, None) for w in words}) for kind, words in {
    "thematiques": ["urbanisme", "eau", "habitat"], "besoins": ["conseil", "amo"], "programmes": ["pvd", "acv"],
}.items()}

NUMBERS = [0, 1, -3, 3.0, 12.5, 0.0001, 1e-05, 2.5e-07, -4e-06, 1e20, 1.5e300, 2**70, -(2**65), 999999999999999999]
TEXTS = ["a", "é", "日本", "Ünïcödé ß", "x y", "2024", "caue-16", "😀", "a|b"]
DATES = [dt.date(2024, 1, 1), dt.date(2026, 12, 31), "2024-01-01", "31/12/2026"]
SCALARS = st.sampled_from(NUMBERS + TEXTS + DATES + [True, False])
ATTRIBUTES = [f"attribut-{i}" for i in range(400)] + ["surface_m²", "adhésions", "qpv"]
NAMES = st.one_of(st.sampled_from(ATTRIBUTES[:6] + ATTRIBUTES[-3:]), st.sampled_from(ATTRIBUTES))
# Attributes mostly used as one kind, so that most catalogues are accepted and asked about.
BY_KIND = {"liste": ["l0", "l1"], "nombre": ["n0", "n1"], "texte": ["t0", "t1"], "date": ["d0"], "booléen": ["b0"]}
VALUES = {"liste": st.sampled_from(TEXTS + NUMBERS[:6] + DATES[:2]), "nombre": st.sampled_from(NUMBERS),
          "texte": st.sampled_from(TEXTS), "date": st.sampled_from(DATES), "booléen": st.booleans()}


def _typed_leaf(kind: str):
    name, value = st.sampled_from(BY_KIND[kind]), VALUES[kind]
    values = st.lists(value, min_size=1, max_size=3, unique_by=repr)
    if kind == "liste":
        return st.one_of(st.builds(lambda a, v: {a: {"contient": v}}, name, value),
                         st.builds(lambda a, v: {a: {"contient_un_de": v}}, name, values),
                         st.builds(lambda a, v: {a: {"existe": v}}, name, st.booleans()))
    leaves = [st.builds(lambda a, v: {a: v}, name, value), st.builds(lambda a, v: {a: {"pas": v}}, name, value),
              st.builds(lambda a, v: {a: {"existe": v}}, name, st.booleans())]
    if kind != "booléen":
        leaves += [st.builds(lambda a, v: {a: v}, name, values), st.builds(lambda a, v: {a: {"hors": v}}, name, values)]
    if kind == "nombre":
        leaves += [st.builds(lambda a, v: {a: {"min": v}}, name, value), st.builds(lambda a, v: {a: {"max": v}}, name, value)]
    return st.one_of(*leaves)


def _attribute_leaf():
    """Any operator on any attribute with any value: mixed uses, refused when their kinds differ."""
    number = st.sampled_from(NUMBERS)
    values = st.lists(SCALARS, min_size=1, max_size=3, unique_by=repr)
    return st.one_of(
        st.builds(lambda a, v: {a: v}, NAMES, SCALARS),
        st.builds(lambda a, v: {a: v}, NAMES, values),
        st.builds(lambda a, v: {a: {"pas": v}}, NAMES, SCALARS),
        st.builds(lambda a, v: {a: {"hors": v}}, NAMES, values),
        st.builds(lambda a, v: {a: {"min": v}}, NAMES, number),
        st.builds(lambda a, v: {a: {"max": v}}, NAMES, number),
        st.builds(lambda a, lo, hi: {a: {"min": min(lo, hi), "max": max(lo, hi)}}, NAMES, number, number),
        st.builds(lambda a, v: {a: {"contient": v}}, NAMES, SCALARS),
        st.builds(lambda a, v: {a: {"contient_un_de": v}}, NAMES, values),
        st.builds(lambda a, v: {a: {"existe": v}}, NAMES, st.booleans()),
    )


def _field_leaf():
    return st.one_of(
        st.builds(lambda v: {"population": {"max": v}}, st.sampled_from(NUMBERS)),
        st.builds(lambda v: {"population": {"min": v}}, st.sampled_from(NUMBERS)),
        st.builds(lambda v: {"montant": {"existe": v}}, st.booleans()),
        st.builds(lambda v: {"porteur": v}, st.sampled_from(["commune", "epci"])),
        st.builds(lambda v: {"porteur": {"hors": v}}, st.lists(st.sampled_from(["commune", "epci", "region"]),
                                                               min_size=1, max_size=2, unique=True)),
        st.builds(lambda v: {"zone": {"pas": v}}, st.sampled_from(["metro", "drom"])),
        st.builds(lambda v: {"thematiques": v}, st.lists(st.sampled_from(["urbanisme", "eau", "habitat"]),
                                                         min_size=1, max_size=2, unique=True)),
        st.builds(lambda v: {"programmes": {"contient": v}}, st.sampled_from(["pvd", "acv"])),
        st.builds(lambda v: {"programmes": {"existe": v}}, st.booleans()),
        st.builds(lambda v: {"programmes": {"hors": v}}, st.lists(st.sampled_from(["pvd", "acv"]), min_size=1,
                                                                  unique=True)),
    )


CONDITIONS = st.recursive(
    st.one_of(*(_typed_leaf(kind) for kind in BY_KIND), _field_leaf(), _attribute_leaf()),
    lambda inner: st.builds(lambda key, items: {key: items}, st.sampled_from(["tous", "un_de", "aucun"]),
                            st.lists(inner, min_size=1, max_size=3)),
    max_leaves=8,
)

# What a demande gives for an attribute: a value as a YAML or JSON file writes it, or a cell's text.
RAW = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.builds(lambda v: str(v).replace(".", ","), st.sampled_from(NUMBERS)),
    st.builds(lambda items: "|".join(map(str, items)), st.lists(st.sampled_from(TEXTS + ["2024-01-01"]), max_size=3)),
    st.sampled_from(["", "oui", "non", "1e-05", "01/01/2024", "NaN", "inf"]),
)
DEMANDES = st.lists(st.fixed_dictionaries({}, optional={
    "population": st.sampled_from(NUMBERS),
    "montant": st.integers(0, 10**7),
    "porteur": st.sampled_from(["commune", "epci", "departement", "region"]),
    "zone": st.sampled_from(["metro", "drom", "com"]),
    "thematiques": st.lists(st.sampled_from(["urbanisme", "eau", "habitat"]), max_size=2, unique=True),
    "programmes": st.lists(st.sampled_from(["pvd", "acv"]), max_size=2, unique=True),
    "attributs": st.dictionaries(st.one_of(st.sampled_from([n for names in BY_KIND.values() for n in names]), NAMES),
                                 RAW, max_size=8),
}), min_size=1, max_size=8)


def _load(conditions: list[dict]) -> tuple[list, dict[str, str], IssueCollector]:
    """The offers' conditions read as `load_catalogue` reads them: one table of attribute kinds for all."""
    doc = parse(dump({"offres": [{"conditions": c} for c in conditions]}), "offres.yaml")
    issues = IssueCollector()
    kinds: dict = {}
    parsed = []
    for i, data in enumerate(doc.data["offres"]):
        ctx = ParseContext(doc, issues, VOCABULARIES, attribute_types=kinds)
        parsed.append(parse_condition(data["conditions"], ("offres", i, "conditions"), ctx))
    listed = [name for name, (kind, _) in kinds.items() if kind == LIST]
    return [with_list_attributes(c, listed) for c in parsed], {n: k for n, (k, _) in kinds.items()}, issues


def _facts(demande: dict, kinds: dict[str, str]) -> dict:
    """A demande's facts as the router builds them; an attribute the product would refuse is left out."""
    facts = {k: tuple(v) if isinstance(v, list) else v for k, v in demande.items() if k != "attributs"}
    for name, raw in demande.get("attributs", {}).items():
        try:
            value = attribute_value(kinds.get(name), raw)
        except ValueError:
            continue
        if value is not None:
            facts[name] = ("true" if value else "false") if isinstance(value, bool) else value
    return facts


@settings(max_examples=int(BUDGET or 120), derandomize=BUDGET is None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(conditions=st.lists(CONDITIONS, min_size=1, max_size=6), demandes=DEMANDES)
# Classes of input each once found wrong: `existe` read before the list use of its attribute; a
# threshold whose neighbour rounds onto it; thresholds and values with exponents; a list and a value;
# dates written three ways; unicode and integers beyond 64 bits.
@example([{"l0": {"existe": True}}, {"l0": {"contient": "a"}}, {"l0": {"existe": False}}],
         [{}, {"attributs": {"l0": []}}, {"attributs": {"l0": "a|b"}}, {"attributs": {"l0": ["b"]}}])
@example([{"n0": 0}, {"population": {"min": 1e20}}, {"population": {"max": -1e20}}],
         [{"population": 0}, {"population": 2e20}, {"population": -3e20}])
@example([{"n0": {"max": 0.0001}}, {"n0": {"min": 1e-05}}, {"n1": [1e-05, 2.5e-07]}],
         [{"attributs": {"n0": 5e-05, "n1": "0,00001"}}, {"attributs": {"n0": "1e-5", "n1": 2.5e-07}},
          {"attributs": {"n0": 0.0002}}, {"attributs": {"n0": "9e-06"}}])
@example([{"l0": {"contient": "a"}}, {"l0": "a"}], [{}])
@example([{"d0": dt.date(2024, 1, 1)}, {"d0": {"pas": "31/12/2026"}}],
         [{"attributs": {"d0": "2024-01-01"}}, {"attributs": {"d0": "01/01/2024"}}, {"attributs": {"d0": dt.date(2024, 1, 1)}},
          {"attributs": {"d0": "2026-12-31"}}, {}])
@example([{"t0": "日本"}, {"n1": [2**70, -(2**65)]}, {"aucun": [{"t1": {"hors": ["😀", "a|b"]}}]}],
         [{"attributs": {"t0": "日本", "n1": 2**70, "t1": "a|b"}}, {"attributs": {"n1": -(2**65) - 1, "t1": "x"}}])
def test_engine_and_explanation_agree_on_random_catalogues(conditions, demandes):
    parsed, kinds, issues = _load(conditions)
    if issues.errors:  # a refusal is a right answer when it is located and says why
        assert all(e.location is not None and e.location.line for e in issues.errors)
        assert all("comparé à" in e.message or "fini" in e.message or "une date" in e.message
                   for e in issues.errors), [e.message for e in issues.errors]
        return
    canon = Canonicalizer(parsed)
    try:
        program = Program([EngineRule(f"offre-{i}", compile_condition(c)) for i, c in enumerate(parsed)])
    except CompileError as exc:  # a guard's refusal, never the engine's
        assert "moteur refuse" not in exc.message, exc.message
        return
    facts = [_facts(d, kinds) for d in demandes]
    answers = program.matches([canon.as_fact(canon.canonical(f)) for f in facts])
    for f, matched in zip(facts, answers):
        expected = {f"offre-{i}" for i, c in enumerate(parsed) if holds(c, f)}
        assert matched == expected, (f, conditions)
        for i, c in enumerate(parsed):
            assert (explain(c, f) == []) == (f"offre-{i}" in matched)
