"""`aiguillage report comite-local`: the page the comité local de cohésion territoriale of a
département reads at its meeting (it meets at least twice a year; it identifies the engineering
that can be mobilised locally and is told what the agency did).

One self-contained HTML page: the local engineering of the catalogue (by level and theme, with
contacts and sources), the coverage map of the département and its zones blanches, the period's
decisions by level, theme and EPCI, what went to the agence and why, and the demandes awaiting
the DT's opinion. Every figure about demandes links to the rows behind it (annex).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from ..charts import Bar, Segment, column_chart, hbar_chart
from ..coverage import LOCAL_LEVELS, compute
from ..decisions import AVIS_LABELS, Decisions, opinion_status, period_key
from ..model import COUT_LABELS, Offre
from ..templating import LEVEL_COLOURS, plural_word
from ..reach import offers_reaching
from ..workspace import Workspace
from .map import region_map
from .measures import (SHORT_LEVELS, by_level, groups, level_bar, level_cells, level_headers, level_legend,
                       local_share, refs, themes_exploded)
from .page import Count, Trace, document, fmt_date, fmt_int, fmt_share


def period_text(start: dt.date | None, end: dt.date | None, rows: pd.DataFrame) -> str:
    dates = rows["date_depot"].dropna()
    first = start or (dates.min().date() if len(dates) else None)
    last = end or (dates.max().date() if len(dates) else None)
    if first is None:
        return "demandes sans date de dépôt"
    return f"demandes déposées du {fmt_date(first)} au {fmt_date(last)}"


SECTIONS = {"en-bref": "En bref", "ingenierie": "L'ingénierie mobilisable localement",
            "couverture": "Couverture et zones blanches", "decisions": "Les décisions de la période",
            "agence": "Ce qui est allé à l'agence, et pourquoi",
            "avis": "Demandes en attente de l'avis du délégué territorial"}


def build(workspace: Workspace, decisions: Decisions, departement: str, day: dt.date,
          start: dt.date | None = None, end: dt.date | None = None, undated: int = 0,
          dsfr_css: str | None = None) -> str:
    """The comité local's page for one département (`decisions` already limited to the period), drawn
    by templates/report/comite-local.html. The figures are linked to their rows in the order the page
    shows them, which numbers the annex's entries."""
    idx = workspace.graph.index
    dep = idx.departements[departement]
    rows = decisions.rows[decisions.rows["departement"] == departement]
    trace = Trace()
    where = f"département {departement}"
    errors = None
    if decisions.error_refs:
        # Rows the batch could not route have no territory: they belong to no département, but the
        # comité is told the file has them, and which.
        errors = {"count": trace.link(decisions.error_refs, "lignes en erreur du fichier (non orientées)"),
                  "shown": decisions.error_refs[:20], "more": len(decisions.error_refs) > 20}
    other = decisions.version_catalogue and decisions.version_catalogue != workspace.catalogue.version
    return document(
        "report/comite-local.html", SECTIONS, trace, dsfr_css,
        title=f"Comité local de cohésion territoriale — {dep.nom} ({departement})",
        dt_label=rows["delegue_territorial"].iloc[0] if len(rows) else dep.dt_libelle,
        period=period_text(start, end, rows), rows_n=len(rows), undated=undated, fichier=decisions.path,
        date_decision=fmt_date(decisions.date_decision) if decisions.date_decision else "", day=fmt_date(day),
        errors=errors, other_catalogue=decisions.version_catalogue[:19] if other else "",
        catalogue=workspace.catalogue.version[:19], level_headers=level_headers(),
        summary=_summary(rows, trace, where, day),
        engineering=_engineering(workspace, departement, day, rows, trace),
        coverage=_coverage(workspace, departement, day),
        decisions=_decisions(workspace, rows, trace, where, start, end),
        agence=_agence(workspace, rows, trace, where),
        opinions=_opinions(rows, trace, where, day),
    )


# --------------------------------------------------------------------------- sections


