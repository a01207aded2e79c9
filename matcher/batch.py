"""Batch reassessment of a backlog: one decision per row, nothing lost.

Rows are checked column by column on their distinct values (a backlog of a million rows has a
few thousand distinct porteurs and a few hundred distinct theme cells), so that every check is
done once per value. The rows are then decided level by level (`walk.Walk`), each distinct
case once, and the decision columns are spread back over the rows as dictionary-encoded
columns. A row that cannot be routed gets its `erreur` (line, column, reason) and an otherwise
empty decision; the run goes on.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .backlog import Backlog, normalize_header, read_backlog, write_decisions
from .decide import Router
from .demande import check_field
from .errors import AiguillageError, BatchInputError, Location
from .model import LEVELS, Demande, Territoire
from .projets import from_projets_territoire, is_projets_territoire
from .render import NON_INSTRUISIBLE
from .territory import resolve
from .walk import Decided, FactColumns, Rows, Walk
from .workspace import Workspace

# Header names offices use for each field (after normalize_header).
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "identifiant", "numero", "reference", "ref"),
    "intitule": ("intitule", "titre", "projet", "nom_du_projet", "objet"),
    "porteur": ("porteur", "code_porteur", "siren", "siret", "code_siren"),
    "commune": ("commune", "code_insee", "insee", "code_commune", "commune_insee"),
    "thematiques": ("thematiques", "thematique", "themes", "theme"),
    "besoins": ("besoins", "besoin"),
    "programmes": ("programmes", "programme"),
    "complexite": ("complexite",),
    "saisine": ("saisine",),
    "type_porteur": ("type_porteur", "nature_du_porteur"),
    "population": ("population",),
    "montant": ("montant", "montant_du_projet", "budget", "cout_du_projet"),
    "date_depot": ("date_depot", "date_de_depot", "depot", "date_de_la_demande"),
    "avis_dt": ("avis_dt", "avis_du_dt", "avis_du_delegue_territorial"),
    "date_avis_dt": ("date_avis_dt", "date_de_l_avis_du_dt", "date_avis"),
}
REQUIRED = (("porteur", "commune"), ("thematiques",), ("besoins",))
DECISION_COLUMNS = (
    "niveau", "offre_id", "offre_nom", "structure", "departement_dt", "motif", "avis_dt_requis", "erreur",
    "instruction", "delegue_territorial", "territoire", "departement", "region", "epci", "examen", "alertes",
    "regles", "version_catalogue", "version_regles", "date_decision",
)
EXACT_FIELDS = ("thematiques", "besoins", "programmes", "complexite", "saisine", "type_porteur", "avis_dt")


@dataclass
class ColumnMap:
    """Which input column holds each demande field (None: absent)."""

    fields: dict[str, str]
    attributes: dict[str, str] = field(default_factory=dict)  # attribute name -> column

    def column(self, name: str) -> str | None:
        return self.fields.get(name) or self.attributes.get(name)


def map_columns(backlog: Backlog, attribute_names: Iterable[str]) -> ColumnMap:
    """Find each field's column; a missing required one stops the run at once."""
    by_normal = {}
    for name in backlog.table.column_names:
        if name not in DECISION_COLUMNS:
            by_normal.setdefault(normalize_header(name), name)
    fields: dict[str, str] = {}
    for field_name, aliases in ALIASES.items():
        for alias in aliases:
            if alias in by_normal:
                fields[field_name] = by_normal[alias]
                break
    for alternatives in REQUIRED:
        if not any(a in fields for a in alternatives):
            found = ", ".join(backlog.table.column_names)
            raise BatchInputError(
                f"colonne obligatoire absente : {' ou '.join(alternatives)} (colonnes trouvées : {found})",
                Location(backlog.path, 1, 1),
                "colonne-manquante",
            )
    attributes = {a: by_normal[normalize_header(a)] for a in attribute_names if normalize_header(a) in by_normal}
    return ColumnMap(fields, attributes)


@dataclass
class _Column:
    """One field over all rows: the index of each row's distinct value, and per value its check."""

    name: str  # the input column, for error messages
    indices: np.ndarray
    values: list[Any]
    errors: list[str | None]


