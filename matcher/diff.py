"""`aiguillage rules diff OLD NEW`: what a change of the catalogue or the rules does, before it ships.

The two sides are compared offer by offer, perimeter by perimeter, word by word and rule by
rule, field by field. With a backlog, every row is routed on both sides by `batch.route_backlog`,
read through the output columns the product fixes (niveau, offre_id, regles, erreur), and each
row that would change route is given one cause: the offer or rule of the change that made the
difference, looked for in this order — the old offer was removed, the new offer was added, a
changed rule applies on one side, the old or the new offer was changed, a perimeter they use was
changed, a vocabulary was changed.

OLD and NEW are each a folder holding `catalogues/` and `rules/`, a catalogue folder or a rules
folder; the side they leave out is the catalogue or rules in use (`--catalogue`, `--rules`, or
the shipped ones).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .conditions import AllOf, AnyOf, Condition, NoneOf, Test, describe
from .errors import AiguillageError
from .model import Actions, Offre, Perimetre, Regle, Validite
from .paths import default_catalogue, default_rules
from .validation import kind_of
from .workspace import Workspace, load_workspace


def sides(path: Path, catalogue_dir: Path | None, rules_dir: Path | None) -> tuple[Path, Path]:
    """The catalogue and rules folders a side designates."""
    catalogue = Path(catalogue_dir or default_catalogue())
    rules = Path(rules_dir or default_rules())
    if (path / "catalogues").is_dir() and (path / "rules").is_dir():
        return path / "catalogues", path / "rules"
    kind = kind_of(path) if path.is_dir() else None
    if kind == "catalogue":
        return path, rules
    if kind == "regles":
        return catalogue, path
    raise AiguillageError(f"{path} : ni un dossier de catalogue, ni un dossier de règles, ni un dossier qui "
                          "contient catalogues/ et rules/")


# --------------------------------------------------------------------------- how things are shown


def condition_text(cond: Condition | None) -> str:
    if cond is None:
        return "aucune"
    if isinstance(cond, Test):
        return describe(cond)
    joiner = {AllOf: " et ", AnyOf: " ou ", NoneOf: " ni "}[type(cond)]
    inner = joiner.join(condition_text(c) for c in cond.children)
    return f"aucun de ({inner})" if isinstance(cond, NoneOf) else f"({inner})"


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, Validite):
        return (f"du {value.debut:%d/%m/%Y}" if value.debut else "") + (" " if value.debut and value.fin else "") + \
            (f"au {value.fin:%d/%m/%Y}" if value.fin else "") or "toujours"
    if isinstance(value, bool):
        return "oui" if value else "non"
    return str(value)


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str

    def __str__(self) -> str:
        return f"{self.field} : {self.old} → {self.new}"


def _tuple_change(name: str, old: tuple, new: tuple) -> FieldChange:
    added = [v for v in new if v not in old]
    removed = [v for v in old if v not in new]
    if added or removed:
        parts = ([f"+{', +'.join(added)}"] if added else []) + ([f"-{', -'.join(removed)}"] if removed else [])
        return FieldChange(name, _text(old), f"{_text(new)} ({' '.join(parts)})")
    return FieldChange(name, _text(old), _text(new))  # same words, another order


def offer_changes(old: Offre, new: Offre) -> list[FieldChange]:
    found = []
    for f in fields(Offre):
        if f.name == "location":
            continue
        a, b = getattr(old, f.name), getattr(new, f.name)
        if f.name == "conditions":
            a, b = condition_text(a), condition_text(b)
        if a == b:
            continue
        found.append(_tuple_change(f.name, a, b) if isinstance(a, tuple) else FieldChange(f.name, _text(a), _text(b)))
    return found


def rule_changes(old: Regle, new: Regle) -> list[FieldChange]:
    found = []
    for name in ("description", "reference", "priorite"):
        if getattr(old, name) != getattr(new, name):
            found.append(FieldChange(name, _text(getattr(old, name)), _text(getattr(new, name))))
    if condition_text(old.quand) != condition_text(new.quand):
        found.append(FieldChange("quand", condition_text(old.quand), condition_text(new.quand)))
    for f in fields(Actions):
        a, b = getattr(old.alors, f.name), getattr(new.alors, f.name)
        if a != b:
            found.append(FieldChange(f"alors.{f.name}", _text(a), _text(b)))
    return found


# --------------------------------------------------------------------------- the comparison


@dataclass
class Changes:
    """Added, removed and changed things of one kind, by id."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[FieldChange]] = field(default_factory=dict)

    @property
    def touched(self) -> set[str]:
        return set(self.added) | set(self.removed) | set(self.changed)

    def as_dict(self) -> dict[str, Any]:
        return {"ajoutees": self.added, "retirees": self.removed,
                "modifiees": {k: [{"champ": c.field, "avant": c.old, "apres": c.new} for c in v]
                              for k, v in self.changed.items()}}


