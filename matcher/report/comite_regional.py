"""`aiguillage report comite-regional`: the list the comité régional des financeurs works from.

The comité gathers the région's financial partners and decides jointly how to support the
projects the agency supports; its decisions are notified to each porteur by the DT. So: the
région's demandes bound for the agence or a partner operator, grouped by who would carry them
(the agence's offer, the operator), with the DT of each, amounts and programmes, whether it can
be instructed (the DT's opinion), and empty columns where the comité's decision, its terms and
the notification are recorded. As a spreadsheet (.xlsx, .csv) to fill in, or as a page (.html).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa

from ..backlog import excel_library, neutralize_formulas, write_decisions
from ..charts import Bar, Segment, hbar_chart
from ..decisions import AVIS_LABELS, Decisions, opinion_status
from ..files import atomic_output
from ..render import NON_INSTRUISIBLE
from ..templating import LEVEL_COLOURS
from ..workspace import Workspace
from .measures import SHORT_LEVELS, groups, refs
from .page import Trace, document, fmt_date, fmt_euros

LEVELS_FOR_FINANCIERS = ("agence", "operateur")
DECISION_CHOICES = ("accord", "accord sous conditions", "ajournement", "refus")
# Columns the comité fills in: its decision, the terms of the support, and the DT's notification.
TO_FILL = ("decision_comite", "modalites_soutien", "financeurs", "montant_accorde", "date_comite",
           "notification_dt_le", "observations")
COLUMNS = ("groupe", "niveau", "structure", "offre_id", "offre", "departement", "delegue_territorial", "id",
           "intitule", "commune", "epci", "thematiques", "besoins", "programmes", "montant", "date_depot", "avis_dt",
           "date_avis_dt", "instruction", "motif", *TO_FILL)


def _group(row: pd.Series) -> str:
    if row["niveau"] == "agence":
        return f"Agence (ANCT) — {row['offre_nom']}"
    return f"Opérateur — {row['structure']}"


def select(decisions: Decisions, region: str) -> pd.DataFrame:
    """The région's demandes bound for the agence or an operator, in the comité's order: the agence's
    groups first, then the operators', each by département and filing date."""
    rows = decisions.rows
    rows = rows[(rows["region"] == region) & rows["niveau"].isin(LEVELS_FOR_FINANCIERS)].copy()
    rows["groupe"] = rows.apply(_group, axis=1) if len(rows) else pd.Series(dtype=str)
    rows["_order"] = rows["niveau"].map({"agence": 0, "operateur": 1})
    return rows.sort_values(["_order", "groupe", "departement", "date_depot", "ref"], na_position="last")


def _labels(words: tuple[str, ...], vocabulary) -> str:
    return ", ".join(vocabulary.label(w) for w in words)


