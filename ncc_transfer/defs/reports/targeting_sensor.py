"""Every active school's targeting pack and the LA page, made automatically once per school break.

Thin wiring over ``rules.breaks.last_school_day_before_break`` (pure; docs/targeting_pack.md, "Made
automatically"): each tick reads the latest loaded night's date and the LA's school days from the
warehouse; once the data shows a break (at least 5 weekdays without a school day of the LA, a half term
or the end of a term), it requests one run of ``targeting_packs`` for every active school's partition
and the LA page, as of the last school day before the break. The run key names that day, so a break
gets its packs once however many ticks see it (Dagster skips a run key it has already run,
https://docs.dagster.io/guides/automate/sensors#idempotence-and-cursors); the cursor keeps it too.
Sensors: https://docs.dagster.io/guides/automate/sensors
"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from ncc_transfer import config
from ncc_transfer.defs.operations.nightly import night_batches, range_tags
from ncc_transfer.defs.reports.targeting import LA_PAGE_ASSET, PACK_ASSET
from ncc_transfer.defs.schools.partitions import school_partitions
from ncc_transfer.registry import load_registry
from ncc_transfer.rules.breaks import last_school_day_before_break
from ncc_transfer.targeting import la_school_days, latest_night
from ncc_transfer.warehouse import open_warehouse

PACKS_TAG = "ncc/targeting_packs_for"
LOOK_BACK_DAYS = 60  # school days read before the latest night: longer than any holiday but the summer's

targeting_packs_job = dg.define_asset_job(
    "targeting_packs", selection=dg.AssetSelection.assets(PACK_ASSET, LA_PAGE_ASSET),
    description="Every active school's targeting support pack and the LA page, as of one date (one run).")


def break_to_pack(warehouse) -> date | None:
    """The last school day before the break the loaded data shows, if it shows one (else None)."""
    night = latest_night(warehouse)
    if night is None:
        return None
    days = la_school_days(warehouse, night - timedelta(days=LOOK_BACK_DAYS), night)
    return last_school_day_before_break(days, night)


def pack_run_request(day: date, partition_keys: list[str], registry) -> dg.RunRequest | None:
    """One run: every active school's partition (one range) and the LA page, as of ``day``."""
    batches = night_batches(partition_keys, registry, 0)
    if not batches:
        return None
    (first, last), = batches
    as_of = {"config": {"as_of": day.isoformat()}}
    return dg.RunRequest(run_key=f"targeting_packs:{day.isoformat()}", job_name=targeting_packs_job.name,
                         run_config={"ops": {PACK_ASSET: as_of, LA_PAGE_ASSET: as_of}},
                         tags={**range_tags(first, last), PACKS_TAG: day.isoformat()})


@dg.sensor(job=targeting_packs_job, minimum_interval_seconds=3600, default_status=dg.DefaultSensorStatus.RUNNING,
           description="After the last school day before a half term or the end of a term (once the loaded data "
                       "shows 5 weekdays without school): every active school's targeting pack and the LA page, "
                       "as of that day, once per break.")
def targeting_packs_after_break(context: dg.SensorEvaluationContext):
    try:
        warehouse = open_warehouse(config.warehouse_url())
    except Exception as exc:  # noqa: BLE001 - a night holds DuckDB's lock, or PostgreSQL is down: the next tick
        return dg.SkipReason(f"the warehouse cannot be read now ({type(exc).__name__}); the next tick tries again")
    try:
        day = break_to_pack(warehouse)
    finally:
        warehouse.close()
    if day is None:
        return dg.SkipReason("the loaded nights show no break after the last school day yet")
    if context.cursor == day.isoformat():
        return dg.SkipReason(f"the packs for the break after {day.isoformat()} were already requested")
    registry = load_registry(config.schools_file(), home=config.ncc_home())
    request = pack_run_request(day, list(context.instance.get_dynamic_partitions(school_partitions.name)), registry)
    if request is None:
        return dg.SkipReason("no active school has a partition yet")
    context.update_cursor(day.isoformat())
    return request
