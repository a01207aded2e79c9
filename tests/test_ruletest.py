"""`aiguillage rules test`: the shipped rules' own test cases pass, failures say what differs and why."""

from __future__ import annotations

import json
import textwrap

import pytest

from clirun import run
from conftest import FIXTURES, TODAY
from matcher.errors import IssueCollector
from matcher.paths import shipped_rules
from matcher.files import files_with_section
from matcher.ruletest import load_cases, run_cases, sources

DATE = ("--date", TODAY.isoformat())


def test_shipped_rule_tests_pass_and_exercise_every_rule(workspace):
    issues = IssueCollector(stop_at_first=False)
    cases = load_cases(files_with_section(shipped_rules(), "tests"), workspace, issues)
    assert not issues.issues
    assert len(cases) >= 25
    report = run_cases(cases, workspace, TODAY)
    failures = {r.case.id: [(m.what, m.expected, m.got) for m in r.mismatches] for r in report.failed}
    assert failures == {}
    assert report.rules_not_applied == []
    # The pilot départements, the islands, Lyon and Paris are all there.
    porteurs = {c.territoire.departement for c in cases}
    assert {"16", "29", "69", "75", "77", "11", "974"} <= porteurs


def test_cli_reports_each_case_and_the_coverage():
    result = run("rules", "test", *DATE)
    assert result.code == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert all(line.startswith("ok ") for line in lines[: lines.index("")])
    summary = lines[lines.index("") + 1:]
    assert summary[0].endswith("réussis, 0 en échec")
    assert summary[1].startswith("Couverture : 5/5 règles appliquées par au moins un cas, ")
    assert summary[2].startswith("  Offres qu'aucun cas ne retient (")
    assert result.stderr == ""


FAILING = """\
    tests:
      - id: angouleme-attendu-au-mauvais-niveau
        description: Un cas écrit avec une erreur, pour voir l'échec.
        demande: {porteur: "16015", thematiques: [espace-public], besoins: [amo]}
        attendu:
          niveau: regional
          statuts: {departemental: aucune_offre}
          regles: [saisine-directe]
          alertes: [avis]
          motif: hors sujet
      - id: angouleme-juste
        demande: {porteur: "16015", thematiques: [espace-public], besoins: [amo]}
        attendu: {offre: atd16-amo-espaces-batiments-publics}
"""


def test_a_failure_shows_expected_got_and_the_explanation(tmp_path):
    path = tmp_path / "cas.yaml"
    path.write_text(textwrap.dedent(FAILING), encoding="utf-8")
    result = run("rules", "test", path, *DATE)
    assert result.code == 1
    out = result.stdout
    assert f"ÉCHEC  angouleme-attendu-au-mauvais-niveau — {path}:2:5" in out
    assert "       niveau : attendu regional ; obtenu departemental" in out
    assert "       statut departemental : attendu aucune_offre ; obtenu retenu" in out
    assert "       regles : attendu la règle « saisine-directe » appliquée ; obtenu aucune" in out
    assert "       alertes : attendu une alerte contenant « avis » ; obtenu aucune" in out
    assert "       motif : attendu un motif contenant « hors sujet » ; obtenu Offre départementale" in out
    assert "         Examen, du niveau le plus proche au plus lointain :" in out  # the explanation
    assert "ok     angouleme-juste" in out
    assert "2 cas : 1 réussi, 1 en échec" in out
    short = run("rules", "test", path, *DATE, "--court")
    assert "Examen" not in short.stdout and short.code == 1


def test_json_report(tmp_path):
    path = tmp_path / "cas.yaml"
    path.write_text(textwrap.dedent(FAILING), encoding="utf-8")
    result = run("rules", "test", path, *DATE, "--format", "json")
    data = json.loads(result.stdout)
    assert data["resume"] == {"total": 2, "reussis": 1, "echecs": 1}
    failed = data["cas"][0]
    assert failed["resultat"] == "echec" and failed["ecarts"][0] == {
        "champ": "niveau", "attendu": "regional", "obtenu": "departemental"}
    assert failed["decision"]["decision"]["offre"]["id"] == "atd16-amo-espaces-batiments-publics"
    assert "anct-ingenierie-sur-mesure" in data["couverture"]["offres_non_retenues"]


def test_invalid_test_files_are_reported_located_and_fail(monkeypatch):
    monkeypatch.chdir(FIXTURES.parent.parent)
    result = run("rules", "test", "tests/fixtures/bad/test-offre-inconnue.yaml", "--catalogue",
                 "tests/fixtures/ok/mini-catalogue", "--rules", "tests/fixtures/ok/mini-rules", *DATE)
    assert result.code == 1
    assert result.err_lines[0] == (
        "tests/fixtures/bad/test-offre-inconnue.yaml:4:45: erreur: test « angouleme-conseil » : offre inconnue "
        "« caue16 » — vouliez-vous dire « caue-16 » ? [offre-inconnue]")


def test_no_test_case_is_an_error(tmp_path):
    (tmp_path / "regles.yaml").write_text("regles: []\n")
    result = run("rules", "test", tmp_path)
    assert result.code == 1 and "aucun cas de test" in result.stderr


def test_a_rules_folder_brings_its_rules_and_its_tests(tmp_path):
    rules = tmp_path / "regles"
    (rules / "tests").mkdir(parents=True)
    (rules / "complexe.yaml").write_text((FIXTURES / "ok" / "mini-rules" / "regles.yaml").read_text())
    (rules / "tests" / "cas.yaml").write_text(textwrap.dedent("""\
        tests:
          - id: complexe
            demande: {porteur: "16015", thematiques: [urbanisme], besoins: [conseil], complexite: complexe}
            attendu: {niveau: agence, regles: [projet-complexe]}
    """))
    assert sources(rules, None) == (rules, [rules / "tests" / "cas.yaml"])
    assert sources(rules / "tests", None)[0] == shipped_rules()
    result = run("rules", "test", rules, "--catalogue", FIXTURES / "ok" / "mini-catalogue", *DATE)
    assert result.code == 0, result.stdout + result.stderr
    assert "Couverture : 1/2 règles appliquées par au moins un cas" in result.stdout
    assert "Règles qu'aucun cas n'applique : saisine-directe" in result.stdout


@pytest.mark.parametrize("name", ["regles.yaml", "pilotes.yaml"])
def test_shipped_test_files_pass_rules_check(name):
    result = run("rules", "check", shipped_rules() / "tests" / name, *DATE)
    assert result.code == 0 and result.err_lines[:-1] == []
