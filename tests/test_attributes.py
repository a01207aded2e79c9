"""Attributes of a demande: one kind each across the catalogue and the rules, read alike from a demande
file, a backlog's cell and a condition's literal, and never a number the engine would misread."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from clirun import run
from conftest import FIXTURES, TODAY, write_tree

MINI = FIXTURES / "ok" / "mini-catalogue"
MINI_RULES = FIXTURES / "ok" / "mini-rules"
DATE = ("--date", TODAY.isoformat())

# A communal offer of Angoulême that only some demandes meet: when it holds, the decision is communal;
# otherwise the demande goes on to the département (the CAUE).
COMMUNAL = """
offres:
  - id: angouleme-conseil
    nom: Conseil de la ville
    structure: Ville d'Angoulême
    niveau: communal
    perimetre: [commune:16015]
    thematiques: [urbanisme]
    besoins: [conseil]
    conditions:
{conditions}
    cout: gratuit
    source: https://www.angouleme.fr/
"""


def catalogue(tmp_path: Path, conditions: str, rules: str | None = None) -> tuple[str, ...]:
    root = tmp_path / "catalogue"
    shutil.copytree(MINI, root)
    write_tree(root, {"angouleme.yaml": COMMUNAL.format(conditions=conditions)})
    rules_root = MINI_RULES
    if rules is not None:
        rules_root = tmp_path / "regles"
        shutil.copytree(MINI_RULES, rules_root)
        write_tree(rules_root, {"attributs.yaml": rules})
    return ("--catalogue", str(root), "--rules", str(rules_root), *DATE)


def offer_for(tmp_path: Path, options: tuple[str, ...], attributs: str, name: str = "demande.yaml") -> str:
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text('{"porteur": "16015", "thematiques": ["urbanisme"], "besoins": ["conseil"], '
                        f'"attributs": {attributs}}}', encoding="utf-8")
    else:
        path.write_text(f'porteur: "16015"\nthematiques: [urbanisme]\nbesoins: [conseil]\nattributs: {attributs}\n',
                        encoding="utf-8")
    result = run("route", path, *options, "--format", "json")
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)["decision"]["offre"]["id"]


def batch_offers(tmp_path: Path, options: tuple[str, ...], header: str, cells: list[str]) -> pd.DataFrame:
    path, out = tmp_path / "carnet.csv", tmp_path / "decisions.csv"
    lines = [f"porteur;thematiques;besoins;{header}"] + [f"16015;urbanisme;conseil;{c}" for c in cells]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("batch", path, "-o", out, *options)
    assert result.code == 0, result.stderr
    return pd.read_csv(out, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")


def test_a_list_attribute_is_read_alike_from_a_file_a_cell_and_the_catalogue(tmp_path: Path):
    options = catalogue(tmp_path, "      adhesions: {contient_un_de: [caue-16, 2024, 2024-02-01]}")
    for attributs in ("{adhesions: [atd-16, caue-16]}", '{adhesions: "atd-16|caue-16"}', "{adhesions: caue-16}",
                      "{adhesions: [2024]}", '{adhesions: "2024"}', '{adhesions: "x|01/02/2024"}'):
        assert offer_for(tmp_path, options, attributs) == "angouleme-conseil", attributs
    for attributs in ("{adhesions: [atd-16]}", '{adhesions: "atd-16|caue-17"}', "{adhesions: []}"):
        assert offer_for(tmp_path, options, attributs) == "caue-16", attributs
    table = batch_offers(tmp_path, options, "adhesions", ["atd-16|caue-16", "caue-16", " atd-16 | 2024 ", "atd-16"])
    assert list(table["offre_id"]) == ["angouleme-conseil"] * 3 + ["caue-16"]


def route_json(tmp_path: Path, options: tuple[str, ...], attributs: str) -> dict:
    path = tmp_path / "demande.yaml"
    path.write_text(f'porteur: "16015"\nthematiques: [urbanisme]\nbesoins: [conseil]\nattributs: {attributs}\n',
                    encoding="utf-8")
    result = run("route", path, *options, "--format", "json")
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def test_undeclared_adhesions_are_presumed_and_the_decision_says_which_to_check(tmp_path: Path):
    """A commune is not sent further because nobody wrote down that it adheres to its agence: an offer
    reserved to members serves a demande that does not declare its adhesions, « sous réserve
    d'adhésion »; a demande that declares them (even none) is held to them."""
    options = catalogue(tmp_path, "      adhesions: {contient_un_de: [atd-16, sde-16]}")
    presumed = route_json(tmp_path, options, "{}")
    assert presumed["decision"]["offre"]["id"] == "angouleme-conseil"
    assert presumed["adhesions_a_verifier"] == ["atd-16", "sde-16"]
    declared = route_json(tmp_path, options, "{adhesions: [sde-16]}")
    assert (declared["decision"]["offre"]["id"], declared["adhesions_a_verifier"]) == ("angouleme-conseil", [])
    for attributs in ("{adhesions: []}", "{adhesions: [caue-16]}"):
        held = route_json(tmp_path, options, attributs)
        assert (held["decision"]["offre"]["id"], held["adhesions_a_verifier"]) == ("caue-16", []), attributs
        assert "adhesions" in held["examen"][0]["offres"][0]["raisons"][0], attributs
    text = run("route", "--porteur", "16015", "--thematique", "urbanisme", "--besoin", "conseil", *options)
    assert "Sous réserve d'adhésion à atd-16 ou sde-16 : l'offre est réservée aux adhérents" in text.stdout
    table = batch_offers(tmp_path, options, "adhesions", ["", "sde-16", "caue-16"])
    assert list(table["offre_id"]) == ["angouleme-conseil", "angouleme-conseil", "caue-16"]
    assert list(table["adhesions_a_verifier"]) == ["atd-16|sde-16", "", ""]


