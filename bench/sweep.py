"""The catalogue measured over the whole country: for every commune of France and seven pairs a
DT meets every week, who serves the demande.

For each pair (thématique, besoin) — a simple project from the commune, through the DT, no
programme — the share of communes served locally (communal to régional), the share taken by the
largest single national offer (an operator's or the agence's, the repli aside), and the share sent
to the agence's repli; then the same per département. All the demandes are one backlog, routed by
the library's batch path (`matcher.batch.route_backlog`), the one `aiguillage batch` uses.

    python bench/sweep.py                          # today, shipped catalogue (or the clone you are in)
    python bench/sweep.py --date 2026-11-26 --departements 20   # the 20 départements least served locally
    python bench/sweep.py --departements tous      # every département, least served first
    python bench/sweep.py --format json > balayage.json
    python bench/sweep.py --montant "200 000 €"      # every demande with an amount (offers bounded by one)

The aim, printed beside each figure: at least 70 % served locally over the seven pairs, no national
offer above 25 % of any pair, the repli under 10 %.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from matcher.backlog import Backlog  # noqa: E402
from matcher.batch import route_backlog  # noqa: E402
from matcher.workspace import load_workspace  # noqa: E402

PAIRS = (
    ("urbanisme", "conseil"),
    ("eau", "amo"),
    ("renovation-energetique", "diagnostic"),
    ("revitalisation", "diagnostic"),
    ("voirie-reseaux", "amo"),
    ("foncier", "portage-foncier"),
    ("habitat", "conseil"),
)
LOCAL = ("communal", "intercommunal", "departemental", "regional")
NATIONAL = ("operateur", "agence")
AIM_LOCAL, AIM_NATIONAL, AIM_REPLI = 0.70, 0.25, 0.10


def sweep(catalogue: Path | None, rules: Path | None, day: dt.date, montant: str | None = None) -> dict:
    workspace = load_workspace(catalogue, rules, today=day)
    communes = sorted(workspace.graph.index.all_communes().values(), key=lambda c: c.code)
    codes = [c.code for c in communes]
    n = len(codes)
    table = pa.table({
        "id": [f"{code}-{i}" for i in range(len(PAIRS)) for code in codes],
        "porteur": [f"commune:{code}" for _ in PAIRS for code in codes],
        "thematiques": [theme for theme, _ in PAIRS for _ in codes],
        "besoins": [need for _, need in PAIRS for _ in codes],
        # Without an amount, an offer bounded by one (`montant: {max: …}`) cannot be said to serve.
        **({"montant": [montant] * (n * len(PAIRS))} if montant else {}),
    })
    started = time.perf_counter()
    router = workspace.router()
    result = route_backlog(workspace, router, Backlog(table, "<balayage>", "csv"), day)
    elapsed = time.perf_counter() - started
    out = result.table
    level = np.array(out.column("niveau").to_pylist(), dtype=object)
    offer = np.array(out.column("offre_id").to_pylist(), dtype=object)
    error = np.array(out.column("erreur").to_pylist(), dtype=object)
    departement = np.array([c.departement for c in communes] * len(PAIRS), dtype=object)
    repli = workspace.catalogue.repli.id
    names = {o.id: f"{o.structure} — {o.nom}" for o in workspace.catalogue.offres}

    def measure(rows: np.ndarray) -> dict:
        total = int(rows.size)
        if not total:
            return {"demandes": 0}
        levels = Counter(level[rows])
        national = Counter(o for o, lv in zip(offer[rows], level[rows]) if lv in NATIONAL and o != repli)
        top, top_n = national.most_common(1)[0] if national else ("", 0)
        return {
            "demandes": total,
            "erreurs": int(sum(1 for e in error[rows] if e)),
            "locale": sum(levels[lv] for lv in LOCAL) / total,
            "niveaux": {lv: levels[lv] / total for lv in (*LOCAL, *NATIONAL)},
            "plus_grande_offre_nationale": {"offre": top, "nom": names.get(top, ""), "part": top_n / total},
            "repli": int(sum(offer[rows] == repli)) / total,
        }

    pairs = {}
    for i, (theme, need) in enumerate(PAIRS):
        rows = np.arange(i * n, (i + 1) * n)
        by_dep = defaultdict(list)
        for r in rows:
            by_dep[departement[r]].append(r)
        pairs[f"{theme}/{need}"] = {**measure(rows),
                                    "departements": {d: measure(np.array(v)) for d, v in sorted(by_dep.items())}}
    by_dep = defaultdict(list)
    for r, d in enumerate(departement):
        by_dep[d].append(r)
    return {
        "date": day.isoformat(),
        "catalogue": workspace.catalogue.root,
        "montant": montant,
        "communes": n,
        "demandes": int(level.size),
        "secondes": round(elapsed, 1),
        "ensemble": measure(np.arange(level.size)),
        "paires": pairs,
        "departements": {d: measure(np.array(v)) for d, v in sorted(by_dep.items())},
    }


def _count(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def _pct(x: float) -> str:
    return f"{100 * x:5.1f} %"


def _mark(ok: bool) -> str:
    return "atteint" if ok else "NON atteint"


def text(report: dict, worst: int) -> str:
    whole = report["ensemble"]
    lines = [
        f"Balayage du {report['date']} : {_count(report['communes'])} communes × {len(PAIRS)} couples = "
        f"{_count(report['demandes'])} demandes routées en {report['secondes']} s (catalogue {report['catalogue']}, "
        f"{'montant ' + report['montant'] if report['montant'] else 'sans montant'})",
        "",
        f"{'couple':<36}{'local':>9}{'(but ≥ 70 %)':>14}  {'plus grande offre nationale':<58}{'(but ≤ 25 %)':>14}"
        f"{'repli':>9}{'(but < 10 %)':>14}",
    ]
    for name, m in report["paires"].items():
        top = m["plus_grande_offre_nationale"]
        lines.append(f"{name:<36}{_pct(m['locale']):>9}{'':>14}  {(top['offre'] or '—')[:44]:<44}{_pct(top['part']):>14}"
                     f"{'':>14}{_pct(m['repli']):>9}")
    worst_national = max(report["paires"].values(), key=lambda m: m["plus_grande_offre_nationale"]["part"])
    worst_top = worst_national["plus_grande_offre_nationale"]
    lines += [
        "",
        f"Ensemble : {_pct(whole['locale'])} servis localement (but ≥ 70 % : {_mark(whole['locale'] >= AIM_LOCAL)}) ; "
        f"plus grande part d'une offre nationale dans un couple : {_pct(worst_top['part'])} ({worst_top['offre']}) "
        f"(but ≤ 25 % : {_mark(worst_top['part'] <= AIM_NATIONAL)}) ; repli {_pct(whole['repli'])} "
        f"(but < 10 % : {_mark(whole['repli'] < AIM_REPLI)}).",
        "Par niveau : " + ", ".join(f"{lv} {_pct(share).strip()}" for lv, share in whole["niveaux"].items()),
    ]
    if worst:
        deps = sorted(report["departements"].items(), key=lambda kv: (kv[1]["locale"], kv[0]))[:worst]
        lines += ["", f"Les {len(deps)} départements les moins servis localement (les {len(PAIRS)} couples ensemble) :"]
        for code, m in deps:
            lines.append(f"  {code:<4}{_pct(m['locale'])} local, repli {_pct(m['repli'])}, "
                         f"plus grande offre nationale {m['plus_grande_offre_nationale']['offre'] or '—'} "
                         f"{_pct(m['plus_grande_offre_nationale']['part'])}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalogue", type=Path)
    parser.add_argument("--rules", type=Path)
    parser.add_argument("--date", type=dt.date.fromisoformat, default=dt.date.today())
    parser.add_argument("--departements", default="15",
                        help="combien des départements les moins servis lister (0 : aucun ; tous : chacun)")
    parser.add_argument("--montant", help="montant du projet de chaque demande (« 200 000 € ») ; par défaut, aucun")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args()
    report = sweep(args.catalogue, args.rules, args.date, args.montant)
    if args.format == "json":
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(text(report, len(report["departements"]) if args.departements == "tous" else int(args.departements)))


if __name__ == "__main__":
    main()