def _summary(rows: pd.DataFrame, trace: Trace, where: str, day: dt.date) -> list[tuple[Count, str]]:
    levels = by_level(rows)
    local = rows[rows["niveau"].isin(LOCAL_LEVELS)]
    blocked = rows[~rows["instruisible"]]
    opinions = opinion_status(rows[rows["avis_requis"]], day)
    awaited = rows.loc[opinions.index[opinions["avis"].isin(("en_attente", "absent"))]]
    n = len(rows)
    return [
        (trace.link(refs(rows), f"{where} · toutes les demandes de la période"),
         "demande orientée" if n < 2 else "demandes orientées"),
        (trace.link(refs(local), f"{where} · niveaux communal à régional", fmt_share(len(local), n)),
         f"résolues localement ({len(local)})"),
        (trace.link(refs(levels["operateur"]), f"{where} · niveau operateur"), "vers les opérateurs et l'État"),
        (trace.link(refs(levels["agence"]), f"{where} · niveau agence"), "vers l'agence (ANCT)"),
        (trace.link(refs(blocked), f"{where} · instruction = non instruisible"),
         "non instruisibles : avis du DT requis"),
        (trace.link(refs(awaited), f"{where} · avis du DT attendu"), "avis du DT attendus"),
    ]


def _offer(offre: Offre, workspace: Workspace, rows: pd.DataFrame, trace: Trace) -> dict[str, Any]:
    voc = workspace.catalogue.vocabularies
    validity = ""
    if offre.validite.debut or offre.validite.fin:
        validity = f"{fmt_date(offre.validite.debut) or '…'} → {fmt_date(offre.validite.fin) or '…'}"
    return {
        "nom": offre.nom, "id": offre.id, "structure": offre.structure,
        "thematiques": ", ".join(voc["thematiques"].label(t) for t in offre.thematiques),
        "besoins": ", ".join(voc["besoins"].label(b) for b in offre.besoins),
        "cout": COUT_LABELS.get(offre.cout, offre.cout), "capacite": offre.capacite, "validite": validity,
        "contact": offre.contact or "",
        "mailto": bool(offre.contact and "@" in offre.contact and " " not in offre.contact),
        "source": offre.source,
        "demandes": trace.link(refs(rows[rows["offre_id"] == offre.id]), f"offre_id = {offre.id}"),
    }


def _engineering(workspace: Workspace, departement: str, day: dt.date, rows: pd.DataFrame,
                 trace: Trace) -> dict[str, Any]:
    catalogue, graph = workspace.catalogue, workspace.graph
    local = offers_reaching(catalogue.offres, graph, departement, day)
    operators = offers_reaching(catalogue.offres, graph, departement, day, levels=("operateur",), national=True)
    voc = catalogue.vocabularies["thematiques"]
    parents = {w: t.parent for w, t in voc.terms.items()}

    def roots(offre: Offre) -> set[str]:
        found = set()
        for word in offre.thematiques:
            while parents.get(word):
                word = parents[word]  # type: ignore[assignment]
            found.add(word)
        return found

    themes = [w for w, t in voc.terms.items() if not t.parent]
    levels = [lv for lv in LOCAL_LEVELS] + ["operateur"]
    offers = local + operators
    bars, matrix = [], []
    for theme in themes:
        serving = {lv: [o for o in offers if o.niveau == lv and theme in roots(o)] for lv in levels}
        segments = tuple(Segment(len(found), LEVEL_COLOURS[lv], f"{voc.label(theme)} — {SHORT_LEVELS[lv]} : "
                                 f"{', '.join(o.id for o in found)}") for lv, found in serving.items() if found)
        bars.append(Bar(voc.label(theme), segments))
        matrix.append({"label": voc.label(theme), "none_local": not any(serving[lv] for lv in LOCAL_LEVELS),
                       "cells": [[o.id for o in serving[lv]] for lv in levels]})
    by_level_offers = []
    for level in LOCAL_LEVELS:
        at_level = sorted((o for o in local if o.niveau == level), key=lambda o: (o.structure, o.id))
        if at_level:
            by_level_offers.append({"label": SHORT_LEVELS[level],
                                    "offers": [_offer(o, workspace, rows, trace) for o in at_level]})
    compact = []
    for o in sorted(operators, key=lambda o: (o.structure, o.id)):
        compact.append({**_offer(o, workspace, rows, trace), "themes": ", ".join(sorted({voc.label(r) for r in roots(o)}))})
    return {"local": local, "operators": compact, "levels": by_level_offers, "matrix": matrix,
            "level_heads": [SHORT_LEVELS[lv] for lv in levels],
            "chart": hbar_chart(bars, "Offres mobilisables par thématique et par niveau", level_legend()[:5])}


