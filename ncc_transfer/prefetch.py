"""Prepare the next school in a worker process while this one is written (issue 8).

A night is a sequence of schools, each ``prepare_school`` (read the files, check, validate, compute
the views: CPU work that needs no warehouse) then ``commit_school`` (write to the warehouse, log the
Dagster events, write the report). ``prepared_in_order`` has ONE worker process prepare the next
schools while the caller commits school n, so both cores of the LA's server work: the night takes
about the longer of the two halves instead of their sum. The worker takes schools in batches of
``BATCH`` and computes a batch's views in one pass (``pipeline.prepare_schools``): most of a
school's view time is fixed cost, so this halves it.

* One worker per night (``python -m ncc_transfer.prefetch``, a fresh interpreter: nothing of this
  process's threads, open files or ``__main__`` is copied), however many schools: process start-ups
  do not grow with the number of schools. Schools are prepared here until it has started.
* Files-route schools only, and not for a replay: other routes run in this process as before (a
  vendor connector keeps per-process state such as its rate limit).
* The worker runs in this process's environment (NCC_* settings, the archive key) as it is when the
  night starts; schools and results travel as pickles over its stdin and stdout.
* Anything going wrong with the worker (it died, a result could not be read) falls back to
  preparing in this process: a school is never lost, only the overlap.
* ``NCC_PREPARE_AHEAD=0`` turns it off (everything in this process, one school after the other).

Results are the same either way: the worker runs the same ``prepare_school`` on the same inputs, and
the views of a batch are, school by school, those of the school alone (``pipeline.add_views``).
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from .pipeline import PreparedSchool, prepare_school, prepare_schools
from .registry import School

log = logging.getLogger(__name__)

MIN_SCHOOLS = 8  # below this the worker's start-up (a second or two) is not worth it
BATCH = 8  # schools per task: their views are computed in one pass (``pipeline.prepare_schools``)
AHEAD = 2  # batches handed to the worker before their turn (memory: AHEAD * BATCH prepared schools at most)


def prepare_ahead_enabled() -> bool:
    """NCC_PREPARE_AHEAD (default on): prepare the next school in a worker process."""
    return os.environ.get("NCC_PREPARE_AHEAD", "1").strip().lower() not in ("0", "false", "no", "off")


def can_prepare_ahead(school: School, replay: bool) -> bool:
    return school.mis == "files" and not replay


class _Worker:
    """The worker process: send it schools, read back their ``PreparedSchool`` in the same order.

    A thread reads the results as soon as they are ready, so the worker never waits for this
    process to ask (it can be ``AHEAD`` schools ahead)."""

    command = [sys.executable, "-m", "ncc_transfer.prefetch"]

    def __init__(self) -> None:
        env = dict(os.environ)  # this package importable even when it is not installed
        package_root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.results: queue.Queue = queue.Queue()
        self.ready = threading.Event()  # set once the worker has imported the pipeline
        self.reader = threading.Thread(target=self._read, name="ncc-prefetch-reader", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                message = pickle.load(self.process.stdout)
            except Exception as exc:  # noqa: BLE001 - EOF (the worker ended or died) or a broken result
                self.results.put(("ended", type(exc).__name__))
                return
            if message[0] == "ready":
                self.ready.set()
            else:
                self.results.put(message)

    def send(self, *task) -> None:
        pickle.dump(task, self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.process.stdin.flush()

    def receive(self) -> list[PreparedSchool]:
        status, value = self.results.get()
        if status != "ok":
            raise RuntimeError(f"the worker could not prepare the schools ({value})")
        return value

    def close(self, busy: bool = True) -> None:
        """Stop the worker: after the school it is on, or (not ``busy``) now."""
        if not busy:
            self.process.terminate()
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=10)


def prepared_in_order(schools: list[School], *, home: Path, as_of: date, replay: bool = False,
                      full_refresh: bool = False,
                      views: bool = True, min_schools: int = MIN_SCHOOLS,
                      wait_for_worker: bool = False) -> Iterator[PreparedSchool]:
    """``prepare_school`` for each school, in order. Once the worker process has started, eligible
    schools are handed to it ahead of their turn, in batches of ``BATCH`` (their views computed in
    one pass, ``pipeline.prepare_schools``), at most ``AHEAD`` batches at a time, while the caller
    handles the current one; until then (unless ``wait_for_worker``), and for the others, they are
    prepared here. No worker for fewer than ``min_schools`` eligible schools."""
    eligible = {s.key for s in schools if can_prepare_ahead(s, replay)}
    if not prepare_ahead_enabled() or len(eligible) < min_schools:
        for school in schools:
            yield prepare_school(school, home=home, as_of=as_of, views=views, replay=replay,
                                 full_refresh=full_refresh)
        return

    worker: _Worker | None = None
    pending: set[str] = set()  # keys handed to the worker whose result has not come back
    results: dict[str, PreparedSchool] = {}  # keys come back from the worker, not yet handed out
    in_flight = 0  # batches handed to the worker and not yet received
    next_up = 0  # position in ``schools`` of the next school that could be handed to the worker

    def give_up(exc: Exception) -> None:
        nonlocal worker
        log.warning("the worker process failed (%s); preparing the remaining schools here", type(exc).__name__)
        if worker is not None:
            worker.close()
        worker = None
        pending.clear()

    def hand_over(after: int) -> None:
        """Keep the worker ``AHEAD`` batches ahead, from the schools after position ``after``."""
        nonlocal next_up, in_flight
        next_up = max(next_up, after + 1)
        while worker is not None and worker.ready.is_set() and in_flight < AHEAD and next_up < len(schools):
            batch = [s for s in schools[next_up:next_up + BATCH] if s.key in eligible]
            next_up += BATCH
            if not batch:
                continue
            try:
                worker.send(batch, home, as_of, views)
            except (OSError, pickle.PicklingError) as exc:
                give_up(exc)
                return
            pending.update(s.key for s in batch)
            in_flight += 1

    def from_worker(key: str) -> PreparedSchool | None:
        """The school's result from the worker (waiting for its batch), or None if it failed."""
        nonlocal in_flight
        while key in pending and worker is not None:
            try:
                batch = worker.receive()
            except Exception as exc:  # noqa: BLE001 - the worker failed, not the school: do it here
                give_up(exc)
                break
            in_flight -= 1
            for prepared in batch:
                pending.discard(prepared.outcome.school_key)
                results[prepared.outcome.school_key] = prepared
        return results.pop(key, None)

    try:
        worker = _Worker()
        if wait_for_worker:
            worker.ready.wait(timeout=300)
        for position, school in enumerate(schools):
            hand_over(position)
            prepared = from_worker(school.key)
            if prepared is None:
                prepared = prepare_school(school, home=home, as_of=as_of, views=views, replay=replay,
                                          full_refresh=full_refresh)
            hand_over(position)
            yield prepared
    except GeneratorExit:  # the caller stopped early (a signal, the warehouse gone): nothing more is wanted
        if worker is not None:
            worker.close(busy=False)
            worker = None
        raise
    finally:
        if worker is not None:
            worker.close(busy=bool(pending))


def _serve() -> None:
    """The worker's loop: read (schools, home, as_of, views) pickles from stdin until it closes, answer
    each with ("ok", [PreparedSchool, ...]) on the original stdout. Anything printed goes to stderr.
    The umask is 0o077 (``files_at_rest``), as in the process that started it."""
    from .files_at_rest import restrict_umask

    restrict_umask()
    results = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    tasks = sys.stdin.buffer
    pickle.dump(("ready", None), results)  # the pipeline is imported: schools can come
    results.flush()
    while True:
        try:
            batch, home, as_of, views = pickle.load(tasks)
        except EOFError:
            return
        try:
            answer = ("ok", prepare_schools(batch, home=home, as_of=as_of, views=views))
        except BaseException as exc:  # prepare_school catches what goes wrong with a school; this is a defect
            answer = ("error", type(exc).__name__)
        pickle.dump(answer, results, protocol=pickle.HIGHEST_PROTOCOL)
        results.flush()


if __name__ == "__main__":
    _serve()