def test_a_catalogue_without_members_only_offers_presumes_nothing(tmp_path: Path):
    options = catalogue(tmp_path, "      population: {max: 100000}")
    assert route_json(tmp_path, options, "{}")["adhesions_a_verifier"] == []


def test_existe_on_a_list_attribute_asks_for_one_item(tmp_path: Path):
    """`existe` comes first (angouleme.yaml), the list use after it (autre.yaml): read as a list test."""
    options = catalogue(tmp_path, "      adhesions: {existe: true}")
    other = COMMUNAL.format(conditions="      adhesions: {contient: caue-16}")
    write_tree(tmp_path / "catalogue", {"autre.yaml": other.replace("angouleme-conseil", "angouleme-eau")
                                        .replace("[urbanisme]", "[eau]")})
    assert offer_for(tmp_path, options, "{adhesions: [atd-16]}") == "angouleme-conseil"
    assert offer_for(tmp_path, options, "{adhesions: []}") == "caue-16"
    # A blank value, as a blank cell, declares nothing: the porteur is presumed a member.
    assert offer_for(tmp_path, options, '{adhesions: ""}') == "angouleme-conseil"


def test_an_attribute_read_as_a_list_and_as_a_value_is_refused_naming_both_places(tmp_path: Path):
    options = catalogue(tmp_path, "      adhesions: {contient: caue-16}", rules="""
        regles:
          - id: non-adherents
            description: Les non-adhérents du CAUE sont signalés.
            quand: {adhesions: {pas: caue-16}}
            alors: {alerte: Non adhérent}
        """)
    result = run("rules", "check", *options)
    assert result.code == 1
    catalogue_file = str(tmp_path / "catalogue" / "angouleme.yaml")
    assert any("attribut « adhesions » comparé à un texte ici, mais à une liste (contient, contient_un_de) en "
               f"{catalogue_file}:10:29" in line and line.startswith(str(tmp_path / "regles" / "attributs.yaml"))
               for line in result.err_lines), result.stderr
    assert run("route", "--porteur", "16015", "--thematique", "urbanisme", "--besoin", "conseil", *options).code == 1


