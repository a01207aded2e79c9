#!/usr/bin/env python3
"""How long a cold `aiguillage route` takes, as a whole process, against the bare cost of
starting Python with the same imports.

Each measure is a fresh process; the two commands alternate so that the machine's noise hits
both alike; medians are printed, and their ratio. Three cases: the usual one (the checked
catalogue is in the user's cache), the first run of a day (the cache was filled by a run of
another day: what it holds does not depend on the day), and the very first run (empty cache:
the catalogue is parsed and checked, the territorial graph built).

    python bench/route.py            # 21 runs of each
    python bench/route.py --runs 51
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Measured as an installed command runs: with the project's bytecode written once, as pip writes it (a
# shell that sets PYTHONDONTWRITEBYTECODE would otherwise have every run compile the modules again).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

ROUTE = [sys.executable, str(ROOT / "cli.py"), "route", "--porteur", "16089", "--thematique", "revitalisation",
         "--besoin", "diagnostic"]
FLOOR = [sys.executable, "-c", "import click, yaml, networkx, durable.engine"]


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        warm = dict(os.environ, AIGUILLAGE_CACHE=cache)
        subprocess.run(ROUTE, env=warm, stdout=subprocess.DEVNULL, check=True)  # fills the cache
        floor, route, day, first = [], [], [], []
        for i in range(args.runs):
            floor.append(timed(FLOOR, warm))
            route.append(timed(ROUTE, warm))
            with tempfile.TemporaryDirectory() as yesterday:  # filled by a decision of another day
                env = dict(os.environ, AIGUILLAGE_CACHE=yesterday)
                subprocess.run(ROUTE + ["--date", "2026-01-02"], env=env, stdout=subprocess.DEVNULL, check=True)
                day.append(timed(ROUTE, env))
            with tempfile.TemporaryDirectory() as empty:
                first.append(timed(ROUTE, dict(os.environ, AIGUILLAGE_CACHE=empty)))
    f, r, d, c = (statistics.median(x) for x in (floor, route, day, first))
    print(f"python + click, yaml, networkx, durable_rules : médiane {f * 1000:.0f} ms ({args.runs} lancements)")
    print(f"aiguillage route (catalogue en cache)       : médiane {r * 1000:.0f} ms — {r / f:.2f} × le plancher")
    print(f"aiguillage route (premier du jour)          : médiane {d * 1000:.0f} ms — {d / f:.2f} × le plancher")
    print(f"aiguillage route (cache vide)               : médiane {c * 1000:.0f} ms — {c / f:.2f} × le plancher")


if __name__ == "__main__":
    main()
