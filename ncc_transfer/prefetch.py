"""Prepare the next school in a worker process while this one is written (issue 8).

A night is a sequence of schools, each ``prepare_school`` (read the files, check, validate, compute
the views: CPU work that needs no warehouse) then ``commit_school`` (write to the warehouse, log the
Dagster events, write the report). ``prepared_in_order`` has ONE worker process prepare the next
schools (up to ``AHEAD``) while the caller commits school n, so both cores of the LA's server work:
the night takes about the longer of the two halves instead of their sum.

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

Results are the same either way: the worker runs the same ``prepare_school`` on the same inputs.
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

from .pipeline import PreparedSchool, prepare_school
from .registry import School

log = logging.getLogger(__name__)

MIN_SCHOOLS = 8  # below this the worker's start-up (a second or two) is not worth it
AHEAD = 2  # schools handed to the worker before their turn (memory: this many prepared schools at most)


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

    def receive(self) -> PreparedSchool:
        status, value = self.results.get()
        if status != "ok":
            raise RuntimeError(f"the worker could not prepare the school ({value})")
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
    schools are handed to it ahead of their turn (up to ``AHEAD``) while the caller handles the
    current one; until then (unless ``wait_for_worker``), and for the others, they are prepared here.
    No worker for fewer than ``min_schools`` eligible schools."""
    eligible = {s.key for s in schools if can_prepare_ahead(s, replay)}
    if not prepare_ahead_enabled() or len(eligible) < min_schools:
        for school in schools:
            yield prepare_school(school, home=home, as_of=as_of, views=views, replay=replay,
                                 full_refresh=full_refresh)
        return

    worker: _Worker | None = None
    sent: list[str] = []  # keys handed to the worker and not yet received, in order
    next_up = 0  # position in ``schools`` of the next school that could be handed to the worker

    def give_up(exc: Exception) -> None:
        nonlocal worker
        log.warning("the worker process failed (%s); preparing the remaining schools here", type(exc).__name__)
        if worker is not None:
            worker.close()
        worker = None
        sent.clear()

    def hand_over(after: int) -> None:
        """Keep the worker ``AHEAD`` schools ahead, from those after position ``after``."""
        nonlocal next_up
        next_up = max(next_up, after + 1)
        while worker is not None and worker.ready.is_set() and len(sent) < AHEAD and next_up < len(schools):
            school = schools[next_up]
            next_up += 1
            if school.key not in eligible:
                continue
            try:
                worker.send(school, home, as_of, views)
                sent.append(school.key)
            except (OSError, pickle.PicklingError) as exc:
                give_up(exc)

    try:
        worker = _Worker()
        if wait_for_worker:
            worker.ready.wait(timeout=300)
        for position, school in enumerate(schools):
            hand_over(position)
            prepared = None
            if worker is not None and sent and sent[0] == school.key:
                try:
                    prepared = worker.receive()
                    sent.pop(0)
                except Exception as exc:  # noqa: BLE001 - the worker failed, not the school: do it here
                    give_up(exc)
            if prepared is None:
                prepared = prepare_school(school, home=home, as_of=as_of, views=views, replay=replay,
                                 full_refresh=full_refresh)
            hand_over(position)
            yield prepared
    finally:
        if worker is not None:
            worker.close(busy=bool(sent))


def _serve() -> None:
    """The worker's loop: read (school, home, as_of, views) pickles from stdin until it closes, answer
    each with ("ok", PreparedSchool) on the original stdout. Anything printed goes to stderr."""
    results = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    tasks = sys.stdin.buffer
    pickle.dump(("ready", None), results)  # the pipeline is imported: schools can come
    results.flush()
    while True:
        try:
            school, home, as_of, views = pickle.load(tasks)
        except EOFError:
            return
        try:
            answer = ("ok", prepare_school(school, home=home, as_of=as_of, views=views))
        except BaseException as exc:  # prepare_school catches what goes wrong with a school; this is a defect
            answer = ("error", type(exc).__name__)
        pickle.dump(answer, results, protocol=pickle.HIGHEST_PROTOCOL)
        results.flush()


if __name__ == "__main__":
    _serve()
