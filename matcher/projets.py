"""Read a backlog written in the public "projets-territoire" Table Schema as it is.

Other French platforms (Mon Espace Collectivité, Territoires en transitions, Recoco) exchange
projects in this schema. Each project becomes a demande: the columns it is read from stay as
they are, and the demande's columns (porteur, thematiques, besoins, ...) are added beside them,
so that the decisions file shows how each project was understood. The correspondences
(M57 compétences and SGPE leviers → thématiques, phase → besoin) are in data/projets-territoire.yaml.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from pathlib import Path

import pyarrow as pa

from . import arrow
from .backlog import Backlog, normalize_header
from .workspace import Workspace

MAPPING_FILE = Path(__file__).parent / "data" / "projets-territoire.yaml"
SIGNATURE = {"porteurcodesiret", "nom", "competences", "leviers"}


@cache
def _mapping() -> dict:
    from .yamlsource import load  # PyYAML, paid only by the backlogs in this schema

    return load(MAPPING_FILE).data


def is_projets_territoire(backlog: Backlog) -> bool:
    headers = {normalize_header(n).replace("_", "") for n in backlog.table.column_names}
    return SIGNATURE <= headers


def _json_list(cell: str) -> list[str]:
    cell = cell.strip()
    if not cell:
        return []
    try:
        value = json.loads(cell)
    except json.JSONDecodeError:
        return [part.strip() for part in cell.replace(";", ",").split(",") if part.strip()]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _themes(competences: str, leviers: str, known: set[str]) -> str:
    mapping = _mapping()
    by_code = mapping["competences"]
    words: list[str] = []
    for code in _json_list(competences):
        prefixes = [p for p in by_code if code.startswith(p)]
        if prefixes:
            words.append(by_code[max(prefixes, key=len)])
    for levier in _json_list(leviers):
        if levier in mapping["leviers"]:
            words.append(mapping["leviers"][levier])
    return "|".join(w for w in dict.fromkeys(words) if w in known)


def from_projets_territoire(backlog: Backlog, workspace: Workspace) -> Backlog:
    """The same backlog with the demande's columns derived from the schema's."""
    table = backlog.table
    column = {normalize_header(n).replace("_", ""): n for n in table.column_names}

    def cells(name: str) -> list[str]:
        source = column.get(name)
        return table.column(source).to_pylist() if source else [""] * table.num_rows

    mapping = _mapping()
    known = set(workspace.catalogue.vocabularies["thematiques"].terms)
    derived = {
        "porteur": [c.strip() for c in cells("porteurcodesiret")],
        "intitule": cells("nom"),
        "thematiques": [_themes(c, lv, known) for c, lv in zip(cells("competences"), cells("leviers"))],
        "besoins": [mapping["phases"].get(p.strip(), "diagnostic" if not p.strip() else p.strip())
                    for p in cells("phase")],
        "programmes": [mapping["programmes"].get(p.strip(), "") for p in cells("programme")],
        "montant": cells("budgetprevisionnel"),
        "date_depot": [c[:10] for c in cells("createdat")],
    }
    columns = {name: table.column(name) for name in table.column_names}
    for name, values in derived.items():
        if name not in columns:
            columns[name] = arrow.texts(values)
    return replace(backlog, table=pa.table(columns))
