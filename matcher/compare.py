"""What changed since an earlier run: each row inchangé, nouveau, modifié or non comparé, with its cause.

Rows are paired by their `id` only: a row whose id is missing, or shared by several rows of its
file, is « non_compare » and says why — it is never paired by its position with a row of the other
file. The cause of a change names first what changed in the demande itself (a besoin, the porteur,
the population…), then what the two decisions and the current catalogue and rules tell: an offer
that left the catalogue, an offer that a demande did not even meet before (new or wider), an offer
whose conditions now hold or no longer hold, a policy rule that now applies or no longer does, a
capacity reached.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa

from .backlog import Backlog, normalize_header
from .batch import BatchResult, map_columns
from .errors import BatchInputError, Location
from .model import CHANGEMENTS
from .workspace import Workspace

# The demande's own fields whose change can move a decision, in the order a cause names them.
DEMANDE_FIELDS = ("porteur", "commune", "type_porteur", "thematiques", "besoins", "programmes", "complexite",
                  "saisine", "population", "montant")
# Fields that do not move a decision: their change is no cause.
_NOT_DECIDING = ("id", "intitule", "date_depot", "avis_dt", "date_avis_dt")
_WORD_FIELDS = ("thematiques", "besoins", "programmes")
COMPARISON_COLUMNS = ("changement", "ancien_niveau", "ancienne_offre", "cause")


def _column(table: pa.Table, name: str | None, n: int) -> np.ndarray:
    if name is None or name not in table.column_names:
        return np.full(n, "", dtype=object)
    values = np.array(table.column(name).cast(pa.string()).fill_null("").to_pylist(), dtype=object)
    return np.array([v.strip() for v in values], dtype=object) if n else values


def _columns(table: pa.Table, backlog_like: Backlog, attribute_names) -> dict[str, str]:
    """The demande's fields (and attribute columns) found in a table, by field name."""
    try:
        found = map_columns(backlog_like, attribute_names)
        return {**found.fields, **found.attributes}
    except BatchInputError:  # an older file without a required column: the id is enough to pair
        column = next((n for n in table.column_names if normalize_header(n) == "id"), None)
        return {"id": column} if column else {}


def _normal(field: str, value: str) -> str:
    """A cell as it is read, so that writing « amo|conseil » or « Conseil | amo » is no change."""
    if field in _WORD_FIELDS:
        return "|".join(sorted({w.strip().lower() for w in value.split("|") if w.strip()}))
    return value.strip()


def compare_with_previous(workspace: Workspace, result: BatchResult, previous: Backlog) -> BatchResult:
    old = previous.table
    for needed in ("niveau", "offre_id"):
        if needed not in old.column_names:
            raise BatchInputError(
                f"pas de colonne « {needed} » : est-ce bien un fichier de décisions d'aiguillage ?",
                Location(previous.path, 1, 1),
            )
    new = result.table
    n, m = new.num_rows, old.num_rows
    attribute_names = tuple(workspace.catalogue.attribute_types)
    new_cols = _columns(new, Backlog(new, "", "csv"), attribute_names)
    old_cols = _columns(old, previous, attribute_names)
    new_ids = _column(new, new_cols.get("id"), n)
    old_ids = _column(old, old_cols.get("id"), m)
    new_shared = pd.Series(new_ids).duplicated(keep=False).to_numpy() & (new_ids != "")
    old_counts = Counter(old_ids[old_ids != ""].tolist())
    position = {i: k for k, i in enumerate(old_ids) if i and old_counts[i] == 1}
    matched = np.array([position.get(i, -1) if i and not shared else -1 for i, shared in zip(new_ids, new_shared)],
                       dtype=np.int64)
    found = matched >= 0
    unpaired = np.full(n, "", dtype=object)
    unpaired[new_ids == ""] = "sans identifiant : la ligne ne peut être rapprochée du fichier précédent"
    unpaired[new_shared] = "identifiant partagé par plusieurs lignes : rapprochement impossible"
    twice_before = np.array([bool(i) and old_counts[i] > 1 and not shared for i, shared in zip(new_ids, new_shared)],
                            dtype=bool)
    unpaired[twice_before] = "identifiant présent plusieurs fois dans le fichier précédent : rapprochement impossible"
    index = np.where(found, matched, 0)

    def old_values(column: str | None) -> np.ndarray:
        return np.where(found, _column(old, column, m)[index] if m else "", "")

    frame = pd.DataFrame({
        "old_niveau": old_values("niveau"), "old_offre": old_values("offre_id"), "old_regles": old_values("regles"),
        "old_examen": old_values("examen"),
        "niveau": _column(new, "niveau", n), "offre": _column(new, "offre_id", n), "regles": _column(new, "regles", n),
        "examen": _column(new, "examen", n), "erreur": _column(new, "erreur", n),
        "capacite": _column(new, "capacite", n),
        "demande": _demande_changes(new, old, new_cols, old_cols, found, index),
    })
    same = (frame.old_offre == frame.offre) & (frame.old_niveau == frame.niveau)
    change = np.where(unpaired != "", "non_compare", np.where(~found, "nouveau", np.where(same, "inchange", "modifie")))
    causes = unpaired.copy()
    changed = np.nonzero(change == "modifie")[0]
    if len(changed):
        keys = frame.iloc[changed]
        codes, combos = pd.factorize(pd.MultiIndex.from_frame(keys))
        known = {o.id for o in workspace.catalogue.offres}
        texts = np.array([_cause(dict(zip(keys.columns, combo)), known) for combo in combos], dtype=object)
        causes[changed] = texts[codes]
    columns = {name: new.column(name) for name in new.column_names if name not in COMPARISON_COLUMNS}
    columns.update({
        "changement": pa.array(change.tolist(), pa.string()),
        "ancien_niveau": pa.array(frame.old_niveau.tolist(), pa.string()),
        "ancienne_offre": pa.array(frame.old_offre.tolist(), pa.string()),
        "cause": pa.array(causes.tolist(), pa.string()),
    })
    summary = dict(result.summary)
    summary["changements"] = {k: int((change == k).sum()) for k in CHANGEMENTS}
    summary["causes"] = dict(Counter(causes[changed]).most_common())
    return replace(result, table=pa.table(columns), summary=summary)


