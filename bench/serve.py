#!/usr/bin/env python3
"""Load on `aiguillage serve`: concurrent clients asking /decision and /api/decision for a while,
against a server this script starts on 127.0.0.1 and stops. Prints the latencies (p50, p95, p99,
max), the throughput and the errors, with the floor beside them (p95 under 150 ms, no error).

The demandes are real ones on real territories (an island, a Lyon arrondissement, Angoulême…),
each asked many times (a shared link opened again): the server is measured warm, as the DT's office
uses it. With --distinctes every request is a new demande, never asked before: a commune drawn
among all of France's with one of the seven demandes a DT meets every week (bench/sweep.py's), so
that neither the server's kept decisions nor the decider's grouping of identical cases help.
Bounded: every client stops after --secondes, and each request times out after 10 s.

    python bench/serve.py                        # 20 clients, 30 s
    python bench/serve.py --clients 5 --secondes 5
    python bench/serve.py --distinctes           # every request a new demande: always decided
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Measured as an installed command runs: with the project's bytecode written once, as pip writes it (a
# shell that sets PYTHONDONTWRITEBYTECODE would otherwise have every run compile the modules again).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

HOST = "127.0.0.1"  # the server and its load stay on this machine
P95_FLOOR_MS = 150.0
QUERIES = [
    "porteur=16015&thematique=revitalisation&besoin=diagnostic",
    "porteur=29155&thematique=eau&besoin=amo",
    "porteur=69381&thematique=habitat&besoin=conseil",
    "porteur=35238&thematique=mobilite&besoin=etude&programme=acv",
    "porteur=56121&thematique=energie-dechets&besoin=conseil&complexe=oui",
    "porteur=epci:200071827&thematique=urbanisme&besoin=diagnostic&saisine=directe",
    "porteur=2A004&thematique=patrimoine&besoin=amo",
    "porteur=commune:97411&thematique=risques&besoin=etude",
]


def new_demandes(seed: int = 20261126) -> list[str]:
    """Every commune of France with each of the seven weekly demandes, shuffled: a new demande per request."""
    sys.path.insert(0, str(ROOT))
    from bench.sweep import PAIRS
    from matcher.territory import default_index

    codes = sorted(default_index().all_communes())
    queries = [f"porteur=commune:{code}&thematique={theme}&besoin={need}" for code in codes for theme, need in PAIRS]
    random.Random(seed).shuffle(queries)
    return queries


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_server(port: int, date: str) -> subprocess.Popen:
    command = [sys.executable, "-c", "import cli; cli.entry_point()", "serve", "--host", HOST, "--port", str(port),
               "--date", date]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", "/sante")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"le serveur n'a pas démarré : {server.stderr.read().decode()}")


def client(port: int, stop_at: float, index: int, latencies: list[float], errors: list[str],
           fresh: list[str] | None = None, clients: int = 1) -> None:
    """Ask until `stop_at`: the repeated demandes, or from `fresh` (shared by the clients, each taking
    every `clients`-th from its own offset) demandes never asked before."""
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    n = index
    while time.monotonic() < stop_at:
        query = fresh[n % len(fresh)] if fresh else QUERIES[n % len(QUERIES)]
        path = ("/api/decision?" if n % 2 else "/decision?") + query
        n += clients if fresh else 1
        start = time.perf_counter()
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            elapsed = time.perf_counter() - start
            if response.status != 200 or not body:
                errors.append(f"{response.status} {path}")
            else:
                latencies.append(elapsed)
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{type(exc).__name__} {path}")
            connection.close()
            connection = http.client.HTTPConnection(HOST, port, timeout=10)
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--secondes", type=float, default=30.0)
    parser.add_argument("--date", default="2026-11-26")
    parser.add_argument("--distinctes", action="store_true",
                        help="chaque requête est une demande nouvelle (une commune de France et une des sept demandes "
                             "de chaque semaine) : la décision est toujours prise")
    args = parser.parse_args()
    fresh = new_demandes() if args.distinctes else None
    port = free_port()
    server = start_server(port, args.date)
    try:
        warm: list[float] = []
        warm_errors: list[str] = []
        client(port, time.monotonic() + 3, 0, warm, warm_errors)  # every demande asked once or more
        latencies: list[float] = []
        errors: list[str] = []
        stop_at = time.monotonic() + args.secondes
        threads = [threading.Thread(target=client, args=(port, stop_at, i, latencies, errors, fresh, args.clients))
                   for i in range(args.clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(args.secondes + 30)
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(10)
    if not latencies:
        raise SystemExit(f"aucune réponse ; erreurs : {errors[:5]}")
    ms = sorted(1000 * x for x in latencies)
    q = statistics.quantiles(ms, n=100)
    kind = ("demandes toutes nouvelles (communes de France × sept demandes)" if args.distinctes
            else f"{len(QUERIES)} demandes redemandées")
    print(f"aiguillage serve, {args.clients} clients pendant {args.secondes:.0f} s sur /decision et /api/decision, "
          f"{kind} ({HOST}, {os.cpu_count()} cœurs)")
    print(f"  requêtes          {len(ms):>8}   ({len(ms) / wall:.0f} par seconde)")
    print(f"  p50               {q[49]:>8.1f} ms")
    print(f"  p95               {q[94]:>8.1f} ms   plancher : < {P95_FLOOR_MS:.0f} ms  "
          f"{'tenu' if q[94] < P95_FLOOR_MS else 'NON TENU'}")
    print(f"  p99               {q[98]:>8.1f} ms")
    print(f"  max               {ms[-1]:>8.1f} ms")
    print(f"  erreurs           {len(errors):>8}   plancher : 0  {'tenu' if not errors else 'NON TENU'}")
    for sample in errors[:5]:
        print(f"    {sample}")


if __name__ == "__main__":
    main()
