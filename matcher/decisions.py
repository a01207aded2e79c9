"""A decisions file (the output of `aiguillage batch`) read back for the governance outputs: the
comités' reports, the impact measures and the veille et alerte.

Every row keeps a reference that a reader can find in the file — its `id` when no other row
shares it, else « ligne N » as a spreadsheet numbers it — so that every figure a report shows
can be traced to the rows behind it. Rows the batch could not route (`erreur`) are counted apart
and left out of every measure.

What the DT's opinion is on a given day (`opinion_status`): an opinion recorded as favourable or
unfavourable counts from its `date_avis_dt` (before it, the opinion was still awaited); an
opinion `en_attente` has been awaited since its `date_avis_dt` (the day the DT was asked) or,
without one, since the demande was filed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .backlog import normalize_header, read_backlog
from .errors import BatchInputError, Location
from .model import DATE_FORMATS, LEVEL_INDEX, LEVELS

LOCAL_LEVELS = ("communal", "intercommunal", "departemental", "regional")
REQUIRED_COLUMNS = ("niveau", "offre_id", "erreur", "departement", "region", "avis_dt_requis", "instruction")
# The input fields a report reads, and the header names a backlog may give them (as `batch` reads them).
INPUT_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id", "identifiant", "numero", "reference", "ref"),
    "intitule": ("intitule", "titre", "projet", "nom_du_projet", "objet"),
    "thematiques": ("thematiques", "thematique", "themes", "theme"),
    "besoins": ("besoins", "besoin"),
    "programmes": ("programmes", "programme"),
    "complexite": ("complexite",),
    "saisine": ("saisine",),
    "montant": ("montant", "montant_du_projet", "budget", "cout_du_projet"),
    "date_depot": ("date_depot", "date_de_depot", "depot", "date_de_la_demande"),
    "avis_dt": ("avis_dt", "avis_du_dt", "avis_du_delegue_territorial"),
    "date_avis_dt": ("date_avis_dt", "date_de_l_avis_du_dt", "date_avis"),
}
DECISION_FIELDS = ("niveau", "offre_id", "offre_nom", "structure", "departement_dt", "motif", "delegue_territorial",
                   "territoire", "departement", "region", "epci", "examen", "alertes", "regles", "capacite",
                   "changement", "ancien_niveau", "ancienne_offre", "cause", "date_decision", "version_catalogue")
AVIS_LABELS = {"favorable": "favorable", "defavorable": "défavorable", "en_attente": "en attente", "absent": "non demandé"}


@dataclass
class Decisions:
    """The routed rows of a decisions file, one per row, with typed columns."""

    rows: pd.DataFrame
    path: str
    total: int  # rows in the file
    error_refs: list[str]  # rows the batch could not route
    date_decision: dt.date | None
    version_catalogue: str

    def subset(self, mask: pd.Series | np.ndarray) -> "Decisions":
        return Decisions(self.rows[np.asarray(mask)], self.path, self.total, self.error_refs, self.date_decision,
                         self.version_catalogue)

    @property
    def refs(self) -> list[str]:
        return self.rows["ref"].tolist()


def _find(columns: list[str], aliases: tuple[str, ...]) -> str | None:
    by_normal: dict[str, str] = {}
    for name in columns:
        by_normal.setdefault(normalize_header(name), name)
    return next((by_normal[a] for a in aliases if a in by_normal), None)


def _dates(values: pd.Series) -> pd.Series:
    """Each cell as a day, in any of the ways a demande may write it (`DATE_FORMATS`: a file re-saved
    by a spreadsheet writes 03/12/2026 or 2026-12-03 00:00:00); anything else is no date."""
    text = values.str.strip()
    days = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    for fmt in DATE_FORMATS:
        missing = days.isna() & (text != "")
        if not missing.any():
            break
        days[missing] = pd.to_datetime(text[missing], format=fmt, errors="coerce")
    return days.dt.normalize()


def _words(values: pd.Series) -> pd.Series:
    distinct = {v: tuple(w.strip() for w in v.split("|") if w.strip()) for v in values.unique()}
    return values.map(distinct)


def _number(values: pd.Series) -> pd.Series:
    text = values.str.replace("\u202f", "", regex=False).str.replace("\xa0", "", regex=False)
    text = text.str.replace(" ", "", regex=False).str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce")


def read_decisions(path: Path) -> Decisions:
    """Read a decisions file (.csv, .xlsx, .parquet) written by `aiguillage batch`."""
    backlog = read_backlog(Path(path))
    table = backlog.table
    names = table.column_names
    for needed in REQUIRED_COLUMNS:
        if needed not in names:
            raise BatchInputError(
                f"colonne « {needed} » absente : ce n'est pas un fichier de décisions (produisez-le avec "
                "« aiguillage batch CARNET -o DECISIONS »)", Location(str(path), 1, 1), "colonne-manquante")
    inputs = {field: _find([c for c in names if c not in DECISION_FIELDS], aliases)
              for field, aliases in INPUT_FIELDS.items()}
    used = {*REQUIRED_COLUMNS, *(c for c in DECISION_FIELDS if c in names), *(c for c in inputs.values() if c)}
    raw = pd.DataFrame({name: table.column(name).to_pandas() for name in names if name in used}).fillna("").astype(str)
    n = len(raw)
    lines = backlog.line_numbers()
    id_column = inputs["id"]
    ids = raw[id_column].str.strip() if id_column else pd.Series([""] * n, index=raw.index)
    # A row is known by its own id when it has one that no other row shares; the others by their
    # line, and only the identified rows are ever paired with another file's rows.
    identified = (ids != "") & ~ids.duplicated(keep=False)
    refs = ids.where(identified, pd.Series([f"ligne {line}" for line in lines], index=raw.index))
    failed = raw["erreur"].str.strip() != ""
    frame = pd.DataFrame({"ref": refs, "ligne": lines, "identifie": identified})
    blank = pd.Series([""] * n, index=raw.index)

    def text(column: str | None) -> pd.Series:
        return raw[column].str.strip() if column and column in raw else blank

    frame["intitule"] = text(inputs["intitule"])
    for name in DECISION_FIELDS:
        frame[name] = text(name)
    frame["niveau_rang"] = frame["niveau"].map(LEVEL_INDEX).fillna(-1).astype(int)
    frame["local"] = frame["niveau"].isin(LOCAL_LEVELS)
    frame["regles"] = _words(frame["regles"])
    for field in ("thematiques", "besoins", "programmes"):
        frame[field] = _words(text(inputs[field]))
    frame["complexite"] = text(inputs["complexite"]).str.lower().replace("", "simple")
    frame["saisine"] = text(inputs["saisine"]).str.lower().replace("", "dt")
    frame["montant"] = _number(text(inputs["montant"]))
    frame["date_depot"] = _dates(text(inputs["date_depot"]))
    frame["avis_dt"] = text(inputs["avis_dt"]).str.lower()
    frame["date_avis_dt"] = _dates(text(inputs["date_avis_dt"]))
    frame["avis_requis"] = raw["avis_dt_requis"].str.strip() == "oui"
    frame["instruisible"] = raw["instruction"].str.strip() == ""
    frame["commune"] = frame["territoire"].where(frame["territoire"].str.startswith("commune:"), "").str[8:]
    causes = escalation_causes(frame)
    frame["cause_code"], frame["cause_escalade"] = causes["code"], causes["label"]
    dates = _dates(frame.loc[~failed, "date_decision"]).dropna().unique()
    versions = frame.loc[~failed, "version_catalogue"].unique()
    return Decisions(
        rows=frame[~failed.to_numpy()].reset_index(drop=True),
        path=str(path),
        total=n,
        error_refs=frame.loc[failed.to_numpy(), "ref"].tolist(),
        date_decision=pd.Timestamp(dates[0]).date() if len(dates) == 1 else None,
        version_catalogue=versions[0] if len(versions) == 1 else "",
    )


# --------------------------------------------------------------------------- why a demande went far


def _cause(niveau: str, examen: str, capacite: str) -> tuple[str, str]:
    """Why a demande was not served locally: the first reason its `examen` gives at the local levels
    (an escalation rule, a full offer, offers whose conditions fail, or no offer at all)."""
    if capacite:
        return "capacite", f"Offre locale complète (capacité annuelle) : {capacite.split(' ', 1)[0]}"
    set_aside = False
    for part in examen.split(" | "):
        level, _, status = part.partition(": ")
        if level not in LOCAL_LEVELS:
            break
        if status.startswith("ignore (règle "):
            rule = status[len("ignore (règle "):].rstrip(")")
            return f"regle:{rule}", f"Règle « {rule} » : niveaux locaux ignorés"
        if status.startswith("offres_ecartees"):
            set_aside = True
    if set_aside:
        return "ecartees", "Offres locales écartées : leurs conditions ne sont pas remplies"
    return "aucune", "Aucune offre locale pour ces thématiques et besoins"


def escalation_causes(frame: pd.DataFrame) -> pd.DataFrame:
    """Per row sent beyond the local levels (an escalation), the code and French label of its cause
    ('' for a row served locally)."""
    far = (~frame["niveau"].isin(LOCAL_LEVELS) & (frame["niveau"] != "")).to_numpy()
    codes = np.full(len(frame), "", dtype=object)
    labels = np.full(len(frame), "", dtype=object)
    if far.any():  # each distinct examination once: a million rows have a few thousand
        keys = pd.MultiIndex.from_frame(frame.loc[far, ["niveau", "examen", "capacite"]])
        ids, distinct = keys.factorize()
        causes = [_cause(*key) for key in distinct]
        codes[far] = np.array([c for c, _ in causes], dtype=object)[ids]
        labels[far] = np.array([label for _, label in causes], dtype=object)[ids]
    return pd.DataFrame({"code": codes, "label": labels}, index=frame.index)


# --------------------------------------------------------------------------- the DT's opinion


NO_DAY = -(10**9)  # the ordinal of a missing date: before every day


def ordinals(dates: pd.Series) -> np.ndarray:
    """Each date as its ordinal (`dt.date.toordinal`), NO_DAY when missing."""
    out = np.full(len(dates), NO_DAY, dtype=np.int64)
    present = dates.notna().to_numpy()
    out[present] = [d.toordinal() for d in dates[present].dt.date]
    return out


def opinions_as_of(avis: np.ndarray, avis_day: np.ndarray, depot_day: np.ndarray, day: dt.date
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The DT's opinion on `day` and since which day (ordinal) it has been awaited (NO_DAY once given):

    - favorable / defavorable count from their date_avis_dt (always, without one); before it, the
      opinion was awaited, since the filing;
    - en_attente has been awaited since its date_avis_dt (the day the DT was asked, not before the
      filing) — before that day it was not asked yet (absent) — or, without one, since the filing;
    - no opinion at all: absent (not asked), since the filing."""
    today = day.toordinal()
    given = np.isin(avis, ("favorable", "defavorable"))
    dated = avis_day != NO_DAY
    by_then = given & (~dated | (avis_day <= today))
    asked = (avis == "en_attente") & (~dated | (avis_day <= today))
    status = np.where(by_then, avis, np.where(given | asked, "en_attente", "absent"))
    since = np.where((avis == "en_attente") & dated & asked, np.maximum(avis_day, depot_day), depot_day)
    return status, np.where(by_then, NO_DAY, since)


