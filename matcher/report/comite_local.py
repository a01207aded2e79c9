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
from html import escape

import pandas as pd

from ..charts import Bar, Segment, column_chart, hbar_chart
from ..coverage import LOCAL_LEVELS, compute
from ..coverage_map import LEVEL_COLOURS
from ..decisions import AVIS_LABELS, Decisions, opinion_status, period_key
from ..model import COUT_LABELS, Offre
from ..templating import plural_word
from ..reach import offers_reaching
from ..workspace import Workspace
from .map import region_map
from .measures import (SHORT_LEVELS, by_level, groups, level_bar, level_cells, level_headers, level_legend,
                       local_share, refs, themes_exploded)
from .page import Trace, document, figures, fmt_date, fmt_int, fmt_share, table


def period_text(start: dt.date | None, end: dt.date | None, rows: pd.DataFrame) -> str:
    dates = rows["date_depot"].dropna()
    first = start or (dates.min().date() if len(dates) else None)
    last = end or (dates.max().date() if len(dates) else None)
    if first is None:
        return "demandes sans date de dépôt"
    return f"demandes déposées du {fmt_date(first)} au {fmt_date(last)}"


def build(workspace: Workspace, decisions: Decisions, departement: str, day: dt.date,
          start: dt.date | None = None, end: dt.date | None = None, undated: int = 0) -> str:
    """The comité local's page for one département (`decisions` already limited to the period)."""
    idx = workspace.graph.index
    dep = idx.departements[departement]
    rows = decisions.rows[decisions.rows["departement"] == departement]
    trace = Trace()
    where = f"département {departement}"
    dt_label = rows["delegue_territorial"].iloc[0] if len(rows) else dep.dt_libelle
    meta = [
        f"Délégué territorial de l'ANCT : {escape(dt_label)}",
        f"Période : {escape(period_text(start, end, rows))} — "
        + plural_word(len(rows), "demande orientée", "demandes orientées")
        + (f" ({plural_word(undated, 'demande sans date de dépôt écartée', 'demandes sans date de dépôt écartées')} "
           "par le choix de la période)" if undated else ""),
        f"Décisions : {escape(decisions.path)}"
        + (f", prises le {fmt_date(decisions.date_decision)}" if decisions.date_decision else "")
        + f" ; offres et couverture au {fmt_date(day)}.",
    ]
    if decisions.error_refs:
        # Rows the batch could not route have no territory: they belong to no département, but the
        # comité is told the file has them, and which.
        meta.append('<span class="warn">' + trace.link(decisions.error_refs, "lignes en erreur du fichier (non orientées)")
                    + " " + ("ligne du fichier est en erreur" if len(decisions.error_refs) < 2 else
                             "lignes du fichier sont en erreur") + " (non orientées, sans département) : "
                    + escape(", ".join(decisions.error_refs[:20])) + ("…" if len(decisions.error_refs) > 20 else "")
                    + " — voir leur colonne « erreur ».</span>")
    if decisions.version_catalogue and decisions.version_catalogue != workspace.catalogue.version:
        meta.append('<span class="warn">Les décisions ont été prises avec un autre catalogue '
                    f"({escape(decisions.version_catalogue[:19])}…) que celui présenté ici "
                    f"({escape(workspace.catalogue.version[:19])}…).</span>")
    sections = [
        ("en-bref", "En bref", _summary(rows, trace, where, day)),
        ("ingenierie", "L'ingénierie mobilisable localement", _engineering(workspace, departement, day, rows, trace)),
        ("couverture", "Couverture et zones blanches", _coverage(workspace, departement, day)),
        ("decisions", "Les décisions de la période", _decisions(workspace, rows, trace, where, start, end)),
        ("agence", "Ce qui est allé à l'agence, et pourquoi", _agence(workspace, rows, trace, where)),
        ("avis", "Demandes en attente de l'avis du délégué territorial", _opinions(rows, trace, where, day)),
    ]
    title = f"Comité local de cohésion territoriale — {dep.nom} ({departement})"
    footer = ("Produit par Aiguillage (instruction ANCT du 15 mai 2020) à partir du fichier de décisions et du "
              f"catalogue {escape(workspace.catalogue.version[:19])}…")
    return document(title, meta, sections, trace, footer)


# --------------------------------------------------------------------------- sections


