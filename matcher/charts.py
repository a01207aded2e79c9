"""Bar charts as inline SVG, for reports that must open anywhere, offline, and print.

Two shapes are enough for what the comités look at: horizontal bars (one per département, theme,
EPCI…, stacked by level when asked) and columns over time. Every segment may link to the rows
behind it (`href`, an anchor of the page) and carries a tooltip with its exact figure, so that a
picture is never less traceable than the table beside it. This module places the shapes;
`templates/charts/` draws them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .templating import Markup, fragment


@dataclass(frozen=True)
class Segment:
    value: float
    colour: str
    tooltip: str
    href: str | None = None


@dataclass(frozen=True)
class Bar:
    label: str
    segments: tuple[Segment, ...]
    total_text: str | None = None  # written after the bar; by default the sum of its segments

    @property
    def total(self) -> float:
        return sum(s.value for s in self.segments)


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", "\u202f")
    return f"{value:.1f}".replace(".", ",")


def nice_scale(maximum: float) -> tuple[float, int]:
    """A round top of scale (1, 2 or 5 × 10^k per tick) and its number of ticks, so that tick labels
    read as whole figures."""
    if maximum <= 0:
        return 1.0, 1
    step = 10 ** math.floor(math.log10(maximum / 4)) if maximum >= 4 else 1
    for factor in (1, 2, 5, 10):
        if maximum / (step * factor) <= 5:
            step *= factor
            break
    ticks = math.ceil(maximum / step)
    return step * ticks, ticks


def _fit(text: str, width: int) -> str:
    """Shorten a label to about `width` characters (the full label stays in the tooltip)."""
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _placed(x: float, y: float, w: float, h: float, s: Segment) -> dict:
    return {"x": x, "y": y, "w": max(w, 0), "h": h, "colour": s.colour, "tooltip": s.tooltip, "href": s.href}


def _legend(items: list[tuple[str, str]], x: float, y: float, width: float) -> tuple[list[dict], float]:
    """Legend entries placed in rows; returns them and the height used."""
    placed, cx, cy = [], x, y
    for label, colour in items:
        w = 22 + 6.5 * len(label)
        if cx + w > x + width and cx > x:
            cx, cy = x, cy + 18
        placed.append({"x": cx, "y": cy, "colour": colour, "label": label})
        cx += w
    return placed, (cy - y + 18) if items else 0


def _draw(template: str, **chart: object) -> Markup:
    return fragment(template, chart=chart)


def hbar_chart(bars: list[Bar], title: str, legend: list[tuple[str, str]] | None = None, width: int = 760,
               label_width: int = 230, bar_height: int = 16, unit: str = "") -> Markup:
    """Horizontal bars, one per item, stacked by segment; the total after each bar."""
    legend = legend or []
    top = 30
    legend_placed, legend_h = _legend(legend, 10, top, width - 20)
    top += legend_h + (6 if legend else 0)
    plot = width - label_width - 70
    scale, ticks = nice_scale(max((b.total for b in bars), default=0))
    height = top + len(bars) * (bar_height + 6) + 24
    placed_bars = []
    for i, bar in enumerate(bars):
        y = top + i * (bar_height + 6)
        x = float(label_width)
        segments = []
        for s in bar.segments:
            w = plot * s.value / scale
            if w > 0:
                segments.append(_placed(x, y, w, bar_height, s))
            x += w
        placed_bars.append({"label": bar.label, "short_label": _fit(bar.label, label_width // 6),
                            "text_y": y + bar_height - 4, "segments": segments, "total_x": x + 5,
                            "total": bar.total_text if bar.total_text is not None else _number(bar.total) + unit})
    return _draw("charts/barres.svg", title=title, width=width, height=height, top=top, legend=legend_placed,
                 label_x=label_width - 6, bars=placed_bars,
                 ticks=[{"at": label_width + plot * tick / ticks, "label": _number(scale * tick / ticks) + unit}
                        for tick in range(0, ticks + 1)])


def column_chart(columns: list[Bar], title: str, legend: list[tuple[str, str]] | None = None, height: int = 260,
                 column_width: int = 40, unit: str = "") -> Markup:
    """Vertical columns over time (one per period), stacked by segment; the total above each."""
    legend = legend or []
    left, gap = 46, 10
    width = max(480, left + len(columns) * (column_width + gap) + 20)
    legend_placed, legend_h = _legend(legend, 10, 30, width - 20)
    top = 30 + legend_h + 18
    bottom = height + top
    plot = height - 40
    scale, ticks = nice_scale(max((c.total for c in columns), default=0))
    base = bottom - 20
    placed_columns = []
    for i, column in enumerate(columns):
        x = left + gap / 2 + i * (column_width + gap)
        y = float(base)
        segments = []
        for s in column.segments:
            h = plot * s.value / scale
            if h > 0:
                segments.append(_placed(x, y - h, column_width, h, s))
            y -= h
        placed_columns.append({"label": column.label, "segments": segments, "centre": x + column_width / 2, "top": y,
                               "total": column.total_text if column.total_text is not None
                               else _number(column.total) + unit})
    return _draw("charts/colonnes.svg", title=title, width=width, height=bottom + 34, left=left, base=base,
                 legend=legend_placed, bars=placed_columns,
                 ticks=[{"at": base - plot * tick / ticks, "label": _number(scale * tick / ticks) + unit}
                        for tick in range(0, ticks + 1)])


__all__ = ["Bar", "Segment", "hbar_chart", "column_chart"]
