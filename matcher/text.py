"""What people type, read the one way every command reads it: words without case or accents,
numbers and amounts as French offices write them.

`fold` is the one normalisation of the project: vocabulary words, closed choices, column headers
and territory names are all compared through it.
"""

from __future__ import annotations

import math
import re
import unicodedata

# Between the words of a multi-valued field written as one text (a backlog cell, a YAML string).
LIST_SEPARATOR = "|"

_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss"})


def fold(text: str) -> str:
    """Lower case, without accents or ligatures: « Santé » and « SANTE » read as « sante »."""
    text = unicodedata.normalize("NFKD", str(text).casefold().translate(_LIGATURES))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def word_key(text: str) -> str:
    """A word as a key: folded, every space, hyphen, underscore or punctuation dropped, so that
    « Rénovation énergétique », « renovation-energetique » and « RENOVATION_ENERGETIQUE » meet."""
    return re.sub(r"[^a-z0-9]+", "", fold(text))


# --------------------------------------------------------------------------- numbers and amounts

class NumberError(ValueError):
    """A number or an amount that cannot be read without guessing; the message says why, in French."""


# Spaces that French typography puts between groups of three digits.
_GROUP_SPACES = re.compile(r"[ \u00a0\u202f\u2009]+")
_AMOUNT = re.compile(
    r"^(?P<figure>[0-9][0-9 .,]*?) ?"
    r"(?P<unit>€|euros?|eur|k ?€|k ?euros?|keur|m ?€|meur|millions?(?: d'?euros| deuros| euros)?"
    r"|mds? ?€|mrds? ?€|milliards?(?: d'?euros| deuros| euros)?)?"
    r"(?: ?(?:ht|ttc))?$"
)
_PLAIN = re.compile(r"^\d+$")
_GROUPED = re.compile(r"^\d{1,3}( \d{3})+$")  # 250 000, 1 250 000
_DECIMAL = re.compile(r"^(\d+|\d{1,3}( \d{3})+),(\d+)$")  # 1,5 ; 250 000,50
_DOT_DECIMAL = re.compile(r"^\d+\.\d+$")

AMOUNT_HELP = "écrivez par exemple 250000, 250 000 €, 1,5 M€ ou 300 k€"
NUMBER_HELP = "écrivez par exemple 12500 ou 12 500"


def _figure(text: str, original: str, help_text: str) -> float:
    """A figure without its unit: digits grouped by spaces, a decimal comma, or a decimal point."""
    text = text.strip()
    if _PLAIN.match(text) or _GROUPED.match(text):
        return float(text.replace(" ", ""))
    decimal = _DECIMAL.match(text)
    if decimal:
        if len(decimal.group(3)) == 3 and decimal.group(2) is None:
            # 1,250 is 1.25 in France and 1250 in an English spreadsheet: do not guess.
            raise NumberError(f"« {original} » est ambigu (1,250 vaut 1,25 en France, 1 250 ailleurs) : {help_text}")
        return float(text.replace(" ", "").replace(",", "."))
    if _DOT_DECIMAL.match(text):
        if re.match(r"^\d{1,3}\.\d{3}$", text):
            # 250.000 is 250 000 in many French offices and 250 elsewhere: do not guess.
            raise NumberError(f"« {original} » est ambigu (point des milliers ou point décimal ?) : {help_text}")
        return float(text)
    if re.match(r"^-\s*\d", text):
        raise NumberError(f"nombre positif attendu, pas « {original} »")
    if help_text == AMOUNT_HELP:
        raise NumberError(f"montant illisible « {original} » : {AMOUNT_HELP}")
    raise NumberError(f"nombre attendu, pas « {original} »")


def _checked(value: float, original: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise NumberError(f"nombre positif attendu, pas « {original} »")
    return value


def read_number(value: str) -> float:
    """A count as offices write it (« 12 500 », « 1,5 »), without unit."""
    original = str(value)
    return _checked(_figure(_GROUP_SPACES.sub(" ", original), original, NUMBER_HELP), original)


def read_amount(value: str) -> float:
    """An amount in euros as offices write it: « 250 000 € », « 250000 euros », « 1,5 M€ », « 300 k€ »,
    « 2 millions d'euros », « 250 000 € HT ». Anything that would need a guess is refused."""
    original = str(value)
    text = _GROUP_SPACES.sub(" ", fold(original).replace("’", "'")).strip()
    found = _AMOUNT.match(text)
    if found is None:
        if re.match(r"^-\s*\d", text):
            raise NumberError(f"nombre positif attendu, pas « {original} »")
        raise NumberError(f"montant illisible « {original} » : {AMOUNT_HELP}")
    unit = (found.group("unit") or "").replace(" ", "")
    factor = (1_000_000_000 if unit.startswith(("md", "mrd", "milliard")) else
              1_000_000 if unit.startswith(("m", "million")) else 1_000 if unit.startswith("k") else 1)
    figure = _figure(found.group("figure"), original, AMOUNT_HELP)
    if factor == 1 and "," in found.group("figure") and len(found.group("figure").rsplit(",", 1)[1]) > 2:
        raise NumberError(f"« {original} » : deux décimales au plus pour des euros : {AMOUNT_HELP}")
    return _checked(round(figure * factor, 2), original)
