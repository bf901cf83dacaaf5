"""The school step: each school in the run's partition range is extracted, validated and loaded
with its per-school views, in one transaction per school.

Run shape (docs/asset_graph.md): the nightly job is ONE run over a range of school partitions
(``BackfillPolicy.single_run``, https://docs.dagster.io/guides/build/partitions-and-backfills/backfilling-data)
with the in-process executor, so a night costs one Python process however many schools there are.
Inside, each school is prepared (``pipeline.prepare_school``, ahead of its turn:
``prefetch.prepared_as_ready``: a vendor school as soon as it is fetched) and written
(``pipeline.commit_school``) on its own: a school that
fails is caught, its error (what went wrong, then "Next:" what to do) logged, and left out of the
materialisations, while the others load; its checks are evaluated only where they ran (a failed
structure check blocks its load; an extract that could not be read gets no evaluation). If any
school failed, the step fails at the end (``step_failure``), so the run shows as failed, those
partitions show as failed in the UI, and the run-failure alert fires.

Each school's materialisations and check evaluations are logged as events on its partition
(``school_events``). The checks are partitioned by school (``check_specs``).
Metadata and logs carry counts, rule names, file names and school keys only: never pupil data.
"""


import gc
import json
import time
import warnings
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from ncc_transfer.archive import ArchiveError
from ncc_transfer.config import freshness_hours, retry_delay_seconds
from ncc_transfer.canonical import SCHOOL_VIEWS, TABLES
from ncc_transfer import timing
from ncc_transfer.timing import section
from ncc_transfer import next_steps
from ncc_transfer.pipeline import (FAILED, LOADED, PreparedSchool, SchoolOutcome, commit_school, skipped_outcome,
                                   with_next_step)
from ncc_transfer.night_guard import interrupts_noted
from ncc_transfer.prefetch import FetchLimits, prepared_as_ready
from ncc_transfer.registry import Registry, RegistryError
from ncc_transfer.warehouse import DiskFull, WarehouseUnavailable

from ncc_transfer.defs.resources import ArchiveResource, NccSettings, RouteConcurrency

from . import rejected_names
from .partitions import school_partitions
from .school_events import (FRESHNESS_CHECK, ISSUES_ASSET, RECORDS_CHECK, STRUCTURE_CHECK, log_freshness,
                            report_school)
from .step_failure import failure_description, failure_table

LONDON = ZoneInfo("Europe/London")

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
}
TABLE_KEYS = [dg.AssetKey(t) for t in TABLES]

# Retries of the step, for schools with a temporary fault only: 2, waiting NCC_RETRY_DELAY_SECONDS
# (default 300), doubling, with jitter (Dagster's RetryPolicy arithmetic). The step raises
# ``dg.RetryRequested`` itself (https://docs.dagster.io/guides/build/ops/op-retries) rather than
# declaring a retry_policy, because under a retry_policy Dagster also retries a step stopped by
# SIGTERM/SIGINT (its op_execution_error_boundary "respects the retry policy when interrupts occur"),
# and a refused password or a dead warehouse would be tried again too. The wait is slept in the step
# (``_wait_before_retry``), where Dagster raises a signal at once; in its executor's own wait between
# attempts a signal is only noticed when the wait ends.
def retry_wait() -> dg.RetryPolicy:
    return dg.RetryPolicy(max_retries=2, delay=retry_delay_seconds(), backoff=dg.Backoff.EXPONENTIAL,
                          jitter=dg.Jitter.PLUS_MINUS)


MAX_RETRIES = 2
# Metadata key of the step's Failure when the whole night stopped (warehouse unusable, disk full).
NIGHT_STOPPED = "night_stopped"


class NightConfig(dg.Config):
    as_of: str | None = None
    """The date the night's checks are made for (YYYY-MM-DD); default today in Europe/London."""

    def as_of_date(self) -> date:
        return date.fromisoformat(self.as_of) if self.as_of else datetime.now(LONDON).date()


class NightlyConfig(NightConfig):

    replay: bool = False
    """Load each school from the encrypted raw archive of the as_of night instead of its route."""

    full_refresh: bool = False
    """Vendor routes that fetch only changes fetch everything tonight (e.g. after a vendor-side fix)."""


