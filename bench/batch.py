#!/usr/bin/env python3
"""End-to-end time and peak memory of `aiguillage batch` at national scale, side by side with its
floor, and the same 10k rows routed one at a time through the single-demande path, for the ratio.

The synthetic national catalogue and the backlogs come from bench/generate.py (run first if
they are missing). Each size runs as a fresh process (file in → file out), timed and measured
by the kernel (peak resident memory of the process); the median of --runs is printed. The floor
is a process that only reads the same input with pyarrow and writes the same output bytes (the
decisions file and its explanations, as the batch wrote them); the two alternate, run after run,
so that the machine's noise hits both alike. Every run's success is counted.

    python bench/batch.py                       # 10k, 100k and 1M rows, CSV and Parquet out
    python bench/batch.py --sizes 100000 1000000 --formats csv --runs 10
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

# Measured as an installed command runs: with the project's bytecode written once, as pip writes it (a
# shell that sets PYTHONDONTWRITEBYTECODE would otherwise have every run compile the modules again).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

OUT = ROOT / "bench" / "out"
CATALOGUE = OUT / "catalogue-national"
DAY = "2026-11-26"


def run(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall time (s), peak resident memory (MiB) and processor time (s, user + system) of one process.
    On a machine shared with other work, the processor time moves less than the wall time."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"échec de {' '.join(command)} : {process.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


FLOOR = """
import sys
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

source, written = sys.argv[1], sys.argv[2:]
if source.endswith(".csv"):
    names = open(source, encoding="utf-8-sig").readline().rstrip("\\n").split(";")
    pacsv.read_csv(source, read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
                   parse_options=pacsv.ParseOptions(delimiter=";"),
                   convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}))
else:
    pq.read_table(source)
for path in written:  # the same bytes as the batch's output, written anew to a new file
    data = open(path, "rb").read()
    with open(path + ".plancher", "wb") as out:
        out.write(data)
"""


def fresh(out: Path) -> None:
    """Each run writes new files on a file system with nothing left to flush: replacing a
    gigabyte still in the page cache, or writing while the last run's gigabyte is flushed, costs
    seconds of system time that depend on the run before, not on the one measured."""
    for path in (out, out.with_name(f"{out.stem}.explications{out.suffix}")):
        path.unlink(missing_ok=True)
    os.sync()


def floor(source: Path, outputs: list[Path], env: dict[str, str]) -> tuple[float, float, float]:
    """Reading the input with pyarrow and writing the same output bytes: what no batch can beat."""
    return run([sys.executable, "-c", FLOOR, str(source), *map(str, outputs)], env)


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
        data = {k: v for k, v in record.items() if k in ("code_insee", "thematiques", "besoins", "complexite",
                                                        "saisine", "programmes", "population", "montant")}
        data["commune"] = data.pop("code_insee")
        router.route(*workspace.prepare(data), dt.date.fromisoformat(DAY))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--formats", nargs="+", default=["csv", "parquet"], choices=["csv", "parquet"])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not CATALOGUE.exists() or any(not (OUT / f"carnet-{n}.csv").exists() for n in args.sizes):
        subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"),
                        *[a for n in args.sizes for a in ("--rows", str(n))]], check=True)
    offers = sum(len(re.findall(r"^\s*- id: ", p.read_text(encoding="utf-8"), re.M)) for p in CATALOGUE.rglob("*.yaml"))
    print(f"catalogue synthétique national : {offers} offres ; médianes de {args.runs} lancements ; "
          f"{os.cpu_count()} cœurs ; charge moyenne au départ {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, AIGUILLAGE_CACHE=str(Path(tmp) / "cache"))
        command = [sys.executable, str(ROOT / "cli.py"), "batch"]
        warm = Path(tmp) / "carnet-1000.csv"  # a thousand rows fill the cache: every measure below reads it
        with open(OUT / f"carnet-{min(args.sizes)}.csv", encoding="utf-8") as source:
            warm.write_text("".join(next(source) for _ in range(1001)), encoding="utf-8")
        subprocess.run(command + [str(warm), "-o", str(Path(tmp) / "warm.csv"), "--catalogue",
                                  str(CATALOGUE), "--date", DAY], env=env, check=True, capture_output=True)
        batch_10k = None
        for n in args.sizes:
            for fmt in args.formats:
                times, memory, floors, failed = [], [], [], 0
                cpu, floor_cpu = [], []
                source = OUT / f"carnet-{n}.{fmt}"
                out = Path(tmp) / f"decisions-{n}.{fmt}"
                for _ in range(args.runs):
                    fresh(out)
                    try:
                        elapsed, rss, used = run(command + [str(source), "-o", str(out), "--catalogue",
                                                            str(CATALOGUE), "--date", DAY], env)
                    except SystemExit as failure:
                        failed += 1
                        print(failure, file=sys.stderr)
                        continue
                    times.append(elapsed)
                    memory.append(rss)
                    cpu.append(used)
                    outputs = [out] + [p for p in [out.with_name(f"{out.stem}.explications{out.suffix}")] if p.exists()]
                    for path in outputs:
                        path.with_name(path.name + ".plancher").unlink(missing_ok=True)
                    os.sync()
                    floor_elapsed, _, floor_used = floor(source, outputs, env)
                    floors.append(floor_elapsed)
                    floor_cpu.append(floor_used)
                if not times:
                    print(f"{n:>9} lignes, {fmt}: {failed} échecs sur {args.runs}")
                    continue
                size = sum(p.stat().st_size for p in outputs) / 1e6
                median, base = statistics.median(times), statistics.median(floors)
                if n == 10_000 and fmt == "csv":
                    batch_10k = median
                print(f"{n:>9} lignes, {fmt:<7} → {fmt:<7}: {median:6.2f} s  ({n / median:>9,.0f} lignes/s), "
                      f"plancher {base:5.2f} s — {median / base:4.1f} × le plancher ; mémoire max {max(memory):5.0f} Mio, "
                      f"sortie {size:,.0f} Mo ; {failed} échec{'s' if failed > 1 else ''} sur {args.runs}".replace(",", " "))
                used, floor_used = statistics.median(cpu), statistics.median(floor_cpu)
                print(f"{'':>9} temps processeur (utilisateur + système) : {used:6.2f} s, plancher {floor_used:5.2f} s — "
                      f"{used / floor_used:4.1f} × ; charge moyenne {os.getloadavg()[0]:.1f}")
        if batch_10k is not None:
            single = one_at_a_time(OUT / "carnet-10000.csv", 10_000)
            print(f"les mêmes 10 000 lignes une à une (Router.route, dans un processus) : {single:.2f} s — "
                  f"batch {single / batch_10k:.1f} × plus rapide, démarrage compris")


if __name__ == "__main__":
    main()
