"""The night fails fast and honestly (docs/hardening.md, "Failing fast and honestly").

Most tests run the real command line in its own process (the installed ``ncc-transfer`` entry
point), because signals, ``kill -9`` and the per-home lock are about processes.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from ncc_transfer.cli import main
from ncc_transfer.warehouse import DiskFull, DuckDBWarehouse, is_disk_full
from ncc_transfer_tests.conftest import DEMO_AS_OF, ncc_env

COMMAND = str(Path(sys.executable).parent / "ncc-transfer")
AS_OF = DEMO_AS_OF.isoformat()


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "NCC_HOME": str(home), "DAGSTER_HOME": str(home / "dagster_home"),
           "NCC_WAREHOUSE_URL": f"duckdb:///{home / 'warehouse.duckdb'}", **extra}
    for key in ("NCC_SCHOOLS_FILE", "NCC_SCHOOLS_PER_RUN"):
        env.pop(key, None)
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again: nothing listens there


def _start_slow_night(home: Path, **extra: str) -> subprocess.Popen:
    """A real `ncc-transfer run` that loads the first schools, then waits on the last active school's
    unfinished upload (a ``.part`` file, waited for NCC_PART_WAIT_SECONDS=120)."""
    from ncc_transfer.registry import load_registry

    last = load_registry(home / "schools.yaml").active_schools[-1]
    (last.landing_folder(home) / "pupils.csv.part").write_bytes(b"half an upl")
    return subprocess.Popen([COMMAND, "run", "--as-of", AS_OF], env=_env(home, NCC_PART_WAIT_SECONDS="120", **extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_until_started(home: Path, process: subprocess.Popen, timeout: float = 120) -> dg.DagsterRun:
    """The run once it is STARTED and its first schools are loaded (materialisations logged)."""
    with ncc_env(home):
        instance = dg.DagsterInstance.get()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            runs = instance.get_runs(limit=1)
            if runs and runs[0].status == dg.DagsterRunStatus.STARTED and instance.get_records_for_run(
                    runs[0].run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records:
                return runs[0]
            time.sleep(0.5)
    raise AssertionError("the run did not start")


def _run_status(home: Path, run_id: str) -> dg.DagsterRunStatus:
    with ncc_env(home):
        return dg.DagsterInstance.get().get_run_by_id(run_id).status


# -- the warehouse is unreachable -------------------------------------------------------------------

def test_unreachable_warehouse_fails_the_night_at_once_with_one_line(small_la):
    home, _ = small_la
    port = _free_port()
    url = f"postgresql://ncc:s3cret-pw@127.0.0.1:{port}/warehouse"
    started = time.monotonic()
    done = subprocess.run([COMMAND, "run", "--as-of", AS_OF], env=_env(home, NCC_WAREHOUSE_URL=url),
                          capture_output=True, text=True, timeout=120)
    seconds = time.monotonic() - started
    assert done.returncode == 1, done
    assert done.stderr.strip() == f"ncc-transfer: warehouse unreachable: 127.0.0.1:{port}", done.stderr
    assert "Traceback" not in done.stderr + done.stdout and "s3cret-pw" not in done.stderr + done.stdout
    assert seconds < 60, seconds  # process start-up included; the check itself is immediate
    with ncc_env(home):
        assert not dg.DagsterInstance.get().get_runs()  # checked before any run was created


def test_silent_warehouse_is_given_up_after_the_connect_timeout(small_la):
    """A server that accepts the connection and never answers: libpq's connect_timeout (10 s) bounds it."""
    home, _ = small_la
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody ever speaks
        port = silent.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run([COMMAND, "run", "--as-of", AS_OF],
                              env=_env(home, NCC_WAREHOUSE_URL=f"postgresql://ncc@127.0.0.1:{port}/warehouse"),
                              capture_output=True, text=True, timeout=120)
        seconds = time.monotonic() - started
    assert done.returncode == 1 and done.stderr.strip() == f"ncc-transfer: warehouse unreachable: 127.0.0.1:{port}"
    assert 10 <= seconds < 60, seconds