def _summary(rows: pd.DataFrame, trace: Trace, where: str, day: dt.date) -> str:
    levels = by_level(rows)
    local = rows[rows["niveau"].isin(LOCAL_LEVELS)]
    blocked = rows[~rows["instruisible"]]
    opinions = opinion_status(rows[rows["avis_requis"]], day)
    awaited = rows.loc[opinions.index[opinions["avis"].isin(("en_attente", "absent"))]]
    n = len(rows)
    return figures([
        (trace.link(refs(rows), f"{where} · toutes les demandes de la période"),
         "demande orientée" if n < 2 else "demandes orientées"),
        (trace.link(refs(local), f"{where} · niveaux communal à régional", fmt_share(len(local), n)),
         f"résolues localement ({len(local)})"),
        (trace.link(refs(levels["operateur"]), f"{where} · niveau operateur"), "vers les opérateurs et l'État"),
        (trace.link(refs(levels["agence"]), f"{where} · niveau agence"), "vers l'agence (ANCT)"),
        (trace.link(refs(blocked), f"{where} · instruction = non instruisible"),
         "non instruisibles : avis du DT requis"),
        (trace.link(refs(awaited), f"{where} · avis du DT attendu"), "avis du DT attendus"),
    ])


def _offer_row(offre: Offre, workspace: Workspace, rows: pd.DataFrame, trace: Trace) -> list[str]:
    voc = workspace.catalogue.vocabularies
    used = rows[rows["offre_id"] == offre.id]
    validity = ""
    if offre.validite.debut or offre.validite.fin:
        validity = (f"{fmt_date(offre.validite.debut) or '…'} → {fmt_date(offre.validite.fin) or '…'}")
    contact = escape(offre.contact or "")
    if offre.contact and "@" in offre.contact and " " not in offre.contact:
        contact = f'<a href="mailto:{escape(offre.contact)}">{escape(offre.contact)}</a>'
    return [
        f"<b>{escape(offre.nom)}</b><br><small>{escape(offre.id)}</small>",
        escape(offre.structure),
        escape(", ".join(voc["thematiques"].label(t) for t in offre.thematiques)),
        escape(", ".join(voc["besoins"].label(b) for b in offre.besoins)),
        escape(COUT_LABELS.get(offre.cout, offre.cout)) + (f"<br><small>capacité {offre.capacite}/an</small>" if offre.capacite else ""),
        escape(validity),
        contact,
        f'<a href="{escape(offre.source)}">source</a>',
        trace.link(refs(used), f"offre_id = {offre.id}"),
    ]


OFFER_HEADERS = ["Offre", "Structure", "Thématiques", "Besoins", "Coût", "Validité", "Contact", "Source",
                 "Demandes orientées vers elle"]


def _engineering(workspace: Workspace, departement: str, day: dt.date, rows: pd.DataFrame, trace: Trace) -> str:
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
        cells = [f'<span title="{escape(", ".join(o.id for o in serving[lv]))}">{len(serving[lv])}</span>'
                 for lv in levels]
        none_local = not any(serving[lv] for lv in LOCAL_LEVELS)
        name = f'<span class="cell-blank">{escape(voc.label(theme))}</span>' if none_local else escape(voc.label(theme))
        matrix.append([name, *cells])
    parts = [
        f"<p>{len(local)} offre{'s' if len(local) > 1 else ''} des niveaux communal à régional couvrent le département "
        f"au {fmt_date(day)}, et {len(operators)} offres d'opérateurs partenaires et de services de l'État. Une "
        "thématique qu'aucune offre locale ne couvre est marquée en rouge.</p>",
        hbar_chart(bars, "Offres mobilisables par thématique et par niveau", level_legend()[:5]),
        table(["Thématique", *[SHORT_LEVELS[lv] for lv in levels]], matrix, numeric=range(1, len(levels) + 1)),
    ]
    for level in LOCAL_LEVELS:
        at_level = sorted((o for o in local if o.niveau == level), key=lambda o: (o.structure, o.id))
        if at_level:
            parts.append(f"<h3>Niveau {escape(SHORT_LEVELS[level])} ({len(at_level)})</h3>")
            parts.append(table(OFFER_HEADERS, [_offer_row(o, workspace, rows, trace) for o in at_level], numeric=[8]))
    parts.append(f"<h3>Opérateurs partenaires et services de l'État ({len(operators)})</h3>")
    compact = []
    for o in sorted(operators, key=lambda o: (o.structure, o.id)):
        full = _offer_row(o, workspace, rows, trace)
        themes = sorted({voc.label(r) for r in roots(o)})
        compact.append([full[0], full[1], escape(", ".join(themes)), full[4], f"{full[6]} {full[7]}", full[8]])
    parts.append(table(["Offre", "Structure", "Thèmes", "Coût", "Contact, source", "Demandes orientées vers elle"],
                       compact, numeric=[5]))
    return "".join(parts)


