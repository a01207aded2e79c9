"""One templating for every HTML output: what a user typed reaches a page escaped, and the markup
lives in the templates, never in Python strings."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from clirun import run
from matcher.charts import Bar, Segment, hbar_chart
from matcher.templating import render

MATCHER = Path(__file__).parent.parent / "matcher"
TEMPLATES = MATCHER / "templates"
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
HOSTILE = "<script>alert(\"x\")</script> l'agence & co"


def test_every_attribute_of_every_template_is_double_quoted():
    # The escaping leaves the apostrophe as it is, which is only safe in double-quoted attributes.
    for path in [*TEMPLATES.rglob("*.html"), *TEMPLATES.rglob("*.svg")]:
        markup = JINJA.sub("", path.read_text(encoding="utf-8"))
        for line_no, line in enumerate(markup.splitlines(), 1):
            for tag in re.findall(r"<[a-zA-Z][^<>]*>", line):
                unquoted = re.sub(r'=\s*"[^"]*"', "", tag)  # a value left is not in double quotes
                assert "=" not in unquoted, f"{path.name}:{line_no}: {tag}"


def test_no_module_writes_markup_in_python():
    markup = re.compile(r"""["'f]<(?:table|tr|td|th|p|div|span|svg|rect|path|text|a|li|ul|ol|h[1-6]|section|b|small)[\s>/]""")
    for path in MATCHER.rglob("*.py"):
        for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not markup.search(line), f"{path.relative_to(MATCHER.parent)}:{line_no}: {line.strip()}"


def test_a_value_is_escaped_in_text_and_attributes_and_keeps_its_apostrophes():
    page = render("base.html", title=HOSTILE)
    assert "<title>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; l'agence &amp; co</title>" in page


def test_a_chart_label_is_text_of_the_drawing():
    svg = hbar_chart([Bar(HOSTILE, (Segment(2, "#111", HOSTILE, "#t1"),))], HOSTILE)
    root = ET.fromstring(svg)  # well-formed: nothing the label holds became markup
    ns = "{http://www.w3.org/2000/svg}"
    assert root.find(f"{ns}title").text == HOSTILE
    assert root.find(f".//{ns}a/{ns}rect/{ns}title").text == HOSTILE
    assert "<script" not in svg


def test_a_demande_typed_with_markup_reads_as_typed_in_the_reports(tmp_path):
    backlog = tmp_path / "carnet.csv"
    backlog.write_text("id;intitule;porteur;thematiques;besoins;complexite;date_depot\n"
                       f"x-1;{HOSTILE.replace(chr(34), '')};29019;urbanisme;etude;complexe;2026-03-02\n",
                       encoding="utf-8")
    decisions = tmp_path / "decisions.csv"
    date = ["--date", "2026-11-26"]
    assert run("batch", backlog, "-o", decisions, *date).code == 0
    for command in (["comite-regional", "--region", "53"], ["comite-local", "--departement", "29"]):
        out = tmp_path / f"{command[0]}.html"
        assert run("report", *command, "--decisions", decisions, "-o", out, *date).code == 0
        page = out.read_text(encoding="utf-8")
        assert "<script>" not in page and "&lt;script&gt;alert(x)&lt;/script&gt; l'agence &amp; co" in page, command
