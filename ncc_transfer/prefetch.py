"""Prepare the next schools while the step writes this one, with the standard library's pools.

A night is a sequence of schools, each ``prepare_school`` (read, check, validate, compute the views:
no warehouse) then ``commit_school`` (one warehouse transaction, the audit row).
``prepared_as_ready`` yields the prepared schools while preparing the next ones ahead of their turn,
so preparing and writing overlap: files-route schools in the schools' order, a vendor-route school as
soon as its fetch has finished (a large school or a slow vendor holds up none of the others, and a
fetched school waits for no earlier one to be written; the step writes them in the order they come):

* Files-route schools (CPU-bound) go to a ``concurrent.futures.ProcessPoolExecutor``
  (https://docs.python.org/3/library/concurrent.futures.html#processpoolexecutor), created once per
  call (once per step) however many schools, in batches of ``BATCH`` whose views are computed in one
  pass (``pipeline.prepare_schools``), at most ``AHEAD`` batches per worker process not yet handed
  out. Its workers start with the ``spawn`` method
  (https://docs.python.org/3/library/multiprocessing.html#contexts-and-start-methods): a fresh
  interpreter, never ``fork`` of a process that already runs Dagster's and DuckDB's threads. (The
  ``forkserver`` method was measured too: the same two seconds for a night's one pool, plus a server
  process that outlives it.) As with any start method but ``fork``, a script that starts a night
  must guard its entry point with ``if __name__ == "__main__":`` (the "safe importing of main
  module" rule on the same page). A worker has this process's environment as the night starts
  (NCC_* settings, the archive key) and the umask 0o077 (``files_at_rest``). Until the pool has
  answered a first, empty, task, schools are prepared here rather than waited for.
* Vendor-route schools go to a ``ThreadPoolExecutor``
  (https://docs.python.org/3/library/concurrent.futures.html#threadpoolexecutor) of
  ``FetchLimits.threads`` threads (``NCC_VENDOR_FETCH_THREADS``, default 4), at most one school per
  thread not yet handed out: a vendor's answers take tens of milliseconds and its rate limit spaces a
  credential's requests (per credential and thread-safe, ``connectors.http``), so schools fetched
  together overlap their waits. Measured with the simulator playing an 80 ms network at each route's
  rate (``benchmarks/nightly_bench.py --route wonde --latency-ms 80 --scale 0.02``, 8 schools): one
  after another 218.8 s, 8 at once 73.7 s, against a floor of 54.0 s (the longest school's requests).
  On loopback with no latency, threads only share one interpreter's CPU (``0`` is then as fast).
  ``FetchLimits.per_route`` (``NCC_ROUTE_CONCURRENCY``, e.g. ``wonde=2``) caps the
  schools of one route handed out at once, so that vendor never has more of this run's schools
  fetching together; a school of a route at its cap waits for one of that route's to be taken while
  other routes' schools go ahead.
* A replay (the extract comes from this machine's archive) is prepared here, one school after another.
* Anything going wrong with a pool (a worker died, a task could not be sent or its result read)
  falls back to preparing the school here: a school is never lost, only the overlap. A broken
  process pool is given up for the rest of the night.
* When the caller stops early (a signal unwinds the step, the warehouse is gone), queued schools are
  cancelled and the worker processes terminated, not waited for
  (``Executor.shutdown(cancel_futures=True)``); a vendor fetch already running finishes its school
  in its thread (bounded by the connector's timeouts).
* ``NCC_PREPARE_AHEAD=0`` turns all of it off (everything here, one school after the other).

Results are the same either way: every path runs the same ``prepare_school`` on the same inputs,
and the views of a batch are, school by school, those of the school alone (``pipeline.add_views``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .config import flag, setting
from .connectors.routes import ROUTES
from .files_at_rest import restrict_umask
from .pipeline import PreparedSchool, prepare_school, prepare_schools
from .registry import School

log = logging.getLogger(__name__)

MIN_SCHOOLS = 8  # below this the worker process's start-up (a second or two) is not worth it
BATCH = 4  # files-route schools per task, views computed in one pass (``pipeline.prepare_schools``); a
# result is pickled whole, so the worker's peak grows with it (8: 1,060 MB at --scale 0.1; 4: 800 MB)
AHEAD = 2  # batches per worker process not yet handed out (memory: AHEAD * BATCH prepared schools each)
VENDOR_AHEAD = 1  # vendor schools per thread not yet handed out (memory: one prepared school per thread)
START_METHOD = "spawn"


def prepare_ahead_enabled() -> bool:
    """NCC_PREPARE_AHEAD (default on): prepare the next schools while this one is written."""
    return flag("NCC_PREPARE_AHEAD")


def vendor_fetch_threads() -> int:
    """NCC_VENDOR_FETCH_THREADS (default 4): vendor-route schools prepared at once in threads (0: none,
    one after another in this process)."""
    try:
        return max(0, int(setting("NCC_VENDOR_FETCH_THREADS")))
    except ValueError:
        return 4


def route_concurrency() -> dict[str, int]:
    """NCC_ROUTE_CONCURRENCY: the most schools of one vendor route fetched at once, ``route=number``
    pairs separated by commas (``wonde=2,arbor=1``); unset: no cap but the threads'."""
    caps = {}
    for part in filter(None, (p.strip() for p in setting("NCC_ROUTE_CONCURRENCY").split(","))):
        route, _, number = (text.strip() for text in part.partition("="))
        if not route or not number.isdigit():
            raise ValueError(f"NCC_ROUTE_CONCURRENCY: expected route=number pairs separated by commas "
                             f"(e.g. wonde=2,arbor=1), not {part!r}")
        caps[route] = int(number)
    return caps