def sheet(workspace: Workspace, rows: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """One line per demande, with the columns of `COLUMNS` (those to fill in empty)."""
    voc = workspace.catalogue.vocabularies
    communes = workspace.graph.index.all_communes()
    epcis = workspace.graph.index.epcis
    status = opinion_status(rows, day) if len(rows) else pd.DataFrame({"avis": []})
    out = pd.DataFrame({
        "groupe": rows["groupe"],
        "niveau": rows["niveau"],
        "structure": rows["structure"],
        "offre_id": rows["offre_id"],
        "offre": rows["offre_nom"],
        "departement": rows["departement"],
        "delegue_territorial": rows["delegue_territorial"],
        "id": rows["ref"],
        "intitule": rows["intitule"],
        "commune": [f"{communes[c].nom} ({c})" if c in communes else t for c, t in zip(rows["commune"], rows["territoire"])],
        "epci": [epcis[e].nom if e in epcis else "" for e in rows["epci"]],
        "thematiques": [_labels(w, voc["thematiques"]) for w in rows["thematiques"]],
        "besoins": [_labels(w, voc["besoins"]) for w in rows["besoins"]],
        "programmes": [_labels(w, voc["programmes"]) for w in rows["programmes"]],
        "montant": rows["montant"],
        "date_depot": rows["date_depot"].dt.date,
        "avis_dt": [AVIS_LABELS[a] for a in status["avis"]],
        "date_avis_dt": rows["date_avis_dt"].dt.date,
        "instruction": ["instruisible" if ok else NON_INSTRUISIBLE for ok in rows["instruisible"]],
        "motif": rows["motif"],
    })
    for name in TO_FILL:
        out[name] = ""
    return out.reset_index(drop=True)


def write_sheet(frame: pd.DataFrame, path: Path) -> None:
    """.csv (`;`, UTF-8 with BOM, as Excel reads it) or .xlsx (with a summary sheet and a list of
    choices for the comité's decision), written atomically."""
    if path.suffix.lower() == ".csv":
        def cells(column: str) -> list[str]:
            if column == "montant":
                return [f"{v:.0f}" if v == v else "" for v in frame[column]]
            return ["" if v is None or v != v else str(v) for v in frame[column]]

        write_decisions(pa.table({c: pa.array(cells(c), pa.string()) for c in frame.columns}), path)
    else:
        _write_xlsx(frame, path)


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    openpyxl = excel_library()
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    book = openpyxl.Workbook()
    main = book.active
    main.title = "demandes"
    typed = ("montant", "date_depot", "date_avis_dt")
    texts = {c: neutralize_formulas(pa.array(frame[c].fillna("").astype(str).tolist(), pa.string())).to_pylist()
             for c in frame.columns if c not in typed}
    # Each column made once as a list of cells (reading a frame cell by cell costs a lookup each).
    columns = []
    for c in frame.columns:
        if c in ("date_depot", "date_avis_dt"):
            columns.append([v if isinstance(v, dt.date) else None for v in frame[c].tolist()])
        elif c == "montant":
            columns.append([float(v) if v == v else None for v in frame[c].tolist()])
        else:
            columns.append([t or None for t in texts[c]])
    main.append(list(frame.columns))
    for row in zip(*columns):
        main.append(list(row))
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="FFF2CC")
    for cell in main[1]:
        cell.font = bold
        if cell.value in TO_FILL:
            cell.fill = fill
    widths = {"groupe": 34, "intitule": 40, "motif": 50, "offre": 30, "structure": 28, "delegue_territorial": 26,
              "commune": 24, "epci": 26, "thematiques": 30, "besoins": 24, "programmes": 20, "instruction": 30}
    for i, name in enumerate(frame.columns, start=1):
        letter = openpyxl.utils.get_column_letter(i)
        main.column_dimensions[letter].width = widths.get(name, 16 if name in TO_FILL else 13)
        if name == "montant" or name == "montant_accorde":
            for cell in main[letter][1:]:
                cell.number_format = '#,##0 "€"'
        if name in ("date_depot", "date_avis_dt", "date_comite", "notification_dt_le"):
            for cell in main[letter][1:]:
                cell.number_format = "DD/MM/YYYY"
    for cell in main["A"][1:]:
        cell.alignment = Alignment(vertical="top")
    main.freeze_panes = "I2"
    main.auto_filter.ref = main.dimensions
    if len(frame):
        column = openpyxl.utils.get_column_letter(list(frame.columns).index("decision_comite") + 1)
        choices = DataValidation(type="list", formula1='"' + ",".join(DECISION_CHOICES) + '"', allow_blank=True)
        choices.add(f"{column}2:{column}{len(frame) + 1}")
        main.add_data_validation(choices)
    summary = book.create_sheet("synthese")
    summary.append(["groupe", "departement", "delegue_territorial", "demandes", "montant", "non_instruisibles", "ids"])
    for cell in summary[1]:
        cell.font = bold
    for (group, dep, dt_label), part in frame.groupby(["groupe", "departement", "delegue_territorial"], sort=False):
        blocked = part[part["instruction"] != "instruisible"]
        summary.append([group, dep, dt_label, len(part), float(part["montant"].sum()), len(blocked),
                        " ".join(part["id"])])
    for letter, width in zip("ABCDEFG", (40, 12, 28, 10, 16, 16, 80)):
        summary.column_dimensions[letter].width = width
    for cell in summary["E"][1:]:
        cell.number_format = '#,##0 "€"'
    with atomic_output(path) as tmp:
        book.save(tmp)


def summary_text(frame: pd.DataFrame, region: str) -> str:
    """The list as a person reads it in a terminal: each group, its demandes, amounts and opinions."""
    lines = [f"Comité régional des financeurs, région {region} : {len(frame)} demandes orientées vers l'agence ou "
             f"un opérateur, {fmt_euros(frame['montant'].sum())}".replace("\u202f", " ").replace("\u00a0", " ")]
    for group, part in frame.groupby("groupe", sort=False):
        blocked = part[part["instruction"] != "instruisible"]
        lines += ["", f"{group} — {len(part)} demande{'s' if len(part) > 1 else ''}, "
                      f"{fmt_euros(part['montant'].sum())}, {len(blocked)} non instruisible"
                      f"{'s' if len(blocked) > 1 else ''}".replace("\u202f", " ").replace("\u00a0", " ")]
        for r in part.itertuples():
            flag = "" if r.instruction == "instruisible" else "  [non instruisible, avis du DT requis]"
            lines.append(f"  {r.id:<14}{r.departement:<4}{r.intitule[:44]:<46}{fmt_euros(r.montant):>14}{flag}"
                         .replace("\u202f", " ").replace("\u00a0", " "))
    lines += ["", "Le tableur à remplir : -o liste.xlsx (ou .csv) ; la page : -o liste.html."]
    return "\n".join(lines)


