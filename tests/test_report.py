"""The governance reports on a year of decisions: each opens, in a browser, with its charts and map,
and every figure it shows leads to the rows of the decisions file it counts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import browser
from clirun import run
from matcher.report.comite_regional import COLUMNS, DECISION_CHOICES, TO_FILL


def ids(frame: pd.DataFrame) -> set[str]:
    return set(frame["id"])


def traced(page: str) -> browser.Figures:
    """Every figure of the page links to an annex entry that lists exactly as many rows."""
    found = browser.figures(page)
    assert found.links, "aucun chiffre lié à ses demandes"
    for href, n, _ in found.links:
        entry = href.lstrip("#")
        assert entry in found.annex, f"{href} : pas d'entrée d'annexe"
        assert len(found.annex[entry]) == n == found.annex_n[entry]
    for href in found.svg_hrefs:
        assert href.lstrip("#") in found.annex
    assert found.external == [], "la page doit se suffire à elle-même"
    return found


def entry_for(found: browser.Figures, rows: set[str]) -> str:
    """The annex entry that lists exactly these rows."""
    matching = [k for k, listed in found.annex.items() if set(listed) == rows and len(listed) == len(rows)]
    assert matching, f"aucun chiffre ne compte ces {len(rows)} demandes"
    return matching[0]


@pytest.fixture(scope="module")
def comite_16(year) -> tuple[Path, str]:
    out = year.root / "comite-16.html"
    result = run("report", "comite-local", "--departement", "16", "--decisions", year.decisions, "-o", out,
                 *year.options)
    assert result.code == 0, result.stderr
    assert result.stdout == "" and result.err_lines == [f"comité local du 16 → {out}"]
    return out, out.read_text(encoding="utf-8")


def test_comite_local_figures_are_the_rows_of_the_decisions_file(year, comite_16):
    _, page = comite_16
    found = traced(page)
    f = year.frame
    charente = f[f.departement == "16"]
    assert len(charente) == 260
    assert entry_for(found, ids(charente))
    assert entry_for(found, ids(charente[charente.niveau == "agence"]))
    assert entry_for(found, ids(charente[charente.niveau.isin(["departemental", "regional"])]))
    assert entry_for(found, ids(charente[charente.instruction == "non instruisible, avis du DT requis"]))
    # Opinions awaited on 26/11/2026: required, and neither favourable nor unfavourable.
    awaited = charente[(charente.avis_dt_requis == "oui") & charente.avis_dt.isin(["en_attente", ""])]
    assert len(awaited) > 0 and entry_for(found, ids(awaited))
    largest_epci = charente.epci.value_counts().index[0]
    assert entry_for(found, ids(charente[charente.epci == largest_epci]))
    complexe = charente[(charente.niveau == "agence") & charente.regles.str.contains("projet-complexe")]
    assert entry_for(found, ids(complexe))
    # The offer with a capacity, its contact and source, and the demandes routed to it.
    assert "veille-energie-16" in page and "mailto:cep@exemple.invalid" in page
    assert entry_for(found, ids(charente[charente.offre_id == "veille-energie-16"]))


def test_comite_local_shows_the_map_and_the_zones_blanches(comite_16):
    _, page = comite_16
    assert '<path id="m16"' in page and 'stroke-width="2.5"' in page.split('<path id="m16"')[1][:2000]
    assert page.count('<path id="m') >= 12  # the région's départements and their neighbours
    assert "Zones blanches du département" in page and 'class="c cell-blank"' in page
    for heading in ("L'ingénierie mobilisable localement", "Les décisions de la période", "Par EPCI",
                    "Ce qui est allé à l'agence, et pourquoi", "Demandes en attente de l'avis du délégué territorial"):
        assert heading in page
    assert "@media print" in page


@pytest.mark.skipif(not browser.available(), reason="chromium absent (apt-get install chromium ; .ci/run l'installe)")
def test_comite_local_renders_in_a_headless_browser(comite_16, tmp_path):
    path, _ = comite_16
    dom = browser.chromium(path, tmp_path / "profil", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Comité local de cohésion territoriale — Charente (16)" in dom.stdout
    assert dom.stdout.count('class="chart"') >= 6 and 'class="map"' in dom.stdout
    shot = tmp_path / "page.png"
    done = browser.chromium(path, tmp_path / "profil", "--window-size=1200,3000", f"--screenshot={shot}")
    assert done.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    pdf = tmp_path / "page.pdf"
    printed = browser.chromium(path, tmp_path / "profil", f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert printed.returncode == 0 and pdf.read_bytes()[:5] == b"%PDF-"
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes())) >= 3  # printed on several A4 pages


def test_comite_local_period_and_stdout(year):
    result = run("report", "comite-local", "--departement", "16", "--decisions", year.decisions,
                 "--du", "2026-06-01", "--au", "2026-08-31", *year.options)
    assert result.code == 0 and result.stdout.startswith("<!doctype html>")
    found = traced(result.stdout)
    f = year.frame
    summer = f[(f.departement == "16") & (f.date_depot >= "2026-06-01") & (f.date_depot <= "2026-08-31")]
    assert entry_for(found, ids(summer))
    assert "demandes déposées du 01/06/2026 au 31/08/2026" in result.stdout


def test_comite_local_reads_as_people_read(year, tmp_path):
    """Every month of the period on the time axis (a month without demandes too), the matrix headed by
    the vocabulary's labels, the rows in error counted and named, French singulars."""
    summer = run("report", "comite-local", "--departement", "16", "--decisions", year.decisions,
                 "--du", "2026-05-15", "--au", "2026-09-10", *year.options).stdout
    months = re.findall(r">(2026-\d\d)</text>", summer)
    assert months == ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09"]
    assert '<th scope="col">Diagnostic, état des lieux</th>' in summer
    backlog = tmp_path / "carnet.csv"
    backlog.write_text("id;porteur;thematiques;besoins;date_depot\n"
                       "c-1;16015;revitalisation;diagnostic;2026-03-02\n"
                       "c-2;99999;eau;amo;2026-03-05\n", encoding="utf-8")
    decisions = tmp_path / "decisions.csv"
    assert run("batch", backlog, "-o", decisions, *year.options).code == 0
    page = run("report", "comite-local", "--departement", "16", "--decisions", decisions, *year.options).stdout
    assert "1 demande orientée" in page and "ligne du fichier est en erreur" in page and "c-2" in page
    found = traced(page)
    assert entry_for(found, {"c-2"})


