"""Where an offer can be mobilised: the départements and régions its perimeter touches.

The router splits its engine rulesets along it, the comité local lists the offers of its
département, the veille looks for a thématique that no local offer serves anywhere in a région:
all read an offer's perimeter this way (named
perimeters expanded, an EPCI spanning two départements in both).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from .model import Offre
from .territory import TerritoryGraph, departement_of_commune, parse_ref

LOCAL_LEVELS = ("communal", "intercommunal", "departemental", "regional")


@dataclass(frozen=True)
class Reach:
    departements: frozenset[str]  # touched through a commune, an EPCI or the département itself
    regions: frozenset[str]  # touched at all (the régions of those départements included)
    whole_regions: frozenset[str]  # covered as a whole (a `region:` reference)
    national: bool

    def touches(self, departement: str, region: str) -> bool:
        return self.national or departement in self.departements or region in self.whole_regions


def reach(offre: Offre, graph: TerritoryGraph) -> Reach:
    idx = graph.index
    departements: set[str] = set()
    whole: set[str] = set()
    national = False
    for ref in graph.expand(offre.perimetre):
        kind, code = parse_ref(ref)
        if kind == "commune":
            departements.add(departement_of_commune(code))
        elif kind == "epci":
            departements.update(idx.epcis[code].departements)
        elif kind == "departement":
            departements.add(code)
        elif kind == "region":
            whole.add(code)
        elif kind == "national":
            national = True
    regions = whole | {idx.departements[d].region for d in departements if d in idx.departements}
    return Reach(frozenset(departements), frozenset(regions), frozenset(whole), national)


def offers_reaching(offres: Iterable[Offre], graph: TerritoryGraph, departement: str, day: dt.date | None = None,
                    levels: Iterable[str] = LOCAL_LEVELS, national: bool = False) -> list[Offre]:
    """The offers of these levels whose perimeter touches the département (valid on `day` if given);
    offers with a national perimeter only when `national`."""
    region = graph.index.departements[departement].region
    wanted = set(levels)
    found = []
    for offre in offres:
        if offre.niveau not in wanted or offre.repli or (day is not None and not offre.validite.covers(day)):
            continue
        r = reach(offre, graph)
        if r.national and not national:
            continue
        if r.touches(departement, region):
            found.append(offre)
    return found


__all__ = ["Reach", "reach", "offers_reaching", "LOCAL_LEVELS"]
