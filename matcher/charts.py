"""Bar charts as inline SVG, for reports that must open anywhere, offline, and print.

Two shapes are enough for what the comités look at: horizontal bars (one per département, theme,
EPCI…, stacked by level when asked) and columns over time. Every segment may link to the rows
behind it (`href`, an anchor of the page) and carries a tooltip with its exact figure, so that a
picture is never less traceable than the table beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

FONT = "font-family=\"sans-serif\""
GRID = "#d9d9d9"
TEXT = "#222222"


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


def _segment(x: float, y: float, w: float, h: float, s: Segment) -> str:
    rect = (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" fill="{s.colour}">'
            f"<title>{escape(s.tooltip)}</title></rect>")
    return f'<a href="{escape(s.href)}">{rect}</a>' if s.href else rect


def _legend(items: list[tuple[str, str]], x: float, y: float, width: float) -> tuple[str, float]:
    """Legend entries in rows; returns the SVG and the height used."""
    parts, cx, cy = [], x, y
    for label, colour in items:
        w = 22 + 6.5 * len(label)
        if cx + w > x + width and cx > x:
            cx, cy = x, cy + 18
        parts.append(f'<rect x="{cx:.0f}" y="{cy:.0f}" width="12" height="12" fill="{colour}" stroke="#999" '
                     f'stroke-width="0.5"/><text x="{cx + 16:.0f}" y="{cy + 10:.0f}" font-size="11">{escape(label)}</text>')
        cx += w
    return "".join(parts), (cy - y + 18) if items else 0


def hbar_chart(bars: list[Bar], title: str, legend: list[tuple[str, str]] | None = None, width: int = 760,
               label_width: int = 230, bar_height: int = 16, unit: str = "") -> str:
    """Horizontal bars, one per item, stacked by segment; the total after each bar."""
    legend = legend or []
    top = 30
    legend_svg, legend_h = _legend(legend, 10, top, width - 20)
    top += legend_h + (6 if legend else 0)
    plot = width - label_width - 70
    scale, ticks = nice_scale(max((b.total for b in bars), default=0))
    height = top + len(bars) * (bar_height + 6) + 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="group" {FONT} fill="{TEXT}">',
             f"<title>{escape(title)}</title>",
             f'<text x="10" y="18" font-size="13" font-weight="bold">{escape(title)}</text>', legend_svg]
    for tick in range(0, ticks + 1):
        x = label_width + plot * tick / ticks
        parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 20}" stroke="{GRID}" '
                     f'stroke-width="0.6"/><text x="{x:.1f}" y="{height - 6}" font-size="10" text-anchor="middle" '
                     f'fill="#666">{_number(scale * tick / ticks)}{escape(unit)}</text>')
    for i, bar in enumerate(bars):
        y = top + i * (bar_height + 6)
        parts.append(f'<text x="{label_width - 6}" y="{y + bar_height - 4}" font-size="11" text-anchor="end">'
                     f"<title>{escape(bar.label)}</title>{escape(_fit(bar.label, label_width // 6))}</text>")
        x = float(label_width)
        for s in bar.segments:
            w = plot * s.value / scale
            if w > 0:
                parts.append(_segment(x, y, w, bar_height, s))
            x += w
        total = bar.total_text if bar.total_text is not None else _number(bar.total) + unit
        parts.append(f'<text x="{x + 5:.1f}" y="{y + bar_height - 4}" font-size="11">{escape(total)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def column_chart(columns: list[Bar], title: str, legend: list[tuple[str, str]] | None = None, height: int = 260,
                 column_width: int = 40, unit: str = "") -> str:
    """Vertical columns over time (one per period), stacked by segment; the total above each."""
    legend = legend or []
    left, gap = 46, 10
    width = max(480, left + len(columns) * (column_width + gap) + 20)
    legend_svg, legend_h = _legend(legend, 10, 30, width - 20)
    top = 30 + legend_h + 18
    bottom = height + top
    plot = height - 40
    scale, ticks = nice_scale(max((c.total for c in columns), default=0))
    total_h = bottom + 34
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {total_h}" '
             f'width="{width}" height="{total_h}" role="group" {FONT} fill="{TEXT}">',
             f"<title>{escape(title)}</title>",
             f'<text x="10" y="18" font-size="13" font-weight="bold">{escape(title)}</text>', legend_svg]
    base = bottom - 20
    for tick in range(0, ticks + 1):
        y = base - plot * tick / ticks
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="{GRID}" '
                     f'stroke-width="0.6"/><text x="{left - 4}" y="{y + 3:.1f}" font-size="10" text-anchor="end" '
                     f'fill="#666">{_number(scale * tick / ticks)}{escape(unit)}</text>')
    for i, column in enumerate(columns):
        x = left + gap / 2 + i * (column_width + gap)
        y = float(base)
        for s in column.segments:
            h = plot * s.value / scale
            if h > 0:
                parts.append(_segment(x, y - h, column_width, h, s))
            y -= h
        total = column.total_text if column.total_text is not None else _number(column.total) + unit
        parts.append(f'<text x="{x + column_width / 2:.1f}" y="{y - 4:.1f}" font-size="10" '
                     f'text-anchor="middle">{escape(total)}</text>')
        parts.append(f'<text x="{x + column_width / 2:.1f}" y="{base + 14}" font-size="10" '
                     f'text-anchor="middle">{escape(column.label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


__all__ = ["Bar", "Segment", "hbar_chart", "column_chart"]
