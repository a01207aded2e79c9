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
zone blanche.

Every EPCI is checked too, through its own typical commune (median population among its
members): a pair served locally in the département's typical commune, or in another of its
EPCI, but not in this one is a hole (« trou ») inside the département, listed with the EPCI.
Everything is one batch through the one decider, without explanations (`Walk.decide`); territories
that no condition can tell apart (same candidate offers, same levels, same facts as the
conditions read them) are decided once.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from .conditions import Canonicalizer
from .model import LEVEL_INDEX, LEVELS
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


@dataclass(frozen=True)
class Hole:
    """A pair served locally elsewhere in the département, but not in this EPCI."""

    epci: str
    epci_nom: str
    commune: Commune  # the EPCI's typical commune
    thematique: str
    besoin: str
    niveau: str  # where this EPCI's demande goes
    ailleurs: str  # the closest level that serves the pair elsewhere in the département


@dataclass
class DepartementCoverage:
    code: str
    nom: str
    zone: str
    commune: Commune
    rows: list[CoverageRow] = field(default_factory=list)
    epcis: int = 0  # EPCI checked (those where most of their people live in the département)
    holes: list[Hole] = field(default_factory=list)

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
    return _typical_of_departements(workspace).get(departement)


def _typical_of_departements(workspace: Workspace) -> dict[str, Commune]:
    """Per département, its typical commune (the communes read once for all départements)."""
    by_departement: dict[str, list[Commune]] = {}
    for c in workspace.graph.index.all_communes().values():
        if c.population is not None:
            by_departement.setdefault(c.departement, []).append(c)
    typical = {}
    for code, communes in by_departement.items():
        pool = sorted([c for c in communes if c.epci] or communes, key=lambda c: (c.population, c.code))
        typical[code] = pool[(len(pool) - 1) // 2]
    return typical


def _typical_of_epcis(workspace: Workspace) -> dict[str, Commune]:
    """Per EPCI, the commune of median population among its members (the lower median, then code)."""
    members: dict[str, list[Commune]] = {}
    for c in workspace.graph.index.all_communes().values():
        if c.epci and c.population is not None:
            members.setdefault(c.epci, []).append(c)
    return {epci: sorted(pool, key=lambda c: (c.population, c.code))[(len(pool) - 1) // 2]
            for epci, pool in members.items()}


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
    """Route the typical commune of each département, and of each of its EPCI, for every thématique × besoin."""
    from .decide import Walk, existing_levels
    from .rows import fact_columns, factorize

    idx = workspace.graph.index
    voc = workspace.catalogue.vocabularies
    themes = list(thematiques or voc["thematiques"].terms)
    needs = list(besoins or voc["besoins"].terms)
    codes = list(departements) if departements else list(idx.departements)
    router = workspace.router()
    result: list[DepartementCoverage] = []
    by_epci = _typical_of_epcis(workspace)
    by_departement = _typical_of_departements(workspace)
    epcis_by_departement: dict[str, list[str]] = {}
    for e, epci in idx.epcis.items():
        if e in by_epci:
            epcis_by_departement.setdefault(epci.departement, []).append(e)
    communes: list[Commune] = []  # the typical communes: per département its own, then its EPCI's
    epcis_of: dict[str, list[str]] = {}
    for code in codes:
        commune = by_departement.get(code)
        if commune is None:
            continue
        d = idx.departements[code]
        result.append(DepartementCoverage(code, d.nom, d.zone, commune))
        communes.append(commune)
        epcis_of[code] = sorted(epcis_by_departement.get(code, []))
        result[-1].epcis = len(epcis_of[code])
        communes.extend(by_epci[e] for e in epcis_of[code])
    # Territories the decisions cannot tell apart are decided once: same candidates, same levels,
    # same facts as every condition reads them (the population as thresholds see it…).
    territoires = {c.code: workspace.graph.territoire(f"commune:{c.code}") for c in communes}
    canon = Canonicalizer([*router.conditions.values(), *(r.quand for r in workspace.policy.regles)])
    keys = {}
    for code, t in territoires.items():
        facts = {"commune": t.commune, "epci": t.epci, "departement": t.departement, "region": t.region,
                 "zone": t.zone, "population": t.population, "porteur": t.kind}
        keys[code] = (id(router.candidates(t)), frozenset(existing_levels(t)), canon.canonical(facts))
    case_of, cases = factorize([keys[c] for c in territoires])
    stands_for = {}
    for code, case in zip(territoires, case_of.tolist()):
        stands_for.setdefault(case, code)
    representatives = [territoires[stands_for[case]] for case in range(len(cases))]
    # One row per representative × thématique × besoin: one batch, no explanation.
    pairs = len(themes) * len(needs)
    n = len(representatives) * pairs
    territory = np.repeat(np.arange(len(representatives), dtype=np.int64), pairs)
    theme_codes = np.tile(np.repeat(np.arange(len(themes), dtype=np.int64), len(needs)), len(representatives))
    need_codes = np.tile(np.arange(len(needs), dtype=np.int64), len(representatives) * len(themes))
    given = {"thematiques": (theme_codes, [(t,) for t in themes]), "besoins": (need_codes, [(b,) for b in needs])}
    walk = Walk(router, fact_columns(workspace.catalogue, n, given, territory, representatives, {}), day)
    decided = walk.decide(np.arange(n), explain=False)
    position = {code: i for i, code in enumerate(territoires)}
    level_of = decided.level.astype(np.int64).reshape(len(representatives), pairs)  # per case, per pair
    words = [(t, b) for t in themes for b in needs]

    def case(commune: Commune) -> int:
        return int(case_of[position[commune.code]])

    for dep in result:
        start = case(dep.commune) * pairs
        dep.rows = [CoverageRow(dep.code, *pair, LEVELS[level], offre.id, offre.structure)
                    for pair, level, offre in zip(words, level_of[case(dep.commune)].tolist(),
                                                  decided.offre[start:start + pairs])]
        epcis = epcis_of[dep.code]
        if not epcis:
            continue
        # Per pair (rows) and EPCI (columns), the level its typical commune's demande goes to.
        by_epci_level = level_of[[case(by_epci[e]) for e in epcis]].T
        best = np.minimum(level_of[case(dep.commune)], by_epci_level.min(axis=1))
        local = len(LOCAL_LEVELS)  # the local levels come first in LEVELS
        for k, j in zip(*np.nonzero((best < local)[:, None] & (by_epci_level >= local))):
            thematique, besoin = words[k]
            dep.holes.append(Hole(epcis[j], idx.epcis[epcis[j]].nom, by_epci[epcis[j]], thematique, besoin,
                                  LEVELS[by_epci_level[k, j]], LEVELS[best[k]]))
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
            "epci_examines": dep.epcis,
            "trous": [{"epci": h.epci, "nom": h.epci_nom, "commune_type": h.commune.code, "thematique": h.thematique,
                       "besoin": h.besoin, "niveau": h.niveau, "ailleurs": h.ailleurs} for h in dep.holes],
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
            "trou": "couple servi localement ailleurs dans le département (commune type ou autre EPCI), mais pas "
                    "dans la commune type de cet EPCI (population médiane de ses membres)",
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
             f"{'Dép.':<5}{'Département':<26}{'Commune type':<36}{'locale':>8}{'opérateurs':>12}{'zones blanches':>16}"
             f"{'trous (EPCI)':>16}"]
    for dep in coverage.departements:
        commune = f"{dep.commune.nom} ({dep.commune.population:,})".replace(",", " ")
        holes = f"{len(dep.holes)} ({len({h.epci for h in dep.holes})}/{dep.epcis})"
        lines.append(f"{dep.code:<5}{dep.nom[:25]:<26}{commune[:35]:<36}{dep.local_share:>8.0%}"
                     f"{dep.levels['operateur'] / max(len(dep.rows), 1):>12.0%}{dep.agence_share:>16.0%}{holes:>16}")
    total = [r for _, r in coverage.rows]
    if total:
        local = sum(r.niveau in LOCAL_LEVELS for r in total) / len(total)
        blank = sum(r.niveau == "agence" for r in total) / len(total)
        lines += ["", f"Ensemble : {local:.0%} des couples servis localement, {blank:.0%} en zone blanche "
                      "(seule l'agence).",
                  f"Trous : {sum(len(d.holes) for d in coverage.departements)} couples servis localement ailleurs dans "
                  f"leur département mais pas dans un EPCI ({sum(d.epcis for d in coverage.departements)} EPCI "
                  "examinés, chacun par sa commune type)."]
    return "\n".join(lines).replace("%", " %")


__all__ = ["Coverage", "DepartementCoverage", "Hole", "CoverageRow", "compute", "typical_commune", "table", "summary",
           "as_json", "summary_text", "csv_rows", "csv_text", "check_filters", "CSV_COLUMNS", "LOCAL_LEVELS"]
