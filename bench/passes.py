#!/usr/bin/env python3
"""What a new demande costs the web page's decider, alone and decided together with others in one pass
(as `aiguillage serve` does with the demandes that arrive while the engine is busy), in one process.

The demandes are bench/serve.py's new ones (a commune of France with one of the seven weekly demandes),
each asked once. The floor: twenty clients each waiting one pass of twenty keep a p95 under 150 ms only
if a demande costs at most 150 / 20 = 7.5 ms in such a pass.

    python bench/passes.py                  # 400 demandes in passes of 20, of 5, and alone
    python bench/passes.py --demandes 100
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serve import new_demandes  # noqa: E402
from matcher.web.app import Service, demande_fields  # noqa: E402

FLOOR_MS = 150 / 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demandes", type=int, default=400, help="demandes decided for each size of pass")
    parser.add_argument("--date", default="2026-11-26")
    args = parser.parse_args()
    day = dt.date.fromisoformat(args.date)
    service = Service(day=day)
    try:
        workspace = service.workspace(day)
        fields = [demande_fields(parse_qsl(q))[0] for q in new_demandes()[: 4 * args.demandes + 20]]
        workspace.route_many(fields[-20:], day)  # the engine's rulesets compiled before measuring
        print(f"décideur de la page web, {args.demandes} demandes nouvelles par taille de passe, au {day:%d/%m/%Y}")
        start = 0
        for size in (20, 5, 1):  # the largest first: the caches it warms help the others, not it
            batch = fields[start:start + args.demandes]
            start += args.demandes
            began = time.perf_counter()
            for i in range(0, len(batch), size):
                workspace.route_many(batch[i:i + size], day)
            each = 1000 * (time.perf_counter() - began) / len(batch)
            verdict = ("tenu" if each <= FLOOR_MS else "NON TENU") if size == 20 else ""
            print(f"  passe de {size:>2}       {each:>8.2f} ms par demande"
                  + (f"   plancher : ≤ {FLOOR_MS:.1f} ms  {verdict}" if size == 20 else ""))
    finally:
        service.close()


if __name__ == "__main__":
    main()
