"""The nightly step: every school in the run is loaded, then the statutory views are computed.

Assets: the school tables and per-school views (partitioned by school) and the LA-wide views
(unpartitioned, downstream of every school's tables), all produced by the one step ``school_extract``.

Run shape (README "How a night runs"): the nightly job is ONE run over a range of school partitions
(``BackfillPolicy.single_run``) with the in-process executor, so a night costs one Python process
however many schools there are. Inside, each school is loaded on its own by ``process_school``: a
school that fails is caught, reported as a failed blocking check, and left out of the
materialisations, while the others load. If any school failed, the step fails at the end, so the run
shows as failed, those partitions show as failed in the UI, and the run-failure alert fires.

Metadata and logs carry counts, rule names, file names and school keys only: never pupil data.
"""


from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from ncc_transfer.canonical import LA_VIEWS, SCHOOL_VIEWS, TABLES
from ncc_transfer.pipeline import FAILED, LOADED, SchoolOutcome, process_school, skipped_outcome
from ncc_transfer.views import la_headline, la_view_counts, markdown_table, overview_by_school, refresh_la_views

from .partitions import school_partitions
from .resources import NccSettings

LONDON = ZoneInfo("Europe/London")
ISSUES_ASSET = "validation_issues"

TABLE_DESCRIPTIONS = {
    "pupils": "Pupils on each school's roll, including leavers this year (design §3.4).",
    "attendance": "Every AM/PM session mark, as the statutory code.",
    "exclusions": "Suspensions, permanent and lunchtime exclusions.",
    ISSUES_ASSET: "Record-level validation problems for each school to fix in its MIS.",
}

VIEW_DESCRIPTIONS = {
    "absence_summary": "Per enrolment: possible sessions, present, AEA, authorised, unauthorised, absence rate, "
                       "persistent (>= 10%) and severe (>= 50%) absence, DfE-comparable flag.",
    "ten_day_absence": "Pupils whose run of unauthorised absence reached 10 school days (the 10-day return).",
    "absence_triggers": "15 school days of illness (sickness return) and 20 of only G/N/O (deletion ground 9(1)(i)).",
    "exclusion_provision": "Permanent exclusions (LA) and suspension periods over 5 school days (school): sixth day.",
    "children_missing_education": "Left a roll (or vanished from an extract) and on no other roll in the LA.",
    "pupil_movements": "Joined and left events per school this year; new entrants within 5 school days marked.",
}
TABLE_KEYS = [dg.AssetKey(t) for t in TABLES]

STRUCTURE_CHECK = "structure"
RECORDS_CHECK = "records"


class NightlyConfig(dg.Config):
    as_of: str | None = None
    """The date the night's checks are made for (YYYY-MM-DD); default today in Europe/London."""

    def as_of_date(self) -> date:
        return date.fromisoformat(self.as_of) if self.as_of else datetime.now(LONDON).date()


@dg.multi_asset(
    name="school_extract",
    specs=[
        dg.AssetSpec(table, partitions_def=school_partitions, skippable=True, group_name="school_data",
                     kinds={"duckdb", "pandas"}, description=TABLE_DESCRIPTIONS[table])
        for table in (*TABLES, ISSUES_ASSET)
    ] + [
        dg.AssetSpec(view, partitions_def=school_partitions, skippable=True, group_name="statutory_views",
                     kinds={"duckdb", "pandas"}, description=VIEW_DESCRIPTIONS[view], deps=TABLE_KEYS)
        for view in SCHOOL_VIEWS
    ] + [
        dg.AssetSpec(view, skippable=True, group_name="statutory_views", kinds={"duckdb", "pandas"},
                     description=VIEW_DESCRIPTIONS[view], deps=TABLE_KEYS)
        for view in LA_VIEWS
    ],
    check_specs=[
        spec
        for table in TABLES
        for spec in (
            dg.AssetCheckSpec(STRUCTURE_CHECK, asset=table, blocking=True,
                              description="Pandera model: required columns, types, no duplicate keys. Blocks the school's load."),
            dg.AssetCheckSpec(RECORDS_CHECK, asset=table, blocking=False,
                              description="Record-level rules; failures become rows of validation_issues."),
        )
    ],
    backfill_policy=dg.BackfillPolicy.single_run(),
    # Check results are logged per partition rather than yielded, which needs optional check outputs.
    # Selecting one table still reloads the whole school: its tables are replaced in one transaction.
    can_subset=True,
    op_tags={"ncc/stage": "extract"},
)
def school_extract(context: dg.AssetExecutionContext, config: NightlyConfig, ncc: NccSettings):
    """Extract, validate and load each school in the run's partition range."""
    # Materialisations and check results are logged per school partition (``_report``), not
    # yielded as outputs, so this step yields nothing; being a generator tells Dagster so.
    yield from ()
    registry = ncc.registry()
    warehouse = ncc.warehouse()
    as_of = config.as_of_date()
    partitioned = context.has_partition_key or context.has_partition_key_range
    try:
        outcomes = [
            _load_one(context, key, registry.by_key().get(key), ncc, warehouse, as_of)
            for key in (context.partition_keys if partitioned else [])
        ]
        if any(dg.AssetKey(view) in context.selected_asset_keys for view in LA_VIEWS):
            _la_views(context, warehouse, as_of)
    finally:
        warehouse.close()

    failed = [o.school_key for o in outcomes if o.status == FAILED]
    loaded = sum(o.status == LOADED for o in outcomes)
    context.log.info(f"{loaded} schools loaded, {len(failed)} failed, {len(outcomes) - loaded - len(failed)} skipped")
    if failed:
        raise dg.Failure(
            description=f"{len(failed)} of {len(outcomes)} schools failed: {', '.join(failed)}. "
                        "The other schools loaded; each failed school kept its previous load.",
            metadata={"failed_schools": failed, "loaded": loaded},
        )


