#!/usr/bin/env python3
"""How long the governance outputs take on a decisions file, against reading that file.

The floor is a fresh Python process that imports the reader and reads the decisions file back
(`matcher.decisions.read_decisions`): every report and the veille et alerte must at least do that.
Each command is a fresh process too; floor and commands alternate so that the machine's noise hits
them alike; medians are printed with their ratio to the floor.

The decisions file is made once, with `aiguillage batch`, from the national synthetic catalogue and
backlog of `bench/generate.py` (run it first), decided as of --date.

    python bench/generate.py --rows 100000
    python bench/reports.py                    # 100k decisions, 5 runs of each
    python bench/reports.py --rows 10000 --runs 9
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

OUT = ROOT / "bench" / "out"
CLI = [sys.executable, str(ROOT / "cli.py")]


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--date", default="2026-11-26")
    args = parser.parse_args()
    catalogue, backlog = OUT / "catalogue-national", OUT / f"carnet-{args.rows}.csv"
    if not backlog.exists():
        sys.exit(f"{backlog} absent : lancez d'abord python bench/generate.py --rows {args.rows}")
    with tempfile.TemporaryDirectory() as work:
        decisions, out = Path(work) / "decisions.csv", Path(work)
        subprocess.run(CLI + ["batch", str(backlog), "-o", str(decisions), "--catalogue", str(catalogue),
                              "--date", args.date], check=True, stderr=subprocess.DEVNULL)
        common = ["--decisions", str(decisions), "--catalogue", str(catalogue), "--date", args.date]
        floor = [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                 "from matcher.decisions import read_decisions; read_decisions(sys.argv[2])", str(ROOT), str(decisions)]
        commands = {
            "alertes": CLI + ["alertes", *common],
            "report impact -o .html": CLI + ["report", "impact", *common, "-o", str(out / "impact.html")],
            "report comite-local -o .html (59)": CLI + ["report", "comite-local", *common, "--departement", "59",
                                                        "-o", str(out / "local.html")],
            "report comite-regional -o .xlsx (32)": CLI + ["report", "comite-regional", *common, "--region", "32",
                                                           "-o", str(out / "regional.xlsx")],
        }
        times: dict[str, list[float]] = {"floor": [], **{name: [] for name in commands}}
        for _ in range(args.runs):
            times["floor"].append(timed(floor))
            for name, command in commands.items():
                times[name].append(timed(command))
    f = statistics.median(times["floor"])
    print(f"{args.rows} décisions, {args.runs} lancements de chaque, médianes")
    print(f"  plancher : lire le fichier de décisions           {f:6.2f} s")
    for name in commands:
        m = statistics.median(times[name])
        print(f"  {name:<48}{m:6.2f} s — {m / f:.2f} × le plancher")


if __name__ == "__main__":
    main()
