"""`aiguillage catalogue import`: an Aides-territoires export made into draft offers.

Both exports are read: the CSV the platform's back office writes (Nom, Lien, Financeurs,
Bénéficiaire, Types d'aides, AAP/AMI, Récurrence, Descriptif, Date Clôture) and the JSON of its
public API (`/api/aids/`: a page `{"count", "next", "results": [...]}` or a list of aids, each with
`name`, `url`, `financers`, `perimeter`, `categories` « thème|catégorie », `aid_types`,
`targeted_audiences`, `is_call_for_project`, `recurrence`, `start_date`, `submission_deadline`,
`description`, `origin_url`).

What an export does not say is guessed from a correspondence file the author can edit
(`matcher/data/correspondances-aides-territoires.yaml`, or `--correspondances`): themes from
categories or, in the CSV, from words of the name and description; the level and perimeter from
the porteur's name. Every guess is written in the offer's `a_verifier` list, which `rules check`
reports until an author has read the source and removed it. Nothing else is invented: an aid that
is not engineering (a grant, a loan), or whose territory or themes cannot be told, is left out
and said so; an aid already in the catalogue (same page) is not imported twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .errors import ExportError, Location
from .files import display_path
from .model import LEVELS, Catalogue
from .territory import TerritoryIndex
from .text import fold, word_key
from .yamlsource import dump, load

DEFAULT_CORRESPONDENCES = Path(__file__).parent / "data" / "correspondances-aides-territoires.yaml"
SITE = "https://aides-territoires.beta.gouv.fr"
CSV_COLUMNS = ("Nom", "Lien", "Financeurs", "Bénéficiaire", "Types d'aides", "AAP/AMI", "Récurrence", "Descriptif",
               "Date Clôture")
_DESCRIPTION_LENGTH = 400


# --------------------------------------------------------------------------- the correspondences


@dataclass(frozen=True)
class Pattern:
    """A motif looked for, as a whole word or phrase, in a folded text."""

    motif: str
    niveau: str | None = None
    perimetre: tuple[str, ...] = ()
    plural: bool = False  # a word of a text: « cyclable » is found in « cyclables »

    def found_in(self, folded: str) -> bool:
        ending = "[sx]?" if self.plural else ""
        return re.search(rf"(?<![a-z0-9]){re.escape(fold(self.motif))}{ending}(?![a-z0-9])", folded) is not None


@dataclass(frozen=True)
class Correspondences:
    path: str
    types: dict[str, tuple[str, ...]]  # word_key of an aid type -> besoins
    categories: dict[str, tuple[str, ...]]  # word_key of a category or theme -> thématiques
    keywords: tuple[tuple[Pattern, tuple[str, ...]], ...]  # words of the name / description -> thématiques
    beneficiaries: dict[str, str]  # word_key of a beneficiary -> porteur type
    levels: tuple[Pattern, ...]
    structures: tuple[Pattern, ...]


def load_correspondences(path: Path | None, catalogue: Catalogue, index: TerritoryIndex) -> Correspondences:
    """Read and check a correspondence file against the catalogue's vocabularies; errors are located."""
    path = Path(path or DEFAULT_CORRESPONDENCES)
    doc = load(path, display_path(path))
    data = doc.data if isinstance(doc.data, dict) else {}
    known = {"types", "categories", "mots_cles", "beneficiaires", "niveaux", "structures"}
    for key in data:
        if key not in known:
            raise ExportError(f"section inconnue « {key} » (sections : {', '.join(sorted(known))})",
                               doc.where_key((key,)), "correspondances")
    themes = catalogue.vocabularies["thematiques"]
    needs = catalogue.vocabularies["besoins"]

    def words(section: str, vocabulary) -> dict[str, tuple[str, ...]]:
        table = data.get(section) or {}
        if not isinstance(table, dict):
            raise ExportError(f"« {section} » : dictionnaire attendu", doc.where((section,)), "correspondances")
        out = {}
        for written, targets in table.items():
            targets = targets if isinstance(targets, list) else [targets]
            for i, word in enumerate(targets):
                if not isinstance(word, str) or word not in vocabulary.terms:
                    where = doc.where((section, written, i) if isinstance(table[written], list) else (section, written))
                    raise ExportError(f"{section} : « {word} » n'est pas un mot du vocabulaire "
                                       f"{vocabulary.kind}", where, "correspondances")
            out[word_key(str(written))] = tuple(targets)
        return out

    def patterns(section: str) -> tuple[Pattern, ...]:
        items = data.get(section) or []
        out = []
        for i, item in enumerate(items):
            where = doc.where((section, i))
            if not isinstance(item, dict) or not isinstance(item.get("motif"), str):
                raise ExportError(f"{section}[{i}] : {{motif: …, niveau: …}} attendu", where, "correspondances")
            niveau = item.get("niveau")
            if niveau is not None and niveau not in LEVELS:
                raise ExportError(f"{section}[{i}] : niveau inconnu « {niveau} » ({', '.join(LEVELS)})", where,
                                   "correspondances")
            refs = tuple(item.get("perimetre") or ())
            for j, ref in enumerate(refs):
                kind, _, code = str(ref).partition(":")
                if ref != "national" and not index.exists(kind, code):
                    raise ExportError(f"{section}[{i}] : territoire inconnu « {ref} »",
                                       doc.where((section, i, "perimetre", j)), "correspondances")
            out.append(Pattern(item["motif"], niveau, refs))
        return tuple(out)

    keywords = tuple((Pattern(str(k), plural=True), v) for k, v in (data.get("mots_cles") or {}).items())
    keyword_words = words("mots_cles", themes)
    beneficiaries = {word_key(str(k)): str(v) for k, v in (data.get("beneficiaires") or {}).items()}
    return Correspondences(
        path=display_path(path),
        types=words("types", needs),
        categories=words("categories", themes),
        keywords=tuple((p, keyword_words[word_key(p.motif)]) for p, _ in keywords),
        beneficiaries=beneficiaries,
        levels=patterns("niveaux"),
        structures=patterns("structures"),
    )


# --------------------------------------------------------------------------- reading an export


@dataclass
class Aid:
    """One aid as both exports give it, with where it was read (for messages)."""

    where: str
    name: str
    url: str
    financers: list[str]
    perimeter: str | None  # the API's perimeter name; the CSV has none
    categories: list[str]  # « thème|catégorie »
    types: list[str]
    audiences: list[str]
    selective: bool
    recurrence: str
    description: str
    start: dt.date | None
    deadline: dt.date | None


def read_export(path: Path) -> tuple[list[Aid], str]:
    """The aids of an export, and its kind (« csv » or « json »)."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path} : fichier introuvable", None, "fichier")
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig") if _utf8(raw) else raw.decode("cp1252")
    if path.suffix.lower() == ".json" or text.lstrip()[:1] in ("{", "["):
        return _read_json(text, str(path)), "json"
    return _read_csv(text, str(path)), "csv"


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _split(cell: str) -> list[str]:
    return [part.strip() for part in (cell or "").split(";") if part.strip()]


def _date(value: Any, where: str) -> dt.date | None:
    if value in (None, ""):
        return None
    text = str(value).strip()[:10]
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ExportError(f"{where} : date illisible « {value} » (AAAA-MM-JJ ou JJ/MM/AAAA)", None, "export")


def _read_csv(text: str, path: str) -> list[Aid]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    missing = [c for c in ("Nom", "Lien", "Financeurs", "Types d'aides") if c not in header]
    if missing:
        raise ExportError(f"colonnes absentes : {', '.join(missing)} (un export CSV d'Aides-territoires a les colonnes "
                           f"{', '.join(CSV_COLUMNS)})", Location(path, 1, 1), "export")
    aids = []
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        row = dict(zip(header, cells + [""] * (len(header) - len(cells))))
        where = f"{path}, ligne {line}"
        aids.append(Aid(
            where=where, name=row["Nom"].strip(), url=row["Lien"].strip(), financers=_split(row["Financeurs"]),
            perimeter=None, categories=[], types=_split(row["Types d'aides"]),
            audiences=_split(row.get("Bénéficiaire", "")), selective=bool(row.get("AAP/AMI", "").strip()),
            recurrence=row.get("Récurrence", "").strip(), description=row.get("Descriptif", "").strip(),
            start=None, deadline=_date(row.get("Date Clôture"), where + ", colonne Date Clôture"),
        ))
    return aids


def _names(items: Any) -> list[str]:
    """A list of names, whether the API gives strings or objects with a `name`."""
    if items in (None, ""):
        return []
    if isinstance(items, (str, dict)):
        items = [items]
    return [str(i.get("name") if isinstance(i, dict) else i).strip() for i in items if i]


def _read_json(text: str, path: str) -> list[Aid]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExportError(f"JSON invalide : {exc.msg}", Location(path, exc.lineno, exc.colno), "export") from None
    results = data.get("results") if isinstance(data, dict) else data
    if not isinstance(results, list):
        raise ExportError("un export de l'API est une page {\"results\": [...]} ou une liste d'aides",
                           Location(path, 1, 1), "export")
    aids = []
    for i, item in enumerate(results):
        where = f"{path}, aide n° {i + 1}"
        if not isinstance(item, dict) or not item.get("name"):
            raise ExportError(f"{where} : objet avec « name » attendu", None, "export")
        url = str(item.get("url") or "")
        perimeter = item.get("perimeter")
        aids.append(Aid(
            where=where, name=str(item["name"]).strip(), url=SITE + url if url.startswith("/") else url,
            financers=_names(item.get("financers")),
            perimeter=(perimeter.get("name") if isinstance(perimeter, dict) else perimeter) or None,
            categories=_names(item.get("categories")), types=_names(item.get("aid_types")),
            audiences=_names(item.get("targeted_audiences")), selective=bool(item.get("is_call_for_project")),
            recurrence=str(_names(item.get("recurrence"))[0] if item.get("recurrence") else ""),
            description=_plain(str(item.get("description") or "")),
            start=_date(item.get("start_date"), where + ", start_date"),
            deadline=_date(item.get("submission_deadline"), where + ", submission_deadline"),
        ))
    return aids


def _plain(html: str) -> str:
    """The API's descriptions are HTML: their text."""
    import html as html_module

    return " ".join(html_module.unescape(re.sub(r"<[^>]+>", " ", html)).split())


