"""One self-contained HTML page: inline CSS (readable printed), inline SVG, no external resource,
and an annex that lists, for every figure, the rows of the decisions file behind it.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from pathlib import Path
from typing import Iterable, Sequence

from ..files import atomic_output
from ..templating import Markup, inline_stylesheet, render, stylesheet
from ..templating import text as element_text

# Beyond this many row references in the annex, an entry gives its filter and no longer every id
# (a page for a million rows would not open); the JSON output always carries them all.
ANNEX_LIMIT = 200_000

# The one stylesheet of every HTML output (templates/aiguillage.css), inlined: the page is self-contained.
STYLE = stylesheet()


def fmt_int(n: float | int) -> str:
    return f"{int(n):,}".replace(",", "\u202f")


def fmt_share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}\u00a0%" if whole else "—"


def fmt_euros(value: float) -> str:
    return f"{value:,.0f}\u00a0€".replace(",", "\u202f") if value == value else ""


def fmt_date(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value is not None else ""


class Trace:
    """The rows behind each figure. `link` registers a set of row references and returns the figure
    as a link to its entry in the annex; the same set shown twice has one entry."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, ...], tuple[str, list[str]]] = {}

    def anchor(self, refs: Sequence[str], what: str) -> str | None:
        key = tuple(refs)
        if not key:
            return None
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = (f"t{len(self._entries) + 1}", [])
        if what and what not in entry[1]:
            entry[1].append(what)
        return "#" + entry[0]

    def link(self, refs: Sequence[str], what: str, text: str | None = None) -> str:
        """The count of `refs` (or `text`), linked to the list of those rows."""
        shown = escape(text) if text is not None else fmt_int(len(refs))
        href = self.anchor(refs, what)
        if href is None:
            return shown
        return f'<a class="n" href="{href}" data-n="{len(refs)}">{shown}</a>'

    def annex(self) -> str:
        listed = 0
        items = []
        for refs, (anchor, whats) in self._entries.items():
            shown = listed + len(refs) <= ANNEX_LIMIT
            if shown:
                listed += len(refs)
                ids = ", ".join(f'<span class="ref">{escape(r)}</span>' for r in refs)
            else:
                ids = "liste trop longue pour la page : filtrez le fichier de décisions ainsi, ou utilisez la sortie JSON"
            items.append(f'<li id="{anchor}" data-n="{len(refs)}"><b>[{anchor}] {fmt_int(len(refs))} — '
                         f"{escape(' ; '.join(whats))}</b> : {ids}</li>")
        return '<ol class="annex">' + "".join(items) + "</ol>"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Iterable[int] = (),
          total: Sequence[str] | None = None) -> str:
    """A table of pre-rendered cells; the columns in `numeric` are right-aligned."""
    right = set(numeric)
    head = "".join(f'<th{" class=n" if i in right else ""}>{h}</th>' for i, h in enumerate(headers))
    body = []
    for row in rows:
        body.append("<tr>" + "".join(f'<td{" class=n" if i in right else ""}>{c}</td>' for i, c in enumerate(row))
                    + "</tr>")
    if total is not None:
        body.append('<tr class="total">' + "".join(f'<td{" class=n" if i in right else ""}>{c}</td>'
                                                   for i, c in enumerate(total)) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def figures(items: Iterable[tuple[str, str]]) -> str:
    """Key figures as boxes: (value as HTML, label)."""
    return '<div class="figures">' + "".join(
        f'<div class="figure"><span class="v">{v}</span><span class="l">{escape(label, quote=False)}</span></div>'
        for v, label in items) + "</div>"


def document(title: str, meta: Sequence[str], sections: Sequence[tuple[str, str, str]], trace: Trace,
             footer: str) -> str:
    """The page: title, meta lines, a table of contents, the sections (anchor, heading, HTML) and the
    annex of the rows behind each figure. `meta`, the sections' HTML and `footer` are HTML already
    escaped by their builders; the title and headings are text."""
    return render("report.html", title=element_text(title), meta=[Markup(m) for m in meta],
                  sections=[(a, element_text(h), Markup(html)) for a, h, html in sections], annex=Markup(trace.annex()),
                  footer=Markup(footer), inline_css=inline_stylesheet())


def write_text(text: str, path: Path) -> None:
    """Write a report atomically: an interrupted run leaves the previous file in place."""
    with atomic_output(Path(path)) as tmp:
        tmp.write_text(text, encoding="utf-8")


__all__ = ["Trace", "table", "figures", "document", "write_text", "fmt_int", "fmt_share", "fmt_euros",
           "fmt_date", "STYLE"]
