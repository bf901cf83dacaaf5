"""Production shape, end to end: dagster-daemon on a PostgreSQL-backed instance fires the nightly
schedule, the run loads every school into the PostgreSQL warehouse, and the daemon stops cleanly.

Needs PostgreSQL (see the `postgres_url` fixture); takes about two minutes (the schedule fires on
the next minute boundary; the LA-wide views and reports follow through the automation sensor).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
POLL_SECONDS = 0.5  # how often the test looks at the instance (a query to PostgreSQL: cheap)


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(sql)


@pytest.mark.postgres
def test_daemon_runs_the_nightly_schedule_into_postgres(tmp_path, postgres_url):
    import dagster as dg
    import psycopg

    from ncc_transfer.canonical import TABLES, VIEW_COLUMNS
    from ncc_transfer.demo.generator import build_demo_la

    suffix = uuid.uuid4().hex[:10]
    dagster_db, schema = f"ncc_dagster_{suffix}", f"ncc_daemon_{suffix}"
    _admin(postgres_url, f'CREATE DATABASE "{dagster_db}"')
    home = tmp_path / "la"
    today = date.today()
    demo = build_demo_la(home, seed=11, schools=3, pupils_scale=0.3, as_of=today)
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")
    server = psycopg.conninfo.conninfo_to_dict(postgres_url)
    warehouse_url = f"{postgres_url}?schema={schema}"
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "NCC_HOME": str(home),
           "NCC_WAREHOUSE_URL": warehouse_url, "NCC_NIGHTLY_CRON": "* * * * *",
           "DAGSTER_PG_HOST": server.get("host", "127.0.0.1"), "DAGSTER_PG_PORT": str(server.get("port", 5432)),
           "DAGSTER_PG_USER": server.get("user", "postgres"), "DAGSTER_PG_PASSWORD": server.get("password", ""),
           "DAGSTER_PG_DB": dagster_db}
    env.pop("NCC_SCHOOLS_FILE", None)
    daemon_log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen([str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", "workspace.yaml"],
                              cwd=REPO, env=env, stdout=daemon_log, stderr=subprocess.STDOUT, start_new_session=True)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        instance = dg.DagsterInstance.get()
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        run = _wait_for_run(instance, daemon, deadline=time.monotonic() + 240)
        _stop_the_schedule(instance)  # one night is the point: NCC_NIGHTLY_CRON fires every minute here
        assert run.status == dg.DagsterRunStatus.SUCCESS, (tmp_path / "daemon.log").read_text()[-3000:]
        assert run.tags.get("ncc/night") and run.tags.get("dagster/schedule_name") == "nightly_schedule"
        active = {f"{s['laestab']}-files" for s in demo.schools if s["active"]}
        assert instance.get_materialized_partitions(dg.AssetKey("pupils")) == active
        # The LA-wide views and the reports follow in runs of their own, requested by the daemon's
        # `after_the_night` automation sensor once no school run is queued or running.
        _wait_until(daemon, lambda: instance.get_latest_materialization_event(dg.AssetKey("pupil_movements")),
                    "pupil_movements materialised", deadline=time.monotonic() + 240)
        _wait_until(daemon, lambda: instance.get_materialized_partitions(dg.AssetKey("school_report")) == active,
                    "every active school's report materialised", deadline=time.monotonic() + 240)

        from ncc_transfer.warehouse import open_warehouse

        warehouse = open_warehouse(warehouse_url)
        try:
            for table in TABLES:
                loaded = set(warehouse.read(f'SELECT DISTINCT school_key FROM "{table}"')["school_key"])
                assert loaded == active or (table == "exclusions" and loaded <= active), table
            for view in VIEW_COLUMNS:
                frame = warehouse.read(f'SELECT DISTINCT as_of FROM "{view}"')
                assert frame.empty or {str(v)[:10] for v in frame["as_of"]} == {today.isoformat()}, view
            assert len(warehouse.read("SELECT * FROM absence_summary")) > 100
            assert len(warehouse.read("SELECT * FROM pupil_movements")) > 0
        finally:
            warehouse.close()
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
        _end_the_rest_of_the_group(daemon.pid)
        daemon_log.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _admin(postgres_url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        _admin(postgres_url, f'DROP DATABASE IF EXISTS "{dagster_db}" WITH (FORCE)')
    assert daemon.returncode is not None


def _end_the_rest_of_the_group(group: int, timeout: float = 20) -> None:
    """The daemon's code server (``dagster api grpc``) is in the daemon's process group and can outlive
    it, stuck in its own shutdown: give it ``timeout`` seconds after a second SIGTERM, then SIGKILL."""
    deadline = time.monotonic() + timeout
    try:
        os.killpg(group, signal.SIGTERM)
        while time.monotonic() < deadline:
            time.sleep(0.2)
            os.killpg(group, 0)  # raises once no process is left in the group
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait_for_run(instance, daemon, deadline: float):
    import dagster as dg

    finished = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
    while time.monotonic() < deadline:
        assert daemon.poll() is None, "dagster-daemon exited early"
        runs = instance.get_runs(filters=dg.RunsFilter(job_name="nightly"))
        done = [r for r in runs if r.status in finished]
        if done:
            return done[0]
        time.sleep(POLL_SECONDS)
    raise AssertionError("the nightly schedule did not produce a finished run within 4 minutes")


def _stop_the_schedule(instance) -> None:
    """Stop the nightly schedule as an operator would (``dagster schedule stop``), so its every-minute cron
    does not start a second night while the daemon's sensor and backfill follow up the first."""
    from dagster._core.definitions.run_request import InstigatorType

    (state,) = [s for s in instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE)
                if s.name == "nightly_schedule"]
    instance.stop_schedule(state.instigator_origin_id, state.selector_id)


def _wait_until(daemon, done, what: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        assert daemon.poll() is None, "dagster-daemon exited early"
        if done():
            return
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"not within 4 minutes of the night: {what}")