# --------------------------------------------------------------------------- making offers


@dataclass
class Draft:
    offers: dict[str, list[dict]] = field(default_factory=dict)  # file stem -> offers
    skipped: list[str] = field(default_factory=list)  # « where : why »

    @property
    def count(self) -> int:
        return sum(len(o) for o in self.offers.values())


_LEVEL_OF_SCALE = {"commune": "communal", "epci": "intercommunal", "departement": "departemental",
                   "region": "regional", "national": "operateur"}
_SMALL_WORDS = {"de", "du", "des", "la", "le", "les", "l", "d", "et", "en", "au", "aux"}


def _epci_key(name: str) -> str:
    """An EPCI's name as porteurs write it: « Communauté de communes X » and « CC X » meet."""
    folded = fold(name)
    for long, short in (("communaute de communes", "cc"), ("communaute d'agglomeration", "ca"),
                        ("communaute urbaine", "cu")):
        folded = folded.replace(long, short)
    return word_key(folded)


def _slug(text: str, limit: int = 48) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")
    return slug[:limit].rstrip("-") or "offre"


def _first_sentences(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= _DESCRIPTION_LENGTH:
        return text
    cut = text[:_DESCRIPTION_LENGTH]
    end = cut.rfind(". ")
    return cut[: end + 1] if end > 80 else cut.rsplit(" ", 1)[0] + " …"


class DraftMaker:
    """Turns aids into draft offers with one set of correspondences, a territory index and a catalogue."""

    def __init__(self, correspondences: Correspondences, index: TerritoryIndex, catalogue: Catalogue):
        self.c = correspondences
        self.index = index
        self.sources = {o.source.rstrip("/"): o.id for o in catalogue.offres}
        self.ids = {o.id for o in catalogue.offres}
        self.departements = sorted(((fold(d.nom), d.code) for d in index.departements.values()),
                                   key=lambda item: -len(item[0]))
        self.regions = sorted(((fold(r.nom), r.code) for r in index.regions.values()), key=lambda item: -len(item[0]))
        self.epcis = {_epci_key(e.nom): e.siren for e in index.epcis.values()}

    # ---- the porteur: level and perimeter

    def _named_territory(self, folded: str) -> tuple[str | None, str]:
        """A département or région named in a porteur's name or a perimeter name, longest name first."""
        for names, kind in ((self.departements, "departement"), (self.regions, "region")):
            for name, code in names:
                if re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", folded.replace("-", " ")
                             .replace("'", " ")) or re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", folded):
                    return f"{kind}:{code}", name
        numbered = re.search(r"\b[a-z]{2,}[ -]?(\d{2}|2a|2b|97\d)\b", folded)
        if numbered and self.index.exists("departement", numbered.group(1).upper()):
            return f"departement:{numbered.group(1).upper()}", numbered.group(0)
        return None, ""

    def _perimeter(self, aid: Aid, porteur: str, notes: list[str]) -> tuple[list[str], str | None]:
        folded = fold(porteur)
        for pattern in self.c.structures:
            if pattern.found_in(folded):
                notes.append(f"périmètre et niveau pris des correspondances pour « {pattern.motif} » "
                             f"({self.c.path})")
                return list(pattern.perimetre), pattern.niveau
        if aid.perimeter:
            wanted = fold(aid.perimeter)
            if wanted in ("france", "france metropolitaine", "europe", "national"):
                return ["national"], None
            for names, kind in ((self.departements, "departement"), (self.regions, "region")):
                for name, code in names:
                    if name == wanted:
                        return [f"{kind}:{code}"], None
            if _epci_key(aid.perimeter) in self.epcis:
                return [f"epci:{self.epcis[_epci_key(aid.perimeter)]}"], None
        if _epci_key(porteur) in self.epcis:
            siren = self.epcis[_epci_key(porteur)]
            notes.append(f"périmètre epci:{siren} : le porteur est l'EPCI de ce nom")
            return [f"epci:{siren}"], "intercommunal"
        ref, name = self._named_territory(folded)
        if ref:
            notes.append(f"périmètre {ref} déduit du nom du porteur (« {name} »)")
            return [ref], None
        return [], None

    def _level(self, porteur: str, perimeter: list[str], given: str | None, notes: list[str]) -> str | None:
        if given:
            return given
        folded = fold(porteur)
        for pattern in self.c.levels:
            if pattern.found_in(folded):
                notes.append(f"niveau {pattern.niveau} déduit du nom du porteur (« {pattern.motif} »)")
                return pattern.niveau
        kinds = {ref.partition(":")[0] for ref in perimeter}
        if len(kinds) == 1 and (kind := kinds.pop()) in _LEVEL_OF_SCALE:
            notes.append(f"niveau {_LEVEL_OF_SCALE[kind]} déduit de l'étendue du périmètre")
            return _LEVEL_OF_SCALE[kind]
        return None

    # ---- what it covers

    def _themes(self, aid: Aid, notes: list[str]) -> list[str]:
        found: dict[str, None] = {}
        for category in aid.categories:
            theme, _, sub = category.partition("|")
            words = self.c.categories.get(word_key(sub)) if sub else None
            words = words or self.c.categories.get(word_key(theme))
            for word in words or ():
                found.setdefault(word, None)
        if found:
            return list(found)
        text = fold(f"{aid.name} {aid.description}")
        matched = []
        for pattern, words in self.c.keywords:
            if pattern.found_in(text):
                matched.append(pattern.motif)
                for word in words:
                    found.setdefault(word, None)
        if found:
            shown = ", ".join(f"« {m} »" for m in matched[:6])
            notes.append(f"thématiques devinées d'après les mots {shown} du nom et du descriptif")
        return list(found)

    def _needs(self, aid: Aid, notes: list[str]) -> list[str]:
        found: dict[str, None] = {}
        other = []
        for kind in aid.types:
            words = self.c.types.get(word_key(kind))
            if words:
                for word in words:
                    found.setdefault(word, None)
            else:
                other.append(kind)
        if found and other:
            notes.append(f"l'aide comprend aussi {', '.join(other)} : seule l'ingénierie est une offre du catalogue")
        return list(found)

    def _porteurs(self, aid: Aid) -> list[str]:
        kinds = [self.c.beneficiaries[word_key(a)] for a in aid.audiences if word_key(a) in self.c.beneficiaries]
        return list(dict.fromkeys(kinds))

    # ---- one aid

    def offer(self, aid: Aid) -> tuple[str, dict] | str:
        """(file, offer) for an aid that is engineering and can be placed; else why it is left out."""
        if not aid.url.startswith(("http://", "https://")):
            return "pas de page source (Lien / url) : rien ne décrit l'offre"
        known = self.sources.get(aid.url.rstrip("/"))
        if known:
            return f"déjà au catalogue (offre « {known} »)"
        notes: list[str] = []
        besoins = self._needs(aid, notes)
        if not besoins:
            return f"pas une offre d'ingénierie ({', '.join(aid.types) or 'type non dit'})"
        porteur = " ; ".join(aid.financers)
        if not porteur:
            return "porteur non dit (Financeurs)"
        perimeter, level = self._perimeter(aid, porteur, notes)
        if not perimeter:
            return f"territoire du porteur « {porteur} » introuvable : ajoutez-le aux correspondances (structures)"
        level = self._level(porteur, perimeter, level, notes)
        if level is None:
            return f"niveau du porteur « {porteur} » inconnu : ajoutez-le aux correspondances (niveaux)"
        themes = self._themes(aid, notes)
        if not themes:
            return "aucune thématique reconnue : ajoutez une catégorie ou un mot aux correspondances"
        offer: dict[str, Any] = {
            "id": self._id(aid, porteur, perimeter),
            "nom": aid.name,
            "structure": porteur,
            "niveau": level,
            "perimetre": perimeter,
            "thematiques": themes,
            "besoins": besoins,
        }
        porteurs = self._porteurs(aid)
        if porteurs and set(porteurs) != {"commune", "epci", "departement", "region"}:
            offer["conditions"] = {"porteur": porteurs}
        offer["cout"] = "gratuit"
        notes.append("coût non dit par l'export : gratuit par défaut")
        validite = {}
        if aid.start:
            validite["debut"] = aid.start
        if aid.deadline:
            validite["fin"] = aid.deadline
        if validite:
            offer["validite"] = validite
        if aid.selective:
            notes.append("appel à projets ou à manifestation d'intérêt : une offre sélective, pas une offre ouverte en "
                         "permanence — donnez la fenêtre de l'appel (validite) ou la condition de sélection")
        if aid.recurrence and fold(aid.recurrence) not in ("permanente", "ongoing"):
            notes.append(f"récurrence « {aid.recurrence} » : vérifiez que l'offre est encore ouverte")
        if aid.description:
            offer["description"] = _first_sentences(aid.description)
        offer["source"] = aid.url
        offer["a_verifier"] = notes
        return self._file(perimeter, level), offer

    def _id(self, aid: Aid, porteur: str, perimeter: list[str]) -> str:
        """The porteur's acronym (« (EPF) », else its initials and its département's code), then the aid's name."""
        short = re.search(r"\(([A-Za-z0-9][A-Za-z0-9 &.-]{1,15})\)", porteur)
        if short:
            prefix = short.group(1)
        else:
            kind, _, code = perimeter[0].partition(":")
            named = set(re.findall(r"[a-z0-9]+", fold(self.index.departements[code].nom))) if kind == "departement" else set()
            words = [w for w in re.findall(r"[a-z0-9]+", fold(porteur.split(";")[0])) if w not in _SMALL_WORDS | named]
            prefix = "".join(w[0] for w in words[:3]) + (code.lower() if kind == "departement" else "")
        stem = _slug(f"{prefix} {aid.name}")
        candidate, n = stem, 2
        while candidate in self.ids:
            candidate, n = f"{stem}-{n}", n + 1
        self.ids.add(candidate)
        return candidate

    def _file(self, perimeter: list[str], level: str) -> str:
        """One file per département; an offer over a région or the country goes to its own file."""
        first = perimeter[0]
        kind, _, code = first.partition(":")
        if kind == "departement":
            return f"{code}-{_slug(self.index.departements[code].nom)}"
        if kind == "epci":
            dep = self.index.epcis[code].departement
            return f"{dep}-{_slug(self.index.departements[dep].nom)}"
        if kind == "region":
            return f"region-{code}-{_slug(self.index.regions[code].nom)}"
        return "national"

    def draft(self, aids: Iterable[Aid]) -> Draft:
        out = Draft()
        for aid in aids:
            made = self.offer(aid)
            if isinstance(made, str):
                out.skipped.append(f"{aid.where} (« {aid.name[:60]} ») : {made}")
                continue
            stem, offer = made
            out.offers.setdefault(stem, []).append(offer)
        return out