def check_specs() -> list[dg.AssetCheckSpec]:
    """The school step's checks, partitioned like the assets they check (one partition per school).

    A partitioned check (``AssetCheckSpec(partitions_def=...)``, in preview in Dagster 1.13) is planned
    per school of the run's range, each evaluation is stored against its school's partition, and the
    UI shows the check's status per partition (succeeded / failed / skipped / execution failed) rather
    than only the latest evaluation of any school. A school with no evaluation of a check in a run
    shows it as "skipped" (the run succeeded) or "execution failed" (the run failed): the check did not
    run for it (docs/validation_and_feedback.md)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)  # partitions_def on AssetCheckSpec is in preview
        return [
            dg.AssetCheckSpec(FRESHNESS_CHECK, asset="pupils", blocking=False, partitions_def=school_partitions,
                              description="The school's last successful extraction is within NCC_FRESHNESS_HOURS (36).")
        ] + [
            spec
            for table in TABLES
            for spec in (
                dg.AssetCheckSpec(STRUCTURE_CHECK, asset=table, blocking=True, partitions_def=school_partitions,
                                  description="Pandera model: required columns, types, no duplicate keys, on the "
                                              "extract as read. Blocks the school's load. Not evaluated for a "
                                              "school whose extract could not be read at all."),
                dg.AssetCheckSpec(RECORDS_CHECK, asset=table, blocking=False, partitions_def=school_partitions,
                                  description="Record-level rules, once the structure check passed; failures "
                                              "become rows of validation_issues (counts by rule here)."),
            )
        ]


@dg.multi_asset(
    name="school_extract",
    specs=[
        dg.AssetSpec(table, partitions_def=school_partitions, skippable=True,
                     kinds={"duckdb", "pandas"}, description=TABLE_DESCRIPTIONS[table])
        for table in (*TABLES, ISSUES_ASSET)
    ] + [
        dg.AssetSpec(view, partitions_def=school_partitions, skippable=True,
                     kinds={"duckdb", "pandas"}, description=VIEW_DESCRIPTIONS[view], deps=TABLE_KEYS)
        for view in SCHOOL_VIEWS
    ],
    check_specs=check_specs(),
    backfill_policy=dg.BackfillPolicy.single_run(),
    # No retry_policy: with one, Dagster retries ANY exception, SIGTERM/SIGINT included. The step asks
    # for a retry itself (RetryRequested) only when a school had a temporary fault: see retry_wait.
    # Check results are logged per partition rather than yielded (``school_events.report_school``); the check outputs are
    # marked emitted at the end of the step (``_checks_done``).
    # Selecting one table still reloads the whole school: its tables are replaced in one transaction.
    can_subset=True,
)
def school_extract(context: dg.AssetExecutionContext, config: NightlyConfig, ncc: NccSettings,
                   archive: ArchiveResource, route_concurrency: RouteConcurrency):
    """Extract, validate and load each school in the run's partition range.

    Materialisations and check results are logged per school partition (``school_events.report_school``), never yielded
    as outputs; Dagster accepts "no outputs" (all skippable) only from a generator, hence the
    ``yield from ()``: https://docs.dagster.io/guides/build/assets/defining-assets-with-asset-dependencies"""
    yield from ()
    _wait_before_retry(context)
    registry, fetch_limits = _before_the_first_school(context, ncc, route_concurrency)
    try:
        _extract(context, config, ncc, archive, registry, fetch_limits)
    except (WarehouseUnavailable, DiskFull, ArchiveError) as exc:  # not a school's fault, no retry will fix it soon
        context.log.error(str(exc))
        raise dg.Failure(description=f"the night stopped: {exc}", metadata={NIGHT_STOPPED: str(exc)},
                         allow_retries=False) from None
    yield from _checks_done(context)


