"""Backlogs as offices write them: one decision per row, nothing lost, what changed and why."""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from clirun import run
from conftest import FIXTURES, TODAY
from matcher import backlog as backlog_module
from matcher.backlog import read_backlog, write_decisions
from matcher.batch import route_backlog
from matcher.render import examen_summary
from matcher.workspace import load_workspace
from matcher.yamlsource import dump

MINI = FIXTURES / "ok" / "mini-catalogue"
MINI_RULES = FIXTURES / "ok" / "mini-rules"
DATE = ["--date", TODAY.isoformat()]

FRENCH_OFFICE = (
    "id;intitule;porteur;thematiques;besoins;complexite;population\n"
    "1;Cœur de bourg;16015;revitalisation;diagnostic;simple;\n"
    "2;École;77000;batiments-publics;amo;simple;\n"
    "3;Voirie;29155;voirie-reseaux;etude;simple;abc\n"
    "4;Friches;1001;friches;diagnostic;simple;\n"
    "5;;69381;habitat;conseil\n"
    "6;Cimetière;11069;urbanisme;diagnostique;simple;\n"
    '7;=HYPERLINK("http://x");75056;urbanisme;conseil;complexe;\n'
)


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=None, engine="python", dtype=str, keep_default_na=False, encoding="utf-8-sig")


@pytest.fixture
def office_backlog(tmp_path: Path) -> Path:
    path = tmp_path / "carnet.csv"
    path.write_bytes(FRENCH_OFFICE.encode("cp1252"))
    return path


def test_a_french_spreadsheet_with_broken_rows(office_backlog: Path, tmp_path: Path):
    out = tmp_path / "decisions.csv"
    result = run("batch", office_backlog, "-o", out, *DATE)
    assert result.code == 0 and result.stdout == ""
    decisions = read_csv(out)
    assert list(decisions["id"]) == ["1", "2", "3", "4", "5", "6", "7"]  # one row per input row, same order
    assert list(decisions.columns[:7]) == ["id", "intitule", "porteur", "thematiques", "besoins", "complexite",
                                           "population"]
    assert decisions.loc[0, "intitule"] == "Cœur de bourg"  # Windows-1252 read right
    assert list(decisions["erreur"]) == [
        "",
        "ligne 3, colonne porteur : 77000 est un code postal, pas un code INSEE : communes desservies : "
        "Livry-sur-Seine (77255), Melun (77288), La Rochette (77389), Vaux-le-Pénil (77487)",
        "ligne 4, colonne population : nombre attendu, pas « abc »",
        "",
        "ligne 6 : 5 cellules au lieu de 7",
        "ligne 7, colonne besoins : mot inconnu « diagnostique » — vouliez-vous dire « diagnostic » ?",
        "",
    ]
    assert decisions.loc[3, "territoire"] == "commune:01001"  # an INSEE code that lost its leading zero
    assert decisions.loc[6, "intitule"] == "'=HYPERLINK(\"http://x\")"  # not run as a formula
    assert decisions.loc[6, "niveau"] == "agence" and decisions.loc[6, "avis_dt_requis"] == "oui"
    assert (decisions.loc[[1, 2, 4, 5], "niveau"] == "").all()
    assert result.err_lines[0] == f"7 demandes : 3 orientées, 4 en erreur → {out}"


def test_strict_fails_on_any_broken_row_but_writes_the_file(office_backlog: Path, tmp_path: Path):
    out = tmp_path / "decisions.csv"
    assert run("batch", office_backlog, "-o", out, "--strict", *DATE).code == 1
    assert len(read_csv(out)) == 7


def test_json_summary_on_stdout(office_backlog: Path, tmp_path: Path):
    import json

    result = run("batch", office_backlog, "-o", tmp_path / "d.parquet", "--format", "json", *DATE)
    summary = json.loads(result.stdout)
    assert (summary["lignes"], summary["erreurs"], summary["encodage_entree"]) == (7, 4, "cp1252")
    assert sum(summary["par_niveau"].values()) == 3
    assert result.stderr == ""


