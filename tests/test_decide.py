"""Subsidiarity decisions: explanations agree with the engine, and the properties users rely on."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, TODAY
from matcher.conditions import ParseContext, holds, parse_condition
from matcher.decide import Router, Walk, demande_facts, offer_condition
from matcher.engine import EngineRule, Program
from matcher.conditions import compile_condition, Canonicalizer
from matcher.errors import IssueCollector
from matcher.model import LEVEL_INDEX
from matcher.rows import rows_of_demandes
from matcher.workspace import load_workspace
from matcher.yamlsource import dump, parse

MINI = FIXTURES / "ok" / "mini-catalogue"
MINI_RULES = FIXTURES / "ok" / "mini-rules"

# Real territories of every kind: pilots, islands, Lyon, Paris, Corse, DROM, COM, EPCI, départements.
PORTEURS = [
    "16015", "16089", "77288", "77001", "11069", "11001", "69123", "69381", "69264", "29019", "29155", "29083",
    "commune:97411", "commune:97418", "75056", "75112", "2A004", "97209", "97611", "commune:98735", "commune:01340", "200046977", "200071827",
    "200006682", "departement:16", "departement:974", "region:84", "13201",
]

# ----------------------------------------------------------------- random conditions vs the engine

FIELDS_STRATEGY = {
    "population": st.integers(0, 60000),
    "montant": st.integers(0, 2_000_000),
    "porteur": st.sampled_from(["commune", "epci", "departement", "region", "autre"]),
    "zone": st.sampled_from(["metro", "drom", "com"]),
    "departement": st.sampled_from(["16", "29", "69", "974"]),
    "programmes": st.lists(st.sampled_from(["pvd", "acv"]), max_size=2, unique=True),
    "qpv": st.booleans(),
}


def _leaf():
    number = st.integers(0, 60000)
    return st.one_of(
        st.builds(lambda v: {"population": {"max": v}}, number),
        st.builds(lambda a, b: {"population": {"min": min(a, b), "max": max(a, b)}}, number, number),
        st.builds(lambda v: {"montant": {"min": v}}, st.integers(0, 2_000_000)),
        st.builds(lambda v: {"montant": {"existe": v}}, st.booleans()),
        st.builds(lambda v: {"porteur": v}, st.sampled_from(["commune", "epci"])),
        st.builds(lambda v: {"porteur": {"hors": v}}, st.lists(st.sampled_from(["commune", "epci", "region"]),
                                                               min_size=1, max_size=2, unique=True)),
        st.builds(lambda v: {"zone": {"pas": v}}, st.sampled_from(["metro", "drom"])),
        st.builds(lambda v: {"departement": v}, st.lists(st.sampled_from(["16", "29", "69"]), min_size=1, max_size=3,
                                                         unique=True)),
        st.builds(lambda v: {"programmes": {"contient": v}}, st.sampled_from(["pvd", "acv"])),
        st.builds(lambda v: {"programmes": {"existe": v}}, st.booleans()),
        st.builds(lambda v: {"programmes": {"hors": v}}, st.lists(st.sampled_from(["pvd", "acv"]), min_size=1,
                                                                  unique=True)),
        st.builds(lambda v: {"qpv": v}, st.booleans()),
    )


CONDITIONS = st.recursive(
    _leaf(),
    lambda inner: st.builds(
        lambda key, items: {key: items},
        st.sampled_from(["tous", "un_de", "aucun"]),
        st.lists(inner, min_size=1, max_size=3),
    ),
    max_leaves=6,
)


def _parse(data: dict):
    doc = parse(dump({"c": data}), "c.yaml")
    return parse_condition(doc.data["c"], ("c",), ParseContext(doc, IssueCollector(stop_at_first=True), {},
                                                               attribute_types={}))


@settings(max_examples=150, deadline=None)
@given(conditions=st.lists(CONDITIONS, min_size=1, max_size=4), facts=st.lists(
    st.fixed_dictionaries({}, optional=FIELDS_STRATEGY), min_size=1, max_size=6))
def test_engine_and_explanation_agree_on_random_conditions(conditions, facts):
    parsed = [_parse(c) for c in conditions]
    facts = [{k: (("true" if v else "false") if isinstance(v, bool) else tuple(v) if isinstance(v, list) else v)
              for k, v in f.items()} for f in facts]
    canon = Canonicalizer(parsed)
    program = Program([EngineRule(f"c{i}", compile_condition(c)) for i, c in enumerate(parsed)])
    engine = program.matches([canon.as_fact(canon.canonical(f)) for f in facts])
    for f, matched in zip(facts, engine):
        assert matched == {f"c{i}" for i, c in enumerate(parsed) if holds(c, f)}, f


# ----------------------------------------------------------------- the shipped catalogue


@pytest.fixture(scope="module")
def shipped():
    ws = load_workspace(today=TODAY)
    return ws, ws.router()


def demande_strategy(ws):
    voc = ws.catalogue.vocabularies
    return st.fixed_dictionaries(
        {
            "porteur": st.sampled_from(PORTEURS),
            "thematiques": st.lists(st.sampled_from(sorted(voc["thematiques"].terms)), min_size=1, max_size=2,
                                    unique=True),
            "besoins": st.lists(st.sampled_from(sorted(voc["besoins"].terms)), min_size=1, max_size=2, unique=True),
        },
        optional={
            "programmes": st.lists(st.sampled_from(sorted(voc["programmes"].terms)), max_size=2, unique=True),
            "complexite": st.sampled_from(["simple", "complexe"]),
            "saisine": st.sampled_from(["dt", "directe"]),
            "population": st.integers(0, 600_000),
            "montant": st.integers(0, 5_000_000),
            "avis_dt": st.sampled_from(["favorable", "defavorable", "en_attente"]),
            "type_porteur": st.sampled_from(["commune", "epci", "autre"]),
        },
    )


def test_engine_and_explanation_agree_on_random_demandes(shipped):
    ws, router = shipped
    offers = [o for o in ws.catalogue.offres if not o.repli]

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.lists(demande_strategy(ws), min_size=1, max_size=8))
    def check(data):
        items = [ws.prepare(d) for d in data]
        facts = [demande_facts(d, t, ws.catalogue) for d, t in items]
        # The engine as the decider asks it: every offer about every row of the backlog.
        walk = Walk(router, rows_of_demandes(items, ws.catalogue), TODAY)
        said = walk.capable(offers * len(items), np.repeat(np.arange(len(items)), len(offers)))
        for i, f in enumerate(facts):
            engine_says = set().union(*said[i * len(offers):(i + 1) * len(offers)])
            python_says = {o.id for o in offers if holds(offer_condition(o), f)}
            assert engine_says == python_says
        for decision in router.route_many(items, TODAY):  # explanations are checked against the engine inside
            rejected = [o for e in decision.examen for o in e.offres]
            assert all(o.raisons for o in rejected)
            assert decision.examen[-1].statut == "retenu"
            assert LEVEL_INDEX[decision.niveau] == LEVEL_INDEX[decision.examen[-1].niveau]

    check()


# ----------------------------------------------------------------- properties on a small catalogue


def _router(catalogue: Path, rules: Path = MINI_RULES) -> tuple:
    ws = load_workspace(catalogue, rules, today=TODAY)
    return ws, ws.router()


def _route(ws, router, **fields):
    return router.route(*ws.prepare(fields), TODAY)


def test_closest_level_first_then_tie_breaks():
    ws, router = _router(MINI)
    d = _route(ws, router, porteur="16089", thematiques=["urbanisme"], besoins=["conseil"])
    # atd-16 and caue-16 both serve at the départemental level: same perimeter, the free one wins.
    assert (d.niveau, d.offre.id) == ("departemental", "caue-16")
    big = _route(ws, router, porteur="16015", thematiques=["eau"], besoins=["diagnostic"], population=41908)
    assert big.niveau == "agence" and big.offre.repli
    departemental = next(e for e in big.examen if e.niveau == "departemental")
    assert departemental.statut == "offres_ecartees"
    assert [(o.id, o.raisons) for o in departemental.offres] == [("atd-16", ("population 41 908 > max 20 000",))]


def test_a_sub_theme_is_served_by_an_offer_on_its_parent():
    ws, router = _router(MINI)
    d = _route(ws, router, porteur="16089", thematiques=["friches"], besoins=["diagnostic"])
    assert d.offre.id == "atd-16"


def test_escalation_skips_closer_levels_with_the_rule_motif():
    ws, router = _router(MINI)
    d = _route(ws, router, porteur="16089", thematiques=["urbanisme"], besoins=["conseil"], complexite="complexe")
    assert d.niveau == "agence"
    assert [(e.niveau, e.statut, e.regle) for e in d.examen[:4]] == [
        ("communal", "ignore", "projet-complexe"), ("intercommunal", "ignore", "projet-complexe"),
        ("departemental", "ignore", "projet-complexe"), ("regional", "ignore", "projet-complexe"),
    ]
    assert d.motif.startswith("Projet complexe")


def test_direct_request_requires_the_dts_opinion():
    ws, router = _router(MINI)
    d = _route(ws, router, porteur="16089", thematiques=["urbanisme"], besoins=["conseil"], saisine="directe")
    assert d.avis_dt_requis
    assert [a.texte for a in d.alertes] == ["Agence saisie directement : le DT est informé pour avis"]


def test_island_without_epci_skips_the_intercommunal_level():
    ws, router = _router(MINI)
    d = _route(ws, router, porteur="29155", thematiques=["eau"], besoins=["conseil"])
    assert d.examen[1].statut == "sans_objet"
    assert d.examen[1].motif == "la commune n'appartient à aucun EPCI à fiscalité propre"


def test_an_expired_offer_is_not_chosen(tmp_path):
    shutil.copytree(MINI, tmp_path / "cat")
    path = tmp_path / "cat" / "offres.yaml"
    path.write_text(path.read_text().replace("    cout: gratuit\n    source: https://www.caue16.fr/",
                                             "    cout: gratuit\n    validite: {fin: 2025-12-31}\n"
                                             "    source: https://www.caue16.fr/"))
    ws, router = _router(tmp_path / "cat")
    d = _route(ws, router, porteur="16089", thematiques=["urbanisme"], besoins=["conseil"])
    assert d.offre.id == "atd-16"
    rejected = {o.id: o.raisons for e in d.examen for o in e.offres}
    assert rejected["caue-16"] == ("hors de sa période de validité (jusqu'au 31/12/2025)",)


def test_order_of_catalogue_files_does_not_change_a_decision(tmp_path):
    """The same offers split over files in another order give the same decisions."""
    text = (MINI / "offres.yaml").read_text()
    header, *offers = text.split("\n  - ")
    for name, order in (("a", offers), ("b", list(reversed(offers)))):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(MINI / "vocabulaires.yaml", folder / "vocabulaires.yaml")
        for i, offer in enumerate(order):
            (folder / f"{(i * 7) % 10}-{name}.yaml").write_text("offres:\n  - " + offer.rstrip("\n") + "\n")
    cases = [dict(porteur=p, thematiques=t, besoins=b) for p in ("16089", "16015", "29155", "region:75")
             for t in (["urbanisme"], ["friches"], ["eau"]) for b in (["conseil"], ["diagnostic"])]
    results = []
    for name in ("a", "b"):
        ws, router = _router(tmp_path / name)
        results.append([(d.niveau, d.offre.id, d.examen) for d in (_route(ws, router, **c) for c in cases)])
    assert results[0] == results[1]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    level=st.sampled_from(["communal", "intercommunal", "departemental", "regional", "operateur"]),
    porteur=st.sampled_from(["16089", "16015", "29155", "69123", "commune:97411"]),
    theme=st.sampled_from(["urbanisme", "friches", "eau"]),
    besoin=st.sampled_from(["diagnostic", "conseil"]),
    population_max=st.one_of(st.none(), st.integers(100, 50_000)),
)
def test_adding_a_closer_offer_never_routes_farther(tmp_path_factory, level, porteur, theme, besoin, population_max):
    ws, router = _router(MINI)
    before = _route(ws, router, porteur=porteur, thematiques=[theme], besoins=[besoin])
    t = ws.graph.territoire(before.demande.porteur)
    perimeter = {"communal": f"commune:{t.commune}", "intercommunal": f"epci:{t.epci}" if t.epci else "national",
                 "departemental": f"departement:{t.departement}", "regional": f"region:{t.region}",
                 "operateur": "national"}[level]
    folder = tmp_path_factory.mktemp("cat")
    shutil.copytree(MINI, folder, dirs_exist_ok=True)
    offer = {"id": "nouvelle-offre", "nom": "Nouvelle offre", "structure": "Test", "niveau": level,
             "perimetre": [perimeter], "thematiques": [theme], "besoins": [besoin], "cout": "payant",
             "source": "https://example.org/"}
    if population_max is not None:
        offer["conditions"] = {"population": {"max": population_max}}
    (folder / "nouvelle.yaml").write_text(dump({"offres": [offer]}))
    ws2, router2 = _router(folder)
    after = _route(ws2, router2, porteur=porteur, thematiques=[theme], besoins=[besoin])
    assert LEVEL_INDEX[after.niveau] <= LEVEL_INDEX[before.niveau]


# ----------------------------------------------------------------- the specialist first, alternatives, programmes


def test_the_offer_that_names_the_demandes_word_wins_and_the_others_are_alternatives(tmp_path):
    shutil.copytree(MINI, tmp_path / "cat")
    (tmp_path / "cat" / "friches.yaml").write_text(dump({"offres": [{
        "id": "friches-16", "nom": "Reconversion des friches", "structure": "EPF local", "niveau": "departemental",
        "perimetre": ["departement:16"], "thematiques": ["friches"], "besoins": ["diagnostic"], "cout": "payant",
        "source": "https://www.charente.fr/"}]}), encoding="utf-8")
    ws, router = _router(tmp_path / "cat")
    d = _route(ws, router, porteur="16089", thematiques=["friches"], besoins=["diagnostic"])
    # atd-16 is free-er (cofinancée) and serves friches through urbanisme; friches-16 names friches.
    assert d.offre.id == "friches-16" and [o.id for o in d.alternatives] == ["atd-16"]
    assert ("Retenue avant atd-16 : elle nomme la thématique « friches » de la demande, que celle-ci ne sert "
            "que par un mot plus large (urbanisme)") in d.motif
    # A demande on the parent word itself: both name it or neither does; the usual tie-breaks decide.
    broad = _route(ws, router, porteur="16089", thematiques=["urbanisme"], besoins=["diagnostic"])
    assert broad.offre.id == "atd-16" and broad.alternatives == ()


def _with_programme(tmp_path, **eligibility):
    shutil.copytree(MINI, tmp_path / "cat")
    path = tmp_path / "cat" / "vocabulaires.yaml"
    path.write_text(path.read_text().replace(
        "  - {id: pvd, libelle: Petites villes de demain}",
        "  - " + dump({"id": "pvd", "libelle": "Petites villes de demain", **eligibility}).strip().replace("\n", "\n    ")))
    return _router(tmp_path / "cat")


def test_a_programme_the_porteur_cannot_belong_to_is_said_and_not_routed_on(tmp_path):
    ws, router = _with_programme(tmp_path, population={"max": 20000}, porteurs=["commune", "epci"])
    paris = _route(ws, router, porteur="75056", thematiques=["urbanisme"], besoins=["diagnostic"], programmes=["pvd"])
    assert paris.offre.id == "sur-mesure"  # not pvd-chef-de-projet
    (check,) = paris.programmes
    assert check.adhesion == "impossible" and "population 2 " in check.motif and "> 20 000" in check.motif
    small = _route(ws, router, porteur="29155", thematiques=["urbanisme"], besoins=["diagnostic"], programmes=["pvd"])
    assert small.offre.id == "pvd-chef-de-projet"
    assert [(c.programme, c.adhesion) for c in small.programmes] == [("pvd", "non_verifiee")]
    departement = _route(ws, router, porteur="departement:29", thematiques=["urbanisme"], besoins=["diagnostic"],
                         programmes=["pvd"])
    assert departement.programmes[0].adhesion == "impossible" and "pas departement" in departement.programmes[0].motif


def test_a_public_member_list_verifies_membership(tmp_path):
    ws, router = _with_programme(tmp_path, membres=["commune:29155"])
    member = _route(ws, router, porteur="29155", thematiques=["urbanisme"], besoins=["diagnostic"], programmes=["pvd"])
    assert [(c.programme, c.adhesion) for c in member.programmes] == [("pvd", "verifiee")]
    assert member.offre.id == "pvd-chef-de-projet"
    other = _route(ws, router, porteur="29019", thematiques=["urbanisme"], besoins=["diagnostic"], programmes=["pvd"])
    assert other.programmes[0].adhesion == "impossible" and "liste publique" in other.programmes[0].motif
    assert other.offre.id == "sur-mesure"


def test_the_same_offer_in_several_departements_is_one_engine_rule_serving_each_its_own(tmp_path):
    """The same kind of offer in several départements is asked of the engine once, as one rule; each
    demande is still served, or set aside with its reasons, by its own département's offer."""
    shutil.copytree(MINI, tmp_path / "cat")
    path = tmp_path / "cat" / "offres.yaml"
    text = path.read_text()
    atd16 = "  - id: atd-16" + text.split("  - id: atd-16")[1].split("  - id: caue-16")[0]
    copies = [atd16.replace("16", code) for code in ("29", "69")]
    copies[1] = copies[1].replace("max: 20000", "max: 5000")
    path.write_text(text.replace("  - id: caue-16", "".join(copies) + "  - id: caue-16", 1))
    ws, router = _router(tmp_path / "cat")
    plan = router.engine_plan()
    assert plan.rule_of["atd-29"] == plan.rule_of["atd-16"] != plan.rule_of["atd-69"]
    decided = {p: _route(ws, router, porteur=p, thematiques=["eau"], besoins=["conseil"])
               for p in ("16089", "29155", "29019", "69123")}
    assert decided["16089"].offre.id == "atd-16"
    assert decided["29155"].offre.id == "atd-29"
    reasons = {p: {o.id: o.raisons for e in d.examen for o in e.offres} for p, d in decided.items()}
    assert reasons["29019"] == {"atd-29": ("population 142 346 > max 20 000",)}
    assert reasons["69123"] == {"atd-69": ("population 519 127 > max 5 000",)}