def _distinct(table: pa.Table, column: str | None, n: int, check: Callable[[str], Any]) -> _Column | None:
    if column is None:
        return None
    encoded = pc.dictionary_encode(table.column(column)).combine_chunks()
    indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    values, errors = [], []
    for raw in encoded.dictionary.to_pylist():
        try:
            values.append(check(raw.strip()))
            errors.append(None)
        except AiguillageError as exc:
            values.append(None)
            errors.append(exc.message)
    return _Column(column, indices, values, errors)


@dataclass
class Backlogged:
    """A backlog checked and ready to decide: its rows as the walk reads them, and its errors."""

    table: pa.Table
    checked: dict[str, _Column]
    errors: np.ndarray  # per row: the problem, or None
    rows: Rows
    walk: Walk

    @property
    def routable(self) -> np.ndarray:
        return np.flatnonzero(self.errors == None)  # noqa: E711 - numpy elementwise comparison


@dataclass
class BatchResult:
    table: pa.Table  # input columns + decision columns, one row per input row
    levels: np.ndarray  # per row: the level's index in LEVELS, or -1 for an error row
    errors: int
    summary: dict[str, Any]
    backlog: Backlogged
    decided: Decided


def _field_checker(workspace: Workspace, field_name: str) -> Callable[[str], Any]:
    """Check one cell of a field the way a demande file's field is checked."""
    if field_name in ("porteur", "commune"):
        # A `commune` column (code_insee…) holds INSEE codes by its name: a code there is not a postal code.
        return lambda raw: resolve(raw, workspace.graph.index, insee=field_name == "commune")
    return lambda raw: check_field(field_name, raw, workspace.catalogue)


def _attribute_checker(kind: str) -> Callable[[str], Any]:
    def check(raw: str) -> Any:
        if raw == "":
            return None
        if kind == "nombre":
            try:
                return float(raw.replace(",", ".")) if not raw.isdigit() else int(raw)
            except ValueError:
                raise AiguillageError(f"nombre attendu, pas « {raw} »") from None
        if kind == "booléen":
            lowered = raw.lower()
            if lowered in ("oui", "true", "vrai", "1", "o", "x"):
                return True
            if lowered in ("non", "false", "faux", "0", "n", ""):
                return False
            raise AiguillageError(f"oui ou non attendu, pas « {raw} »")
        return raw

    return check



# --------------------------------------------------------------------------- the run