def test_comite_local_usage_and_input_errors(year, tmp_path):
    bad = run("report", "comite-local", "--departement", "166", "--decisions", year.decisions, *year.options)
    assert bad.code == 2 and "« 166 » inconnu — vouliez-vous dire" in bad.stderr
    wrong = run("report", "comite-local", "--departement", "16", "--decisions", year.backlog, *year.options)
    assert wrong.code == 1 and wrong.err_lines == [
        f"{year.backlog}:1:1: colonne « niveau » absente : ce n'est pas un fichier de décisions (produisez-le avec "
        "« aiguillage batch CARNET -o DECISIONS »)"]
    assert run("report", "comite-local", "--departement", "16", "--decisions", year.decisions,
               "-o", tmp_path / "x.pdf").code == 2


def test_comite_regional_spreadsheet_to_fill_in(year):
    out = year.root / "financeurs-53.xlsx"
    result = run("report", "comite-regional", "--region", "53", "--decisions", year.decisions, "-o", out,
                 *year.options)
    assert result.code == 0, result.stderr
    f = year.frame
    expected = f[(f.region == "53") & f.niveau.isin(["agence", "operateur"])]
    book = openpyxl.load_workbook(out)
    sheet = book["demandes"]
    header = [c.value for c in sheet[1]]
    assert header == list(COLUMNS) and set(TO_FILL) <= set(header)
    rows = [dict(zip(header, (c.value for c in row))) for row in sheet.iter_rows(min_row=2)]
    assert {r["id"] for r in rows} == ids(expected) and len(rows) == len(expected)
    by_id = expected.set_index("id")
    for r in rows[:40]:
        source = by_id.loc[r["id"]]
        assert r["montant"] == float(source.montant)
        assert r["delegue_territorial"] == source.delegue_territorial
        assert r["instruction"] == ("instruisible" if source.instruction == "" else source.instruction)
        assert r["decision_comite"] is None
    groups = [r["groupe"] for r in rows]
    assert groups.index(next(g for g in groups if g.startswith("Opérateur"))) > max(
        i for i, g in enumerate(groups) if g.startswith("Agence"))  # the agence's demandes first
    validation = sheet.data_validations.dataValidation[0]
    assert validation.formula1 == '"' + ",".join(DECISION_CHOICES) + '"'
    summary = book["synthese"]
    total = sum(row[3].value for row in summary.iter_rows(min_row=2))
    listed = [i for row in summary.iter_rows(min_row=2) for i in row[6].value.split()]
    assert total == len(expected) and set(listed) == ids(expected)


