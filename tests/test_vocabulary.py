"""`aiguillage vocabulaire`: the words offers, demandes and rules speak, with their labels and parents;
the README lists the same."""

from __future__ import annotations

import json
import re
from pathlib import Path

from clirun import run

README = Path(__file__).parent.parent / "README.md"


def test_the_vocabulary_is_listed_with_labels_and_parents(workspace):
    result = run("vocabulaire", "--format", "json")
    assert result.code == 0 and result.stderr == ""
    data = json.loads(result.stdout)
    for kind in ("thematiques", "besoins", "programmes"):
        vocabulary = workspace.catalogue.vocabularies[kind]
        assert sorted(t["id"] for t in data[kind]) == sorted(vocabulary.terms)
        for term in data[kind]:
            assert (term["libelle"], term["parent"]) == (vocabulary.terms[term["id"]].libelle,
                                                         vocabulary.terms[term["id"]].parent)
    ids = [t["id"] for t in data["thematiques"]]
    assert ids.index("urbanisme") < ids.index("revitalisation")  # a word after its parent


def test_the_text_indents_a_word_under_its_parent():
    text = run("vocabulaire").stdout
    assert re.search(r"^  urbanisme +Urbanisme, logement, aménagement$", text, re.MULTILINE)
    assert re.search(r"^    revitalisation +Revitalisation des centres-villes et centres-bourgs$", text, re.MULTILINE)
    assert re.search(r"^Besoins \(\d+\)$", text, re.MULTILINE)


def test_the_readme_lists_the_shipped_vocabulary():
    readme = README.read_text(encoding="utf-8")
    listed = re.search(r"<!-- vocabulaire : aiguillage vocabulaire --format markdown -->\n(.*?)\n<!-- fin du vocabulaire -->",
                       readme, re.DOTALL)
    assert listed, "la section du vocabulaire manque au README"
    assert listed.group(1) == run("vocabulaire", "--format", "markdown").stdout.rstrip("\n"), (
        "le README ne liste pas le vocabulaire livré : recopiez « aiguillage vocabulaire --format markdown »")
