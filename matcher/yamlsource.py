"""The only place that reads YAML: safe, bounded, and with the position of every key.

The document is built from PyYAML's event stream (the C parser when available), never
through a YAML constructor: there is no way to build arbitrary Python objects, an alias
(`*ref`) is refused where it appears, nesting depth and file size are bounded, and every
mapping key and value gets its `file:line:column`. Validators then speak in key paths
(`("offres", 3, "conditions", "population")`) and ask this map where that is.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode

from .errors import Location, YamlSourceError
from .files import input_problem
from .files import yaml_files  # noqa: F401 - re-exported for the loaders

try:  # libyaml's parser is ~10x faster; the pure-Python one gives the same events.
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_BYTES = 8 * 1024 * 1024  # a catalogue file is a few hundred KB; anything this big is a mistake
MAX_DEPTH = 40  # the formats nest less than 10 levels; deep nesting is an attack or an accident
MAX_NODES = 500_000

KeyPath = tuple  # tuple[str | int, ...]


@dataclass
class Document:
    """A YAML file read as plain Python values plus the position of each key path."""

    path: str
    data: Any
    value_positions: dict[KeyPath, Location] = field(default_factory=dict)
    key_positions: dict[KeyPath, Location] = field(default_factory=dict)
    # Problems the file was read through (read with `keep_going`): a key written twice keeps
    # its first value, so that the rest of the file is still checked in the same run.
    problems: list[YamlSourceError] = field(default_factory=list)

    def where(self, keypath: KeyPath) -> Location:
        """Position of the value at `keypath`, or of its closest known parent."""
        path = tuple(keypath)
        while path:
            if path in self.value_positions:
                return self.value_positions[path]
            path = path[:-1]
        return self.value_positions.get((), Location(self.path, 1, 1))

    def where_key(self, keypath: KeyPath) -> Location:
        """Position of the key that introduces `keypath` (for unknown or duplicate keys)."""
        return self.key_positions.get(tuple(keypath)) or self.where(keypath)


_SCALARS = SafeConstructor()

_YAML_PROBLEMS_FR = {
    "mapping values are not allowed here": "« : » inattendu ici (une valeur ne peut pas commencer à cet endroit ; "
    "mettez le texte entre guillemets s'il contient « : »)",
    "could not find expected ':'": "« : » attendu (clé sans valeur ?)",
    "found character '\\t' that cannot start any token": "tabulation interdite en YAML : indentez avec des espaces",
    "found unexpected end of stream": "fin de fichier inattendue (guillemet ou crochet non fermé ?)",
    "did not find expected key": "clé attendue (indentation incohérente ?)",
    "did not find expected node content": "valeur attendue",
    "did not find expected ',' or ']'": "« , » ou « ] » attendu",
    "did not find expected ',' or '}'": "« , » ou « } » attendu",
    "did not find expected '-' indicator": "« - » attendu (élément de liste mal indenté ?)",
    "found undefined alias": "alias non défini",
    "found unknown escape character": "séquence d'échappement inconnue dans une chaîne entre guillemets",
    "found character that cannot start any token": "caractère qui ne peut pas commencer une valeur YAML",
    "found duplicate anchor": "ancre dupliquée",
    "expected <block end>, but found '<block mapping start>'": "indentation incohérente",
    "expected <block end>, but found '-'": "élément de liste mal indenté",
    "expected <block end>, but found '<scalar>'": "indentation incohérente",
    "block sequence entries are not allowed in this context": "élément de liste (« - ») interdit à cet endroit",
    "mapping values are not allowed in this context": "« : » inattendu ici (une valeur ne peut pas contenir « : » "
    "suivi d'une espace sans guillemets ; mettez le texte entre guillemets)",
    "mapping keys are not allowed in this context": "clé (« ? ») interdite à cet endroit",
    "found a tab character that violates indentation": "tabulation interdite en YAML : indentez avec des espaces",
    "found a tab character where an indentation space is expected": "tabulation interdite en YAML : indentez avec "
    "des espaces",
    "found invalid Unicode character escape code": "séquence \\u invalide : ce n'est pas un caractère Unicode "
    "(demi-caractère UTF-16 isolé ?)",
    "did not find expected hexdecimal number": "chiffres hexadécimaux attendus après \\x, \\u ou \\U",
    "found unexpected document indicator": "« --- » ou « ... » inattendu (dans une chaîne entre guillemets ?)",
    "did not find expected whitespace or line break": "espace ou fin de ligne attendue",
    "did not find expected comment or line break": "commentaire ou fin de ligne attendu",
    "found an indentation indicator equal to 0": "indicateur d'indentation nul",
    "did not find expected alphabetic or numeric character": "lettre ou chiffre attendu",
    "did not find expected tag URI": "étiquette YAML mal formée",
    "did not find expected <document start>": "début de document attendu (« --- ») après une directive",
    "found duplicate %YAML directive": "directive %YAML en double",
    "found incompatible YAML document": "version de YAML non prise en charge (1.1 attendue)",
    "found duplicate %TAG directive": "directive %TAG en double",
    "found undefined tag handle": "préfixe d'étiquette non défini",
    "found an incorrect leading UTF-8 octet": "octet UTF-8 invalide",
    "found an incorrect trailing UTF-8 octet": "octet UTF-8 invalide",
    "did not find URI escaped octet": "séquence %XX invalide",
    "expected a comment or a line break": "commentaire ou fin de ligne attendu",
    "expected <block end>": "indentation incohérente",
    "expected <document start>": "début de document attendu",
    "expected ',' or ']'": "« , » ou « ] » attendu",
    "expected ',' or '}'": "« , » ou « } » attendu",
    "expected ':'": "« : » attendu",
    "expected alphabetic or numeric character": "lettre ou chiffre attendu",
    "expected hexdecimal number": "chiffres hexadécimaux attendus après \\x, \\u ou \\U",
    "expected escape sequence of": "séquence d'échappement incomplète",
    "found unknown escape character": "séquence d'échappement inconnue dans une chaîne entre guillemets",
    "found unexpected ':'": "« : » inattendu ici (mettez le texte entre guillemets)",
    "found unexpected end of stream": "fin de fichier inattendue (guillemet ou crochet non fermé ?)",
    "while scanning": "syntaxe YAML invalide",
}
_CANNOT_START = "caractère qui ne peut pas commencer une valeur YAML"


def _french_problem(problem: str, text: str = "", mark: Any = None) -> str:
    """PyYAML's (or libyaml's) problem in French; a tab is named as a tab, wherever it is on the line."""
    character = text[mark.index] if mark is not None and 0 <= mark.index < len(text) else ""
    line = text.splitlines()[mark.line] if mark is not None and mark.line < len(text.splitlines()) else ""
    if "cannot start any token" in problem:
        if character == "\t":
            return "tabulation interdite en YAML : indentez avec des espaces"
        return f"« {character} » ne peut pas commencer une valeur YAML : mettez le texte entre guillemets" \
            if character.strip() else _CANNOT_START
    for english, french in _YAML_PROBLEMS_FR.items():
        if problem.startswith(english):
            break
    else:
        french = "syntaxe YAML invalide à cet endroit"
    if "\t" in line[: mark.column + 1 if mark is not None else 0] and "tabulation" not in french:
        french += " ; la ligne contient une tabulation, interdite en YAML pour indenter ou séparer"
    return french


def _position_of_offset(raw: bytes, offset: int) -> tuple[int, int]:
    before = raw[:offset]
    line = before.count(b"\n") + 1
    column = offset - (before.rfind(b"\n") + 1) + 1
    return line, column


def read_text(path: str | os.PathLike, max_bytes: int = MAX_BYTES, display_path: str | None = None) -> str:
    """Read a text file for the loaders, refusing what is not UTF-8 text of a sane size."""
    name = display_path or str(path)
    problem = input_problem(Path(path))
    if problem:
        raise YamlSourceError(problem, Location(name), "fichier")
    size = os.stat(path).st_size
    if size > max_bytes:
        raise YamlSourceError(
            f"fichier trop volumineux ({size / 1_048_576:.0f} Mo ; au plus {max_bytes // 1_048_576} Mo) : "
            "est-ce bien un fichier de catalogue ou de règles ?",
            Location(name),
            "fichier-trop-gros",
        )
    with open(path, "rb") as handle:
        raw = handle.read(max_bytes + 1)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise YamlSourceError("fichier encodé en UTF-16 : enregistrez-le en UTF-8", Location(name, 1, 1), "encodage")
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, column = _position_of_offset(raw, nul)
        raise YamlSourceError(
            "fichier binaire (octet nul) : ce n'est pas un fichier texte YAML", Location(name, line, column), "binaire"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = _position_of_offset(raw, exc.start)
        hint = ""
        try:
            raw.decode("cp1252")
            hint = " ; il semble encodé en Windows-1252 (Latin-1) : enregistrez-le en UTF-8"
        except UnicodeDecodeError:
            pass
        raise YamlSourceError(
            f"octet 0x{raw[exc.start]:02x} invalide en UTF-8{hint}", Location(name, line, column), "encodage"
        ) from None
    return text


def _location(path: str, mark: Any) -> Location:
    return Location(path, mark.line + 1, mark.column + 1)


class WrittenInt(int):
    """A number that YAML 1.1 reads in octal (`01053` is 555): most often a code that lost its quotes.
    It is the number YAML says, shown as it was written, so that a message says « 01053 », not « 555 »."""

    written: str

    def __new__(cls, value: int, written: str) -> "WrittenInt":
        number = super().__new__(cls, value)
        number.written = written
        return number

    def __str__(self) -> str:
        return self.written

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return self.written if not spec else int(self).__format__(spec)

    def __reduce__(self) -> tuple:
        return int, (int(self),)  # kept (in the cache) as the plain number


_OCTAL = re.compile(r"[-+]?0[0-7_]+")


def _scalar_value(event: yaml.ScalarEvent, path: str) -> Any:
    tag = event.tag
    if tag is None or tag == "!":
        implicit = event.implicit
        tag = _Loader.resolve(_RESOLVER, ScalarNode, event.value, implicit) if implicit[0] else "tag:yaml.org,2002:str"
    node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    try:
        if tag == "tag:yaml.org,2002:str":
            return event.value
        if tag == "tag:yaml.org,2002:null":
            return None
        if tag == "tag:yaml.org,2002:bool":
            return _SCALARS.construct_yaml_bool(node)
        if tag == "tag:yaml.org,2002:int":
            number = _SCALARS.construct_yaml_int(node)
            return WrittenInt(number, event.value) if _OCTAL.fullmatch(event.value) else number
        if tag == "tag:yaml.org,2002:float":
            return _SCALARS.construct_yaml_float(node)
        if tag == "tag:yaml.org,2002:timestamp":
            return _SCALARS.construct_yaml_timestamp(node)
    except (ValueError, OverflowError, yaml.YAMLError):
        hint = " : cette date n'existe pas" if tag == "tag:yaml.org,2002:timestamp" else ""
        raise YamlSourceError(f"valeur illisible « {event.value} »{hint}", _location(path, event.start_mark),
                              "yaml-valeur") from None
    raise YamlSourceError(
        f"étiquette YAML non autorisée : {tag}", _location(path, event.start_mark), "yaml-etiquette"
    )


class _ResolverOnly(yaml.resolver.Resolver):
    pass


_RESOLVER = _ResolverOnly()


class _Frame:
    """A mapping or sequence being built, with what the next value is for."""

    __slots__ = ("container", "keypath", "pending_key", "is_mapping")

    def __init__(self, container: Any, keypath: KeyPath, is_mapping: bool):
        self.container = container
        self.keypath = keypath
        self.is_mapping = is_mapping
        self.pending_key: Any = _NO_KEY


_NO_KEY = object()


class _Duplicate:
    """The key of a value written a second time: read, then dropped (each one is distinct)."""

    __slots__ = ("key",)

    def __init__(self, key: str):
        self.key = key


def parse(text: str, path: str = "<texte>", keep_going: bool = False) -> Document:
    """Parse YAML text into a `Document`; raises `YamlSourceError` with a location on any problem,
    except, with `keep_going`, a duplicate key: it goes to `problems` and its first value stays."""
    doc = Document(path, None)
    stack: list[_Frame] = []
    nodes = 0
    documents = 0

    def place(value: Any, location: Location, is_container: bool) -> KeyPath | None:
        """Attach a finished value to its parent; returns the value's key path."""
        if not stack:
            doc.data = value
            doc.value_positions[()] = location
            return ()
        top = stack[-1]
        if top.is_mapping:
            if top.pending_key is _NO_KEY:
                if is_container:
                    raise YamlSourceError(
                        "une clé doit être un texte simple, pas une liste ni un dictionnaire", location, "yaml-cle"
                    )
                if not isinstance(value, (str, int, float, bool)) and value is not None:
                    value = str(value)
                key = value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
                keypath = top.keypath + (key,)
                if key in top.container:
                    first = doc.key_positions.get(keypath)
                    problem = YamlSourceError(
                        f"clé « {key} » en double (déjà définie en {first.line}:{first.column})"
                        if first
                        else f"clé « {key} » en double",
                        location,
                        "cle-dupliquee",
                    )
                    if not keep_going:
                        raise problem
                    doc.problems.append(problem)
                    top.pending_key = _Duplicate(key)
                    return None
                top.pending_key = key
                doc.key_positions[keypath] = location
                return None
            key = top.pending_key
            top.pending_key = _NO_KEY
            if isinstance(key, _Duplicate):
                return top.keypath + (key,)  # what it holds is placed apart, never in the document
            top.container[key] = value
            keypath = top.keypath + (key,)
        else:
            keypath = top.keypath + (len(top.container),)
            top.container.append(value)
        doc.value_positions[keypath] = location
        return keypath

    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)):
                continue
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise YamlSourceError(
                        "plusieurs documents YAML (« --- ») dans un fichier : un seul est attendu",
                        _location(path, event.start_mark),
                        "yaml-documents",
                    )
                continue
            nodes += 1
            if nodes > MAX_NODES:
                raise YamlSourceError(
                    f"fichier trop grand ({MAX_NODES} valeurs au plus)", _location(path, event.start_mark), "fichier-trop-gros"
                )
            if isinstance(event, yaml.AliasEvent):
                raise YamlSourceError(
                    "les alias YAML (« *nom ») ne sont pas acceptés : recopiez la valeur",
                    _location(path, event.start_mark),
                    "yaml-alias",
                )
            if getattr(event, "anchor", None):
                raise YamlSourceError(
                    "les ancres YAML (« &nom ») ne sont pas acceptées",
                    _location(path, event.start_mark),
                    "yaml-alias",
                )
            location = _location(path, event.start_mark)
            if isinstance(event, yaml.ScalarEvent):
                place(_scalar_value(event, path), location, False)
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if len(stack) >= MAX_DEPTH:
                    raise YamlSourceError(
                        f"imbrication trop profonde (plus de {MAX_DEPTH} niveaux)", location, "yaml-profondeur"
                    )
                if event.tag not in (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
                    raise YamlSourceError(f"étiquette YAML non autorisée : {event.tag}", location, "yaml-etiquette")
                is_mapping = isinstance(event, yaml.MappingStartEvent)
                container: Any = {} if is_mapping else []
                keypath = place(container, location, True)
                stack.append(_Frame(container, keypath if keypath is not None else (), is_mapping))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                stack.pop()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        location = _location(path, mark) if mark else Location(path)
        raise YamlSourceError(_french_problem(exc.problem or str(exc), text, mark), location, "yaml-syntaxe") from None
    except yaml.YAMLError as exc:  # reader errors (control characters) carry a position of their own
        position = getattr(exc, "position", None)
        if position is not None:
            line = text.count("\n", 0, position) + 1
            column = position - (text.rfind("\n", 0, position) + 1) + 1
            raise YamlSourceError(
                f"caractère de contrôle interdit (code {getattr(exc, 'character', '?')!r})",
                Location(path, line, column),
                "yaml-caractere",
            ) from None
        raise YamlSourceError("syntaxe YAML invalide", Location(path), "yaml-syntaxe") from None
    return doc


def load(path: str | os.PathLike, display_path: str | None = None, keep_going: bool = False) -> Document:
    """Read and parse one YAML file; `display_path` is how errors name it (`keep_going`: see `parse`)."""
    name = display_path or str(path)
    return parse(read_text(path, display_path=name), name, keep_going)


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # our reader refuses anchors and aliases
        return True


def dump(data: Any) -> str:
    """Write plain data as YAML (test fixtures, generated catalogues); keys keep their order."""
    return yaml.dump(data, Dumper=_NoAliasDumper, allow_unicode=True, sort_keys=False, width=100)
