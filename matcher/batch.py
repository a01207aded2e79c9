"""Batch reassessment of a backlog: one decision per row, nothing lost.

Rows are checked column by column on their distinct values (a backlog of a million rows has a
few thousand distinct porteurs and a few hundred distinct theme cells), so that every check is
done once per value. The rows are then decided level by level by the one decider (`decide.Walk`),
each distinct case once, and the decision columns are spread back over the rows as
dictionary-encoded columns; the explanations are written once per distinct text, joined and
filled by Arrow. A row that cannot be routed gets its `erreur` (line, column, reason) and an
otherwise empty decision; the run goes on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import arrow
from .backlog import MAX_CELL_CHARS, Backlog, normalize_header
from .conditions import attribute_value, memberships
from .decide import PLACEHOLDER, SHOWN, VALUE_FIELDS, Decided, Router, Walk, shown_value
from .demande import check_field
from .errors import AiguillageError, BatchInputError, Location
from .model import LEVELS, Territoire
from .render import ADHESION_LABELS, EXAMEN_SEPARATOR, NON_INSTRUISIBLE, examen_level_text
from .rows import Rows, combine, fact_columns, factorize, group, inverse_permutation, ranges
from .territory import resolve
from .workspace import Workspace

# Header names offices use for each field (after normalize_header).
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "identifiant", "numero", "reference", "ref"),
    "intitule": ("intitule", "titre", "projet", "nom_du_projet", "objet"),
    "porteur": ("porteur", "code_porteur", "siren", "siret", "code_siren"),
    # Codes before names: a sheet often has « Commune » (its name) beside « Code INSEE ».
    "commune": ("code_insee", "insee", "code_commune", "commune_insee", "commune"),
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
    "instruction", "delegue_territorial", "territoire", "departement", "region", "epci", "examen", "explication",
    "alternatives", "adhesion_programmes", "adhesions_a_verifier", "alertes",
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


def has_required_columns(names: list[str]) -> bool:
    """Whether a row of cells names every required field: a backlog's header, not a title above it."""
    normal = {normalize_header(name) for name in names}
    return all(any(alias in normal for field_name in alternatives for alias in ALIASES[field_name])
               for alternatives in REQUIRED)


def map_columns(backlog: Backlog, attribute_names: Iterable[str]) -> ColumnMap:
    """Find each field's column; a missing required one stops the run at once."""
    read = {alias for aliases in ALIASES.values() for alias in aliases} | {normalize_header(a) for a in attribute_names}
    by_normal: dict[str, str] = {}
    for position, name in enumerate(backlog.table.column_names, start=1):
        if name in DECISION_COLUMNS:
            continue
        normal = normalize_header(name)
        if normal in by_normal and normal in read:  # « Thématiques » and « thematiques »: which one?
            raise BatchInputError(f"colonnes « {by_normal[normal]} » et « {name} » : deux colonnes pour le même "
                                  "champ, gardez-en une", Location(backlog.path, 1, position), "colonne-en-double")
        by_normal.setdefault(normal, name)
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
    indices = arrow.numbers(encoded.indices, np.int64)
    values, errors = [], []
    for raw in encoded.dictionary.to_pylist():
        try:
            if len(raw) > MAX_CELL_CHARS:  # its row is in error already (read_backlog): not worth checking
                raise AiguillageError("cellule trop longue")
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
    explanations: pa.Table  # per distinct explanation: its reference (`explication` column) and its text
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
    """A cell read exactly as the same attribute in a demande file (`conditions.attribute_value`)."""
    def check(raw: str) -> Any:
        try:
            return attribute_value(kind, raw)
        except ValueError as exc:
            raise AiguillageError(str(exc)) from None

    return check



# --------------------------------------------------------------------------- deciding


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
    territory, territoires = _territories(workspace, checked, errors, n)
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


def _territories(workspace: Workspace, checked: dict[str, _Column], errors: np.ndarray, n: int
                 ) -> tuple[np.ndarray, list[Territoire | None]]:
    """Per row the index of its territory (-1: none, the row is in error), and the distinct
    territories' chains, in order of first appearance. The rows' references are numbered from the
    distinct cells of the porteur and commune columns (a million rows, a few thousand cells)."""
    numbers: dict[str, int] = {"": 0}  # each resolved reference, numbered; '' for none
    refs = np.zeros(n, dtype=np.int64)
    for name in ("commune", "porteur"):  # `porteur` wins where both are filled
        col = checked.get(name)
        if col is None:
            continue
        per_value = np.array([numbers.setdefault(v[0], len(numbers)) if v else 0 for v in col.values] or [0])
        filled = per_value[col.indices]
        refs = np.where(filled != 0, filled, refs)
    refs[errors != None] = 0  # noqa: E711 - numpy elementwise comparison
    territory, first = group(refs)
    named = list(numbers)
    uniques = [named[r] for r in refs[first].tolist()]
    territoires = [workspace.graph.territoire(ref) if ref else None for ref in uniques]
    if "" in uniques:
        territory[territory == uniques.index("")] = -1
    return territory, territoires


