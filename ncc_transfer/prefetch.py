"""Prepare the next school in a worker process while this one is written (issue 8).

A night is a sequence of schools, each ``prepare_school`` (read the files, check, validate, compute
the views: CPU work that needs no warehouse) then ``commit_school`` (write to the warehouse, log the
Dagster events, write the report). ``prepared_in_order`` has ONE worker process prepare school n+1
while the caller commits school n, so both cores of the LA's server work: the night takes about the
longer of the two halves instead of their sum.

* One worker per night (``python -m ncc_transfer.prefetch``, a fresh interpreter: nothing of this
  process's threads, open files or ``__main__`` is copied), however many schools: process start-ups
  do not grow with the number of schools. The first school is prepared here while it starts.
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
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from .pipeline import PreparedSchool, prepare_school
from .registry import School

log = logging.getLogger(__name__)

MIN_SCHOOLS = 3  # the first is prepared here; below this the worker's start-up is not worth it


def prepare_ahead_enabled() -> bool:
    """NCC_PREPARE_AHEAD (default on): prepare the next school in a worker process."""
    return os.environ.get("NCC_PREPARE_AHEAD", "1").strip().lower() not in ("0", "false", "no", "off")


def can_prepare_ahead(school: School, replay: bool) -> bool:
    return school.mis == "files" and not replay


class _Worker:
    """The worker process: send it a school, later read back its ``PreparedSchool`` (in order)."""

    def __init__(self) -> None:
        env = dict(os.environ)  # this package importable even when it is not installed
        package_root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen([sys.executable, "-m", "ncc_transfer.prefetch"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, env=env)

    def send(self, *task) -> None:
        pickle.dump(task, self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.process.stdin.flush()

    def receive(self) -> PreparedSchool:
        status, value = pickle.load(self.process.stdout)
        if status != "ok":
            raise RuntimeError(f"the worker could not prepare the school ({value})")
        return value

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def prepared_in_order(schools: list[School], *, home: Path, as_of: date, replay: bool = False,
                      views: bool = True) -> Iterator[PreparedSchool]:
    """``prepare_school`` for each school, in order; eligible schools after the first are prepared
    one ahead in the worker process while the caller handles the current one."""
    ahead = [s for s in schools if can_prepare_ahead(s, replay)][1:]
    if not prepare_ahead_enabled() or len(ahead) < MIN_SCHOOLS - 1:
        for school in schools:
            yield prepare_school(school, home=home, as_of=as_of, views=views, replay=replay)
        return

    worker: _Worker | None = None
    sent: list[str] = []  # keys sent to the worker, not yet received, in order
    queue = iter(ahead)

    def send_next() -> None:
        nonlocal worker
        school = next(queue, None)
        if school is None or worker is None:
            return
        try:
            worker.send(school, home, as_of, views)
            sent.append(school.key)
        except (OSError, pickle.PicklingError) as exc:
            _give_up(exc)

    def _give_up(exc: Exception) -> None:
        nonlocal worker
        log.warning("the worker process failed (%s); preparing the remaining schools here", type(exc).__name__)
        if worker is not None:
            worker.close()
        worker = None
        sent.clear()

    try:
        worker = _Worker()
        send_next()
        for school in schools:
            prepared = None
            if worker is not None and sent and sent[0] == school.key:
                try:
                    prepared = worker.receive()
                    sent.pop(0)
                    send_next()
                except Exception as exc:  # noqa: BLE001 - the worker failed, not the school: do it here
                    _give_up(exc)
            if prepared is None:
                prepared = prepare_school(school, home=home, as_of=as_of, views=views, replay=replay)
            yield prepared
    finally:
        if worker is not None:
            worker.close()


def _serve() -> None:
    """The worker's loop: read (school, home, as_of, views) pickles from stdin until it closes, answer
    each with ("ok", PreparedSchool) on the original stdout. Anything printed goes to stderr."""
    results = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    tasks = sys.stdin.buffer
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
