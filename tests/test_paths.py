"""Which catalogue and rules a command uses: the options, else the folder holding `catalogues/` and
`rules/` found from the current one upward (a clone being edited), else the shipped ones; and every
output says which."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from clirun import run
from conftest import TODAY
from matcher.paths import find_project, shipped_catalogue, shipped_rules

DATE = ["--date", TODAY.isoformat()]
README = Path(__file__).parent.parent / "README.md"


def _clone(root: Path) -> Path:
    """A rule author's copy of the shipped catalogue and rules, with a folder of notes inside."""
    shutil.copytree(shipped_catalogue(), root / "catalogues")
    shutil.copytree(shipped_rules(), root / "rules")
    (root / "notes" / "brouillons").mkdir(parents=True)
    return root


def test_a_clone_is_found_from_any_folder_below_it(tmp_path, monkeypatch):
    clone = _clone(tmp_path / "clone")
    charente = clone / "catalogues" / "territoires" / "16-charente.yaml"
    charente.write_text(charente.read_text(encoding="utf-8").replace("nom: ", "nom: Brouillon — ", 1), encoding="utf-8")
    monkeypatch.chdir(clone / "notes" / "brouillons")
    assert find_project() == clone.absolute()

    result = run("route", "--porteur", "16015", "--thematique", "urbanisme", "--besoin", "conseil",
                 "--format", "json", *DATE)
    version = json.loads(result.stdout)["version"]
    assert version["catalogue_dossier"] == str(clone / "catalogues")
    monkeypatch.chdir(tmp_path)  # outside the clone: the shipped catalogue, without the author's change
    shipped = json.loads(run("route", "--porteur", "16015", "--thematique", "urbanisme", "--besoin", "conseil",
                             "--format", "json", *DATE).stdout)["version"]
    assert shipped["catalogue"] != version["catalogue"]
    monkeypatch.chdir(clone / "notes" / "brouillons")
    assert version["regles_dossier"] == str(clone / "rules")

    check = run("rules", "check", *DATE)
    assert check.code == 0
    assert check.err_lines[-1].endswith(
        f"— catalogue {clone / 'catalogues'} et règles {clone / 'rules'} (trouvés en remontant depuis le dossier "
        "courant)")


def test_options_win_over_the_clone(tmp_path, monkeypatch):
    clone = _clone(tmp_path / "clone")
    monkeypatch.chdir(clone)
    mini = Path(__file__).parent / "fixtures" / "ok"
    result = run("rules", "check", "--catalogue", mini / "mini-catalogue", "--rules", mini / "mini-rules", *DATE)
    assert result.err_lines[-1].endswith(
        f"— catalogue {mini / 'mini-catalogue'} (--catalogue), règles {mini / 'mini-rules'} (--rules)")
    text = run("route", "--porteur", "16015", "--thematique", "eau", "--besoin", "diagnostic",
               "--rules", mini / "mini-rules", "--catalogue", mini / "mini-catalogue", *DATE)
    assert text.stdout.rstrip().endswith(f"({mini / 'mini-rules'})")


def test_without_a_clone_the_shipped_catalogue_is_used_and_said(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert find_project() is None
    result = run("rules", "check", *DATE)
    assert result.code == 0
    assert "(livrés avec aiguillage)" in result.err_lines[-1]
    data = json.loads(run("rules", "check", *DATE, "--format", "json").stdout)
    assert data["resume"]["catalogue_dossier"] == str(shipped_catalogue().absolute())


def test_the_readme_rules_check_examples_work_after_a_plain_install(tmp_path, monkeypatch):
    """Run from a folder that holds no catalogue: `catalogues/…` names the shipped file."""
    examples = re.findall(r"^aiguillage (rules check[^#\n]*?)\s*(?:#.*)?$", README.read_text(encoding="utf-8"),
                          re.MULTILINE)
    assert len(examples) >= 2
    monkeypatch.chdir(tmp_path)
    for example in examples:
        result = run(*example.split(), *DATE)
        assert result.code == 0, (example, result.stderr)
        assert "introuvable" not in result.stderr


def test_a_path_found_nowhere_is_one_french_line():
    result = run("rules", "check", "catalogues/territoires/99-nulle-part.yaml")
    assert (result.code, result.stderr) == (1, "catalogues/territoires/99-nulle-part.yaml : fichier ou dossier "
                                                "introuvable\n")


def test_rules_test_says_which_catalogue_and_rules_its_cases_ran_against(tmp_path, monkeypatch):
    clone = _clone(tmp_path / "clone")
    monkeypatch.chdir(clone / "notes")
    result = run("rules", "test", "--court", *DATE)
    assert result.code == 0, result.stdout
    assert result.stdout.splitlines()[-1] == (f"Selon le catalogue {clone / 'catalogues'} et règles {clone / 'rules'} "
                                              "(trouvés en remontant depuis le dossier courant)")
    data = json.loads(run("rules", "test", *DATE, "--format", "json").stdout)
    assert data["regles_dossier"] == str(clone / "rules")