def test_warehouse_lost_inside_the_step_stops_the_night_without_retries(small_la, monkeypatch, capsys):
    """If the warehouse goes away after the up-front check, the step stops the night (no RetryPolicy wait)."""
    from ncc_transfer import warehouse

    home, _ = small_la
    monkeypatch.setattr(warehouse, "check_warehouse", lambda url: None)  # as if it went away after the check
    port = _free_port()
    with ncc_env(home, NCC_WAREHOUSE_URL=f"postgresql://ncc@127.0.0.1:{port}/warehouse"):
        started = time.monotonic()
        code = main(["run", "--as-of", AS_OF])
        seconds = time.monotonic() - started
        instance = dg.DagsterInstance.get()
        run = instance.get_runs(limit=1)[0]
        retries = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY).records
    err = capsys.readouterr().err
    assert code == 1 and f"the night stopped: warehouse unreachable: 127.0.0.1:{port}" in err, err
    assert run.status == dg.DagsterRunStatus.FAILURE and not retries
    assert seconds < 60, seconds


# -- one night at a time per NCC_HOME ---------------------------------------------------------------

def test_second_night_on_the_same_home_is_refused_at_once(small_la):
    home, _ = small_la
    first = _start_slow_night(home)
    try:
        _wait_until_started(home, first)
        started = time.monotonic()
        second = subprocess.run([COMMAND, "run", "--as-of", AS_OF], env=_env(home), capture_output=True, text=True,
                                timeout=120)
        seconds = time.monotonic() - started
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert second.returncode == 1, second
    assert f"another night is running on this NCC_HOME (pid {first.pid} since " in second.stderr, second.stderr
    assert "try again when it ends" in second.stderr and "Traceback" not in second.stderr
    assert seconds < 30, seconds  # at once: no wait on the DuckDB lock or a step retry


# -- a signal that lands in a DuckDB query -------------------------------------------------------------

SLOW_QUERY = "SELECT sum(a.range * b.range) FROM range(50000) a, range(20000) b"  # a billion rows: a few seconds


def _signal_soon(signum: int = signal.SIGTERM) -> threading.Timer:
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signum))
    timer.start()
    return timer


def test_duckdb_turns_a_stop_signal_into_its_own_runtime_error():
    """The premise of ``interrupts_noted``: DuckDB runs the handler during a query, then raises
    RuntimeError("Query interrupted") in place of the handler's exception."""
    from ncc_transfer.night_guard import NightInterrupted

    def interrupt(signum, frame):
        raise NightInterrupted(signum)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        timer = _signal_soon()
        with pytest.raises(RuntimeError, match="Query interrupted"):
            duckdb.connect().execute(SLOW_QUERY).fetchall()
        timer.join()
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("handler", ["ncc-transfer", "dagster"])
def test_a_stop_signal_inside_a_duckdb_query_stops_the_school_instead_of_failing_it(small_la, monkeypatch, handler):
    """The night's flake of 2026-12-06: SIGTERM arrived while a school's rows were in a DuckDB query;
    the RuntimeError DuckDB raised was kept to that school ("unexpected RuntimeError") and the night
    went on to wait two minutes for the next school's upload. Under ``interrupts_noted`` the handler's
    own exception comes out of ``prepare_school`` and ``commit_school``, whoever installed the handler:
    our command line (``NightInterrupted``) or Dagster inside the step
    (``DagsterExecutionInterruptedError``)."""
    from dagster._core.errors import DagsterExecutionInterruptedError
    from dagster._utils.interrupts import raise_interrupts_as

    from ncc_transfer import pipeline
    from ncc_transfer.night_guard import NightInterrupted, interrupts_noted, signals_interrupt
    from ncc_transfer.registry import load_registry

    home, _ = small_la
    school = load_registry(home / "schools.yaml").active_schools[0]
    monkeypatch.setattr(pipeline, "_prepare", lambda *args, **kwargs: duckdb.connect().execute(SLOW_QUERY).fetchall())
    installed, expected = ((signals_interrupt(), NightInterrupted) if handler == "ncc-transfer" else
                           (raise_interrupts_as(DagsterExecutionInterruptedError), DagsterExecutionInterruptedError))
    with installed, interrupts_noted():
        timer = _signal_soon()
        started = time.monotonic()
        with pytest.raises(expected):
            pipeline.prepare_school(school, home=home, as_of=DEMO_AS_OF)
        timer.join()
    assert time.monotonic() - started < 30
    assert signal.getsignal(signal.SIGTERM) is not None  # handlers restored by the context managers


