"""Every active school's targeting support pack and the LA page, in one pass (``ncc-transfer pack --all``).

Building the packs one by one reads every pupil and the year's summary of the school's whole phase again
for each school, and computes the phase's LA figures again: at Norfolk size (420 schools) that is most
of a pack's time. Here the warehouse is read once for the LA (``targeting.read_la``), the LA figures of
each phase are computed once, and each school's rows are sliced from them; only the school's own marks
are read per school. Each school's pack is then computed (``targeting.assemble_pack``, pure) and written
in a ``concurrent.futures.ProcessPoolExecutor`` of ``workers`` processes (spawned, as
``ncc_transfer.prefetch`` does, never forked from a process holding DuckDB's threads), while this process
reads the next schools' marks. The packs are the same as those built alone (a test compares them frame
by frame). What is returned is folders and counts, never a pupil.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .night_guard import raise_if_interrupted
from .registry import Registry, School
from .reports.targeting_pack import WrittenPack, write_la_page, write_school_pack
from .targeting import SchoolInputs, assemble_pack, build_la_page, packs_root, read_la, school_inputs
from .warehouse import Warehouse

log = logging.getLogger(__name__)

MIN_SCHOOLS = 8  # below this a worker process's start-up (a second or two) is not worth it
AHEAD = 2  # schools per worker handed out and not yet finished (memory: their marks)
START_METHOD = "spawn"


@dataclass
class AllPacks:
    """Counts and folders only."""

    la_page: WrittenPack | None
    packs: dict[str, WrittenPack] = field(default_factory=dict)  # school key -> its pack
    failed: dict[str, str] = field(default_factory=dict)  # school key -> the exception's type name
    seconds: float | None = None  # set by a caller that times the whole


def _compute_and_write(inputs: SchoolInputs, root: Path) -> WrittenPack:
    """In a worker (or here): one school's pack from its rows, written under ``root``."""
    return write_school_pack(assemble_pack(inputs), root)


def _workers(workers: int | None, schools: int) -> int:
    if workers is None:
        workers = os.cpu_count() or 1
    return 0 if workers <= 1 or schools < MIN_SCHOOLS else workers


def write_all_packs(warehouse: Warehouse, registry: Registry, *, as_of: date, home: Path,
                    schools: Iterable[School] | None = None, la_page: bool = True, workers: int | None = None,
                    on_pack: Callable[[School, WrittenPack | None, str | None], None] | None = None) -> AllPacks:
    """Write the pack of each school (default every active school of the registry) and, with ``la_page``,
    the LA page. One school's failure never stops the others (its exception's type is in ``failed``).
    ``workers``: processes computing and writing packs (default the CPUs; 0 or 1, or fewer than
    ``MIN_SCHOOLS`` schools: in this process). ``on_pack(school, written, error)`` is called as each ends."""
    chosen = list(registry.active_schools if schools is None else schools)
    count = _workers(workers, len(chosen))
    if not count:
        return _write(warehouse, registry, as_of, home, chosen, la_page, on_pack, None)
    with ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context(START_METHOD)) as pool:
        # The workers start (a fresh interpreter each, importing pandas and the rules) while this process
        # reads the LA and writes the LA page.
        for _ in range(count):
            pool.submit(_warm_up)
        return _write(warehouse, registry, as_of, home, chosen, la_page, on_pack, (pool, count))


def _warm_up() -> None:
    import ncc_transfer.targeting  # noqa: F401 - the imports a pack needs, before the first school


def _write(warehouse: Warehouse, registry: Registry, as_of: date, home: Path, chosen: list[School], la_page: bool,
           on_pack, pooled) -> AllPacks:
    root = packs_root(home)
    la = read_la(warehouse, registry, as_of)
    result = AllPacks(la_page=write_la_page(build_la_page(warehouse, registry, as_of, la=la), root)
                      if la_page else None)

    def done(school: School, written: WrittenPack | None, error: BaseException | None) -> None:
        if written is not None:
            result.packs[school.key] = written
        else:
            result.failed[school.key] = type(error).__name__
            log.error("%s: the targeting pack could not be written (%s)", school.key, type(error).__name__)
        if on_pack is not None:
            on_pack(school, written, None if error is None else type(error).__name__)

    def inputs_of(school: School) -> SchoolInputs | None:
        try:
            return school_inputs(warehouse, la, school)
        except Exception as exc:  # noqa: BLE001 - reported; the other schools go on
            raise_if_interrupted()  # a stop signal DuckDB turned into its own error stops the packs
            done(school, None, exc)
            return None

    if pooled is None:
        for school in chosen:
            inputs = inputs_of(school)
            if inputs is None:
                continue
            try:
                done(school, _compute_and_write(inputs, root), None)
            except Exception as exc:  # noqa: BLE001
                raise_if_interrupted()
                done(school, None, exc)
        return result

    pool, count = pooled
    pending: dict[Future, School] = {}
    queue = iter(chosen)

    def fill() -> None:
        while len(pending) < count * AHEAD:
            school = next(queue, None)
            if school is None:
                return
            inputs = inputs_of(school)
            if inputs is not None:
                pending[pool.submit(_compute_and_write, inputs, root)] = school

    fill()
    while pending:
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            school = pending.pop(future)
            error = future.exception()
            done(school, None if error else future.result(), error)
        fill()
    return result
