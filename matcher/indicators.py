"""The indicators the veille et alerte watches, computed from a decisions file as of a given day.

As of day D, the file is read as it stood then: only the demandes filed by D count (a row without
`date_depot` counts on every day), and a DT's opinion counts from its `date_avis_dt`. This is what
lets `alerts.py` say since when an alert holds: it asks the same rule about earlier days.

Each fact has a stable key (the same département, offer or demande on every day), the values of its
indicator's fields (`alertrules.INDICATORS`; None for a value that does not exist, such as a share
of no demande), where it is, and the rows of the decisions file behind it.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import pandas as pd

from .decisions import LOCAL_LEVELS, NO_DAY, Decisions, opinions_as_of, ordinals
from .model import Catalogue, Offre
from .reach import reach
from .territory import TerritoryGraph

DEFAULT_WINDOW = 90  # days
_EPOCH = dt.date(1970, 1, 1).toordinal()
# The fields of a demande's fact that change with the day asked about (the others are read once).
_DAY_DEPENDENT = ("avis_dt", "attente_depuis", "jours_attente", "jours_depuis_depot")


def hashable(value: Any) -> Any:
    """A fact's value as a key (a list as a tuple)."""
    return tuple(value) if isinstance(value, list) else value


@dataclass(frozen=True)
class Fact:
    kind: str
    key: str  # the same thing on every day: "departement:16", "offre:atd16-sig", "demande:D16-0001"…
    values: dict[str, Any]
    reference: str  # where, as a reference: departement:16, region:75, offre:ID, demande:ID
    label: str  # where, in French
    rows: tuple[str, ...]  # the row references of the decisions file behind it


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _minus(a: float | None, b: float | None) -> float | None:
    return round(a - b, 1) if a is not None and b is not None else None


