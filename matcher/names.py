"""Find a commune or an EPCI by its name as people type it: without accents, with a typo, from the
first letters. Used by the web page's autocompletion; `territory.resolve` reads what is chosen."""

from __future__ import annotations

import bisect
from typing import NamedTuple

from .territory import TerritoryIndex, default_index, normalize_name

EPCI_KINDS = {"CC": "communauté de communes", "CA": "communauté d'agglomération", "CU": "communauté urbaine",
              "METRO": "métropole", "MET69": "métropole"}


class Found(NamedTuple):
    code: str        # what `route --porteur` takes: an INSEE code or epci:SIREN
    libelle: str     # « Angoulême (16, Charente) — commune »
    score: float


class NameFinder:
    """Every current commune and EPCI, by normalised name; built once (a few hundred milliseconds)."""

    def __init__(self, index: TerritoryIndex | None = None):
        index = index or default_index()
        departements = index.departements
        self._codes: list[str] = []
        self._labels: list[str] = []
        self._names: list[str] = []
        self._weights: list[int] = []
        for commune in index.all_communes().values():
            dep = departements.get(commune.departement)
            self._codes.append(commune.code)
            self._labels.append(f"{commune.nom} ({commune.departement}{', ' + dep.nom if dep else ''}) — commune")
            self._names.append(normalize_name(commune.nom))
            self._weights.append(commune.population or 0)
        for epci in index.epcis.values():
            self._codes.append(f"epci:{epci.siren}")
            self._labels.append(f"{epci.nom} ({epci.departement}) — {EPCI_KINDS.get(epci.type, 'EPCI')}")
            self._names.append(normalize_name(epci.nom))
            self._weights.append(epci.population)

        # Sorted names: the names that start with what was typed are a range, found by bisection.
        self._sorted = sorted(range(len(self._names)), key=self._names.__getitem__)
        self._sorted_names = [self._names[i] for i in self._sorted]

    def find(self, text: str, limit: int = 8) -> list[Found]:
        """The best matches: the names that start with what was typed (the most populated first),
        then the closest whole names by edit distance (a typo, an accent, a missing letter)."""
        from rapidfuzz import fuzz, process

        wanted = normalize_name(text)
        if len(wanted) < 2:
            return []
        start = bisect.bisect_left(self._sorted_names, wanted)
        end = bisect.bisect_left(self._sorted_names, wanted + "\uffff")
        prefixed = sorted(self._sorted[start:end], key=lambda i: (self._names[i] != wanted, -self._weights[i]))
        chosen = {i: 100.0 for i in prefixed[:limit]}
        if len(chosen) < limit:
            close = process.extract(wanted, self._names, scorer=fuzz.QRatio, limit=limit * 3, score_cutoff=60)
            for _, score, i in sorted(close, key=lambda m: (-round(m[1]), -self._weights[m[2]])):
                chosen.setdefault(i, score)
        return [Found(self._codes[i], self._labels[i], round(score, 1)) for i, score in list(chosen.items())[:limit]]


__all__ = ["NameFinder", "Found"]