HEADER = """\
# Brouillon importé d'Aides-territoires ({source}, {date}) par « aiguillage catalogue import ».
# Chaque offre porte « a_verifier » : ce que l'import a deviné. Relisez sa page source, corrigez
# l'offre, retirez la note et datez votre relecture (verifie_le) ; « aiguillage rules check »
# signale chaque offre encore à vérifier.
"""


def write_draft(draft: Draft, folder: Path, source: str, day: dt.date) -> list[Path]:
    """Write one YAML file per département (région, national) under `folder`; the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, offers in sorted(draft.offers.items()):
        path = folder / f"{stem}.yaml"
        text = HEADER.format(source=source, date=day.isoformat()) + "\n" + dump({"offres": offers})
        tmp = path.with_suffix(".yaml.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    return written


def import_export(export: Path, folder: Path, catalogue: Catalogue, index: TerritoryIndex,
                  correspondences: Path | None, day: dt.date) -> tuple[Draft, list[Path], str]:
    """Read an export, make its draft offers and write them; what was made, the files, the export's kind."""
    aids, kind = read_export(export)
    table = load_correspondences(correspondences, catalogue, index)
    draft = DraftMaker(table, index, catalogue).draft(aids)
    return draft, write_draft(draft, folder, Path(export).name, day), kind


__all__ = ["import_export", "read_export", "load_correspondences", "DraftMaker", "Draft", "Aid",
           "DEFAULT_CORRESPONDENCES"]
