"""Errors and authoring issues, each able to say where it comes from.

One root exception, `AiguillageError`, whose `str()` is `path:line:column: message`;
one subclass per stage. Findings that are not failures (a warning, a lint finding)
are `Issue` objects, collected by an `IssueCollector` that can also stop at the first
error (what `route` wants) instead of gathering them all (what `rules check` wants).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Location:
    """A place in a file; line and column count from 1, as editors do."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}:{self.column}"
        return self.path


def one_line(text: str) -> str:
    """A message on one line, as stderr carries one line per error: a line break that a quoted cell
    held is shown as ↵."""
    return text.replace("\r\n", "↵").replace("\r", "↵").replace("\n", "↵")


class AiguillageError(Exception):
    """A known failure: one line for the user, with its location when a file is involved."""

    default_code = "erreur"

    def __init__(self, message: str, location: Location | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.code = code or self.default_code

    def __str__(self) -> str:
        if self.location is None:
            return one_line(self.message)
        return f"{self.location}: {one_line(self.message)}"


class OptionValueError(AiguillageError):
    """A value given to a command (an option of the command line, a parameter of the web page)
    that names nothing known: a usage error, reported against that option."""

    def __init__(self, message: str, option: str):
        super().__init__(message, None, "option")
        self.option = option


class YamlSourceError(AiguillageError):
    """The file is not readable YAML text (syntax, encoding, size, aliases)."""


class SchemaError(AiguillageError):
    """The YAML is well formed but does not say what the format expects."""


class UnknownReferenceError(AiguillageError):
    """A territory, perimeter, offer or vocabulary word that does not exist."""


class CompileError(AiguillageError):
    """A condition or rule that the engine's guards refuse."""


class TerritoryError(AiguillageError):
    """A porteur or territory reference that cannot be resolved."""

    default_code = "territoire-inconnu"


class DemandeError(AiguillageError):
    """A demande (one request) that is malformed."""


class BatchInputError(AiguillageError):
    """A backlog file that cannot be read at all (missing column, unreadable file)."""


class ExportError(AiguillageError):
    """An export of another platform (Aides-territoires), or its correspondence file, that cannot be read."""


class OutputError(AiguillageError):
    """A result file that cannot be written where the user asked (missing or read-only folder, full disk)."""


class EngineError(AiguillageError):
    """The rules engine reported a failure that the guards should have prevented."""


@dataclass(frozen=True)
class Issue:
    """An authoring finding: a code, a severity, a French message, where it is, and related places."""

    code: str
    severity: str
    message: str
    location: Location | None = None
    related: tuple[Location, ...] = ()

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}{self.severity}: {one_line(self.message)} [{self.code}]"

    def as_dict(self) -> dict:
        loc = self.location
        return {
            "fichier": loc.path if loc else None,
            "ligne": loc.line if loc else None,
            "colonne": loc.column if loc else None,
            "severite": self.severity,
            "code": self.code,
            "message": self.message,
            "lieux_lies": [str(r) for r in self.related],
        }


class IssueList:
    """Something holding `issues`: its errors and its warnings."""

    issues: list[Issue]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "erreur"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "avertissement"]


@dataclass
class IssueCollector(IssueList):
    """Gathers issues; with `stop_at_first`, the first error is raised as an exception instead."""

    stop_at_first: bool = False
    issues: list[Issue] = field(default_factory=list)

    def error(
        self,
        code: str,
        message: str,
        location: Location | None = None,
        related: tuple[Location, ...] = (),
        kind: type[AiguillageError] = SchemaError,
    ) -> None:
        if self.stop_at_first:
            raise kind(message, location, code)
        self.issues.append(Issue(code, "erreur", message, location, related))

    def warning(
        self, code: str, message: str, location: Location | None = None, related: tuple[Location, ...] = ()
    ) -> None:
        self.issues.append(Issue(code, "avertissement", message, location, related))

    def add_error(self, err: AiguillageError) -> None:
        """Record an exception raised by a lower stage (a YAML file that could not be read)."""
        if self.stop_at_first:
            raise err
        self.issues.append(Issue(err.code, "erreur", err.message, err.location))
