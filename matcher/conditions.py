"""The condition language of offers (`conditions`) and policy rules (`quand`).

One parsed tree serves three purposes, so that they cannot disagree:
- `compile_condition` turns it into the engine's expression (durable_rules JSON, field names
  still in clear; the engine module renames them to safe property names);
- `explain` evaluates it in Python on a demande's facts and says, in French, which tests fail
  ("why not");
- `literals` lists the values it compares with, from which `Canonicalizer` reduces a demande's
  facts to what the engine can tell apart (so that identical cases are asked only once).

Semantics shared by the engine and the explanation: a missing value fails every positive test
(`=`, one of, min, max, contains, exists) and passes every negative one (`pas`, `hors`, `existe: false`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from bisect import bisect_left
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .errors import IssueCollector, Location, UnknownReferenceError
from .model import AVIS_DT, COMPLEXITES, LEVELS, PORTEUR_TYPES, SAISINES, ZONES, Vocabulary

if TYPE_CHECKING:  # the YAML reader is needed to load a catalogue, not to route with one
    from .yamlsource import Document, KeyPath

# Sentinels in list facts: "~" is always present (durable_rules' $iall over an empty list is
# false), "~+" stands for "some value no condition mentions". Identifiers cannot contain "~".
ALWAYS = "~"
OTHER = "~+"
MAX_ALTERNATIVES = 200  # durable_rules spins in C from 512 alternatives; stay far below


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # list | enum | number | code | text | bool
    label: str
    choices: tuple[str, ...] = ()
    vocabulary: str | None = None
    after_decision: bool = False


FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec("thematiques", "list", "thématiques", vocabulary="thematiques"),
        FieldSpec("besoins", "list", "besoins", vocabulary="besoins"),
        FieldSpec("programmes", "list", "programmes", vocabulary="programmes"),
        FieldSpec("complexite", "enum", "complexité", COMPLEXITES),
        FieldSpec("saisine", "enum", "saisine", SAISINES),
        FieldSpec("porteur", "enum", "type de porteur", PORTEUR_TYPES),
        FieldSpec("population", "number", "population"),
        FieldSpec("montant", "number", "montant"),
        FieldSpec("commune", "code", "commune"),
        FieldSpec("epci", "code", "EPCI"),
        FieldSpec("departement", "code", "département"),
        FieldSpec("region", "code", "région"),
        FieldSpec("zone", "enum", "zone", ZONES),
        FieldSpec("avis_dt", "enum", "avis du DT", AVIS_DT),
        FieldSpec("niveau", "enum", "niveau retenu", LEVELS, after_decision=True),
        FieldSpec("offre", "text", "offre retenue", after_decision=True),
    )
}
# Attributes the catalogue relies on, read from the demande's `attributs` like any other, but named
# so that one close to a field's name (« adhesions », « besoins ») is not taken for a typo.
KNOWN_ATTRIBUTES: dict[str, str] = {
    "adhesions": "structures dont le porteur est adhérent (agence technique, CAUE, SPL…)",
    "parcs": "parcs naturels régionaux dont la commune a approuvé la charte",
}
# The porteur's memberships: a demande that does not declare them is presumed a member of every
# structure an offer reserves itself to, and the decision says which membership is to be checked
# (`rows.fact_columns`); a demande that declares them is held to them. Not so a Parc's communes
# (`parcs`): the charter fixes them, a commune outside cannot join, so nothing is presumed there.
MEMBERSHIP = "adhesions"
COMBINATORS = ("tous", "un_de", "aucun")
OPERATORS = ("min", "max", "pas", "hors", "contient", "contient_un_de", "existe")

# What a demande carries that no condition reads, with the field a condition reads instead, if any.
UNREAD_FIELDS: dict[str, str | None] = {
    "id": None, "intitule": None, "date_depot": None, "date_avis_dt": "avis_dt", "type_porteur": "porteur",
    "attributs": None, "thematique": "thematiques", "besoin": "besoins", "programme": "programmes",
}

# The kinds of an attribute, fixed by how conditions use it: one kind per attribute across the
# catalogue and the rules, and every demande's value read as that kind.
LIST = "liste"
ANY_VALUE = "valeur"  # only `existe` so far: any simple value
KIND_NAMES = {"nombre": "un nombre", "texte": "un texte", "booléen": "un booléen", "date": "une date",
              LIST: "une liste (contient, contient_un_de)", ANY_VALUE: "une valeur simple (existe)"}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FRENCH_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


@dataclass(frozen=True)
class Test:
    """A leaf test on one field. `op` is one of: eq, in, min, max, ne, not_in, exists, not_exists
    (scalars) or contains, contains_any, not_contains, contains_none, exists, not_exists (lists)."""

    field: str
    op: str
    value: Any
    is_list: bool
    location: Location | None = None


@dataclass(frozen=True)
class AllOf:
    children: tuple["Condition", ...]
    location: Location | None = None


@dataclass(frozen=True)
class AnyOf:
    children: tuple["Condition", ...]
    location: Location | None = None


@dataclass(frozen=True)
class NoneOf:
    children: tuple["Condition", ...]
    location: Location | None = None


Condition = Test | AllOf | AnyOf | NoneOf

_NEGATION = {
    "eq": "ne",
    "ne": "eq",
    "in": "not_in",
    "not_in": "in",
    "exists": "not_exists",
    "not_exists": "exists",
    "contains": "not_contains",
    "not_contains": "contains",
    "contains_any": "contains_none",
    "contains_none": "contains_any",
    "min": "below",  # below/above: the negations of min/max, only produced by negation
    "max": "above",
    "below": "min",
    "above": "max",
}


# --------------------------------------------------------------------------- parsing


@dataclass
class ParseContext:
    """What a condition needs to be checked: the document, the vocabularies, the territory."""

    doc: Document
    issues: IssueCollector
    vocabularies: dict[str, Vocabulary]
    territory_exists: Callable[[str, str], bool] | None = None  # (kind, code) -> exists
    territory_suggest: Callable[[str, str], list[str]] | None = None
    allow_after_decision: bool = False
    attribute_types: dict[str, tuple[str, Location]] | None = None  # shared across files: name -> (type, first use)
    # Attributes whose kind comes from an earlier load (the catalogue, for the rules): fixed for good.
    inherited: frozenset[str] = frozenset()
    # The fields a condition may read, when they are not a demande's (the indicators of an alert
    # rule); with them, any other name is an error: there are no attributes to fall back on.
    fields: dict[str, FieldSpec] | None = None


def suggest(word: str, candidates: Iterable[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    import difflib

    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=cutoff)


def unreadable_attribute(name: str) -> bool:
    """A name no demande can carry as an attribute: one of its other fields, or the engine's own."""
    from .engine import MARKER_FIELD, RESERVED_NAMES

    return (name in UNREAD_FIELDS or name in RESERVED_NAMES or name == MARKER_FIELD
            or name.startswith(("$", "~", "__")) or not name.strip())


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    close = suggest(word, candidates)
    if not close:
        return ""
    return " — vouliez-vous dire " + " ou ".join(f"« {c} »" for c in close) + " ?"


