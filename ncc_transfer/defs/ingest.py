"""The nightly step: every school in the run is loaded, then the statutory views are computed.

Assets: the school tables and per-school views (partitioned by school) and the LA-wide views
(unpartitioned, downstream of every school's tables), all produced by the one step ``school_extract``.

Run shape (README "How a night runs"): the nightly job is ONE run over a range of school partitions
(``BackfillPolicy.single_run``) with the in-process executor, so a night costs one Python process
however many schools there are. Inside, each school is prepared (``pipeline.prepare_school``, ahead
of its turn: ``prefetch.prepared_in_order``) and written (``pipeline.commit_school``) on its own: a
school that fails is caught, reported as a failed blocking check, and left out of the
materialisations, while the others load. If any school failed, the step fails at the end, so the run
shows as failed, those partitions show as failed in the UI, and the run-failure alert fires.

Metadata and logs carry counts, rule names, file names and school keys only: never pupil data.
"""


import gc
import json
import os
import time
from collections.abc import Iterator
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd

from ncc_transfer.canonical import LA_VIEWS, SCHOOL_VIEWS, TABLES
from ncc_transfer import timing
from ncc_transfer.timing import section
from ncc_transfer.feedback import la_overview, maybe_email, school_report
from ncc_transfer.pipeline import FAILED, LOADED, PreparedSchool, SchoolOutcome, commit_school, skipped_outcome
from ncc_transfer.prefetch import prepared_in_order
from ncc_transfer.warehouse import DiskFull, WarehouseUnavailable
from ncc_transfer.views import la_headline, la_view_counts, markdown_table, overview_by_school, refresh_la_views

from .partitions import school_partitions
from .resources import NccSettings

LONDON = ZoneInfo("Europe/London")
ISSUES_ASSET = "validation_issues"

TABLE_DESCRIPTIONS = {
    "pupils": "Pupils on each school's roll, including leavers this year.",
    "attendance": "Every AM/PM session mark, as the statutory code.",
    "exclusions": "Suspensions, permanent and lunchtime exclusions.",
    ISSUES_ASSET: "Record-level validation problems for each school to fix in its MIS.",
}

VIEW_DESCRIPTIONS = {
    "absence_summary": "Per enrolment: possible sessions, present, AEA, authorised, unauthorised, absence rate, "
                       "persistent (>= 10%) and severe (>= 50%) absence by the DfE method (for pupils 15 at "
                       "31 August, the second half of the summer term, from summer_2_start, is removed); the "
                       "same uncut in the *_all columns; DfE-comparable flag (age 5-15, C/M, a possible "
                       "session under the DfE method, not first enrolled in summer 2). See docs/absence.md.",
    "ten_day_absence": "Pupils whose run of unauthorised absence reached 10 school days (the 10-day return).",
    "absence_triggers": "15 school days of illness in a row (sickness_15) or in the year, counted in I sessions "
                        "(sickness_15_cumulative, threshold_day = the fifteenth day), and 20 of only G/N/O "
                        "(gno_20, deletion ground 9(1)(i)). See docs/absence.md.",
    "exclusion_provision": "Permanent exclusions (LA) and suspension periods over 5 school days (school): sixth day.",
    "children_missing_education": "Of compulsory school age, left a roll (or vanished from an extract) and on no "
                                  "other roll in the LA; final-year leavers only if on no roll by the tenth school "
                                  "day of the next school year (not_started_next_phase).",
    "pupil_movements": "Joined and left events per school this year; new entrants within 5 school days marked "
                       "(not those exempt under reg 13(2): most junior year group, starting on the first day "
                       "of the school year); new_entrant_return_deadline = joining date + 5 days (reg 13(1)).",
}
TABLE_KEYS = [dg.AssetKey(t) for t in TABLES]
REPORT_ASSET, OVERVIEW_ASSET = "school_report", "validation_overview"

