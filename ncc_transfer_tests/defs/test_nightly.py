"""The nightly job end to end: real Dagster runs, a real DuckDB file, the demo LA's real files."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from ncc_transfer.canonical import CANONICAL_COLUMNS, TABLES
from ncc_transfer_tests.conftest import DEMO_AS_OF, ncc_env


def test_every_active_school_loads_in_one_run(demo_night):
    result = demo_night.result
    active = [s for s in demo_night.demo.schools if s["active"]]
    assert result.failed == 0 and result.loaded == len(active)
    assert result.skipped == len(demo_night.demo.schools) - len(active) == 1
    assert len(result.run_ids) == 1, "one run for the whole night"
    counts = demo_night.warehouse().read("SELECT school_key, count(*) AS n FROM pupils GROUP BY school_key")
    assert set(counts["school_key"]) == {f"{s['laestab']}-files" for s in active}


def test_inactive_school_not_extracted(demo_night):
    inactive = [s for s in demo_night.demo.schools if not s["active"]]
    keys = [f"{s['laestab']}-files" for s in inactive]
    rows = demo_night.warehouse().read("SELECT count(*) AS n FROM pupils WHERE school_key IN (SELECT unnest(?))", [keys])
    assert rows["n"].iloc[0] == 0


def test_tables_have_contract_columns_and_types(demo_night):
    warehouse = demo_night.warehouse()
    for table in TABLES:
        frame = warehouse.read(f'SELECT * FROM "{table}" LIMIT 5')
        assert list(frame.columns) == CANONICAL_COLUMNS[table]
    types = warehouse.read("SELECT table_name, column_name, data_type FROM information_schema.columns")
    typed = {(r.table_name, r.column_name): r.data_type for r in types.itertuples()}
    assert typed[("pupils", "dob")] == "DATE"
    assert typed[("attendance", "date")] == "DATE"
    assert typed[("exclusions", "sessions")] == "INTEGER"
    assert typed[("validation_issues", "first_seen")] == "TIMESTAMP"


def test_attendance_holds_no_closure_marks_and_only_am_pm(demo_night):
    frame = demo_night.warehouse().read(
        "SELECT count(*) FILTER (WHERE code = '#') AS closures, count(*) FILTER (WHERE session NOT IN ('AM','PM')) AS bad, "
        "count(*) FILTER (WHERE dayofweek(date) IN (0, 6)) AS weekend, count(*) AS n FROM attendance")
    row = frame.iloc[0]
    assert row["n"] > 10_000 and row["closures"] == 0 and row["bad"] == 0 and row["weekend"] == 0


def test_injected_errors_reported_to_the_school(demo_night):
    issues = demo_night.warehouse().read("SELECT * FROM validation_issues")
    missed = []
    for error in demo_night.demo.injected_errors:
        key = f"{error['laestab']}-files"
        mine = issues[(issues["school_key"] == key) & (issues["dataset"] == error["dataset"])]
        if error.get("upn"):
            mine = mine[mine["upn"] == error["upn"].strip().upper()]
        if mine.empty:
            missed.append(error)
    assert not missed, f"injected errors with no issue: {missed}"
    assert set(issues["severity"]) == {"error", "warning"}
    assert issues["message"].str.len().min() > 30


def test_error_records_kept_out_warnings_loaded(demo_night):
    warehouse = demo_night.warehouse()
    issues = warehouse.read("SELECT school_key, upn, severity FROM validation_issues WHERE dataset = 'pupils' AND upn IS NOT NULL")
    pupils = warehouse.read("SELECT school_key, upn FROM pupils")
    loaded = set(zip(pupils["school_key"], pupils["upn"]))
    errors = issues[issues["severity"] == "error"]
    warnings = issues[(issues["severity"] == "warning") & ~issues.set_index(["school_key", "upn"]).index.isin(
        list(zip(errors["school_key"], errors["upn"])))]
    assert errors.shape[0] > 0 and warnings.shape[0] > 0
    assert not any((k, u) in loaded for k, u in zip(errors["school_key"], errors["upn"]))
    assert all((k, u) in loaded for k, u in zip(warnings["school_key"], warnings["upn"]))


def test_partitions_materialised_and_checked_per_school(demo_night):
    with demo_night.env():
        instance = dg.DagsterInstance.get()
        active = {f"{s['laestab']}-files" for s in demo_night.demo.schools if s["active"]}
        for table in (*TABLES, "validation_issues"):
            materialized = instance.get_materialized_partitions(dg.AssetKey(table))
            assert materialized == active, table
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("pupils"), "structure")])
        assert record  # the structure check was recorded for pupils
        run = instance.get_run_by_id(demo_night.result.run_ids[0])
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags["dagster/asset_partition_range_start"] in active


def test_rerun_is_idempotent(small_la):
    from ncc_transfer.cli import _load_registry, run_night
    from ncc_transfer.warehouse import DuckDBWarehouse

    home, _ = small_la
    with ncc_env(home):
        first = run_night(_load_registry(), as_of=DEMO_AS_OF)
        warehouse = DuckDBWarehouse(home / "warehouse.duckdb")

        def contents(table: str) -> pd.DataFrame:
            columns = "* EXCLUDE (extracted_at)" if table == "pupils" else "*"
            return warehouse.read(f'SELECT {columns} FROM "{table}" ORDER BY ALL')

        snapshot = {table: contents(table) for table in TABLES}
        assert all(len(frame) for frame in snapshot.values())
        issues_first = warehouse.read("SELECT * EXCLUDE (last_seen) FROM validation_issues ORDER BY ALL")
        second = run_night(_load_registry(), as_of=DEMO_AS_OF)
        assert first.failed == second.failed == 0 and first.run_ids != second.run_ids
        for table, before in snapshot.items():
            pd.testing.assert_frame_equal(before, contents(table))
        issues_second = warehouse.read("SELECT * EXCLUDE (last_seen) FROM validation_issues ORDER BY ALL")
        pd.testing.assert_frame_equal(issues_first, issues_second)  # first_seen kept from night 1


def test_failing_school_keeps_previous_load_while_others_load(small_la):
    from ncc_transfer.cli import _load_registry, run_night
    from ncc_transfer.warehouse import DuckDBWarehouse

    home, demo = small_la
    with ncc_env(home):
        registry = _load_registry()
        run_night(registry, as_of=DEMO_AS_OF)
        warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
        before = warehouse.read("SELECT school_key, count(*) AS n, max(extracted_at) AS at FROM pupils GROUP BY 1")
        broken, healthy = registry.active_schools[0], registry.active_schools[1:]
        folder = broken.landing_folder(home)
        for path in folder.iterdir():  # every file truncated mid-way: unreadable
            path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
        result = run_night(registry, as_of=DEMO_AS_OF)
        assert result.failed == 1 and result.loaded == len(healthy)
        failed_line = next(line for line in result.lines if line.startswith(broken.key))
        assert "FAILED" in failed_line
        after = warehouse.read("SELECT school_key, count(*) AS n, max(extracted_at) AS at FROM pupils GROUP BY 1")
        merged = before.merge(after, on="school_key", suffixes=("_before", "_after"))
        kept = merged[merged["school_key"] == broken.key].iloc[0]
        assert kept["n_before"] == kept["n_after"] and kept["at_before"] == kept["at_after"]
        others = merged[merged["school_key"] != broken.key]
        assert (others["at_after"] > others["at_before"]).all()
        issue = warehouse.read("SELECT * FROM validation_issues WHERE school_key = ? AND rule = 'file_unreadable'", [broken.key])
        assert len(issue) == 1 and issue["severity"].iloc[0] == "error"
        audit = warehouse.read("SELECT outcome FROM audit_log WHERE school_key = ? ORDER BY logged_at", [broken.key])
        assert list(audit["outcome"]) == ["loaded", "failed"]
        instance = dg.DagsterInstance.get()
        run = instance.get_run_by_id(result.run_ids[0])
        assert run.status == dg.DagsterRunStatus.FAILURE
        failed_check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("pupils"), "structure")])
        assert failed_check


def test_structural_failure_blocks_school(small_la):
    from ncc_transfer.cli import _load_registry, run_night
    from ncc_transfer.warehouse import DuckDBWarehouse

    home, demo = small_la
    with ncc_env(home):
        registry = _load_registry()
        school = registry.active_schools[-1]
        folder = school.landing_folder(home)
        for path in folder.glob("*.xml"):
            path.unlink()
        (folder / "pupils.csv").write_text("upn,surname,forename,sex\nH801200001001,Smith,Ann,F\n", encoding="utf-8")
        result = run_night(registry, schools=[school.key], as_of=DEMO_AS_OF)
        assert result.failed == 1
        line = result.lines[0]
        assert "required column missing: dob" in line and "Smith" not in line
        warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
        assert warehouse.read("SELECT count(*) AS n FROM pupils WHERE school_key = ?", [school.key])["n"].iloc[0] == 0
        issue = warehouse.read("SELECT field, rule FROM validation_issues WHERE school_key = ?", [school.key])
        assert ("dob", "required_column_missing") in set(zip(issue["field"], issue["rule"]))