def run_batch(
    workspace: Workspace,
    source: Path,
    output: Path,
    day: dt.date,
    previous: Path | None = None,
    capacity: bool = False,
    encoding: str | None = None,
    separator: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Read a backlog, route it, assign and compare if asked, write the decisions; the summary."""
    backlog = read_backlog(source, encoding, separator)
    if is_projets_territoire(backlog):
        backlog = from_projets_territoire(backlog, workspace)
    router = workspace.router()
    tick = (lambda done: progress(done, backlog.table.num_rows)) if progress else None
    result = route_backlog(workspace, router, backlog, day, tick)
    if capacity:
        from .capacity import assign_capacities

        result = assign_capacities(workspace, result, day)
    if previous is not None:
        from .compare import compare_with_previous

        result = compare_with_previous(workspace, result, read_backlog(previous))
    write_decisions(result.table, output, separator=backlog.separator or ";")
    return {**result.summary, "fichier": str(output), "entree": str(source), "format_entree": backlog.format,
            "encodage_entree": backlog.encoding, "version": dict(router.version)}


def prepare_backlog(workspace: Workspace, router: Router, backlog: Backlog, day: dt.date) -> Backlogged:
    """Check every cell, resolve every porteur, and set the rows up for the walk."""
    table = backlog.table
    n = table.num_rows
    columns = map_columns(backlog, workspace.catalogue.attribute_types)
    if n > 1000:  # many territories to look up: read the whole division once
        workspace.graph.index.all_communes()
    checked: dict[str, _Column] = {}
    for name in ("porteur", "commune", *EXACT_FIELDS, "population", "montant", "date_depot", "date_avis_dt"):
        column = _distinct(table, columns.fields.get(name), n, _field_checker(workspace, name))
        if column is not None:
            checked[name] = column
    for name, kind in workspace.catalogue.attribute_types.items():
        column = _distinct(table, columns.attributes.get(name), n, _attribute_checker(kind))
        if column is not None:
            checked[f"attribut:{name}"] = column
    errors = _row_errors(backlog, checked, n)
    refs = np.where(errors == None, _porteur_refs(checked, n), "")  # noqa: E711
    territory, territoires = _territories(workspace, refs)
    rows = _rows(workspace, checked, territory, territoires, n)
    return Backlogged(table, checked, errors, rows, Walk(router, rows, day))


def route_backlog(
    workspace: Workspace,
    router: Router,
    backlog: Backlog,
    day: dt.date,
    progress: Callable[[int], None] | None = None,
) -> BatchResult:
    """Route every row; the result has exactly one row per input row, in the same order."""
    prepared = prepare_backlog(workspace, router, backlog, day)
    decided = prepared.walk.decide(prepared.routable, progress=progress)
    if progress:
        progress(len(prepared.errors) - len(prepared.routable))
    return decisions_table(prepared, decided, router, day)


def _territories(workspace: Workspace, refs: np.ndarray) -> tuple[np.ndarray, list[Territoire | None]]:
    """Per row the index of its territory (-1: none), and the distinct territories' chains."""
    codes, uniques = pd.factorize(refs)
    territoires = [workspace.graph.territoire(ref) if ref else None for ref in uniques]
    empty = [i for i, ref in enumerate(uniques) if not ref]
    territory = codes.astype(np.int64)
    if empty:
        territory[territory == empty[0]] = -1
    return territory, territoires


def _rows(workspace: Workspace, checked: dict[str, _Column], territory: np.ndarray,
          territoires: list[Territoire | None], n: int) -> Rows:
    """The facts of every row as codes, the way `decide.demande_facts` builds them for one demande."""
    voc = workspace.catalogue.vocabularies
    codes: dict[str, np.ndarray] = {}
    values: dict[str, list[Any]] = {}

    def cell_field(name: str, convert: Callable[[Any], Any], default: Any) -> None:
        col = checked.get(name)
        if col is None:
            codes[name], values[name] = np.zeros(n, dtype=np.int64), [convert(default)]
        else:
            codes[name] = col.indices
            values[name] = [convert(v if v is not None else default) for v in col.values]

    for name in ("thematiques", "besoins", "programmes"):
        cell_field(name, voc[name].with_ancestors, ())
    cell_field("complexite", lambda v: v, "simple")
    cell_field("saisine", lambda v: v, "dt")
    cell_field("avis_dt", lambda v: v, None)
    cell_field("montant", lambda v: v, None)
    for name in [k for k in checked if k.startswith("attribut:")]:
        cell_field(name, lambda v: ("true" if v else "false") if isinstance(v, bool) else v, None)
        codes[name.split(":", 1)[1]], values[name.split(":", 1)[1]] = codes.pop(name), values.pop(name)
    safe = np.maximum(territory, 0)
    for name in ("commune", "epci", "departement", "region", "zone"):
        codes[name] = safe
        values[name] = [getattr(t, name) if t is not None else None for t in territoires] or [None]
    # The porteur's nature: as given, else its territory's kind; the population: as given, else official.
    kind = np.array([t.kind if t is not None else "" for t in territoires] or [""], dtype=object)[safe]
    given_type = _per_row(checked.get("type_porteur"), n)
    codes["porteur"], uniques = pd.factorize(np.where(given_type != None, given_type, kind))  # noqa: E711
    values["porteur"] = list(uniques)
    official = np.array([t.population if t is not None and t.population is not None else np.nan
                         for t in territoires] or [np.nan], dtype=float)[safe]
    given = _per_row(checked.get("population"), n)
    population = np.where(given != None, given, official).astype(float)  # noqa: E711
    codes["population"], uniques = pd.factorize(population, use_na_sentinel=False)
    values["population"] = [None if v != v else (int(v) if float(v).is_integer() else float(v)) for v in uniques]
    avis = _per_row(checked.get("avis_dt"), n)

    def demande_of(row: int) -> Demande:
        def value(name: str, default: Any = None) -> Any:
            col = checked.get(name)
            if col is None:
                return default
            v = col.values[col.indices[row]]
            return default if v is None else v

        attributs = {k.split(":", 1)[1]: value(k) for k in checked if k.startswith("attribut:") and value(k) is not None}
        return Demande(
            id=str(row), porteur=territoires[territory[row]].ref, thematiques=value("thematiques", ()),
            besoins=value("besoins", ()), programmes=value("programmes", ()), complexite=value("complexite", "simple"),
            saisine=value("saisine", "dt"), type_porteur=value("type_porteur"), population=value("population"),
            montant=value("montant"), avis_dt=value("avis_dt"), attributs=attributs,
        )

    words = {name: [v or () for v in checked[name].values] if name in checked else [()]
             for name in ("thematiques", "besoins")}
    return Rows(territory, territoires, FactColumns(codes, values), demande_of, words,
                np.where(avis != None, avis, "").astype(object))  # noqa: E711


def _per_row(col: _Column | None, n: int) -> np.ndarray:
    if col is None:
        return np.full(n, None, dtype=object)
    return np.array(col.values + [None], dtype=object)[col.indices]


def _porteur_refs(checked: dict[str, _Column], n: int) -> np.ndarray:
    """Each row's resolved territory reference ('' when it could not be resolved)."""
    refs = np.full(n, "", dtype=object)
    for name in ("commune", "porteur"):  # `porteur` wins where both are filled
        col = checked.get(name)
        if col is None:
            continue
        per_value = np.array([v[0] if v else "" for v in col.values] or [""], dtype=object)
        filled = per_value[col.indices]
        refs = np.where(filled != "", filled, refs)
    return refs


def _row_errors(backlog: Backlog, checked: dict[str, _Column], n: int) -> np.ndarray:
    """Per row, the first problem in column order ('ligne N, colonne X : raison'), or None."""
    errors = np.full(n, None, dtype=object)
    for row, reason in (backlog.bad_rows or {}).items():
        errors[row] = f"ligne {backlog.line(row)} : {reason}"
    porteur, commune = checked.get("porteur"), checked.get("commune")
    for name, col in checked.items():
        failing = np.array([e is not None for e in col.errors] or [False])
        if not failing.any():
            continue
        rows = np.nonzero(failing[col.indices] & (errors == None))[0]  # noqa: E711
        for row in rows:
            if name == "porteur" and commune is not None and col.values[col.indices[row]] is None:
                raw = backlog.table.column(col.name)[int(row)].as_py().strip()
                if not raw and commune.errors[commune.indices[row]] is None:
                    continue  # an empty `porteur` is filled by `commune`
            if name == "commune" and porteur is not None and porteur.errors[porteur.indices[row]] is None:
                continue
            errors[row] = f"ligne {backlog.line(int(row))}, colonne {col.name} : {col.errors[col.indices[row]]}"
    return errors


# --------------------------------------------------------------------------- the decisions file


def _dictionary_column(values: list[str] | pa.Array, indices: np.ndarray, unique: bool = False
                       ) -> pa.DictionaryArray:
    """A column of few distinct texts: each row holds the index of its text (compact for a million rows).
    With `unique`, texts repeated in `values` are merged (pandas needs it to read the column)."""
    if unique:
        remap, distinct = pd.factorize(np.asarray(values, dtype=object))
        indices, values = remap[indices], list(distinct)
    return pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), pa.array(values, pa.string()))