def _coverage(workspace: Workspace, departement: str, day: dt.date) -> str:
    idx = workspace.graph.index
    region = idx.departements[departement].region
    region_deps = [code for code, d in idx.departements.items() if d.region == region]
    result = compute(workspace, day, region_deps)
    dep = next(d for d in result.departements if d.code == departement)
    voc = workspace.catalogue.vocabularies
    blank = [r for r in dep.rows if r.niveau == "agence"]
    svg = region_map(result, departement, region_deps)
    parts = [
        f"<p>La commune type du département — {escape(dep.commune.nom)} ({escape(dep.commune.code)}, "
        f"{fmt_int(dep.commune.population or 0)} habitants : population médiane des communes membres d'un EPCI) "
        f"dépose une demande simple, par le délégué territorial, pour chacun des {len(dep.rows)} couples thématique × "
        f"besoin du vocabulaire. <b>{fmt_share(dep.local_share, 1)}</b> sont servis localement (communal à "
        f"régional), {fmt_share(dep.levels['operateur'], len(dep.rows))} par les opérateurs et l'État, et "
        f"<b>{len(blank)} couples ({fmt_share(dep.agence_share, 1)}) sont des zones blanches</b> : seule l'agence "
        "y répond. Les autres départements de la région sont montrés pour comparaison.</p>",
        svg or '<p class="note">Ce département n\'a pas de tracé sur le fond de carte (outre-mer) : voir le tableau.</p>',
        table(["Département", "Commune type", "Part locale", "Zones blanches"],
              [[f"{escape(d.code)} {escape(d.nom)}", escape(d.commune.nom), fmt_share(d.local_share, 1),
                fmt_share(d.agence_share, 1)] for d in result.departements], numeric=[2, 3]),
    ]
    by_theme: dict[str, list[str]] = {}
    for r in blank:
        by_theme.setdefault(r.thematique, []).append(r.besoin)
    if by_theme:
        label = voc["besoins"].label
        parts.append("<h3>Zones blanches du département (thématique : besoins que seule l'agence sert)</h3><ul>")
        for theme, needs in by_theme.items():
            served = [b for b in result.besoins if b not in needs]
            text = (", ".join(label(b) for b in needs) if len(needs) <= len(result.besoins) / 2 else
                    "tous les besoins" + (f" sauf : {', '.join(label(b) for b in served)}" if served else ""))
            parts.append(f"<li><b>{escape(voc['thematiques'].label(theme))}</b> : {escape(text)}</li>")
        parts.append("</ul>")
    cell = {(r.thematique, r.besoin): r for r in dep.rows}
    head = "".join(f'<th scope="col">{escape(voc["besoins"].label(b))}</th>' for b in result.besoins)
    body = []
    for theme in result.thematiques:
        tds = []
        for need in result.besoins:
            r = cell[(theme, need)]
            css = "cell-blank" if r.niveau == "agence" else "cell-ok" if r.niveau in LOCAL_LEVELS else ""
            tds.append(f'<td class="c {css}" title="{escape(r.offre)} — {escape(r.structure)}">'
                       f"{escape(SHORT_LEVELS[r.niveau])}</td>")
        body.append(f"<tr><th scope=\"row\">{escape(voc['thematiques'].label(theme))}</th>{''.join(tds)}</tr>")
    parts.append("<h3>Niveau qui sert la commune type, par thématique et besoin</h3>"
                 '<p class="note">En vert : servi localement ; en rouge : zone blanche (agence seule) ; sinon '
                 "opérateurs et services de l'État. Survolez une case pour l'offre retenue.</p>"
                 f"<table><thead><tr><th>Thématique</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
    return "".join(parts)


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
               start: dt.date | None = None, end: dt.date | None = None) -> str:
    n = len(rows)
    levels = by_level(rows)
    level_rows = [[escape(SHORT_LEVELS[lv]), trace.link(refs(part), f"{where} · niveau {lv}"),
                   fmt_share(len(part), n)] for lv, part in levels.items()]
    level_chart = hbar_chart([Bar(SHORT_LEVELS[lv], (Segment(len(part), LEVEL_COLOURS[lv],
                              f"{SHORT_LEVELS[lv]} : {plural_word(len(part), 'demande')}",
                              trace.anchor(refs(part), f"{where} · niveau {lv}")),)) for lv, part in levels.items()],
                             "Demandes par niveau retenu")
    voc = workspace.catalogue.vocabularies["thematiques"]
    exploded = themes_exploded(rows, voc)
    theme_groups = groups(exploded, "theme")
    theme_chart = hbar_chart([level_bar(voc.label(t), part, trace, f"{where} · thématique {t}")
                              for t, part in theme_groups], "Demandes par thématique et niveau retenu", level_legend())
    theme_rows = [[escape(voc.label(t)), trace.link(refs(part), f"{where} · thématique {t}"),
                   *level_cells(part, trace, f"{where} · thématique {t}"), fmt_share(local_share(part), 1)]
                  for t, part in theme_groups]
    epcis = workspace.graph.index.epcis
    epci_groups = groups(rows, "epci")
    epci_rows = []
    for code, part in epci_groups:
        name = epcis[code].nom if code in epcis else "sans EPCI"
        what = f"{where} · epci = {code or '(aucun)'}"
        blocked = part[~part["instruisible"]]
        epci_rows.append([escape(name), trace.link(refs(part), what), *level_cells(part, trace, what),
                          fmt_share(local_share(part), 1),
                          trace.link(refs(blocked), f"{what} · non instruisible")])
    epci_chart = hbar_chart([level_bar(epcis[c].nom if c in epcis else "sans EPCI", part, trace,
                                       f"{where} · epci = {c or '(aucun)'}") for c, part in epci_groups[:15]],
                            "Demandes par EPCI (les 15 plus demandeurs) et niveau retenu", level_legend())
    months = period_key(rows["date_depot"], "mois")
    by_month = {m: part for m, part in groups(rows, months) if m}
    month_chart = column_chart([level_bar(m, by_month.get(m, rows.iloc[0:0]), trace, f"{where} · dépôt en {m}")
                                for m in every_month(rows["date_depot"], start, end)],
                               "Demandes par mois de dépôt et niveau retenu (chaque mois de la période)",
                               level_legend())
    return "".join([
        "<h3>Par niveau</h3>", level_chart,
        table(["Niveau", "Demandes", "Part"], level_rows, numeric=[1, 2],
              total=["Total", trace.link(refs(rows), f"{where} · toutes les demandes de la période"), "100 %"]),
        "<h3>Par thématique</h3>",
        '<p class="note">Thématiques regroupées sous leur thème de premier rang ; une demande à plusieurs thèmes '
        "compte dans chacun.</p>", theme_chart,
        table(["Thématique", "Demandes", *level_headers(), "Part locale"], theme_rows, numeric=range(1, 9)),
        "<h3>Par EPCI</h3>", epci_chart,
        table(["EPCI", "Demandes", *level_headers(), "Part locale", "Non instruisibles"], epci_rows,
              numeric=range(1, 10)),
        "<h3>Au fil de la période</h3>", month_chart,
    ])