def test_comite_regional_csv_html_and_text(year):
    f = year.frame
    expected = f[(f.region == "53") & f.niveau.isin(["agence", "operateur"])]
    csv_out = year.root / "financeurs-53.csv"
    assert run("report", "comite-regional", "--region", "53", "--decisions", year.decisions, "-o", csv_out,
               *year.options).code == 0
    table = pd.read_csv(csv_out, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert ids(table) == ids(expected) and list(table.columns) == list(COLUMNS)
    html_out = year.root / "financeurs-53.html"
    assert run("report", "comite-regional", "--region", "53", "--decisions", year.decisions, "-o", html_out,
               *year.options).code == 0
    found = traced(html_out.read_text(encoding="utf-8"))
    assert entry_for(found, ids(expected))
    finistere = expected[expected.departement == "29"]
    assert entry_for(found, ids(finistere[finistere.instruction != ""]))
    text = run("report", "comite-regional", "--region", "53", "--decisions", year.decisions, *year.options)
    assert text.code == 0 and text.stdout.startswith(
        f"Comité régional des financeurs, région 53 : {len(expected)} demandes orientées vers l'agence ou un opérateur")


def test_impact_json_carries_the_rows_behind_every_count(year):
    out = year.root / "impact.json"
    result = run("report", "impact", "--decisions", year.decisions, "--previous", year.previous, "--pas", "trimestre",
                 "-o", out, *year.options)
    assert result.code == 0, result.stderr
    m = json.loads(out.read_text(encoding="utf-8"))
    f = year.frame
    assert m["demandes"]["n"] == len(f) == 1200
    assert sum(c["n"] for c in m["niveaux"].values()) == len(f)
    local = f[f.niveau.isin(["communal", "intercommunal", "departemental", "regional"])]
    assert set(m["locale"]["ids"]) == ids(local) and m["locale"]["n"] == len(local)
    assert sum(c["n"] for c in m["causes_escalade"]) == m["escalades"]["n"] == len(f) - len(local)
    complexe = next(c for c in m["causes_escalade"] if c["code"] == "regle:projet-complexe")
    assert set(complexe["ids"]) == ids(f[~f.niveau.isin(local.niveau.unique()) & f.regles.str.contains("projet-complexe")])
    morbihan = next(d for d in m["par_departement"] if d["departement"] == "56")
    assert set(morbihan["niveaux"]["agence"]["ids"]) == ids(f[(f.departement == "56") & (f.niveau == "agence")])
    bretagne = next(r for r in m["par_region"] if r["region"] == "53")
    assert bretagne["demandes"]["n"] == len(f[f.region == "53"])
    t4 = next(p for p in m["dans_le_temps"] if p["periode"] == "2026-T4")
    assert set(t4["demandes"]["ids"]) == ids(f[f.date_depot >= "2026-10-01"])
    assert sum(p["demandes"]["n"] for p in m["dans_le_temps"]) == len(f)
    assert set(m["non_instruisibles"]["ids"]) == ids(f[f.instruction != ""])
    moves = m["precedent"]["mouvements"]
    before = pd.read_csv(year.previous, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    rank = {lv: i for i, lv in enumerate(["communal", "intercommunal", "departemental", "regional", "operateur",
                                          "agence"])}
    joined = f.merge(before[["id", "niveau"]], on="id", suffixes=("", "_avant"))
    closer = joined[joined.niveau.map(rank) < joined.niveau_avant.map(rank)]
    assert set(moves["rapproches"]["ids"]) == ids(closer) and len(closer) > 0  # the fixture offers serve closer
    assert moves["apparies"]["n"] == 1200 and moves["nouveaux"]["n"] == 0


def test_impact_page_and_text(year):
    out = year.root / "impact.html"
    assert run("report", "impact", "--decisions", year.decisions, "-o", out, *year.options).code == 0
    page = out.read_text(encoding="utf-8")
    found = traced(page)
    f = year.frame
    assert entry_for(found, ids(f[(f.region == "84") & (f.niveau == "operateur")]))
    assert entry_for(found, ids(f[f.date_depot.str.startswith("2026-03")]))
    text = run("report", "impact", "--decisions", year.decisions, *year.options)
    assert text.code == 0 and text.stdout.startswith("Mesures de subsidiarité — ")
    assert "Causes des escalades :" in text.stdout and "Par mois de dépôt :" in text.stdout


DSFR_MARK = ":root{--blue-france-sun-113-625:#000091}"


@pytest.fixture
def dsfr(tmp_path) -> Path:
    """A local installation of the Système de design de l'État, as npm lays it out."""
    folder = tmp_path / "node_modules" / "@gouvfr" / "dsfr"
    (folder / "dist").mkdir(parents=True)
    (folder / "dist" / "dsfr.min.css").write_text(DSFR_MARK, encoding="utf-8")
    return folder


def test_every_command_that_writes_html_takes_the_state_design_system(year, dsfr, tmp_path):
    """--dsfr DIR: the page carries the DSFR's styles inline, before its own, and stays self-contained."""
    from matcher.templating import stylesheet

    decisions = ["--decisions", year.decisions]
    outputs = {
        "comite-local": ["report", "comite-local", "--departement", "16", *decisions],
        "comite-regional": ["report", "comite-regional", "--region", "53", *decisions],
        "impact": ["report", "impact", *decisions],
    }
    for name, command in outputs.items():
        out = tmp_path / f"{name}.html"
        result = run(*command, "-o", out, "--dsfr", dsfr, *year.options)
        assert result.code == 0, result.stderr
        page = out.read_text(encoding="utf-8")
        styles = re.findall(r"<style>(.*?)</style>", page, re.S)
        assert styles == [DSFR_MARK, stylesheet()], name
        traced(page)
    coverage = run("coverage", "--departement", "16", "--format", "html", "--dsfr", dsfr, *year.options)
    assert coverage.code == 0 and re.findall(r"<style>(.*?)</style>", coverage.stdout, re.S) == [DSFR_MARK, stylesheet()]
    without = run("report", "impact", *decisions, "-o", tmp_path / "neutre.html", *year.options)
    assert without.code == 0
    assert re.findall(r"<style>(.*?)</style>", (tmp_path / "neutre.html").read_text(encoding="utf-8"), re.S) == [stylesheet()]


def test_a_dsfr_folder_without_its_stylesheet_is_refused_before_any_work(year, tmp_path):
    out = tmp_path / "comite.html"
    for command in (["report", "comite-local", "--departement", "16", "--decisions", year.decisions, "-o", out],
                    ["report", "impact", "--decisions", year.decisions, "-o", out],
                    ["coverage", "--format", "html"]):
        result = run(*command, "--dsfr", tmp_path, *year.options)
        assert result.code == 1 and result.stdout == "", command
        assert result.err_lines == [f"{tmp_path} : pas de dsfr.min.css (ni dist/dsfr.min.css) : indiquez le dossier "
                                    "du DSFR installé"]
        assert not out.exists()
    missing = run("report", "impact", "--decisions", year.decisions, "--dsfr", tmp_path / "absent", *year.options)
    assert missing.code == 2 and "--dsfr" in missing.stderr