def test_excel_and_parquet_in_and_out(office_backlog: Path, tmp_path: Path):
    run("batch", office_backlog, "-o", tmp_path / "d.xlsx", *DATE)
    excel = pd.read_excel(tmp_path / "d.xlsx", dtype=str, keep_default_na=False)
    assert len(excel) == 7 and excel.loc[3, "territoire"] == "commune:01001"
    run("batch", tmp_path / "d.xlsx", "-o", tmp_path / "d2.parquet", *DATE)  # a decisions file read back as input
    parquet = pd.read_parquet(tmp_path / "d2.parquet")
    routed = excel["niveau"] != ""
    assert list(parquet["niveau"][routed]) == list(excel["niveau"][routed])
    assert parquet.loc[4, "niveau"] == "departemental"  # the short line, padded, is a whole demande once in Excel
    assert list(parquet.columns).count("niveau") == 1  # decision columns are replaced, not repeated


def test_separator_and_encoding_can_be_forced(tmp_path: Path):
    path = tmp_path / "carnet.csv"
    path.write_text("porteur,thematiques,besoins\n16015,revitalisation,diagnostic\n", encoding="utf-8")
    assert run("batch", path, "-o", tmp_path / "a.csv", *DATE).code == 0
    assert read_csv(tmp_path / "a.csv").loc[0, "niveau"] == "departemental"  # the CAUE de la Charente
    forced = run("batch", path, "-o", tmp_path / "b.csv", "--separateur", ";", *DATE)
    assert forced.code == 1
    assert forced.stderr.strip().startswith(f"{path}:1:1: colonne obligatoire absente : porteur ou commune")


def test_missing_column_and_unreadable_file_stop_at_once(tmp_path: Path):
    path = tmp_path / "carnet.csv"
    path.write_text("porteur;besoins\n16015;diagnostic\n", encoding="utf-8")
    result = run("batch", path, "-o", tmp_path / "d.csv", *DATE)
    assert result.code == 1
    assert result.stderr == (f"{path}:1:1: colonne obligatoire absente : thematiques "
                             "(colonnes trouvées : porteur, besoins)\n")
    assert not (tmp_path / "d.csv").exists()
    binary = tmp_path / "image.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    result = run("batch", binary, "-o", tmp_path / "d.csv", *DATE)
    assert (result.code, result.stderr) == (1, f"{binary}: fichier binaire : ce n'est pas un CSV\n")
    result = run("batch", tmp_path / "absent.csv", "-o", tmp_path / "d.csv", *DATE)
    assert (result.code, result.stderr) == (1, f"{tmp_path / 'absent.csv'}: fichier introuvable\n")


def test_the_output_has_the_usual_permissions(office_backlog: Path, tmp_path: Path):
    import os

    out = tmp_path / "decisions.csv"
    run("batch", office_backlog, "-o", out, *DATE)
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_the_output_is_written_atomically(office_backlog: Path, tmp_path: Path, monkeypatch):
    out = tmp_path / "decisions.csv"
    out.write_text("ancien contenu\n", encoding="utf-8")

    def interrupted(table, path, separator, encoding):
        Path(path).write_text("moitié d'un fich", encoding="utf-8")
        raise KeyboardInterrupt

    monkeypatch.setattr(backlog_module, "_write_csv", interrupted)
    assert run("batch", office_backlog, "-o", out, *DATE).code == 130
    assert out.read_text(encoding="utf-8") == "ancien contenu\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["carnet.csv", "decisions.csv"]


def test_formula_cells_are_neutralised_but_numbers_are_not(tmp_path: Path):
    import pyarrow as pa

    table = pa.table({"a": ["=1+1", "+33 6", "-5", "@SUM(A1)", "-2,5", "texte", "\tx"]})
    write_decisions(table, tmp_path / "d.csv")
    assert list(read_csv(tmp_path / "d.csv")["a"]) == ["'=1+1", "'+33 6", "-5", "'@SUM(A1)", "-2,5", "texte", "'\tx"]