class Indicators:
    """Computes the facts of every kind of indicator from one decisions file, for any day.

    The rows are held as numpy arrays (dates as ordinals), so that asking about another day —
    which the search for since when an alert holds does often — costs a few array operations."""

    def __init__(self, decisions: Decisions, catalogue: Catalogue, graph: TerritoryGraph,
                 window: int = DEFAULT_WINDOW):
        self.decisions = decisions
        self.rows = rows = decisions.rows
        self.catalogue = catalogue
        self.graph = graph
        self.window = window
        idx = graph.index
        self.ref = rows["ref"].to_numpy(dtype=object)
        self.depot = ordinals(rows["date_depot"])
        self.dated = self.depot != NO_DAY
        self.depot_year = np.where(self.dated, rows["date_depot"].dt.year.fillna(0).to_numpy(dtype=np.int64), 0)
        self.avis_date = ordinals(rows["date_avis_dt"])
        self.avis = rows["avis_dt"].to_numpy(dtype=object)
        self.needed = rows["avis_requis"].to_numpy(dtype=bool)
        self.agence = (rows["niveau"] == "agence").to_numpy()
        self.local = rows["local"].to_numpy(dtype=bool)
        self.departement = rows["departement"].to_numpy(dtype=object)
        self.region = rows["region"].to_numpy(dtype=object)
        self.departements = sorted(set(self.departement) - {""})
        self.regions = sorted(set(self.region) - {""})
        # Compared as integer codes: a hundred comparisons of every row's département as strings cost
        # a tenth of a second.
        dep_codes, dep_uniques = pd.factorize(self.departement)
        dep_code = {d: k for k, d in enumerate(dep_uniques)}
        self.dep_rows = {d: dep_codes == dep_code[d] for d in self.departements}
        self.dep_region = {d: str(self.region[self.dep_rows[d]][0]) for d in self.departements}
        self.dep_names = {d: idx.departements[d].nom if d in idx.departements else d for d in self.departements}
        self.region_names = {r: idx.regions[r].nom if r in idx.regions else r for r in self.regions}
        routed = set(rows["offre_id"].unique())
        self.offers: list[Offre] = []
        self.offer_regions: dict[str, frozenset[str]] = {}
        wanted, regions = set(self.departements), set(self.regions)
        for offre in catalogue.offres:
            if offre.repli:
                continue
            r = reach(offre, graph)
            self.offer_regions[offre.id] = r.regions if not r.national else frozenset(idx.regions)
            if offre.id in routed or r.national or r.departements & wanted or r.whole_regions & regions:
                self.offers.append(offre)
        offre_id = rows["offre_id"].to_numpy(dtype=object)
        # The offer a row was refused by for capacity is the first word of `capacite`: cut by one regular
        # expression over the column, not split row by row.
        full = rows["capacite"].str.replace(r"(?s) .*", "", regex=True).where(rows["capacite"] != "", "")
        full = full.to_numpy(dtype=object)
        empty = np.zeros(0, dtype=np.int64)
        routed_at = pd.Series(offre_id).groupby(offre_id).indices
        refused_at = pd.Series(full).groupby(full).indices
        self.offer_rows = {o.id: routed_at.get(o.id, empty) for o in self.offers}
        self.refused_rows = {o.id: refused_at.get(o.id, empty) for o in self.offers}
        exploded = rows["thematiques"].reset_index(drop=True).explode().dropna()
        positions = exploded.groupby(exploded.astype(str)).indices
        rows_of_exploded = exploded.index.to_numpy()
        self.theme_index = {word: np.unique(rows_of_exploded[positions[word]]) if word in positions else empty
                            for word in catalogue.vocabularies["thematiques"].terms}
        # Each row's région as a position in self.regions (len(self.regions) for none), to count by bincount.
        position = pd.Index(self.regions).get_indexer(self.region)
        self.region_position = np.where(position < 0, len(self.regions), position).astype(np.int64)
        decided = decisions.date_decision
        self.undated_year = decided.year if decided else None
        self._opinion_rows = np.flatnonzero(self.needed)
        self._static: dict[int, tuple[dict[str, Any], str]] = {}
        self._word_offers: dict[str, list[Offre]] = {}
        self._demande_rows: dict[str, int] = {}  # fact key -> row, for the rows whose opinion is required
        self._offer_positions: dict[str, int] = {}  # fact key -> position in self.offers
        self._validity_changes: dict[str, list[int]] = {}  # per thématique, the ordinal days they change on
        self._serving_by_stretch: dict[tuple[str, int], Counter[str]] = {}

    # ----------------------------------------------------------------- the file as of a day

    def filed_by(self, day: dt.date) -> np.ndarray:
        return self.depot <= day.toordinal()  # a missing date (NO_DAY) counts on every day

    def opinions(self, day: dt.date, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per row (of `rows`, or every row), the DT's opinion as of `day` and since which ordinal day it
        has been awaited."""
        if rows is None:
            return opinions_as_of(self.avis, self.avis_date, self.depot, day)
        return opinions_as_of(self.avis[rows], self.avis_date[rows], self.depot[rows], day)

    def facts(self, day: dt.date, kinds: Iterable[str] | None = None, only: set[str] | None = None,
              with_rows: bool = True) -> dict[str, list[Fact]]:
        """The facts of these kinds as of `day`; with `only`, just the facts with those keys; without
        `with_rows`, the rows behind each fact are not listed (asking whether an alert held on an
        earlier day needs only the values)."""
        kinds = list(kinds) if kinds is not None else ["departement", "region_thematique", "offre", "demande"]
        return {kind: getattr(self, f"_{kind}")(day, only, with_rows) for kind in kinds}

    def history_keys(self, kind: str, facts: list[Fact], read: tuple[str, ...]) -> list[Any]:
        """Per fact, a signature such that facts with equal signatures read the same in the fields
        `read` on every day. A demande's day-dependent values follow from its filing day and opinion;
        the other kinds are each their own history."""
        if kind != "demande":
            return [f.key for f in facts]
        if not self._demande_rows:
            self._demande_rows = {f"demande:{self.ref[i]}": int(i) for i in self._opinion_rows}
        fixed = [name for name in read if name not in _DAY_DEPENDENT]
        signatures = []
        for f in facts:
            i = self._demande_rows[f.key]
            signatures.append((tuple(hashable(f.values.get(name)) for name in fixed),
                               self.avis[i], int(self.avis_date[i]), int(self.depot[i])))
        return signatures

    # ----------------------------------------------------------------- kinds

    def _departement(self, day: dt.date, only: set[str] | None, with_rows: bool) -> list[Fact]:
        end = day.toordinal()
        middle, start = end - self.window, end - 2 * self.window
        current = self.dated & (self.depot > middle) & (self.depot <= end)
        before = self.dated & (self.depot > start) & (self.depot <= middle)
        status, _ = self.opinions(day)
        needed = self.needed & self.filed_by(day)
        waiting = needed & np.isin(status, ("en_attente", "absent"))
        blocked = needed & (status != "favorable")
        facts = []
        for dep in self.departements:
            if only is not None and f"departement:{dep}" not in only:
                continue
            here = self.dep_rows[dep]
            now, then = here & current, here & before
            n, p = int(now.sum()), int(then.sum())
            a, ap = int((now & self.agence).sum()), int((then & self.agence).sum())
            share, share_before = _share(a, n), _share(ap, p)
            local_now = _share(int((now & self.local).sum()), n)
            local_before = _share(int((then & self.local).sum()), p)
            values = {
                "departement": dep, "region": self.dep_region[dep], "nom": self.dep_names[dep], "fenetre": self.window,
                "demandes": n, "vers_agence": a, "part_agence": share, "part_locale": local_now,
                "demandes_precedentes": p, "vers_agence_precedentes": ap, "part_agence_precedente": share_before,
                "part_locale_precedente": local_before,
                "evolution_part_agence": _minus(share, share_before),
                "evolution_part_locale": _minus(local_now, local_before),
                "avis_attendus": int((here & waiting).sum()), "non_instruisibles": int((here & blocked).sum()),
            }
            facts.append(Fact("departement", f"departement:{dep}", values, f"departement:{dep}",
                              f"Département {dep} {self.dep_names[dep]}",
                              tuple(self.ref[now | then]) if with_rows else ()))
        return facts

    def _region_thematique(self, day: dt.date, only: set[str] | None, with_rows: bool) -> list[Fact]:
        voc = self.catalogue.vocabularies["thematiques"]
        today, bins = day.toordinal(), len(self.regions) + 1
        asked: dict[str, set[str]] | None = None  # with `only`, per thématique the régions asked about
        if only is not None:
            asked = {}
            for key in only:
                if key.startswith("region:"):
                    region, _, word = key[len("region:"):].partition("|")
                    asked.setdefault(word, set()).add(region)
        facts = []
        for word in voc.terms if asked is None else [w for w in voc.terms if w in asked]:
            regions = [(k, r) for k, r in enumerate(self.regions) if asked is None or r in asked[word]]
            if not regions:
                continue
            serving = self._serving(word, day)
            rows = self.theme_index[word]
            rows = rows[self.depot[rows] <= today]  # filed by that day (an undated row, always)
            where = self.region_position[rows]
            carried = np.bincount(where, minlength=bins)
            far = np.bincount(where, weights=~self.local[rows], minlength=bins)
            agence = np.bincount(where, weights=self.agence[rows], minlength=bins)
            for k, region in regions:
                values = {"region": region, "nom": self.region_names[region], "thematique": word,
                          "libelle": voc.label(word),
                          "offres_locales": serving[region],
                          "demandes": int(carried[k]), "demandes_hors_local": int(far[k]),
                          "demandes_agence": int(agence[k])}
                facts.append(Fact("region_thematique", f"region:{region}|{word}", values, f"region:{region}",
                                  f"Région {region} {self.region_names[region]}, thématique « {voc.label(word)} »",
                                  tuple(self.ref[rows[where == k]]) if with_rows else ()))
        return facts

    def _serving(self, word: str, day: dt.date) -> Counter[str]:
        """Per région, its local offers that serve a thématique on `day`. Which offers are valid changes
        only on the days their validity starts or ends: between two such days the count is the same, so
        it is counted once per stretch, not once per day asked about."""
        if word not in self._validity_changes:
            self._validity_changes[word] = sorted(
                {o.validite.debut.toordinal() for o in self._local_offers_of(word) if o.validite.debut}
                | {o.validite.fin.toordinal() + 1 for o in self._local_offers_of(word) if o.validite.fin})
        stretch = (word, bisect.bisect_right(self._validity_changes[word], day.toordinal()))
        if stretch not in self._serving_by_stretch:
            self._serving_by_stretch[stretch] = Counter(
                r for o in self._local_offers_of(word) if o.validite.covers(day) for r in self.offer_regions[o.id])
        return self._serving_by_stretch[stretch]

    def _local_offers_of(self, word: str) -> list[Offre]:
        """The local offers that serve a thématique (declaring it or a broader word), whatever the day."""
        if word not in self._word_offers:
            voc = self.catalogue.vocabularies["thematiques"]
            accepted = {word, *voc.ancestors(word)}
            self._word_offers[word] = [o for o in self.offers
                                       if o.niveau in LOCAL_LEVELS and accepted & set(o.thematiques)]
        return self._word_offers[word]

    def _offre(self, day: dt.date, only: set[str] | None, with_rows: bool) -> list[Fact]:
        today = day.toordinal()
        this_year = self.dated & (self.depot_year == day.year) & (self.depot <= today)
        if self.undated_year == day.year:
            this_year = this_year | ~self.dated
        offers = self.offers
        if only is not None:
            if not self._offer_positions:
                self._offer_positions = {f"offre:{o.id}": k for k, o in enumerate(self.offers)}
            offers = [self.offers[k] for k in sorted(self._offer_positions[key] for key in only
                                                     if key in self._offer_positions)]
        facts = []
        for offre in offers:
            routed = self.offer_rows[offre.id][this_year[self.offer_rows[offre.id]]]
            refused = self.refused_rows[offre.id][this_year[self.refused_rows[offre.id]]]
            load, pushed = len(routed), len(refused)
            total = load + pushed
            capacity = offre.capacite
            end = offre.validite.fin
            values = {
                "offre": offre.id, "nom": offre.nom, "structure": offre.structure, "niveau": offre.niveau,
                "capacite": capacity, "charge": load, "refusees_capacite": pushed, "demande_totale": total,
                "depassement": total - capacity if capacity is not None else None,
                "taux_charge": _share(total, capacity) if capacity else None,
                "fin_validite": end.isoformat() if end else None,
                "jours_restants": (end - day).days if end else None,
            }
            facts.append(Fact("offre", f"offre:{offre.id}", values, f"offre:{offre.id}",
                              f"Offre « {offre.nom} » ({offre.structure}, {offre.id})",
                              tuple(self.ref[np.concatenate([routed, refused])]) if with_rows else ()))
        return facts

    def _demande_static(self) -> dict[int, tuple[dict[str, Any], str]]:
        """What does not change with the day, per row whose opinion is required: read once, by column."""
        if not self._static and len(self._opinion_rows):
            part = self.rows.iloc[self._opinion_rows]
            columns = {name: part[name].tolist() for name in ("ref", "intitule", "departement", "region", "epci",
                                                              "niveau", "offre_id", "saisine", "complexite", "montant")}
            for n, i in enumerate(self._opinion_rows):
                ref, title, dep = columns["ref"][n], columns["intitule"][n], columns["departement"][n]
                amount = columns["montant"][n]
                values = {
                    "id": ref, "intitule": title or None, "departement": dep, "region": columns["region"][n],
                    "epci": columns["epci"][n] or None, "niveau": columns["niveau"][n], "offre": columns["offre_id"][n],
                    "saisine": columns["saisine"][n], "complexite": columns["complexite"][n],
                    "montant": float(amount) if amount == amount else None,
                }
                self._static[int(i)] = (values, f"Demande {ref}" + (f" — {title}" if title else "") + f" ({dep})")
        return self._static

    def _demande(self, day: dt.date, only: set[str] | None, with_rows: bool) -> list[Fact]:
        today = day.toordinal()
        rows = self._opinion_rows
        if only is not None:
            if not self._demande_rows:
                self._demande_rows = {f"demande:{self.ref[i]}": int(i) for i in self._opinion_rows}
            rows = np.array(sorted(self._demande_rows[k] for k in only if k in self._demande_rows), dtype=np.int64)
        rows = rows[self.depot[rows] <= today]
        status, since = self.opinions(day, rows)
        waited = since != NO_DAY
        # Day-dependent values by column, as Python objects (the engine reads JSON, not numpy scalars).
        since_iso = np.where(waited, since - _EPOCH, 0).astype("datetime64[D]").astype(str)
        attente_depuis = np.where(waited, since_iso, None).tolist()
        jours_attente = np.where(waited, today - since, None).tolist()
        depot = self.depot[rows]
        jours_depuis_depot = np.where(depot != NO_DAY, today - depot, None).tolist()
        statics = self._demande_static()
        facts = []
        for n, (i, avis) in enumerate(zip(rows.tolist(), status.tolist())):
            static, label = statics[i]
            values = {**static, "avis_dt": avis, "attente_depuis": attente_depuis[n],
                      "jours_attente": jours_attente[n], "jours_depuis_depot": jours_depuis_depot[n]}
            ref = static["id"]
            facts.append(Fact("demande", f"demande:{ref}", values, f"demande:{ref}", label, (ref,)))
        return facts

__all__ = ["Fact", "Indicators", "DEFAULT_WINDOW"]