def _compare(old: dict[str, Any], new: dict[str, Any], changes_of) -> Changes:
    result = Changes(sorted(set(new) - set(old)), sorted(set(old) - set(new)))
    for key in sorted(set(old) & set(new)):
        found = changes_of(old[key], new[key])
        if found:
            result.changed[key] = found
    return result


def _perimeter_changes(old: Perimetre, new: Perimetre) -> list[FieldChange]:
    found = [FieldChange("nom", old.nom, new.nom)] if old.nom != new.nom else []
    if old.membres != new.membres:
        found.append(_tuple_change("membres", old.membres, new.membres))
    return found


@dataclass
class CatalogueDiff:
    offres: Changes
    perimetres: Changes
    vocabulaires: dict[str, Changes]
    regles: Changes
    moving_rules: set[str] = field(default_factory=set)  # rules, on either side, that escalate or exclude

    @property
    def empty(self) -> bool:
        return not (self.offres.touched or self.perimetres.touched or self.regles.touched
                    or any(c.touched for c in self.vocabulaires.values()))


def compare(old: Workspace, new: Workspace) -> CatalogueDiff:
    vocabularies = {}
    for kind in sorted(set(old.catalogue.vocabularies) | set(new.catalogue.vocabularies)):
        a = old.catalogue.vocabularies.get(kind)
        b = new.catalogue.vocabularies.get(kind)
        vocabularies[kind] = _compare(
            {t.id: t for t in a.terms.values()} if a else {}, {t.id: t for t in b.terms.values()} if b else {},
            lambda x, y: [FieldChange(n, _text(getattr(x, n)), _text(getattr(y, n))) for n in ("libelle", "parent")
                          if getattr(x, n) != getattr(y, n)])
    return CatalogueDiff(
        offres=_compare({o.id: o for o in old.catalogue.offres}, {o.id: o for o in new.catalogue.offres},
                        offer_changes),
        perimetres=_compare(old.catalogue.perimetres, new.catalogue.perimetres, _perimeter_changes),
        vocabulaires=vocabularies,
        regles=_compare({r.id: r for r in old.policy.regles}, {r.id: r for r in new.policy.regles}, rule_changes),
        moving_rules={r.id for r in old.policy.regles + new.policy.regles
                      if r.alors.escalader or r.alors.exclure_offres or r.alors.exclure_niveaux},
    )


# --------------------------------------------------------------------------- a backlog on both sides


@dataclass(frozen=True)
class Routed:
    """A row's decision as the batch output gives it (the columns the product fixes)."""

    niveau: str
    offre: str
    regles: frozenset[str]


@dataclass
class RowChange:
    row: int
    line: int
    id: str
    old: Routed
    new: Routed
    cause: str


@dataclass
class BacklogImpact:
    path: str
    rows: int
    errors: int
    changes: list[RowChange]

    @property
    def causes(self) -> Counter:
        return Counter(c.cause for c in self.changes)

    @property
    def moves(self) -> Counter:
        return Counter((c.old.niveau, c.new.niveau) for c in self.changes)


