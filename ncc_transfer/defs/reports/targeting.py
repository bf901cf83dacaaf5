"""The termly targeting support pack: one partition per school, and the LA page; on demand only.

Thin wiring over ``ncc_transfer.targeting`` (rules in ``rules/targeting.py``; docs/targeting_pack.md).
No automation condition and no schedule: an officer materialises a school's pack (pick the partition)
or the LA page from the UI before a termly meeting, or runs ``ncc-transfer pack``. Like the school report,
the step runs once for a range of schools (single-run backfill) and reports each school's
materialisation as an event. Metadata: the folder and counts, never a pupil.
"""

import dagster as dg

from ncc_transfer.defs.resources import NccSettings
from ncc_transfer.defs.schools.assets import NightConfig
from ncc_transfer.defs.schools.partitions import school_partitions
from ncc_transfer.targeting import read_pupils, write_la, write_school_pack, build_school_pack, packs_root

PACK_ASSET, LA_PAGE_ASSET = "targeting_pack", "targeting_la_page"


@dg.asset(
    name=PACK_ASSET,
    partitions_def=school_partitions,
    deps=["pupils", "attendance", "absence_summary"],
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"html", "csv"},
    output_required=False,
    description="The school's termly attendance targeting support pack (HTML and CSV pupil lists, under "
                "$NCC_HOME/packs/<laestab>/<academic year>-<term>/), as of the run's as_of (default today).",
)
def targeting_pack(context: dg.AssetExecutionContext, config: NightConfig, ncc: NccSettings):
    """Write each school's pack; one school's failure never stops the others."""
    registry = ncc.registry()
    schools = registry.by_key()
    as_of = config.as_of_date()
    warehouse = ncc.warehouse()
    try:
        pupils = read_pupils(warehouse)
        for key in context.partition_keys:
            school = schools.get(key)
            if school is None:
                continue
            try:
                written = write_school_pack(build_school_pack(warehouse, registry, school, as_of, pupils=pupils),
                                            packs_root(ncc.home_path()))
            except Exception as exc:  # noqa: BLE001 - reported; the other schools' packs go on
                context.log.error(f"{key}: the targeting pack could not be written ({type(exc).__name__})")
                continue
            yield dg.AssetMaterialization(asset_key=PACK_ASSET, partition=key, metadata={
                "folder": dg.MetadataValue.path(str(written.folder)), "counts": dg.MetadataValue.json(written.counts)})
    finally:
        warehouse.close()


@dg.asset(
    name=LA_PAGE_ASSET,
    deps=["absence_summary"],
    kinds={"html"},
    description="Attendance across the LA for the targeting support meetings: rates by phase against England, "
                "the schools furthest below their phase's average, cohort gaps (counts and rates only).",
)
def targeting_la_page(context: dg.AssetExecutionContext, config: NightConfig, ncc: NccSettings) -> dg.MaterializeResult:
    warehouse = ncc.warehouse()
    try:
        written = write_la(warehouse, ncc.registry(), as_of=config.as_of_date(), home=ncc.home_path())
    finally:
        warehouse.close()
    return dg.MaterializeResult(metadata={"page": dg.MetadataValue.path(str(written.files[0])),
                                          "counts": dg.MetadataValue.json(written.counts)})
