"""Inline SVG charts and the zoomed map: whole-number scales, every segment linked to its rows."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from matcher.charts import Bar, Segment, column_chart, hbar_chart, nice_scale
from matcher.report.map import path_points

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("maximum, top, ticks", [(0, 1, 1), (3, 3, 3), (7, 8, 4), (22, 25, 5), (55, 60, 3),
                                                 (260, 300, 3), (1234, 1500, 3)])
def test_scales_end_on_a_round_figure(maximum, top, ticks):
    assert nice_scale(maximum) == (top, ticks)


def test_bars_link_each_segment_to_its_rows_and_say_their_figure():
    bars = [Bar("Charente", (Segment(3, "#111", "Charente — agence : 3", "#t1"), Segment(0, "#222", "vide"))),
            Bar("Un libellé bien trop long pour la marge des étiquettes du graphique", (Segment(5, "#111", "x", "#t2"),))]
    for svg in (hbar_chart(bars, "Titre", [("agence", "#111")]), column_chart(bars, "Titre")):
        root = ET.fromstring(svg)
        links = root.findall(f".//{SVG}a")
        assert [a.get("href") for a in links] == ["#t1", "#t2"]  # an empty segment is not drawn
        assert links[0].find(f"{SVG}rect/{SVG}title").text == "Charente — agence : 3"
        assert root.find(f"{SVG}title").text == "Titre"


def test_map_paths_are_read_as_absolute_points():
    # m: the first pair absolute, then relative line-tos; z returns to the start; the next m is relative to it.
    assert path_points("m 10,10 5,0 0,5 z m 100,0 1,1") == [(10, 10), (15, 10), (15, 15), (110, 10), (111, 11)]
    assert path_points("M 1 2 L 3 4") == [(1, 2), (3, 4)]
