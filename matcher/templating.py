"""One templating for every HTML output (reports, the coverage page, the web page, the letters):
Jinja2 with autoescape on, templates under `templates/`, one stylesheet.

A self-contained report carries the stylesheet inline; the web page links it, and its
Content-Security-Policy admits the inline copy by its hash (`stylesheet_hash`), so that a report
served by the web page is the same document as the one written to disk.
"""

from __future__ import annotations

import base64
import html
import hashlib
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup

from .coverage_map import LEVEL_COLOURS
from .model import COUT_LABELS, LEVEL_LABELS


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("matcher", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "svg"), default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["level_labels"] = LEVEL_LABELS
    env.globals["cout_labels"] = COUT_LABELS
    env.filters["plural"] = plural_word
    env.filters["fmt_int"] = fmt_int
    return env


def render(name: str, **context: Any) -> str:
    """A template filled in; every value not marked `Markup` is escaped."""
    context.setdefault("inline_css", None)
    context.setdefault("css_links", ())
    return environment().get_template(name).render(**context)


@cache
def stylesheet() -> str:
    """The one stylesheet (neutral, printable on A4), with the levels' colours of the maps."""
    return environment().get_template("aiguillage.css").render(level_colours=LEVEL_COLOURS)


@cache
def stylesheet_hash() -> str:
    """The CSP source that admits the stylesheet written inline in a <style> element."""
    digest = hashlib.sha256(stylesheet().encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def inline_stylesheet() -> Markup:
    return Markup(stylesheet())


def text(value: str) -> Markup:
    """Text for an element's content: escaped, quotes kept as they are (« l'agence », not « l&#39;agence »).
    Never for an attribute's value."""
    return Markup(html.escape(value, quote=False))


def fmt_int(n: float | int) -> str:
    return f"{int(n):,}".replace(",", "\u202f")


def plural_word(count: int, singular: str, plural: str | None = None) -> str:
    """« 1 demande », « 0 demande », « 2 demandes »: French puts 0 and 1 in the singular."""
    return f"{fmt_int(count)} {singular if count < 2 else plural or singular + 's'}"


__all__ = ["render", "stylesheet", "stylesheet_hash", "inline_stylesheet", "plural_word", "fmt_int", "text", "Markup"]
