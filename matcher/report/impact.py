"""`aiguillage report impact`: the measures of subsidiarity the agency evaluates its impact by.

The share of demandes served at each level, the share resolved locally (communal to régional),
the escalations (demandes sent beyond the local levels) and their causes — overall, by
département, région, thématique and over time (`date_depot`, by month or quarter); the DT's
opinions; and with `--previous`, the same measures on an earlier decisions file and the demandes
that moved closer or farther.

The measures are computed once, as a JSON-ready dictionary in which every count carries the row
references behind it (`ids`); the HTML page and the text are drawn from it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from ..charts import Bar, Segment, column_chart, hbar_chart
from ..decisions import Decisions, opinion_status, period_key
from ..model import CHANGEMENTS, LEVEL_INDEX, LEVELS
from ..templating import LEVEL_COLOURS
from ..workspace import Workspace
from .measures import SHORT_LEVELS, groups, level_headers, level_legend, refs, themes_exploded
from .page import Trace, document, fmt_date, fmt_int

STEPS = ("mois", "trimestre")
MEASURED = ("ref", "identifie", "niveau", "offre_id", "local", "instruisible", "avis_requis", "avis_dt", "date_avis_dt", "date_depot",
            "departement", "region", "thematiques", "cause_code", "cause_escalade", "changement", "cause")


def _count(rows: pd.DataFrame, whole: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(rows)}
    if whole is not None:
        out["part"] = round(len(rows) / whole, 4) if whole else None
    out["ids"] = refs(rows)
    return out


# What a breakdown reads: a subset of a frame copies every column it has, so subsets are taken of these only.
BREAKDOWN = ["ref", "niveau", "local", "instruisible"]


def breakdown(rows: pd.DataFrame) -> dict[str, Any]:
    """The measures of one set of demandes."""
    n = len(rows)
    rows = rows[BREAKDOWN]
    far = rows[~rows["local"]]
    return {
        "demandes": _count(rows),
        "niveaux": {level: _count(rows[rows["niveau"] == level], n) for level in LEVELS},
        "locale": _count(rows[rows["local"]], n),
        "escalades": _count(far, n),
        "non_instruisibles": _count(rows[~rows["instruisible"]], n),
    }


def _causes(rows: pd.DataFrame, descriptions: dict[str, str]) -> list[dict[str, Any]]:
    far = rows[~rows["local"]]
    out = []
    for cause, part in groups(far, "cause_escalade"):
        code = part["cause_code"].iloc[0]
        entry = {"code": code, "cause": cause, **_count(part, len(far)),
                 "niveaux": {lv: _count(part[part["niveau"] == lv]) for lv in ("operateur", "agence")}}
        if code.startswith("regle:") and code[6:] in descriptions:
            entry["regle"] = descriptions[code[6:]]
        out.append(entry)
    return out


def measures(workspace: Workspace, decisions: Decisions, day: dt.date, step: str = "mois",
             previous: Decisions | None = None, start: dt.date | None = None, end: dt.date | None = None
             ) -> dict[str, Any]:
    """Every measure, each count with the row references behind it."""
    rows = decisions.rows[list(MEASURED)]  # every subset below copies its columns: only those measured
    idx = workspace.graph.index
    voc = workspace.catalogue.vocabularies["thematiques"]
    descriptions = {r.id: r.description for r in workspace.policy.regles}
    needed = rows[rows["avis_requis"]]
    status = opinion_status(needed, day)
    result: dict[str, Any] = {
        "fichier": decisions.path,
        "date_decision": decisions.date_decision.isoformat() if decisions.date_decision else None,
        "date": day.isoformat(),
        "periode": {"du": start.isoformat() if start else None, "au": end.isoformat() if end else None, "pas": step},
        "definitions": {
            "locale": "demandes servies aux niveaux communal, intercommunal, départemental ou régional",
            "escalade": "demande servie au-delà des niveaux locaux (opérateurs, agence), avec la première raison "
                        "lue dans son examen",
            "ids": "identifiants des demandes comptées (colonne id du fichier, sinon « ligne N »)",
        },
        "lignes_fichier": decisions.total,
        "erreurs": {"n": len(decisions.error_refs), "ids": decisions.error_refs},
        **breakdown(rows),
        "causes_escalade": _causes(rows, descriptions),
        "avis_dt": {
            "requis": _count(needed, len(rows)),
            **{avis: _count(needed.loc[status.index[status["avis"] == avis]])
               for avis in ("favorable", "defavorable", "en_attente", "absent")},
        },
    }
    result["par_departement"] = [
        {"departement": code, "nom": idx.departements[code].nom if code in idx.departements else code,
         **breakdown(part)} for code, part in sorted(groups(rows[BREAKDOWN], rows["departement"]),
                                                     key=lambda kv: str(kv[0]))]
    result["par_region"] = [
        {"region": code, "nom": idx.regions[code].nom if code in idx.regions else code, **breakdown(part)}
        for code, part in sorted(groups(rows[BREAKDOWN], rows["region"]), key=lambda kv: str(kv[0]))]
    exploded = themes_exploded(rows, voc)
    result["par_thematique"] = [{"thematique": theme, "libelle": voc.label(theme), **breakdown(part)}
                                for theme, part in groups(exploded[BREAKDOWN], exploded["theme"])]
    periods = period_key(rows["date_depot"], step)
    result["dans_le_temps"] = [{"periode": key, **breakdown(part)}
                               for key, part in sorted(groups(rows[BREAKDOWN], periods), key=lambda kv: str(kv[0]))
                               if key]
    result["sans_date_depot"] = _count(rows[periods == ""])
    if "changement" in rows and (rows["changement"] != "").any():
        result["changements_du_fichier"] = {
            kind: _count(rows[rows["changement"] == kind]) for kind in CHANGEMENTS}
        result["changements_du_fichier"]["causes"] = [
            {"cause": cause, **_count(part)} for cause, part in groups(rows[rows["changement"] == "modifie"], "cause")]
    if previous is not None:
        result["precedent"] = _compare(rows, previous)
    return result


def _compare(rows: pd.DataFrame, previous: Decisions) -> dict[str, Any]:
    old = previous.rows[list(MEASURED)]
    old_dep = {code: part for code, part in groups(old, "departement")}
    by_dep = []
    for code, part in sorted(groups(rows, "departement"), key=lambda kv: str(kv[0])):
        before = old_dep.get(code, old.iloc[0:0])
        now, then = float(part["local"].mean()) if len(part) else None, float(before["local"].mean()) if len(before) else None
        by_dep.append({"departement": code, "demandes": _count(part), "demandes_precedentes": _count(before),
                       "part_locale": round(now, 4) if now is not None else None,
                       "part_locale_precedente": round(then, 4) if then is not None else None,
                       "evolution_points": round(100 * (now - then), 1) if now is not None and then is not None else None})
    # Only rows known by their own id on both sides are paired: a row without one is never matched by
    # its line with a row of the other file, it is counted apart.
    mine, theirs = rows[rows["identifie"]], old[old["identifie"]]
    matched = mine.merge(theirs[["ref", "niveau", "offre_id"]], on="ref", how="left", suffixes=("", "_avant"))
    present = matched["niveau_avant"].notna()
    new_rank = matched["niveau"].map(LEVEL_INDEX)
    old_rank = matched["niveau_avant"].map(LEVEL_INDEX)
    return {
        "fichier": previous.path,
        "date_decision": previous.date_decision.isoformat() if previous.date_decision else None,
        **breakdown(old),
        "par_departement": by_dep,
        "mouvements": {
            "apparies": _count(matched[present]),
            "rapproches": _count(matched[present & (new_rank < old_rank)]),
            "eloignes": _count(matched[present & (new_rank > old_rank)]),
            "meme_niveau": _count(matched[present & (new_rank == old_rank)]),
            "nouveaux": _count(matched[~present]),
            "disparus": _count(theirs[~theirs["ref"].isin(set(mine["ref"]))]),
            "sans_identifiant": _count(rows[~rows["identifie"]]),
            "sans_identifiant_avant": _count(old[~old["identifie"]]),
        },
    }


# --------------------------------------------------------------------------- text


def _errors(n: int) -> str:
    return f"{n} ligne en erreur écartée" if n == 1 else f"{n} lignes en erreur écartées"


def _pct(part: float | None) -> str:
    return "—" if part is None else f"{100 * part:.0f} %"


def render_text(m: dict[str, Any]) -> str:
    n = m["demandes"]["n"]
    lines = [f"Mesures de subsidiarité — {m['fichier']} : {fmt_int(n)} demandes orientées"
             + (f", {_errors(m['erreurs']['n'])}" if m["erreurs"]["n"] else ""),
             "", "Par niveau : " + ", ".join(f"{SHORT_LEVELS[lv]} {c['n']} ({_pct(c['part'])})"
                                             for lv, c in m["niveaux"].items()),
             f"Résolues localement : {m['locale']['n']} ({_pct(m['locale']['part'])}) ; escalades : "
             f"{m['escalades']['n']} ({_pct(m['escalades']['part'])})",
             f"Avis du DT requis : {m['avis_dt']['requis']['n']}, non instruisibles : {m['non_instruisibles']['n']} "
             f"(en attente {m['avis_dt']['en_attente']['n']}, non demandé {m['avis_dt']['absent']['n']}, "
             f"défavorable {m['avis_dt']['defavorable']['n']})", "", "Causes des escalades :"]
    lines += [f"  {c['n']:>6}  {_pct(c['part']):>5}  {c['cause']}" for c in m["causes_escalade"]]

    def block(title: str, entries: list[dict], key: str, label: str | None = None) -> None:
        lines.extend(["", title, f"  {'':<34}{'dem.':>7}  " + "".join(f"{h[:6]:>7}" for h in level_headers())
                      + f"{'locale':>8}{'non instr.':>11}"])
        for e in entries:
            name = f"{e[key]} {e[label]}" if label else e[key]
            lines.append(f"  {name[:33]:<34}{e['demandes']['n']:>7}  "
                         + "".join(f"{e['niveaux'][lv]['n']:>7}" for lv in LEVELS)
                         + f"{_pct(e['locale']['part']):>8}{e['non_instruisibles']['n']:>11}")

    block("Par département :", m["par_departement"], "departement", "nom")
    block("Par région :", m["par_region"], "region", "nom")
    block("Par thématique :", m["par_thematique"], "libelle")
    block(f"Par {m['periode']['pas']} de dépôt :", m["dans_le_temps"], "periode")
    if "precedent" in m:
        p = m["precedent"]
        mv = p["mouvements"]
        lines += ["", f"Par rapport à {p['fichier']} : résolues localement {_pct(p['locale']['part'])} → "
                      f"{_pct(m['locale']['part'])} ; demandes rapprochées {mv['rapproches']['n']}, éloignées "
                      f"{mv['eloignes']['n']}, au même niveau {mv['meme_niveau']['n']}, nouvelles {mv['nouveaux']['n']}, "
                      f"disparues {mv['disparus']['n']}"]
        unpaired = mv["sans_identifiant"]["n"] + mv["sans_identifiant_avant"]["n"]
        if unpaired:
            lines.append(f"Non appariées faute d'identifiant propre : {mv['sans_identifiant']['n']} maintenant, "
                         f"{mv['sans_identifiant_avant']['n']} avant (identifiant absent ou partagé par plusieurs lignes)")
    lines += ["", "Les identifiants derrière chaque chiffre : -o impact.json ou -o impact.html."]
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTML


def _bar(label: str, entry: dict[str, Any], trace: Trace, what: str, share: bool = True, short: bool = False) -> Bar:
    n = entry["demandes"]["n"]
    segments = []
    for lv in LEVELS:
        c = entry["niveaux"][lv]
        if c["n"]:
            value = 100 * c["n"] / n if share else c["n"]
            segments.append(Segment(value, LEVEL_COLOURS[lv], f"{label} — {SHORT_LEVELS[lv]} : {c['n']} demandes "
                                    f"({100 * c['n'] / n:.0f} %)", trace.anchor(c["ids"], f"{what} · niveau {lv}")))
    return Bar(label, tuple(segments), total_text=f"{n} dem." if share and not short else str(n))


def _row(name: str, entry: dict[str, Any], trace: Trace, what: str) -> list[Any]:
    return [name, trace.link(entry["demandes"]["ids"], what),
            *[trace.link(entry["niveaux"][lv]["ids"], f"{what} · niveau {lv}") for lv in LEVELS],
            trace.link(entry["locale"]["ids"], f"{what} · niveaux locaux", _pct(entry["locale"]["part"])),
            trace.link(entry["non_instruisibles"]["ids"], f"{what} · non instruisible")]


def _breakdown(entries: list[dict], key: str, label: str | None, trace: Trace, what: str, title: str,
               chart_limit: int = 30) -> dict[str, Any]:
    names = [(f"{e[key]} {e[label]}" if label else e[key]) for e in entries]
    chart = hbar_chart([_bar(name, e, trace, f"{what} {e[key]}") for name, e in zip(names, entries)][:chart_limit],
                       title, level_legend(), unit=" %", label_width=260)
    return {"chart": chart, "rows": [_row(name, e, trace, f"{what} {e[key]}") for name, e in zip(names, entries)]}


HEADERS = ["", "Demandes", *level_headers(), "Part locale", "Non instruisibles"]

SECTIONS = {"en-bref": "En bref", "escalades": "Escalades et leurs causes", "departements": "Par département",
            "regions": "Par région", "thematiques": "Par thématique", "temps": "Dans le temps",
            "avis": "L'avis du délégué territorial"}


def render_html(m: dict[str, Any], dsfr_css: str | None = None) -> str:
    """The page of `report impact -o impact.html` (templates/report/impact.html). The figures are
    linked to their rows in the order the page shows them, which numbers the annex's entries."""
    trace = Trace()
    all_what = "toutes les demandes"
    key = [
        (trace.link(m["demandes"]["ids"], all_what), "demandes orientées"),
        (trace.link(m["locale"]["ids"], "niveaux locaux", _pct(m["locale"]["part"])),
         f"résolues localement ({m['locale']['n']})"),
        (trace.link(m["niveaux"]["operateur"]["ids"], "niveau operateur", _pct(m["niveaux"]["operateur"]["part"])),
         "opérateurs et État"),
        (trace.link(m["niveaux"]["agence"]["ids"], "niveau agence", _pct(m["niveaux"]["agence"]["part"])), "agence"),
        (trace.link(m["non_instruisibles"]["ids"], "non instruisible"), "non instruisibles : avis du DT requis"),
    ]
    level_chart = hbar_chart([Bar(SHORT_LEVELS[lv], (Segment(c["n"], LEVEL_COLOURS[lv], f"{SHORT_LEVELS[lv]} : "
                                  f"{c['n']} demandes", trace.anchor(c["ids"], f"niveau {lv}")),),
                                  total_text=f"{c['n']} ({_pct(c['part'])})") for lv, c in m["niveaux"].items()],
                             "Demandes par niveau retenu")
    causes = m["causes_escalade"]
    cause_chart = hbar_chart([Bar(c["cause"], tuple(Segment(c["niveaux"][lv]["n"], LEVEL_COLOURS[lv],
                                                            f"{c['cause']} — {SHORT_LEVELS[lv]} : {c['niveaux'][lv]['n']}",
                                                            trace.anchor(c["niveaux"][lv]["ids"],
                                                                         f"escalade · {c['cause']} · niveau {lv}"))
                                                    for lv in ("operateur", "agence")))
                              for c in causes], "Escalades par cause", level_legend()[4:], label_width=360)
    cause_rows = [{"cause": c["cause"], "regle": c.get("regle"), "part": _pct(c["part"]),
                   "demandes": trace.link(c["ids"], f"escalade · {c['cause']}"),
                   "operateur": trace.link(c["niveaux"]["operateur"]["ids"], f"escalade · {c['cause']} · niveau operateur"),
                   "agence": trace.link(c["niveaux"]["agence"]["ids"], f"escalade · {c['cause']} · niveau agence")}
                  for c in causes]
    time_chart = column_chart([_bar(e["periode"], e, trace, f"dépôt en {e['periode']}", short=True)
                               for e in m["dans_le_temps"]],
                              f"Part de chaque niveau, par {m['periode']['pas']} de dépôt (nombre de demandes "
                              "au-dessus)", level_legend(), unit=" %")
    escalades = trace.link(m["escalades"]["ids"], "escalades")
    par_departement = _breakdown(m["par_departement"], "departement", "nom", trace, "departement =",
                                 "Part de chaque niveau, par département")
    par_region = _breakdown(m["par_region"], "region", "nom", trace, "region =", "Part de chaque niveau, par région")
    par_thematique = _breakdown(m["par_thematique"], "libelle", None, trace, "thématique",
                                "Part de chaque niveau, par thématique")
    time_rows = [_row(e["periode"], e, trace, f"dépôt en {e['periode']}") for e in m["dans_le_temps"]]
    undated = trace.link(m["sans_date_depot"]["ids"], "sans date de dépôt") if m["sans_date_depot"]["n"] else None
    avis = m["avis_dt"]
    avis_requis = trace.link(avis["requis"]["ids"], "avis_dt_requis = oui")
    non_instruisibles = trace.link(m["non_instruisibles"]["ids"], "non instruisible")
    avis_rows = [[label, trace.link(avis[k]["ids"], f"avis du DT {k}")] for k, label in
                 (("favorable", "favorable"), ("defavorable", "défavorable"), ("en_attente", "en attente"),
                  ("absent", "non demandé"))]
    sections = dict(SECTIONS)
    evolution = None
    if "precedent" in m:
        sections["evolution"] = "Évolution depuis les décisions précédentes"
        evolution = _evolution(m, trace)
    return document("report/impact.html", sections, trace, dsfr_css, title="Impact de l'agence : mesures de subsidiarité",
                    fichier=m["fichier"], date_decision=m["date_decision"], n=m["demandes"]["n"],
                    erreurs=_errors(m["erreurs"]["n"]) if m["erreurs"]["n"] else "", headers=HEADERS,
                    key=key, level_chart=level_chart, escalades=escalades, escalades_part=_pct(m["escalades"]["part"]),
                    cause_chart=cause_chart, causes=cause_rows, par_departement=par_departement,
                    par_region=par_region, par_thematique=par_thematique, time_chart=time_chart, time_rows=time_rows,
                    sans_date_depot=undated, avis_requis=avis_requis, non_instruisibles=non_instruisibles,
                    avis=avis_rows, date=fmt_date(dt.date.fromisoformat(m["date"])), evolution=evolution)