def test_projets_territoire_schema_is_read_as_it_is(tmp_path: Path):
    example = FIXTURES / "ok" / "projets-territoire" / "projets-territoire_exemple-valide.csv"
    result = run("batch", example, "-o", tmp_path / "d.csv", *DATE)
    decisions = read_csv(tmp_path / "d.csv")
    assert result.code == 0 and len(decisions) == 5
    # The schema's own example uses invented SIRETs: each row says so, none is lost.
    assert decisions.loc[0, "erreur"].startswith("ligne 2, colonne porteur : SIREN inconnu : 216901234")
    real = tmp_path / "projets.csv"
    real.write_text(example.read_text(encoding="utf-8").replace("21690123400019", "21690123100018")
                    .replace("24250123400018", "20004697700019"), encoding="utf-8")
    run("batch", real, "-o", tmp_path / "r.csv", *DATE)
    routed = read_csv(tmp_path / "r.csv")
    assert list(routed.loc[:1, "territoire"]) == ["commune:69123", "epci:200046977"]
    # M57 90-211/90-212 (écoles), leviers rénovation, électricité renouvelable, sobriété tertiaire;
    # M57 90-581/90-84/90-87 (réserves foncières, voirie, circulations douces), leviers vélo, déplacements.
    assert list(routed.loc[:1, "thematiques"]) == ["batiments-publics|renovation-energetique|energies-renouvelables",
                                                   "foncier|voirie-reseaux|mobilites-actives|mobilite"]
    assert list(routed.loc[:1, "besoins"]) == ["etude", "amo"]
    assert routed.loc[0, "programmes"] == "crte" and routed.loc[0, "montant"] == "450000"


def test_rerunning_after_a_catalogue_edit_shows_what_changed_and_why(tmp_path: Path):
    backlog = tmp_path / "carnet.csv"
    backlog.write_text(
        "id;porteur;thematiques;besoins\n"
        "a;16089;urbanisme;conseil\n"      # caue-16
        "b;16089;eau;diagnostic\n"         # atd-16
        "c;16015;friches;diagnostic\n"     # population 41 908 > 20 000 for atd-16: epf-na
        "d;29155;eau;conseil\n",           # nothing in Finistère: sur-mesure
        encoding="utf-8",
    )
    run("batch", backlog, "-o", tmp_path / "v1.csv", "--catalogue", MINI, "--rules", MINI_RULES, *DATE)
    edited = tmp_path / "catalogue"
    shutil.copytree(MINI, edited)
    offres = edited / "offres.yaml"
    offres.write_text(offres.read_text().replace("      population: {max: 20000}", "      population: {max: 50000}"))
    result = run("batch", backlog, "-o", tmp_path / "v2.csv", "--previous", tmp_path / "v1.csv",
                 "--catalogue", edited, "--rules", MINI_RULES, *DATE)
    v2 = read_csv(tmp_path / "v2.csv")
    assert list(v2["changement"]) == ["inchange", "inchange", "modifie", "inchange"]
    assert (v2.loc[2, "ancienne_offre"], v2.loc[2, "offre_id"]) == ("epf-na", "atd-16")
    assert v2.loc[2, "cause"] == "offre atd-16 retenue désormais : ses conditions tiennent"
    assert "Changements : 3 inchangées, 0 nouvelle, 1 modifiée" in result.err_lines
    assert v2.loc[0, "version_catalogue"] != read_csv(tmp_path / "v1.csv").loc[0, "version_catalogue"]


def test_capacity_is_respected_and_explained(tmp_path: Path):
    catalogue = tmp_path / "catalogue"
    shutil.copytree(MINI, catalogue)
    offres = catalogue / "offres.yaml"
    offres.write_text(offres.read_text().replace("    cout: gratuit\n    source: https://www.caue16.fr/",
                                                 "    capacite: 3\n    cout: gratuit\n    source: https://www.caue16.fr/"))
    rows = ["id;porteur;thematiques;besoins;date_depot"]
    rows += [f"{i};16089;urbanisme;conseil;2026-0{1 + i % 9}-1{i % 10}" for i in range(8)]
    backlog = tmp_path / "carnet.csv"
    backlog.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = run("batch", backlog, "-o", tmp_path / "d.csv", "--capacite", "--catalogue", catalogue,
                 "--rules", MINI_RULES, *DATE)
    assert result.code == 0
    d = read_csv(tmp_path / "d.csv")
    assert Counter(d["offre_id"]) == {"caue-16": 3, "atd-16": 5}
    earliest = d.sort_values("date_depot")["id"].head(3)
    assert set(d[d.offre_id == "caue-16"]["id"]) == set(earliest)  # the earliest requests keep the closest offer
    moved = d[d.offre_id == "atd-16"]
    assert set(moved["capacite"]) == {"caue-16 complète (3/an) : orientée vers atd-16"}
    explanations = dict(zip(*(read_csv(tmp_path / "d.explications.csv")[c] for c in ("explication", "examen"))))
    assert all("caue-16: capacité annuelle atteinte (3 demandes en 2026)" in explanations[e]
               for e in moved["explication"])


