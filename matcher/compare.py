"""What changed since an earlier run: each row inchangé, nouveau or modifié, with its cause.

Rows are matched by their `id` when both files have unique ids, else by position. The cause
is read from the two decisions and the current catalogue and rules: an offer that left the
catalogue, an offer that a demande did not even meet before (new or wider), an offer whose
conditions now hold or no longer hold, a policy rule that now applies or no longer does, a
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
from .workspace import Workspace

COMPARISON_COLUMNS = ("changement", "ancien_niveau", "ancienne_offre", "cause")


def _column(table: pa.Table, name: str, n: int) -> np.ndarray:
    if name not in table.column_names:
        return np.full(n, "", dtype=object)
    return np.array(table.column(name).cast(pa.string()).fill_null("").to_pylist(), dtype=object)


def _ids(table: pa.Table, backlog_like: Backlog) -> np.ndarray | None:
    try:
        column = map_columns(backlog_like, ()).fields.get("id")
    except BatchInputError:
        column = next((n for n in table.column_names if normalize_header(n) == "id"), None)
    if column is None:
        return None
    ids = _column(table, column, table.num_rows)
    if (ids == "").any() or len(set(ids)) != len(ids):
        return None
    return ids


def compare_with_previous(workspace: Workspace, result: BatchResult, previous: Backlog) -> BatchResult:
    old = previous.table
    for needed in ("niveau", "offre_id"):
        if needed not in old.column_names:
            raise BatchInputError(
                f"pas de colonne « {needed} » : est-ce bien un fichier de décisions d'aiguillage ?",
                Location(previous.path, 1, 1),
            )
    new = result.table
    n = new.num_rows
    new_ids = _ids(new, Backlog(new, "", "csv"))
    old_ids = _ids(old, previous)
    if new_ids is not None and old_ids is not None:
        position = pd.Series(np.arange(old.num_rows), index=old_ids)
        matched = position.reindex(new_ids).to_numpy()
    else:
        matched = np.where(np.arange(n) < old.num_rows, np.arange(n), np.nan)
    found = ~np.isnan(matched)
    index = np.where(found, matched, 0).astype(np.int64)

    def old_values(name: str) -> np.ndarray:
        return np.where(found, _column(old, name, old.num_rows)[index] if old.num_rows else "", "")

    frame = pd.DataFrame({
        "old_niveau": old_values("niveau"), "old_offre": old_values("offre_id"), "old_regles": old_values("regles"),
        "old_examen": old_values("examen"),
        "niveau": _column(new, "niveau", n), "offre": _column(new, "offre_id", n), "regles": _column(new, "regles", n),
        "examen": _column(new, "examen", n), "erreur": _column(new, "erreur", n),
        "capacite": _column(new, "capacite", n),
    })
    same = (frame.old_offre == frame.offre) & (frame.old_niveau == frame.niveau)
    change = np.where(~found, "nouveau", np.where(same, "inchange", "modifie"))
    causes = np.full(n, "", dtype=object)
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
    summary["changements"] = {k: int((change == k).sum()) for k in ("inchange", "nouveau", "modifie")}
    summary["causes"] = dict(Counter(causes[changed]).most_common())
    return replace(result, table=pa.table(columns), summary=summary)


def _mentioned(offre: str, examen: str) -> bool:
    return bool(offre) and (f"({offre})" in examen or f"({offre}:" in examen or f"; {offre}:" in examen)


def _cause(row: dict[str, str], known: set[str]) -> str:
    old, new = row["old_offre"], row["offre"]
    if row["erreur"]:
        return f"demande en erreur : {row['erreur']}"
    if not old:
        return "la demande était en erreur au passage précédent"
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
