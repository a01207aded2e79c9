"""Load a rules folder: the policy rules that the catalogue alone cannot say.

A rule whose `quand` reads the decided level or offer (`niveau`, `offre`) is applied after
the decision and may only annotate it (avis du DT, alerte, motif): it cannot move it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .catalogue import display_path, fingerprint, read_documents
from .conditions import LIST, ParseContext, did_you_mean, fields_of, parse_condition, tests_of, with_list_attributes
from .errors import IssueCollector, Location, UnknownReferenceError
from .model import Actions, Catalogue, Policy, Regle
from .schema import check_record, check_top_level
from .territory import TerritoryIndex, default_index


def load_policy(
    root: Path, catalogue: Catalogue | None, issues: IssueCollector, index: TerritoryIndex | None = None
) -> Policy | None:
    """Read and check a rules folder against a catalogue; None when it has errors."""
    index = index or default_index()
    root = Path(root)
    documents, files = read_documents(root, issues)
    vocabularies = catalogue.vocabularies if catalogue else {}
    known = catalogue.attribute_types if catalogue else {}
    places = catalogue.attribute_places if catalogue else {}
    attribute_types = {name: (kind, places.get(name) or Location(catalogue.root)) for name, kind in known.items()}
    regles: list[Regle] = []
    seen: dict[str, Regle] = {}
    for doc in documents:
        for i, data in enumerate(check_top_level(doc, "regles", issues).get("regles", [])):
            kp = ("regles", i)
            label = f"règle « {data['id']} »" if isinstance(data, dict) and data.get("id") else f"regles[{i}]"
            if not check_record(doc, kp, data, "regle", issues, label):
                continue
            ctx = ParseContext(doc, issues, vocabularies, index.exists, index.suggest, allow_after_decision=True,
                               attribute_types=attribute_types, inherited=frozenset(known))
            quand = parse_condition(data["quand"], kp + ("quand",), ctx)
            if quand is not None and catalogue is not None and not _offers_exist(quand, catalogue, issues, label):
                quand = None
            actions = _actions(data["alors"], doc, kp + ("alors",), catalogue, issues, label)
            if quand is None or actions is None:
                continue
            after = bool(fields_of(quand) & {"niveau", "offre"})
            where = doc.where(kp)
            if after and (actions.escalader or actions.exclure_offres or actions.exclure_niveaux):
                issues.error(
                    "regle-apres-decision",
                    f"{label} : une règle qui lit le niveau ou l'offre retenus s'applique après la décision ; "
                    "elle ne peut ni escalader ni exclure (seulement avis_dt, alerte, motif)",
                    doc.where(kp + ("alors",)),
                )
                continue
            regle = Regle(
                id=data["id"],
                description=data["description"],
                reference=data.get("reference"),
                priorite=data.get("priorite", 0),
                quand=quand,
                alors=actions,
                location=where,
                after_decision=after,
            )
            if regle.id in seen:
                first = seen[regle.id].location
                issues.error("id-duplique", f"règle « {regle.id} » déjà définie en {first}", where,
                             related=(first,) if first else ())
                continue
            seen[regle.id] = regle
            regles.append(regle)
    if issues.errors:
        return None
    listed = [name for name, (kind, _) in attribute_types.items() if kind == LIST]
    regles = [replace(r, quand=with_list_attributes(r.quand, listed)) for r in regles]
    if catalogue is not None:  # the rules only refine the catalogue's kinds: a demande is read by both
        for name, (kind, where) in attribute_types.items():
            catalogue.attribute_types[name] = kind
            catalogue.attribute_places[name] = where
    regles.sort(key=lambda r: (-r.priorite, r.id))
    # Test cases (files with only a `tests:` section) are no part of the rules: editing them leaves
    # the rules' version, hence every decision's, unchanged.
    # Nor are the alert rules (`alertes:`, `tests_alertes:`): they read decisions, they do not make them.
    tests_only = {doc.path for doc in documents
                  if isinstance(doc.data, dict) and doc.data and set(doc.data) <= {"tests", "alertes", "tests_alertes"}}
    files = [f for f in files if display_path(f) not in tests_only]
    return Policy(tuple(regles), fingerprint(root, files) if files else "sha256:" + "0" * 64, str(root))


def _offers_exist(quand, catalogue: Catalogue, issues: IssueCollector, label: str) -> bool:
    """A rule that reads the decided offer must name offers of the catalogue."""
    known = {o.id for o in catalogue.offres}
    ok = True
    for test in tests_of(quand):
        if test.field != "offre":
            continue
        for value in test.value if isinstance(test.value, tuple) else (test.value,):
            if value not in known:
                issues.error("offre-inconnue", f"{label} : offre inconnue « {value} »{did_you_mean(value, known)}",
                             test.location, kind=UnknownReferenceError)
                ok = False
    return ok


def _actions(data: dict, doc, kp: tuple, catalogue: Catalogue | None, issues: IssueCollector, label: str) -> Actions | None:
    if not data:
        issues.error("regle-sans-action", f"{label} : « alors » ne fait rien", doc.where(kp))
        return None
    exclure = data.get("exclure", {})
    offres = tuple(exclure.get("offres", ()))
    if catalogue is not None:
        known = {o.id for o in catalogue.offres}
        for i, offre_id in enumerate(offres):
            if offre_id not in known:
                issues.error(
                    "offre-inconnue",
                    f"{label} : offre inconnue « {offre_id} »{did_you_mean(offre_id, known)}",
                    doc.where(kp + ("exclure", "offres", i)),
                    kind=UnknownReferenceError,
                )
                return None
            if offre_id == catalogue.repli.id:
                issues.error(
                    "repli",
                    f"{label} : l'offre de repli « {offre_id} » ne peut pas être exclue (toute demande doit avoir une réponse)",
                    doc.where(kp + ("exclure", "offres", i)),
                )
                return None
    niveaux = tuple(exclure.get("niveaux", ()))
    if "agence" in niveaux:
        issues.error("repli", f"{label} : le niveau agence ne peut pas être exclu (il porte l'offre de repli)",
                     doc.where(kp + ("exclure", "niveaux")))
        return None
    return Actions(
        escalader=data.get("escalader"),
        exclure_offres=offres,
        exclure_niveaux=niveaux,
        avis_dt_requis=data.get("avis_dt") == "requis",
        alerte=data.get("alerte"),
        motif=data.get("motif"),
    )


__all__ = ["load_policy", "display_path"]