@dataclass(frozen=True)
class FetchLimits:
    """How many vendor-route schools are fetched at once: ``threads`` in all (0: one after another,
    here) and at most ``per_route[route]`` of one route (a route left out: up to ``threads``)."""

    threads: int = 0
    per_route: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        vendor_routes = [name for name, spec in ROUTES.items() if not spec.reads_folder]
        if self.threads < 0:
            raise ValueError(f"vendor fetch threads must be 0 or more, not {self.threads}")
        for route, cap in self.per_route.items():
            if route not in vendor_routes:
                raise ValueError(f"per-route concurrency: {route!r} is not a vendor route "
                                 f"(vendor routes: {', '.join(vendor_routes)})")
            if cap < 1:
                raise ValueError(f"per-route concurrency: {route} must be 1 or more, not {cap}")

    @classmethod
    def from_env(cls) -> FetchLimits:
        return cls(threads=vendor_fetch_threads(), per_route=route_concurrency())

    def cap(self, route: str) -> int:
        return self.per_route.get(route, self.threads)


def worker_processes() -> int:
    """Worker processes for the files route: one per core beyond the one writing the warehouse (1 to 4)."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def can_prepare_ahead(school: School, replay: bool) -> bool:
    """Whether a worker process prepares the school (files route, not a replay)."""
    return school.mis == "files" and not replay


def _ready() -> int:
    """The pool's first task: answers once a worker has imported the pipeline."""
    return os.getpid()


def largest_first(vendor: list[tuple[int, School]], sizes: dict[str, int]) -> list[tuple[int, School]]:
    """The vendor schools in the order they are handed to the threads: those of unknown size first,
    then the largest first (``sizes``: each school's marks at its last load). A school's fetch takes
    its requests one after another, so the largest ones set the night's end: started last, they
    would run on alone after the others (the longest-processing-time-first rule of scheduling)."""
    return sorted(vendor, key=lambda item: (item[1].key in sizes, -sizes.get(item[1].key, 0), item[0]))


