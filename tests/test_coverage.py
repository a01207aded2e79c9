"""`aiguillage coverage`: the typical commune, the table, the map and the page."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from clirun import run
from conftest import TODAY
from matcher.coverage import compute, typical_commune
from matcher.coverage_map import CLASSES, colour, render_svg

DATE = ("--date", TODAY.isoformat())
SVG = "{http://www.w3.org/2000/svg}"


def test_typical_commune_is_the_median_commune_with_an_epci(workspace):
    communes = [c for c in workspace.graph.index.all_communes().values()
                if c.departement == "29" and c.epci and c.population is not None]
    chosen = typical_commune(workspace, "29")
    assert chosen.epci is not None
    smaller = sum((c.population, c.code) < (chosen.population, chosen.code) for c in communes)
    assert smaller == (len(communes) - 1) // 2  # the lower median; Ouessant (no EPCI) is not a candidate
    # Where no commune belongs to an EPCI (Saint-Pierre-et-Miquelon), all of them are candidates.
    assert typical_commune(workspace, "975").nom == "Miquelon-Langlade"


def test_one_departement_agrees_with_route(workspace, router):
    result = compute(workspace, TODAY, ["16"], ["eau", "voirie-reseaux"], ["amo", "etude"])
    (dep,) = result.departements
    assert [(r.thematique, r.besoin) for r in dep.rows] == [
        ("eau", "amo"), ("eau", "etude"), ("voirie-reseaux", "amo"), ("voirie-reseaux", "etude")]
    for row in dep.rows:
        demande, territoire = workspace.prepare({"porteur": dep.commune.code, "thematiques": [row.thematique],
                                                 "besoins": [row.besoin]})
        assert router.route(demande, territoire, TODAY).offre.id == row.offre


def test_csv_has_one_row_per_departement_thematique_besoin():
    result = run("coverage", "--departement", "16", "--departement", "974", "--format", "csv", *DATE)
    assert result.code == 0 and result.stderr == ""
    rows = list(csv.DictReader(io.StringIO(result.stdout), delimiter=";"))
    themes, needs = 39, 12
    assert len(rows) == 2 * themes * needs
    assert {r["departement"] for r in rows} == {"16", "974"}
    assert {r["zone_blanche"] for r in rows} <= {"oui", "non"}
    assert all((r["niveau"] == "agence") == (r["zone_blanche"] == "oui") for r in rows)


def test_json_summary_and_lines():
    result = run("coverage", "--departement", "29", "--thematique", "eau", "--format", "json", *DATE)
    data = json.loads(result.stdout)
    (summary,) = data["departements"]
    assert summary["departement"] == "29" and summary["couples"] == 12
    assert sum(summary["niveaux"].values()) == 12
    assert len(data["lignes"]) == 12 and data["definition"]["zone_blanche"]


def test_whole_country_and_the_map_shades_every_metropolitan_departement():
    # Its speed is measured by bench/, not here.
    result = run("coverage", "--format", "svg", *DATE)
    assert result.code == 0
    svg = ET.fromstring(result.stdout)
    paths = {p.get("id"): p.get("fill") for p in svg.iter(f"{SVG}path")}
    assert len(paths) == 96 and "d2A" in paths and "d75" in paths
    palette = {c for _, c, _ in CLASSES}
    assert set(paths.values()) <= palette  # every département computed, none left grey
    texts = " ".join(t.text or "" for t in svg.iter(f"{SVG}text"))
    assert "974 La Réunion" in texts and "CC BY 4.0" in texts  # the DROM inset and the attribution


def test_text_summary_and_unknown_values():
    result = run("coverage", "--departement", "69", *DATE)
    assert result.code == 0
    assert "69   Rhône" in result.stdout and "zones blanches" in result.stdout
    bad = run("coverage", "--departement", "99")
    assert bad.code == 2 and "vouliez-vous dire" in bad.stderr
    assert run("coverage", "--besoin", "diagnostique").code == 2


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def test_html_is_one_self_contained_page_with_map_and_tables():
    result = run("coverage", "--departement", "16", "--format", "html", *DATE)
    page = result.stdout
    parser = _Collect()
    parser.feed(page)
    assert parser.tags.count("svg") == 1 and parser.tags.count("table") == 2  # summary + the matrix
    assert "<script" not in page and "http" not in page.split("<svg", 1)[0].replace('http-equiv', '')
    assert "Cherves-Châtelars" in page or "16" in page


@pytest.mark.parametrize("share, expected", [(0.0, "#f7fbff"), (0.004, "#f7fbff"), (0.098, "#6baed6"),
                                             (0.24, "#6baed6"), (0.5, "#08306b")])
def test_classes_agree_with_the_rounded_percentage(share, expected):
    assert colour(share) == expected


def test_map_renders_an_empty_selection():
    from matcher.coverage import Coverage

    svg = ET.fromstring(render_svg(Coverage([], [], [], TODAY)))
    assert {p.get("fill") for p in svg.iter(f"{SVG}path")} == {"#d9d9d9"}


def test_every_epci_is_checked_and_a_hole_inside_a_departement_shows(tmp_path):
    import shutil

    from conftest import FIXTURES
    from matcher.workspace import load_workspace
    from matcher.yamlsource import dump

    catalogue = tmp_path / "catalogue"
    shutil.copytree(FIXTURES / "ok" / "mini-catalogue", catalogue)
    offres = catalogue / "offres.yaml"  # the water offer of the whole département is withdrawn
    offres.write_text(offres.read_text().replace("thematiques: [urbanisme, eau]", "thematiques: [urbanisme]"))
    (catalogue / "agglo.yaml").write_text(dump({"offres": [{
        "id": "eau-grand-angouleme", "nom": "Conseil en gestion de l'eau", "structure": "GrandAngoulême",
        "niveau": "intercommunal", "perimetre": ["epci:200071827"], "thematiques": ["eau"], "besoins": ["conseil"],
        "cout": "gratuit", "source": "https://www.grandangouleme.fr/"}]}), encoding="utf-8")
    workspace = load_workspace(catalogue, FIXTURES / "ok" / "mini-rules", today=TODAY)
    result = compute(workspace, TODAY, ["16"], ["eau"], ["conseil"])
    (dep,) = result.departements
    charente = [e for e, epci in workspace.graph.index.epcis.items() if epci.departement == "16"]
    assert dep.epcis == len(charente) > 2
    assert dep.rows[0].niveau == "agence"  # the typical commune lies outside GrandAngoulême
    holes = {h.epci for h in dep.holes}
    assert holes == set(charente) - {"200071827"}
    assert {(h.niveau, h.ailleurs) for h in dep.holes} == {("agence", "intercommunal")}
    angouleme = workspace.route({"porteur": "16015", "thematiques": ["eau"], "besoins": ["conseil"]}, TODAY)
    assert angouleme.offre.id == "eau-grand-angouleme"