def _coverage(workspace: Workspace, departement: str, day: dt.date) -> dict[str, Any]:
    idx = workspace.graph.index
    region = idx.departements[departement].region
    region_deps = [code for code, d in idx.departements.items() if d.region == region]
    result = compute(workspace, day, region_deps)
    dep = next(d for d in result.departements if d.code == departement)
    voc = workspace.catalogue.vocabularies
    blank = [r for r in dep.rows if r.niveau == "agence"]
    by_theme: dict[str, list[str]] = {}
    for r in blank:
        by_theme.setdefault(r.thematique, []).append(r.besoin)
    label = voc["besoins"].label
    zones_blanches = []
    for theme, needs in by_theme.items():
        served = [b for b in result.besoins if b not in needs]
        text = (", ".join(label(b) for b in needs) if len(needs) <= len(result.besoins) / 2 else
                "tous les besoins" + (f" sauf : {', '.join(label(b) for b in served)}" if served else ""))
        zones_blanches.append((voc["thematiques"].label(theme), text))
    cell = {(r.thematique, r.besoin): r for r in dep.rows}
    matrix = []
    for theme in result.thematiques:
        cells = []
        for need in result.besoins:
            r = cell[(theme, need)]
            cells.append({"css": "cell-blank" if r.niveau == "agence" else "cell-ok" if r.niveau in LOCAL_LEVELS else "",
                          "offre": r.offre, "structure": r.structure, "level": SHORT_LEVELS[r.niveau]})
        matrix.append((voc["thematiques"].label(theme), cells))
    return {
        "commune": dep.commune, "pairs": len(dep.rows), "local": fmt_share(dep.local_share, 1),
        "operateur": fmt_share(dep.levels["operateur"], len(dep.rows)), "blank": len(blank),
        "agence": fmt_share(dep.agence_share, 1), "map": region_map(result, departement, region_deps),
        "departements": [[f"{d.code} {d.nom}", d.commune.nom, fmt_share(d.local_share, 1),
                          fmt_share(d.agence_share, 1)] for d in result.departements],
        "zones_blanches": zones_blanches, "besoins": [label(b) for b in result.besoins], "matrix": matrix,
    }


def every_month(dates: pd.Series, start: dt.date | None, end: dt.date | None) -> list[str]:
    """« 2026-01 » … « 2026-12 »: every month from the period's start (else the first filing) to its end
    (else the last filing), a month without demandes included."""
    known = dates.dropna()
    first = start or (known.min().date() if len(known) else None)
    last = end or (known.max().date() if len(known) else None)
    if first is None or last is None or first > last:
        return []
    months, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _decisions(workspace: Workspace, rows: pd.DataFrame, trace: Trace, where: str,
               start: dt.date | None = None, end: dt.date | None = None) -> dict[str, Any]:
    n = len(rows)
    levels = by_level(rows)
    level_rows = [[SHORT_LEVELS[lv], trace.link(refs(part), f"{where} · niveau {lv}"), fmt_share(len(part), n)]
                  for lv, part in levels.items()]
    level_chart = hbar_chart([Bar(SHORT_LEVELS[lv], (Segment(len(part), LEVEL_COLOURS[lv],
                              f"{SHORT_LEVELS[lv]} : {plural_word(len(part), 'demande')}",
                              trace.anchor(refs(part), f"{where} · niveau {lv}")),)) for lv, part in levels.items()],
                             "Demandes par niveau retenu")
    voc = workspace.catalogue.vocabularies["thematiques"]
    exploded = themes_exploded(rows, voc)
    theme_groups = groups(exploded, "theme")
    theme_chart = hbar_chart([level_bar(voc.label(t), part, trace, f"{where} · thématique {t}")
                              for t, part in theme_groups], "Demandes par thématique et niveau retenu", level_legend())
    theme_rows = [[voc.label(t), trace.link(refs(part), f"{where} · thématique {t}"),
                   *level_cells(part, trace, f"{where} · thématique {t}"), fmt_share(local_share(part), 1)]
                  for t, part in theme_groups]
    epcis = workspace.graph.index.epcis
    epci_groups = groups(rows, "epci")
    epci_rows = []
    for code, part in epci_groups:
        name = epcis[code].nom if code in epcis else "sans EPCI"
        what = f"{where} · epci = {code or '(aucun)'}"
        blocked = part[~part["instruisible"]]
        epci_rows.append([name, trace.link(refs(part), what), *level_cells(part, trace, what),
                          fmt_share(local_share(part), 1), trace.link(refs(blocked), f"{what} · non instruisible")])
    epci_chart = hbar_chart([level_bar(epcis[c].nom if c in epcis else "sans EPCI", part, trace,
                                       f"{where} · epci = {c or '(aucun)'}") for c, part in epci_groups[:15]],
                            "Demandes par EPCI (les 15 plus demandeurs) et niveau retenu", level_legend())
    months = period_key(rows["date_depot"], "mois")
    by_month = {m: part for m, part in groups(rows, months) if m}
    month_chart = column_chart([level_bar(m, by_month.get(m, rows.iloc[0:0]), trace, f"{where} · dépôt en {m}")
                                for m in every_month(rows["date_depot"], start, end)],
                               "Demandes par mois de dépôt et niveau retenu (chaque mois de la période)",
                               level_legend())
    return {"level_chart": level_chart, "level_rows": level_rows,
            "total": trace.link(refs(rows), f"{where} · toutes les demandes de la période"),
            "theme_chart": theme_chart, "theme_rows": theme_rows, "epci_chart": epci_chart, "epci_rows": epci_rows,
            "month_chart": month_chart}