def build_html(workspace: Workspace, decisions: Decisions, region: str, day: dt.date,
               dsfr_css: str | None = None) -> str:
    """The same list as a page: a summary by DT and by group, then one table per group."""
    idx = workspace.graph.index
    reg = idx.regions[region]
    rows = select(decisions, region)
    frame = sheet(workspace, rows, day)
    rows = rows.reset_index(drop=True)
    trace = Trace()
    where = f"région {region} · niveau agence ou operateur"
    blocked = rows[~rows["instruisible"]]
    key = [
        (trace.link(refs(rows), where), "demandes pour le comité"),
        (trace.link(refs(rows), f"{where} · montant", fmt_euros(rows["montant"].sum())), "montant des projets"),
        (trace.link(refs(rows[rows["niveau"] == "agence"]), f"{where} · niveau agence"), "vers l'agence"),
        (trace.link(refs(rows[rows["niveau"] == "operateur"]), f"{where} · niveau operateur"), "vers les opérateurs"),
        (trace.link(refs(blocked), f"{where} · non instruisible"), "non instruisibles : avis du DT requis"),
    ]
    by_dt = []
    bars = []
    for dep, part in sorted(groups(rows, "departement"), key=lambda kv: str(kv[0])):
        what = f"{where} · departement = {dep}"
        label = f"{dep} — {part['delegue_territorial'].iloc[0]}"
        by_dt.append([label, trace.link(refs(part), what),
                      trace.link(refs(part), f"{what} · montant", fmt_euros(part["montant"].sum())),
                      trace.link(refs(part[part["niveau"] == "agence"]), f"{what} · niveau agence"),
                      trace.link(refs(part[part["niveau"] == "operateur"]), f"{what} · niveau operateur"),
                      trace.link(refs(part[~part["instruisible"]]), f"{what} · non instruisible")])
        bars.append(Bar(label, tuple(
            Segment(int((part["niveau"] == lv).sum()), LEVEL_COLOURS[lv], f"{label} — {SHORT_LEVELS[lv]} : "
                    f"{int((part['niveau'] == lv).sum())} demandes",
                    trace.anchor(refs(part[part["niveau"] == lv]), f"{what} · niveau {lv}"))
            for lv in LEVELS_FOR_FINANCIERS)))
    chart = hbar_chart(bars, "Demandes par délégué territorial", [("agence", LEVEL_COLOURS["agence"]),
                                                                  ("opérateurs", LEVEL_COLOURS["operateur"])],
                       label_width=300)
    sections = {"synthese": "Synthèse par délégué territorial", "groupes": "Par porteur de l'appui (agence, opérateurs)"}
    by_group = []
    for group, part in groups(rows, "groupe"):
        what = f"{where} · groupe « {group} »"
        by_group.append([group, trace.link(refs(part), what),
                         trace.link(refs(part), f"{what} · montant", fmt_euros(part["montant"].sum())),
                         trace.link(refs(part[~part["instruisible"]]), f"{what} · non instruisible")])
    listings = []
    for i, (group, part) in enumerate(frame.groupby("groupe", sort=False)):
        what = f"{where} · groupe « {group} »"
        anchor = f"g{i + 1}"
        sections[anchor] = f"{group} ({len(part)})"
        listings.append({
            "anchor": anchor,
            "rows": [{"id": r.id, "departement": f"{r.departement}", "intitule": r.intitule, "commune": r.commune,
                      "programmes": r.programmes, "montant": fmt_euros(r.montant), "avis_dt": r.avis_dt,
                      "instruisible": r.instruction == "instruisible"} for r in part.itertuples()],
            "montant": trace.link(part["id"].tolist(), f"{what} · montant", fmt_euros(part["montant"].sum())),
            "non_instruisibles": trace.link(part.loc[part["instruction"] != "instruisible", "id"].tolist(),
                                            f"{what} · non instruisible"),
        })
    return document("report/comite-regional.html", sections, trace, dsfr_css,
                    title=f"Comité régional des financeurs — {reg.nom} ({region})", fichier=decisions.path,
                    date_decision=fmt_date(decisions.date_decision) if decisions.date_decision else "",
                    key=key, chart=chart, by_dt=by_dt, by_group=by_group, listings=listings)


__all__ = ["select", "sheet", "write_sheet", "build_html", "summary_text", "COLUMNS", "TO_FILL", "DECISION_CHOICES"]
