"""Load a catalogue folder: vocabularies, named perimeters and offers, every problem located.

The folder is read as a whole (`--catalogue DIR` replaces the shipped one entirely); files
may hold any of the sections, in any order. Vocabularies and perimeters are read first so
that offers can be checked against them wherever they are declared.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .conditions import LIST, ParseContext, did_you_mean, parse_condition, suggest, with_list_attributes
from .errors import AiguillageError, IssueCollector, Location, UnknownReferenceError
from .model import PORTEUR_TYPES, VOCABULARY_KINDS, Catalogue, Offre, Perimetre, Programme, Term, Validite, Vocabulary
from .schema import check_record, check_top_level
from .territory import TerritoryIndex, default_index, parse_ref
from .files import display_path, fingerprint, yaml_files
from .yamlsource import Document, load


def read_documents(
    root: Path, issues: IssueCollector, extra_files: tuple[Path, ...] = ()
) -> tuple[list[Document], list[Path]]:
    """Parse the YAML files under `root` (and `extra_files`, a file being written elsewhere)."""
    if not root.exists():
        issues.add_error(AiguillageError(f"dossier introuvable : {root}", Location(str(root)), "fichier"))
        return [], []
    files = yaml_files(root)
    files += [f for f in extra_files if f not in files]
    if not files:
        issues.add_error(AiguillageError("aucun fichier .yaml dans ce dossier", Location(display_path(root)), "fichier"))
    documents = []
    for path in files:
        try:
            document = load(path, display_path(path), keep_going=True)
            for problem in document.problems:  # reported, and the rest of the file still checked
                issues.add_error(problem)
            documents.append(document)
        except AiguillageError as exc:
            issues.add_error(exc)
    return documents, files


@dataclass
class _Entry:
    doc: Document
    keypath: tuple
    data: Any


def check_territory_ref(
    ref: Any, doc: Document, keypath: tuple, index: TerritoryIndex, perimetres: set[str], issues: IssueCollector
) -> bool:
    where = doc.where(keypath)
    if not isinstance(ref, str):
        issues.error("type", f"référence de territoire attendue (commune:CODE, epci:SIREN…), pas « {ref} »", where)
        return False
    try:
        kind, code = parse_ref(ref)
    except ValueError:
        issues.error(
            "reference-invalide",
            f"référence de territoire invalide « {ref} » : commune:INSEE, epci:SIREN, departement:NN, region:NN, "
            "national ou perimetre:ID",
            where,
        )
        return False
    if kind == "national":
        return True
    if kind == "perimetre":
        if code not in perimetres:
            issues.error(
                "perimetre-inconnu",
                f"périmètre inconnu « {code} »{did_you_mean(code, perimetres)}",
                where,
                kind=UnknownReferenceError,
            )
            return False
        return True
    if not index.exists(kind, code):
        close = index.suggest(kind, code)
        hint = f" — codes proches : {', '.join(close)}" if close else ""
        issues.error(
            "territoire-inconnu",
            f"{ref} n'existe pas dans le découpage administratif 2026{hint}",
            where,
            kind=UnknownReferenceError,
        )
        return False
    return True


def _load_vocabularies(
    entries: dict[str, list[_Entry]], issues: IssueCollector, root: Path
) -> dict[str, Vocabulary]:
    vocabularies: dict[str, Vocabulary] = {}
    for kind in VOCABULARY_KINDS:
        terms: dict[str, Term] = {}
        for e in entries[kind]:
            record = "programme" if kind == "programmes" else "terme"
            if not check_record(e.doc, e.keypath, e.data, record, issues, f"{kind}[{e.keypath[-1]}]"):
                continue
            where = e.doc.where(e.keypath)
            word = e.data["id"]
            if word in terms:
                issues.error(
                    "id-duplique", f"{kind} : « {word} » déjà défini en {terms[word].location}", where,
                    related=(terms[word].location,) if terms[word].location else (),
                )
                continue
            terms[word] = Term(word, e.data["libelle"], e.data.get("parent"), where)
        for term in terms.values():
            if term.parent is not None and term.parent not in terms:
                issues.error(
                    "vocabulaire",
                    f"{kind} : parent inconnu « {term.parent} »{did_you_mean(term.parent, terms)}",
                    term.location,
                    kind=UnknownReferenceError,
                )
        vocabulary = Vocabulary(kind, terms)
        for term in terms.values():
            if term.id in vocabulary.ancestors(term.id):
                issues.error("vocabulaire", f"{kind} : « {term.id} » est son propre ancêtre (cycle de parents)",
                             term.location)
        vocabularies[kind] = vocabulary
        if not terms:
            issues.error("vocabulaire", f"vocabulaire « {kind} » absent du catalogue (section `{kind}:`)",
                         Location(display_path(root)))
    return vocabularies


def _check_lacunes(entries: list[_Entry], index: TerritoryIndex, issues: IssueCollector) -> None:
    """A gap names a real département; it is checked, not routed on."""
    for e in entries:
        if check_record(e.doc, e.keypath, e.data, "lacune", issues, f"lacunes[{e.keypath[-1]}]"):
            code = str(e.data["departement"]).upper()
            if not index.exists("departement", code):
                issues.error("territoire-inconnu", f"département inconnu « {e.data['departement']} »",
                             e.doc.where(e.keypath + ("departement",)))


def _load_perimetres(
    entries: list[_Entry], index: TerritoryIndex, issues: IssueCollector
) -> dict[str, Perimetre]:
    valid = [e for e in entries if check_record(e.doc, e.keypath, e.data, "perimetre", issues, f"perimetre[{e.keypath[-1]}]")]
    ids = {e.data["id"] for e in valid}
    perimetres: dict[str, Perimetre] = {}
    for e in valid:
        where = e.doc.where(e.keypath)
        pid = e.data["id"]
        if pid in perimetres:
            first = perimetres[pid].location
            issues.error("id-duplique", f"périmètre « {pid} » déjà défini en {first}", where,
                         related=(first,) if first else ())
            continue
        members = e.data["membres"]
        ok = all(
            check_territory_ref(m, e.doc, e.keypath + ("membres", i), index, ids, issues) for i, m in enumerate(members)
        )
        if ok:
            perimetres[pid] = Perimetre(pid, e.data["nom"], tuple(members), where)
    # A perimeter that contains itself, directly or not, covers nothing that can be computed.
    # A cycle is one problem, reported once, on its first perimeter.
    reported: set[frozenset[str]] = set()
    for pid, p in perimetres.items():
        cycle = _cycle_from(pid, perimetres)
        if cycle is None or frozenset(cycle) in reported:
            continue
        reported.add(frozenset(cycle))
        others = tuple(perimetres[c].location for c in cycle[1:] if perimetres[c].location)
        path = " → ".join(f"« {c} »" for c in cycle + [pid])
        message = (f"le périmètre « {pid} » se contient lui-même" if len(cycle) == 1
                   else f"les périmètres {path} se contiennent l'un l'autre")
        issues.error("perimetre-cycle", message, p.location, related=others)
    return perimetres


def _cycle_from(pid: str, perimetres: dict[str, Perimetre]) -> list[str] | None:
    """The perimeters on a path from `pid` back to itself, `pid` first; None if there is none."""
    def members(p: str) -> list[str]:
        return [m[10:] for m in perimetres[p].membres if m.startswith("perimetre:") and m[10:] in perimetres]

    pending, parent = [pid], {pid: ""}
    while pending:
        current = pending.pop()
        for other in members(current):
            if other == pid:
                path = [current]
                while path[-1] != pid:
                    path.append(parent[path[-1]])
                return path[::-1]
            if other not in parent:
                parent[other] = current
                pending.append(other)
    return None


def _load_offre(
    e: _Entry, ctx: ParseContext, perimetres: dict[str, Perimetre], index: TerritoryIndex
) -> Offre | None:
    issues, doc, kp = ctx.issues, e.doc, e.keypath
    label = f"offre « {e.data['id']} »" if isinstance(e.data, dict) and e.data.get("id") else f"offres[{kp[-1]}]"
    if not check_record(doc, kp, e.data, "offre", issues, label):
        return None
    data = e.data
    ok = all(
        check_territory_ref(ref, doc, kp + ("perimetre", i), index, set(perimetres), issues)
        for i, ref in enumerate(data["perimetre"])
    )
    for kind in ("thematiques", "besoins"):
        vocabulary = ctx.vocabularies[kind]
        for i, word in enumerate(data[kind]):
            if word not in vocabulary.terms:
                issues.error(
                    "vocabulaire",
                    f"{label} : {kind} : mot inconnu « {word} »{did_you_mean(word, vocabulary.terms)}",
                    doc.where(kp + (kind, i)),
                    kind=UnknownReferenceError,
                )
                ok = False
    conditions = None
    if "conditions" in data:
        conditions = parse_condition(data["conditions"], kp + ("conditions",), ctx)
        ok = ok and conditions is not None
    validite = Validite()
    if "validite" in data:
        validite = Validite(data["validite"].get("debut"), data["validite"].get("fin"))
        if validite.debut and validite.fin and validite.fin < validite.debut:
            issues.error("validite", f"{label} : la fin de validité précède son début", doc.where(kp + ("validite",)))
            ok = False
    if "capacite" in data and data["capacite"] <= 0:
        issues.error("type", f"{label} : « capacite » doit être positive", doc.where(kp + ("capacite",)))
        ok = False
    if not ok:
        return None
    return Offre(
        id=data["id"],
        nom=data["nom"],
        structure=data["structure"],
        niveau=data["niveau"],
        perimetre=tuple(data["perimetre"]),
        thematiques=tuple(data["thematiques"]),
        besoins=tuple(data["besoins"]),
        conditions=conditions,
        cout=data["cout"],
        source=data["source"],
        capacite=data.get("capacite"),
        validite=validite,
        contact=data.get("contact"),
        description=data.get("description"),
        repli=data.get("repli", False),
        verifie_le=data.get("verifie_le"),
        location=doc.where(kp),
    )


# An offer whose validity ends within this many days is announced, so that it is renewed or let go
# knowingly; a source not re-read for more than this many days is due for re-reading.
VALIDITY_NOTICE_DAYS = 90
SOURCE_MAX_AGE_DAYS = 365


def _day(value: Any) -> dt.date | None:
    """A day as written; a date with a time is refused by the schema, and not compared here."""
    return value if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else None


def _check_dates(written: dict, offre_id: Any, e: _Entry, today: dt.date, issues: IssueCollector) -> None:
    """What an author must act on in time, read from what is written (so that an offer with another
    error is still reported): an expired or soon-ending validity, a source not re-read for a year, the
    notes an import left to check. An offer without `verifie_le` has never been re-read since it was
    written: `rules check` counts those offers in its summary rather than warning about each."""
    where = e.doc.where(e.keypath)
    validite = written.get("validite") if isinstance(written.get("validite"), dict) else {}
    fin = _day(validite.get("fin"))
    if isinstance(fin, dt.date) and fin < today:
        issues.warning("offre-expiree", f"offre « {offre_id} » échue depuis le {fin:%d/%m/%Y} : "
                       "elle n'est plus proposée", where)
    elif isinstance(fin, dt.date) and (fin - today).days <= VALIDITY_NOTICE_DAYS:
        days = (fin - today).days
        issues.warning("fin-de-validite", f"offre « {offre_id} » valable jusqu'au {fin:%d/%m/%Y}, "
                       f"{'aujourd’hui' if days == 0 else f'dans {days} jour' + ('s' if days > 1 else '')} : "
                       "renouvelez-la d'après sa source ou laissez-la échoir", e.doc.where(e.keypath + ("validite", "fin")))
    checked = _day(written.get("verifie_le"))
    if isinstance(checked, dt.date) and checked > today:
        issues.warning("relecture-future", f"offre « {offre_id} » : verifie_le le {checked:%d/%m/%Y}, un jour à venir",
                       e.doc.where(e.keypath + ("verifie_le",)))
    elif isinstance(checked, dt.date) and (today - checked).days > SOURCE_MAX_AGE_DAYS:
        issues.warning("source-a-relire", f"offre « {offre_id} » : source relue le {checked:%d/%m/%Y}, il y a plus "
                       f"d'un an : relisez {written.get('source', 'sa source')} et mettez verifie_le à jour",
                       e.doc.where(e.keypath + ("verifie_le",)))
    notes = written.get("a_verifier")
    if isinstance(notes, list) and notes:
        issues.warning("a-verifier", f"offre « {offre_id} » à vérifier : {' ; '.join(str(n) for n in notes)}",
                       e.doc.where_key(e.keypath + ("a_verifier",)))


def _check_repli(offres: list[Offre], issues: IssueCollector, root: Path) -> None:
    replis = [o for o in offres if o.repli]
    if not replis:
        issues.error(
            "repli",
            "aucune offre de repli : une offre de l'agence doit porter `repli: true` (l'ingénierie sur-mesure, "
            "où va une demande quand rien d'autre ne convient)",
            Location(display_path(root)),
        )
        return
    if len(replis) > 1:
        for extra in replis[1:]:
            issues.error(
                "repli",
                f"plusieurs offres de repli : « {extra.id} » et « {replis[0].id} » (une seule attendue)",
                extra.location,
                related=(replis[0].location,) if replis[0].location else (),
            )
    repli = replis[0]
    if repli.niveau != "agence":
        issues.error("repli", f"l'offre de repli « {repli.id} » doit être au niveau agence", repli.location)
    if repli.conditions is not None:
        issues.error("repli", f"l'offre de repli « {repli.id} » ne peut pas porter de conditions : elle sert "
                     "toute demande à laquelle rien d'autre ne convient", repli.location)
    if repli.perimetre != ("national",):
        issues.error("repli", f"l'offre de repli « {repli.id} » doit avoir le périmètre [national]", repli.location)
    if repli.validite != Validite():
        issues.error("repli", f"l'offre de repli « {repli.id} » ne peut pas avoir de validité limitée", repli.location)


def load_catalogue(
    root: Path,
    issues: IssueCollector,
    index: TerritoryIndex | None = None,
    today: dt.date | None = None,
    extra_files: tuple[Path, ...] = (),
    partial: bool = False,
) -> Catalogue | None:
    """Read and check a catalogue folder; None when it has errors (they are in `issues`).

    `extra_files` are read as if they were in the folder; with `partial`, a catalogue with errors
    still comes back, made of what could be read (so that `rules check` can check rules against it).
    """
    index = index or default_index()
    root = Path(root)
    documents, files = read_documents(root, issues, extra_files)
    entries: dict[str, list[_Entry]] = {k: [] for k in ("offres", "perimetres", "lacunes", *VOCABULARY_KINDS)}
    for doc in documents:
        for section, items in check_top_level(doc, "catalogue", issues).items():
            entries[section].extend(_Entry(doc, (section, i), item) for i, item in enumerate(items))
    if not documents:
        return None
    vocabularies = _load_vocabularies(entries, issues, root)
    perimetres = _load_perimetres(entries["perimetres"], index, issues)
    _check_lacunes(entries["lacunes"], index, issues)
    attribute_types: dict[str, tuple[str, Location]] = {}
    offres: list[Offre] = []
    seen: dict[str, Location] = {}
    for e in entries["offres"]:
        # Duplicates and expiry are read from what is written, so that an offer with another
        # error is still reported for them in the same run.
        written = e.data if isinstance(e.data, dict) else {}
        where = e.doc.where(e.keypath)
        offre_id = written.get("id")
        duplicate = isinstance(offre_id, str) and offre_id in seen
        if duplicate:
            issues.error("id-duplique", f"offre « {offre_id} » déjà définie en {seen[offre_id]}", where,
                         related=(seen[offre_id],))
        elif isinstance(offre_id, str):
            seen[offre_id] = where
        if today:
            _check_dates(written, offre_id, e, today, issues)
        ctx = ParseContext(e.doc, issues, vocabularies, index.exists, index.suggest, attribute_types=attribute_types)
        offre = _load_offre(e, ctx, perimetres, index)  # a duplicate is still checked for its own errors
        if offre is not None and not duplicate:
            offres.append(offre)
    # Uses are read from every offer written, loaded or not: an offer with another error still uses it.
    used = {m[10:] for e in entries["offres"] if isinstance(e.data, dict) and isinstance(e.data.get("perimetre"), list)
            for m in e.data["perimetre"] if isinstance(m, str) and m.startswith("perimetre:")}
    used |= {m[10:] for p in perimetres.values() for m in p.membres if m.startswith("perimetre:")}
    used |= {close for name in used - set(perimetres) for close in suggest(name, perimetres)[:1]}  # a typo, reported
    for pid, p in perimetres.items():
        if pid not in used:
            issues.warning("perimetre-inutilise", f"périmètre « {pid} » utilisé par aucune offre", p.location)
    _check_repli(offres, issues, root)
    if issues.errors and not partial:
        return None
    listed = [name for name, (kind, _) in attribute_types.items() if kind == LIST]
    offres = [replace(o, conditions=with_list_attributes(o.conditions, listed)) for o in offres]
    return Catalogue(
        offres=tuple(offres),
        perimetres=perimetres,
        vocabularies=vocabularies,
        version=fingerprint(root, files),
        root=str(root),
        attribute_types={name: kind for name, (kind, _) in attribute_types.items()},
        programmes=_load_programmes(entries["programmes"], index, set(perimetres), issues),
        attribute_places={name: where for name, (_, where) in attribute_types.items()},
    )


def _load_programmes(entries: list[_Entry], index: TerritoryIndex, perimetres: set[str], issues: IssueCollector
                     ) -> dict[str, Programme]:
    """Who can belong to each programme that says it (population bounds, natures of porteur, a public
    member list); the words themselves are checked with the vocabularies."""
    programmes: dict[str, Programme] = {}
    for e in entries:
        data = e.data if isinstance(e.data, dict) else {}
        if not isinstance(data.get("id"), str) or not ({"population", "porteurs", "membres"} & set(data)):
            continue
        bounds = data.get("population") if isinstance(data.get("population"), dict) else {}
        low, high = bounds.get("min"), bounds.get("max")
        if isinstance(low, int) and isinstance(high, int) and low > high:
            issues.error("type", f"programme « {data['id']} » : population min {low} > max {high}",
                         e.doc.where(e.keypath + ("population",)))
        porteurs = data.get("porteurs") or []
        for i, kind in enumerate(porteurs):
            if kind not in PORTEUR_TYPES:
                issues.error("valeur-inconnue", f"porteurs : valeur inconnue « {kind} »{did_you_mean(str(kind), PORTEUR_TYPES)}"
                             f" (valeurs possibles : {', '.join(PORTEUR_TYPES)})", e.doc.where(e.keypath + ("porteurs", i)))
        membres = data.get("membres")
        if membres is not None:
            for i, ref in enumerate(membres):
                check_territory_ref(ref, e.doc, e.keypath + ("membres", i), index, perimetres, issues)
        programmes[data["id"]] = Programme(
            data["id"], str(data.get("libelle", data["id"])), low if isinstance(low, int) else None,
            high if isinstance(high, int) else None, tuple(str(p) for p in porteurs),
            frozenset(membres) if membres is not None else None, data.get("source"))
    return programmes
