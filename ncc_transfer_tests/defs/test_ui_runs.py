"""Runs started from the Dagster UI behave as the nightly schedule and the command line do.

The UI launches a run with the GraphQL mutation ``launchPipelineExecution`` on the implicit asset
job (``__ASSET_JOB``) with the assets selected and a ``dagster/partition`` tag; the webserver then
submits it to the instance, whose run launcher starts a run worker from the code location's gRPC
server. These tests do exactly that, without a browser: the real GraphQL schema, the real
``workspace.yaml`` code location (its own code server process), a real instance with the default
run launcher and the production ``run_retries`` settings (``deploy/dagster.yaml``), and a real run
worker process.
"""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._daemon.auto_run_reexecution.auto_run_reexecution import should_retry
from dagster._core.test_utils import poll_for_finished_run
from dagster_graphql.client.query import LAUNCH_PIPELINE_EXECUTION_MUTATION
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql, infer_job_selector

from ncc_transfer.cli import main
from ncc_transfer.definitions import defs
from ncc_transfer.defs.operations.nightly import school_registry_sensor
from ncc_transfer.defs.schools.assets import school_extract
from ncc_transfer.defs.schools.partitions import school_partitions
from ncc_transfer_tests.conftest import ncc_env

REPO = Path(__file__).resolve().parents[2]
PRODUCTION_RUN_RETRIES = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text(encoding="utf-8"))["run_retries"]
UNKNOWN_KEY = "9269999-files"
# A permanent error ends the run within SECONDS of its start (the run worker's RUN_START event: after
# that process has imported Dagster and loaded the definitions). The test waits up to WAIT for the
# end, process start-ups on a busy 2-core machine included.
SECONDS, WAIT = 15, 120

REGISTRY = """
local_authority: {code: "926", name: "Test"}
schools:
  - {laestab: "9262001", name: "School 1", mis: files, source: {path: landing/9262001}}
  - {laestab: "9262002", name: "School 2", mis: files, source: {path: landing/9262002}}
"""
BROKEN_REGISTRY = REGISTRY.replace('laestab: "9262002"', 'laestab: "926200"')  # six digits


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """(home, instance, GraphQL context) for launching runs as the UI does, on one NCC_HOME."""
    home = tmp_path_factory.mktemp("ui_la")
    (home / "schools.yaml").write_text(REGISTRY, encoding="utf-8")
    overrides = {
        "run_retries": PRODUCTION_RUN_RETRIES,
        # Submitted runs are launched at once (no daemon here to take them off the queue); the run
        # launcher is the instance's default one, as in production.
        "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"},
    }
    with ncc_env(home), dg.instance_for_test(overrides=overrides) as instance:
        instance.add_dynamic_partitions(school_partitions.name, ["9262001-files", "9262002-files", UNKNOWN_KEY])
        with define_out_of_process_context(str(REPO / "workspace.yaml"), None, instance) as context:
            yield home, instance, context


def _materialize(context, partition_key: str) -> str:
    """The UI's "Materialize" of the school step's assets for one school partition: the run's id."""
    selection = [key.to_graphql_input() for key in school_extract.keys]
    selector = infer_job_selector(context, "__ASSET_JOB", asset_selection=selection)
    result = execute_dagster_graphql(context, LAUNCH_PIPELINE_EXECUTION_MUTATION, variables={"executionParams": {
        "selector": selector, "runConfigData": {},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition_key}]}}})
    launched = result.data["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def _finished(instance, run_id: str) -> tuple[dg.DagsterRun, float]:
    """The run once it has ended, and the seconds from its start to its end (its events' times)."""
    run = poll_for_finished_run(instance, run_id, timeout=WAIT)
    [start] = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_START).records
    [end] = instance.get_records_for_run(run_id, of_type={dg.DagsterEventType.RUN_SUCCESS,
                                                          dg.DagsterEventType.RUN_FAILURE}).records
    return run, end.event_log_entry.timestamp - start.event_log_entry.timestamp


def _step_failures(instance, run_id: str) -> list[str]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    return [r.event_log_entry.dagster_event.step_failure_data.user_failure_data.description
            if r.event_log_entry.dagster_event.step_failure_data.user_failure_data
            else r.event_log_entry.dagster_event.step_failure_data.error.message
            for r in records]


def _retried(instance, run_id: str) -> bool:
    """Did the step ask for a retry, or would the daemon re-execute the run (its own test, on the
    production ``run_retries`` settings)?"""
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 1  # deploy/dagster.yaml's
    steps = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY).records
    return bool(steps) or should_retry(instance.get_run_by_id(run_id), instance)


def _executed_in_process(instance, run_id: str) -> bool:
    messages = [e.message for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)]
    return any(m.startswith("Executing steps in process") for m in messages) and not any(
        "multiprocess" in m for m in messages)