def parse_condition(data: Any, keypath: KeyPath, ctx: ParseContext) -> Condition | None:
    """Parse a `conditions:` or `quand:` mapping; problems go to `ctx.issues` (None if unusable)."""
    if not isinstance(data, dict) or not data:
        ctx.issues.error(
            "type", "une condition est un dictionnaire non vide de champs ({champ: valeur})", ctx.doc.where(keypath)
        )
        return None
    children: list[Condition] = []
    for key, value in data.items():
        sub = keypath + (key,)
        if key in COMBINATORS:
            child = _parse_combinator(key, value, sub, ctx)
        else:
            child = _parse_field(key, value, sub, ctx)
        if child is not None:
            children.append(child)
    if not children:
        return None
    location = ctx.doc.where(keypath)
    return children[0] if len(children) == 1 else AllOf(tuple(children), location)


def _parse_combinator(key: str, value: Any, keypath: KeyPath, ctx: ParseContext) -> Condition | None:
    if not isinstance(value, list) or not value:
        ctx.issues.error("type", f"« {key} » attend une liste non vide de conditions", ctx.doc.where(keypath))
        return None
    children = [c for i, item in enumerate(value) if (c := parse_condition(item, keypath + (i,), ctx)) is not None]
    if len(children) != len(value):
        return None
    location = ctx.doc.where_key(keypath)
    return {"tous": AllOf, "un_de": AnyOf, "aucun": NoneOf}[key](tuple(children), location)


