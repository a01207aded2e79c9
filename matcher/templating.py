"""One templating for every HTML output (reports, charts and maps, the coverage page, the web page,
the letters): Jinja2 with autoescape on, templates under `templates/`, one stylesheet. Python
computes what a page says (figures, geometry, texts); the markup is in the templates only.

Every value written by a template is escaped (`&`, `<`, `>`, `"`), except what is marked `Markup`
(an SVG drawn by another template). The apostrophe is left as it is — « l'agence », never
« l&#39;agence » — which is safe because every attribute of every template is written in double
quotes (`tests/test_templating.py` checks it).

A self-contained report carries the stylesheet inline; the web page links it, and its
Content-Security-Policy admits the inline copy by its hash (`style_hash`), so that a report
served by the web page is the same document as the one written to disk. With `--dsfr DIR`, the
Système de design de l'État's stylesheet, read from a local installation, comes first.
"""

from __future__ import annotations

import base64
import html
import hashlib
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from .errors import AiguillageError
from .model import COUT_LABELS, LEVEL_LABELS

# The colour of each level, in the maps, the charts and the stylesheet.
LEVEL_COLOURS = {"communal": "#08306b", "intercommunal": "#2171b5", "departemental": "#6baed6",
                 "regional": "#c6dbef", "operateur": "#fdd0a2", "agence": "#fb6a4a"}


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("matcher", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "svg"), default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_escape_keeping_apostrophes,
    )
    env.globals["level_labels"] = LEVEL_LABELS
    env.globals["cout_labels"] = COUT_LABELS
    env.filters["plural"] = plural_word
    env.filters["fmt_int"] = fmt_int
    return env


@jinja2.pass_eval_context
def _escape_keeping_apostrophes(context: jinja2.nodes.EvalContext, value: Any) -> Any:
    if context.autoescape and isinstance(value, str) and not hasattr(value, "__html__"):
        return Markup(html.escape(value, quote=False).replace('"', "&#34;"))
    return value


def render(name: str, **context: Any) -> str:
    """A template filled in; every value not marked `Markup` is escaped."""
    context.setdefault("inline_css", ())
    context.setdefault("css_links", ())
    return environment().get_template(name).render(**context)


def fragment(name: str, **context: Any) -> Markup:
    """A piece of a page (a chart, a map) drawn by its template, to be placed in another one as it is."""
    return Markup(environment().get_template(name).render(**context))


@cache
def stylesheet() -> str:
    """The one stylesheet (neutral, printable on A4), with the levels' colours of the maps."""
    return environment().get_template("aiguillage.css").render(level_colours=LEVEL_COLOURS)


def style_hash(css: str) -> str:
    """The CSP source that admits a stylesheet written inline in a <style> element."""
    digest = hashlib.sha256(css.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def inline_styles(dsfr_css: str | None = None) -> list[Markup]:
    """The stylesheets a self-contained page carries in <style> elements: the Système de design de
    l'État's when one is given (`--dsfr`), then the one stylesheet, whose rules come last."""
    return [Markup(css) for css in (dsfr_css, stylesheet()) if css]


# Where a local installation of the Système de design de l'État (npm @gouvfr/dsfr) keeps its styles.
DSFR_STYLESHEETS = ("dist/dsfr.min.css", "dsfr.min.css", "dist/dsfr.css", "dsfr.css")


def dsfr_stylesheet(folder: Path) -> str:
    """The Système de design de l'État's stylesheet from a local installation (`--dsfr DIR`)."""
    for candidate in DSFR_STYLESHEETS:
        path = Path(folder) / candidate
        if path.is_file():
            css = path.read_text(encoding="utf-8", errors="replace")
            if "</style" in css.lower():  # it is written inside a <style> element of the reports
                raise AiguillageError(f"{path} : « </style » dans une feuille de style : ce n'est pas celle du DSFR")
            return css
    raise AiguillageError(f"{folder} : pas de dsfr.min.css (ni dist/dsfr.min.css) : indiquez le dossier du DSFR installé")


def fmt_int(n: float | int) -> str:
    return f"{int(n):,}".replace(",", "\u202f")


def plural_word(count: int, singular: str, plural: str | None = None) -> str:
    """« 1 demande », « 0 demande », « 2 demandes »: French puts 0 and 1 in the singular."""
    return f"{fmt_int(count)} {singular if count < 2 else plural or singular + 's'}"


__all__ = ["LEVEL_COLOURS", "render", "fragment", "stylesheet", "style_hash", "inline_styles", "dsfr_stylesheet",
           "plural_word", "fmt_int", "Markup"]
