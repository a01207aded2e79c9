#!/usr/bin/env python3
"""The national catalogue's rulesets created again and again, the heap left as a long run leaves it.

durable_rules leaves the type of an `$or` node uninitialised when the `$or` ends a list test
(`$iany`/`$iall`): the engine refuses the ruleset (error 102) whenever the heap holds 0x09 or 0x0C
there, about one 1M-row batch in seven before the guard. Here the freed heap is filled with 0x09
before each creation, so that every creation meets those bytes: with the guard (`engine._closed`)
none is refused; `--sans-garde` shows the engine as it was fed before.

    python bench/generate.py --rows 1000        # once: bench/out/catalogue-national
    python bench/creation.py --fois 20
    python bench/creation.py --fois 20 --sans-garde
"""

from __future__ import annotations

import argparse
import ctypes
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from matcher import engine  # noqa: E402
from matcher.conditions import compile_condition  # noqa: E402
from matcher.decide import offer_condition  # noqa: E402
from matcher.engine import EngineRule, Program  # noqa: E402
from matcher.errors import CompileError  # noqa: E402
from matcher.workspace import load_workspace  # noqa: E402

LIBC = ctypes.CDLL(None)
LIBC.malloc.restype = ctypes.c_void_p
LIBC.free.argtypes = [ctypes.c_void_p]


def poison() -> None:
    """Freed blocks of every size from 64 B to 512 KiB, filled with 0x09 (JSON_IDENTIFIER)."""
    blocks = []
    for k in range(6, 20):
        block = LIBC.malloc(1 << k)
        ctypes.memset(block, 0x09, 1 << k)
        blocks.append(block)
    for block in blocks:
        LIBC.free(block)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fois", type=int, default=20, help="créations du programme")
    parser.add_argument("--catalogue", type=Path, default=ROOT / "bench" / "out" / "catalogue-national")
    parser.add_argument("--sans-garde", action="store_true", help="les listes données au moteur comme avant")
    args = parser.parse_args()
    if args.sans_garde:
        engine._closed = lambda item: item
    workspace = load_workspace(catalogue_dir=args.catalogue)
    rules = [EngineRule(o.id, compile_condition(offer_condition(o))) for o in workspace.catalogue.offres if not o.repli]
    refused, start = 0, time.perf_counter()
    for i in range(args.fois):
        poison()
        try:  # one more rule each time: a new ruleset, created anew
            Program(rules + [EngineRule(f"essai-{i}", {"$eq": {"essai": i}})])
        except CompileError as exc:
            refused += "error code: 102" in exc.message
    print(f"{len(rules)} offres, {args.fois} créations en {time.perf_counter() - start:.0f} s : {refused} refusées "
          f"(erreur 102){' — sans la garde' if args.sans_garde else ''} ; plancher : 0")


if __name__ == "__main__":
    main()