def _checks_done(context: dg.AssetExecutionContext) -> Iterator[dg.Output]:
    """An empty output per selected check, once every school's evaluations are logged.

    Dagster expects each selected check's output to be emitted, and otherwise logs "did not yield or
    return expected outputs" (its compute step, for check outputs whether required or not). A check's
    output carries no value and is not stored; its evaluations are the events ``school_events.report_school`` logged per
    school. This is the same ``Output(None)`` Dagster emits itself for a yielded ``AssetCheckResult``."""
    assets_def = context.assets_def
    for key in sorted(context.selected_asset_check_keys, key=lambda k: k.to_user_string()):
        yield dg.Output(None, output_name=assets_def.get_output_name_for_asset_check_key(key))


def _before_the_first_school(context: dg.AssetExecutionContext, ncc: NccSettings,
                             route_concurrency: RouteConcurrency) -> tuple[Registry, FetchLimits]:
    """The registry and the settings, read before any school. Either wrong is a permanent error: the
    step fails at once, in the command line's words, and is not retried (no ``RetryRequested``,
    ``allow_retries=False``): nothing changes until someone edits the file or the variable. So is a run
    whose every partition is a key the registry does not hold (one added in the UI's materialize
    dialog, say); a run with some such keys loads the others and fails those (``_load_one``)."""
    try:
        registry = ncc.registry()
    except RegistryError as exc:
        raise _permanent(context, f"registry error: {exc}") from None  # as `ncc-transfer run` says it (exit 2)
    try:
        limits = route_concurrency.limits()
        for variable, read, unit in (("NCC_RETRY_DELAY_SECONDS", retry_delay_seconds, "seconds"),
                                     ("NCC_FRESHNESS_HOURS", freshness_hours, "hours")):
            try:
                read()  # read again when used; wrong, it would fail the night's end or its retry
            except ValueError:
                raise ValueError(f"{variable} must be a number of {unit}") from None
    except ValueError as exc:
        raise _permanent(context, f"settings error: {exc}") from None
    keys = context.partition_keys if (context.has_partition_key or context.has_partition_key_range) else []
    unknown = [key for key in keys if key not in registry.by_key()]
    if unknown:
        message = (f"partition{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} not in the schools registry "
                   f"{registry.path}: add {'them' if len(unknown) > 1 else 'it'} to the registry to load "
                   f"{'those schools' if len(unknown) > 1 else 'that school'}; otherwise school_registry_sensor "
                   "removes partitions the registry does not hold at its next tick (every minute while the "
                   "daemon runs)")
        if len(unknown) == len(keys):
            raise _permanent(context, message, night_stopped=False)
        context.log.error(message)
    return registry, limits


def _permanent(context: dg.AssetExecutionContext, message: str, night_stopped: bool = True) -> dg.Failure:
    """The step's failure for an error no retry can fix: logged, and (``NIGHT_STOPPED``) what
    ``ncc-transfer run`` prints when a night stops."""
    context.log.error(message)
    return dg.Failure(description=message, metadata={NIGHT_STOPPED: message} if night_stopped else {},
                      allow_retries=False)


def _wait_before_retry(context: dg.AssetExecutionContext) -> None:
    """Before a retry, wait as the RetryPolicy says (``retry_wait``), in step code so a signal ends it."""
    if context.retry_number:
        seconds = max(0.0, retry_wait().calculate_delay(context.retry_number))
        context.log.info(f"retry {context.retry_number}: waiting {seconds:.0f} s before trying again")
        time.sleep(seconds)