def _load_one(context: dg.AssetExecutionContext, key: str, school, ncc: NccSettings, warehouse, as_of: date) -> SchoolOutcome:
    if school is None:
        laestab, _, route = key.partition("-")
        outcome = SchoolOutcome(key, laestab, route, FAILED, message="not in the schools registry any more")
    elif not school.active:
        outcome = skipped_outcome(school)
    else:
        outcome = process_school(school, home=ncc.home_path(), warehouse=warehouse, as_of=as_of, run_id=context.run_id)
    _report(context, outcome, context.selected_asset_keys)
    return outcome


def _la_views(context: dg.AssetExecutionContext, warehouse, as_of: date) -> None:
    """Recompute the LA-wide views over every school's latest load; log counts and a table by school."""
    views = refresh_la_views(warehouse, as_of)
    by_school = markdown_table(overview_by_school(warehouse))
    totals = la_headline(warehouse)
    for view, frame in views.items():
        if dg.AssetKey(view) in context.selected_asset_keys:
            context.log_event(dg.AssetMaterialization(asset_key=view, metadata={
                "as_of": as_of.isoformat(), "dagster/row_count": len(frame),
                "counts": dg.MetadataValue.json(la_view_counts(view, frame)),
                "la_totals": dg.MetadataValue.json(totals),
                "by_school": dg.MetadataValue.md(by_school)}))


def _report(context: dg.AssetExecutionContext, outcome: SchoolOutcome, selected: set[dg.AssetKey]) -> None:
    """Log one school's materialisations and check evaluations against its partition."""
    key = outcome.school_key
    if outcome.status == FAILED:
        context.log.error(f"{key}: {outcome.message}")
    for table in TABLES:
        if dg.AssetKey(table) not in selected:
            continue
        problems = outcome.structural.get(table, [])
        if outcome.status == FAILED and not any(outcome.structural.values()):
            problems = [outcome.message or "extract failed"]
        if outcome.status != "skipped":
            context.log_event(dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey(table), check_name=STRUCTURE_CHECK, passed=not problems, blocking=True,
                severity=dg.AssetCheckSeverity.ERROR, partition=key,
                metadata={"school": key, "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none")},
            ))
        if outcome.status == LOADED:
            by_rule = outcome.issues_by_table.get(table, {})
            context.log_event(dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey(table), check_name=RECORDS_CHECK, passed=not by_rule, blocking=False,
                severity=dg.AssetCheckSeverity.WARN, partition=key,
                metadata={"school": key, "issues": sum(by_rule.values()), "issues_by_rule": dg.MetadataValue.json(by_rule)},
            ))
            context.log_event(dg.AssetMaterialization(
                asset_key=table, partition=key,
                metadata={"dagster/row_count": outcome.rows.get(table, 0), "source": outcome.sources.get(table, "none")},
            ))
    for view, counts in outcome.views.items():
        if dg.AssetKey(view) in selected:
            context.log_event(dg.AssetMaterialization(
                asset_key=view, partition=key,
                metadata={"dagster/row_count": counts.get("rows", 0), "counts": dg.MetadataValue.json(counts)}))
    if dg.AssetKey(ISSUES_ASSET) in selected and outcome.status != "skipped" and (
            outcome.status == LOADED or outcome.errors or outcome.warnings):
        context.log_event(dg.AssetMaterialization(
            asset_key=ISSUES_ASSET, partition=key,
            metadata={"dagster/row_count": outcome.errors + outcome.warnings, "errors": outcome.errors,
                      "warnings": outcome.warnings, "issues_by_rule": dg.MetadataValue.json(outcome.issues_by_rule)},
        ))