def _field_spec(name: str, keypath: KeyPath, ctx: ParseContext) -> FieldSpec | None:
    if ctx.fields is not None:
        if name in ctx.fields:
            return ctx.fields[name]
        ctx.issues.error(
            "champ-inconnu",
            f"champ inconnu « {name} »{did_you_mean(name, list(ctx.fields) + list(COMBINATORS))} "
            f"(champs possibles : {', '.join(ctx.fields)})",
            ctx.doc.where_key(keypath),
        )
        return None
    spec = FIELDS.get(name)
    if spec is None and unreadable_attribute(name):
        readable = [f for f, s in FIELDS.items() if ctx.allow_after_decision or not s.after_decision]
        nearest = UNREAD_FIELDS.get(name) or next(iter(suggest(name, readable, n=1, cutoff=0.5)), None)
        hint = f" — le champ le plus proche est « {nearest} »" if nearest else ""
        what = ("la demande le porte, mais il ne sert pas à l'orienter" if name in UNREAD_FIELDS
                else "c'est un nom réservé du moteur de règles")
        ctx.issues.error(
            "champ-inconnu",
            f"« {name} » ne peut pas servir de condition : {what}{hint} "
            f"(champs possibles : {', '.join(readable)}, ou un attribut de la demande)",
            ctx.doc.where_key(keypath),
        )
        return None
    if spec is not None:
        if spec.after_decision and not ctx.allow_after_decision:
            ctx.issues.error(
                "champ-inconnu",
                f"le champ « {name} » n'est connu qu'après la décision : utilisable dans le `quand` d'une règle, "
                "pas dans les conditions d'une offre",
                ctx.doc.where_key(keypath),
            )
            return None
        return spec
    if name in KNOWN_ATTRIBUTES:
        return FieldSpec(name, "attribut", f"attribut « {name} »")
    close = suggest(name, list(FIELDS) + list(OPERATORS) + list(COMBINATORS))
    if close:
        ctx.issues.error(
            "champ-inconnu",
            f"champ inconnu « {name} »{did_you_mean(name, list(FIELDS) + list(COMBINATORS))}",
            ctx.doc.where_key(keypath),
        )
        return None
    # Any other key is read from the demande's `attributs`.
    return FieldSpec(name, "attribut", f"attribut « {name} »")


def _parse_field(name: str, value: Any, keypath: KeyPath, ctx: ParseContext) -> Condition | None:
    spec = _field_spec(str(name), keypath, ctx)
    if spec is None:
        return None
    location = ctx.doc.where_key(keypath)
    if isinstance(value, dict):
        if not value:
            ctx.issues.error("type", f"« {name} » : opérateur attendu ({', '.join(OPERATORS)})", location)
            return None
        tests: list[Condition] = []
        for op, operand in value.items():
            if op not in OPERATORS:
                ctx.issues.error(
                    "operateur-inconnu",
                    f"opérateur inconnu « {op} »{did_you_mean(str(op), OPERATORS)} (connus : {', '.join(OPERATORS)})",
                    ctx.doc.where_key(keypath + (op,)),
                )
                continue
            test = _parse_operator(spec, str(op), operand, keypath + (op,), ctx)
            if test is not None:
                tests.append(test)
        if len(tests) != len(value):
            return None
        return tests[0] if len(tests) == 1 else AllOf(tuple(tests), location)
    if isinstance(value, list):
        return _parse_operator(spec, "un_de", value, keypath, ctx)
    return _parse_operator(spec, "egal", value, keypath, ctx)


def _parse_operator(spec: FieldSpec, op: str, operand: Any, keypath: KeyPath, ctx: ParseContext) -> Test | None:
    location = ctx.doc.where(keypath)
    is_list = spec.kind == "list" or (spec.kind == "attribut" and op in ("contient", "contient_un_de"))
    if is_list and spec.kind == "attribut" and not _note_attribute(spec, LIST, location, ctx):
        return None
    if op == "existe":
        if not isinstance(operand, bool):
            ctx.issues.error("type", "« existe » attend true ou false", location)
            return None
        if spec.kind == "attribut":
            # Read as the attribute's kind; one used only this way so far is settled at the end of
            # the load (`with_list_attributes`), when every use is known.
            if (ctx.attribute_types or {}).get(spec.name, (None,))[0] == LIST:
                return Test(spec.name, "exists" if operand else "not_exists", None, True, location)
            _note_attribute(spec, ANY_VALUE, location, ctx)
        return Test(spec.name, "exists" if operand else "not_exists", None, spec.kind == "list", location)
    if op in ("min", "max"):
        if spec.kind not in ("number", "attribut"):
            ctx.issues.error("type", f"« {op} » ne s'applique qu'à un nombre, pas à {spec.label}", location)
            return None
        if not _is_number(operand):
            finite = " fini" if isinstance(operand, float) else ""
            ctx.issues.error("type", f"« {op} » attend un nombre{finite}, pas « {operand} »", location)
            return None
        if not _note_attribute(spec, "nombre", location, ctx):
            return None
        return Test(spec.name, op, operand, False, location)
    if op in ("contient", "contient_un_de") and spec.kind not in ("list", "attribut"):
        ctx.issues.error(
            "type", f"« {op} » s'applique à une liste (thématiques, besoins, programmes), pas à {spec.label}", location
        )
        return None
    many = op in ("un_de", "hors", "contient_un_de")
    values = operand if many else [operand]
    if many and (not isinstance(operand, list) or not operand):
        ctx.issues.error("type", f"« {op} » attend une liste non vide de valeurs", location)
        return None
    if len(values) > MAX_ALTERNATIVES:
        ctx.issues.error(
            "trop-d-alternatives",
            f"{len(values)} valeurs dans une seule condition : au plus {MAX_ALTERNATIVES} "
            "(le moteur de règles ne sait pas évaluer davantage d'alternatives ; utilisez un périmètre nommé)",
            location,
            kind=_compile_error(),
        )
        return None
    checked = []
    for i, item in enumerate(values):
        item_location = ctx.doc.where(keypath + (i,)) if many else location
        literal = _check_literal(spec, item, item_location, ctx, is_list)
        if literal is _INVALID:
            return None
        checked.append(literal)
    if is_list:
        kind = {"egal": "contains", "contient": "contains", "un_de": "contains_any", "contient_un_de": "contains_any",
                "pas": "not_contains", "hors": "contains_none"}[op]
    else:
        kind = {"egal": "eq", "un_de": "in", "pas": "ne", "hors": "not_in"}[op]
    checked = list(dict.fromkeys(checked))  # a value listed twice would match twice in the engine
    value = tuple(checked) if many else checked[0]
    if many and len(set(checked)) == 1:
        value, kind = checked[0], {"in": "eq", "not_in": "ne", "contains_any": "contains",
                                   "contains_none": "not_contains"}[kind]
    return Test(spec.name, kind, value, is_list, location)


