"""`aiguillage report notifications`: the comité régional's decisions, notified to each porteur by the DT.

The workbook is the one `report comite-regional -o LISTE.xlsx` writes, once the comité has filled its
yellow columns (sheet `demandes`: `decision_comite`, `modalites_soutien`, `financeurs`,
`montant_accorde`, `date_comite`, `notification_dt_le`, `observations`). Each demande decided on a
known day gets one printable letter, signed by the préfet of its département as the agency's
délégué territorial (instruction of 15 May 2020); a summary says what was notified and what is
missing (no decision yet, a decision without the comité's date).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..backlog import excel_library
from ..conditions import did_you_mean
from ..errors import BatchInputError, Location
from ..files import atomic_output
from ..model import DATE_FORMATS, parse_day
from ..templating import inline_styles, render
from ..territory import TerritoryIndex, default_index
from .comite_regional import DECISION_CHOICES

SHEET = "demandes"
SHOWN = 20  # rows not notified listed on stderr; the summary page lists them all
NEEDED = ("id", "departement", "delegue_territorial", "intitule", "commune", "offre", "structure", "decision_comite",
          "modalites_soutien", "financeurs", "montant_accorde", "date_comite", "notification_dt_le")
DECISION_SENTENCES = {
    "accord": "a décidé de soutenir votre projet",
    "accord sous conditions": "a décidé de soutenir votre projet, sous les conditions indiquées ci-dessous",
    "ajournement": "a décidé d'ajourner l'examen de votre demande",
    "refus": "n'a pas retenu votre demande",
}


@dataclass
class Letter:
    row: int                   # the spreadsheet's row number
    fields: dict[str, Any]
    decision: str
    date_comite: dt.date
    dated: dt.date             # the day the DT signs: `notification_dt_le`, else the day of the run
    signatory: str             # « Le préfet de la Charente »
    region: str
    file: str = ""


@dataclass
class Notifications:
    letters: list[Letter] = field(default_factory=list)
    undecided: list[tuple[int, str]] = field(default_factory=list)      # (row, id)
    undated: list[tuple[int, str, str]] = field(default_factory=list)   # (row, id, decision)


def read_workbook(path: Path, day: dt.date, index: TerritoryIndex | None = None) -> Notifications:
    """The filled workbook, row by row; a malformed one stops at its first problem, located
    (`file:row:column`, as the spreadsheet numbers them)."""
    openpyxl = excel_library()

    index = index or default_index()
    where = str(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise BatchInputError("classeur introuvable", Location(where)) from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input error
        raise BatchInputError(f"classeur illisible ({type(exc).__name__}) : attendu le .xlsx écrit par "
                              "« aiguillage report comite-regional » et rempli par le comité", Location(where)) from None
    if SHEET not in book.sheetnames:
        raise BatchInputError(f"feuille « {SHEET} » absente (feuilles : {', '.join(book.sheetnames)}) : attendu le "
                              "classeur de « aiguillage report comite-regional »", Location(where))
    rows = book[SHEET].iter_rows(values_only=True)
    header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
    for name in NEEDED:
        if name not in header:
            raise BatchInputError(f"colonne « {name} » absente de la feuille « {SHEET} »", Location(where, 1, 1))
    column = {name: header.index(name) for name in header if name}
    result = Notifications()
    for number, values in enumerate(rows, start=2):
        if values is None or all(v is None or str(v).strip() == "" for v in values):
            continue
        cells = {name: values[i] if i < len(values) else None for name, i in column.items()}

        def at(name: str) -> Location:
            return Location(where, number, column[name] + 1)

        ident = _text(cells["id"]) or f"ligne {number}"
        decision = _text(cells["decision_comite"]).lower()
        if not decision:
            result.undecided.append((number, ident))
            continue
        if decision not in DECISION_CHOICES:
            close = did_you_mean(decision, DECISION_CHOICES)  # « accordé » for « accord »
            raise BatchInputError(f"décision « {cells['decision_comite']} » inconnue{close} "
                                  f"({', '.join(DECISION_CHOICES)})", at("decision_comite"))
        _amount(cells["montant_accorde"], at("montant_accorde"))
        date_comite = _day(cells["date_comite"], at("date_comite"))
        if date_comite is None:
            result.undated.append((number, ident, decision))
            continue
        signed = _day(cells["notification_dt_le"], at("notification_dt_le")) or day
        code = _text(cells["departement"])
        dep = index.departements.get(code)
        if dep is None:
            raise BatchInputError(f"département « {code} » inconnu", at("departement"))
        region = index.regions[dep.region].nom
        result.letters.append(Letter(number, cells, decision, date_comite, signed, _signatory(dep.dt_libelle), region))
    return result


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


# What a comité's secretary may type in the workbook, besides the forms every command reads.
_COMITE_DATES = (*DATE_FORMATS, "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y")


def _day(value: Any, where: Location) -> dt.date | None:
    try:
        return parse_day(value, _COMITE_DATES)
    except ValueError as exc:
        raise BatchInputError(f"date « {exc} » illisible (JJ/MM/AAAA attendu)", where) from None


def _amount(value: Any, where: Location) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = re.sub(r"[\s\u202f\u00a0€]", "", str(value)).replace(",", ".")
    try:
        return float(text)
    except ValueError:
        raise BatchInputError(f"montant « {value} » illisible (un nombre d'euros attendu)", where) from None


def _signatory(dt_libelle: str) -> str:
    """« Préfet de la Charente » → « Le préfet de la Charente »."""
    return "Le " + dt_libelle[0].lower() + dt_libelle[1:]


def _file_name(ident: str, used: set[str]) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", ident).strip("-")[:60] or "demande"
    name, n = f"notification-{stem}.html", 2
    while name in used:
        name, n = f"notification-{stem}-{n}.html", n + 1
    used.add(name)
    return name


def fmt_date(value: dt.date) -> str:
    months = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
              "novembre", "décembre")
    return f"{'1er' if value.day == 1 else value.day} {months[value.month - 1]} {value.year}"


def write_letters(notifications: Notifications, folder: Path, workbook: Path, dsfr_css: str | None = None) -> Path:
    """One letter per decided demande and the summary (`synthese.html`), in `folder`; the summary's path.
    `dsfr_css`: the Système de design de l'État's stylesheet (`--dsfr`), carried by every page."""
    if not folder.is_dir():
        if folder.parent.is_dir() and not folder.exists():
            folder.mkdir()
        else:
            raise BatchInputError("dossier de sortie introuvable", Location(str(folder)))
    used: set[str] = set()
    for letter in notifications.letters:
        letter.file = _file_name(_text(letter.fields["id"]) or f"ligne-{letter.row}", used)
        amount = _amount(letter.fields["montant_accorde"], Location(str(workbook)))
        html = render("notification.html", inline_css=inline_styles(dsfr_css), title=f"Notification — {letter.file[13:-5]}",
                      letter=letter, f={k: _text(v) for k, v in letter.fields.items()},
                      sentence=DECISION_SENTENCES[letter.decision], date_comite=fmt_date(letter.date_comite),
                      dated=fmt_date(letter.dated),
                      amount=f"{amount:,.0f}\u00a0€".replace(",", "\u202f") if amount is not None else "")
        with atomic_output(folder / letter.file) as tmp:
            tmp.write_text(html, encoding="utf-8")
    summary = folder / "synthese.html"
    html = render("notifications-synthese.html", inline_css=inline_styles(dsfr_css),
                  title="Notifications des décisions du comité régional des financeurs", n=notifications,
                  workbook=workbook.name, f=lambda v: _text(v))
    with atomic_output(summary) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return summary


def summary_text(notifications: Notifications, folder: Path) -> str:
    n = notifications
    lines = [f"{_count(len(n.letters), 'lettre de notification écrite', 'lettres de notification écrites')} dans "
             f"{folder}, {_count(len(n.undecided), 'demande sans décision', 'demandes sans décision')}, "
             f"{_count(len(n.undated), 'décision sans date du comité', 'décisions sans date du comité')}"]
    missing = [f"  non notifiée (ligne {row}) : {ident} — « {decision} » sans date du comité (colonne date_comite)"
               for row, ident, decision in n.undated]
    missing += [f"  non notifiée (ligne {row}) : {ident} — pas de décision du comité" for row, ident in n.undecided]
    lines += missing[:SHOWN]
    if len(missing) > SHOWN:
        lines.append(f"  … et {len(missing) - SHOWN} autres : voir synthese.html")
    return "\n".join(lines)


def _count(n: int, singular: str, plural: str) -> str:
    return f"{n} {singular if n < 2 else plural}"


__all__ = ["read_workbook", "write_letters", "summary_text", "Notifications", "Letter"]
