"""Production shape, end to end: dagster-daemon on a PostgreSQL-backed instance fires the nightly
schedule, the run loads every school into the PostgreSQL warehouse, the LA-wide views and the reports
follow through the automation sensor, and the daemon stops cleanly.

Needs PostgreSQL (see the `postgres_url` fixture). The night takes two to three minutes of the daemon's
own cadence (``daemon_night.py``): the session starts it at its beginning (the ``daemon_night`` fixture
in ``conftest.py``) and runs this test last, so the wait overlaps the other tests.
"""

from __future__ import annotations

import os

import pytest


@pytest.mark.postgres
def test_daemon_runs_the_nightly_schedule_into_postgres(postgres_url, daemon_night):
    import dagster as dg

    from ncc_transfer.canonical import TABLES, VIEW_COLUMNS
    from ncc_transfer.config import restored_environment
    from ncc_transfer.warehouse import open_warehouse

    night = daemon_night
    try:
        night.wait()
        with restored_environment(*night.env):
            os.environ.update(night.env)  # the instance as the daemon sees it: deploy/dagster.yaml
            instance = dg.DagsterInstance.get()
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            run = instance.get_run_by_id(night.night_run.run_id)
            assert run.status == dg.DagsterRunStatus.SUCCESS, night.log_tail()
            assert run.tags.get("ncc/night") and run.tags.get("dagster/schedule_name") == "nightly_schedule"
            assert instance.get_materialized_partitions(dg.AssetKey("pupils")) == night.active
            assert instance.get_latest_materialization_event(dg.AssetKey("pupil_movements"))
            assert instance.get_materialized_partitions(dg.AssetKey("school_report")) == night.active

        warehouse = open_warehouse(night.warehouse_url)
        try:
            for table in TABLES:
                loaded = set(warehouse.read(f'SELECT DISTINCT school_key FROM "{table}"')["school_key"])
                assert loaded == night.active or (table == "exclusions" and loaded <= night.active), table
            for view in VIEW_COLUMNS:
                frame = warehouse.read(f'SELECT DISTINCT as_of FROM "{view}"')
                assert frame.empty or {str(v)[:10] for v in frame["as_of"]} == {night.today.isoformat()}, view
            assert len(warehouse.read("SELECT * FROM absence_summary")) > 100
            assert len(warehouse.read("SELECT * FROM pupil_movements")) > 0
        finally:
            warehouse.close()
        assert night.stop_daemon() is not None  # it stopped on SIGTERM
    finally:
        night.close()
