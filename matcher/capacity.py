"""Assign a backlog under the offers' annual capacities, optimally.

Each offer with a `capacite` takes at most that many demandes per calendar year of their
`date_depot` (the decision's year when a demande has none). Among the assignments that respect
every capacity, the one chosen minimises the total distance of the demandes from their
territory (the level of the offer, the tie-breaks within a level next): a minimum-cost flow
(networkx), from the cases of demandes through the offers that serve them to a sink, the
agence's repli taking whatever remains. Within a case, the earliest demandes (`date_depot`)
get the closest offers. A demande sent beyond its first choice is routed again with the full
offers set aside, so that its explanation says which offer was full.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import networkx as nx
import numpy as np
import pyarrow as pa

from .backlog import Backlog
from .batch import BatchResult, Cases, decisions_table, route_representatives
from .decide import Router
from .model import LEVEL_INDEX, Offre
from .workspace import Workspace


def _years(cases: Cases, day: dt.date) -> np.ndarray:
    column = cases.checked.get("date_depot")
    if column is None:
        return np.full(len(cases.of_row), day.year)
    per_value = np.array([v.year if v is not None else day.year for v in column.values] or [day.year])
    return per_value[column.indices]


def _cost(offre: Offre, rank_in_level: int) -> int:
    return LEVEL_INDEX[offre.niveau] * 1000 + rank_in_level


def assign_capacities(workspace: Workspace, router: Router, backlog: Backlog, result: BatchResult,
                      day: dt.date) -> BatchResult:
    cases = result.cases
    case_ids = sorted(cases.decisions)
    items = [(cases.decisions[c].demande, cases.decisions[c].territoire) for c in case_ids]
    preferences = dict(zip(case_ids, router.ranked(items, day)))
    years = _years(cases, day)
    order = np.lexsort((np.arange(len(years)), _dates(cases), years))  # by year, then date, then line
    rows_of: dict[tuple[int, int], list[int]] = defaultdict(list)
    for row in order:
        case = int(cases.of_row[row])
        if case in preferences:
            rows_of[(int(years[row]), case)].append(int(row))

    assigned: dict[int, tuple[Offre, dict[str, str]]] = {}  # row -> offer, offers set aside and why
    load: dict[tuple[int, str], int] = defaultdict(int)
    for year in sorted({y for y, _ in rows_of}):
        groups = {case: rows for (y, case), rows in rows_of.items() if y == year}
        flow = _solve(groups, preferences)
        for case, rows in groups.items():
            taken = 0
            prefs = preferences[case]
            for position, offre in enumerate(prefs):
                count = flow[case].get(offre.id, 0)
                full = {o.id: _full_reason(o, year) for o in prefs[:position]}
                for row in rows[taken : taken + count]:
                    assigned[row] = (offre, full)
                    load[(year, offre.id)] += 1
                taken += count

    return _apply(workspace, router, result, assigned, load, day)


def _dates(cases: Cases) -> np.ndarray:
    column = cases.checked.get("date_depot")
    if column is None:
        return np.zeros(len(cases.of_row), dtype=np.int64)
    per_value = np.array([v.toordinal() if v is not None else 0 for v in column.values] or [0])
    return per_value[column.indices]


def _full_reason(offre: Offre, year: int) -> str:
    return f"capacité annuelle atteinte ({offre.capacite} demandes en {year})"


def _solve(groups: dict[int, list[int]], preferences: dict[int, list[Offre]]) -> dict[int, dict[str, int]]:
    """Minimum-cost flow: how many demandes of each case go to each offer."""
    graph = nx.DiGraph()
    total = sum(len(rows) for rows in groups.values())
    graph.add_node("source", demand=-total)
    graph.add_node("puits", demand=total)
    offers: dict[str, Offre] = {}
    for case, rows in groups.items():
        graph.add_edge("source", ("cas", case), capacity=len(rows), weight=0)
        previous_level, rank = None, 0
        for offre in preferences[case]:
            rank = rank + 1 if offre.niveau == previous_level else 0
            previous_level = offre.niveau
            graph.add_edge(("cas", case), ("offre", offre.id), capacity=len(rows), weight=_cost(offre, rank))
            offers[offre.id] = offre
    for offre_id, offre in offers.items():
        capacity = total if offre.repli or offre.capacite is None else offre.capacite
        graph.add_edge(("offre", offre_id), "puits", capacity=capacity, weight=0)
    flow = nx.min_cost_flow(graph)
    return {case: {node[1]: amount for node, amount in flow[("cas", case)].items() if amount}
            for case in groups}


def _apply(workspace: Workspace, router: Router, result: BatchResult, assigned: dict[int, tuple[Offre, dict]],
           load: dict[tuple[int, str], int], day: dt.date) -> BatchResult:
    """Route again, with the full offers set aside, the demandes that did not get their first choice."""
    cases = result.cases
    moved: dict[tuple[int, str], list[int]] = defaultdict(list)
    for row, (offre, full) in assigned.items():
        case = int(cases.of_row[row])
        if offre.id != cases.decisions[case].offre.id:
            moved[(case, offre.id)].append(row)
    of_row = cases.of_row.copy()
    decisions = dict(cases.decisions)
    first_row = list(cases.first_row)
    notes = np.full(len(of_row), "", dtype=object)
    keys = list(moved)
    if keys:
        representatives = [moved[k][0] for k in keys]
        excluded = [assigned[r][1] for r in representatives]
        rerouted = route_representatives(router, cases, representatives, day, excluded)
        for key, decision, rows in zip(keys, rerouted, (moved[k] for k in keys)):
            assert decision.offre.id == key[1], (decision.offre.id, key)
            new_case = len(first_row)
            first_row.append(rows[0])
            decisions[new_case] = decision
            of_row[rows] = new_case
            first = cases.decisions[key[0]].offre
            notes[rows] = f"{first.id} complète ({first.capacite}/an) : orientée vers {key[1]}"
    new_cases = Cases(decisions, of_row, np.array(first_row), cases.checked, cases.places, cases.population,
                      cases.errors)
    out = decisions_table(_without_decisions(result.table), new_cases, day)
    table = out.table.append_column("capacite", pa.array(notes.tolist(), pa.string()))
    usage = defaultdict(dict)
    for (year, offre_id), count in load.items():
        offre = workspace.catalogue.offre(offre_id)
        if offre is not None and offre.capacite is not None:
            usage[offre_id][str(year)] = {"demandes": count, "capacite": offre.capacite}
    summary = dict(out.summary)
    summary["capacite"] = {"escaladees": int((notes != "").sum()), "offres": dict(sorted(usage.items()))}
    return BatchResult(table, out.levels, out.errors, summary, new_cases)


def _without_decisions(table: pa.Table) -> pa.Table:
    from .batch import DECISION_COLUMNS

    return table.select([n for n in table.column_names if n not in DECISION_COLUMNS])
