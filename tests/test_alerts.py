"""Veille et alerte: the shipped alert rules on a year of decisions, run by the real engine; rule
authors' own rules, checked and tested like the other rules."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from clirun import run
from conftest import TODAY, write_tree
from matcher.alertrules import INDICATORS
from matcher.paths import shipped_rules


@pytest.fixture(scope="module")
def raised(year) -> dict:
    result = run("alertes", "--decisions", year.decisions, "--format", "json", *year.options)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def of(report: dict, rule: str) -> list[dict]:
    return [a for a in report["alertes"] if a["regle"] == rule]


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_every_alert_says_what_where_since_when_and_which_rule(raised):
    assert {a["regle"] for a in raised["alertes"]} == {
        "part-agence-en-hausse", "thematique-sans-offre-locale", "offre-au-dela-de-sa-capacite",
        "offre-fin-de-validite", "avis-dt-en-attente"}
    for a in raised["alertes"]:
        assert a["quoi"] and "{" not in a["quoi"]
        assert a["ou"]["reference"] and a["ou"]["libelle"]
        assert day(a["depuis"]) <= TODAY
        assert a["fichier_regle"].endswith("veille.yaml") and a["ligne_regle"] > 0
        assert a["ids"] or a["indicateur"] == "region_thematique"


def test_the_share_sent_to_the_agence_jumps_in_morbihan_only(year, raised):
    (alert,) = of(raised, "part-agence-en-hausse")
    assert alert["ou"]["reference"] == "departement:56"
    f = year.frame
    dates = pd.to_datetime(f.date_depot)
    end = pd.Timestamp(TODAY)
    window = f[(f.departement == "56") & (dates > end - pd.Timedelta(days=90)) & (dates <= end)]
    before = f[(f.departement == "56") & (dates > end - pd.Timedelta(days=180)) & (dates <= end - pd.Timedelta(days=90))]
    values = alert["valeurs"]
    assert values["demandes"] == len(window) and values["vers_agence"] == (window.niveau == "agence").sum()
    assert values["part_agence"] == round(100 * (window.niveau == "agence").mean(), 1)
    assert values["evolution_part_agence"] >= 15
    assert set(alert["ids"]) == set(window.id) | set(before.id)
    assert TODAY - dt.timedelta(days=90) <= day(alert["depuis"]) <= TODAY


def test_an_offer_over_its_capacity_since_the_demande_that_passed_it(year, raised):
    (alert,) = of(raised, "offre-au-dela-de-sa-capacite")
    assert alert["ou"]["reference"] == "offre:veille-energie-16"
    f = year.frame
    routed = f[(f.offre_id == "veille-energie-16") & f.date_depot.str.startswith("2026")].sort_values("date_depot")
    assert alert["valeurs"]["charge"] == len(routed) > 12 and alert["valeurs"]["depassement"] == len(routed) - 12
    assert set(alert["ids"]) == set(routed.id)
    assert alert["depuis"] == routed.date_depot.iloc[12]  # the 13th demande of the year


def test_an_offer_whose_validity_ends_within_three_months(raised):
    (alert,) = of(raised, "offre-fin-de-validite")
    assert alert["ou"]["reference"] == "offre:veille-patrimoine-29"
    assert alert["valeurs"]["jours_restants"] == (dt.date(2027, 1, 31) - TODAY).days
    assert day(alert["depuis"]) == dt.date(2027, 1, 31) - dt.timedelta(days=91)  # the rule: at most 91 days left
    assert "Fin de validité le 31/01/2027" in alert["quoi"]


def test_opinions_awaited_for_more_than_30_days(year, raised):
    f = year.frame
    needed = f[f.avis_dt_requis == "oui"]
    since = pd.to_datetime(needed.date_avis_dt.where(needed.avis_dt == "en_attente", needed.date_depot))
    waiting = needed[needed.avis_dt.isin(["en_attente", ""]) & ((pd.Timestamp(TODAY) - since).dt.days > 30)]
    alerts = of(raised, "avis-dt-en-attente")
    assert {a["ids"][0] for a in alerts} == set(waiting.id) and len(alerts) > 5
    for a in alerts:
        awaited = day(a["valeurs"]["attente_depuis"])
        assert a["valeurs"]["jours_attente"] == (TODAY - awaited).days
        assert day(a["depuis"]) == awaited + dt.timedelta(days=31)  # found day by day by the engine
    # An opinion given since: the demande was waiting then, not now.
    given = needed[(needed.avis_dt == "favorable")]
    assert not set(given.id) & {a["ids"][0] for a in alerts}


def test_a_theme_with_no_local_offer_in_a_whole_region(year, raised):
    alerts = {a["ou"]["libelle"]: a for a in of(raised, "thematique-sans-offre-locale")}
    # No local offer in Bretagne takes waste (the Parc du Golfe du Morbihan serves biodiversity there).
    key = "Région 53 Bretagne, thématique « Déchets, économie circulaire »"
    assert key in alerts
    f = year.frame
    carried = f[(f.region == "53") & f.thematiques.str.split("|").map(lambda w: "dechets" in w)]
    assert alerts[key]["valeurs"]["demandes"] == len(carried) and set(alerts[key]["ids"]) == set(carried.id)
    assert alerts[key]["valeurs"]["offres_locales"] == 0
    assert day(alerts[key]["depuis"]) == pd.to_datetime(carried.date_depot).sort_values().iloc[2].date()  # 3rd demande
    # Urbanisme is served locally in Bretagne (Finistère, Morbihan), and so is biodiversity now: never an alert.
    assert not any("« Urbanisme, logement, aménagement »" in k for k in alerts if "Bretagne" in k)
    assert "Région 53 Bretagne, thématique « Biodiversité »" not in alerts


def test_text_output_for_a_person(year):
    result = run("alertes", "--decisions", year.decisions, "--regle", "offre-fin-de-validite", *year.options)
    assert result.code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == f"Veille et alerte au 26/11/2026 — {year.decisions} (1 200 demandes), 1 règle d'alerte"
    assert lines[1] == "1 alerte : 1 offre-fin-de-validite"
    assert lines[3].startswith("[attention] Offre « Appui patrimoine rural (offre fictive de test) »")
    assert lines[4].strip().startswith("Fin de validité le 31/01/2027, dans 66 jours")
    assert lines[5].strip().startswith("Depuis le 01/11/2026 — règle offre-fin-de-validite (")


def test_usage_errors(year):
    assert run("alertes", *year.options).code == 2
    unknown = run("alertes", "--decisions", year.decisions, "--regle", "avis-dt-attente", *year.options)
    assert unknown.code == 2 and "vouliez-vous dire « avis-dt-en-attente » ?" in unknown.stderr
    listed = run("alertes", "--indicateurs")
    assert listed.code == 0
    for indicator in INDICATORS.values():
        assert f"indicateur: {indicator.kind}" in listed.stdout
        assert all(f"  {name} " in listed.stdout for name in indicator.fields)


# --------------------------------------------------------------------------- authors' own rules


def rules_copy(tmp_path: Path, extra: dict[str, str]) -> Path:
    root = tmp_path / "regles"
    shutil.copytree(shipped_rules(), root)
    return write_tree(root, extra)


def test_an_authors_rule_is_run_by_the_engine(year, tmp_path):
    rules = rules_copy(tmp_path, {"alertes/mes-alertes.yaml": """
        alertes:
          - id: trop-de-non-instruisibles
            description: Beaucoup de demandes d'un département attendent l'avis favorable du DT.
            indicateur: departement
            quand: {non_instruisibles: {min: 25}, region: "53"}
            alerte: "{non_instruisibles} demandes non instruisibles en {nom}"
            gravite: urgence
        """})
    result = run("alertes", "--decisions", year.decisions, "--rules", rules, "--format", "json", *year.options)
    assert result.code == 0, result.stderr
    mine = of(json.loads(result.stdout), "trop-de-non-instruisibles")
    f = year.frame
    counts = f[f.instruction != ""].groupby("departement").size()
    expected = {f"departement:{d}" for d, n in counts.items() if n >= 25 and d in ("29", "56")}
    assert {a["ou"]["reference"] for a in mine} == expected and expected
    assert json.loads(result.stdout)["alertes"][0]["gravite"] == "urgence"  # the most serious first


def test_alert_rules_are_checked_with_their_place(tmp_path):
    rules = rules_copy(tmp_path, {"alertes/fautes.yaml": """
        alertes:
          - id: champ-mal-ecrit
            description: x
            indicateur: departement
            quand: {part_agense: {min: 40}}
            alerte: "{part_agence}"
          - id: texte-inconnu
            description: x
            indicateur: offre
            quand: {depassement: {min: 1}}
            alerte: "trop : {depasement}"
          - id: texte-mal-forme
            description: x
            indicateur: offre
            quand: {depassement: {min: 1}}
            alerte: "trop : {depassement:.1f}"
          - id: indicateur-inconnu
            description: x
            indicateur: commune
            quand: {demandes: 1}
            alerte: x
          - id: texte-mal-forme
            description: doublon
            indicateur: demande
            quand: {avis_dt: en_atente}
            alerte: x
        """})
    result = run("rules", "check", rules, "--date", TODAY.isoformat())
    assert result.code == 1 and result.err_lines[-1].startswith("6 erreurs, ")
    where = f"{rules}/alertes/fautes.yaml"
    assert result.err_lines[:6] == [
        f"{where}:5:13: erreur: champ inconnu « part_agense » — vouliez-vous dire « part_agence » ou « vers_agence » ou "
        "« part_locale » ? (champs possibles : "
        + ", ".join(INDICATORS["departement"].fields) + ") [champ-inconnu]",
        f"{where}:11:13: erreur: alerte « texte-inconnu » : champ inconnu « {{depasement}} » dans le texte — "
        "vouliez-vous dire « depassement » ? (champs de l'indicateur offre : " + ", ".join(INDICATORS["offre"].fields)
        + ") [champ-inconnu]",
        f"{where}:16:13: erreur: alerte « texte-mal-forme » : « {{depassement:.1f}} » dans le texte : écrivez {{champ}} "
        "(un champ de l'indicateur offre), ou {{ et }} pour des accolades [alerte-texte]",
        f"{where}:19:17: erreur: alerte « indicateur-inconnu » : « indicateur » vaut « commune » (valeurs possibles : "
        "departement, region_thematique, offre, demande) [valeur-inconnue]",
        f"{where}:22:5: erreur: alerte « texte-mal-forme » : déjà définie en {where}:12:5 [id-duplique]",
        f"{where}:25:22: erreur: avis_dt : valeur inconnue « en_atente » — vouliez-vous dire « en_attente » ? "
        "(valeurs possibles : favorable, defavorable, en_attente, absent) [valeur-inconnue]",
    ]


def test_alert_rules_do_not_change_the_rules_version(tmp_path):
    from matcher.workspace import load_workspace

    rules = rules_copy(tmp_path, {})
    before = load_workspace(rules_dir=rules, today=TODAY).policy.version
    shutil.rmtree(rules / "alertes")
    assert load_workspace(rules_dir=rules, today=TODAY).policy.version == before


def test_alert_rules_are_tested_like_the_other_rules(tmp_path):
    passing = run("rules", "test", "--date", TODAY.isoformat())
    assert passing.code == 0
    assert "13 cas d'alerte : 13 réussis, 0 en échec ; 5/5 règles d'alerte déclenchées par au moins un cas" in \
        passing.stdout
    rules = rules_copy(tmp_path, {"tests/ratees.yaml": """
        tests_alertes:
          - id: devrait-alerter
            indicateur: offre
            faits: {depassement: 0, jours_restants: 200}
            attendu: {alertes: [offre-au-dela-de-sa-capacite], texte: "de trop"}
        """})
    failing = run("rules", "test", rules / "tests" / "ratees.yaml", "--rules", rules, "--format", "json")
    assert failing.code == 1
    report = json.loads(failing.stdout)["alertes"]
    assert report["resume"] == {"total": 1, "reussis": 0, "echecs": 1}
    assert report["cas"][0]["ecarts"] == [
        "alerte attendue « offre-au-dela-de-sa-capacite » : non déclenchée",
        "texte attendu « de trop » ; obtenu : aucune alerte"]


def test_schema_exports_the_alert_sections():
    schema = json.loads(run("rules", "schema", "--kind", "regles").stdout)
    alerte = schema["properties"]["alertes"]["items"]
    assert alerte["required"] == ["id", "description", "indicateur", "quand", "alerte"]
    assert alerte["properties"]["indicateur"]["enum"] == list(INDICATORS)
    assert "tests_alertes" in schema["properties"]


def test_an_alert_rules_file_elsewhere_is_checked_with_its_test_cases(tmp_path):
    mine = write_tree(tmp_path, {"mes-alertes.yaml": """
        alertes:
          - id: trop-de-non-instruisibles
            description: Beaucoup de demandes attendent l'avis favorable du DT.
            indicateur: departement
            quand: {non_instruisibles: {min: 25}}
            alerte: "{non_instruisibles} demandes non instruisibles en {nom}"
        tests_alertes:
          - id: beaucoup-en-attente
            indicateur: departement
            faits: {nom: Charente, non_instruisibles: 30}
            attendu: {alertes: [trop-de-non-instruisible]}
        """}) / "mes-alertes.yaml"
    result = run("rules", "check", mine, "--date", TODAY.isoformat())
    assert result.code == 1 and result.err_lines[0] == (
        f"{mine}:11:25: erreur: test d'alerte « beaucoup-en-attente » : règle d'alerte inconnue "
        "« trop-de-non-instruisible » — vouliez-vous dire « trop-de-non-instruisibles » ? [regle-inconnue]")
    assert "1 règle d'alerte" in result.err_lines[-1]