class _Ahead:
    """The two pools and the futures of the schools handed to them (by school key)."""

    def __init__(self, schools: list[School], *, home: Path, as_of: date, views: bool, replay: bool,
                 full_refresh: bool, min_schools: int, limits: FetchLimits, sizes: dict[str, int]) -> None:
        self.home, self.as_of, self.views, self.full_refresh, self.limits = home, as_of, views, full_refresh, limits
        self.files = [(n, s) for n, s in enumerate(schools) if can_prepare_ahead(s, replay)]
        self.vendor = largest_first([(n, s) for n, s in enumerate(schools) if s.mis != "files" and not replay], sizes)
        self.next_file = 0  # the next files-route school to hand over
        self.futures: dict[str, Future] = {}  # key -> the future of its batch (files) or its own (vendor)
        self.batches: dict[Future, list[str]] = {}  # files batches handed over whose result is not read
        self.results: dict[str, PreparedSchool] = {}  # read from a batch, not yet handed out
        self.fetching: Counter[str] = Counter()  # route -> its schools handed to the threads, not yet taken
        self.processes: ProcessPoolExecutor | None = None
        self.threads: ThreadPoolExecutor | None = None
        self.workers = worker_processes()
        if len(self.files) >= min_schools:
            try:
                self.processes = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(START_METHOD),
                                                     initializer=restrict_umask)
                self.ready = self.processes.submit(_ready)
            except Exception as exc:  # noqa: BLE001 - no worker tonight: everything here
                self._give_up(exc)
        if self.vendor and limits.threads:
            self.threads = ThreadPoolExecutor(limits.threads, thread_name_prefix="ncc-vendor-fetch")
        self.threaded = {s.key for _, s in self.vendor} if self.threads else set()  # fetched in the threads
        self.waiting = [s for _, s in self.vendor] if self.threads else []  # not yet handed to them, in turn

    def wait_for_worker(self) -> None:
        if self.processes is not None:
            try:
                self.ready.result(timeout=300)
            except Exception as exc:  # noqa: BLE001
                self._give_up(exc)

    def hand_over(self, pending: dict[str, School]) -> None:
        """Keep the pools busy with schools not yet handed out (``pending``: those not yet yielded, in
        the schools' order): files-route batches in order, vendor-route schools within the limits."""
        while self.processes is not None and self.ready.done() and len(self.batches) < AHEAD * self.workers:
            while self.next_file < len(self.files) and self.files[self.next_file][1].key not in pending:
                self.next_file += 1  # its turn came before the pool was ready: prepared here
            batch = [s for _, s in self.files[self.next_file:self.next_file + BATCH]]
            if not batch:
                break
            self.next_file += len(batch)
            try:
                future = self.processes.submit(prepare_schools, batch, home=self.home, as_of=self.as_of,
                                               views=self.views)
            except Exception as exc:  # noqa: BLE001 - the pool is broken or shut down
                self._give_up(exc)
                break
            self.batches[future] = [s.key for s in batch]
            self.futures.update((s.key, future) for s in batch)
        if self.threads is None:
            return
        limit = VENDOR_AHEAD * self.limits.threads
        while self.waiting and sum(self.fetching.values()) < limit:
            # The next school whose route is under its cap: one at its cap waits, other routes' go ahead.
            school = next((s for s in self.waiting if self.fetching[s.mis] < self.limits.cap(s.mis)), None)
            if school is None:
                break
            self.waiting.remove(school)
            self.futures[school.key] = self.threads.submit(
                prepare_school, school, home=self.home, as_of=self.as_of, views=self.views,
                full_refresh=self.full_refresh)
            self.fetching[school.mis] += 1

    def fetched(self) -> dict[str, Future]:
        """The vendor fetches handed out and not yet taken, by school key, in the order handed out."""
        return {key: future for key, future in self.futures.items() if key in self.threaded}

    def next_school(self, pending: dict[str, School]) -> School:
        """The school to take next: a vendor school whose fetch has finished; else the first other
        school (in the schools' order) when it is ready or nothing else is running; else, once one
        of those has finished, that one."""
        while True:
            running = self.fetched()
            done = next((key for key, future in running.items() if future.done()), None)
            if done is not None:
                return pending[done]
            running = list(running.values())
            other = next((s for s in pending.values() if s.key not in self.threaded), None)
            if other is None and not running:  # cannot happen (a vendor school waits only for a thread)
                return next(iter(pending.values()))
            if other is not None:
                future = self.futures.get(other.key)
                if future is None or future.done() or other.key in self.results or not running:
                    return other
                running.append(future)
            wait(running, return_when=FIRST_COMPLETED)

    def take(self, school: School) -> PreparedSchool | None:
        """The school prepared ahead (waiting for it), or None: not handed over, or its pool failed."""
        if school.key in self.results:
            return self.results.pop(school.key)
        future = self.futures.pop(school.key, None)
        if future is None:
            return None
        keys = self.batches.pop(future, None)
        try:
            result = future.result()
        except Exception as exc:  # noqa: BLE001 - the pool failed, not the school (prepare_school catches those)
            if keys is None:
                log.warning("%s: preparing it in a thread failed (%s); preparing it here", school.key,
                            type(exc).__name__)
            else:
                self._give_up(exc)
            return None
        finally:
            if keys is None:  # a vendor school, fetched: its route may have another one fetched
                self.fetching[school.mis] -= 1
        if keys is None:
            return result
        for key in keys:
            self.futures.pop(key, None)
        self.results.update((p.outcome.school_key, p) for p in result)
        return self.results.pop(school.key, None)

    def _give_up(self, exc: BaseException) -> None:
        log.warning("the worker process failed (%s); preparing the remaining files-route schools here",
                    type(exc).__name__)
        self._stop_processes(now=True)
        for future, keys in self.batches.items():
            for key in keys:
                self.futures.pop(key, None)
        self.batches.clear()

    def _stop_processes(self, now: bool) -> None:
        pool, self.processes = self.processes, None
        if pool is None:
            return
        workers = list((getattr(pool, "_processes", None) or {}).values())  # before shutdown forgets them
        pool.shutdown(wait=not now, cancel_futures=True)
        if now:  # what Python 3.14's ``ProcessPoolExecutor.terminate_workers`` does
            for worker in workers:
                if worker.is_alive():
                    worker.terminate()

    def close(self, now: bool) -> None:
        """Stop both pools: at once (``now``: queued schools cancelled, workers terminated) or after
        what they are doing."""
        self._stop_processes(now)
        if self.threads is not None:
            self.threads.shutdown(wait=not now, cancel_futures=True)
            self.threads = None


