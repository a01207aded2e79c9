"""`aiguillage catalogue import`: an Aides-territoires export (CSV, API JSON) as draft offers, one file per
département, every guess marked for review, the draft accepted by `rules check`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from clirun import run
from conftest import FIXTURES, TODAY
from matcher.aides_territoires import SITE, Aid, DraftMaker, load_correspondences
from matcher.paths import shipped_catalogue
from matcher.territory import default_index
from matcher.yamlsource import load

EXPORTS = FIXTURES / "ok" / "aides-territoires"
CSV = EXPORTS / "aides-ingenierie-periurbain.csv"
DATE = ["--date", TODAY.isoformat()]


@pytest.fixture(scope="module")
def bare_catalogue(tmp_path_factory) -> Path:
    """The shipped vocabulary and the agence alone: nothing of the export is in it yet."""
    root = tmp_path_factory.mktemp("nu")
    shutil.copy(shipped_catalogue() / "vocabulaires.yaml", root / "vocabulaires.yaml")
    shutil.copy(shipped_catalogue() / "agence.yaml", root / "agence.yaml")
    return root


def offers_of(folder: Path) -> dict[str, list[dict]]:
    return {p.name: load(p).data["offres"] for p in sorted(folder.glob("*.yaml"))}


def test_the_real_csv_becomes_draft_offers_per_departement(tmp_path, bare_catalogue):
    out = tmp_path / "brouillon"
    result = run("catalogue", "import", CSV, "-o", out, "--catalogue", bare_catalogue, *DATE, "--format", "json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["format"] == "csv" and summary["verification"]["erreurs"] == 0
    files = offers_of(out)
    offers = [o for group in files.values() for o in group]
    assert len(offers) == summary["offres"] >= 150
    assert summary["offres"] + len(summary["non_importees"]) == 274  # every row: an offer or a reason
    assert "77-seine-et-marne.yaml" in files and "14-calvados.yaml" in files and "national.yaml" in files
    for name, group in files.items():
        for offer in group:
            assert offer["source"].startswith(f"{SITE}/aides/"), offer["id"]
            assert offer["a_verifier"], offer["id"]  # at least the cost, which no export gives
            if name[:2].isdigit():
                code = name.split("-")[0]
                assert any(ref in (f"departement:{code}",) or ref.startswith("epci:") for ref in offer["perimetre"])
    id77 = {o["nom"]: o for o in files["77-seine-et-marne.yaml"]}
    amont = id77["Accompagner les collectivités dans la définition des enjeux d'aménagement et de développement local"]
    assert (amont["structure"], amont["niveau"], amont["perimetre"], amont["besoins"]) == (
        "ID77", "departemental", ["departement:77"], ["ingenierie-technique"])
    assert "urbanisme" in amont["thematiques"] and amont["conditions"] == {"porteur": ["commune", "epci"]}
    assert any("« id77 »" in note for note in amont["a_verifier"])  # the perimeter came from the correspondences
    calls = [o for o in offers if any("appel à projets" in n for n in o["a_verifier"])]
    assert calls  # the AAP/AMI rows are flagged as selective schemes


def test_the_draft_passes_rules_check_and_each_guess_is_reported(tmp_path, bare_catalogue):
    out = tmp_path / "brouillon"
    assert run("catalogue", "import", CSV, "-o", out, "--catalogue", bare_catalogue, *DATE).code == 0
    check = run("rules", "check", out, "--catalogue", bare_catalogue, *DATE)
    assert check.code == 0, check.stderr
    offers = sum(len(g) for g in offers_of(out).values())
    to_check = [line for line in check.err_lines if line.endswith("[a-verifier]")]
    assert len(to_check) == offers
    assert check.err_lines[-1].startswith("0 erreur, ")
    strict = run("rules", "check", out, "--catalogue", bare_catalogue, *DATE, "--strict")
    assert strict.code == 1  # a draft is not finished while guesses remain


def test_the_api_json_is_read_with_its_categories_and_perimeters(tmp_path, bare_catalogue):
    out = tmp_path / "brouillon"
    result = run("catalogue", "import", EXPORTS / "api-aides.json", "-o", out, "--catalogue", bare_catalogue, *DATE)
    assert result.code == 0, result.stderr
    files = offers_of(out)
    assert sorted(files) == ["77-seine-et-marne.yaml", "region-76-occitanie.yaml", "region-84-auvergne-rhone-alpes.yaml"]
    (epf,) = files["region-76-occitanie.yaml"]
    assert epf["source"] == f"{SITE}/aides/3d9e-accompagner-la-redynamisation-des-centres-via/"
    assert (epf["niveau"], epf["perimetre"], epf["thematiques"]) == ("regional", ["region:76"], ["revitalisation", "foncier"])
    assert epf["besoins"] == ["ingenierie-technique", "ingenierie-financiere", "ingenierie-juridique"]
    assert not any("thématiques devinées" in n for n in epf["a_verifier"])  # categories are not a guess
    (safer,) = files["region-84-auvergne-rhone-alpes.yaml"]
    assert any("appel à projets ou à manifestation d'intérêt" in n for n in safer["a_verifier"])
    assert "<p>" not in files["77-seine-et-marne.yaml"][0]["description"]


def test_an_aid_already_in_the_catalogue_is_not_imported_twice(tmp_path):
    result = run("catalogue", "import", CSV, "-o", tmp_path / "b", *DATE, "--format", "json")
    assert result.code == 0, result.stderr
    already = [s for s in json.loads(result.stdout)["non_importees"] if "déjà au catalogue" in s]
    assert already
    sources = {p.read_text(encoding="utf-8") for p in shipped_catalogue().rglob("*.yaml")}
    assert all(any(s.split("offre « ")[1].split(" »")[0] in text for text in sources) for s in already)


def test_a_grant_is_not_engineering(workspace):
    maker = DraftMaker(load_correspondences(None, workspace.catalogue, default_index()), default_index(),
                       workspace.catalogue)
    grant = Aid("test", "Subvention aux travaux", f"{SITE}/aides/x/", ["Conseil départemental du Tarn"], None, [],
                ["Subvention", "Prêt"], ["Communes"], False, "Permanente", "", None, None)
    assert maker.offer(grant) == "pas une offre d'ingénierie (Subvention, Prêt)"


def test_a_correspondence_word_outside_the_vocabulary_is_located(tmp_path):
    mapping = tmp_path / "c.yaml"
    mapping.write_text("types:\n  Ingénierie technique: [ingenierie-tecnique]\n", encoding="utf-8")
    result = run("catalogue", "import", EXPORTS / "api-aides.json", "-o", tmp_path / "b", "--correspondances", mapping)
    assert (result.code, result.stdout) == (1, "")
    assert result.stderr == (f"{mapping}:2:26: types : « ingenierie-tecnique » n'est pas un mot du vocabulaire "
                             "besoins\n")


def test_an_export_that_is_not_one_says_so(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    result = run("catalogue", "import", bad, "-o", tmp_path / "b")
    assert result.code == 1
    assert result.stderr.startswith(f"{bad}:1:1: colonnes absentes : Nom, Lien, Financeurs, Types d'aides")
