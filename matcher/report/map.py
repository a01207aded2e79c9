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

from ..coverage import Coverage, DepartementCoverage
from ..coverage_map import ATTRIBUTION, BASE_MAP, CLASSES, NOT_COMPUTED, SVG_NS, colour
from ..templating import Markup, fragment

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


def region_map(coverage: Coverage, departement: str, region_departements: list[str], width: int = 560) -> Markup | None:
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
    shapes_drawn, labels = [], []
    for code, path in shapes.items():
        bx0, by0, bx1, by1 = boxes[code]
        if bx1 < x0 or bx0 > x1 or by1 < y0 or by0 > y1:
            continue
        dep = by_code.get(code) if code in region_departements else None
        name = path.get("aria-label", "")
        shapes_drawn.append({
            "code": code, "d": path.get("d", ""), "chosen": code == departement,
            "fill": colour(dep.local_share) if dep else ("#ffffff" if code not in region_departements else NOT_COMPUTED),
            "tooltip": (f"{code} {name} — {_percent(dep.local_share)} des couples servis localement, "
                        f"{_percent(dep.agence_share)} en zone blanche (commune type {dep.commune.nom})"
                        if dep else f"{code} {name}"),
        })
        if code in region_departements:
            labels.append({"code": code, "x": (bx0 + bx1) / 2, "y": (by0 + by1) / 2, "chosen": code == departement,
                           "fill": "#ffffff" if dep and dep.local_share >= 0.245 else "#000000"})
    return fragment("cartes/region.svg", width=width, height=height, map_h=map_h, departement=departement,
                  view_box=f"{x0:.1f} {y0:.1f} {x1 - x0:.1f} {y1 - y0:.1f}", shapes=shapes_drawn, labels=labels,
                  font_size=f"{(x1 - x0) / 38:.1f}", legend_top=map_h + 16, attribution=ATTRIBUTION,
                  classes=[(fill, label) for _, fill, label in (*CLASSES, (None, NOT_COMPUTED, "non calculé"))])


@lru_cache(maxsize=128)
def departement_map(departement: str, region_departements: tuple[str, ...], label: str, width: int = 300) -> Markup | None:
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
    return fragment("cartes/departement.svg", width=width, height=height, label=label, attribution=ATTRIBUTION,
                  view_box=f"{x0:.1f} {y0:.1f} {x1 - x0:.1f} {y1 - y0:.1f}",
                  shapes=[{"d": path.get("d", ""), "chosen": code == departement} for code, path in shapes.items()])


def _percent(share: float) -> str:
    return f"{share:.0%}".replace("%", "\u00a0%")


__all__ = ["region_map", "departement_map", "path_points"]
