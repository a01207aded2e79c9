"""What people type, read one way everywhere: words without case or accents, amounts as offices write them."""

from __future__ import annotations

import pytest

from clirun import run
from conftest import TODAY
from matcher.text import NumberError, fold, read_amount, read_number, word_key

DATE = ["--date", TODAY.isoformat()]


@pytest.mark.parametrize("written, amount", [
    ("250000", 250_000), ("250 000", 250_000), ("250 000 €", 250_000), ("250\u202f000\u00a0€", 250_000),
    ("250 000 euros", 250_000), ("250 000 € HT", 250_000), ("250 000 € TTC", 250_000), ("250000€", 250_000),
    ("1 250 000,50 €", 1_250_000.5), ("1,5 M€", 1_500_000), ("1,5 m€", 1_500_000), ("2 millions d'euros", 2_000_000),
    ("2 millions d’euros", 2_000_000), ("300 k€", 300_000), ("300 K€", 300_000), ("1,2 Md€", 1_200_000_000),
    ("1.5", 1.5), ("0", 0),
])
def test_amounts_as_offices_write_them(written, amount):
    assert read_amount(written) == amount


@pytest.mark.parametrize("written, message", [
    ("1,250", "« 1,250 » est ambigu (1,250 vaut 1,25 en France, 1 250 ailleurs)"),
    ("250.000 €", "« 250.000 € » est ambigu (point des milliers ou point décimal ?)"),
    ("1.250.000", "montant illisible « 1.250.000 »"),
    ("25 0000", "montant illisible « 25 0000 »"),
    ("1,5 M$", "montant illisible « 1,5 M$ »"),
    ("environ 200 000", "montant illisible « environ 200 000 »"),
    ("-5 000 €", "nombre positif attendu, pas « -5 000 € »"),
    ("10,505 €", "« 10,505 € » est ambigu"),
    ("1e999", "montant illisible « 1e999 »"),
])
def test_amounts_that_would_need_a_guess_are_refused(written, message):
    with pytest.raises(NumberError) as error:
        read_amount(written)
    assert str(error.value).startswith(message)


def test_a_population_has_no_unit():
    assert read_number("12 500") == 12_500
    with pytest.raises(NumberError, match="nombre attendu, pas « 12 500 € »"):
        read_number("12 500 €")


def test_one_folding_for_words_headers_and_names():
    assert fold("Santé") == fold("SANTÉ") == "sante"
    assert fold("Maîtrise d'œuvre") == "maitrise d'oeuvre"
    assert word_key("Rénovation énergétique") == word_key("renovation-energetique") == "renovationenergetique"


def route_json(*args: str) -> dict:
    import json

    result = run("route", "--format", "json", *args, *DATE)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("theme", ["Revitalisation", "REVITALISATION", "revitalisation",
                                   "Revitalisation des centres-villes et centres-bourgs"])
def test_options_match_without_case_or_accents(theme):
    decision = route_json("--porteur", "16015", "--thematique", theme, "--besoin", "Diagnostic")
    plain = route_json("--porteur", "16015", "--thematique", "revitalisation", "--besoin", "diagnostic")
    assert decision["decision"] == plain["decision"]


def test_a_demande_file_with_accents_capitals_and_an_amount(tmp_path):
    path = tmp_path / "demande.yaml"
    path.write_text('porteur: "16015"\nthematiques: [Santé, Rénovation énergétique]\nbesoins: [Conseil]\n'
                    'complexite: Simple\nsaisine: DT\nmontant: 250 000 €\n', encoding="utf-8")
    result = run("route", path, "--format", "json", *DATE)
    assert result.code == 0, result.stderr
    plain = route_json("--porteur", "16015", "--thematique", "sante", "--thematique", "renovation-energetique",
                       "--besoin", "conseil", "--montant", "250000")
    import json

    assert json.loads(result.stdout)["decision"] == plain["decision"]


def test_an_ambiguous_amount_in_a_demande_file_is_located(tmp_path):
    path = tmp_path / "demande.yaml"
    path.write_text('porteur: "16015"\nthematiques: [eau]\nbesoins: [amo]\nmontant: 250.000 €\n', encoding="utf-8")
    result = run("route", path, *DATE)
    assert (result.code, result.stdout) == (1, "")
    assert result.stderr == (f"{path}:4:1: montant : « 250.000 € » est ambigu (point des milliers ou point décimal ?) : "
                             "écrivez par exemple 250000, 250 000 €, 1,5 M€ ou 300 k€\n")


def test_backlog_cells_are_read_the_same_way(tmp_path):
    import pandas as pd

    backlog = tmp_path / "carnet.csv"
    backlog.write_text("id;porteur;thematiques;besoins;montant\n"
                       "a;16015;Santé|Habitat;Conseil;250 000 €\n"
                       "b;16015;sante|habitat;conseil;250000\n"
                       "c;16015;SANTE;CONSEIL;1,5 M€\n"
                       "d;16015;sante;conseil;1,250\n", encoding="utf-8")
    out = tmp_path / "decisions.csv"
    assert run("batch", backlog, "-o", out, *DATE).code == 0
    rows = pd.read_csv(out, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert rows.loc[0, "offre_id"] == rows.loc[1, "offre_id"] != ""
    assert rows.loc[2, "erreur"] == ""
    assert rows.loc[3, "erreur"].startswith("ligne 5, colonne montant : « 1,250 » est ambigu")


def test_coverage_options_match_without_case_or_accents():
    import json

    plain = json.loads(run("coverage", "--departement", "16", "--thematique", "sante", "--besoin", "conseil",
                           "--format", "json", *DATE).stdout)
    written = run("coverage", "--departement", "16", "--thematique", "Santé", "--besoin", "CONSEIL", "--format", "json",
                  *DATE)
    assert written.code == 0, written.stderr
    assert json.loads(written.stdout) == plain