def prepared_as_ready(schools: list[School], *, home: Path, as_of: date, replay: bool = False,
                      full_refresh: bool = False, limits: FetchLimits | None = None,
                      views: bool = True, min_schools: int = MIN_SCHOOLS, wait_for_worker: bool = False,
                      sizes: dict[str, int] | None = None) -> Iterator[PreparedSchool]:
    """``prepare_school`` for each school, the next ones prepared ahead: files-route schools in a
    process pool (once it has started, unless ``wait_for_worker``; none for fewer than
    ``min_schools`` of them) and yielded in the schools' order, vendor-route schools in a thread pool
    within ``limits`` (default ``FetchLimits.from_env()``), the largest first (``sizes``: each
    school's marks at its last load, ``largest_first``), and yielded as soon as each is fetched, so
    a slow vendor or a large school holds up no other; the others here."""
    def here(school: School) -> PreparedSchool:
        return prepare_school(school, home=home, as_of=as_of, views=views, replay=replay, full_refresh=full_refresh)

    if not prepare_ahead_enabled():
        for school in schools:
            yield here(school)
        return

    ahead = _Ahead(schools, home=home, as_of=as_of, views=views, replay=replay, full_refresh=full_refresh,
                   min_schools=min_schools, limits=limits or FetchLimits.from_env(), sizes=sizes or {})
    pending = {school.key: school for school in schools}  # not yet yielded, in the schools' order
    finished = False
    try:
        if wait_for_worker:
            ahead.wait_for_worker()
        while pending:
            ahead.hand_over(pending)
            school = pending.pop(ahead.next_school(pending).key)
            prepared = ahead.take(school) or here(school)
            ahead.hand_over(pending)
            yield prepared
        finished = True
    finally:  # the caller stopped early (a signal, the warehouse gone): nothing more is wanted
        ahead.close(now=not finished)
