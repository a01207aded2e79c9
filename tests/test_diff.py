"""`aiguillage rules diff`: offers and rules compared field by field; on a backlog, the rows that
would change route, each with the offer or rule that made the difference."""

from __future__ import annotations

import csv
import json
import shutil
import textwrap

import pytest

from clirun import run
from conftest import FIXTURES, TODAY

DATE = ("--date", TODAY.isoformat())

NEW_OFFER = """\
  - id: grandangouleme-eau
    nom: Service eau de l'agglomération
    structure: GrandAngoulême
    niveau: intercommunal
    perimetre: [epci:200071827]
    thematiques: [eau]
    besoins: [diagnostic]
    cout: gratuit
    source: https://www.grandangouleme.fr/
"""

BACKLOG = """\
id;porteur;thematiques;besoins;complexite
d1;16089;urbanisme;conseil;simple
d2;16015;eau;diagnostic;simple
d3;16015;urbanisme;diagnostic;simple
d4;16015;friches;diagnostic;complexe
d5;29019;urbanisme;conseil;simple
d6;99999;urbanisme;conseil;simple
"""


@pytest.fixture
def sides(tmp_path):
    """OLD: the mini catalogue and rules. NEW: caue-16 removed, an intercommunal offer added,
    atd-16's population ceiling raised, projet-complexe escalating to the région only."""
    old, new = tmp_path / "ancien", tmp_path / "nouveau"
    for side in (old, new):
        shutil.copytree(FIXTURES / "ok" / "mini-catalogue", side / "catalogues")
        shutil.copytree(FIXTURES / "ok" / "mini-rules", side / "rules")
    offers = new / "catalogues" / "offres.yaml"
    text = offers.read_text(encoding="utf-8")
    start = text.index("  - id: caue-16")
    end = text.index("  - id: epf-na")
    text = text[:start] + NEW_OFFER + text[end:]
    offers.write_text(text.replace("population: {max: 20000}", "population: {max: 50000}"), encoding="utf-8")
    rules = new / "rules" / "regles.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("escalader: agence", "escalader: regional"),
                     encoding="utf-8")
    backlog = tmp_path / "carnet.csv"
    backlog.write_text(BACKLOG, encoding="utf-8")
    return old, new, backlog


def test_offers_and_rules_compared_field_by_field(sides):
    old, new, _ = sides
    result = run("rules", "diff", old, new, *DATE)
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"Comparaison : {old} → {new}",
        "  Offres : 1 ajoutée(s), 1 retirée(s), 1 modifiée(s)",
        "    + grandangouleme-eau",
        "    - caue-16",
        "    ~ atd-16",
        "        conditions : (type de porteur parmi commune, epci et population ≤ 20 000) → "
        "(type de porteur parmi commune, epci et population ≤ 50 000)",
        "  Règles : 0 ajoutée(s), 0 retirée(s), 1 modifiée(s)",
        "    ~ projet-complexe",
        "        alors.escalader : agence → regional",
    ]


def test_backlog_rows_that_would_change_are_counted_by_cause(sides, tmp_path):
    old, new, backlog = sides
    out = tmp_path / "changements.csv"
    result = run("rules", "diff", old, new, "--backlog", backlog, "-o", out, *DATE, "--format", "json")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)["carnet"]
    assert (data["lignes"], data["en_erreur"], data["changements"]) == (6, 1, 4)
    assert data["par_cause"] == {
        "offre retirée : caue-16": 1,
        "offre ajoutée : grandangouleme-eau": 1,
        "offre modifiée : atd-16 (conditions)": 1,
        "règle modifiée : projet-complexe": 1,
    }
    by_id = {row["id"]: row for row in data["lignes_changees"]}
    assert (by_id["d1"]["ancienne_offre"], by_id["d1"]["offre"]) == ("caue-16", "atd-16")
    assert (by_id["d2"]["ancien_niveau"], by_id["d2"]["niveau"]) == ("agence", "intercommunal")
    assert (by_id["d4"]["ancien_niveau"], by_id["d4"]["offre"]) == ("agence", "epf-na")
    assert by_id["d4"]["ligne"] == 5  # the line a spreadsheet shows
    written = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert [(r["id"], r["cause"]) for r in written] == [(r["id"], r["cause"]) for r in data["lignes_changees"]]


def test_a_backlog_is_read_as_batch_reads_it(sides, tmp_path):
    old, new, backlog = sides
    titled = tmp_path / "titre.csv"
    titled.write_text("Carnet de la DDT\n" + BACKLOG, encoding="utf-8")  # a title above the header
    result = run("rules", "diff", old, new, "--backlog", titled, *DATE, "--format", "json")
    assert result.code == 0, result.stderr
    by_id = {row["id"]: row for row in json.loads(result.stdout)["carnet"]["lignes_changees"]}
    assert by_id["d4"]["ligne"] == 6


def test_text_report_of_a_backlog(sides):
    old, new, backlog = sides
    result = run("rules", "diff", old, new, "--backlog", backlog, *DATE)
    lines = result.stdout.splitlines()
    at = lines.index(f"Carnet {backlog} : 6 lignes, 4 changeraient d'orientation (66,7 %), 1 en erreur (non comparées)")
    assert lines[at + 1] == "  Par cause :"
    assert f"    {1:>6}  règle modifiée : projet-complexe" in lines
    assert f"    {1:>6}  agence → regional" in lines and f"    {1:>6}  agence → intercommunal" in lines


def test_a_side_may_be_a_catalogue_or_a_rules_folder(sides, tmp_path):
    old, new, _ = sides
    only_rules = run("rules", "diff", old / "rules", new / "rules", "--catalogue", old / "catalogues", *DATE)
    assert "Offres" not in only_rules.stdout and "alors.escalader : agence → regional" in only_rules.stdout
    same = run("rules", "diff", old / "catalogues", old / "catalogues", "--rules", old / "rules", *DATE)
    assert same.stdout.splitlines()[1] == "  Aucune différence dans les offres, périmètres, vocabulaires et règles."
    empty = tmp_path / "vide"
    empty.mkdir()
    bad = run("rules", "diff", old, empty)
    assert bad.code == 1 and "ni un dossier de catalogue" in bad.stderr


def test_output_needs_a_backlog(sides, tmp_path):
    old, new, _ = sides
    assert run("rules", "diff", old, new, "-o", tmp_path / "x.csv").code == 2


def test_an_invalid_side_stops_with_its_located_error(sides):
    old, new, _ = sides
    offers = new / "catalogues" / "offres.yaml"
    offers.write_text(offers.read_text(encoding="utf-8").replace("niveau: regional", "niveau: regionale"),
                      encoding="utf-8")
    result = run("rules", "diff", old, new, *DATE)
    assert result.code == 1
    assert result.stderr.startswith(f"{offers}:") and "regionale" in result.stderr