def opinion_status(rows: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """As of `day`: each row's opinion (favorable, defavorable, en_attente, absent), since when it has
    been awaited, and for how many days (for the rows whose opinion is not given yet)."""
    status, since = opinions_as_of(rows["avis_dt"].to_numpy(dtype=object), ordinals(rows["date_avis_dt"]),
                                   ordinals(rows["date_depot"]), day)
    awaited = since != NO_DAY
    since_dates = pd.to_datetime(pd.Series([dt.date.fromordinal(int(s)) if ok else None
                                            for s, ok in zip(since, awaited)], index=rows.index, dtype=object))
    days = pd.Series(np.where(awaited, day.toordinal() - since, np.nan), index=rows.index)
    return pd.DataFrame({"avis": status, "attente_depuis": since_dates, "jours_attente": days}, index=rows.index)


# --------------------------------------------------------------------------- periods


def read_period(path: Path, start: dt.date | None, end: dt.date | None) -> tuple[Decisions, int]:
    """A decisions file limited to the demandes filed in the period (`--du`, `--au`), and how many
    undated rows that left out."""
    from .errors import OptionValueError

    if start and end and start > end:
        raise OptionValueError("--du est après --au", "--du")
    decisions = read_decisions(path)
    if start is None and end is None:
        return decisions, 0
    undated = int(decisions.rows["date_depot"].isna().sum())
    return decisions.subset(within(decisions.rows, start, end)), undated


def within(rows: pd.DataFrame, start: dt.date | None, end: dt.date | None) -> pd.Series:
    """The rows filed between two days (inclusive); without bounds, every row."""
    mask = pd.Series(True, index=rows.index)
    if start is not None:
        mask &= rows["date_depot"] >= pd.Timestamp(start)
    if end is not None:
        mask &= rows["date_depot"] <= pd.Timestamp(end)
    return mask


def period_key(dates: pd.Series, step: str) -> pd.Series:
    """« 2026-03 » by month, « 2026-T1 » by quarter; '' for a row without a date."""
    if step == "trimestre":
        keys = dates.dt.year.astype("Int64").astype(str) + "-T" + dates.dt.quarter.astype("Int64").astype(str)
    else:
        keys = dates.dt.strftime("%Y-%m")
    return keys.where(dates.notna(), "")


def root_theme(words: tuple[str, ...], parents: dict[str, str | None]) -> tuple[str, ...]:
    """The top-level thématiques of a demande's words (a word's oldest ancestor)."""
    roots = []
    for word in words:
        seen = {word}
        while parents.get(word) and parents[word] not in seen:
            word = parents[word]  # type: ignore[assignment]
            seen.add(word)
        roots.append(word)
    return tuple(dict.fromkeys(roots))


__all__ = ["Decisions", "read_decisions", "escalation_causes", "opinion_status", "opinions_as_of", "ordinals",
           "NO_DAY", "within", "period_key",
           "root_theme", "LOCAL_LEVELS", "AVIS_LABELS"]