def test_registry_error_in_a_run_from_the_ui_fails_at_once_with_the_command_lines_message(ui, capsys):
    home, instance, context = ui
    (home / "schools.yaml").write_text(BROKEN_REGISTRY, encoding="utf-8")
    try:
        assert main(["run"]) == 2
        command_line = capsys.readouterr().err.strip().removeprefix("ncc-transfer: ")
        assert command_line.startswith("registry error: ") and "is not 7 digits" in command_line
        run_id = _materialize(context, "9262001-files")
        run, seconds = _finished(instance, run_id)
    finally:
        (home / "schools.yaml").write_text(REGISTRY, encoding="utf-8")
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert seconds < SECONDS, seconds
    assert _step_failures(instance, run_id) == [command_line]
    assert not _retried(instance, run_id), "a registry error is not retried"
    assert _executed_in_process(instance, run_id)


def test_a_partition_not_in_the_registry_is_refused_with_what_to_do(ui):
    home, instance, context = ui
    run_id = _materialize(context, UNKNOWN_KEY)
    run, seconds = _finished(instance, run_id)
    assert run.status == dg.DagsterRunStatus.FAILURE and seconds < SECONDS, (run.status, seconds)
    [message] = _step_failures(instance, run_id)
    assert message.startswith(f"partition {UNKNOWN_KEY} not in the schools registry {home / 'schools.yaml'}: "
                              "add it to the registry"), message
    assert "school_registry_sensor removes" in message, message
    assert not _retried(instance, run_id)


def test_a_school_whose_folder_is_missing_fails_at_once_without_a_retry(ui):
    """A permanent fault of one school (here its landing folder does not exist): that school fails
    with its reason, at once, with no step retry and no run re-execution."""
    home, instance, context = ui
    run_id = _materialize(context, "9262002-files")
    run, seconds = _finished(instance, run_id)
    assert run.status == dg.DagsterRunStatus.FAILURE and seconds < SECONDS, (run.status, seconds)
    [message] = _step_failures(instance, run_id)
    assert message.startswith("1 of 1 school in this run failed. The failed school kept its previous load.\n"
                              "- 9262002-files (School 2): "), message
    errors = [e.user_message for e in instance.all_logs(run_id) if e.level >= 40 and not e.is_dagster_event]
    assert any("9262002-files" in m and "landing folder does not exist" in m for m in errors), errors
    assert not _retried(instance, run_id)
    assert _executed_in_process(instance, run_id)


def test_every_job_and_the_ui_s_implicit_asset_job_run_in_process():
    definitions = defs()
    repository = definitions.get_repository_def()
    jobs = {job.name: job for job in repository.get_all_jobs()}
    assert "__ASSET_JOB" in jobs and {"nightly", "school_reports", "la_wide", "night_end", "retention"} <= set(jobs)
    assert definitions.resolve_implicit_global_asset_job_def().executor_def is dg.in_process_executor
    assert {name: job.executor_def.name for name, job in jobs.items()} == {name: "in_process" for name in jobs}


def test_a_settings_error_stops_the_night_at_once_in_one_line_without_a_retry(tmp_path, capsys):
    """A wrong setting (here NCC_ROUTE_CONCURRENCY) is a permanent error too: the step fails before its
    first school, and the command line says why in one line (the step's own message)."""
    (tmp_path / "schools.yaml").write_text(REGISTRY, encoding="utf-8")
    with ncc_env(tmp_path, NCC_ROUTE_CONCURRENCY="wonde=two"):
        started = time.monotonic()
        code = main(["run"])
        seconds = time.monotonic() - started
        instance = dg.DagsterInstance.get()
        [run] = instance.get_runs()
        failures = _step_failures(instance, run.run_id)
        retries = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY).records
    expected = ("settings error: NCC_ROUTE_CONCURRENCY: expected route=number pairs separated by commas "
                "(e.g. wonde=2,arbor=1), not 'wonde=two'")
    assert code == 1 and capsys.readouterr().err.strip() == f"ncc-transfer: the night stopped: {expected}"
    assert failures == [expected] and not retries and run.status == dg.DagsterRunStatus.FAILURE
    assert seconds < 60, seconds  # the whole command, Dagster's set-up included


def test_the_registry_sensor_removes_a_key_added_in_the_ui_and_says_what_it_did(tmp_path):
    (tmp_path / "schools.yaml").write_text(REGISTRY, encoding="utf-8")
    with ncc_env(tmp_path), dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(school_partitions.name, ["9262001-files", UNKNOWN_KEY])  # as the UI's dialog does
        tick = school_registry_sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert not tick.run_requests
        assert [(type(r).__name__, list(r.partition_keys)) for r in tick.dynamic_partitions_requests] == [
            ("AddDynamicPartitionsRequest", ["9262002-files"]), ("DeleteDynamicPartitionsRequest", [UNKNOWN_KEY])]
        assert tick.skip_message == (
            "added 1 partition(s) for schools in the registry: 9262002-files; removed 1 partition(s) the registry "
            f"does not hold: {UNKNOWN_KEY} (this sensor starts no runs)")
        instance.add_dynamic_partitions(school_partitions.name, ["9262002-files"])
        instance.delete_dynamic_partition(school_partitions.name, UNKNOWN_KEY)
        again = school_registry_sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert not again.dynamic_partitions_requests
        assert again.skip_message == "partitions already match the registry (2 schools)"
