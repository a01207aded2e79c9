"""`aiguillage batch` as a pipeline of steps: read → decide → capacity → compare → write.

Each step is a module that knows only the steps before it: `batch` reads and decides a backlog,
`capacity` re-assigns its decisions under the offers' capacities, `compare` sets them beside an
earlier run's; this module, above them all, chains the steps a command asks for.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa

from .backlog import read_backlog, write_decisions
from .batch import has_required_columns, route_backlog
from .errors import BatchInputError, Location
from .projets import from_projets_territoire, is_projets_territoire
from .workspace import Workspace


def _cycle_collector_paused(run: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """A batch keeps nearly all it makes until it writes (the rows' facts, the decisions, their
    texts) and makes next to no reference cycles: Python's cycle collector would go through every
    object again and again as they pile up, a fifth of the run's time, to free almost nothing. It
    runs again once the run has returned, when what it made is given back already (had it run
    while the run's objects were still held, it would have gone through them all once more)."""

    @functools.wraps(run)
    def paused(*args: Any, **kwargs: Any) -> dict[str, Any]:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return run(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return paused


def _system_allocator(run: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Arrow's own allocator (mimalloc) takes its memory in transparent huge pages where the system
    allows them, and the kernel zeroes each 2 MiB page as it is first touched: with the batch's many
    arrays of a few megabytes that live a moment (a grouping's codes, a column of texts, a part of the
    explanations), that zeroing took from a twentieth to a seventh of the processor time of a
    100,000-row batch, run after run. The C library's allocator reuses the small pages it was given
    back. Set for the run, then put back."""

    @functools.wraps(run)
    def with_system_allocator(*args: Any, **kwargs: Any) -> dict[str, Any]:
        previous = pa.default_memory_pool()
        pa.set_memory_pool(pa.system_memory_pool())
        try:
            return run(*args, **kwargs)
        finally:
            pa.set_memory_pool(previous)

    return with_system_allocator


@_system_allocator
@_cycle_collector_paused
def run_batch(
    workspace: Workspace,
    source: Path,
    output: Path,
    day: dt.date,
    previous: Path | None = None,
    capacity: bool = False,
    encoding: str | None = None,
    separator: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    max_rows: int | None = None,
) -> dict[str, Any]:
    """Read a backlog, route it, assign and compare if asked, write the decisions; the summary.
    `max_rows`: a longer backlog is refused before any routing (the web page's limit)."""
    backlog = read_backlog(source, encoding, separator, is_header=has_required_columns)
    if max_rows is not None and backlog.table.num_rows > max_rows:
        raise BatchInputError(f"{backlog.table.num_rows} lignes : au plus {max_rows} par envoi (découpez le "
                              "carnet, ou utilisez « aiguillage batch »)", Location(str(source)), "trop-de-lignes")
    if is_projets_territoire(backlog):
        backlog = from_projets_territoire(backlog, workspace)
    router = workspace.router()
    tick = (lambda done: progress(done, backlog.table.num_rows)) if progress else None
    result = route_backlog(workspace, router, backlog, day, tick)
    if capacity:
        from .capacity import assign_capacities  # pandas, paid only by the runs that ask for it

        result = assign_capacities(workspace, result, day)
    if previous is not None:
        from .compare import compare_with_previous

        result = compare_with_previous(workspace, result, read_backlog(previous))
    write_decisions(result.table, output, separator=backlog.separator or ";", explanations=result.explanations)
    read = {"lignes_vides": backlog.empty_lines()} if backlog.empty_lines() else {}
    if backlog.notes:
        read["lecture"] = list(backlog.notes)
    return {**result.summary, **read, "fichier": str(output), "entree": str(source), "format_entree": backlog.format,
            "encodage_entree": backlog.encoding, "version": dict(router.version),
            "catalogue_et_regles": workspace.in_use().phrase()}


__all__ = ["run_batch"]