def test_batch_and_route_agree(tmp_path: Path):
    workspace = load_workspace(today=TODAY)
    router = workspace.router()
    voc = workspace.catalogue.vocabularies
    import random

    rng = random.Random(7)
    themes, needs = sorted(voc["thematiques"].terms), sorted(voc["besoins"].terms)
    porteurs = ["16015", "16089", "77288", "11069", "69123", "69381", "29155", "commune:97411", "75112", "2A004", "200046977",
                "departement:974", "commune:01340", "13201", "commune:98735"]
    lines = ["id;porteur;thematiques;besoins;complexite;saisine;programmes;population"]
    for i in range(300):
        lines.append(";".join([
            str(i), rng.choice(porteurs), "|".join(rng.sample(themes, rng.choice([1, 2]))), rng.choice(needs),
            rng.choice(["simple"] * 9 + ["complexe"]), rng.choice(["dt"] * 9 + ["directe"]),
            rng.choice(["", "", "pvd", "acv", "vda"]), rng.choice(["", "", "", "800", "25000"]),
        ]))
    path = tmp_path / "carnet.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    workspace.graph.add_all_communes()
    result = route_backlog(workspace, router, read_backlog(path), TODAY)
    table = result.table.to_pandas()
    explanations = dict(zip(*(c.to_pylist() for c in result.explanations.columns)))
    for row in table.itertuples():
        data = {k: getattr(row, k) for k in ("porteur", "thematiques", "besoins", "complexite", "saisine",
                                             "programmes", "population")}
        decision = router.route(*workspace.prepare(data), TODAY)
        assert (row.niveau, row.offre_id, row.motif, row.examen, explanations[row.explication]) == (
            decision.niveau, decision.offre.id, decision.motif, examen_summary(decision, reasons=False),
            examen_summary(decision)
        ), row.id
        assert row.avis_dt_requis == ("oui" if decision.avis_dt_requis else "non")


def test_route_and_batch_are_decided_by_the_same_function(tmp_path: Path, monkeypatch):
    """One decider: `route` is a backlog of one, and every command goes through `Walk.decide`."""
    from matcher.decide import Walk

    decided: list[int] = []
    original = Walk.decide

    def spy(self, rows, *args, **kwargs):
        decided.append(len(rows))
        return original(self, rows, *args, **kwargs)

    monkeypatch.setattr(Walk, "decide", spy)
    mini = ["--catalogue", MINI, "--rules", MINI_RULES, *DATE]
    route = run("route", "--porteur", "16089", "--thematique", "urbanisme", "--besoin", "conseil", "--format", "json",
                *mini)
    backlog = tmp_path / "carnet.csv"
    backlog.write_text("porteur;thematiques;besoins\n16089;urbanisme;conseil\n16015;eau;diagnostic\n", encoding="utf-8")
    batch = run("batch", backlog, "-o", tmp_path / "d.csv", *mini)
    assert (route.code, batch.code) == (0, 0)
    assert decided == [1, 2]

    def broken(self, *args, **kwargs):
        raise RuntimeError("décideur hors service")

    monkeypatch.setattr(Walk, "decide", broken)  # nothing else can decide
    assert run("route", "--porteur", "16089", "--thematique", "urbanisme", "--besoin", "conseil", *mini).code == 3
    assert run("batch", backlog, "-o", tmp_path / "e.csv", *mini).code == 3


def test_parquet_input_keeps_its_types_as_text(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": [1, 2, 3], "porteur": [16089, 1001, 16015],  # numbers, as a tool may write them
                      "thematiques": ["urbanisme", "friches", "eau"], "besoins": ["conseil", "diagnostic", "etude"],
                      "population": [None, 700, 41908]})
    pq.write_table(table, tmp_path / "carnet.parquet")
    result = run("batch", tmp_path / "carnet.parquet", "-o", tmp_path / "d.parquet", "--catalogue", MINI,
                 "--rules", MINI_RULES, *DATE)
    assert result.code == 0, result.stderr
    d = pd.read_parquet(tmp_path / "d.parquet")
    assert list(d["offre_id"]) == ["caue-16", "sur-mesure", ""]
    assert list(d["id"]) == ["1", "2", "3"] and d.loc[1, "population"] == "700"
    assert d.loc[1, "territoire"] == "commune:01001"  # the INSEE code that lost its leading zero
    assert d.loc[2, "erreur"] == "ligne 3, colonne besoins : mot inconnu « etude »"  # a Parquet file has no header line


