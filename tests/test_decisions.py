"""A decisions file read back: every row findable, rows in error set apart, why a demande went far,
and the DT's opinion as it stood on a given day (`date_avis_dt`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from clirun import run
from conftest import TODAY
from matcher.decisions import NO_DAY, opinion_status, opinions_as_of, read_decisions

D = dt.date


def day(text: str) -> int:
    return D.fromisoformat(text).toordinal() if text else NO_DAY


@pytest.mark.parametrize("avis, date_avis, depot, status, since", [
    ("favorable", "2026-10-01", "2026-09-01", "favorable", None),
    ("favorable", "2026-12-01", "2026-09-01", "en_attente", "2026-09-01"),  # given after the day asked about
    ("favorable", "", "2026-09-01", "favorable", None),
    ("defavorable", "2026-11-20", "2026-11-01", "defavorable", None),
    ("en_attente", "2026-10-15", "2026-09-01", "en_attente", "2026-10-15"),  # since the DT was asked
    ("en_attente", "2026-08-01", "2026-09-01", "en_attente", "2026-09-01"),  # not before the filing
    ("en_attente", "2026-12-15", "2026-09-01", "absent", "2026-09-01"),  # asked after that day
    ("en_attente", "", "2026-09-01", "en_attente", "2026-09-01"),
    ("", "", "2026-09-01", "absent", "2026-09-01"),
])
def test_the_dt_opinion_as_it_stood_on_a_day(avis, date_avis, depot, status, since):
    got_status, got_since = opinions_as_of(np.array([avis], dtype=object), np.array([day(date_avis)]),
                                           np.array([day(depot)]), TODAY)
    assert got_status[0] == status
    assert got_since[0] == (day(since) if since else NO_DAY)


BACKLOG = (
    "id;intitule;porteur;thematiques;besoins;complexite;saisine;date_depot;avis_dt;date_avis_dt\n"
    "A;Place du marché;16015;espace-public;etude;simple;dt;2026-03-02;;\n"
    "B;Projet complexe;16015;espace-public;amo;complexe;dt;2026-04-10;en_attente;2026-04-12\n"
    "C;Gymnase;16015;sport;amo;simple;dt;2026-05-01;favorable;2026-05-20\n"
    "D;Inconnue;99999;eau;amo;simple;dt;2026-05-01;;\n"
    "E;Saisine directe;16015;espace-public;amo;simple;directe;2026-06-01;;\n"
)


@pytest.fixture
def decisions_file(tmp_path: Path) -> Path:
    source = tmp_path / "carnet.csv"
    source.write_text(BACKLOG, encoding="utf-8")
    out = tmp_path / "decisions.csv"
    assert run("batch", source, "-o", out, "--date", TODAY.isoformat()).code == 0
    return out


def test_rows_are_found_by_their_id_and_rows_in_error_set_apart(decisions_file):
    d = read_decisions(decisions_file)
    assert d.total == 5 and d.error_refs == ["D"]
    assert d.refs == ["A", "B", "C", "E"] and d.date_decision == TODAY
    rows = d.rows.set_index("ref")
    assert rows.loc["B", "cause_code"] == "regle:projet-complexe" and not rows.loc["B", "instruisible"]
    assert rows.loc["B", "cause_escalade"] == "Règle « projet-complexe » : niveaux locaux ignorés"
    assert rows.loc["C", "niveau"] == "agence" and rows.loc["C", "instruisible"]  # favourable opinion
    assert rows.loc["C", "cause_code"] == "aucune"
    assert rows.loc["A", "local"] and rows.loc["A", "cause_code"] == ""
    assert rows.loc["E", "avis_requis"] and not rows.loc["E", "instruisible"]  # sent directly, no opinion yet
    status = opinion_status(d.rows.set_index("ref", drop=False), TODAY)
    assert status.loc["B", "avis"] == "en_attente" and status.loc["B", "jours_attente"] == (TODAY - D(2026, 4, 12)).days
    assert status.loc["E", "avis"] == "absent" and status.loc["E", "attente_depuis"].date() == D(2026, 6, 1)


def test_a_row_without_its_own_id_is_found_by_its_line_the_others_by_their_id(tmp_path):
    source = tmp_path / "carnet.csv"
    source.write_text(BACKLOG.replace("\nB;", "\nA;").replace("\nE;", "\n;"), encoding="utf-8")
    out = tmp_path / "decisions.xlsx"
    assert run("batch", source, "-o", out, "--date", TODAY.isoformat()).code == 0
    d = read_decisions(out)
    assert d.refs == ["ligne 2", "ligne 3", "C", "ligne 6"] and d.error_refs == ["D"]
    assert d.rows["identifie"].tolist() == [False, False, True, False]


def test_a_decisions_file_resaved_with_french_dates_reads_the_same(decisions_file, tmp_path):
    import pandas as pd

    frame = pd.read_csv(decisions_file, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    for column in ("date_depot", "date_avis_dt", "date_decision"):
        frame[column] = [f"{v[8:10]}/{v[5:7]}/{v[:4]}" if v else "" for v in frame[column]]
    frame.loc[0, "date_depot"] += " 00:00"  # as a spreadsheet may add a time
    resaved = tmp_path / "resaved.csv"
    frame.to_csv(resaved, sep=";", index=False)
    before, after = read_decisions(decisions_file), read_decisions(resaved)
    assert after.date_decision == before.date_decision == TODAY
    for column in ("date_depot", "date_avis_dt"):
        assert after.rows[column].equals(before.rows[column])
    for command in (["alertes"], ["report", "impact"], ["report", "comite-local", "--departement", "16", "-o",
                                                         tmp_path / "local.html"]):
        result = run(*command, "--decisions", resaved, "--date", TODAY.isoformat())
        assert result.code == 0, result.stderr
        assert "Traceback" not in result.stderr and "erreur interne" not in result.stderr


def test_route_says_the_opinion_and_its_date(tmp_path):
    import json

    demande = tmp_path / "demande.yaml"
    demande.write_text('porteur: "16015"\nthematiques: [eau]\nbesoins: [amo]\nsaisine: directe\n'
                       "avis_dt: favorable\ndate_avis_dt: 2026-11-02\n", encoding="utf-8")
    data = json.loads(run("route", demande, "--format", "json", "--date", TODAY.isoformat()).stdout)
    assert data["demande"]["avis_dt"] == "favorable" and data["demande"]["date_avis_dt"] == "2026-11-02"
    assert data["avis_dt_requis"] is True and data["instruisible"] is True
    text = run("route", demande, "--date", TODAY.isoformat()).stdout
    assert "  Avis du délégué territorial requis : oui (avis favorable du 02/11/2026)" in text.splitlines()
