"""Batch reassessment of a backlog: one decision per row, nothing lost.

Rows are checked column by column on their distinct values (a backlog of a million rows has a
few thousand distinct porteurs and a few hundred distinct theme cells), so that every check is
done once per value. Rows that would get the same decision — same territory, same fields
that some condition reads — are routed once; the decision columns are then spread back over
the rows as dictionary-encoded columns. A row that cannot be routed gets its `erreur`
(line, column, reason) and an otherwise empty decision; the run goes on.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .backlog import Backlog, normalize_header, read_backlog, write_decisions
from .projets import from_projets_territoire, is_projets_territoire
from .conditions import fmt_number
from .decide import Router
from .demande import DEMANDE_KEYS, LIST_SEPARATOR, check_field
from .errors import AiguillageError, BatchInputError, Location
from .model import LEVELS, Decision, Demande, Territoire
from .render import NON_INSTRUISIBLE, examen_summary
from .territory import resolve
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
    "instruction",
    "delegue_territorial", "territoire", "departement", "region", "epci", "examen", "alertes", "regles",
    "version_catalogue", "version_regles", "date_decision",
)
ROUTE_CHUNK = 2000


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
class Cases:
    """The distinct cases of a backlog: rows with the same case get the same decision."""

    decisions: dict[int, Decision]  # case -> its decision (error rows have none)
    of_row: np.ndarray  # per row: its case
    first_row: np.ndarray  # per case: a row that stands for it
    checked: dict[str, "_Column"]
    places: "_Territories"
    population: np.ndarray
    errors: np.ndarray


@dataclass
class BatchResult:
    table: pa.Table  # input columns + decision columns, one row per input row
    levels: np.ndarray  # per row: the level's index in LEVELS, or -1 for an error row
    errors: int
    summary: dict[str, Any]
    cases: Cases


def _field_checker(workspace: Workspace, field_name: str) -> Callable[[str], Any]:
    """Check one cell of a field the way a demande file's field is checked."""
    if field_name in ("porteur", "commune"):
        return lambda raw: _resolve_cell(raw, workspace)
    return lambda raw: check_field(field_name, raw, workspace.catalogue)


def _resolve_cell(raw: str, workspace: Workspace) -> tuple[str, tuple[str, ...]]:
    if not raw:
        raise AiguillageError("porteur vide")
    if raw.isdigit() and len(raw) == 4:  # a spreadsheet read the INSEE code as a number
        ref, notes = resolve("0" + raw, workspace.graph.index)
        return ref, notes + (f"code INSEE {raw} complété en 0{raw} (le zéro initial avait été perdu)",)
    return resolve(raw, workspace.graph.index)


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


def _combine(keys: np.ndarray, column: np.ndarray, size: int) -> np.ndarray:
    """Fold one more column of small integers into a row key, re-compressing before overflow."""
    if keys.size and int(keys.max()) * size + size >= 2**62:
        _, keys = np.unique(keys, return_inverse=True)
    return keys * size + column


# Fields whose value a reason may show but which the case key only knows up to the thresholds
# conditions compare it with: their reasons hold a placeholder, filled row by row.
PLACEHOLDER = "\x1f{}\x1f"
VALUE_FIELDS = ("population", "montant", "commune", "epci", "departement", "region", "zone")
EXACT_FIELDS = ("thematiques", "besoins", "programmes", "complexite", "saisine", "type_porteur", "avis_dt")


@dataclass
class _Territories:
    """Per distinct territory of the backlog: its chain, and what of it a decision depends on."""

    refs: list[str]
    territoires: list[Territoire]
    classes: np.ndarray  # per territory: the id of its decision class
    row_codes: np.ndarray  # per row: index into refs (-1: unresolved)


def _territories(workspace: Workspace, router: Router, refs: np.ndarray) -> _Territories:
    import pandas as pd

    codes, uniques = pd.factorize(refs)
    canon = router.canonicalizer
    territoires, classes = [], {}
    class_of = np.zeros(len(uniques), dtype=np.int64)
    for i, ref in enumerate(uniques):
        if not ref:
            territoires.append(None)
            continue
        t = workspace.graph.territoire(ref)
        territoires.append(t)
        # Two territories in the same class get the same decision for the same demande: same
        # candidate offers, same levels, same values for every territorial test of a condition.
        key = (
            t.kind,
            bool(t.epci),
            "departemental" in t.holders,
            t.containers & router.perimeter_refs,
            canon.canonical({"commune": t.commune, "epci": t.epci, "departement": t.departement,
                             "region": t.region, "zone": t.zone}),
        )
        class_of[i] = classes.setdefault(key, len(classes))
    return _Territories(list(uniques), territoires, class_of, np.where(refs == "", -1, codes))


