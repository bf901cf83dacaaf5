"""What keeps a night honest when the machine or the operator gets in the way.

* ``night_lock``: one night at a time per $NCC_HOME. An exclusive, non-blocking ``fcntl.flock`` on
  ``$NCC_HOME/night.lock`` (https://docs.python.org/3/library/fcntl.html#fcntl.flock); a second
  ``ncc-transfer run`` is refused at once, naming the holder. The OS drops the lock when the holder's
  process ends, even by ``kill -9``, so there is never a stale lock to delete.
* ``signals_interrupt``: SIGTERM and SIGINT raise ``NightInterrupted`` (a ``KeyboardInterrupt``), so
  the night unwinds: the school being written rolls back (its load is one transaction) and the
  Dagster run ends FAILURE. Inside a step Dagster installs its own handler for both signals and
  raises ``DagsterExecutionInterruptedError`` in step code
  (https://docs.dagster.io/api/dagster/errors#dagster.DagsterExecutionInterruptedError).
* ``interrupts_noted``: remembers the exception the SIGTERM/SIGINT handler in force raised, and
  ``raise_if_interrupted`` raises it again where a broad ``except Exception`` keeps a failure to one
  school. DuckDB checks for signals while a query runs (``PyErr_CheckSignals``), lets the handler run,
  then discards its exception and raises ``RuntimeError("Query interrupted")`` instead (seen with
  duckdb 1.4): without the note, a signal that lands in a query would pass for one school's defect and
  the night would go on.
* ``fail_orphaned_runs``: a run started by ``ncc-transfer run`` carries its process id and host in
  its tags (``process_tags``); a STARTED run whose process is gone (``kill -9``, power cut) is
  reported failed through ``DagsterInstance.report_run_failed`` at the next start, so run-failure
  sensors and alerts fire. Runs launched by the Dagster daemon are left to Dagster's run monitoring
  (``run_monitoring`` in deploy/dagster.yaml; https://docs.dagster.io/deployment/execution/run-monitoring).
"""

from __future__ import annotations

import fcntl
import os
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

PID_TAG, HOST_TAG = "ncc/pid", "ncc/host"
LOCK_FILE = "night.lock"
UNFINISHED = ("NOT_STARTED", "STARTING", "STARTED")  # DagsterRunStatus names of a run still going
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_noted: list[BaseException] = []  # what the stop signal's handler raised, while ``interrupts_noted`` holds


class NightBusy(Exception):
    """Another night holds this $NCC_HOME."""


class NightInterrupted(KeyboardInterrupt):
    """SIGTERM or SIGINT arrived (``signum``; None when Dagster caught it inside the step)."""

    def __init__(self, signum: int | None = None):
        super().__init__(signum)
        self.signum = signum

    def describe(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "SIGTERM or SIGINT"


@contextmanager
def night_lock(home: Path) -> Iterator[None]:
    """Hold ``$NCC_HOME/night.lock`` for the duration, or raise ``NightBusy`` at once."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / LOCK_FILE, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "holder unknown"
            raise NightBusy(f"another night is running on this NCC_HOME ({holder}); try again when it ends") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now():%H:%M}\n")
        handle.flush()
        yield  # closing the file releases the lock


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGINT raise ``NightInterrupted`` for the duration (main thread only)."""
    def interrupt(signum, _frame):
        raise NightInterrupted(signum)

    previous = {sig: signal.signal(sig, interrupt) for sig in STOP_SIGNALS}
    try:
        with interrupts_noted():
            yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def interrupts_noted() -> Iterator[None]:
    """For the duration, SIGTERM and SIGINT run the handler in force as before, and the exception it
    raises is noted for ``raise_if_interrupted`` (main thread only: elsewhere, nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}

    def noting(signum, frame):
        try:
            previous[signum](signum, frame)
        except BaseException as exc:
            _noted.append(exc)
            raise

    for sig, handler in previous.items():
        if callable(handler):
            signal.signal(sig, noting)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if callable(handler):
                signal.signal(sig, handler)
        _noted.clear()


def raise_if_interrupted() -> None:
    """Raise again the stop signal's exception noted by ``interrupts_noted``, if one was: call it
    first in an ``except Exception`` that would otherwise keep the error to one school."""
    if _noted:
        raise _noted[-1]


class StopSignalInCleanup(logging.Filter):
    """Drops a log record whose exception is the stop signal itself.

    Inside a step, Dagster's handler raises ``DagsterExecutionInterruptedError`` wherever the signal
    finds the process; when that is a library's clean-up (SQLAlchemy closing a connection of Dagster's
    SQLite storage), the library catches it and logs "Exception closing connection" with a traceback.
    The night then stops as it should and the command line says so in one line; the traceback would
    only hide that line. Any other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, BaseException) and not isinstance(exc, Exception))


def process_tags() -> dict[str, str]:
    """Run tags naming this process, for ``fail_orphaned_runs``."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def fail_orphaned_runs(instance, job_name: str = "nightly") -> list[str]:
    """Report failed the unfinished runs of ``job_name`` started on this host by a process that is gone.

    Returns their run ids. Runs without our tags (launched by the daemon or the UI) are not touched."""
    return fail_unfinished_runs(instance, job_name, lambda pid: not pid_alive(pid),
                                "its process (pid {pid} on {host}) ended without finishing the run")


def fail_own_runs(instance, job_name: str = "nightly", why: str = "interrupted") -> list[str]:
    """Report failed the unfinished runs this process started (after an interrupt)."""
    return fail_unfinished_runs(instance, job_name, lambda pid: pid == os.getpid(), f"the night was {why}")


def fail_unfinished_runs(instance, job_name: str, is_gone, message: str) -> list[str]:
    import dagster as dg

    host = socket.gethostname()
    runs = instance.get_runs(dg.RunsFilter(job_name=job_name,
                                           statuses=[dg.DagsterRunStatus[name] for name in UNFINISHED]))
    failed = []
    for run in runs:
        pid = run.tags.get(PID_TAG, "")
        if run.tags.get(HOST_TAG) != host or not pid.isdigit() or not is_gone(int(pid)):
            continue
        instance.report_run_failed(run, message.format(pid=pid, host=host))
        failed.append(run.run_id)
    return failed