def _rows(workspace: Workspace, checked: dict[str, _Column], territory: np.ndarray,
          territoires: list[Territoire | None], n: int) -> Rows:
    """The facts of every row, from the checked columns (`rows.fact_columns`, as for one demande)."""
    given = {name: (col.indices, col.values) for name, col in checked.items() if not name.startswith("attribut:")}
    attributes = {name.split(":", 1)[1]: (col.indices, col.values)
                  for name, col in checked.items() if name.startswith("attribut:")}
    return fact_columns(workspace.catalogue, n, given, territory, territoires, attributes)


def _row_errors(backlog: Backlog, checked: dict[str, _Column], n: int) -> np.ndarray:
    """Per row, the first problem in column order ('ligne N, colonne X : raison'), or None."""
    errors = np.full(n, None, dtype=object)
    for row, reason in (backlog.bad_rows or {}).items():
        place = ", " if reason.startswith("colonne ") else " : "  # a reason may name its column already
        errors[row] = f"ligne {backlog.line(row)}{place}{reason}"
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


def factorize_texts(texts: Sequence[str] | np.ndarray | pa.Array) -> tuple[np.ndarray, list[str]]:
    """Per text the index of its first equal, and the distinct texts in order of appearance (Arrow's
    hash table: a million texts at C speed)."""
    codes, distinct = _encoded_texts(texts)
    return codes, distinct.to_pylist()


