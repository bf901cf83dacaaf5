"""Wall and CPU seconds spent in named sections of a night, summed per process (for the benchmark).

The per-school stages (extract, validate, load, views) are timed by ``outcome.SchoolOutcome`` and
recorded in the audit log; this module times what happens around them (Dagster events, reports,
LA-wide views). ``totals()`` reads the sums; ``reset()`` clears them. Counts and seconds only.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

_TOTALS: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])  # name -> [wall, cpu, calls]


@contextmanager
def section(name: str) -> Iterator[None]:
    """Add the wall and process CPU time of the block to ``name``."""
    since = clock()
    try:
        yield
    finally:
        add(name, since)


def clock() -> tuple[float, float]:
    """Now, for ``add``: (wall, process CPU) seconds."""
    return time.perf_counter(), time.process_time()


def add(name: str, since: tuple[float, float]) -> None:
    """Add the wall and process CPU time since ``since`` (from ``clock``) to ``name``."""
    total = _TOTALS[name]
    total[0] += time.perf_counter() - since[0]
    total[1] += time.process_time() - since[1]
    total[2] += 1


def totals() -> dict[str, dict[str, float]]:
    """name -> {"wall_s", "cpu_s", "calls"} since the last ``reset``."""
    return {name: {"wall_s": wall, "cpu_s": cpu, "calls": int(calls)} for name, (wall, cpu, calls) in _TOTALS.items()}


def reset() -> None:
    _TOTALS.clear()