def decisions_table(prepared: Backlogged, decided: Decided, router: Router, day: dt.date) -> BatchResult:
    """The input columns and the decision columns of every row, and the run's summary."""
    table, rows = prepared.table, prepared.rows
    n = table.num_rows
    at = np.full(n, -1, dtype=np.int64)  # per row: its position among the decided rows
    at[decided.rows] = np.arange(len(decided.rows))
    decided_here = at >= 0

    def spread(texts: list[str] | pa.Array, ids: np.ndarray) -> pa.DictionaryArray:
        """Per-decided-row text ids over all rows; '' for the rows in error. Long lists of texts are
        distinct already (the walk builds them so); short ones are merged here."""
        indices = np.where(decided_here, ids[np.maximum(at, 0)], len(texts)) if len(ids) else np.full(n, len(texts))
        if isinstance(texts, pa.Array):  # distinct, and never empty: an explanation names every level
            return _dictionary_column(pa.concat_arrays([texts, pa.array([""], pa.string())]), indices)
        values = list(texts) + [""]
        return _dictionary_column(values, indices, unique=len(values) < 100_000 or "" in texts)

    offer_ids, offer_keys = pd.factorize(np.array([o.id for o in decided.offre], dtype=object))
    by_id = {o.id: o for o in decided.offre}
    offers = [by_id[key] for key in offer_keys]
    levels = np.full(n, -1, dtype=np.int8)
    levels[decided.rows] = decided.level
    out: dict[str, pa.Array] = {
        "niveau": spread([LEVELS[int(i)] for i in range(len(LEVELS))], decided.level.astype(np.int64)),
        "offre_id": spread([o.id for o in offers], offer_ids),
        "offre_nom": spread([o.nom for o in offers], offer_ids),
        "structure": spread([o.structure for o in offers], offer_ids),
        "motif": spread(decided.motifs, decided.motif),
        "avis_dt_requis": spread(["non", "oui"], decided.avis_dt_requis.astype(np.int64)),
        "instruction": spread([NON_INSTRUISIBLE, ""], decided.instruisible.astype(np.int64)),
        "examen": spread(decided.examens, decided.examen),
        "alertes": spread(decided.alertes_texts, decided.alertes),
        "regles": spread(decided.regles_texts, decided.regles),
    }
    t = rows.territory
    for name, get in (
        ("departement_dt", lambda x: x.dt_departement), ("delegue_territorial", lambda x: x.dt_libelle),
        ("territoire", lambda x: x.ref), ("departement", lambda x: x.departement), ("region", lambda x: x.region),
        ("epci", lambda x: x.epci or ""),
    ):
        values = [get(x) if x is not None else "" for x in rows.territoires] + [""]
        out[name] = _dictionary_column(values, np.where(t >= 0, t, len(values) - 1), unique=True)
    constant = {"version_catalogue": router.version["catalogue"], "version_regles": router.version["regles"],
                "date_decision": day.isoformat()}
    for name, text in constant.items():
        out[name] = _dictionary_column([text, ""], np.where(decided_here, 0, 1))
    errors = prepared.errors
    out["erreur"] = pa.array(np.where(errors == None, "", errors).tolist(), pa.string())  # noqa: E711
    input_columns = {name: table.column(name) for name in table.column_names if name not in DECISION_COLUMNS}
    result = pa.table({**input_columns, **{name: out[name] for name in DECISION_COLUMNS}})
    failed = int((errors != None).sum())  # noqa: E711
    return BatchResult(result, levels, failed, _summary(result, levels, failed), prepared, decided)


def _summary(table: pa.Table, levels: np.ndarray, errors: int) -> dict[str, Any]:
    by_level = Counter(LEVELS[i] for i in levels[levels >= 0])
    frame = pd.DataFrame({"departement": table.column("departement").to_pandas().astype(str), "niveau": levels})
    frame = frame[frame.niveau >= 0]
    by_departement: dict[str, dict[str, int]] = {}
    for (dep, level), count in frame.groupby(["departement", "niveau"]).size().items():
        by_departement.setdefault(dep, {})[LEVELS[level]] = int(count)
    error_column = table.column("erreur")
    samples = pc.filter(error_column, pc.not_equal(error_column, "")).slice(0, 10).to_pylist() if errors else []
    return {
        "lignes": int(table.num_rows),
        "erreurs": errors,
        "exemples_erreurs": samples,
        "par_niveau": {level: by_level.get(level, 0) for level in LEVELS},
        "par_departement": dict(sorted(by_departement.items())),
    }


__all__ = ["run_batch", "route_backlog", "prepare_backlog", "decisions_table", "map_columns", "BatchResult"]