def _evolution(m: dict[str, Any], trace: Trace) -> dict[str, Any]:
    p = m["precedent"]
    mv = p["mouvements"]
    niveaux = [[SHORT_LEVELS[lv], trace.link(p["niveaux"][lv]["ids"], f"précédent · niveau {lv}"),
                _pct(p["niveaux"][lv]["part"]), trace.link(m["niveaux"][lv]["ids"], f"niveau {lv}"),
                _pct(m["niveaux"][lv]["part"])] for lv in LEVELS]
    departements = [[d["departement"], trace.link(d["demandes_precedentes"]["ids"],
                                                  f"précédent · departement = {d['departement']}"),
                     _pct(d["part_locale_precedente"]), trace.link(d["demandes"]["ids"], f"departement = {d['departement']}"),
                     _pct(d["part_locale"]), "—" if d["evolution_points"] is None else f"{d['evolution_points']:+.0f} pts"]
                    for d in p["par_departement"]]
    mouvements = [(trace.link(mv["rapproches"]["ids"], "servies plus près qu'avant"), "rapprochées"),
                  (trace.link(mv["eloignes"]["ids"], "servies plus loin qu'avant"), "éloignées"),
                  (trace.link(mv["meme_niveau"]["ids"], "même niveau qu'avant"), "au même niveau"),
                  (trace.link(mv["nouveaux"]["ids"], "absentes des décisions précédentes"), "nouvelles"),
                  (trace.link(mv["disparus"]["ids"], "absentes des décisions actuelles"), "disparues"),
                  (trace.link(mv["sans_identifiant"]["ids"], "sans identifiant propre : non appariées"),
                   "sans identifiant")]
    return {"fichier": p["fichier"], "mouvements": mouvements, "niveaux": niveaux, "departements": departements}


__all__ = ["measures", "breakdown", "render_text", "render_html", "STEPS"]
