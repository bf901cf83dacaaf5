"""A night under the real daemon, in production shape: ``dagster-daemon`` on a PostgreSQL-backed instance
(``deploy/dagster.yaml``) fires the nightly schedule, the run loads every school into the PostgreSQL
warehouse, the ``after_the_night`` automation sensor follows with the LA-wide views and the reports.

Most of its two to three minutes is the daemon's own cadence (the schedule fires on a minute boundary,
the sensor ticks every 60 s, the backfill daemon every 30 s), so the session starts it at its beginning
(``daemon_night`` in ``conftest.py``) and ``test_daemon_postgres.py``, run last, checks what it did.
It shares nothing with the other tests: its own database, schema, ``NCC_HOME`` and ``DAGSTER_HOME``,
and it never touches this process's environment.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
POLL_SECONDS = 1.0  # how often the watcher looks at the instance (a query to PostgreSQL: cheap)
WAIT_SECONDS = 240  # for each step: the first night, the LA-wide views, the reports


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(sql)


class DaemonNight:
    """Start with ``start()``; a watcher thread waits for each step; ``wait()`` returns once it has
    (or raises what went wrong); ``close()`` stops the daemon and drops the databases."""

    def __init__(self, root: Path, postgres_url: str) -> None:
        suffix = uuid.uuid4().hex[:10]
        self.root, self.postgres_url = root, postgres_url
        self.dagster_db, self.schema = f"ncc_dagster_{suffix}", f"ncc_daemon_{suffix}"
        self.home, self.dagster_home = root / "la", root / "dagster_home"
        self.warehouse_url = f"{postgres_url}?schema={self.schema}"
        self.today = date.today()
        self.demo = None
        self.env: dict[str, str] = {}
        self.daemon: subprocess.Popen | None = None
        self.night_run = None  # the nightly run, once finished
        self.steps: dict[str, float] = {}  # step -> seconds after the daemon started
        self.error: BaseException | None = None
        self._log = None
        self._started = 0.0
        self._watcher: threading.Thread | None = None
        self._closed = False

    @property
    def active(self) -> set[str]:
        return {f"{s['laestab']}-files" for s in self.demo.schools if s["active"]}

    def log_tail(self, chars: int = 3000) -> str:
        path = self.root / "daemon.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    # ------------------------------------------------------------------------------------- running
    def start(self) -> "DaemonNight":
        import psycopg

        from ncc_transfer.demo.generator import build_demo_la

        _admin(self.postgres_url, f'CREATE DATABASE "{self.dagster_db}"')
        self.demo = build_demo_la(self.home, seed=11, schools=3, pupils_scale=0.3, as_of=self.today)
        self.dagster_home.mkdir(parents=True)
        shutil.copy(REPO / "deploy" / "dagster.yaml", self.dagster_home / "dagster.yaml")
        server = psycopg.conninfo.conninfo_to_dict(self.postgres_url)
        self.env = {**os.environ, "DAGSTER_HOME": str(self.dagster_home), "NCC_HOME": str(self.home),
                    "NCC_WAREHOUSE_URL": self.warehouse_url, "NCC_NIGHTLY_CRON": "* * * * *",
                    "DAGSTER_PG_HOST": server.get("host", "127.0.0.1"),
                    "DAGSTER_PG_PORT": str(server.get("port", 5432)),
                    "DAGSTER_PG_USER": server.get("user", "postgres"),
                    "DAGSTER_PG_PASSWORD": server.get("password", ""), "DAGSTER_PG_DB": self.dagster_db}
        self.env.pop("NCC_SCHOOLS_FILE", None)
        self._log = (self.root / "daemon.log").open("w")
        self._started = time.monotonic()
        self.daemon = subprocess.Popen([str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", "workspace.yaml"],
                                       cwd=REPO, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self._watcher = threading.Thread(target=self._watch, name="daemon-night", daemon=True)
        self._watcher.start()
        return self

    def observer(self):
        """An instance on the daemon's storage for this process, configured without the environment
        (``deploy/dagster.yaml`` reads its connection from variables this process does not set)."""
        import dagster as dg
        import psycopg

        server = psycopg.conninfo.conninfo_to_dict(self.postgres_url)
        folder = self.root / "observer"
        folder.mkdir(exist_ok=True)
        (folder / "dagster.yaml").write_text(
            "storage:\n  postgres:\n    postgres_db:\n"
            f"      hostname: \"{server.get('host', '127.0.0.1')}\"\n      port: {server.get('port', 5432)}\n"
            f"      username: \"{server.get('user', 'postgres')}\"\n      password: \"{server.get('password', '')}\"\n"
            f"      db_name: \"{self.dagster_db}\"\n      scheme: postgresql+psycopg2\n"
            "telemetry:\n  enabled: false\n")
        return dg.DagsterInstance.from_config(str(folder))

    def _watch(self) -> None:
        import dagster as dg

        try:
            with self.observer() as instance:
                self.night_run = self._until(lambda: _finished_nightly_run(instance), "the nightly schedule's first run")
                self.steps["night finished"] = self._elapsed()
                _stop_the_schedule(instance)  # one night is the point: NCC_NIGHTLY_CRON fires every minute here
                # The LA-wide views and the reports follow in runs of their own, requested by the daemon's
                # `after_the_night` automation sensor once no school run is queued or running.
                self._until(lambda: instance.get_latest_materialization_event(dg.AssetKey("pupil_movements")),
                            "pupil_movements materialised")
                self.steps["LA-wide views"] = self._elapsed()
                self._until(lambda: instance.get_materialized_partitions(dg.AssetKey("school_report")) == self.active,
                            "every active school's report materialised")
                self.steps["reports"] = self._elapsed()
        except BaseException as exc:  # handed to the test by wait()
            self.error = exc

    def _until(self, done, what: str):
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and not self._closed:
            if self.daemon.poll() is not None:
                raise AssertionError(f"dagster-daemon exited early (waiting for {what})")
            value = done()
            if value:
                return value
            time.sleep(POLL_SECONDS)
        raise AssertionError(f"not within {WAIT_SECONDS} s: {what} ({self.steps})")

    def _elapsed(self) -> float:
        return round(time.monotonic() - self._started, 1)

    def wait(self, timeout: float = 3 * WAIT_SECONDS + 60) -> None:
        self._watcher.join(timeout)
        if self._watcher.is_alive():
            raise AssertionError(f"the daemon night did not end within {timeout} s ({self.steps})")
        if self.error is not None:
            raise self.error

    # ------------------------------------------------------------------------------------- stopping
    def stop_daemon(self) -> int | None:
        """SIGTERM to the daemon (its own process group), as systemd stops it; its return code."""
        if self.daemon is None:
            return None
        if self.daemon.poll() is None:
            os.killpg(self.daemon.pid, signal.SIGTERM)
            try:
                self.daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.daemon.pid, signal.SIGKILL)
                self.daemon.wait()
        _end_the_rest_of_the_group(self.daemon.pid)
        return self.daemon.returncode

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.stop_daemon()
            if self._watcher is not None:
                self._watcher.join(30)
        finally:
            if self._log is not None:
                self._log.close()
            _admin(self.postgres_url, f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            _admin(self.postgres_url, f'DROP DATABASE IF EXISTS "{self.dagster_db}" WITH (FORCE)')


def _finished_nightly_run(instance):
    import dagster as dg

    finished = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
    done = [r for r in instance.get_runs(filters=dg.RunsFilter(job_name="nightly")) if r.status in finished]
    return done[-1] if done else None  # the first to finish (runs come newest first)


def _stop_the_schedule(instance) -> None:
    """Stop the nightly schedule as an operator would (``dagster schedule stop``), so its every-minute cron
    does not start a second night while the daemon's sensor and backfill follow up the first."""
    from dagster._core.definitions.run_request import InstigatorType

    (state,) = [s for s in instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE)
                if s.name == "nightly_schedule"]
    instance.stop_schedule(state.instigator_origin_id, state.selector_id)


def _end_the_rest_of_the_group(group: int, grace: float = 3) -> None:
    """The daemon's code server (``dagster api grpc``) is in the daemon's process group and can outlive
    it, stuck in its own shutdown (seen for 40 minutes): a second SIGTERM, then SIGKILL after ``grace``."""
    deadline = time.monotonic() + grace
    try:
        os.killpg(group, signal.SIGTERM)
        while time.monotonic() < deadline:
            time.sleep(0.1)
            os.killpg(group, 0)  # raises once no process is left in the group
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass
