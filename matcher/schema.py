"""The shape of the YAML formats, declared once: the loaders check against it, and
`aiguillage rules schema` exports it as a JSON Schema for editors.

Only the shape lives here (keys, types, required, closed lists); what needs the rest of the
catalogue (a vocabulary word, a territory, an offer id) is checked by the loaders.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from .conditions import did_you_mean, suggest
from .errors import AiguillageError, IssueCollector, Location, SchemaError
from .files import display_path
from .model import AVIS_DT, RESEAUX, COMPLEXITES, COUTS, GRAVITES, INDICATEURS, LEVELS, PORTEUR_TYPES, SAISINES, STATUTS
from .yamlsource import Document, KeyPath, load

ID_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
URL_PATTERN = re.compile(r"^https?://[^\s/$.?#][^\s]*$")


@dataclass(frozen=True)
class Key:
    name: str
    type: str  # id | text | int | number | bool | date | url | choice | list | mapping | condition | refs | words
    required: bool = False
    description: str = ""
    choices: tuple[str, ...] = ()
    record: str | None = None  # for mapping / list of mappings: the record they hold


RECORDS: dict[str, tuple[Key, ...]] = {
    "offre": (
        Key("id", "id", True, "identifiant unique dans tout le catalogue : minuscules, chiffres et tirets"),
        Key("nom", "text", True, "nom de l'offre"),
        Key("structure", "text", True, "structure qui porte l'offre"),
        Key("niveau", "choice", True, "niveau de proximité", LEVELS),
        Key("perimetre", "refs", True, "territoires servis : commune:INSEE, epci:SIREN, departement:NN, "
            "region:NN, national, perimetre:ID"),
        Key("thematiques", "words", True, "thématiques couvertes (vocabulaire contrôlé)"),
        Key("besoins", "words", True, "besoins couverts (vocabulaire contrôlé)"),
        Key("conditions", "condition", False, "conditions sur la demande (langage de conditions)"),
        Key("capacite", "int", False, "demandes qu'elle peut prendre par an"),
        Key("cout", "choice", True, "coût pour la collectivité", COUTS),
        Key("validite", "mapping", False, "période de validité", record="validite"),
        Key("contact", "text", False, "contact public"),
        Key("description", "text", False, "ce que fait l'offre, en une ou deux phrases"),
        Key("source", "url", True, "page publique d'où viennent les faits"),
        Key("verifie_le", "date", False, "dernier jour où la source a été relue (AAAA-MM-JJ) ; absent : jamais "
            "relue depuis la saisie de l'offre"),
        Key("a_verifier", "list", False, "ce qu'un auteur doit encore vérifier dans la source (laissé par "
            "« aiguillage catalogue import ») ; « rules check » le signale tant qu'il est là"),
        Key("repli", "bool", False, "offre de repli de l'agence (une seule dans le catalogue)"),
    ),
    # A network known to exist in a département whose offer no public page describes: listed, not
    # offered, so that the gap is visible instead of invented away.
    "lacune": (
        Key("departement", "text", True, "code du département (« 23 », « 2A », « 974 »)"),
        Key("reseau", "choice", True, "réseau d'ingénierie concerné", RESEAUX),
        Key("structure", "text", False, "structure connue, si elle l'est"),
        Key("raison", "text", True, "ce qui manque pour en faire une offre"),
        Key("source", "url", False, "page qui atteste l'existence de la structure"),
    ),
    "validite": (
        Key("debut", "date", False, "premier jour de validité (AAAA-MM-JJ)"),
        Key("fin", "date", False, "dernier jour de validité (AAAA-MM-JJ)"),
    ),
    "perimetre": (
        Key("id", "id", True, "identifiant du périmètre, référencé comme perimetre:ID"),
        Key("nom", "text", True, "nom du périmètre"),
        Key("membres", "refs", True, "territoires qui le composent"),
        Key("source", "url", False, "page publique qui en donne la composition"),
    ),
    "terme": (
        Key("id", "id", True, "identifiant du mot"),
        Key("libelle", "text", True, "libellé en français"),
        Key("parent", "id", False, "mot plus général : une offre qui le déclare sert aussi celui-ci"),
    ),
    # A programme is a vocabulary word and a fact about the porteur: who can belong to it, declared once.
    "programme": (
        Key("id", "id", True, "identifiant du programme"),
        Key("libelle", "text", True, "libellé en français"),
        Key("parent", "id", False, "programme plus général"),
        Key("population", "mapping", False, "population du porteur pour en être (bornes incluses)", record="bornes"),
        Key("porteurs", "list", False, "natures de porteur qui peuvent en être", PORTEUR_TYPES),
        Key("membres", "refs", False, "liste publique des membres : l'adhésion est alors vérifiée"),
        Key("source", "url", False, "page publique qui dit qui peut en être"),
    ),
    "bornes": (
        Key("min", "int", False, "au moins"),
        Key("max", "int", False, "au plus"),
    ),
    "regle": (
        Key("id", "id", True, "identifiant stable de la règle"),
        Key("description", "text", True, "ce que dit la règle, en français"),
        Key("reference", "text", False, "texte d'où vient la règle"),
        Key("priorite", "int", False, "les plus hautes d'abord (0 par défaut)"),
        Key("quand", "condition", True, "condition sur la demande"),
        Key("alors", "mapping", True, "ce que fait la règle", record="alors"),
    ),
    "alors": (
        Key("escalader", "choice", False, "la recherche commence à ce niveau", LEVELS),
        Key("exclure", "mapping", False, "offres ou niveaux écartés", record="exclure"),
        Key("avis_dt", "choice", False, "l'avis du délégué territorial est requis", ("requis",)),
        Key("alerte", "text", False, "alerte jointe à la décision"),
        Key("motif", "text", False, "motif donné à la décision"),
    ),
    "exclure": (
        Key("offres", "list", False, "identifiants d'offres écartées"),
        Key("niveaux", "list", False, "niveaux écartés", LEVELS),
    ),
    # A test case of the rules (`aiguillage rules test`): a demande and what its decision must say.
    "test": (
        Key("id", "id", True, "identifiant du cas de test"),
        Key("description", "text", False, "ce que le cas vérifie, et pourquoi c'est la bonne décision"),
        Key("date", "date", False, "date de la décision (par défaut : --date ou aujourd'hui)"),
        Key("demande", "mapping", True, "la demande, avec les champs d'un fichier de demande", record="demande"),
        Key("attendu", "mapping", True, "ce que la décision doit dire", record="attendu"),
    ),
    "demande": (
        Key("id", "text", False, "identifiant de la demande"),
        Key("intitule", "text", False, "intitulé du projet"),
        Key("porteur", "text", False, "code INSEE entre guillemets, commune:CODE, epci:SIREN, departement:NN…"),
        Key("commune", "text", False, "code INSEE de la commune (si « porteur » est absent)"),
        Key("thematiques", "words", True, "thématiques (vocabulaire contrôlé)"),
        Key("besoins", "words", True, "besoins (vocabulaire contrôlé)"),
        Key("programmes", "words", False, "programmes de l'ANCT (vocabulaire contrôlé)"),
        Key("complexite", "choice", False, "complexité du projet", COMPLEXITES),
        Key("saisine", "choice", False, "qui saisit", SAISINES),
        Key("type_porteur", "choice", False, "nature du porteur, si elle diffère du territoire", PORTEUR_TYPES),
        Key("population", "number", False, "population (par défaut : le chiffre officiel)"),
        Key("montant", "number", False, "montant du projet en euros"),
        Key("date_depot", "date", False, "date de dépôt"),
        Key("avis_dt", "choice", False, "avis du délégué territorial", AVIS_DT),
        Key("date_avis_dt", "date", False, "date de l'avis du délégué territorial"),
        Key("attributs", "mapping", False, "autres caractéristiques lues par les conditions"),
    ),
    "attendu": (
        Key("niveau", "choice", False, "niveau retenu", LEVELS),
        Key("offre", "id", False, "offre retenue"),
        Key("statuts", "mapping", False, "statut d'examen attendu, niveau par niveau", record="statuts"),
        Key("avis_dt_requis", "bool", False, "l'avis du délégué territorial est requis"),
        Key("alertes", "list", False, "textes que les alertes de la décision doivent contenir"),
        Key("regles", "list", False, "règles qui doivent s'appliquer"),
        Key("regles_absentes", "list", False, "règles qui ne doivent pas s'appliquer"),
        Key("motif", "text", False, "texte que le motif doit contenir"),
    ),
    "statuts": tuple(Key(level, "choice", False, f"statut du niveau {level}", STATUTS) for level in LEVELS),
    # Veille et alerte (`aiguillage alertes`): a rule on the indicators computed from a decisions file.
    "alerte": (
        Key("id", "id", True, "identifiant stable de la règle d'alerte"),
        Key("description", "text", True, "ce que surveille la règle, en français"),
        Key("reference", "text", False, "texte d'où vient la règle"),
        Key("indicateur", "choice", True, "ce que la règle lit : un département, une région × thématique, une offre "
            "ou une demande (aiguillage alertes --indicateurs en donne les champs)", INDICATEURS),
        Key("quand", "condition", True, "condition sur les champs de l'indicateur (langage de conditions)"),
        Key("alerte", "text", True, "texte de l'alerte ; {champ} y est remplacé par la valeur du champ"),
        Key("gravite", "choice", False, "gravité de l'alerte (attention par défaut)", GRAVITES),
    ),
    # A test case of the alert rules: an indicator's values and the alerts they must (not) raise.
    "test_alerte": (
        Key("id", "id", True, "identifiant du cas de test"),
        Key("description", "text", False, "ce que le cas vérifie"),
        Key("indicateur", "choice", True, "le type d'indicateur dont les champs sont donnés", INDICATEURS),
        Key("faits", "mapping", True, "les valeurs des champs de l'indicateur ({champ: valeur})"),
        Key("attendu", "mapping", True, "les alertes attendues", record="attendu_alerte"),
    ),
    "attendu_alerte": (
        Key("alertes", "list", False, "règles d'alerte qui doivent se déclencher"),
        Key("absentes", "list", False, "règles d'alerte qui ne doivent pas se déclencher"),
        Key("texte", "text", False, "texte que l'alerte doit contenir"),
    ),
}

TOP_LEVEL: dict[str, dict[str, str]] = {
    "catalogue": {"offres": "offre", "perimetres": "perimetre", "thematiques": "terme", "besoins": "terme",
                  "programmes": "programme", "lacunes": "lacune"},
    "regles": {"regles": "regle", "tests": "test", "alertes": "alerte", "tests_alertes": "test_alerte"},
}

_TYPE_NAMES = {
    "id": "un identifiant (minuscules, chiffres, tirets)",
    "text": "un texte",
    "int": "un nombre entier",
    "number": "un nombre",
    "bool": "true ou false",
    "date": "une date AAAA-MM-JJ",
    "url": "une adresse https://…",
    "choice": "une valeur de la liste",
    "list": "une liste",
    "refs": "une liste de territoires",
    "words": "une liste de mots du vocabulaire",
    "mapping": "un dictionnaire",
    "condition": "une condition (dictionnaire)",
}


def check_record(
    doc: Document, keypath: KeyPath, data: Any, record: str, issues: IssueCollector, label: str
) -> bool:
    """Check a mapping's keys and the types of their values; False if it cannot be used."""
    keys = RECORDS[record]
    if not isinstance(data, dict):
        issues.error("type", f"{label} : dictionnaire attendu", doc.where(keypath))
        return False
    known = {k.name: k for k in keys}
    ok = True
    missing = [k.name for k in keys if k.required and k.name not in data]
    misspelt: set[str] = set()  # a missing key written with a typo is one problem: the typo
    for name in data:
        if name not in known:
            close = suggest(str(name), known)
            if close and close[0] in missing:
                misspelt.add(close[0])
            issues.error(
                "cle-inconnue",
                f"{label} : clé inconnue « {name} »{did_you_mean(str(name), known)}",
                doc.where_key(keypath + (name,)),
            )
            ok = False
    for key in keys:
        if key.name not in data:
            if key.required and key.name not in misspelt:
                issues.error("cle-manquante", f"{label} : clé « {key.name} » obligatoire manquante", doc.where(keypath))
                ok = False
            continue
        ok = _check_value(doc, keypath + (key.name,), data[key.name], key, issues, label) and ok
    return ok