def _agence(workspace: Workspace, rows: pd.DataFrame, trace: Trace, where: str) -> str:
    agence = rows[rows["niveau"] == "agence"]
    if agence.empty:
        return "<p>Aucune demande de la période n'est allée à l'agence.</p>"
    descriptions = {r.id: r.description for r in workspace.policy.regles}
    cause_rows = []
    for cause, part in groups(agence, "cause_escalade"):
        code = part["cause_code"].iloc[0]
        detail = descriptions.get(code[6:], "") if code.startswith("regle:") else ""
        cause_rows.append([escape(cause) + (f"<br><small>{escape(detail)}</small>" if detail else ""),
                           trace.link(refs(part), f"{where} · niveau agence · cause : {cause}"),
                           fmt_share(len(part), len(agence))])
    communes = workspace.graph.index.all_communes()
    voc = workspace.catalogue.vocabularies["thematiques"]
    listing = []
    for row in agence.sort_values(["cause_code", "date_depot"]).itertuples():
        commune = communes.get(row.commune)
        listing.append([
            escape(row.ref), escape(row.intitule), escape(commune.nom if commune else row.territoire),
            escape(", ".join(voc.label(t) for t in row.thematiques)), escape(row.cause_escalade),
            escape(fmt_date(row.date_depot.date()) if pd.notna(row.date_depot) else ""),
            "oui" if row.instruisible else "<b>non</b> (avis du DT requis)",
        ])
    chart = hbar_chart([Bar(cause, (Segment(len(part), LEVEL_COLOURS["agence"], f"{cause} : {plural_word(len(part), 'demande')}",
                                            trace.anchor(refs(part), f"{where} · niveau agence · cause : {cause}")),))
                        for cause, part in groups(agence, "cause_escalade")],
                       "Demandes orientées vers l'agence, par cause", label_width=330)
    return "".join([
        f"<p>{trace.link(refs(agence), f'{where} · niveau agence')} "
        + ("demande de la période est allée" if len(agence) < 2 else "demandes de la période sont allées")
        + " à l'agence "
        f"({fmt_share(len(agence), len(rows))}). La cause est lue dans l'examen de chaque décision : la première "
        "raison pour laquelle aucun niveau plus proche ne l'a retenue.</p>",
        chart, table(["Cause", "Demandes", "Part"], cause_rows, numeric=[1, 2]),
        "<h3>Les demandes</h3>",
        table(["Demande", "Intitulé", "Commune", "Thématiques", "Cause", "Dépôt", "Instruisible"], listing),
    ])


