"""The night's jobs, its schedule, the sensor that keeps partitions in step with the registry, and
the automation sensor that materialises the LA-wide assets after the night's school runs.

No job names an executor: every run uses the one set in ``definitions.py`` (in-process), as runs
launched from the UI do.

Jobs: https://docs.dagster.io/guides/build/jobs/asset-jobs ; schedules built when the definitions
load, not at import: https://docs.dagster.io/guides/automate/schedules
"""

from __future__ import annotations

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ncc_transfer import config
from ncc_transfer.registry import Registry, load_registry

from ncc_transfer.config import schools_per_run
from ncc_transfer.defs.la.assets import OVERVIEW_ASSET, la_views
from ncc_transfer.defs.reports.assets import REPORT_ASSET
from ncc_transfer.defs.schools.assets import school_extract
from ncc_transfer.defs.schools.partitions import partition_changes, school_partitions, sync_partitions

NIGHTLY_TIMEZONE = "Europe/London"
NIGHT_TAG = "ncc/night"
LA_WIDE = dg.AssetSelection.assets(la_views, OVERVIEW_ASSET)

nightly_job = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.assets(school_extract),
    description="Extract, validate and load every active school: one run, one process, per batch of schools.",
    tags={"dagster/max_retries": 0},
)
school_reports_job = dg.define_asset_job(
    "school_reports", selection=dg.AssetSelection.assets(REPORT_ASSET),
    description="The schools' reports, after their schools' run (a school that failed gets its report too).")
la_wide_job = dg.define_asset_job(
    "la_wide", selection=LA_WIDE,
    description="The LA-wide views and the LA overview, over every school's latest load.")
night_end_job = dg.define_asset_job(
    "night_end", selection=LA_WIDE | dg.AssetSelection.assets(REPORT_ASSET),
    description="The last batch's reports, then the LA-wide views and the LA overview: the night's last run "
                "(one run where school_reports and la_wide would be two).")

after_the_night = dg.AutomationConditionSensorDefinition(
    "after_the_night", target=LA_WIDE | dg.AssetSelection.assets(REPORT_ASSET),
    default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=60,
    emit_backfills=True,  # the reports of many schools as one backfill: one run (single-run policy), not one each
    description="Once no school run is queued or running: the schools' reports and the LA-wide assets.")


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


def _nightly_tick(context: dg.ScheduleEvaluationContext):
    registry = load_registry(config.schools_file(), home=config.ncc_home())
    night = context.scheduled_execution_time.strftime("%Y-%m-%d")
    requests = nightly_run_requests(context.instance, registry, night)
    return requests or dg.SkipReason("no active schools in the registry")


def nightly_schedule(cron: str | None = None) -> dg.ScheduleDefinition:
    """Every night at NCC_NIGHTLY_CRON (02:00 Europe/London by default), read when the definitions load."""
    return dg.schedule(
        name="nightly_schedule", job=nightly_job, cron_schedule=cron or config.nightly_cron(),
        execution_timezone=NIGHTLY_TIMEZONE, default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every night: all active schools in the registry, in one run (or NCC_SCHOOLS_PER_RUN per run).",
    )(_nightly_tick)


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Adds a partition for each school added to the registry; removes partitions the registry "
                       "does not hold (a school deleted from it, or a key added in the UI). Starts no runs.")
def school_registry_sensor(context: dg.SensorEvaluationContext):
    registry = load_registry(config.schools_file(), home=config.ncc_home())
    added, deleted = partition_changes(registry, list(context.instance.get_dynamic_partitions(school_partitions.name)))
    if not added and not deleted:
        return dg.SkipReason(f"partitions already match the registry ({len(registry.schools)} schools)")
    requests = []
    if added:
        requests.append(school_partitions.build_add_request(added))
    if deleted:
        requests.append(school_partitions.build_delete_request(deleted))
    # A tick that starts no run is "skipped" in the UI whatever it did; without a reason of ours Dagster
    # would give its own, "Sensor function returned an empty result", on a tick that changed partitions.
    return dg.SensorResult(dynamic_partitions_requests=requests, skip_reason=partition_sync_summary(added, deleted))


def partition_sync_summary(added: list[str], deleted: list[str], shown: int = 10) -> str:
    """What a tick of ``school_registry_sensor`` changed, in a line (at most ``shown`` keys of each)."""
    def keys(chosen: list[str]) -> str:
        more = f" and {len(chosen) - shown} more" if len(chosen) > shown else ""
        return ", ".join(chosen[:shown]) + more

    changes = ([f"added {len(added)} partition(s) for schools in the registry: {keys(added)}"] if added else []) + (
        [f"removed {len(deleted)} partition(s) the registry does not hold: {keys(deleted)}"] if deleted else [])
    return "; ".join(changes) + " (this sensor starts no runs)"


@dg.definitions
def night() -> dg.Definitions:
    """The night's jobs, schedule (built now, when the definitions load) and sensors."""
    return dg.Definitions(jobs=[nightly_job, school_reports_job, la_wide_job, night_end_job],
                          schedules=[nightly_schedule()], sensors=[school_registry_sensor, after_the_night])