def test_parquet_lists_missing_numbers_and_zoned_timestamps(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "porteur": ["16015", "16015"],
        "thematiques": pa.array([["eau", "assainissement"], ["eau"]], pa.list_(pa.string())),  # a list column
        "besoins": ["amo", "amo"],
        "population": [float("nan"), 41908.0],  # pandas' missing number
        "date_depot": pa.array([dt.datetime(2026, 3, 11, 23, 30, tzinfo=dt.timezone.utc)] * 2,
                               pa.timestamp("us", tz="Europe/Paris")),  # 00:30 on 12 March, in Paris
    })
    pq.write_table(table, tmp_path / "carnet.parquet")
    result = run("batch", tmp_path / "carnet.parquet", "-o", tmp_path / "d.csv", *DATE)
    assert result.code == 0, result.stderr
    d = read_csv(tmp_path / "d.csv")
    assert list(d["erreur"]) == ["", ""]
    assert list(d["thematiques"]) == ["eau|assainissement", "eau"] and list(d["population"]) == ["", "41908"]
    assert list(d["date_depot"]) == ["2026-03-12T00:30:00"] * 2
    twice = pa.Table.from_arrays([pa.array(["16015"]), pa.array(["eau"]), pa.array(["amo"]), pa.array(["eau"])],
                                 names=["porteur", "thematiques", "besoins", "thematiques"])
    pq.write_table(twice, tmp_path / "deux.parquet")
    result = run("batch", tmp_path / "deux.parquet", "-o", tmp_path / "e.csv", *DATE)
    assert (result.code, result.stderr) == (1, f"{tmp_path / 'deux.parquet'}:1:4: colonne « thematiques » en double "
                                               "dans l'en-tête\n")


def test_the_code_column_is_read_before_the_column_of_names(tmp_path: Path):
    path = tmp_path / "carnet.csv"
    path.write_text("Commune;Code INSEE;thematiques;besoins\nSaint-Amant;16306;eau;amo\nBrie;16061;eau;amo\n"
                    "Pau;64445.0;eau;amo\n", encoding="utf-8")
    result = run("batch", path, "-o", tmp_path / "d.csv", *DATE)
    d = read_csv(tmp_path / "d.csv")
    assert list(d["erreur"]) == ["", "", ""], result.stderr  # no name to guess: « Brie » names five communes
    assert list(d["territoire"]) == ["commune:16306", "commune:16061", "commune:64445"]


def test_empty_rows_hold_no_demande_and_move_no_line(tmp_path: Path):
    csv_path = tmp_path / "carnet.csv"
    csv_path.write_text('porteur;thematiques;besoins\n16015;eau;amo\n\nxx;eau;amo\n;;\n16015;eau;"amo\n\nx"\n'
                        "yy;eau;amo\n;;\n\n", encoding="utf-8")
    result = run("batch", csv_path, "-o", tmp_path / "d.csv", *DATE)
    assert result.code == 0
    assert list(read_csv(tmp_path / "d.csv")["erreur"]) == [
        "",
        "ligne 4, colonne porteur : porteur inconnu : « xx » (ni code INSEE, ni SIREN, ni departement:NN, ni nom de "
        "commune)",
        "ligne 6, colonne besoins : mot inconnu « amo\n\nx » — vouliez-vous dire « amo » ?",  # one cell, one row
        "ligne 7, colonne porteur : porteur inconnu : « yy » (ni code INSEE, ni SIREN, ni departement:NN, ni nom de "
        "commune)",
    ]
    assert result.err_lines[:2] == [f"4 demandes : 1 orientée, 3 en erreur → {tmp_path / 'd.csv'}",
                                    "Lignes vides ignorées (aucune demande) : 3, 5"]
    one_line = "  erreur : ligne 6, colonne besoins : mot inconnu « amo↵↵x » — vouliez-vous dire « amo » ?"
    assert one_line in result.err_lines  # stderr: one line per error, a cell's line breaks shown as ↵
    import openpyxl

    book = openpyxl.Workbook()
    for row in (["porteur", "thematiques", "besoins"], ["16015", "eau", "amo"], [None, None, None], ["xx", "eau", "amo"]):
        book.active.append(row)
    book.active.cell(row=40, column=1).number_format = "0"  # a formatted empty row far below
    book.save(tmp_path / "carnet.xlsx")
    result = run("batch", tmp_path / "carnet.xlsx", "-o", tmp_path / "d.xlsx", *DATE)
    decisions = pd.read_excel(tmp_path / "d.xlsx", dtype=str, keep_default_na=False)
    assert list(decisions["erreur"])[1].startswith("ligne 4, colonne porteur : porteur inconnu : « xx »")
    assert len(decisions) == 2 and "Ligne vide ignorée (aucune demande) : 3" in result.err_lines