def test_existe_in_the_catalogue_then_a_list_in_the_rules_is_refused(tmp_path: Path):
    options = catalogue(tmp_path, "      adhesions: {existe: true}", rules="""
        regles:
          - id: adherents
            description: Les adhérents du CAUE sont signalés.
            quand: {adhesions: {contient: caue-16}}
            alors: {alerte: Adhérent}
        """)
    result = run("rules", "check", *options)
    assert result.code == 1
    assert "une valeur simple (existe)" in result.stderr


@pytest.mark.parametrize("literal", ["2024-01-01", '"2024-01-01"', '"01/01/2024"'])
def test_dates_meet_in_one_form_wherever_they_are_written(tmp_path: Path, literal: str):
    options = catalogue(tmp_path, f"      deliberation: {literal}")
    for attributs in ("{deliberation: 2024-01-01}", '{deliberation: "2024-01-01"}', '{deliberation: "01/01/2024"}',
                      "{deliberation: 2024-01-01T00:00:00}"):
        assert offer_for(tmp_path, options, attributs) == "angouleme-conseil", attributs
    assert offer_for(tmp_path, options, '{"deliberation": "2024-01-01"}', "demande.json") == "angouleme-conseil"
    assert offer_for(tmp_path, options, "{deliberation: 2024-01-02}") == "caue-16"
    table = batch_offers(tmp_path, options, "deliberation", ["2024-01-01", "01/01/2024", "1/1/2024", "2024-01-02",
                                                            "janvier"])
    assert list(table["offre_id"][:4]) == ["angouleme-conseil"] * 3 + ["caue-16"]
    assert table["erreur"][4].startswith("ligne 6, colonne deliberation : date attendue")


def test_a_date_with_a_time_is_refused_in_a_condition_and_in_a_demande(tmp_path: Path):
    options = catalogue(tmp_path, "      deliberation: 2024-01-01")
    path = tmp_path / "demande.yaml"
    path.write_text('porteur: "16015"\nthematiques: [urbanisme]\nbesoins: [conseil]\n'
                    "attributs: {deliberation: 2024-01-01T10:00:00}\n", encoding="utf-8")
    result = run("route", path, *options)
    assert result.code == 1
    assert "sans heure" in result.stderr and "Traceback" not in result.stderr
    bad = catalogue(tmp_path / "b", "      deliberation: 2024-01-01T10:00:00")
    result = run("rules", "check", *bad)
    assert result.code == 1
    assert "angouleme.yaml:10:21: erreur: attribut « deliberation » : une date s'écrit AAAA-MM-JJ, sans heure" \
        in result.stderr