def _opinions(rows: pd.DataFrame, trace: Trace, where: str, day: dt.date) -> str:
    needed = rows[rows["avis_requis"]]
    status = opinion_status(needed, day)
    blocked = rows[~rows["instruisible"]]
    counts = []
    for avis in ("en_attente", "absent", "defavorable", "favorable"):
        part = needed.loc[status.index[status["avis"] == avis]]
        counts.append([escape(AVIS_LABELS[avis]), trace.link(refs(part), f"{where} · avis du DT requis · avis {avis}")])
    waiting = needed.loc[status.index[status["avis"].isin(("en_attente", "absent", "defavorable"))]].copy()
    waiting = waiting.join(status)
    waiting = waiting.sort_values(["jours_attente", "ref"], ascending=[False, True], na_position="last")
    listing = []
    for row in waiting.itertuples():
        listing.append([
            escape(row.ref), escape(row.intitule), escape(SHORT_LEVELS.get(row.niveau, row.niveau)),
            escape(row.offre_nom), escape(AVIS_LABELS[row.avis]),
            escape(fmt_date(row.attente_depuis.date()) if pd.notna(row.attente_depuis) else ""),
            fmt_int(row.jours_attente) if pd.notna(row.jours_attente) else "",
        ])
    return "".join([
        "<p>Aucun projet n'est instruit sans l'avis du délégué territorial : une demande orientée vers l'agence, ou "
        "qui l'a saisie directement, attend son avis favorable. "
        f"{trace.link(refs(needed), f'{where} · avis_dt_requis = oui')} "
        + ("demande de la période le requiert ; " if len(needed) < 2 else "demandes de la période le requièrent ; ")
        + f"{trace.link(refs(blocked), f'{where} · instruction = non instruisible')} "
        + ("n'est pas instruisible" if len(blocked) < 2 else "ne sont pas instruisibles") + " en "
        f"l'état (marquées « non instruisible, avis du DT requis »). Délais comptés au {fmt_date(day)} : depuis la "
        "date de la demande d'avis (date_avis_dt d'un avis en attente), sinon depuis le dépôt.</p>",
        table(["Avis du DT", "Demandes"], counts, numeric=[1]),
        table(["Demande", "Intitulé", "Niveau", "Offre", "Avis", "Attendu depuis", "Jours"], listing, numeric=[6])
        if listing else "<p>Aucune demande n'attend l'avis du délégué territorial.</p>",
    ])


__all__ = ["build"]