def _routed(workspace: Workspace, path: Path, day: dt.date):
    """Each row's decision (None for a row in error), read from the batch's output columns."""
    from .backlog import read_backlog
    from .batch import has_required_columns, route_backlog
    from .projets import from_projets_territoire, is_projets_territoire

    backlog = read_backlog(path, is_header=has_required_columns)  # as `batch` reads it
    if is_projets_territoire(backlog):
        backlog = from_projets_territoire(backlog, workspace)
    router = workspace.router()
    workspace.graph.add_all_communes()
    table = route_backlog(workspace, router, backlog, day).table

    def column(name: str) -> list[str]:
        return ["" if v is None else str(v) for v in table.column(name).to_pylist()]

    rows = []
    for niveau, offre, regles, erreur in zip(column("niveau"), column("offre_id"), column("regles"), column("erreur")):
        rows.append(None if erreur or not offre else
                    Routed(niveau, offre, frozenset(r.strip() for r in regles.split("|") if r.strip())))
    return backlog, rows


def backlog_impact(old: Workspace, new: Workspace, diff: CatalogueDiff, path: Path, day: dt.date) -> BacklogImpact:
    """Route the backlog on both sides; the rows whose level or offer would change, with their cause."""
    from .batch import map_columns

    backlog, before = _routed(old, path, day)
    _, after = _routed(new, path, day)
    id_column = map_columns(backlog, ()).fields.get("id")
    ids = backlog.table.column(id_column).to_pylist() if id_column else [None] * len(before)
    offers = {**{o.id: o for o in old.catalogue.offres}, **{o.id: o for o in new.catalogue.offres}}
    changes = []
    errors = 0
    for row, (a, b) in enumerate(zip(before, after)):
        if a is None or b is None:
            errors += 1
            continue
        if (a.niveau, a.offre) != (b.niveau, b.offre):
            changes.append(RowChange(row, backlog.line(row), str(ids[row] or backlog.line(row)), a, b,
                                     cause_of(a, b, diff, offers)))
    return BacklogImpact(str(path), len(before), errors, changes)


def cause_of(old: Routed, new: Routed, diff: CatalogueDiff, offers: dict[str, Offre]) -> str:
    """The offer or rule of the change that moved this demande (see the module docstring)."""
    o1, o2 = old.offre, new.offre
    if o1 in diff.offres.removed:
        return f"offre retirée : {o1}"
    if o2 in diff.offres.added:
        return f"offre ajoutée : {o2}"
    for regle in sorted(old.regles | new.regles):  # rules that applied on either side
        if regle in diff.regles.touched and regle in diff.moving_rules:
            verb = "ajoutée" if regle in diff.regles.added else "retirée" if regle in diff.regles.removed else "modifiée"
            return f"règle {verb} : {regle}"
    for offre in (o1, o2):
        if offre in diff.offres.changed:
            fields_changed = ", ".join(c.field for c in diff.offres.changed[offre])
            return f"offre modifiée : {offre} ({fields_changed})"
    for offre in (offers.get(o1), offers.get(o2)):
        for ref in offre.perimetre if offre else ():
            if ref.startswith("perimetre:") and ref[10:] in diff.perimetres.touched:
                return f"périmètre modifié : {ref[10:]}"
    touched = [k for k, c in diff.vocabulaires.items() if c.touched]
    if touched:
        return f"vocabulaire modifié : {', '.join(touched)}"
    return "autre (aucune offre ni règle en cause n'a changé)"


# --------------------------------------------------------------------------- reports


def _changes_lines(title: str, changes: Changes) -> list[str]:
    if not changes.touched:
        return []
    lines = [f"  {title} : {len(changes.added)} ajoutée(s), {len(changes.removed)} retirée(s), "
             f"{len(changes.changed)} modifiée(s)"]
    lines += [f"    + {k}" for k in changes.added]
    lines += [f"    - {k}" for k in changes.removed]
    for key, found in changes.changed.items():
        lines.append(f"    ~ {key}")
        lines += [f"        {c}" for c in found]
    return lines