def _compile_error() -> type:
    from .errors import CompileError

    return CompileError


_INVALID = object()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _note_attribute(spec: FieldSpec, kind: str, location: Location, ctx: ParseContext) -> bool:
    """Attributes are typed by their use: the first use fixes the type, a conflicting one is an error
    naming both places (False). `existe` fits any kind; a kind found after it replaces it, but for an
    attribute whose kind an earlier load fixed."""
    if spec.kind != "attribut" or ctx.attribute_types is None:
        return True
    known = ctx.attribute_types.get(spec.name)
    if known is None or known[0] == kind:
        ctx.attribute_types.setdefault(spec.name, (kind, location))
        return True
    if kind == ANY_VALUE and known[0] != LIST:
        return True
    if known[0] == ANY_VALUE and (kind != LIST or spec.name not in ctx.inherited):
        ctx.attribute_types[spec.name] = (kind, location)
        return True
    ctx.issues.error(
        "type",
        f"attribut « {spec.name} » comparé à {KIND_NAMES[kind]} ici, mais à {KIND_NAMES[known[0]]} en {known[1]}",
        location,
        related=(known[1],),
    )
    return False


def _check_literal(spec: FieldSpec, value: Any, location: Location, ctx: ParseContext, is_list: bool = False) -> Any:
    if isinstance(value, (dict, list)):
        ctx.issues.error("type", f"{spec.label} : valeur simple attendue", location)
        return _INVALID
    if isinstance(value, float) and not math.isfinite(value):
        ctx.issues.error("type", f"{spec.label} : nombre fini attendu, pas « {value} »", location)
        return _INVALID
    if isinstance(value, dt.datetime):
        ctx.issues.error("type", f"{spec.label} : une date s'écrit AAAA-MM-JJ, sans heure (« {value} »)", location)
        return _INVALID
    if isinstance(value, str) and value.startswith(ALWAYS):
        ctx.issues.error("type", f"{spec.label} : une valeur ne peut pas commencer par « ~ »", location)
        return _INVALID
    if spec.kind == "number":
        if not _is_number(value):
            ctx.issues.error("type", f"{spec.label} : nombre attendu, pas « {value} »", location)
            return _INVALID
        return value
    if spec.kind == "attribut":
        if is_list:  # a list's items are texts, as a backlog's cell gives them
            return _item_text(value)
        kind, literal = _attribute_kind(value)
        if kind is None:
            ctx.issues.error("type", f"{spec.label} : valeur simple attendue", location)
            return _INVALID
        return literal if _note_attribute(spec, kind, location, ctx) else _INVALID
    if not isinstance(value, str):
        hint = ""
        if spec.kind == "code" and isinstance(value, int):
            hint = f" : écrivez le code entre guillemets, par exemple \"{str(value).zfill(2)}\""  # 01053 as written
        ctx.issues.error("type", f"{spec.label} : texte attendu, pas {value!r}{hint}", location)
        return _INVALID
    if spec.kind == "enum" and value not in spec.choices:
        ctx.issues.error(
            "valeur-inconnue",
            f"{spec.label} : valeur inconnue « {value} »{did_you_mean(value, spec.choices)}"
            f" (valeurs possibles : {', '.join(spec.choices)})",
            location,
        )
        return _INVALID
    if spec.kind == "list" and spec.vocabulary:
        vocabulary = ctx.vocabularies.get(spec.vocabulary)
        if vocabulary is not None and value not in vocabulary.terms:
            ctx.issues.error(
                "vocabulaire",
                f"{spec.vocabulary} : mot inconnu « {value} »{did_you_mean(value, vocabulary.terms)}",
                location,
                kind=UnknownReferenceError,
            )
            return _INVALID
    if spec.kind == "code" and ctx.territory_exists is not None and not ctx.territory_exists(spec.name, value):
        close = ctx.territory_suggest(spec.name, value) if ctx.territory_suggest else []
        hint = (" — codes proches : " + ", ".join(close)) if close else ""
        ctx.issues.error(
            "territoire-inconnu",
            f"{spec.label} « {value} » absent du découpage administratif 2026{hint}",
            location,
            kind=UnknownReferenceError,
        )
        return _INVALID
    return value


