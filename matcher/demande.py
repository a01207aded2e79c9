"""Build a `Demande` from what a user gives: a YAML/JSON file, command-line options, a backlog row.

Each source says where a field came from (`file:line:col`, `--option`, or `ligne N, colonne X`),
so that every problem is reported where the user can fix it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any, Callable

from .conditions import FIELDS, attribute_value, did_you_mean, unreadable_attribute
from .errors import AiguillageError, DemandeError, Location
from .model import AVIS_DT, COMPLEXITES, PORTEUR_TYPES, SAISINES, Catalogue, Demande, parse_day
from .text import LIST_SEPARATOR, NumberError, read_amount, read_number, word_key

DEMANDE_KEYS = (
    "id", "intitule", "porteur", "commune", "thematiques", "besoins", "programmes", "complexite", "saisine",
    "type_porteur", "population", "montant", "date_depot", "avis_dt", "date_avis_dt", "attributs",
)

Where = Callable[[str], "Location | str"]


def error_at(where: Where, key: str, message: str, kind: type[AiguillageError] = DemandeError,
             code: str = "demande") -> AiguillageError:
    """An error placed where the field came from: `file:line:col`, an option, a backlog cell."""
    place = where(key)
    if isinstance(place, Location):
        return kind(message, place, code)
    return kind(f"{place} : {message}", None, code)


def _words(value: Any) -> list[str]:
    """The words of a list field: a list, or one text with its words separated by « | » (each item of a
    list too: `--thematique "eau|assainissement"` reads as a backlog cell does)."""
    if value is None:
        return []
    words = []
    for item in value if isinstance(value, (list, tuple)) else [value]:
        if isinstance(item, (dict, list, tuple)):
            raise DemandeError("un mot, ou une liste de mots, attendu")
        words += [w.strip() for w in str(item).split(LIST_SEPARATOR) if w.strip()]
    return words


def _separator_hint(word: str, vocabulary: Any) -> str:
    """« eau, assainissement » is two known words joined by another separator than « | » (a comma, a
    semicolon, a slash, a line break within a cell): say so."""
    parts = [p.strip() for p in re.split(r"[,;/\r\n]", word) if p.strip()]  # \n: Alt+Entrée in a cell
    if len(parts) < 2 or any(vocabulary.find(p) is None for p in parts):
        return ""
    return f" — plusieurs mots ? séparez-les par « {LIST_SEPARATOR} » : {LIST_SEPARATOR.join(parts)}"


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(key: str, value: Any) -> float | None:
    """A population or an amount: a number, or a text as offices write it (« 12 500 », « 250 000 € »,
    « 1,5 M€ ») — `text.read_amount` says what is read and what is refused."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise DemandeError(f"nombre attendu, pas « {value} »")
    if isinstance(value, (int, float)):
        number = value
        if not math.isfinite(number) or number < 0:
            raise DemandeError(f"nombre positif attendu, pas « {value} »")
    else:
        text = str(value).strip()
        if text.isascii() and text.isdigit() and len(text) <= 15:  # plain digits, the common cell: as they are
            return int(text)
        try:
            number = read_amount(str(value)) if key == "montant" else read_number(str(value))
        except NumberError as exc:
            raise DemandeError(str(exc)) from None
    return int(number) if float(number).is_integer() else float(number)


def _date(key: str, value: Any) -> dt.date | None:
    if _blank(value):
        return None
    try:
        return parse_day(value)
    except ValueError:
        raise DemandeError(f"date attendue (AAAA-MM-JJ ou JJ/MM/AAAA), pas « {value} »") from None


def _choice(key: str, value: Any, choices: tuple[str, ...]) -> str | None:
    if _blank(value):
        return None
    text = str(value).strip()
    chosen = next((c for c in choices if word_key(c) == word_key(text)), None)
    if chosen is None:
        raise DemandeError(f"valeur inconnue « {value} »{did_you_mean(text, choices)} ({', '.join(choices)})")
    return chosen


_CHOICES = {"complexite": COMPLEXITES, "saisine": SAISINES, "type_porteur": PORTEUR_TYPES, "avis_dt": AVIS_DT}


def check_field(key: str, value: Any, catalogue: Catalogue) -> Any:
    """One field of a demande, checked and typed (None when blank); raises DemandeError without a place."""
    if key in ("thematiques", "besoins", "programmes"):
        vocabulary = catalogue.vocabularies[key]
        words = _words(value)
        if not words and key != "programmes":
            raise DemandeError(f"au moins un mot attendu ({', '.join(list(vocabulary.terms)[:5])}…)")
        found = []
        for word in words:
            term = vocabulary.find(word)
            if term is None:
                hint = _separator_hint(word, vocabulary) or did_you_mean(word, vocabulary.terms)
                raise DemandeError(f"mot inconnu « {word} »{hint}")
            found.append(term)
        return tuple(dict.fromkeys(found))
    if key in _CHOICES:
        return _choice(key, value, _CHOICES[key])
    if key in ("population", "montant"):
        return _number(key, value)
    if key in ("date_depot", "date_avis_dt"):
        return _date(key, value)
    if key in ("id", "intitule"):
        return None if _blank(value) else str(value).strip()
    raise DemandeError(f"champ inconnu « {key} »{did_you_mean(str(key), DEMANDE_KEYS)}")


