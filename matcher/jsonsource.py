"""JSON read with the guards and positions the YAML reader has: nesting depth bounded, duplicate
keys refused with both positions, lone UTF-16 surrogates refused, the position of each top-level key.

`json.loads` alone keeps the last of two equal keys without a word, recurses until Python's stack
gives up on deep nesting, and accepts "\\ud800", which no file can then hold. The text is first
walked token by token (strings, brackets, colons), then given to `json.loads`, whose own syntax
errors carry a line and column.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import DemandeError, Location

MAX_DEPTH = 40  # as for YAML: a demande nests two levels

_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\.)*"', re.S)
_STRUCTURE = re.compile(r'["{}\[\]:,]')


@dataclass
class JsonDocument:
    data: Any
    key_positions: dict[str, Location] = field(default_factory=dict)  # top-level keys


def parse_json(text: str, path: str) -> JsonDocument:
    """Parse JSON text; raises DemandeError located at `path:line:col`."""
    lines = _LineIndex(text)
    key_positions: dict[str, Location] = {}
    stack: list[tuple[str, dict[str, Location]]] = []  # per open bracket: its kind, its keys so far
    pending: tuple[str, Location] | None = None  # a string that may be a key
    at = 0
    while True:
        match = _STRUCTURE.search(text, at)
        if match is None:
            break
        char, at = match.group(), match.start()
        if char == '"':
            token = _STRING.match(text, at)
            if token is None:
                break  # unterminated string: json.loads says where
            try:
                value = json.loads(token.group())
            except json.JSONDecodeError:
                break
            if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
                raise DemandeError("demi-caractère UTF-16 isolé (\\ud800 à \\udfff) : ce n'est pas un texte valide",
                                      lines.location(path, at), "json")
            pending = (value, lines.location(path, at))
            at = token.end()
            continue
        if char in "{[":
            if len(stack) >= MAX_DEPTH:
                raise DemandeError(f"imbrication trop profonde (plus de {MAX_DEPTH} niveaux)",
                                      lines.location(path, at), "json-profondeur")
            stack.append((char, {}))
        elif char in "}]":
            if stack:
                stack.pop()
        elif char == ":" and pending is not None and stack and stack[-1][0] == "{":
            key, where = pending
            keys = stack[-1][1]
            if key in keys:
                first = keys[key]
                raise DemandeError(f"clé « {key} » en double (déjà définie en {first.line}:{first.column})",
                                      where, "cle-dupliquee")
            keys[key] = where
            if len(stack) == 1:
                key_positions[key] = where
        pending = None
        at += 1
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DemandeError(f"JSON invalide : {_french(exc.msg)}", Location(path, exc.lineno, exc.colno),
                              "json") from None
    except RecursionError:  # nesting the walk did not see (it stops at the first malformed string)
        raise DemandeError(f"imbrication trop profonde (plus de {MAX_DEPTH} niveaux)", Location(path, 1, 1),
                              "json-profondeur") from None
    return JsonDocument(data, key_positions)


_JSON_PROBLEMS_FR = {
    "Expecting value": "valeur attendue",
    "Expecting property name enclosed in double quotes": "nom de clé entre guillemets doubles attendu",
    "Expecting ':' delimiter": "« : » attendu",
    "Expecting ',' delimiter": "« , » attendu",
    "Extra data": "texte après la fin de l'objet JSON",
    "Unterminated string starting at": "chaîne non fermée (guillemet manquant)",
    "Invalid control character at": "caractère de contrôle dans une chaîne (une tabulation ou un saut de ligne "
                                     "s'écrivent \\t, \\n)",
    "Invalid \\escape": "séquence d'échappement invalide",
    "Invalid \\uXXXX escape": "séquence \\uXXXX invalide",
    "Illegal trailing comma before end of object": "virgule en trop avant « } »",
    "Illegal trailing comma before end of array": "virgule en trop avant « ] »",
}


def _french(message: str) -> str:
    for english, french in _JSON_PROBLEMS_FR.items():
        if message.startswith(english):
            return french
    return message


class _LineIndex:
    """Offsets → line and column, by a binary search over the line starts."""

    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def location(self, path: str, offset: int) -> Location:
        from bisect import bisect_right

        line = bisect_right(self.starts, offset)
        return Location(path, line, offset - self.starts[line - 1] + 1)