def _attribute_kind(value: Any) -> tuple[str | None, Any]:
    """The kind a literal gives an attribute, and the literal as conditions compare it."""
    if isinstance(value, bool):
        return "booléen", "true" if value else "false"
    if _is_number(value):
        return "nombre", value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return "date", value.isoformat()
    if isinstance(value, str):
        iso = _iso_date(value)
        return ("date", iso) if iso else ("texte", value)
    return None, None


def _iso_date(text: str) -> str | None:
    """The date a text writes (AAAA-MM-JJ, or JJ/MM/AAAA as French offices do), as AAAA-MM-JJ."""
    text = text.strip()
    french = FRENCH_DATE.match(text)
    try:
        if french:
            return dt.date(int(french[3]), int(french[2]), int(french[1])).isoformat()
        if ISO_DATE.match(text):
            return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        return None
    return None


def _item_text(value: Any) -> str:
    """A list item as text: what a cell `a|b` gives, whatever the YAML or JSON wrote."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    return _iso_date(text) or text


def attribute_value(kind: str | None, value: Any) -> Any:
    """An attribute's value in a demande or a backlog cell, read as its kind, in the form conditions
    compare (None when blank); a value that is not of its kind raises ValueError with a French reason.

    One reading for a demande file and a backlog's cell: a list is split on « | » when written as
    text; a date is AAAA-MM-JJ or JJ/MM/AAAA, given as a date or as text; a number is finite."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        if value.time() != dt.time():
            raise ValueError(f"une date s'écrit AAAA-MM-JJ, sans heure, pas « {value} »")
        value = value.date()
    if isinstance(value, dict):
        raise ValueError("valeur simple attendue, pas un dictionnaire")
    if kind == LIST:
        items = value.split("|") if isinstance(value, str) else value if isinstance(value, (list, tuple)) else [value]
        texts = []
        for item in items:
            if isinstance(item, (list, tuple, dict)) or (isinstance(item, float) and not math.isfinite(item)):
                raise ValueError(f"élément de liste invalide « {item} »")
            texts.append(_item_text(item))
        return tuple(dict.fromkeys(t for t in texts if t))
    if isinstance(value, (list, tuple)):
        raise ValueError(f"une seule valeur attendue, pas une liste ({KIND_NAMES.get(kind or '', 'valeur simple')})")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"nombre fini attendu, pas « {value} »")
    if kind == "nombre":
        return _number_value(value)
    if kind == "booléen":
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered in ("oui", "true", "vrai", "1", "o", "x"):
            return True
        if lowered in ("non", "false", "faux", "0", "n"):
            return False
        raise ValueError(f"oui ou non attendu, pas « {value} »")
    if isinstance(value, dt.date):
        value = value.isoformat()
    if kind == "date":
        iso = _iso_date(value) if isinstance(value, str) else None
        if iso is None:
            raise ValueError(f"date attendue (AAAA-MM-JJ ou JJ/MM/AAAA), pas « {value} »")
        return iso
    if kind == "texte" and not isinstance(value, str):
        raise ValueError(f"texte attendu, pas « {value} » : écrivez-le entre guillemets")
    return value.strip() if isinstance(value, str) else value


