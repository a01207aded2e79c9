"""click's own messages in French: usage errors (missing option, unknown option, invalid choice…)
and the words of `--help`.

click looks its messages up through gettext at the moment it builds them; giving its modules a
French catalogue is gettext's own way of translating them, without a locale installed. A message
missing from the catalogue stays as click wrote it (a newer click may add some).
"""

from __future__ import annotations

import click.core
import click.decorators
import click.exceptions
import click.formatting
import click.parser
import click.types

# click's message ids (its source, 8.1 to 8.x) → French; the placeholders are click's.
CATALOGUE = {
    "Error: {message}": "Erreur : {message}",
    "Try '{command} {option}' for help.": "Aide : « {command} {option} ».",
    "Invalid value for {param_hint}: {message}": "Valeur invalide pour {param_hint} : {message}",
    "Invalid value: {message}": "Valeur invalide : {message}",
    "Missing argument": "Argument manquant",
    "Missing option": "Option manquante",
    "Missing parameter": "Paramètre manquant",
    "Missing {param_type}": "{param_type} manquant",
    "Missing parameter: {param_name}": "Paramètre manquant : {param_name}",
    "Missing command.": "Commande manquante.",
    "No such option {name!r}.": "Option inconnue : {name}.",
    "No such option: {name}": "Option inconnue : {name}",
    "No such command {name!r}.": "Commande inconnue : {name}.",
    "Did you mean {possibility}?": "Vouliez-vous dire {possibility} ?",
    "(Did you mean one of: {possibilities}?)": "(Vouliez-vous dire l'une de celles-ci : {possibilities} ?)",
    "Got unexpected extra argument ({args})": "Argument en trop : {args}",
    "Got unexpected extra arguments ({args})": "Arguments en trop : {args}",
    "Option {name!r} requires an argument.": "L'option {name} attend une valeur.",
    "Option {name!r} requires {nargs} arguments.": "L'option {name} attend {nargs} valeurs.",
    "Option {name!r} does not take a value.": "L'option {name} ne prend pas de valeur.",
    "Argument {name!r} takes {nargs} values.": "L'argument {name} attend {nargs} valeurs.",
    "Takes {nargs} values but 1 was given.": "Attend {nargs} valeurs, une seule donnée.",
    "Takes {nargs} values but {len} were given.": "Attend {nargs} valeurs, {len} données.",
    "{value!r} is not {choice}.": "« {value} » n'est pas {choice}.",
    "{value!r} is not one of {choices}.": "« {value} » n'est pas parmi {choices}.",
    "Choose from:\n\t{choices}": "Choisir parmi :\n\t{choices}",
    "{value!r} is not a valid {number_type}.": "« {value} » n'est pas un {number_type} valide.",
    "{value} is not in the range {range}.": "{value} est hors de l'intervalle {range}.",
    "{value!r} does not match the format {format}.": "« {value} » ne suit pas le format {format}.",
    "{value!r} does not match the formats {formats}.": "« {value} » ne suit aucun des formats {formats}.",
    "{value!r} is not a valid boolean. Recognized values: {states}":
        "« {value} » n'est pas un booléen valide. Valeurs reconnues : {states}",
    "{value!r} is not a valid UUID.": "« {value} » n'est pas un UUID valide.",
    "file": "Fichier",
    "directory": "Dossier",
    "path": "Chemin",
    "{name} {filename!r} does not exist.": "{name} « {filename} » introuvable.",
    "{name} {filename!r} is a file.": "{name} « {filename} » : c'est un fichier, un dossier est attendu.",
    "{name} {filename!r} is a directory.": "{name} « {filename} » : c'est un dossier, un fichier est attendu.",
    "{name} {filename!r} is not readable.": "{name} « {filename} » : lecture non autorisée.",
    "{name} {filename!r} is not writable.": "{name} « {filename} » : écriture non autorisée.",
    "{name} {filename!r} is not executable.": "{name} « {filename} » : exécution non autorisée.",
    "Could not open file {filename!r}: {message}": "Impossible d'ouvrir « {filename} » : {message}",
    "unknown error": "erreur inconnue",
    "Value must be an iterable.": "Une liste de valeurs est attendue.",
    "Aborted!": "Interrompu.",
    "Commands": "Commandes",
    "Positional arguments": "Arguments",
    "Show this message and exit.": "Afficher cette aide et quitter.",
    "Show the version and exit.": "Afficher la version et quitter.",
    "default: {default}": "par défaut : {default}",
    "required": "obligatoire",
    "env var: {var}": "variable d'environnement : {var}",
    "(dynamic)": "(calculé)",
}


def gettext(message: str) -> str:
    return CATALOGUE.get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


# The kind of number an option expects, as click names it in « n'est pas un entier valide »: its
# types' names are not looked up through gettext, so they are renamed here.
NUMBER_TYPES = {click.types.IntParamType: "entier", click.types.IntRange: "entier",
                click.types.FloatParamType: "nombre", click.types.FloatRange: "nombre"}


def install() -> None:
    """Give click's modules the French catalogue (before any command is declared: the help texts
    of `--help` and `--version` are looked up when their decorator runs)."""
    for number_type, name in NUMBER_TYPES.items():
        number_type.name = name
    for module in (click.core, click.decorators, click.exceptions, click.formatting, click.parser, click.types):
        if hasattr(module, "_"):
            module._ = gettext  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext  # type: ignore[attr-defined]
