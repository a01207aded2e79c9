"""One self-contained HTML page: inline CSS (readable printed), inline SVG, no external resource,
and an annex that lists, for every figure, the rows of the decisions file behind it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..files import atomic_output
from ..templating import fmt_int, inline_styles, render, stylesheet

# Beyond this many row references in the annex, an entry gives its filter and no longer every id
# (a page for a million rows would not open); the JSON output always carries them all.
ANNEX_LIMIT = 200_000

# The one stylesheet of every HTML output (templates/aiguillage.css), inlined: the page is self-contained.
STYLE = stylesheet()


def fmt_share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}\u00a0%" if whole else "—"


def fmt_euros(value: float) -> str:
    return f"{value:,.0f}\u00a0€".replace(",", "\u202f") if value == value else ""


def fmt_date(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value is not None else ""


@dataclass(frozen=True)
class Count:
    """A figure of a page and the annex entry that lists the rows it counts (`href`; None when it
    counts none). Templates draw it with the macro `n` of `report/macros.html`."""

    text: str
    href: str | None
    n: int


class Trace:
    """The rows behind each figure. `link` registers a set of row references and returns the figure
    with the anchor of its entry in the annex; the same set shown twice has one entry."""

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

    def link(self, refs: Sequence[str], what: str, text: str | None = None) -> Count:
        """The count of `refs` (or `text`), linked to the list of those rows."""
        return Count(text if text is not None else fmt_int(len(refs)), self.anchor(refs, what), len(refs))

    def annex(self) -> list[dict]:
        """The entries of the annex, in the order their figures were first shown; an entry beyond
        ANNEX_LIMIT rows in all gives no list (`refs` None)."""
        listed = 0
        entries = []
        for refs, (anchor, whats) in self._entries.items():
            shown = listed + len(refs) <= ANNEX_LIMIT
            if shown:
                listed += len(refs)
            entries.append({"anchor": anchor, "n": len(refs), "what": " ; ".join(whats),
                            "refs": refs if shown else None})
        return entries


def document(template: str, sections: dict[str, str], trace: Trace, dsfr_css: str | None = None,
             **context: object) -> str:
    """A report drawn by its template (which extends `report.html`): `sections` maps each anchor to
    its heading, in the order of the table of contents; the annex lists the rows behind each figure
    linked by `trace` while the report's figures were computed; `dsfr_css`, the Système de design de
    l'État's stylesheet (`--dsfr`), is carried inline before the page's own."""
    return render(template, sections=sections, annex=trace.annex(), inline_css=inline_styles(dsfr_css), **context)


def write_text(text: str, path: Path) -> None:
    """Write a report atomically: an interrupted run leaves the previous file in place."""
    with atomic_output(Path(path)) as tmp:
        tmp.write_text(text, encoding="utf-8")


__all__ = ["Count", "Trace", "document", "write_text", "fmt_int", "fmt_share", "fmt_euros",
           "fmt_date", "STYLE"]