def _number_value(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError(f"nombre attendu, pas « {value} »")
    if isinstance(value, (int, float)):
        number = value
    else:
        text = str(value).strip().replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace(",", ".")
        try:
            number = float(text) if not text.lstrip("-").isdigit() else int(text)
        except ValueError:
            raise ValueError(f"nombre attendu, pas « {value} »") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError(f"nombre fini attendu, pas « {value} »")
    return int(number) if isinstance(number, float) and number.is_integer() and abs(number) < 2**53 else number


def with_list_attributes(cond: Condition | None, names: Iterable[str]) -> Condition | None:
    """The condition with its `existe` tests on these list attributes read as list tests."""
    names = frozenset(names)
    if cond is None or not names:
        return cond
    if isinstance(cond, Test):
        if cond.field in names and cond.op in ("exists", "not_exists") and not cond.is_list:
            return replace(cond, is_list=True)
        return cond
    return replace(cond, children=tuple(with_list_attributes(c, names) for c in cond.children))


# --------------------------------------------------------------------------- structure


def tests_of(cond: Condition | None) -> Iterable[Test]:
    if cond is None:
        return
    if isinstance(cond, Test):
        yield cond
    else:
        for child in cond.children:
            yield from tests_of(child)


def memberships(cond: Condition | None) -> tuple[str, ...]:
    """The structures a condition reserves an offer to the members of (its `adhesions` tests)."""
    found = [v for t in tests_of(cond) if t.field == MEMBERSHIP and t.op in ("contains", "contains_any")
             for v in _values(t)]
    return tuple(dict.fromkeys(found))


def fields_of(cond: Condition | None) -> set[str]:
    return {t.field for t in tests_of(cond)}


def negate(cond: Condition) -> Condition:
    """The condition's negation in negation normal form (the engine has no NOT)."""
    if isinstance(cond, Test):
        return Test(cond.field, _NEGATION[cond.op], cond.value, cond.is_list, cond.location)
    if isinstance(cond, AllOf):
        return AnyOf(tuple(negate(c) for c in cond.children), cond.location)
    if isinstance(cond, AnyOf):
        return AllOf(tuple(negate(c) for c in cond.children), cond.location)
    return AnyOf(cond.children, cond.location)  # not (none of X) == any of X


# --------------------------------------------------------------------------- evaluation


def _values(test: Test) -> tuple:
    return test.value if isinstance(test.value, tuple) else (test.value,)


def holds(cond: Condition | None, facts: dict[str, Any]) -> bool:
    """Evaluate a condition on a demande's facts (list fields as tuples; absent = missing)."""
    if cond is None:
        return True
    if isinstance(cond, AllOf):
        return all(holds(c, facts) for c in cond.children)
    if isinstance(cond, AnyOf):
        return any(holds(c, facts) for c in cond.children)
    if isinstance(cond, NoneOf):
        return not any(holds(c, facts) for c in cond.children)
    return _test_holds(cond, facts)


def _test_holds(test: Test, facts: dict[str, Any]) -> bool:
    op = test.op
    present = test.field in facts and facts[test.field] is not None
    value = facts.get(test.field)
    if test.is_list:
        items = set(value) if present else set()
        if isinstance(value, (str, int, float)) and present:
            items = {value}
        wanted = set(_values(test)) if test.value is not None else set()
        return {
            "contains": lambda: bool(items & wanted),
            "contains_any": lambda: bool(items & wanted),
            "not_contains": lambda: not items & wanted,
            "contains_none": lambda: not items & wanted,
            "exists": lambda: bool(items),
            "not_exists": lambda: not items,
        }[op]()
    if op == "exists":
        return present
    if op == "not_exists":
        return not present
    if not present:
        return op in ("ne", "not_in", "below", "above")
    if op in ("eq", "in"):
        return value in _values(test)
    if op in ("ne", "not_in"):
        return value not in _values(test)
    if not _is_number(value):
        return False
    return {"min": value >= test.value, "max": value <= test.value,
            "below": value < test.value, "above": value > test.value}[op]


def fmt_number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}".replace(",", " ")
    return str(value).replace(".", ",")


def _fmt(value: Any) -> str:
    if _is_number(value):
        return fmt_number(value)
    if isinstance(value, tuple):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _label(field: str) -> str:
    spec = FIELDS.get(field)
    return spec.label if spec else f"attribut « {field} »"


def _describe_actual(test: Test, facts: dict[str, Any], shown: dict[str, str] | None) -> str:
    value = facts.get(test.field)
    if value is None or (test.is_list and not value):
        return "non renseigné"
    if shown and test.field in shown:
        return shown[test.field]
    if test.is_list and not isinstance(value, str):
        return ", ".join(str(v) for v in value)
    return _fmt(value)


def describe(test: Test) -> str:
    """The test as a French phrase (for lint and for explanations)."""
    label, value = _label(test.field), _fmt(test.value)
    return {
        "eq": f"{label} = {value}",
        "ne": f"{label} ≠ {value}",
        "in": f"{label} parmi {value}",
        "not_in": f"{label} hors de {value}",
        "min": f"{label} ≥ {value}",
        "max": f"{label} ≤ {value}",
        "below": f"{label} < {value}",
        "above": f"{label} > {value}",
        "exists": f"{label} renseigné",
        "not_exists": f"{label} non renseigné",
        "contains": f"{label} contient {value}",
        "contains_any": f"{label} contient l'un de {value}",
        "not_contains": f"{label} ne contient pas {value}",
        "contains_none": f"{label} ne contient aucun de {value}",
    }[test.op]