def _extract(context: dg.AssetExecutionContext, config: NightlyConfig, ncc: NccSettings,
             archive: ArchiveResource, registry: Registry, fetch_limits: FetchLimits) -> None:
    archived, archive_status = archive.night_status()  # a required archive that is off stops the night here
    (context.log.info if archived else context.log.warning)(archive_status)
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
        active = [schools[k] for k in todo if k in schools and schools[k].active]
        sizes = last_marks(warehouse, as_of) if any(s.mis != "files" for s in active) else {}
        prepared = prepared_as_ready(active, home=ncc.home_path(), as_of=as_of, replay=config.replay,
                                     full_refresh=config.full_refresh, limits=fetch_limits, sizes=sizes)
        try:
            with interrupts_noted():  # a signal that lands in a DuckDB query still stops the night
                outcomes = [_not_loaded(context, key, schools.get(key)) for key in todo
                            if key not in schools or not schools[key].active]
                outcomes += [_load_one(context, ready, schools[ready.outcome.school_key], warehouse)
                             for ready in prepared]  # in the order they are ready
        finally:
            prepared.close()  # stops the pools
        place = {key: n for n, key in enumerate(todo)}
        outcomes.sort(key=lambda outcome: place[outcome.school_key])
        with section("dagster_events"):
            log_freshness(context, warehouse, [k for k in keys if k in schools and schools[k].active], schools)
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
            description=failure_description(len(keys), loaded, [o for o in outcomes if o.status == FAILED],
                                            [k for k, o in done.items() if o == FAILED], schools,
                                            temporary=len(transient), retry_number=context.retry_number,
                                            max_retries=MAX_RETRIES),
            metadata={"failed_schools": failed, "loaded": loaded,
                      "failures": dg.MetadataValue.md(failure_table(outcomes, schools))},
            allow_retries=False,
        )
        if transient:  # a retry re-runs only these (``settled_in_run``); after the last, the step fails
            raise dg.RetryRequested(max_retries=MAX_RETRIES, seconds_to_wait=0) from failure
        raise failure


def settled_in_run(warehouse, run_id: str) -> dict[str, str]:
    """Schools whose last try in this run needs no retry -> its outcome (loaded, skipped, or failed
    without a temporary fault). A school whose last try had a temporary fault is not in it."""
    rows = warehouse.read("SELECT school_key, outcome, detail FROM audit_log WHERE event IN ('extraction', 'replay') "
                          "AND run_id = ? ORDER BY logged_at", [run_id])
    last = {row.school_key: row for row in rows.itertuples()}
    return {key: row.outcome for key, row in last.items() if row.outcome != FAILED or not _transient(row.detail)}


def last_marks(warehouse, as_of: date, days: int = 14) -> dict[str, int]:
    """Each school's marks at its last load in the ``days`` before ``as_of`` (the audit log): the
    vendor schools are fetched largest first (``prefetch.largest_first``)."""
    since = datetime.combine(as_of - timedelta(days=days), datetime.min.time())
    rows = warehouse.read("SELECT school_key, detail FROM audit_log WHERE event = 'extraction' AND outcome = ? "
                          "AND logged_at >= ? ORDER BY logged_at", [LOADED, since])
    sizes = {}
    for key, detail in rows.itertuples(index=False):
        marks = _detail(detail).get("rows", {}).get("attendance")
        if isinstance(marks, int):
            sizes[key] = marks
    return sizes


def _detail(detail) -> dict:
    """An audit row's detail (a JSON text on DuckDB, already a dict on PostgreSQL)."""
    try:
        values = json.loads(detail) if isinstance(detail, str) else (detail or {})
    except ValueError:
        return {}
    return values if isinstance(values, dict) else {}


def _transient(detail) -> bool:
    """The audit detail's ``transient`` flag (a JSON text on DuckDB, already a dict on PostgreSQL)."""
    return bool(_detail(detail).get("transient", False))


def _not_loaded(context: dg.AssetExecutionContext, key: str, school) -> SchoolOutcome:
    """A school of the range that is not loaded tonight: gone from the registry, or inactive."""
    if school is None:
        laestab, _, route = key.partition("-")
        outcome = SchoolOutcome(key, laestab, route, FAILED,
                                message=with_next_step("not in the schools registry any more", next_steps.NOT_IN_REGISTRY))
    else:
        outcome = skipped_outcome(school)
    with section("dagster_events"):
        report_school(context, outcome, context.selected_asset_keys, school)
    return outcome


def _load_one(context: dg.AssetExecutionContext, ready: PreparedSchool, school, warehouse) -> SchoolOutcome:
    """One active school's turn: commit its prepared extract, log its events."""
    key = ready.outcome.school_key
    rejected_names.keep(key, ready.outcome.raw_names, ready.issues)  # for the school's report, next
    outcome = commit_school(ready, warehouse=warehouse, run_id=context.run_id)
    with section("dagster_events"):
        report_school(context, outcome, context.selected_asset_keys, school)
    outcome.raw_names = None
    return outcome