def test_a_title_above_the_header_and_demandes_on_another_sheet(tmp_path: Path):
    path = tmp_path / "carnet.csv"
    path.write_text("Demandes d'ingénierie — DDT de la Charente;;\n\nporteur;thematiques;besoins\n16015;eau;amo\n"
                    "xx;eau;amo\n", encoding="utf-8")
    result = run("batch", path, "-o", tmp_path / "d.csv", *DATE)
    assert result.code == 0
    assert read_csv(tmp_path / "d.csv")["erreur"][1].startswith("ligne 5, colonne porteur : porteur inconnu : « xx »")
    assert ("Lecture : en-tête lu à la ligne 3 : les lignes au-dessus (un titre ?) sont laissées de côté"
            in result.err_lines)
    excel_says = tmp_path / "excel.csv"  # the separator declared on a line of its own, as Excel may write it
    excel_says.write_text("sep=,\nporteur,thematiques,besoins\nxx,eau,amo\n", encoding="utf-8")
    assert run("batch", excel_says, "-o", tmp_path / "e.csv", *DATE).code == 0
    assert read_csv(tmp_path / "e.csv")["erreur"][0].startswith("ligne 3, colonne porteur : porteur inconnu")
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Lisez-moi"
    book.active.append(["Carnet exporté le 03/12/2026"])
    sheet = book.create_sheet("Demandes")
    for row in (["Suivi 2026"], [], ["Porteur", "Thématiques", "Besoins"], ["16015", "eau", "amo"], ["xx", "eau", "amo"]):
        sheet.append(row)
    book.save(tmp_path / "carnet.xlsx")
    result = run("batch", tmp_path / "carnet.xlsx", "-o", tmp_path / "d.xlsx", *DATE)
    decisions = pd.read_excel(tmp_path / "d.xlsx", dtype=str, keep_default_na=False)
    assert list(decisions["niveau"])[0] == "departemental"
    assert list(decisions["erreur"])[1].startswith("ligne 5, colonne Porteur : porteur inconnu : « xx »")
    assert result.err_lines[1:3] == [
        "Lecture : demandes lues sur la feuille « Demandes » (les feuilles avant elle n'ont pas leurs colonnes)",
        "Lecture : en-tête lu à la ligne 3 : les lignes au-dessus (un titre ?) sont laissées de côté"]
    empty = openpyxl.Workbook()
    empty.save(tmp_path / "vide.xlsx")
    result = run("batch", tmp_path / "vide.xlsx", "-o", tmp_path / "v.xlsx", *DATE)
    assert (result.code, result.stderr) == (1, f"{tmp_path / 'vide.xlsx'}: classeur vide : aucune feuille ne contient "
                                               "de cellule remplie\n")


def test_dates_with_their_hour_as_spreadsheets_and_forms_write_them(tmp_path: Path):
    path = tmp_path / "carnet.csv"
    path.write_text("porteur;thematiques;besoins;date_depot\n16015;eau;amo;2026-03-12 10:00\n"
                    "16015;eau;amo;2026-03-12T10:00\n16015;eau;amo;12/03/2026 10:00\n", encoding="utf-8")
    assert run("batch", path, "-o", tmp_path / "d.csv", *DATE).code == 0
    assert list(read_csv(tmp_path / "d.csv")["erreur"]) == ["", "", ""]