def _why_test_fails(test: Test, facts: dict[str, Any], shown: dict[str, str] | None) -> str:
    label, value = _label(test.field), _fmt(test.value)
    if test.is_list:
        # The demande's own list is not repeated: it is in the demande, and a reason that does
        # not depend on it is the same for every demande that fails the same way.
        return {
            "contains": f"{label} : {value} requis",
            "contains_any": f"{label} : l'offre ne couvre que {value}",
            "not_contains": f"{label} : {value} exclu",
            "contains_none": f"{label} : {value} exclus",
            "exists": f"{label} non renseigné",
            "not_exists": f"{label} renseigné alors qu'il ne doit pas l'être",
        }[test.op]
    actual = _describe_actual(test, facts, shown)
    if actual == "non renseigné" and test.op not in ("not_exists", "exists"):
        return f"{label} non renseigné (condition : {describe(test)})"
    return {
        "eq": f"{label} {actual} ≠ {value}",
        "in": f"{label} {actual} hors de {value}",
        "ne": f"{label} {actual} exclu",
        "not_in": f"{label} {actual} exclu ({value})",
        "min": f"{label} {actual} < min {value}",
        "max": f"{label} {actual} > max {value}",
        "below": f"{label} {actual} ≥ {value}",
        "above": f"{label} {actual} ≤ {value}",
        "exists": f"{label} non renseigné",
        "not_exists": f"{label} renseigné ({actual}) alors qu'il ne doit pas l'être",
    }[test.op]


def explain(cond: Condition | None, facts: dict[str, Any], shown: dict[str, str] | None = None) -> list[str]:
    """Why the condition does not hold: one French reason per failing test (empty when it holds).

    `shown` replaces how some fields' values are written (a batch writes a placeholder there,
    filled per row, so that rows differing only by those values share one explanation)."""
    if cond is None or holds(cond, facts):
        return []
    if isinstance(cond, Test):
        return [_why_test_fails(cond, facts, shown)]
    if isinstance(cond, AllOf):
        return [reason for child in cond.children for reason in explain(child, facts, shown)]
    if isinstance(cond, AnyOf):
        parts = ["; ".join(explain(child, facts, shown)) for child in cond.children]
        return ["aucune des conditions alternatives ne tient : " + " ou ".join(f"({p})" for p in parts)]
    held = [child for child in cond.children if holds(child, facts)]
    return ["condition exclue vérifiée : " + "; ".join(_describe_condition(c) for c in held)]


def _describe_condition(cond: Condition) -> str:
    if isinstance(cond, Test):
        return describe(cond)
    joiner = {AllOf: " et ", AnyOf: " ou ", NoneOf: " ni "}[type(cond)]
    return "(" + joiner.join(_describe_condition(c) for c in cond.children) + ")"


# --------------------------------------------------------------------------- compilation


def _eq(field: str, value: Any) -> dict:
    return {"$eq": {field: value}}


def compile_condition(cond: Condition) -> dict:
    """The durable_rules expression of a condition (field names in clear). Nested combinations of
    the same kind are flattened: the engine allows only a few of them in one rule."""
    if isinstance(cond, (AllOf, AnyOf)):
        op = "$and" if isinstance(cond, AllOf) else "$or"
        items: dict[str, dict] = {}  # x and x is x: a repeated test would also match twice
        for child in cond.children:
            compiled = compile_condition(child)
            for item in compiled[op] if op in compiled else [compiled]:
                items.setdefault(repr(item), item)
        unique = list(items.values())
        return unique[0] if len(unique) == 1 else {op: unique}
    if isinstance(cond, NoneOf):  # none of X == all of (not X)
        return compile_condition(AllOf(tuple(negate(c) for c in cond.children), cond.location))
    return _compile_test(cond)


def _or(items: list[dict]) -> dict:
    return items[0] if len(items) == 1 else {"$or": items}


def _and(items: list[dict]) -> dict:
    return items[0] if len(items) == 1 else {"$and": items}