# Retries of the step, for schools with a temporary fault only: 2, waiting NCC_RETRY_DELAY_SECONDS
# (default 300), doubling, with jitter (Dagster's RetryPolicy arithmetic). The step raises
# ``dg.RetryRequested`` itself (https://docs.dagster.io/guides/build/ops/op-retries) rather than
# declaring a retry_policy, because under a retry_policy Dagster also retries a step stopped by
# SIGTERM/SIGINT (its op_execution_error_boundary "respects the retry policy when interrupts occur"),
# and a refused password or a dead warehouse would be tried again too. The wait is slept in the step
# (``_wait_before_retry``), where Dagster raises a signal at once; in its executor's own wait between
# attempts a signal is only noticed when the wait ends.
RETRY_WAIT = dg.RetryPolicy(max_retries=2, delay=float(os.environ.get("NCC_RETRY_DELAY_SECONDS", "300")),
                            backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
# Metadata key of the step's Failure when the whole night stopped (warehouse unusable, disk full).
NIGHT_STOPPED = "night_stopped"

STRUCTURE_CHECK = "structure"
FRESHNESS_CHECK = "fresh"
RECORDS_CHECK = "records"


class NightlyConfig(dg.Config):
    as_of: str | None = None
    """The date the night's checks are made for (YYYY-MM-DD); default today in Europe/London."""

    replay: bool = False
    """Load each school from the encrypted raw archive of the as_of night instead of its route."""

    full_refresh: bool = False
    """Vendor routes that fetch only changes fetch everything tonight (e.g. after a vendor-side fix)."""

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
    ] + [
        dg.AssetSpec(REPORT_ASSET, partitions_def=school_partitions, skippable=True, group_name="school_feedback",
                     kinds={"html", "csv"}, deps=[ISSUES_ASSET],
                     description="The school's validation report (HTML and CSV, under $NCC_HOME/reports/<laestab>/), "
                                 "emailed to its contact when something is new (NCC_EMAIL_SCHOOL_REPORTS)."),
        dg.AssetSpec(OVERVIEW_ASSET, skippable=True, group_name="school_feedback", kinds={"html", "png"},
                     deps=[ISSUES_ASSET],
                     description="The LA's data-quality overview: issues by school and rule, nights since a clean "
                                 "extract, 30-night trend chart. Counts only."),
    ],
    check_specs=[
        dg.AssetCheckSpec(FRESHNESS_CHECK, asset="pupils", blocking=False,
                          description="The school's last successful extraction is within NCC_FRESHNESS_HOURS (36).")
    ] + [
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
    # No retry_policy: with one, Dagster retries ANY exception, SIGTERM/SIGINT included. The step asks
    # for a retry itself (RetryRequested) only when a school had a temporary fault: see RETRY_WAIT.
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
    _wait_before_retry(context)
    try:
        _extract(context, config, ncc)
    except (WarehouseUnavailable, DiskFull) as exc:  # not a school's fault, and no retry will fix it soon
        context.log.error(str(exc))
        raise dg.Failure(description=f"the night stopped: {exc}", metadata={NIGHT_STOPPED: str(exc)},
                         allow_retries=False) from None


def _wait_before_retry(context: dg.AssetExecutionContext) -> None:
    """Before a retry, wait as the RetryPolicy says (``RETRY_WAIT``), in step code so a signal ends it."""
    if context.retry_number:
        seconds = max(0.0, RETRY_WAIT.calculate_delay(context.retry_number))
        context.log.info(f"retry {context.retry_number}: waiting {seconds:.0f} s before trying again")
        time.sleep(seconds)


def _extract(context: dg.AssetExecutionContext, config: NightlyConfig, ncc: NccSettings) -> None:
    registry = ncc.registry()
    schools = registry.by_key()
    warehouse = ncc.warehouse()
    as_of = config.as_of_date()
    keys = context.partition_keys if (context.has_partition_key or context.has_partition_key_range) else []
    # Everything alive now (Dagster, the definitions, the modules) lives through the step: keep the
    # cyclic garbage collector's full passes off it (they would re-scan it every few hundred
    # thousand allocations, i.e. many times per school). Unfrozen again when the step ends.
    gc.freeze()
    step_clock = timing.clock()
    try:
        # On a retry of this step, only schools whose last try in this run had a temporary fault (or
        # that were not reached) are fetched again: not those that loaded, nor those that failed for
        # good (a refused password is not sent again).
        done = settled_in_run(warehouse, context.run_id) if context.retry_number else {}
        todo = [key for key in keys if key not in done]
        # Active schools are prepared (read, checked, validated, views computed) ahead of their turn
        # in a process pool (files) or a thread pool (vendor routes) while the previous one is
        # written here (``prefetch``).
        prepared = prepared_in_order([schools[k] for k in todo if k in schools and schools[k].active],
                                     home=ncc.home_path(), as_of=as_of, replay=config.replay,
                                     full_refresh=config.full_refresh)
        try:
            outcomes = [_load_one(context, key, schools.get(key), registry.la_name, ncc, warehouse, as_of, prepared)
                        for key in todo]
        finally:
            prepared.close()  # stops the pools
        with section("dagster_events"):
            _freshness(context, warehouse, [k for k in keys if k in schools and schools[k].active])
        if dg.AssetKey(OVERVIEW_ASSET) in context.selected_asset_keys:
            with section("overview"):
                _overview(context, warehouse, registry, ncc, as_of)
        if any(dg.AssetKey(view) in context.selected_asset_keys for view in LA_VIEWS):
            with section("la_views"):
                _la_views(context, warehouse, as_of, registry.final_years())
    finally:
        warehouse.close()
        gc.unfreeze()
        timing.add("step", step_clock)

    failed = [o.school_key for o in outcomes if o.status == FAILED] + [k for k, o in done.items() if o == FAILED]
    loaded = sum(o.status == LOADED for o in outcomes) + sum(o == LOADED for o in done.values())
    context.log.info(f"{loaded} schools loaded, {len(failed)} failed, {len(keys) - loaded - len(failed)} skipped")
    if failed:
        transient = [o.school_key for o in outcomes if o.status == FAILED and o.transient]
        failure = dg.Failure(
            description=f"{len(failed)} of {len(keys)} schools failed: {', '.join(failed)}. "
                        "The other schools loaded; each failed school kept its previous load."
                        + (f" Retrying for the {len(transient)} with a temporary fault." if transient else ""),
            metadata={"failed_schools": failed, "loaded": loaded},
            allow_retries=False,
        )
        if transient:  # a retry re-runs only these (``settled_in_run``); after the last, the step fails
            raise dg.RetryRequested(max_retries=RETRY_WAIT.max_retries, seconds_to_wait=0) from failure
        raise failure


def settled_in_run(warehouse, run_id: str) -> dict[str, str]:
    """Schools whose last try in this run needs no retry -> its outcome (loaded, skipped, or failed
    without a temporary fault). A school whose last try had a temporary fault is not in it."""
    rows = warehouse.read("SELECT school_key, outcome, detail FROM audit_log WHERE event IN ('extraction', 'replay') "
                          "AND run_id = ? ORDER BY logged_at", [run_id])
    last = {row.school_key: row for row in rows.itertuples()}
    return {key: row.outcome for key, row in last.items() if row.outcome != FAILED or not _transient(row.detail)}


def _transient(detail) -> bool:
    """The audit detail's ``transient`` flag (a JSON text on DuckDB, already a dict on PostgreSQL)."""
    try:
        values = json.loads(detail) if isinstance(detail, str) else (detail or {})
    except ValueError:
        return False
    return bool(values.get("transient", False))


def freshness_limit_hours() -> float:
    """NCC_FRESHNESS_HOURS: a school whose last good load is older than this is flagged (default 36)."""
    return float(os.environ.get("NCC_FRESHNESS_HOURS", "36") or 36)


def _freshness(context: dg.AssetExecutionContext, warehouse, keys: list[str]) -> None:
    """Per school: is its last successful extraction recent enough? A WARN check on `pupils`."""
    if not keys or dg.AssetKey("pupils") not in context.selected_asset_keys:
        return
    last = warehouse.read("SELECT school_key, max(logged_at) AS last_loaded FROM audit_log "
                          "WHERE event = 'extraction' AND outcome = 'loaded' GROUP BY school_key")
    last_loaded = dict(zip(last["school_key"], pd.to_datetime(last["last_loaded"])))
    now = pd.Timestamp(datetime.now(timezone.utc).replace(tzinfo=None))
    limit = freshness_limit_hours()
    for key in keys:
        when = last_loaded.get(key)
        age = None if when is None or pd.isna(when) else round((now - when).total_seconds() / 3600, 1)
        context.log_event(dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey("pupils"), check_name=FRESHNESS_CHECK, partition=key, blocking=False,
            passed=age is not None and age <= limit, severity=dg.AssetCheckSeverity.WARN,
            metadata={"school": key, "hours_since_last_good_load": age, "limit_hours": limit,
                      "last_good_load": when.isoformat() if age is not None else "never"}))