def test_two_columns_for_one_field_are_refused(tmp_path: Path):
    path = tmp_path / "carnet.csv"
    path.write_text("porteur;Thématiques;besoins;thematiques\n16015;eau;amo;urbanisme\n", encoding="utf-8")
    result = run("batch", path, "-o", tmp_path / "d.csv", *DATE)
    assert (result.code, result.stderr) == (1, f"{path}:1:4: colonnes « Thématiques » et « thematiques » : deux "
                                               "colonnes pour le même champ, gardez-en une\n")
    assert not (tmp_path / "d.csv").exists()


def test_attribute_columns_are_facts_of_the_demande(tmp_path: Path):
    catalogue = tmp_path / "catalogue"
    shutil.copytree(MINI, catalogue)
    (catalogue / "quartiers.yaml").write_text(dump({"offres": [{
        "id": "qpv-16", "nom": "Appui aux quartiers", "structure": "Ville", "niveau": "communal",
        "perimetre": ["departement:16"], "thematiques": ["urbanisme"], "besoins": ["conseil"],
        "conditions": {"qpv": True, "logements": {"min": 50}}, "cout": "gratuit",
        "source": "https://www.charente.gouv.fr/"}]}), encoding="utf-8")
    backlog = tmp_path / "carnet.csv"
    backlog.write_text("id;porteur;thematiques;besoins;QPV;Logements\n"
                       "a;16089;urbanisme;conseil;oui;120\n"
                       "b;16089;urbanisme;conseil;non;120\n"
                       "c;16089;urbanisme;conseil;oui;12\n"
                       "d;16089;urbanisme;conseil;peut-être;120\n"
                       "e;16089;urbanisme;conseil;;\n", encoding="utf-8")
    result = run("batch", backlog, "-o", tmp_path / "d.csv", "--catalogue", catalogue, "--rules", MINI_RULES, *DATE)
    assert result.code == 0, result.stderr
    d = read_csv(tmp_path / "d.csv")
    assert list(d["offre_id"]) == ["qpv-16", "caue-16", "caue-16", "", "caue-16"]
    assert d.loc[3, "erreur"] == "ligne 5, colonne QPV : oui ou non attendu, pas « peut-être »"
    explanations = dict(zip(*(read_csv(tmp_path / "d.explications.csv")[c] for c in ("explication", "examen"))))
    assert "qpv-16: attribut « logements » 12 < min 50" in explanations[d.loc[2, "explication"]]
    assert "qpv-16: attribut « qpv » non renseigné" in explanations[d.loc[4, "explication"]]
    assert d.loc[2, "examen"] == "communal: offres_ecartees (qpv-16) | intercommunal: aucune_offre | departemental: retenu (caue-16)"
    workspace = load_workspace(catalogue, MINI_RULES, today=TODAY)
    one = workspace.router().route(*workspace.prepare(
        {"porteur": "16089", "thematiques": ["urbanisme"], "besoins": ["conseil"],
         "attributs": {"qpv": True, "logements": 120}}), TODAY)
    assert one.offre.id == "qpv-16"


