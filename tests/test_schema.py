"""The JSON Schema an editor reads (`aiguillage rules schema`): draft-07, the vocabulary as enums, and every
shipped catalogue and rules file valid against it, as an editor's YAML server would check them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest

from clirun import run
from matcher.files import yaml_files
from matcher.paths import shipped_catalogue, shipped_rules
from matcher.yamlsource import load


def _as_an_editor_reads_it(value):
    """YAML 1.2, which editors' YAML servers speak, has no date type: an unquoted date is a string."""
    if isinstance(value, dict):
        return {str(k): _as_an_editor_reads_it(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_an_editor_reads_it(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def schema(kind: str) -> dict:
    result = run("rules", "schema", "--kind", kind)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def validators():
    out = {}
    for kind in ("catalogue", "regles"):
        document = schema(kind)
        jsonschema.Draft7Validator.check_schema(document)
        out[kind] = jsonschema.Draft7Validator(document)
    return out


def test_the_schema_declares_draft_07_and_the_vocabulary(workspace):
    document = schema("catalogue")
    assert document["$schema"] == "http://json-schema.org/draft-07/schema#"
    offre = document["properties"]["offres"]["items"]["properties"]
    for kind in ("thematiques", "besoins"):
        vocabulary = workspace.catalogue.vocabularies[kind]
        assert offre[kind]["items"]["enum"] == list(vocabulary.terms)
        assert offre[kind]["items"]["enumDescriptions"] == [t.libelle for t in vocabulary.terms.values()]
    demande = schema("regles")["properties"]["tests"]["items"]["properties"]["demande"]["properties"]
    assert demande["thematiques"]["items"]["enum"] == list(workspace.catalogue.vocabularies["thematiques"].terms)


@pytest.mark.parametrize("root, kind", [(shipped_catalogue(), "catalogue"), (shipped_rules(), "regles")],
                         ids=["catalogues", "rules"])
def test_every_shipped_file_is_valid_against_the_schema(validators, root: Path, kind: str):
    files = yaml_files(root)
    assert files
    for path in files:
        data = _as_an_editor_reads_it(load(path).data)
        problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validators[kind].iter_errors(data)]
        assert problems == [], path


def test_a_word_outside_the_vocabulary_is_refused_by_the_schema(validators):
    offer = {"id": "x", "nom": "X", "structure": "S", "niveau": "departemental", "perimetre": ["departement:16"],
             "thematiques": ["urbanism"], "besoins": ["conseil"], "cout": "gratuit", "source": "https://example.org/"}
    errors = list(validators["catalogue"].iter_errors({"offres": [offer]}))
    assert [e.absolute_path[-1] for e in errors] == [0] and "urbanism" in errors[0].message
    offer["thematiques"] = ["urbanisme"]
    assert list(validators["catalogue"].iter_errors({"offres": [offer]})) == []
