"""The termly targeting support pack: one partition per school, and the LA page.

Thin wiring over ``ncc_transfer.targeting`` and ``targeting_all`` (rules in ``rules/targeting.py``;
docs/targeting_pack.md). Made once per half term by ``targeting_packs_after_break``
(``targeting_sensor.py``: by the LA's term dates file when given, else by the breaks the data shows),
and on demand: an officer materialises a school's pack (pick the partition) or the LA page from the UI,
or runs ``ncc-transfer pack``. With ``NCC_PACK_EMAIL`` on, each school's
contact and officer get a notice (counts and the folder, no pupil data: ``reports/pack_email.py``). Like the school report,
the step runs once for a range of schools (single-run backfill) and reports each school's
materialisation as an event. Metadata: the folder and counts, never a pupil.
"""

import dagster as dg

from ncc_transfer.defs.resources import MailResource, NccSettings
from ncc_transfer.defs.schools.assets import NightConfig
from ncc_transfer.defs.schools.partitions import school_partitions
from ncc_transfer.night_guard import interrupts_noted
from ncc_transfer.reports.pack_email import maybe_send_pack_notice, pack_email_enabled
from ncc_transfer.targeting import write_la
from ncc_transfer.targeting_all import write_all_packs

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
def targeting_pack(context: dg.AssetExecutionContext, config: NightConfig, ncc: NccSettings, mail: MailResource):
    """Write each school's pack (``targeting_all.write_all_packs``: the warehouse read once for the LA, the
    packs written in a process pool); one school's failure never stops the others."""
    registry = ncc.registry()
    schools = registry.by_key()
    # Active schools only: a range of partitions (the break sensor's run) holds the inactive ones between.
    chosen = [schools[key] for key in context.partition_keys if key in schools and schools[key].active]
    as_of = config.as_of_date()
    enabled = pack_email_enabled()
    warehouse = ncc.warehouse()
    try:
        with interrupts_noted():  # a stop signal that lands in a DuckDB query still stops the step
            written = write_all_packs(warehouse, registry, as_of=as_of, home=ncc.home_path(), schools=chosen,
                                      la_page=False)
        smtp = mail.smtp() if enabled else None
        email = {key: maybe_send_pack_notice(warehouse, schools[key], pack, la_name=registry.la_name, as_of=as_of,
                                             run_id=context.run_id, enabled=enabled, smtp=smtp)
                 for key, pack in written.packs.items()}
    finally:
        warehouse.close()
    for key, error in sorted(written.failed.items()):
        context.log.error(f"{key}: the targeting pack could not be written ({error})")
    for school in chosen:
        pack = written.packs.get(school.key)
        if pack is not None:
            yield dg.AssetMaterialization(asset_key=PACK_ASSET, partition=school.key, metadata={
                "folder": dg.MetadataValue.path(str(pack.folder)), "counts": dg.MetadataValue.json(pack.counts),
                "email": email[school.key]})


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
