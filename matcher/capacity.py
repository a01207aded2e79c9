"""Assign a backlog under the offers' annual capacities, optimally.

Each offer with a `capacite` takes at most that many demandes per calendar year of their
`date_depot` (the decision's year when a demande has none). Among the assignments that respect
every capacity, the one chosen minimises the total distance of the demandes from their
territory (the level of the offer, the tie-breaks within a level next): a minimum-cost flow
(networkx), from groups of demandes with the same preferences through the offers that serve
them to a sink, the agence's repli taking whatever remains. Within a group, the earliest
demandes (`date_depot`) get the closest offers. A demande sent beyond its first choice is
decided again with the full offers set aside, so that its explanation says which offer was full.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import replace

import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa

from .batch import BatchResult, decisions_table
from .model import LEVEL_INDEX, Offre
from .workspace import Workspace


def _dates(result: BatchResult, day: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """Per row the year its capacity counts in, and its filing day (0: unknown)."""
    column = result.backlog.checked.get("date_depot")
    n = result.table.num_rows
    if column is None:
        return np.full(n, day.year), np.zeros(n, dtype=np.int64)
    years = np.array([v.year if v is not None else day.year for v in column.values] or [day.year])
    days = np.array([v.toordinal() if v is not None else 0 for v in column.values] or [0])
    return years[column.indices], days[column.indices]


def _cost(offre: Offre, rank_in_level: int) -> int:
    return LEVEL_INDEX[offre.niveau] * 1000 + rank_in_level


def assign_capacities(workspace: Workspace, result: BatchResult, day: dt.date) -> BatchResult:
    prepared = result.backlog
    rows = prepared.routable
    ranked = prepared.walk.decide(rows, ranked=True)
    keys = [tuple(o.id for o in s) for s in ranked.serving]
    groups_of_row, unique_keys = pd.factorize(pd.Series(keys, dtype=object))
    by_id = {o.id: o for o in workspace.catalogue.offres}
    groups = [tuple(by_id[i] for i in key) for key in unique_keys]
    years, days = _dates(result, day)
    order = np.lexsort((rows, days[rows], years[rows]))  # by year, then filing day, then line
    members: dict[tuple[int, int], list[int]] = defaultdict(list)
    for position in order:
        members[(int(years[rows[position]]), int(groups_of_row[position]))].append(int(rows[position]))

    assigned: dict[int, tuple[Offre, int]] = {}  # row -> its offer, its year
    load: dict[tuple[int, str], int] = defaultdict(int)
    for year in sorted({y for y, _ in members}):
        share = {g: r for (y, g), r in members.items() if y == year}
        flow = _solve(share, groups)
        for group, group_rows in share.items():
            taken = 0
            for offre in groups[group]:
                count = flow[group].get(offre.id, 0)
                for row in group_rows[taken : taken + count]:
                    assigned[row] = (offre, year)
                    load[(year, offre.id)] += 1
                taken += count

    first_choice = {int(r): ranked.serving[i][0] for i, r in enumerate(rows)}
    excluded: dict[int, dict[str, str]] = {}
    for row, (offre, year) in assigned.items():
        prefs = groups[groups_of_row[np.searchsorted(rows, row)]]
        if offre.id != first_choice[row].id:
            full = prefs[: prefs.index(offre)]
            excluded[row] = {o.id: f"capacité annuelle atteinte ({o.capacite} demandes en {year})" for o in full}
    return _with_moves(workspace, result, excluded, first_choice, load, day)


def _solve(share: dict[int, list[int]], groups: list[tuple[Offre, ...]]) -> dict[int, dict[str, int]]:
    """Minimum-cost flow: how many demandes of each group go to each offer."""
    graph = nx.DiGraph()
    total = sum(len(rows) for rows in share.values())
    graph.add_node("source", demand=-total)
    graph.add_node("puits", demand=total)
    offers: dict[str, Offre] = {}
    for group, rows in share.items():
        graph.add_edge("source", ("groupe", group), capacity=len(rows), weight=0)
        previous_level, rank = None, 0
        for offre in groups[group]:
            rank = rank + 1 if offre.niveau == previous_level else 0
            previous_level = offre.niveau
            graph.add_edge(("groupe", group), ("offre", offre.id), capacity=len(rows), weight=_cost(offre, rank))
            offers[offre.id] = offre
    for offre_id, offre in offers.items():
        capacity = total if offre.repli or offre.capacite is None else offre.capacite
        graph.add_edge(("offre", offre_id), "puits", capacity=capacity, weight=0)
    flow = nx.min_cost_flow(graph)
    return {group: {node[1]: amount for node, amount in flow[("groupe", group)].items() if amount}
            for group in share}


def _with_moves(workspace: Workspace, result: BatchResult, excluded: dict[int, dict[str, str]],
                first_choice: dict[int, Offre], load: dict[tuple[int, str], int], day: dt.date) -> BatchResult:
    """Decide again, with the full offers set aside, the demandes that did not get their first choice."""
    prepared, decided = result.backlog, result.decided
    notes = np.full(result.table.num_rows, "", dtype=object)
    if excluded:
        moved = np.array(sorted(excluded), dtype=np.int64)
        again = prepared.walk.decide(moved, excluded=excluded)
        decided = decided.updated(again)
        for row, offre in zip(again.rows, again.offre):
            first = first_choice[int(row)]
            notes[row] = f"{first.id} complète ({first.capacite}/an) : orientée vers {offre.id}"
    out = decisions_table(prepared, decided, prepared.walk.router, day)
    table = out.table.append_column("capacite", pa.array(notes.tolist(), pa.string()))
    usage: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    for (year, offre_id), count in sorted(load.items()):
        offre = workspace.catalogue.offre(offre_id)
        if offre is not None and offre.capacite is not None:
            usage[offre_id][str(year)] = {"demandes": count, "capacite": offre.capacite}
    summary = dict(out.summary)
    summary["capacite"] = {"escaladees": int((notes != "").sum()), "offres": dict(usage)}
    return replace(out, table=table, summary=summary)