# -- SIGTERM / SIGINT -------------------------------------------------------------------------------

@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_ends_the_run_promptly_as_failed_with_nothing_half_written(small_la, signum):
    home, _ = small_la
    process = _start_slow_night(home)
    run = _wait_until_started(home, process)
    time.sleep(1)
    sent = time.monotonic()
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    seconds = time.monotonic() - sent
    assert seconds < 10, seconds
    assert process.returncode == 130, (out, err)
    assert "Traceback" not in err and "stopped by" in err, err
    assert _run_status(home, run.run_id) in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
    warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
    try:
        pupils = warehouse.read("SELECT school_key, count(*) AS n FROM pupils GROUP BY 1")
        loaded = warehouse.read("SELECT school_key, detail FROM audit_log WHERE outcome = 'loaded'")
    finally:
        warehouse.close()
    import json

    expected = {row.school_key: json.loads(row.detail)["rows"]["pupils"] for row in loaded.itertuples()}
    held = dict(zip(pupils["school_key"], pupils["n"]))
    assert held, "the first schools should have loaded before the signal"
    assert held == expected  # every school either complete (and audited as loaded) or absent


# -- kill -9: the orphaned run is marked failed at the next start ------------------------------------

def test_killed_run_is_marked_failed_by_the_next_night(small_la, capsys):
    home, _ = small_la
    process = _start_slow_night(home)
    run = _wait_until_started(home, process)
    process.kill()
    process.communicate(timeout=30)
    assert _run_status(home, run.run_id) == dg.DagsterRunStatus.STARTED  # nothing could record the end
    for path in home.glob("landing/*/pupils.csv.part"):
        path.unlink()
    with ncc_env(home):
        code = main(["run", "--as-of", AS_OF])  # the lock died with the killed process
        instance = dg.DagsterInstance.get()
        status = instance.get_run_by_id(run.run_id).status
        failures = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"marked run {run.run_id} failed" in err
    assert status == dg.DagsterRunStatus.FAILURE and len(failures) == 1  # run-failure sensors see it


def test_production_instance_has_run_monitoring():
    """Runs launched by the daemon are watched by Dagster's run monitoring (deploy/dagster.yaml)."""
    import yaml

    settings = yaml.safe_load((Path(__file__).resolve().parents[2] / "deploy" / "dagster.yaml").read_text())
    monitoring = settings["run_monitoring"]
    assert monitoring["enabled"] is True
    assert 0 < monitoring["start_timeout_seconds"] <= 600
    assert 3600 <= monitoring["max_runtime_seconds"] <= 12 * 3600


# -- disk full --------------------------------------------------------------------------------------

def test_disk_full_errors_are_recognised_on_every_layer():
    import psycopg

    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(duckdb.TransactionException(
        'TransactionContext Error: Failed to commit: IO Error: Could not write file "w.duckdb.wal": '
        "No space left on device"))
    assert is_disk_full(psycopg.errors.DiskFull("could not extend file: No space left on device"))
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("while writing") from inner
    except RuntimeError as outer:
        assert is_disk_full(outer)
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(duckdb.IOException("Could not set lock on file"))