def _demande_changes(new: pa.Table, old: pa.Table, new_cols: dict[str, str], old_cols: dict[str, str],
                     found: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Per paired row, what changed in the demande itself (« besoins : amo → conseil »), '' if nothing.

    Only fields present in both files are compared: an older file without a column says nothing of it."""
    n = new.num_rows
    fields = [f for f in DEMANDE_FIELDS if f in new_cols and f in old_cols]
    fields += sorted(f for f in new_cols if f in old_cols and f not in DEMANDE_FIELDS and f not in _NOT_DECIDING)
    texts = np.full(n, "", dtype=object)
    for field in fields:
        now = pd.Series(_column(new, new_cols[field], n))
        then = pd.Series(np.where(found, _column(old, old_cols[field], old.num_rows)[index] if old.num_rows else "", ""))
        normal = {v: _normal(field, v) for v in pd.unique(pd.concat([now, then]))}
        differs = np.nonzero(found & (now.map(normal) != then.map(normal)).to_numpy())[0]
        for k in differs:  # only the rows whose demande changed: few, in a reassessment
            change = f"{field} : {then[k] or '(vide)'} → {now[k] or '(vide)'}"
            texts[k] = f"{texts[k]} ; {change}" if texts[k] else change
    return texts


def _mentioned(offre: str, examen: str) -> bool:
    """Whether an examination names the offer (retained or set aside), in the `examen` column's
    short form `niveau: statut (a; b)` or the long one `(a; b: raisons)` of earlier files."""
    if not offre:
        return False
    for part in examen.split(" | "):
        inside = part.partition(" (")[2].rstrip(")")
        if any(item.split(":", 1)[0].strip() == offre for item in inside.split("; ")):
            return True
    return False


def _cause(row: dict[str, str], known: set[str]) -> str:
    old, new = row["old_offre"], row["offre"]
    if row["erreur"]:
        return f"demande en erreur : {row['erreur']}"
    if not old:
        return "la demande était en erreur au passage précédent"
    if row["demande"]:
        return f"demande modifiée : {row['demande']}"
    if row["capacite"]:
        return f"capacité : {row['capacite']}"
    added = set(filter(None, row["regles"].split("|"))) - set(filter(None, row["old_regles"].split("|")))
    removed = set(filter(None, row["old_regles"].split("|"))) - set(filter(None, row["regles"].split("|")))
    if added or removed:
        parts = [f"règle appliquée désormais : {r}" for r in sorted(added)]
        parts += [f"règle qui ne s'applique plus : {r}" for r in sorted(removed)]
        return " ; ".join(parts)
    if old not in known:
        return f"offre retirée du catalogue : {old}"
    if not _mentioned(new, row["old_examen"]):
        return f"offre nouvelle ou élargie : {new}"
    if _mentioned(old, row["examen"]):
        return f"offre {old} écartée désormais"
    return f"offre {new} retenue désormais : ses conditions tiennent"
