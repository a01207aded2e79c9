#!/usr/bin/env python3
"""End-to-end time and peak memory of `aiguillage batch` at national scale, and the same 10k rows
routed one at a time through the single-demande path, for the ratio.

The synthetic national catalogue and the backlogs come from bench/generate.py (run first if
they are missing). Each size runs as a fresh process (file in → file out), timed and measured
by the kernel (peak resident memory of the process); the median of --runs is printed.

    python bench/batch.py                       # 10k, 100k and 1M rows, CSV and Parquet out
    python bench/batch.py --sizes 10000 100000 --runs 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
CATALOGUE = OUT / "catalogue-national"
DAY = "2026-11-26"


def run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time (s) and peak resident memory (MiB) of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"échec de {' '.join(command)} : {process.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


def one_at_a_time(backlog: Path, rows: int) -> float:
    """Route the rows one by one through Workspace.prepare + Router.route (in this process)."""
    sys.path.insert(0, str(ROOT))
    import pandas as pd

    from matcher.workspace import load_workspace

    workspace = load_workspace(CATALOGUE, today=dt.date.fromisoformat(DAY))
    router = workspace.router()
    frame = pd.read_csv(backlog, sep=";", dtype=str, keep_default_na=False).head(rows)
    records = frame.to_dict("records")
    start = time.perf_counter()
    for record in records:
        data = {k: v for k, v in record.items() if k in ("porteur", "thematiques", "besoins", "complexite",
                                                        "saisine", "programmes", "population", "montant")}
        router.route(*workspace.prepare(data), dt.date.fromisoformat(DAY))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not CATALOGUE.exists() or any(not (OUT / f"carnet-{n}.csv").exists() for n in args.sizes):
        subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"),
                        *[a for n in args.sizes for a in ("--rows", str(n))]], check=True)
    offers = sum(len(re.findall(r"^\s*- id: ", p.read_text(encoding="utf-8"), re.M)) for p in CATALOGUE.rglob("*.yaml"))
    print(f"catalogue synthétique national : {offers} offres ; médianes de {args.runs} lancements")
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, AIGUILLAGE_CACHE=str(Path(tmp) / "cache"))
        command = [sys.executable, str(ROOT / "cli.py"), "batch"]
        subprocess.run(command + [str(OUT / "carnet-10000.csv"), "-o", str(Path(tmp) / "warm.csv"), "--catalogue",
                                  str(CATALOGUE), "--date", DAY], env=env, check=True, capture_output=True)
        batch_10k = None
        for n in args.sizes:
            for fmt in ("csv", "parquet"):
                times, memory = [], []
                for _ in range(args.runs):
                    out = Path(tmp) / f"decisions-{n}.{fmt}"
                    elapsed, rss = run(command + [str(OUT / f"carnet-{n}.{fmt}"), "-o", str(out), "--catalogue",
                                                  str(CATALOGUE), "--date", DAY], env)
                    times.append(elapsed)
                    memory.append(rss)
                    size = out.stat().st_size / 1e6
                median = statistics.median(times)
                if n == 10_000 and fmt == "csv":
                    batch_10k = median
                print(f"{n:>9} lignes, {fmt:<7} → {fmt:<7}: {median:6.2f} s  ({n / median:>9,.0f} lignes/s), "
                      f"mémoire max {max(memory):5.0f} Mio, sortie {size:,.0f} Mo".replace(",", " "))
        if batch_10k is not None:
            single = one_at_a_time(OUT / "carnet-10000.csv", 10_000)
            print(f"les mêmes 10 000 lignes une à une (Router.route, dans un processus) : {single:.2f} s — "
                  f"batch {single / batch_10k:.1f} × plus rapide, démarrage compris")


if __name__ == "__main__":
    main()