def _bucket_codes(router: Router, field_name: str, values: list[Any]) -> np.ndarray:
    """Per distinct value, the code of its interval between the thresholds conditions use."""
    canon = router.canonicalizer
    buckets: dict[Any, int] = {}
    out = np.zeros(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        key = None if value is None else canon.canonical({field_name: value})
        out[i] = buckets.setdefault(key, len(buckets))
    return out


def _case_keys(
    router: Router, checked: dict[str, _Column], places: _Territories, population: np.ndarray, ok: np.ndarray
) -> np.ndarray:
    """Per row, a key shared by exactly the rows that must get the same decision (-1: error row)."""
    import pandas as pd

    keys = np.where(places.row_codes >= 0, places.classes[np.maximum(places.row_codes, 0)], 0).astype(np.int64)
    keys = _combine(keys, np.zeros(len(keys), dtype=np.int64), 1)
    pop_codes, pop_values = pd.factorize(population, use_na_sentinel=False)
    pop_buckets = _bucket_codes(router, "population", [None if v != v else v for v in pop_values])
    keys = _combine(keys, pop_buckets[pop_codes], int(pop_buckets.max()) + 1 if len(pop_buckets) else 1)
    for name, col in checked.items():
        if name in EXACT_FIELDS or (name.startswith("attribut:") and not _numeric(col)):
            keys = _combine(keys, col.indices, max(len(col.values), 1))
        elif name == "montant" or name.startswith("attribut:"):
            field_name = name.split(":", 1)[-1]
            buckets = _bucket_codes(router, field_name, col.values)
            keys = _combine(keys, buckets[col.indices], int(buckets.max()) + 1 if len(buckets) else 1)
    return np.where(ok, keys, -1)


def _numeric(col: _Column) -> bool:
    return any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in col.values)


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
    """Read a backlog, route it, compare and assign if asked, write the decisions; the summary."""
    backlog = read_backlog(source, encoding, separator)
    if is_projets_territoire(backlog):
        backlog = from_projets_territoire(backlog, workspace)
    router = workspace.router()
    workspace.graph.add_all_communes()
    tick = (lambda done: progress(done, backlog.table.num_rows)) if progress else None
    result = route_backlog(workspace, router, backlog, day, tick)
    if capacity:
        from .capacity import assign_capacities

        result = assign_capacities(workspace, router, backlog, result, day)
    if previous is not None:
        from .compare import compare_with_previous

        result = compare_with_previous(workspace, result, read_backlog(previous))
    write_decisions(result.table, output, separator=backlog.separator or ";")
    return {**result.summary, "fichier": str(output), "entree": str(source), "format_entree": backlog.format,
            "encodage_entree": backlog.encoding, "version": dict(router.version)}


def route_backlog(
    workspace: Workspace,
    router: Router,
    backlog: Backlog,
    day: dt.date,
    progress: Callable[[int], None] | None = None,
) -> BatchResult:
    """Route every row; the result has exactly one row per input row, in the same order."""
    table = backlog.table
    n = table.num_rows
    columns = map_columns(backlog, workspace.catalogue.attribute_types)
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
    ok = errors == None  # noqa: E711 - numpy elementwise comparison
    places = _territories(workspace, router, np.where(ok, _porteur_refs(checked, n), ""))
    population = _populations(checked, places, n)
    keys = _case_keys(router, {k: v for k, v in checked.items() if k not in ("porteur", "commune", "population")},
                      places, population, ok)
    unique_keys, first_row, inverse = np.unique(keys, return_index=True, return_inverse=True)

    # Route one row of each case, in chunks (the progress bar moves by the rows they stand for).
    cases = Cases({}, inverse, first_row, checked, places, population, errors)
    weights = np.bincount(inverse, minlength=len(unique_keys))
    routable = [i for i, k in enumerate(unique_keys) if k != -1]
    for start in range(0, len(routable), ROUTE_CHUNK):
        chunk = routable[start : start + ROUTE_CHUNK]
        decided = route_representatives(router, cases, [int(first_row[i]) for i in chunk], day)
        cases.decisions.update(zip(chunk, decided))
        if progress:
            progress(int(weights[chunk].sum()))
    if progress and len(routable) < len(unique_keys):
        progress(int(weights[0]))
    return decisions_table(table, cases, day)


