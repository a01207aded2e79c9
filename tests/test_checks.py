"""`aiguillage rules lint`: each finding on the lint fixture, and each claim checked with the real engine."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import textwrap

import pytest

from clirun import run
from conftest import FIXTURES, TODAY
from matcher.checks import LintContext, lint, registered
from matcher.checks.logic import Solver, terms
from matcher.conditions import ParseContext, holds, parse_condition
from matcher.errors import IssueCollector
from matcher.workspace import load_workspace
from matcher.yamlsource import parse

LINT = "tests/fixtures/lint"
CAT, RULES = f"{LINT}/catalogue/offres.yaml", f"{LINT}/rules/regles.yaml"

EXPECTED = [
    f"{CAT}:14:5: avertissement: offre « atd-16-petites-communes » jamais retenue : l'offre « caue-16 » ({CAT}:3:5), "
    "de même niveau et de même périmètre (359 communes), qui passe avant elle (coût gratuit avant cofinance), sert "
    "toute demande qu'elle sert — son périmètre contient le sien, ses thématiques et besoins couvrent les siens, sans "
    "conditions ; aucune règle n'écarte l'une sans l'autre [offre-masquee]",
    f"{CAT}:29:5: avertissement: offre « epf-na-friches-cognac » jamais retenue : l'offre « caue-16 » ({CAT}:3:5), "
    "de niveau départemental, plus proche que régional, sert toute demande qu'elle sert — son périmètre contient le "
    "sien, ses thématiques et besoins couvrent les siens, sans conditions ; aucune règle n'écarte l'une sans l'autre "
    "[offre-masquee]",
    f"{CAT}:50:25: erreur: offre « cd16-grands-projets » jamais retenue : ses conditions ne peuvent jamais tenir — "
    f"population ≥ 50 000 et population ≤ 20 000 : aucun nombre ne convient (voir {CAT}:50:37) [condition-impossible]",
    f"{CAT}:63:20: erreur: offre « cd16-charente-maritime » jamais retenue : ses conditions contredisent son "
    f"périmètre — département = 17 et département parmi 16 : aucune valeur ne convient (voir {CAT}:59:16) "
    "[condition-impossible]",
    f"{CAT}:72:16: avertissement: offre « region-na-eau » de niveau départemental, mais son périmètre va au-delà : "
    f"region:75 — niveau régional ? (voir {CAT}:71:13) [perimetre-hors-niveau]",
    f"{CAT}:83:16: avertissement: offre « cognac-urbanisme » de niveau communal, mais son périmètre va au-delà : "
    f"epci:200070514 — niveau intercommunal ? (voir {CAT}:82:13) [perimetre-hors-niveau]",
    f"{CAT}:90:5: avertissement: offre « cd16-projets-complexes » (départemental) jamais retenue : toute demande "
    f"qu'elle pourrait servir est écartée de son niveau par la règle « projet-complexe » ({RULES}:3:5) "
    "[offre-inatteignable]",
    f"{RULES}:3:5: avertissement: niveau communal jamais examiné : toute demande relève de « projet-complexe » ou de "
    f"« projet-simple-intercommunal » ({RULES}:10:5), qui escaladent au-delà ou l'excluent ; 1 offre de ce niveau "
    "jamais retenue : cognac-urbanisme [niveau-inatteignable]",
    f"{RULES}:10:5: avertissement: règles « projet-simple-intercommunal » et « epci-au-departement » ({RULES}:16:5) "
    "applicables ensemble, par exemple pour une demande avec complexité = simple, type de porteur = epci : l'une "
    "escalade vers le niveau intercommunal, l'autre vers le niveau départemental ; le plus lointain l'emporte et "
    "« projet-simple-intercommunal » reste alors sans effet [regles-en-conflit]",
    f"{RULES}:16:5: avertissement: règles « epci-au-departement » et « projet-complexe » ({RULES}:3:5) applicables "
    "ensemble, par exemple pour une demande avec complexité = complexe, type de porteur = epci : l'une escalade vers "
    "le niveau départemental, l'autre vers le niveau agence (ANCT) ; le plus lointain l'emporte et "
    "« epci-au-departement » reste alors sans effet [regles-en-conflit]",
    f"{RULES}:16:5: avertissement: règles « epci-au-departement » et « epci-sans-departement » ({RULES}:21:5) "
    "applicables ensemble, par exemple pour une demande avec type de porteur = epci, saisine = directe : "
    "« epci-au-departement » fait commencer la recherche au niveau départemental, que « epci-sans-departement » "
    "exclut : la demande va plus loin que ce que chacune prévoit [regles-en-conflit]",
    f"{RULES}:32:21: erreur: règle « saisine-impossible » jamais appliquée : saisine = dt et saisine = directe : "
    f"aucune valeur ne convient (voir {RULES}:33:21) [condition-impossible]",
]


@pytest.fixture(autouse=True)
def _repo_root(monkeypatch):
    monkeypatch.chdir(FIXTURES.parent.parent)


@pytest.fixture(scope="module")
def lint_workspace():
    import os

    here = os.getcwd()
    os.chdir(FIXTURES.parent.parent)
    try:
        return load_workspace(FIXTURES / "lint" / "catalogue", FIXTURES / "lint" / "rules", today=TODAY)
    finally:
        os.chdir(here)


def test_lint_finds_each_problem_of_the_fixture_and_names_both_places():
    result = run("rules", "lint", "--catalogue", f"{LINT}/catalogue", "--rules", f"{LINT}/rules")
    *lines, summary = result.err_lines
    assert lines == EXPECTED
    assert summary == ("3 erreurs, 9 avertissements (9 offres, 5 règles) — catalogue tests/fixtures/lint/catalogue "
                       "(--catalogue), règles tests/fixtures/lint/rules (--rules)")
    assert result.code == 1 and result.stdout == ""


def test_every_finding_has_a_related_place():
    result = run("rules", "lint", "--catalogue", f"{LINT}/catalogue", "--rules", f"{LINT}/rules", "--format", "json")
    found = json.loads(result.stdout)["problemes"]
    assert len(found) == len(EXPECTED)
    assert all(p["lieux_lies"] and p["lieux_lies"][0] != f"{p['fichier']}:{p['ligne']}:{p['colonne']}"
               for p in found)


def test_one_check_can_be_run_alone_and_checks_are_listed():
    result = run("rules", "lint", "--catalogue", f"{LINT}/catalogue", "--rules", f"{LINT}/rules",
                 "--check", "PerimeterLevelCheck")
    assert [line.rsplit("[", 1)[1] for line in result.err_lines[:-1]] == ["perimetre-hors-niveau]"] * 2
    assert result.code == 0
    listed = run("rules", "lint", "--list").stdout.splitlines()
    assert [line.split()[0] for line in listed] == list(registered())
    assert run("rules", "lint", "--check", "MaskedOffers").code == 2


def test_shipped_catalogue_has_no_lint_error():
    result = run("rules", "lint", "--date", "2026-11-26")
    assert result.code == 0, result.stderr
    assert ": erreur: " not in result.stderr


# ------------------------------------------------------------------ claims checked with the real engine


def _demandes_served_by(offre, ws, limit_communes=6):
    """Demandes that the offer could serve, on its own terms: communes of its perimeter, each of its
    words, both complexities and saisines, every kind of porteur."""
    graph = ws.graph
    graph.add_all_communes()
    refs = graph.expand(offre.perimetre)
    communes = sorted(c for c in graph.index.all_communes()
                      if any(r in refs for r in graph.lies_in(f"commune:{c}")))[:limit_communes]
    for code, theme, need, complexite, saisine, type_porteur in itertools.product(
            communes, offre.thematiques, offre.besoins, ("simple", "complexe"), ("dt", "directe"),
            (None, "epci", "autre")):
        yield {"porteur": code, "thematiques": [theme], "besoins": [need], "complexite": complexite,
               "saisine": saisine, "type_porteur": type_porteur}


@pytest.mark.parametrize("which", ["fixture", "shipped"])
def test_offers_said_never_retained_are_never_retained(which, lint_workspace, workspace):
    ws = lint_workspace if which == "fixture" else workspace
    findings = [i for i in lint(ws) if i.code in ("offre-masquee", "offre-inatteignable", "condition-impossible")]
    never = {i.message.split("« ")[1].split(" »")[0] for i in findings if i.message.startswith("offre")}
    assert never
    router = ws.router()
    for offre_id in sorted(never):
        offre = ws.catalogue.offre(offre_id)
        items = [ws.prepare(d) for d in _demandes_served_by(offre, ws)]
        for decision in router.route_many(items, TODAY):
            assert decision.offre.id != offre_id


# ------------------------------------------------------------------ the solver


def _condition(yaml_text: str, vocabularies):
    doc = parse(textwrap.dedent(yaml_text), "c.yaml")
    return parse_condition(doc.data["c"], ("c",), ParseContext(doc, IssueCollector(stop_at_first=True), vocabularies,
                                                              allow_after_decision=True))


@pytest.mark.parametrize("text", [
    "c: {population: {min: 5000, max: 2000}}",
    "c: {tous: [{porteur: commune}, {porteur: epci}]}",
    "c: {complexite: {hors: [simple, complexe]}}",
    "c: {thematiques: friches, aucun: [{thematiques: urbanisme}]}",
    "c: {programmes: {existe: false, contient: pvd}}",
    "c: {besoins: {existe: false}}",
    "c: {un_de: [{saisine: dt, complexite: {pas: simple}, tous: [{complexite: simple}]}, {zone: {existe: false}}]}",
    "c: {population: {min: 100}, aucun: [{population: {min: 50}}]}",
])
def test_impossible_conditions_are_shown_impossible(text, workspace):
    answer = Solver(workspace.catalogue.vocabularies).solve(_condition(text, workspace.catalogue.vocabularies))
    assert answer.impossible and all(c.reason for c in answer.contradictions)


@pytest.mark.parametrize("text", [
    "c: {population: {min: 2000, max: 5000}}",
    "c: {un_de: [{porteur: commune}, {porteur: epci}], montant: {existe: false}}",
    "c: {thematiques: friches, aucun: [{thematiques: eau}]}",
    "c: {complexite: {pas: simple}, saisine: {hors: [dt]}, population: {max: 0}}",
    "c: {qpv: true, aucun: [{departement: ['16', '17']}]}",
    "c: {avis_dt: {pas: favorable}, niveau: agence}",
])
def test_possible_conditions_get_a_witness_that_holds(text, workspace):
    cond = _condition(text, workspace.catalogue.vocabularies)
    answer = Solver(workspace.catalogue.vocabularies).solve(cond)
    assert answer.possible and holds(cond, answer.witness)


def test_too_complex_conditions_get_no_answer(workspace):
    alternatives = ", ".join(f"{{population: {{min: {i}}}, montant: {{max: {i}}}}}" for i in range(30))
    cond = _condition(f"c: {{tous: [{{un_de: [{alternatives}]}}, {{un_de: [{alternatives}]}}]}}",
                      workspace.catalogue.vocabularies)
    answer = Solver(workspace.catalogue.vocabularies).solve(cond)
    assert not answer.possible and not answer.impossible
    assert len(terms(_condition(f"c: {{un_de: [{alternatives}]}}", {}))) == 30