def test_each_cause_of_change_is_named(tmp_path: Path):
    backlog = tmp_path / "carnet.csv"
    backlog.write_text("id;porteur;thematiques;besoins;complexite\n"
                       "a;16089;urbanisme;conseil;simple\n"     # caue-16, then withdrawn from the catalogue
                       "b;16015;friches;diagnostic;simple\n"    # epf-na, then atd-16 widened
                       "c;16089;eau;conseil;simple\n"           # atd-16, then a new communal offer
                       "d;16089;urbanisme;diagnostic;complexe\n"  # the rule projet-complexe, then removed
                       "e;16089;eau;diagnostic;simple\n",       # unchanged
                       encoding="utf-8")
    mini = ["--rules", MINI_RULES, *DATE]
    run("batch", backlog, "-o", tmp_path / "v1.csv", "--catalogue", MINI, *mini)
    edited = tmp_path / "catalogue"
    shutil.copytree(MINI, edited)
    offres = edited / "offres.yaml"
    text = offres.read_text()
    caue = text[text.index("  - id: caue-16"):text.index("  - id: epf-na")]
    offres.write_text(text.replace(caue, "").replace("      population: {max: 20000}", "      population: {max: 50000}"))
    (edited / "commune.yaml").write_text(dump({"offres": [{
        "id": "eau-chateaubernard", "nom": "Régie des eaux", "structure": "Châteaubernard", "niveau": "communal",
        "perimetre": ["commune:16089"], "thematiques": ["eau"], "besoins": ["conseil"], "cout": "gratuit",
        "source": "https://www.chateaubernard.fr/"}]}), encoding="utf-8")
    rules = tmp_path / "rules"
    shutil.copytree(MINI_RULES, rules)
    regles = rules / "regles.yaml"
    text = regles.read_text()
    regles.write_text(text.replace(text[text.index("  - id: projet-complexe"):text.index("  - id: saisine-directe")], ""))
    result = run("batch", backlog, "-o", tmp_path / "v2.csv", "--previous", tmp_path / "v1.csv",
                 "--catalogue", edited, "--rules", rules, *DATE)
    assert result.code == 0, result.stderr
    v2 = read_csv(tmp_path / "v2.csv")
    assert list(v2["changement"]) == ["modifie", "modifie", "modifie", "modifie", "inchange"]
    assert list(v2["cause"]) == [
        "offre retirée du catalogue : caue-16",
        "offre atd-16 retenue désormais : ses conditions tiennent",
        "offre nouvelle ou élargie : eau-chateaubernard",
        "règle qui ne s'applique plus : projet-complexe",
        "",
    ]


def test_alternatives_and_programme_membership_in_the_decisions_file(tmp_path: Path):
    catalogue = tmp_path / "catalogue"
    shutil.copytree(MINI, catalogue)
    vocabulary = catalogue / "vocabulaires.yaml"
    vocabulary.write_text(vocabulary.read_text().replace(
        "  - {id: pvd, libelle: Petites villes de demain}",
        "  - {id: pvd, libelle: Petites villes de demain, population: {max: 20000}}"))
    offres = catalogue / "offres.yaml"  # the CAUE's perimeter matches ATD's: ATD comes second, after the free CAUE
    offres.write_text(offres.read_text().replace("    besoins: [conseil]\n    cout: gratuit",
                                                 "    besoins: [conseil, diagnostic]\n    cout: gratuit"))
    backlog = tmp_path / "carnet.csv"
    backlog.write_text("id;porteur;thematiques;besoins;programmes\n"
                       "a;16089;urbanisme;diagnostic;\n"
                       "b;75056;urbanisme;diagnostic;pvd\n"
                       "c;29155;urbanisme;diagnostic;pvd\n", encoding="utf-8")
    result = run("batch", backlog, "-o", tmp_path / "d.csv", "--catalogue", catalogue, "--rules", MINI_RULES, *DATE)
    assert result.code == 0, result.stderr
    d = read_csv(tmp_path / "d.csv")
    assert list(d["offre_id"]) == ["caue-16", "sur-mesure", "pvd-chef-de-projet"]
    assert list(d["alternatives"]) == ["atd-16", "", ""]
    assert d.loc[1, "adhesion_programmes"].startswith("pvd: impossible (population 2 ")
    assert d.loc[2, "adhesion_programmes"] == "pvd: non vérifiée"
    assert d.loc[0, "adhesion_programmes"] == ""


def test_a_batch_loads_neither_pandas_nor_yaml_from_the_cache(office_backlog: Path, tmp_path: Path):
    """A batch reads, decides and writes with Arrow and numpy alone: loading pandas would cost every
    run two tenths of a second (only --capacite and --previous use it); once the cache is filled,
    no YAML is read either (the first run reads the catalogue)."""
    import json
    import subprocess
    import sys

    script = ("import json, sys, cli\ncode = cli.main(sys.argv[1:])\n"
              "print(json.dumps(sorted(m for m in ('pandas', 'yaml') if m in sys.modules)), file=sys.stderr)\n"
              "sys.exit(code)")
    root = Path(__file__).parent.parent
    env = {"AIGUILLAGE_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    for output, expected in (("decisions.csv", ["yaml"]), ("decisions.parquet", [])):
        done = subprocess.run([sys.executable, "-c", script, "batch", str(office_backlog), "-o", str(tmp_path / output),
                               "--catalogue", str(MINI), "--rules", str(MINI_RULES), *DATE],
                              cwd=root, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "en erreur" in done.stderr and json.loads(done.stderr.strip().splitlines()[-1]) == expected