def test_thresholds_and_values_with_an_exponent_are_decided_right(tmp_path: Path):
    options = catalogue(tmp_path, "      surface: {max: 0.0001}\n      indice: {min: 0.00001}")
    assert offer_for(tmp_path, options, "{surface: 0.00005, indice: 0.00002}") == "angouleme-conseil"
    assert offer_for(tmp_path, options, '{"surface": 5e-05, "indice": 1e-05}', "d.json") == "angouleme-conseil"
    assert offer_for(tmp_path, options, "{surface: 0.0002, indice: 0.00002}") == "caue-16"
    assert offer_for(tmp_path, options, '{"surface": 5e-05, "indice": 9e-06}', "d.json") == "caue-16"
    assert offer_for(tmp_path, options, "{surface: 0, indice: 100000000000000000000000}") == "angouleme-conseil"
    table = batch_offers(tmp_path, options, "surface;indice", ["0,00005;1e-5", "5e-05;0.0000099", "0.0001;2E+20"])
    assert list(table["offre_id"]) == ["angouleme-conseil", "caue-16", "angouleme-conseil"]


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "1.0e+999"])
def test_non_finite_numbers_in_a_demande_file_are_refused(tmp_path: Path, value: str):
    options = catalogue(tmp_path, "      surface: {min: 10}")
    for attributs in (f"{{surface: {value}}}", f"{{inconnu: {value}}}"):
        path = tmp_path / "demande.yaml"
        path.write_text(f'porteur: "16015"\nthematiques: [urbanisme]\nbesoins: [conseil]\nattributs: {attributs}\n'
                        f"population: 12\n", encoding="utf-8")
        result = run("route", path, *options)
        assert result.code == 1, attributs
        assert "nombre fini attendu" in result.stderr and "Traceback" not in result.stderr
    path = tmp_path / "demande.yaml"
    path.write_text(f'porteur: "16015"\nthematiques: [urbanisme]\nbesoins: [conseil]\npopulation: {value}\n',
                    encoding="utf-8")
    result = run("route", path, *options)
    assert result.code == 1 and "population" in result.stderr


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_a_json_demande_are_refused(tmp_path: Path, value: str):
    options = catalogue(tmp_path, "      surface: {min: 10}")
    path = tmp_path / "demande.json"
    path.write_text('{"porteur": "16015", "thematiques": ["urbanisme"], "besoins": ["conseil"], '
                    f'"attributs": {{"surface": {value}}}}}', encoding="utf-8")
    result = run("route", path, *options)
    assert result.code == 1
    assert "surface" in result.stderr and "nombre fini attendu" in result.stderr


def test_non_finite_cells_are_their_row_error_naming_row_and_column(tmp_path: Path):
    options = catalogue(tmp_path, "      surface: {min: 10}")
    table = batch_offers(tmp_path, options, "surface", ["NaN", "inf", "-inf", "1e999", "Infinity", "12"])
    assert [e.split(" : ")[0] for e in table["erreur"][:5]] == [f"ligne {i}, colonne surface" for i in range(2, 7)]
    assert all("nombre fini attendu" in e for e in table["erreur"][:5])
    assert list(table["offre_id"][5:]) == ["angouleme-conseil"]


def test_a_demande_attribute_with_a_reserved_name_is_refused(tmp_path: Path):
    options = catalogue(tmp_path, "      surface: {min: 10}")
    for name in ("__demande__", "sid", "$i"):
        path = tmp_path / "demande.yaml"
        path.write_text(f'porteur: "16015"\nthematiques: [urbanisme]\nbesoins: [conseil]\nattributs: {{"{name}": 1}}\n',
                        encoding="utf-8")
        result = run("route", path, *options)
        assert result.code == 1 and "nom réservé" in result.stderr


def test_hundreds_of_attributes_in_one_catalogue_are_routed(tmp_path: Path):
    """More distinct attributes than a fact of the engine can hold (254): each ruleset reads its own."""
    options = catalogue(tmp_path, "      attribut-0: oui")
    offers = "".join(COMMUNAL.format(conditions=f"      attribut-{i}: oui").replace("angouleme-conseil", f"offre-{i}")
                     .replace("offres:\n", "") for i in range(1, 300))
    write_tree(tmp_path / "catalogue", {"nombreuses.yaml": "offres:\n" + offers})
    assert run("rules", "check", *options).code == 0
    assert offer_for(tmp_path, options, "{attribut-257: oui, attribut-3: non}") == "offre-257"
    assert offer_for(tmp_path, options, "{attribut-3: non}") == "caue-16"


def test_a_text_longer_than_the_engine_compares_is_located_by_rules_check(tmp_path: Path):
    options = catalogue(tmp_path, f"      reference: {'x' * 10_001}")
    result = run("rules", "check", *options)
    assert result.code == 1
    assert ("angouleme.yaml:10:18: erreur: offre « angouleme-conseil » refusée par le moteur de règles : texte de "
            "10001 caractères, le moteur n'en compare que 10000 au plus [moteur]") in result.stderr
    assert run("route", "--porteur", "16015", "--thematique", "urbanisme", "--besoin", "conseil", *options).code == 1
