"""`aiguillage coverage`: for every département × thématique × besoin, the closest level that can
serve a typical commune there — the map of the « zones blanches » d'ingénierie, where only the
agence remains.

The typical commune of a département is the commune of median population among its communes
that belong to an EPCI (all its communes when none does, as in some COM; the lower median, ties
broken by INSEE code): it has the full chain of levels and is neither the préfecture nor the
smallest village. Its demande is the plainest one: the commune as porteur, one thématique and
one besoin of the vocabularies, a simple project, submitted through the DT, no programme.

Local coverage is the share of thématique × besoin pairs served by a territorial level
(communal, intercommunal, départemental, régional); a pair served by the agence alone is a
zone blanche. All pairs of all départements are routed in one batch (`Router.route_many`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Iterable

from .model import LEVELS, Decision
from .territory import Commune
from .workspace import Workspace

LOCAL_LEVELS = ("communal", "intercommunal", "departemental", "regional")


@dataclass(frozen=True)
class CoverageRow:
    departement: str
    thematique: str
    besoin: str
    niveau: str
    offre: str
    structure: str


@dataclass
class DepartementCoverage:
    code: str
    nom: str
    zone: str
    commune: Commune
    rows: list[CoverageRow] = field(default_factory=list)

    @property
    def levels(self) -> Counter:
        return Counter(r.niveau for r in self.rows)

    @property
    def local_share(self) -> float:
        return sum(self.levels[lv] for lv in LOCAL_LEVELS) / len(self.rows) if self.rows else 0.0

    @property
    def agence_share(self) -> float:
        """The zones blanches: pairs that only the agence serves."""
        return self.levels["agence"] / len(self.rows) if self.rows else 0.0


@dataclass
class Coverage:
    departements: list[DepartementCoverage]
    thematiques: list[str]
    besoins: list[str]
    date: dt.date

    @property
    def rows(self) -> Iterable[tuple[DepartementCoverage, CoverageRow]]:
        for dep in self.departements:
            for row in dep.rows:
                yield dep, row


def typical_commune(workspace: Workspace, departement: str) -> Commune | None:
    """The commune of median population among the département's communes in an EPCI."""
    communes = [c for c in workspace.graph.index.all_communes().values()
                if c.departement == departement and c.population is not None]
    pool = sorted([c for c in communes if c.epci] or communes, key=lambda c: (c.population, c.code))
    return pool[(len(pool) - 1) // 2] if pool else None


def check_filters(workspace: Workspace, departements: Iterable[str] = (), thematiques: Iterable[str] = (),
                  besoins: Iterable[str] = ()) -> tuple[str, ...]:
    """Every département, thématique and besoin asked for exists (`--departement`, `--thematique`,
    `--besoin`), else an error on that option with the nearest known values; the départements' codes
    as the division writes them (« 2a » is 2A, « 1 » is 01)."""
    from .conditions import did_you_mean
    from .errors import OptionValueError
    from .territory import known_code

    codes = tuple(known_code(d, workspace.graph.index.departements, "--departement") for d in departements)
    voc = workspace.catalogue.vocabularies
    for option, values, pool in (("--thematique", thematiques, voc["thematiques"].terms),
                                 ("--besoin", besoins, voc["besoins"].terms)):
        for value in values:
            if value not in pool:
                raise OptionValueError(f"« {value} » inconnu{did_you_mean(value, pool)}", option)
    return codes


def compute(
    workspace: Workspace,
    day: dt.date,
    departements: Iterable[str] | None = None,
    thematiques: Iterable[str] | None = None,
    besoins: Iterable[str] | None = None,
) -> Coverage:
    """Route the typical commune of each département for every thématique × besoin."""
    idx = workspace.graph.index
    voc = workspace.catalogue.vocabularies
    themes = list(thematiques or voc["thematiques"].terms)
    needs = list(besoins or voc["besoins"].terms)
    codes = list(departements) if departements else list(idx.departements)
    router = workspace.router()
    result: list[DepartementCoverage] = []
    items = []
    for code in codes:
        commune = typical_commune(workspace, code)
        if commune is None:
            continue
        d = idx.departements[code]
        result.append(DepartementCoverage(code, d.nom, d.zone, commune))
        base, territoire = workspace.prepare({"id": code, "porteur": f"commune:{commune.code}", "thematiques": themes[:1],
                                              "besoins": needs[:1], "complexite": "simple", "saisine": "dt"})
        for theme in themes:
            for need in needs:
                demande = replace(base, id=f"{code}-{theme}-{need}", thematiques=(theme,), besoins=(need,))
                items.append((result[-1], theme, need, (demande, territoire)))
    decisions: list[Decision] = router.route_many([item[3] for item in items], day)
    for (dep, theme, need, _), decision in zip(items, decisions):
        dep.rows.append(CoverageRow(dep.code, theme, need, decision.niveau, decision.offre.id, decision.offre.structure))
    return Coverage(result, themes, needs, day)


# --------------------------------------------------------------------------- tables

CSV_COLUMNS = ("departement", "departement_nom", "commune", "commune_nom", "population", "thematique", "besoin",
               "niveau", "offre_id", "structure", "zone_blanche")


def table(coverage: Coverage) -> list[dict[str, Any]]:
    """One row per département × thématique × besoin."""
    return [
        {"departement": dep.code, "departement_nom": dep.nom, "commune": dep.commune.code,
         "commune_nom": dep.commune.nom, "population": dep.commune.population, "thematique": row.thematique,
         "besoin": row.besoin, "niveau": row.niveau, "offre_id": row.offre, "structure": row.structure,
         "zone_blanche": row.niveau == "agence"}
        for dep, row in coverage.rows
    ]


def csv_rows(coverage: Coverage) -> list[dict[str, Any]]:
    """The table as a French spreadsheet reads it (oui / non)."""
    return [{**row, "zone_blanche": "oui" if row["zone_blanche"] else "non"} for row in table(coverage)]


def csv_text(coverage: Coverage) -> str:
    """The table as a CSV a French spreadsheet opens (`;`)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, delimiter=";", lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(coverage))
    return out.getvalue()


def summary(coverage: Coverage) -> list[dict[str, Any]]:
    """One row per département: how many pairs each level serves, local share, zones blanches."""
    out = []
    for dep in coverage.departements:
        levels = dep.levels
        out.append({
            "departement": dep.code, "nom": dep.nom, "zone": dep.zone,
            "commune_type": {"code": dep.commune.code, "nom": dep.commune.nom, "population": dep.commune.population},
            "couples": len(dep.rows),
            "niveaux": {lv: levels[lv] for lv in LEVELS},
            "part_locale": round(dep.local_share, 4),
            "part_zones_blanches": round(dep.agence_share, 4),
        })
    return out


def as_json(coverage: Coverage) -> dict[str, Any]:
    return {
        "date": coverage.date.isoformat(),
        "definition": {
            "commune_type": "commune de population médiane parmi celles du département membres d'un EPCI",
            "demande": "commune porteuse, une thématique, un besoin, projet simple, saisine par le DT",
            "part_locale": "part des couples thématique × besoin servis aux niveaux communal, intercommunal, "
                           "départemental ou régional",
            "zone_blanche": "couple servi par la seule agence",
        },
        "departements": summary(coverage),
        "lignes": table(coverage),
    }


def summary_text(coverage: Coverage) -> str:
    """The summary for a person, département by département."""
    pairs = len(coverage.thematiques) * len(coverage.besoins)
    lines = [f"Couverture en ingénierie au {coverage.date:%d/%m/%Y} : {len(coverage.thematiques)} thématiques × "
             f"{len(coverage.besoins)} besoins = {pairs} couples par département, pour sa commune type",
             "(population médiane des communes membres d'un EPCI ; projet simple, saisine par le DT).",
             "",
             f"{'Dép.':<5}{'Département':<26}{'Commune type':<36}{'locale':>8}{'opérateurs':>12}{'zones blanches':>16}"]
    for dep in coverage.departements:
        commune = f"{dep.commune.nom} ({dep.commune.population:,})".replace(",", " ")
        lines.append(f"{dep.code:<5}{dep.nom[:25]:<26}{commune[:35]:<36}{dep.local_share:>8.0%}"
                     f"{dep.levels['operateur'] / max(len(dep.rows), 1):>12.0%}{dep.agence_share:>16.0%}")
    total = [r for _, r in coverage.rows]
    if total:
        local = sum(r.niveau in LOCAL_LEVELS for r in total) / len(total)
        blank = sum(r.niveau == "agence" for r in total) / len(total)
        lines += ["", f"Ensemble : {local:.0%} des couples servis localement, {blank:.0%} en zone blanche "
                      "(seule l'agence)."]
    return "\n".join(lines).replace("%", " %")


__all__ = ["Coverage", "DepartementCoverage", "CoverageRow", "compute", "typical_commune", "table", "summary",
           "as_json", "summary_text", "csv_rows", "csv_text", "check_filters", "CSV_COLUMNS", "LOCAL_LEVELS"]