def _check_value(doc: Document, keypath: KeyPath, value: Any, key: Key, issues: IssueCollector, label: str) -> bool:
    where = doc.where(keypath)
    t = key.type

    def wrong(extra: str = "") -> bool:
        shown = "vide" if value in (None, "", [], {}) else f"« {value} »" if not isinstance(value, (dict, list)) else (
            "une liste" if isinstance(value, list) else "un dictionnaire")
        issues.error("type", f"{label} : « {key.name} » doit être {_TYPE_NAMES[t]}, pas {shown}{extra}", where)
        return False

    if t in ("text",) and not (isinstance(value, str) and value.strip()):
        return wrong(" : écrivez-le entre guillemets" if isinstance(value, (int, float)) else "")
    if t == "id":
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            return wrong()
    if t == "url" and not (isinstance(value, str) and URL_PATTERN.match(value)):
        return wrong()
    if t == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        return wrong()
    if t == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return wrong()
    if t == "number" and isinstance(value, float) and not math.isfinite(value):
        return wrong(" : un nombre fini est attendu")
    if t == "bool" and not isinstance(value, bool):
        return wrong()
    if t == "date" and not (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return wrong(" : le jour seul, sans heure" if isinstance(value, dt.datetime) else "")
    if t == "choice":
        if not isinstance(value, str) or value not in key.choices:
            issues.error(
                "valeur-inconnue",
                f"{label} : « {key.name} » vaut « {value} »{did_you_mean(str(value), key.choices)} "
                f"(valeurs possibles : {', '.join(key.choices)})",
                where,
            )
            return False
    if t in ("list", "refs", "words"):
        if not isinstance(value, list) or not value:
            return wrong()
        for i, item in enumerate(value):
            if not isinstance(item, str):
                issues.error("type", f"{label} : « {key.name} » : texte attendu, pas « {item} »", doc.where(keypath + (i,)))
                return False
            if key.choices and item not in key.choices:
                issues.error(
                    "valeur-inconnue",
                    f"{label} : « {item} » inconnu{did_you_mean(item, key.choices)} "
                    f"(valeurs possibles : {', '.join(key.choices)})",
                    doc.where(keypath + (i,)),
                )
                return False
    if t in ("mapping", "condition") and not isinstance(value, dict):
        return wrong()
    if t == "mapping" and key.record:
        return check_record(doc, keypath, value, key.record, issues, f"{label}, {key.name}")
    return True


def check_top_level(doc: Document, kind: str, issues: IssueCollector) -> dict[str, list]:
    """The top-level sections of a catalogue or rules file, each a list (empty file: nothing)."""
    sections = TOP_LEVEL[kind]
    if doc.data is None:
        return {}
    if not isinstance(doc.data, dict):
        issues.error(
            "type", f"le fichier doit commencer par l'une des clés : {', '.join(sections)}", doc.where(())
        )
        return {}
    found: dict[str, list] = {}
    for name, value in doc.data.items():
        if name not in sections:
            issues.error(
                "cle-inconnue",
                f"section inconnue « {name} »{did_you_mean(str(name), sections)} "
                f"(sections possibles : {', '.join(sections)})",
                doc.where_key((name,)),
            )
            continue
        if not isinstance(value, list):
            issues.error("type", f"« {name} » doit être une liste", doc.where((name,)))
            continue
        found[name] = value
    return found


def checked_entries(
    files: Iterable[Path], kind: str, section: str, record: str, noun: str, issues: IssueCollector,
    top_level_issues: IssueCollector | None = None,
) -> Iterator[tuple[Document, KeyPath, dict, str]]:
    """The entries of one section over files, each with its document, key path and label: the
    unreadable files, the entries of the wrong shape and the duplicate ids are reported, not given."""
    seen: dict[str, Location] = {}
    for path in files:
        try:
            doc = load(path, display_path(path), keep_going=True)
        except AiguillageError as exc:
            issues.add_error(exc)
            continue
        for problem in doc.problems:  # the file's other problems are still reported
            (issues if top_level_issues is None else top_level_issues).add_error(problem)
        sections = check_top_level(doc, kind, issues if top_level_issues is None else top_level_issues)
        for i, data in enumerate(sections.get(section, [])):
            kp = (section, i)
            label = f"{noun} « {data['id']} »" if isinstance(data, dict) and data.get("id") else f"{section}[{i}]"
            if not check_record(doc, kp, data, record, issues, label):
                continue
            where = doc.where(kp)
            if data["id"] in seen:
                issues.error("id-duplique", f"{label} : déjà défini en {seen[data['id']]}", where,
                             related=(seen[data["id"]],))
                continue
            seen[data["id"]] = where
            yield doc, kp, data, label


def json_schema(kind: str, vocabularies: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON Schema of a catalogue or rules file, for editors: draft-07, the version YAML language
    servers read; with a catalogue's `vocabularies`, its words are enums (with their labels), so that
    an editor completes `thematiques`, `besoins` and `programmes`."""

    def condition_schema() -> dict:
        return {"type": "object", "description": "condition : {champ: valeur}, {champ: [a, b]}, "
                "{champ: {min, max, pas, hors, contient, contient_un_de, existe}}, tous / un_de / aucun",
                "minProperties": 1}

    def key_schema(key: Key) -> dict:
        base: dict[str, Any]
        if key.type in ("id",):
            base = {"type": "string", "pattern": ID_PATTERN.pattern}
        elif key.type == "text":
            base = {"type": "string", "minLength": 1}
        elif key.type == "url":
            base = {"type": "string", "format": "uri", "pattern": "^https?://"}
        elif key.type == "int":
            base = {"type": "integer"}
        elif key.type == "number":
            base = {"type": "number"}
        elif key.type == "bool":
            base = {"type": "boolean"}
        elif key.type == "date":
            base = {"type": "string", "format": "date"}
        elif key.type == "choice":
            base = {"enum": list(key.choices)}
        elif key.type in ("list", "refs", "words"):
            items: dict[str, Any] = {"type": "string"}
            if key.choices:
                items = {"enum": list(key.choices)}
            elif key.type == "words" and vocabularies and key.name in vocabularies:
                terms = vocabularies[key.name].terms
                items = {"enum": list(terms), "enumDescriptions": [t.libelle for t in terms.values()]}
            if key.type == "refs":
                items["pattern"] = r"^(national|(commune|epci|departement|region|perimetre):[0-9A-Za-z-]+)$"
            base = {"type": "array", "items": items, "minItems": 1}
        elif key.type == "condition":
            base = condition_schema()
        elif not key.record:
            base = {"type": "object"}
        else:
            base = record_schema(key.record or "")
        base["description"] = key.description
        return base

    def record_schema(name: str) -> dict:
        keys = RECORDS[name]
        return {
            "type": "object",
            "properties": {k.name: key_schema(k) for k in keys},
            "required": [k.name for k in keys if k.required],
            "additionalProperties": False,
        }

    sections = {
        name: {"type": "array", "items": record_schema(record) if record in RECORDS else {"type": "object"}}
        for name, record in TOP_LEVEL[kind].items()
    }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Aiguillage — " + ("catalogue d'offres" if kind == "catalogue" else "règles"),
        "type": "object",
        "properties": sections,
        "additionalProperties": False,
    }


__all__ = ["RECORDS", "TOP_LEVEL", "check_record", "check_top_level", "json_schema", "SchemaError"]