def _load_one(context: dg.AssetExecutionContext, key: str, school, la_name: str, ncc: NccSettings, warehouse,
              as_of: date, prepared: Iterator[PreparedSchool]) -> SchoolOutcome:
    """One school's turn: commit its prepared extract (the next from ``prepared`` for an active school)."""
    if school is None:
        laestab, _, route = key.partition("-")
        outcome = SchoolOutcome(key, laestab, route, FAILED, message="not in the schools registry any more")
    elif not school.active:
        outcome = skipped_outcome(school)
    else:
        ready = next(prepared)
        assert ready.outcome.school_key == key, "schools are prepared in partition order"
        outcome = commit_school(ready, warehouse=warehouse, run_id=context.run_id)
    with section("dagster_events"):
        _report(context, outcome, context.selected_asset_keys)
    if school is not None and school.active and dg.AssetKey(REPORT_ASSET) in context.selected_asset_keys:
        with section("school_reports"):
            _school_report(context, outcome, school, la_name, ncc, warehouse, as_of)
    outcome.raw_names = None
    return outcome


def _school_report(context, outcome: SchoolOutcome, school, la_name: str, ncc: NccSettings, warehouse,
                   as_of: date) -> None:
    """Write (and maybe email) the school's report; a failure here never fails the school's load."""
    try:
        report = school_report(warehouse, school, la_name=la_name, as_of=as_of, home=ncc.home_path(),
                               extra_names=outcome.raw_names)
        delivery = maybe_email(warehouse, school, report, la_name=la_name, run_id=context.run_id)
    except Exception as exc:  # noqa: BLE001 - reported, and the load stands
        context.log.error(f"{school.key}: the validation report could not be written ({type(exc).__name__})")
        return
    context.log_event(dg.AssetMaterialization(asset_key=REPORT_ASSET, partition=school.key, metadata={
        "report": dg.MetadataValue.path(str(report.html_path)), "csv": dg.MetadataValue.path(str(report.csv_path)),
        "counts": dg.MetadataValue.json(report.counts), "email": delivery}))


def _overview(context, warehouse, registry, ncc: NccSettings, as_of: date) -> None:
    overview = la_overview(warehouse, registry, as_of=as_of, home=ncc.home_path())
    context.log_event(dg.AssetMaterialization(asset_key=OVERVIEW_ASSET, metadata={
        "overview": dg.MetadataValue.path(str(overview.html_path)),
        "summary": dg.MetadataValue.md(overview.chart_markdown()),
        "totals": dg.MetadataValue.json(overview.totals)}))


def _la_views(context: dg.AssetExecutionContext, warehouse, as_of: date, final_years: dict[str, int]) -> None:
    """Recompute the LA-wide views over every school's latest load; log counts and a table by school.
    ``final_years``: the registry's explicit final year groups (school key -> NC year), for CME."""
    views = refresh_la_views(warehouse, as_of, final_years)
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