def report_text(diff: CatalogueDiff, labels: tuple[str, str], impact: BacklogImpact | None = None) -> str:
    lines = [f"Comparaison : {labels[0]} → {labels[1]}"]
    body = _changes_lines("Offres", diff.offres) + _changes_lines("Périmètres", diff.perimetres)
    for kind, changes in diff.vocabulaires.items():
        body += _changes_lines(f"Vocabulaire {kind}", changes)
    body += _changes_lines("Règles", diff.regles)
    lines += body or ["  Aucune différence dans les offres, périmètres, vocabulaires et règles."]
    if impact is not None:
        share = f"{len(impact.changes) / impact.rows if impact.rows else 0:.1%}".replace(".", ",").replace("%", " %")
        lines += ["", f"Carnet {impact.path} : {impact.rows} ligne{'s' if impact.rows > 1 else ''}, "
                      f"{len(impact.changes)} changerai{'ent' if len(impact.changes) > 1 else 't'} d'orientation "
                      f"({share})"
                  + (f", {impact.errors} en erreur (non comparées)" if impact.errors else "")]
        if impact.changes:
            lines.append("  Par cause :")
            lines += [f"    {n:>6}  {cause}" for cause, n in impact.causes.most_common()]
            lines.append("  Par niveau (avant → après) :")
            lines += [f"    {n:>6}  {a} → {b}" for (a, b), n in impact.moves.most_common()]
    return "\n".join(lines)


def report_dict(diff: CatalogueDiff, labels: tuple[str, str], impact: BacklogImpact | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "avant": labels[0], "apres": labels[1],
        "offres": diff.offres.as_dict(), "perimetres": diff.perimetres.as_dict(),
        "vocabulaires": {k: c.as_dict() for k, c in diff.vocabulaires.items()},
        "regles": diff.regles.as_dict(),
    }
    if impact is not None:
        data["carnet"] = {
            "fichier": impact.path, "lignes": impact.rows, "en_erreur": impact.errors,
            "changements": len(impact.changes),
            "par_cause": dict(impact.causes.most_common()),
            "par_niveau": [{"avant": a, "apres": b, "lignes": n} for (a, b), n in impact.moves.most_common()],
            "lignes_changees": [
                {"ligne": c.line, "id": c.id, "ancien_niveau": c.old.niveau, "ancienne_offre": c.old.offre,
                 "niveau": c.new.niveau, "offre": c.new.offre, "cause": c.cause}
                for c in impact.changes
            ],
        }
    return data


def write_changes(impact: BacklogImpact, path: Path) -> None:
    """The rows that would change, as a CSV, Excel or Parquet file (the format follows the extension)."""
    import pyarrow as pa

    from .backlog import write_decisions

    columns = ("ligne", "id", "ancien_niveau", "ancienne_offre", "niveau", "offre", "cause")
    values = [(c.line, c.id, c.old.niveau, c.old.offre, c.new.niveau, c.new.offre, c.cause)
              for c in impact.changes]
    table = pa.table({name: pa.array([str(v[i]) for v in values], pa.string()) for i, name in enumerate(columns)})
    write_decisions(table, path)


def load_sides(
    old: Path, new: Path, catalogue_dir: Path | None, rules_dir: Path | None, day: dt.date
) -> tuple[Workspace, Workspace]:
    """Both sides, checked (the first error of either stops the comparison)."""
    return (load_workspace(*sides(old, catalogue_dir, rules_dir), today=day),
            load_workspace(*sides(new, catalogue_dir, rules_dir), today=day))


__all__ = ["sides", "compare", "backlog_impact", "cause_of", "report_text", "report_dict", "write_changes",
           "load_sides", "condition_text", "CatalogueDiff", "BacklogImpact"]