def _encoded_texts(texts: Sequence[str] | np.ndarray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """`factorize_texts`, the distinct texts left in Arrow."""
    encoded = pc.dictionary_encode(texts if isinstance(texts, pa.Array) else arrow.texts(texts))
    return arrow.numbers(encoded.indices, np.int64), encoded.dictionary


def _dictionary_column(values: list[str] | pa.Array, indices: np.ndarray, unique: bool = False
                       ) -> pa.DictionaryArray:
    """A column of few distinct texts: each row holds the index of its text (compact for a million rows).
    With `unique`, texts repeated in `values` are merged (pandas needs it to read the column)."""
    texts = values if isinstance(values, pa.Array) else arrow.texts(values)
    if unique:
        remap, texts = _encoded_texts(texts)
        indices = remap[indices]
    return pa.DictionaryArray.from_arrays(arrow.integers(indices, pa.int32()), texts)


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
            return _dictionary_column(pa.concat_arrays([texts, arrow.texts([""])]), indices)
        values = list(texts) + [""]
        return _dictionary_column(values, indices, unique=len(values) < 100_000 or "" in texts)

    offer_ids, offers = decided.offer_codes()
    levels = np.full(n, -1, dtype=np.int8)
    levels[decided.rows] = decided.level
    explanation_ids, explanation_texts, examen_ids, examen_texts = _examen_texts(rows, decided)
    out: dict[str, pa.Array] = {
        "niveau": spread([LEVELS[int(i)] for i in range(len(LEVELS))], decided.level.astype(np.int64)),
        "offre_id": spread([o.id for o in offers], offer_ids),
        "offre_nom": spread([o.nom for o in offers], offer_ids),
        "structure": spread([o.structure for o in offers], offer_ids),
        "motif": spread(decided.motifs, decided.motif),
        "avis_dt_requis": spread(["non", "oui"], decided.avis_dt_requis.astype(np.int64)),
        "instruction": spread([NON_INSTRUISIBLE, ""], decided.instruisible.astype(np.int64)),
        "examen": spread(examen_texts, examen_ids),
        "explication": spread([f"E{i + 1}" for i in range(len(explanation_texts))], explanation_ids),
        "alternatives": spread(["|".join(o.id for o in alternatives) for alternatives in decided.alternatives_lists],
                               decided.alternatives),
        "adhesion_programmes": spread([" | ".join(f"{c.programme}: {ADHESION_LABELS[c.adhesion]}"
                                                  + (f" ({c.motif.split(' : ', 1)[-1]})" if c.adhesion == "impossible" else "")
                                                  for c in checks) for checks in rows.programme_checks],
                                      rows.programme_check[decided.rows]),
        "adhesions_a_verifier": spread(["", *("|".join(memberships(o.conditions)) for o in offers)],
                                       np.where(rows.memberships_presumed[decided.rows], offer_ids + 1, 0)),
        "alertes": spread([" | ".join(f"{a.texte} ({a.regle})" for a in alertes) for alertes in decided.alertes_lists],
                          decided.alertes),
        "regles": spread(["|".join(regles) for regles in decided.regles_lists], decided.regles),
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
    failing = errors != None  # noqa: E711 - numpy elementwise comparison
    out["erreur"] = (arrow.texts(np.where(failing, errors, "").tolist()) if failing.any()
                     else pc.fill_null(pa.nulls(n, pa.string()), arrow.text("")))  # a million empty cells, made in C
    input_columns = {name: table.column(name) for name in table.column_names if name not in DECISION_COLUMNS}
    result = pa.table({**input_columns, **{name: out[name] for name in DECISION_COLUMNS}})
    failed = int(failing.sum())
    explanations = pa.table({"explication": arrow.texts([f"E{i + 1}" for i in range(len(explanation_texts))]),
                             "examen": explanation_texts})
    return BatchResult(result, explanations, levels, failed, _summary(result, levels, failed), prepared, decided)


def _examen_texts(rows: Rows, decided: Decided) -> tuple[np.ndarray, pa.ChunkedArray, np.ndarray, pa.Array]:
    """Per decided row its explanation's id, and the explanations: the examined levels' texts with
    the offers' reasons and the row's own values in them; then per row its `examen`, the levels'
    statuses and offers without the reasons (the same few hundred bytes are not written on every row).

    Each level's text is made once per distinct examination; the rest is Arrow's work over arrays:
    the level texts with each explanation's values put in place of their placeholders, then joined
    in their combinations. The level texts are distinct, so are their sequences once joined (" | "
    appears in no level text); filled with distinct shown values, every explanation comes out once."""
    level_texts = [examen_level_text(e) for e in decided.examens]
    fragments = arrow.texts(level_texts)
    # Examinations that differ by their reasons only have the same text without them.
    short_of, short_fragments = factorize_texts([examen_level_text(e, reasons=False) for e in decided.examens])
    short_of = np.append(short_of, -1)  # at -1: a level not examined
    fragment_ids = decided.examen
    key = np.zeros(fragment_ids.shape[1], dtype=np.int64)
    short_key = np.zeros(fragment_ids.shape[1], dtype=np.int64)
    for level_ids in fragment_ids:
        key = combine(key, level_ids + 1)
        short_key = combine(short_key, short_of[level_ids] + 1)
    ids, first = group(key)
    short_ids, short_first = group(short_key)
    members, starts, counts = _combinations(fragment_ids[:, first])  # each combination's levels
    # The `examen` column's texts, once per distinct sequence of the levels' texts without the reasons.
    short_members, short_starts, short_counts = _combinations(short_of[fragment_ids[:, short_first]])
    short_levels = arrow.texts(short_fragments)
    short_texts = pa.concat_arrays([_joined(short_levels, short_members, short_starts, short_counts, part)
                                    for part in _parts(np.arange(len(short_first)))] or [arrow.texts([])])
    # The values each combination shows, and per row the value it shows for each.
    needs = np.zeros(len(first), dtype=np.int64)  # per combination: a bit per field it shows
    shows: dict[str, np.ndarray] = {}  # per field, per level text: whether it shows it
    # Looked for by Python among the level texts that hold a placeholder at all (one scan for its
    # first character): faster than Arrow's substring search through every long text, field by field.
    holding = [(i, text) for i, text in enumerate(level_texts) if PLACEHOLDER[0] in text]
    for bit, name in enumerate(VALUE_FIELDS):
        shows[name] = np.zeros(max(len(level_texts), 1), dtype=bool)
        shows[name][[i for i, text in holding if SHOWN[name] in text]] = True
        if shows[name].any():
            needs |= np.where(np.logical_or.reduceat(shows[name][members], starts), 1 << bit, 0)
    shown: dict[str, pa.Array] = {}  # per field, per shown text's id: the text
    shown_of_row: dict[str, np.ndarray] = {}  # per field, per row: its shown text's id
    fill_key = ids.copy()
    for bit, name in enumerate(VALUE_FIELDS):
        uses = (needs[ids] >> bit) & 1 == 1
        if not uses.any():
            continue
        display_ids, texts = factorize_texts([shown_value(v) for v in rows.facts.values[name]])
        shown[name] = arrow.texts(texts)
        shown_of_row[name] = display_ids[rows.facts.codes[name][decided.rows]]
        fill_key = combine(fill_key, np.where(uses, shown_of_row[name] + 1, 0))
    fill_ids, fill_first = group(fill_key)
    order = np.argsort(ids[fill_first], kind="stable")  # explanations in the order of their combinations
    text_of = inverse_permutation(order)
    explained = fill_first[order]  # per explanation: its first row
    chunks = []
    for part in _parts(explained):
        # Each level text filled with the explanation's own values, once per distinct level text and
        # values it shows (not in every explanation's whole text), then the filled texts joined.
        slots, ends = _slots(members, starts, counts, ids[part])
        slot_row = np.repeat(part, np.diff(ends, prepend=0))
        filled_key = slots
        for name in shown:
            filled_key = combine(filled_key, np.where(shows[name][slots], shown_of_row[name][slot_row] + 1, 0))
        filled_of_slot, filled_first = group(filled_key)
        filled = fragments.take(arrow.integers(slots[filled_first]))
        for name, values in shown.items():  # each placeholder replaced by the explanation's own value
            filled = pc.binary_join(pc.split_pattern(filled, SHOWN[name]),
                                    values.take(arrow.integers(shown_of_row[name][slot_row[filled_first]])))
        chunks.append(_joined_slots(filled.take(arrow.integers(filled_of_slot)), ends))
    explanations = pa.chunked_array(chunks, pa.string())
    return text_of[fill_ids], explanations, short_ids, short_texts


def _combinations(level_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Combinations of examined levels (per level, per combination: an id, -1 where the level was not
    examined) as the ids of their examined levels in a row (`members`), and per combination where its
    ids start there and how many they are (an explanation names every level)."""
    combos = level_ids.T
    examined = combos >= 0
    counts = examined.sum(axis=1)
    return combos[examined], np.cumsum(counts) - counts, counts


def _parts(items: np.ndarray, size: int = 4096) -> list[np.ndarray]:
    """Items by parts: texts are made a part at a time, so that their working memory, a few
    megabytes, is reused from part to part; arrays of tens of megabytes are fresh memory from the
    system each time, whose pages cost more to map than the texts cost to make."""
    return [items[start:start + size] for start in range(0, len(items), size)]


def _joined(fragments: pa.Array, members: np.ndarray, starts: np.ndarray, counts: np.ndarray,
            combos: np.ndarray) -> pa.Array:
    """The texts of these combinations of levels: each one's levels' texts (`fragments`, by the ids
    `members[starts[c]:starts[c] + counts[c]]`) joined by the separator."""
    slots, ends = _slots(members, starts, counts, combos)
    return _joined_slots(fragments.take(arrow.integers(slots)), ends)


def _slots(members: np.ndarray, starts: np.ndarray, counts: np.ndarray, combos: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """The levels of these combinations one after the other (their ids in `members`), and where
    each combination's end there."""
    return members[ranges(starts[combos], counts[combos])], np.cumsum(counts[combos])


def _joined_slots(texts: pa.Array, ends: np.ndarray) -> pa.Array:
    """Texts one after the other joined by the separator, up to each of `ends`."""
    offsets = arrow.integers(np.concatenate([[0], ends]), pa.int32())
    return pc.binary_join(pa.ListArray.from_arrays(offsets, texts), arrow.text(EXAMEN_SEPARATOR))


def _summary(table: pa.Table, levels: np.ndarray, errors: int) -> dict[str, Any]:
    decided = levels >= 0
    per_level = np.bincount(levels[decided].astype(np.int64), minlength=len(LEVELS))
    departements = table.column("departement").combine_chunks()
    codes = arrow.numbers(departements.indices, np.int64)[decided]
    counts = np.bincount(codes * len(LEVELS) + levels[decided], minlength=len(departements.dictionary) * len(LEVELS))
    by_departement: dict[str, dict[str, int]] = {}
    for code, name in enumerate(departements.dictionary.to_pylist()):
        found = {LEVELS[i]: int(c) for i, c in enumerate(counts[code * len(LEVELS):(code + 1) * len(LEVELS)]) if c}
        if found:
            by_departement[name] = found
    error_column = table.column("erreur")
    samples = pc.filter(error_column, pc.not_equal(error_column, arrow.text(""))).slice(0, 10).to_pylist() if errors else []
    return {
        "lignes": int(table.num_rows),
        "erreurs": errors,
        "exemples_erreurs": samples,
        "par_niveau": {level: int(count) for level, count in zip(LEVELS, per_level)},
        "par_departement": dict(sorted(by_departement.items())),
    }


__all__ = ["route_backlog", "prepare_backlog", "decisions_table", "map_columns", "BatchResult"]
