"""`aiguillage report notifications`: the comité régional's filled workbook read back, one letter per
decided demande signed by the préfet of its département, and what could not be notified."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from clirun import run


@pytest.fixture(scope="module")
def workbook(year, tmp_path_factory):
    """The list of the comité régional of Bretagne, as `report comite-regional` writes it."""
    out = tmp_path_factory.mktemp("comite") / "financeurs-bretagne.xlsx"
    result = run("report", "comite-regional", "--region", "53", "--decisions", year.decisions, "-o", out,
                 *year.options)
    assert result.code == 0, result.stderr
    return out


def fill(workbook, path, rows: dict[int, dict]):
    book = openpyxl.load_workbook(workbook)
    sheet = book["demandes"]
    column = {cell.value: cell.column for cell in sheet[1]}
    for row, values in rows.items():
        for name, value in values.items():
            sheet.cell(row, column[name], value)
    book.save(path)
    return {name: sheet.cell(row, column[name]).value for row in rows for name in ("id", "departement")}, column


def test_one_letter_per_decided_demande_signed_by_the_dt(workbook, tmp_path):
    book = openpyxl.load_workbook(workbook)["demandes"]
    header = [c.value for c in book[1]]
    rows = [dict(zip(header, r)) for r in book.iter_rows(min_row=2, values_only=True)]
    filled = tmp_path / "rempli.xlsx"
    fill(workbook, filled, {
        2: {"decision_comite": "accord", "modalites_soutien": "AMO de 18 mois", "financeurs": "ANCT, Région Bretagne",
            "montant_accorde": 45000, "date_comite": dt.datetime(2026, 12, 10), "observations": "<b>urgent</b> & bref"},
        3: {"decision_comite": "refus", "date_comite": "10/12/2026", "notification_dt_le": dt.datetime(2026, 12, 14)},
        4: {"decision_comite": "ajournement"},
    })
    result = run("report", "notifications", "--comite", filled, "-o", tmp_path / "lettres", "--date", "2026-12-12")
    assert result.code == 0, result.stderr
    undecided = len(rows) - 3
    assert result.err_lines[0] == (f"2 lettres de notification écrites dans {tmp_path / 'lettres'}, {undecided} demandes "
                                   "sans décision, 1 décision sans date du comité")
    assert result.err_lines[1] == f"  non notifiée (ligne 4) : {rows[2]['id']} — « ajournement » sans date du comité " \
                                  "(colonne date_comite)"
    letters = sorted((tmp_path / "lettres").glob("notification-*.html"))
    assert [p.name for p in letters] == sorted(f"notification-{rows[i]['id']}.html" for i in (0, 1))
    first = (tmp_path / "lettres" / f"notification-{rows[0]['id']}.html").read_text(encoding="utf-8")
    signatory = {"22": "Le préfet des Côtes-d'Armor", "29": "Le préfet du Finistère", "35": "Le préfet d'Ille-et-Vilaine",
                 "56": "Le préfet du Morbihan"}[rows[0]["departement"]]
    assert signatory in first.replace("&#39;", "'") and "délégué territorial de l'Agence nationale" in first
    assert "réuni le 10 décembre 2026" in first and "Le 12 décembre 2026" in first
    assert "AMO de 18 mois" in first and "ANCT, Région Bretagne" in first and "45\u202f000\u00a0€" in first
    assert "&lt;b&gt;urgent&lt;/b&gt; &amp; bref" in first and "<b>urgent</b>" not in first
    second = (tmp_path / "lettres" / f"notification-{rows[1]['id']}.html").read_text(encoding="utf-8")
    assert "Le 14 décembre 2026" in second and "n'a pas retenu votre demande" in second.replace("&#39;", "'")
    summary = (tmp_path / "lettres" / "synthese.html").read_text(encoding="utf-8")
    assert summary.count("la décision du comité (colonne decision_comite)") == undecided


@pytest.mark.parametrize("values, message", [
    ({2: {"decision_comite": "peut-être"}}, "2:{decision_comite}: décision « peut-être » inconnue (accord, "
                                            "accord sous conditions, ajournement, refus)"),
    ({2: {"decision_comite": "Accordé"}}, "2:{decision_comite}: décision « Accordé » inconnue — vouliez-vous dire "
                                          "« accord » ? (accord, accord sous conditions, ajournement, refus)"),
    ({3: {"decision_comite": "accord", "date_comite": "le 10 décembre"}},
     "3:{date_comite}: date « le 10 décembre » illisible (JJ/MM/AAAA attendu)"),
    ({2: {"decision_comite": "accord", "date_comite": "10/12/2026", "montant_accorde": "beaucoup"}},
     "2:{montant_accorde}: montant « beaucoup » illisible (un nombre d'euros attendu)"),
])
def test_a_badly_filled_workbook_is_refused_where_it_is_wrong(workbook, tmp_path, values, message):
    filled = tmp_path / "rempli.xlsx"
    _, column = fill(workbook, filled, values)
    result = run("report", "notifications", "--comite", filled, "-o", tmp_path / "lettres")
    assert result.code == 1 and result.stdout == ""
    assert result.err_lines == [f"{filled}:" + message.format(**column)]
    assert not (tmp_path / "lettres").exists()


def test_not_the_comite_workbook(year, tmp_path):
    result = run("report", "notifications", "--comite", year.decisions, "-o", tmp_path / "lettres")
    assert result.code == 1 and result.err_lines == [
        f"{year.decisions}: classeur illisible (InvalidFileException) : attendu le .xlsx écrit par « aiguillage "
        "report comite-regional » et rempli par le comité"]
    other = tmp_path / "autre.xlsx"
    openpyxl.Workbook().save(other)
    result = run("report", "notifications", "--comite", other, "-o", tmp_path / "lettres")
    assert result.code == 1 and result.err_lines == [
        f"{other}: feuille « demandes » absente (feuilles : Sheet) : attendu le classeur de « aiguillage report "
        "comite-regional »"]


def test_the_letters_take_the_state_design_system(workbook, tmp_path):
    from matcher.templating import stylesheet

    dsfr = tmp_path / "dsfr"
    dsfr.mkdir()
    (dsfr / "dsfr.min.css").write_text(":root{--blue-france-sun-113-625:#000091}", encoding="utf-8")
    filled = tmp_path / "rempli.xlsx"
    fill(workbook, filled, {2: {"decision_comite": "accord", "date_comite": dt.datetime(2026, 12, 10)}})
    result = run("report", "notifications", "--comite", filled, "-o", tmp_path / "lettres", "--date", "2026-12-12",
                 "--dsfr", dsfr)
    assert result.code == 0, result.stderr
    pages = sorted((tmp_path / "lettres").glob("*.html"))
    assert len(pages) == 2  # the letter and the summary
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert text.index(":root{--blue-france-sun-113-625:#000091}") < text.index(stylesheet()[:200])