@pytest.fixture()
def tiny_disk(tmp_path):
    """A 4 MB tmpfs. Mounting needs root: on a developer's machine without it the test is skipped with
    that reason; in CI (``CI`` set, where ``.ci/run`` runs as root) it fails instead, so a skip never
    hides the disk-full test."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        why = f"cannot mount a tmpfs here (needs root): {done.stderr.decode(errors='replace').strip()}"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {why}", pytrace=False)
        pytest.skip(why)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_while_loading_says_so(small_la, tiny_disk, capsys):
    home, _ = small_la
    database = tiny_disk / "warehouse.duckdb"
    DuckDBWarehouse(database).close()  # the tables fit; the schools' rows will not
    filler = tiny_disk / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with ncc_env(home, NCC_WAREHOUSE_URL=f"duckdb:///{database}"):
        code = main(["run", "--as-of", AS_OF])
    captured = capsys.readouterr()
    assert code == 1, captured
    assert f"disk full: {database}" in captured.err, captured.err
    assert "unexpected" not in captured.out + captured.err and "Traceback" not in captured.err


def test_disk_full_is_raised_as_such_from_a_load(duck, monkeypatch):
    """Unit level: a school's write that hits ENOSPC raises ``DiskFull`` naming the warehouse."""
    import pandas as pd

    from ncc_transfer.pipeline import PreparedSchool, SchoolOutcome, commit_school

    def full(*args, **kwargs):
        raise duckdb.IOException('Could not write file "x.wal": No space left on device')

    monkeypatch.setattr(duck, "replace_issues", full)
    prepared = PreparedSchool(SchoolOutcome("9261234-files", "9261234", "files", "failed"),
                              extracted_at=pd.Timestamp("2026-03-20").to_pydatetime(), issues=pd.DataFrame(),
                              file_failure=True)
    with pytest.raises(DiskFull, match=f"disk full: {duck.path}"):
        commit_school(prepared, warehouse=duck, run_id="r1", views=False)


# -- details ----------------------------------------------------------------------------------------

def test_locked_duckdb_file_says_so_at_once(tmp_path):
    """A DuckDB file open in another process: `warehouse locked`, no wait and no unexpected error."""
    from ncc_transfer.warehouse import WarehouseUnavailable

    path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; con = duckdb.connect({str(path)!r}); "
                                                     "print('open', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        started = time.monotonic()
        with pytest.raises(WarehouseUnavailable, match=rf"warehouse locked: {path} is open in another process"):
            DuckDBWarehouse(path)
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()


def test_prepare_ahead_worker_is_stopped_not_waited_for_when_the_night_stops(small_la, monkeypatch):
    """The worker processes preparing the next schools are terminated when the step unwinds (a signal)."""
    from ncc_transfer import prefetch
    from ncc_transfer.cli import _load_registry

    home, _ = small_la
    closes, workers = [], []
    real_close = prefetch._Ahead.close

    def close(self, now):
        closes.append(now)
        workers.extend(self.processes._processes.values())
        real_close(self, now)

    monkeypatch.setattr(prefetch._Ahead, "close", close)
    with ncc_env(home):
        schools = list(_load_registry().active_schools)
        prepared = prefetch.prepared_as_ready(schools, home=home, as_of=DEMO_AS_OF, min_schools=2,
                                              wait_for_worker=True)
        next(prepared)
        started = time.monotonic()
        prepared.close()  # what the step's ``finally`` does when a signal unwinds it
    assert closes == [True] and time.monotonic() - started < 10
    assert workers, "the pool had started its worker"
    for worker in workers:
        worker.join(timeout=10)
        # By its pid, not ``is_alive()``: the pool's own thread reaps its workers too, and a
        # ``waitpid`` that loses that race answers ECHILD, which ``multiprocessing`` reads as alive.
        assert not _running(worker.pid)
    assert time.monotonic() - started < 10


def _running(pid: int) -> bool:
    """Is process ``pid`` still running (neither gone nor a zombie)?"""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"