def _compile_test(test: Test) -> dict:
    f, op, values = test.field, test.op, _values(test)
    missing = {"$nex": {f: 1}}
    if test.is_list:
        # Alternatives inside one $iany: an $or of several $iany would match once per item found,
        # and every match counts against the engine's 64 per message.
        if op in ("contains", "contains_any"):
            return {"$iany": {f: _or([{"$i": v} for v in values])}}
        if op in ("not_contains", "contains_none"):
            return {"$iall": {f: _and([{"$neq": {"$i": v}} for v in values])}}
        if op == "exists":
            return {"$iany": {f: {"$neq": {"$i": ALWAYS}}}}
        if op == "not_exists":
            return {"$iall": {f: {"$i": ALWAYS}}}
    if op == "eq":
        return _eq(f, values[0])
    if op == "in":
        return _or([_eq(f, v) for v in values])
    if op == "ne":
        return {"$or": [missing, {"$neq": {f: values[0]}}]}
    if op == "not_in":
        return {"$or": [missing, _and([{"$neq": {f: v}} for v in values])]}
    if op == "exists":
        return {"$ex": {f: 1}}
    if op == "not_exists":
        return missing
    if op == "min":
        return {"$gte": {f: test.value}}
    if op == "max":
        return {"$lte": {f: test.value}}
    if op == "below":
        return {"$or": [missing, {"$lt": {f: test.value}}]}
    if op == "above":
        return {"$or": [missing, {"$gt": {f: test.value}}]}
    raise ValueError(op)


# --------------------------------------------------------------------------- canonical facts


# Values a canonicalizer remembers at most (then it starts afresh).
MEMO_LIMIT = 50_000


class Canonicalizer:
    """Reduces facts to the values a set of conditions can tell apart.

    Two demandes with the same canonical facts get the same answer from every condition
    the canonicalizer was built from: a text value no condition mentions becomes a single
    "other", a number becomes a representative of the interval between thresholds it falls in.
    The engine is then asked once per distinct canonical fact.
    """

    def __init__(self, conditions: Iterable[Condition | None]):
        texts: dict[str, set] = {}
        numbers: dict[str, set] = {}
        list_fields: set[str] = set()
        for cond in conditions:
            for test in tests_of(cond):
                if test.is_list:
                    list_fields.add(test.field)
                for v in (_values(test) if test.value is not None else ()):  # a list's items are kept as they are
                    (numbers if _is_number(v) and not test.is_list else texts).setdefault(test.field, set()).add(v)
                texts.setdefault(test.field, set())
        self.fields = tuple(sorted(texts))
        self.list_fields = frozenset(list_fields)
        self._texts = texts
        self._thresholds = {f: sorted(v) for f, v in numbers.items()}
        self._memo: dict[tuple[str, Any], Any] = {}  # the same values come back row after row

    def _number(self, field: str, value: float) -> float:
        cuts = self._thresholds.get(field)
        if not cuts:
            return 0
        i = bisect_left(cuts, value)
        if i < len(cuts) and cuts[i] == value:
            return value
        if i == 0:
            representative = cuts[0] - 1
        elif i == len(cuts):
            representative = cuts[-1] + 1
        else:
            representative = (cuts[i - 1] + cuts[i]) / 2
        # Rounding can land it on a threshold (1e20 - 1 == 1e20): the value then stands for itself.
        if bisect_left(cuts, representative) != i or (i < len(cuts) and cuts[i] == representative):
            return value
        return representative

    def value(self, field: str, value: Any) -> Any:
        """One field's value reduced to what the conditions can tell apart."""
        try:
            return self._memo[(field, value)]
        except KeyError:
            if len(self._memo) >= MEMO_LIMIT:  # a canonicalizer kept by a long-running process stays small
                self._memo.clear()
            reduced = self._memo[(field, value)] = self._reduce(field, value)
            return reduced
        except TypeError:  # an unhashable value (a list): reduce it each time
            return self._reduce(field, value)

    def _reduce(self, field: str, value: Any) -> Any:
        known = self._texts.get(field, ())
        if field in self.list_fields:
            items = () if value is None else (value,) if isinstance(value, (str, int, float)) else value
            kept = sorted({v for v in items if v in known}, key=str)
            if len(kept) < len(set(items)):
                kept.append(OTHER)
            return tuple(kept)
        if value is None:
            return None
        if _is_number(value):
            return self._number(field, value)
        return value if value in known else OTHER

    def reading(self, field: str) -> tuple:
        """What tells one field's values apart here: canonicalizers that read a field alike reduce
        its values alike (`value`)."""
        return (field in self.list_fields, frozenset(self._texts.get(field, ())),
                tuple(self._thresholds.get(field, ())))

    def canonical(self, facts: dict[str, Any]) -> tuple:
        """A hashable key: one entry per field the conditions read."""
        return tuple(self.value(field, facts.get(field)) for field in self.fields)

    def as_fact(self, key: tuple) -> dict[str, Any]:
        """The engine fact for a canonical key (missing values left out, lists with the sentinel)."""
        fact: dict[str, Any] = {}
        for field, value in zip(self.fields, key):
            if field in self.list_fields:
                fact[field] = [ALWAYS, *value]
            elif value is not None:
                fact[field] = value
        return fact