def _agence(workspace: Workspace, rows: pd.DataFrame, trace: Trace, where: str) -> dict[str, Any] | None:
    agence = rows[rows["niveau"] == "agence"]
    if agence.empty:
        return None
    descriptions = {r.id: r.description for r in workspace.policy.regles}
    causes = []
    for cause, part in groups(agence, "cause_escalade"):
        code = part["cause_code"].iloc[0]
        causes.append({"cause": cause, "detail": descriptions.get(code[6:], "") if code.startswith("regle:") else "",
                       "demandes": trace.link(refs(part), f"{where} · niveau agence · cause : {cause}"),
                       "part": fmt_share(len(part), len(agence))})
    communes = workspace.graph.index.all_communes()
    voc = workspace.catalogue.vocabularies["thematiques"]
    listing = []
    for row in agence.sort_values(["cause_code", "date_depot"]).itertuples():
        commune = communes.get(row.commune)
        listing.append({
            "ref": row.ref, "intitule": row.intitule, "commune": commune.nom if commune else row.territoire,
            "thematiques": ", ".join(voc.label(t) for t in row.thematiques), "cause": row.cause_escalade,
            "depot": fmt_date(row.date_depot.date()) if pd.notna(row.date_depot) else "",
            "instruisible": row.instruisible,
        })
    chart = hbar_chart([Bar(cause, (Segment(len(part), LEVEL_COLOURS["agence"], f"{cause} : {plural_word(len(part), 'demande')}",
                                            trace.anchor(refs(part), f"{where} · niveau agence · cause : {cause}")),))
                        for cause, part in groups(agence, "cause_escalade")],
                       "Demandes orientées vers l'agence, par cause", label_width=330)
    return {"count": trace.link(refs(agence), f"{where} · niveau agence"), "share": fmt_share(len(agence), len(rows)),
            "chart": chart, "causes": causes, "listing": listing}


def _opinions(rows: pd.DataFrame, trace: Trace, where: str, day: dt.date) -> dict[str, Any]:
    needed = rows[rows["avis_requis"]]
    status = opinion_status(needed, day)
    blocked = rows[~rows["instruisible"]]
    counts = []
    for avis in ("en_attente", "absent", "defavorable", "favorable"):
        part = needed.loc[status.index[status["avis"] == avis]]
        counts.append([AVIS_LABELS[avis], trace.link(refs(part), f"{where} · avis du DT requis · avis {avis}")])
    waiting = needed.loc[status.index[status["avis"].isin(("en_attente", "absent", "defavorable"))]].copy()
    waiting = waiting.join(status)
    waiting = waiting.sort_values(["jours_attente", "ref"], ascending=[False, True], na_position="last")
    listing = []
    for row in waiting.itertuples():
        listing.append([
            row.ref, row.intitule, SHORT_LEVELS.get(row.niveau, row.niveau), row.offre_nom, AVIS_LABELS[row.avis],
            fmt_date(row.attente_depuis.date()) if pd.notna(row.attente_depuis) else "",
            fmt_int(row.jours_attente) if pd.notna(row.jours_attente) else "",
        ])
    return {"counts": counts, "listing": listing,
            "needed": trace.link(refs(needed), f"{where} · avis_dt_requis = oui"),
            "blocked": trace.link(refs(blocked), f"{where} · instruction = non instruisible")}


__all__ = ["build"]
