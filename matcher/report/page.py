"""One self-contained HTML page: inline CSS (readable printed), inline SVG, no external resource,
and an annex that lists, for every figure, the rows of the decisions file behind it.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from pathlib import Path
from typing import Iterable, Sequence

from ..files import atomic_output

# Beyond this many row references in the annex, an entry gives its filter and no longer every id
# (a page for a million rows would not open); the JSON output always carries them all.
ANNEX_LIMIT = 200_000

STYLE = """
:root { --ink: #1e1e1e; --muted: #5a5a5a; --line: #cfcfcf; --head: #eef2f7; --accent: #1f4e8c; }
* { box-sizing: border-box; }
body { font-family: "Marianne", Arial, Helvetica, sans-serif; color: var(--ink); margin: 1.5em auto;
       max-width: 1100px; padding: 0 1em; line-height: 1.35; font-size: 14px; }
h1 { font-size: 1.6em; margin: 0 0 .2em; color: var(--accent); }
h2 { font-size: 1.25em; margin: 1.6em 0 .5em; border-bottom: 2px solid var(--accent); padding-bottom: .15em; }
h3 { font-size: 1.05em; margin: 1.1em 0 .4em; }
p.meta { color: var(--muted); margin: .1em 0; }
p.note { color: var(--muted); font-size: .9em; max-width: 62em; }
nav ol { columns: 2; margin: .5em 0 0; padding-left: 1.4em; }
.figures { display: flex; flex-wrap: wrap; gap: .6em; margin: .8em 0; }
.figure { border: 1px solid var(--line); border-left: 4px solid var(--accent); padding: .4em .8em; min-width: 11em; }
.figure .v { font-size: 1.6em; font-weight: bold; display: block; }
.figure .l { color: var(--muted); font-size: .85em; }
table { border-collapse: collapse; margin: .6em 0 1em; font-size: .86em; width: auto; }
th, td { border: 1px solid var(--line); padding: 3px 6px; vertical-align: top; }
th { background: var(--head); text-align: left; }
td.n, th.n { text-align: right; white-space: nowrap; }
td.c { text-align: center; }
tr.total td { font-weight: bold; background: #f7f7f7; }
a { color: var(--accent); }
a.n { text-decoration: none; border-bottom: 1px dotted var(--accent); }
svg.chart, svg.map { max-width: 100%; height: auto; display: block; margin: .5em 0; }
.warn { background: #fff4e5; border-left: 4px solid #e67e22; padding: .4em .8em; }
.annex { font-size: .78em; color: var(--muted); }
.annex li { margin: .15em 0; }
.annex b { color: var(--ink); }
.cell-ok { background: #e5f5e0; } .cell-blank { background: #fde0dd; font-weight: bold; }
footer { margin-top: 2em; color: var(--muted); font-size: .8em; border-top: 1px solid var(--line); padding-top: .4em; }
@page { size: A4; margin: 12mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  nav { display: none; }
  a, a.n { color: inherit; text-decoration: none; border: 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  table, svg, .figure { break-inside: avoid; page-break-inside: avoid; }
  section.annex-section { break-before: page; page-break-before: always; }
  .annex { columns: 2; font-size: 7pt; }
}
"""


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
    annex of the rows behind each figure."""
    nav = "".join(f'<li><a href="#{a}">{escape(h, quote=False)}</a></li>' for a, h, _ in sections)
    body = "".join(f'<section id="{a}"><h2>{escape(h, quote=False)}</h2>{html}</section>' for a, h, html in sections)
    annex = ('<section id="annexe" class="annex-section"><h2>Annexe : les demandes derrière chaque chiffre</h2>'
             '<p class="note">Chaque chiffre souligné renvoie ici : la liste des demandes qu\'il compte, par leur '
             "identifiant dans le fichier de décisions (ou leur numéro de ligne quand le fichier n'a pas "
             "d'identifiants uniques).</p>" + trace.annex() + "</section>")
    return "\n".join([
        "<!doctype html>", '<html lang="fr"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title, quote=False)}</title><style>{STYLE}</style></head><body>",
        f"<header><h1>{escape(title, quote=False)}</h1>" + "".join(f'<p class="meta">{m}</p>' for m in meta) + "</header>",
        f'<nav><b>Sommaire</b><ol>{nav}<li><a href="#annexe">Annexe : les demandes derrière chaque chiffre</a></li>'
        "</ol></nav>",
        body, annex, f"<footer>{footer}</footer>", "</body></html>",
    ])


def write_text(text: str, path: Path) -> None:
    """Write a report atomically: an interrupted run leaves the previous file in place."""
    with atomic_output(Path(path)) as tmp:
        tmp.write_text(text, encoding="utf-8")


__all__ = ["Trace", "table", "figures", "document", "write_text", "fmt_int", "fmt_share", "fmt_euros",
           "fmt_date", "STYLE"]