def build_demande(
    data: dict[str, Any],
    catalogue: Catalogue,
    porteur_ref: str,
    where: Where,
    default_id: str = "demande",
) -> Demande:
    """Check a demande's fields against the catalogue's vocabularies; `porteur_ref` is already resolved."""
    values: dict[str, Any] = {}
    for key in ("thematiques", "besoins", *data):
        if key in ("porteur", "commune", "attributs") or key in values:
            continue
        try:
            values[key] = check_field(key, data.get(key), catalogue)
        except DemandeError as exc:
            raise error_at(where, key, f"{key} : {exc.message}") from None
    attributs = data.get("attributs") or {}
    if not isinstance(attributs, dict):
        raise error_at(where, "attributs", "attributs : dictionnaire attendu ({nom: valeur})")
    read: dict[str, Any] = {}
    for name, value in attributs.items():
        name = str(name)
        if name in FIELDS or name in DEMANDE_KEYS:
            raise error_at(where, "attributs", f"attributs : « {name} » est un champ de la demande, pas un attribut")
        if unreadable_attribute(name):
            raise error_at(where, "attributs", f"attributs : « {name} » est un nom réservé, pas un attribut")
        try:
            read[name] = attribute_value(catalogue.attribute_types.get(name), value)
        except ValueError as exc:
            raise error_at(where, "attributs", f"attributs : « {name} » : {exc}") from None
    return Demande(
        id=str(values.get("id") or default_id),
        porteur=porteur_ref,
        thematiques=values["thematiques"],
        besoins=values["besoins"],
        intitule=values.get("intitule") or "",
        programmes=values.get("programmes") or (),
        complexite=values.get("complexite") or "simple",
        saisine=values.get("saisine") or "dt",
        type_porteur=values.get("type_porteur"),
        population=values.get("population"),
        montant=values.get("montant"),
        date_depot=values.get("date_depot"),
        avis_dt=values.get("avis_dt"),
        date_avis_dt=values.get("date_avis_dt"),
        # Each read as its kind (`conditions.attribute_value`): a list attribute as a tuple, as list fields are.
        attributs={name: value for name, value in read.items() if value is not None},
    )


def porteur_field(data: dict[str, Any]) -> tuple[str, Any]:
    """The porteur as given: `porteur`, or `commune` as the spreadsheets of some offices name it."""
    if data.get("porteur") not in (None, ""):
        return "porteur", data["porteur"]
    if data.get("commune") not in (None, ""):
        return "commune", data["commune"]
    return "porteur", None


def read_demande_file(path: Path) -> tuple[dict[str, Any], Where]:
    """A demande in YAML or JSON, with the position of each field for error messages."""
    from .yamlsource import parse, read_text

    name = str(path)
    if path.suffix.lower() == ".json":
        from .jsonsource import parse_json

        document = parse_json(read_text(path), name)
        if not isinstance(document.data, dict):
            raise DemandeError("une demande est un objet JSON {…}", Location(name, 1, 1), "demande")
        json_fields, written = _field_names(document.data, lambda key: document.key_positions[key])
        return json_fields, lambda key: document.key_positions.get(written.get(key, key), Location(name, 1, 1))
    text = read_text(path)
    doc = parse(text, name)
    if not isinstance(doc.data, dict):
        raise DemandeError("une demande est un dictionnaire de champs", doc.where(()), "demande")
    fields, written = _field_names(doc.data, lambda key: doc.where_key((key,)))
    for key in CODE_KEYS:
        value = fields.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            fields[key] = _as_written(text, doc.where((written[key],)))
    return fields, lambda key: doc.where_key((written[key],)) if key in fields else doc.where(())


_FIELD_BY_WORD = {word_key(name): name for name in DEMANDE_KEYS}


def _field_names(data: dict[str, Any], place: Callable[[str], Location]) -> tuple[dict[str, Any], dict[str, str]]:
    """The demande's fields under their names, read as a backlog's headers are (« Porteur »,
    « Thématiques », « date dépôt »), and each field's key as written; a field given twice is refused."""
    fields: dict[str, Any] = {}
    written: dict[str, str] = {}
    for key, value in data.items():
        name = _FIELD_BY_WORD.get(word_key(key), key)
        if name in fields:
            first = place(written[name])
            raise DemandeError(f"« {key} » et « {written[name]} » (ligne {first.line}) : le champ {name} deux fois, "
                               "gardez-en un", place(key), "demande")
        fields[name], written[name] = value, key
    return fields, written


# Fields that are codes: YAML reads `porteur: 01001` as the octal number 513, and `id: 00123` as 83;
# they are taken as written.
CODE_KEYS = ("porteur", "commune", "id")


def _as_written(text: str, where: Location) -> str:
    line = text.splitlines()[where.line - 1]
    return re.match(r"[^\s,\]}#]*", line[where.column - 1 :]).group(0)  # type: ignore[union-attr]
