"""The nightly schedule's run shape and the registry sensor."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from ncc_transfer.defs.operations.nightly import NIGHT_TAG, nightly_job, school_registry_sensor
from ncc_transfer.defs.operations.nightly import nightly_schedule as build_schedule
from ncc_transfer.defs.schools.partitions import school_partitions
from ncc_transfer.definitions import defs
from ncc_transfer_tests.conftest import ncc_env

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"

REGISTRY = """
local_authority: {code: "926", name: "Test"}
schools:
""" + "".join(
    f'  - {{laestab: "92620{n:02d}", name: "School {n}", mis: files, source: {{path: landing/92620{n:02d}}}'
    + (", active: false" if n == 3 else "") + "}\n"
    for n in range(1, 8)
)


nightly_schedule = build_schedule()


def _tick(instance, when=dt.datetime(2026, 3, 20, 2, 0, tzinfo=dt.timezone.utc)):
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when,
                                        repository_def=defs().get_repository_def())
    return nightly_schedule.evaluate_tick(context)


def test_schedule_is_nightly_in_london():
    assert nightly_schedule.cron_schedule == "0 2 * * *"
    assert nightly_schedule.execution_timezone == "Europe/London"
    assert nightly_schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_cron_is_read_when_the_definitions_load_not_at_import(monkeypatch):
    monkeypatch.setenv("NCC_NIGHTLY_CRON", "30 1 * * *")
    assert defs().resolve_schedule_def("nightly_schedule").cron_schedule == "30 1 * * *"


def test_one_run_covers_every_school(tmp_path):
    (tmp_path / "schools.yaml").write_text(REGISTRY, encoding="utf-8")
    with ncc_env(tmp_path), dg.instance_for_test() as instance:
        data = _tick(instance)
        assert len(data.run_requests) == 1
        request = data.run_requests[0]
        assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("9262001-files", "9262007-files")
        assert request.tags[NIGHT_TAG] == "2026-03-20" and request.run_key == "2026-03-20:9262001-files..9262007-files"
        # the tick registered every school as a partition, the inactive one included
        assert len(instance.get_dynamic_partitions(school_partitions.name)) == 7


def test_batches_when_asked(tmp_path):
    (tmp_path / "schools.yaml").write_text(REGISTRY, encoding="utf-8")
    with ncc_env(tmp_path, NCC_SCHOOLS_PER_RUN="3"), dg.instance_for_test() as instance:
        requests = _tick(instance).run_requests
        ranges = [(r.tags[RANGE_START][:7], r.tags[RANGE_END][:7]) for r in requests]
        # 6 active schools in runs of 3; the inactive 9262003 falls inside the first range and is skipped there
        assert ranges == [("9262001", "9262004"), ("9262005", "9262007")]


def test_registry_error_fails_the_tick(tmp_path):
    (tmp_path / "schools.yaml").write_text(REGISTRY.replace('laestab: "9262002"', 'laestab: "92"'), encoding="utf-8")
    with ncc_env(tmp_path), dg.instance_for_test() as instance:
        with pytest.raises(dg.DagsterError) as raised:
            _tick(instance)
        assert "school 2 (92): laestab" in str(raised.value.__cause__)


def test_sensor_adds_and_removes_partitions(tmp_path):
    (tmp_path / "schools.yaml").write_text(REGISTRY, encoding="utf-8")
    with ncc_env(tmp_path):
        instance = dg.DagsterInstance.ephemeral()
        instance.add_dynamic_partitions(school_partitions.name, ["9262001-files", "9269999-files"])
        result = school_registry_sensor(dg.build_sensor_context(instance=instance))
        added = [k for r in result.dynamic_partitions_requests if isinstance(r, dg.AddDynamicPartitionsRequest)
                 for k in r.partition_keys]
        deleted = [k for r in result.dynamic_partitions_requests if isinstance(r, dg.DeleteDynamicPartitionsRequest)
                   for k in r.partition_keys]
        assert added == [f"926200{n}-files" for n in range(2, 8)]
        assert deleted == ["9269999-files"]
        instance.add_dynamic_partitions(school_partitions.name, added)
        instance.delete_dynamic_partition(school_partitions.name, "9269999-files")
        again = school_registry_sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(again, dg.SkipReason)


def test_scheduled_request_runs_every_school_in_one_process(small_la):
    """Execute the schedule's own RunRequest: one run, every active school materialised in it."""
    home, demo = small_la
    with dg.instance_for_test() as instance:
        request = _tick(instance).run_requests[0]
        result = nightly_job.resolve(asset_graph=defs().resolve_asset_graph()).execute_in_process(
            instance=instance, tags=request.tags, run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
        assert result.success
        materialized = instance.get_materialized_partitions(dg.AssetKey("pupils"))
        assert materialized == {f"{s['laestab']}-files" for s in demo.schools if s["active"]}
        pids = {e.dagster_event.pid for e in instance.all_logs(result.run_id) if e.dagster_event and e.dagster_event.pid}
        assert len(pids) == 1, "the whole night ran in one process"


def test_after_the_night_requests_the_reports_and_the_la_wide_assets_once(small_la):
    """After a nightly run (no run in progress), the automation sensor's conditions request every loaded
    school's report and the three LA-wide assets; evaluated again, nothing (already requested)."""
    home, demo = small_la
    definitions = defs()
    with dg.instance_for_test() as instance:
        request = _tick(instance).run_requests[0]
        before = dg.evaluate_automation_conditions(defs=definitions, instance=instance)  # the sensor's earlier ticks
        assert before.total_requested == 0
        nightly_job.resolve(asset_graph=definitions.resolve_asset_graph()).execute_in_process(
            instance=instance, tags=request.tags, run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}})
        after = dg.evaluate_automation_conditions(defs=definitions, instance=instance, cursor=before.cursor)
        requested = {r.key.to_user_string(): r.true_subset.size for r in after.results if r.true_subset.size}
        assert requested == {"school_report": sum(s["active"] for s in demo.schools), "children_missing_education": 1,
                             "pupil_movements": 1, "validation_overview": 1}
        again = dg.evaluate_automation_conditions(defs=definitions, instance=instance, cursor=after.cursor)
        assert again.total_requested == 0


def test_the_reports_run_materialises_each_active_school_once(small_la):
    """The school_reports job over the night's range: one materialisation per active school's report
    (yielded per school; no output that would materialise the whole range a second time)."""
    home, demo = small_la
    definitions = defs()
    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    with dg.instance_for_test() as instance:
        tags = _tick(instance).run_requests[0].tags
        nightly_job.resolve(asset_graph=definitions.resolve_asset_graph()).execute_in_process(
            instance=instance, tags=tags, run_config=quiet)
        result = definitions.resolve_job_def("school_reports").execute_in_process(
            instance=instance, tags={RANGE_START: tags[RANGE_START], RANGE_END: tags[RANGE_END]}, run_config=quiet)
        assert result.success
        events = instance.get_records_for_run(
            result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
        partitions = [record.event_log_entry.dagster_event.partition for record in events]
        assert sorted(partitions) == sorted(f"{s['laestab']}-files" for s in demo.schools if s["active"])