def route_representatives(
    router: Router, cases: Cases, rows: Sequence[int], day: dt.date,
    excluded: Sequence[dict[str, str]] | None = None,
) -> list[Decision]:
    """Route the demandes of these rows; reasons hold placeholders for the values filled per row."""
    shown = {f: PLACEHOLDER.format(f) for f in VALUE_FIELDS}
    items = [_demande_of_row(cases.checked, cases.places, row) for row in rows]
    return router.route_many(items, day, shown, excluded)


def decisions_table(table: pa.Table, cases: Cases, day: dt.date) -> BatchResult:
    """The input columns and the decision columns of every row, and the run's summary."""
    out = _decision_columns(cases.decisions, len(cases.first_row), cases.of_row, cases.errors, cases.places,
                            cases.population, cases.checked, day)
    input_columns = {name: table.column(name).combine_chunks() for name in table.column_names
                     if name not in DECISION_COLUMNS}
    result = pa.table({**input_columns, **out})
    levels = np.full(len(cases.first_row), -1, dtype=np.int8)
    for i, d in cases.decisions.items():
        levels[i] = LEVELS.index(d.niveau)
    row_levels = levels[cases.of_row]
    failed = int((cases.errors != None).sum())  # noqa: E711
    return BatchResult(result, row_levels, failed, _summary(result, row_levels, failed), cases)


def _populations(checked: dict[str, _Column], places: _Territories, n: int) -> np.ndarray:
    """Per row, the population conditions read: the one given, else the territory's official one."""
    official = np.array([t.population if t is not None and t.population is not None else np.nan
                         for t in places.territoires] or [np.nan], dtype=float)
    population = np.where(places.row_codes >= 0, official[np.maximum(places.row_codes, 0)], np.nan)
    given = checked.get("population")
    if given is not None:
        values = np.array([np.nan if v is None else float(v) for v in given.values] or [np.nan], dtype=float)
        row_values = values[given.indices]
        population = np.where(np.isnan(row_values), population, row_values)
    return population


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


def _demande_of_row(checked: dict[str, _Column], places: _Territories, row: int) -> tuple[Demande, Territoire]:
    def value(name: str, default: Any = None) -> Any:
        col = checked.get(name)
        if col is None:
            return default
        v = col.values[col.indices[row]]
        return default if v is None else v

    territoire = places.territoires[places.row_codes[row]]
    attributs = {name.split(":", 1)[1]: value(name) for name in checked
                 if name.startswith("attribut:") and value(name) is not None}
    demande = Demande(
        id=str(row),
        porteur=territoire.ref,
        thematiques=value("thematiques", ()),
        besoins=value("besoins", ()),
        programmes=value("programmes", ()),
        complexite=value("complexite", "simple"),
        saisine=value("saisine", "dt"),
        type_porteur=value("type_porteur"),
        population=value("population"),
        montant=value("montant"),
        avis_dt=value("avis_dt"),
        attributs=attributs,
    )
    return demande, territoire


def _dictionary_column(values: Sequence[str], indices: np.ndarray) -> pa.DictionaryArray:
    """A column of few distinct texts: each row holds the index of its text (compact for a million rows)."""
    import pandas as pd

    remap, distinct = pd.factorize(np.asarray(values, dtype=object))
    return pa.DictionaryArray.from_arrays(pa.array(remap[indices], pa.int32()), pa.array(distinct, pa.string()))


def _fill(template: str, values: dict[str, str]) -> str:
    for field_name, text in values.items():
        template = template.replace(PLACEHOLDER.format(field_name), text)
    return template


