"""The nightly job, its schedule, and the sensor that keeps partitions in step with the registry."""

from __future__ import annotations

import os

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ncc_transfer import config
from ncc_transfer.registry import Registry, load_registry

from .ingest import school_extract
from .partitions import partition_changes, school_partitions, sync_partitions

NIGHTLY_CRON = os.environ.get("NCC_NIGHTLY_CRON", "0 2 * * *")  # 02:00 Europe/London by default
NIGHTLY_TIMEZONE = "Europe/London"
NIGHT_TAG = "ncc/night"

nightly_job = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.assets(school_extract),
    executor_def=dg.in_process_executor,
    description="Extract, validate and load every active school: one run, one process, per batch of schools.",
    tags={"dagster/max_retries": 0},
)


def schools_per_run() -> int:
    """NCC_SCHOOLS_PER_RUN splits the night into several runs (0, the default: one run for all)."""
    return max(0, int(os.environ.get("NCC_SCHOOLS_PER_RUN", "0") or 0))


def range_tags(first: str, last: str) -> dict[str, str]:
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def night_batches(partition_keys: list[str], registry: Registry, per_run: int = 0) -> list[tuple[str, str]]:
    """Contiguous (first, last) partition ranges covering every active school, at most ``per_run`` active each.

    Ranges follow the partitions' own order, so an inactive school between two active ones falls
    inside a range; the asset skips it without touching its data.
    """
    active = {s.key for s in registry.active_schools}
    batches: list[tuple[str, str]] = []
    first = last = None
    count = 0
    for key in partition_keys:
        if key not in active:
            continue
        if first is None:
            first = key
        last, count = key, count + 1
        if per_run and count == per_run:
            batches.append((first, last))
            first, count = None, 0
    if first is not None and last is not None:
        batches.append((first, last))
    return batches


def nightly_run_requests(instance: dg.DagsterInstance, registry: Registry, night: str,
                         per_run: int | None = None) -> list[dg.RunRequest]:
    """Sync partitions to the registry, then one RunRequest per batch of schools."""
    sync_partitions(instance, registry)
    keys = list(instance.get_dynamic_partitions(school_partitions.name))
    batches = night_batches(keys, registry, schools_per_run() if per_run is None else per_run)
    return [
        dg.RunRequest(run_key=f"{night}:{first}..{last}", tags={**range_tags(first, last), NIGHT_TAG: night})
        for first, last in batches
    ]


@dg.schedule(job=nightly_job, cron_schedule=NIGHTLY_CRON, execution_timezone=NIGHTLY_TIMEZONE,
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every night: all active schools in the registry, in one run (or NCC_SCHOOLS_PER_RUN per run).")
def nightly_schedule(context: dg.ScheduleEvaluationContext):
    registry = load_registry(config.schools_file(), home=config.ncc_home())
    night = context.scheduled_execution_time.strftime("%Y-%m-%d")
    requests = nightly_run_requests(context.instance, registry, night)
    return requests or dg.SkipReason("no active schools in the registry")


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Adds a partition for each school added to the registry; removes schools deleted from it.")
def school_registry_sensor(context: dg.SensorEvaluationContext):
    registry = load_registry(config.schools_file(), home=config.ncc_home())
    added, deleted = partition_changes(registry, list(context.instance.get_dynamic_partitions(school_partitions.name)))
    if not added and not deleted:
        return dg.SkipReason(f"registry unchanged ({len(registry.schools)} schools)")
    requests = []
    if added:
        requests.append(school_partitions.build_add_request(added))
    if deleted:
        requests.append(school_partitions.build_delete_request(deleted))
    return dg.SensorResult(dynamic_partitions_requests=requests)
