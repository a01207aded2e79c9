"""The coverage map of one département, zoomed on its région: the région's départements shaded by
their local coverage (`aiguillage coverage`'s classes and colours), the département of the comité
outlined, the neighbours in grey.

The base map and the colour classes are `coverage_map`'s; only the zoom is added here: the
bounding box of the région's shapes (their paths are made of `m` and `z` with relative
line-tos, read below) becomes the view box.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from functools import lru_cache
from html import escape

from ..coverage import Coverage, DepartementCoverage
from ..coverage_map import ATTRIBUTION, BASE_MAP, CLASSES, NOT_COMPUTED, SVG_NS, colour

_TOKEN = re.compile(r"[MmLlZz]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def path_points(d: str) -> list[tuple[float, float]]:
    """The absolute points of a path made of move-tos, line-tos and close-paths."""
    points: list[tuple[float, float]] = []
    x = y = start_x = start_y = 0.0
    command = "m"
    numbers: list[float] = []
    first_of_command = True

    def flush_pair(a: float, b: float) -> None:
        nonlocal x, y, start_x, start_y, command, first_of_command
        relative = command.islower()
        x, y = (x + a, y + b) if relative else (a, b)
        if command in "Mm" and first_of_command:
            start_x, start_y = x, y
            first_of_command = False
        points.append((x, y))

    for token in _TOKEN.findall(d):
        if token in "MmLlZz":
            if token in "Zz":
                x, y = start_x, start_y
            command, first_of_command, numbers = token, True, []
            continue
        numbers.append(float(token))
        if len(numbers) == 2:
            flush_pair(*numbers)
            numbers = []
    return points


def _bbox(points: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def region_map(coverage: Coverage, departement: str, region_departements: list[str], width: int = 560) -> str | None:
    """The SVG map, or None when the département has no shape on the base map (outre-mer)."""
    base = ET.parse(BASE_MAP).getroot()
    shapes = {p.get("id", ""): p for p in base.iter(f"{{{SVG_NS}}}path")}
    if departement not in shapes:
        return None
    in_region = [code for code in region_departements if code in shapes]
    boxes = {code: _bbox(path_points(p.get("d", ""))) for code, p in shapes.items()}
    x0 = min(boxes[c][0] for c in in_region)
    y0 = min(boxes[c][1] for c in in_region)
    x1 = max(boxes[c][2] for c in in_region)
    y1 = max(boxes[c][3] for c in in_region)
    margin = 0.06 * max(x1 - x0, y1 - y0)
    x0, y0, x1, y1 = x0 - margin, y0 - margin, x1 + margin, y1 + margin
    legend_h = 22 + 18 * (len(CLASSES) + 1)
    map_h = width * (y1 - y0) / (x1 - x0)
    height = int(map_h + legend_h + 30)
    by_code: dict[str, DepartementCoverage] = {d.code: d for d in coverage.departements}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="map" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" font-family="sans-serif">',
             f"<title>Couverture locale en ingénierie, {escape(departement)} et sa région</title>",
             f'<svg x="0" y="0" width="{width}" height="{map_h:.0f}" viewBox="{x0:.1f} {y0:.1f} {x1 - x0:.1f} '
             f'{y1 - y0:.1f}" preserveAspectRatio="xMidYMid meet">']
    labels = []
    for code, path in shapes.items():
        bx0, by0, bx1, by1 = boxes[code]
        if bx1 < x0 or bx0 > x1 or by1 < y0 or by0 > y1:
            continue
        dep = by_code.get(code) if code in region_departements else None
        fill = colour(dep.local_share) if dep else ("#ffffff" if code not in region_departements else NOT_COMPUTED)
        name = path.get("aria-label", "")
        tip = (f"{code} {name} — {_percent(dep.local_share)} des couples servis localement, "
               f"{_percent(dep.agence_share)} en zone blanche (commune type {dep.commune.nom})" if dep else f"{code} {name}")
        stroke = ' stroke="#000" stroke-width="2.5"' if code == departement else ' stroke="#8c8c8c" stroke-width="0.8"'
        parts.append(f'<path id="m{escape(code)}" d="{escape(path.get("d", ""))}" fill="{fill}"{stroke} '
                     f'vector-effect="non-scaling-stroke"><title>{escape(tip)}</title></path>')
        if code in region_departements:
            cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
            text_fill = "#ffffff" if dep and dep.local_share >= 0.245 else "#000000"
            labels.append(f'<text x="{cx:.1f}" y="{cy:.1f}" font-size="{(x1 - x0) / 38:.1f}" text-anchor="middle" '
                          f'fill="{text_fill}" font-weight="{"bold" if code == departement else "normal"}">'
                          f"{escape(code)}</text>")
    parts += labels
    parts.append("</svg>")
    top = map_h + 16
    parts.append(f'<text x="8" y="{top:.0f}" font-size="12" font-weight="bold">Part des couples thématique × besoin '
                 "servis par un niveau communal à régional (commune type)</text>")
    for i, (_, fill, label) in enumerate((*CLASSES, (None, NOT_COMPUTED, "non calculé"))):
        y = top + 8 + i * 18
        parts.append(f'<rect x="8" y="{y:.0f}" width="14" height="12" fill="{fill}" stroke="#999" stroke-width="0.5"/>'
                     f'<text x="28" y="{y + 10:.0f}" font-size="11">{escape(label)}</text>')
    parts.append(f'<text x="8" y="{height - 4}" font-size="9" fill="#666">{escape(ATTRIBUTION)}</text>')
    parts.append("</svg>")
    return "".join(parts)


@lru_cache(maxsize=128)
def departement_map(departement: str, region_departements: tuple[str, ...], label: str, width: int = 300) -> str | None:
    """A small map of a département within its région (the decision page): the département filled,
    the région's other départements outlined; None when it has no shape on the base map (outre-mer).
    Kept once drawn: the web page draws the same few maps again and again."""
    base = ET.parse(BASE_MAP).getroot()
    shapes = {p.get("id", ""): p for p in base.iter(f"{{{SVG_NS}}}path") if p.get("id", "") in region_departements}
    if departement not in shapes:
        return None
    boxes = {code: _bbox(path_points(p.get("d", ""))) for code, p in shapes.items()}
    x0, y0 = min(b[0] for b in boxes.values()), min(b[1] for b in boxes.values())
    x1, y1 = max(b[2] for b in boxes.values()), max(b[3] for b in boxes.values())
    margin = 0.04 * max(x1 - x0, y1 - y0)
    x0, y0, x1, y1 = x0 - margin, y0 - margin, x1 + margin, y1 + margin
    height = int(width * (y1 - y0) / (x1 - x0)) + 14
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="departement" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-labelledby="carte-titre" font-family="sans-serif">',
             f'<title id="carte-titre">{escape(label)}</title>',
             f'<svg x="0" y="0" width="{width}" height="{height - 14}" viewBox="{x0:.1f} {y0:.1f} {x1 - x0:.1f} '
             f'{y1 - y0:.1f}" preserveAspectRatio="xMidYMid meet">']
    for code, path in shapes.items():
        chosen = code == departement
        parts.append(f'<path d="{escape(path.get("d", ""))}" fill="{"#1f4e8c" if chosen else "#eef2f7"}" '
                     f'stroke="{"#000000" if chosen else "#8c8c8c"}" stroke-width="{2 if chosen else 0.8}" '
                     'vector-effect="non-scaling-stroke"/>')
    parts.append("</svg>")
    parts.append(f'<text x="2" y="{height - 3}" font-size="7.5" fill="#555555">{escape(ATTRIBUTION)}</text></svg>')
    return "".join(parts)


def _percent(share: float) -> str:
    return f"{share:.0%}".replace("%", "\u00a0%")


__all__ = ["region_map", "departement_map", "path_points"]