def _decision_columns(
    decisions: dict[int, Decision],
    cases: int,
    inverse: np.ndarray,
    errors: np.ndarray,
    places: _Territories,
    population: np.ndarray,
    checked: dict[str, _Column],
    day: dt.date,
) -> dict[str, pa.Array]:
    """The decision columns: per case, then spread over rows; territory columns per territory."""
    per_case: dict[str, list[str]] = {name: [""] * cases for name in
                                      ("niveau", "offre_id", "offre_nom", "structure", "motif", "avis_dt_requis",
                                       "instruction",
                                       "examen", "alertes", "regles", "version_catalogue", "version_regles",
                                       "date_decision")}
    for i, d in decisions.items():
        for name, text in (
            ("niveau", d.niveau), ("offre_id", d.offre.id), ("offre_nom", d.offre.nom),
            ("structure", d.offre.structure), ("motif", d.motif),
            ("avis_dt_requis", "oui" if d.avis_dt_requis else "non"),
            ("instruction", "" if d.instruisible else NON_INSTRUISIBLE), ("examen", examen_summary(d)),
            ("alertes", " | ".join(f"{a.texte} ({a.regle})" for a in d.alertes)), ("regles", "|".join(d.regles)),
            ("version_catalogue", d.version["catalogue"]), ("version_regles", d.version["regles"]),
            ("date_decision", day.isoformat()),
        ):
            per_case[name][i] = text
    out: dict[str, pa.Array] = {}
    for name, values in per_case.items():
        out[name] = _dictionary_column(values, inverse)
    out["examen"] = _filled_examen(per_case["examen"], inverse, places, population, checked)
    # Territory columns: per distinct territory.
    t_codes = places.row_codes
    for name, get in (
        ("departement_dt", lambda t: t.dt_departement), ("delegue_territorial", lambda t: t.dt_libelle),
        ("territoire", lambda t: t.ref), ("departement", lambda t: t.departement), ("region", lambda t: t.region),
        ("epci", lambda t: t.epci or ""),
    ):
        values = [get(t) if t is not None else "" for t in places.territoires] + [""]
        out[name] = _dictionary_column(values, np.where(t_codes >= 0, t_codes, len(values) - 1))
    out["erreur"] = pa.array(np.where(errors == None, "", errors).tolist(), pa.string())  # noqa: E711
    return {name: out[name] for name in DECISION_COLUMNS}


def _filled_examen(
    templates: list[str], inverse: np.ndarray, places: _Territories, population: np.ndarray,
    checked: dict[str, _Column],
) -> pa.Array:
    """Explanations with each row's own values where a template has placeholders."""
    import pandas as pd

    needs = [i for i, t in enumerate(templates) if "\x1f" in t]
    if not needs:
        return _dictionary_column(templates, inverse)
    rows = np.nonzero(np.isin(inverse, needs))[0]
    t_index = places.row_codes[rows]
    shown: dict[str, np.ndarray] = {}
    for field_name in ("commune", "epci", "departement", "region", "zone"):
        per_t = np.array([(getattr(t, field_name) or "") if t is not None else "" for t in places.territoires],
                         dtype=object)
        shown[field_name] = per_t[t_index]
    shown["population"] = np.array([fmt_number(p) if p == p else "" for p in population[rows]], dtype=object)
    montant = checked.get("montant")
    if montant is not None:
        per_value = np.array([fmt_number(v) if v is not None else "" for v in montant.values] or [""], dtype=object)
        shown["montant"] = per_value[montant.indices[rows]]
    frame = pd.DataFrame({"case": inverse[rows], **shown})
    combo_codes = frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy()
    combos = frame.drop_duplicates()
    texts = list(templates)
    names = list(shown)
    for combo in combos.itertuples(index=False):
        texts.append(_fill(templates[combo[0]], dict(zip(names, combo[1:]))))
    row_text = inverse.copy()
    row_text[rows] = len(templates) + combo_codes
    return _dictionary_column(texts, row_text)


def _summary(table: pa.Table, levels: np.ndarray, errors: int) -> dict[str, Any]:
    by_level = Counter(LEVELS[i] for i in levels if i >= 0)
    departements = table.column("departement").to_pandas() if "departement" in table.column_names else None
    by_departement: dict[str, dict[str, int]] = {}
    if departements is not None:
        import pandas as pd

        frame = pd.DataFrame({"departement": departements.astype(str), "niveau": levels})
        frame = frame[frame.niveau >= 0]
        for (dep, level), count in frame.groupby(["departement", "niveau"]).size().items():
            by_departement.setdefault(dep, {})[LEVELS[level]] = int(count)
    error_column = table.column("erreur")
    samples = [e for e in pc.filter(error_column, pc.not_equal(error_column, "")).slice(0, 10).to_pylist()] if errors else []
    return {
        "lignes": int(table.num_rows),
        "erreurs": errors,
        "exemples_erreurs": samples,
        "par_niveau": {level: by_level.get(level, 0) for level in LEVELS},
        "par_departement": dict(sorted(by_departement.items())),
    }


__all__ = ["route_backlog", "map_columns", "BatchResult", "DEMANDE_KEYS", "LIST_SEPARATOR"]
