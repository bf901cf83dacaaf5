"""What the school step logs for each school, against its partition: materialisations of its tables
and views, and its check evaluations (``structure``, ``records``, ``fresh``), each evaluation aimed
at the school's latest materialisation (``_target``).

One step for many partitions can only report each partition's materialisations and check results
as events (``context.log_event``): https://docs.dagster.io/guides/build/assets/metadata-and-tags#attaching-metadata-to-a-materialization
Metadata carries counts, rule names, file names and school keys only: never pupil data.
"""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import pandas as pd
# Not exported at the top level of dagster 1.13; what an AssetCheckResult's evaluation carries.
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluationTargetMaterializationData

from ncc_transfer.canonical import TABLES
from ncc_transfer.config import freshness_hours
from ncc_transfer.pipeline import FAILED, LOADED, SchoolOutcome

from .step_failure import named

ISSUES_ASSET = "validation_issues"
STRUCTURE_CHECK = "structure"
FRESHNESS_CHECK = "fresh"
RECORDS_CHECK = "records"


def log_freshness(context: dg.AssetExecutionContext, warehouse, keys: list[str], schools: dict) -> None:
    """Per school: is its last successful extraction recent enough? A WARN check on `pupils`."""
    if not keys or dg.AssetKey("pupils") not in context.selected_asset_keys:
        return
    last = warehouse.read("SELECT school_key, max(logged_at) AS last_loaded FROM audit_log "
                          "WHERE event = 'extraction' AND outcome = 'loaded' GROUP BY school_key")
    last_loaded = dict(zip(last["school_key"], pd.to_datetime(last["last_loaded"])))
    now = pd.Timestamp(datetime.now(timezone.utc).replace(tzinfo=None))
    limit = freshness_hours()
    for key in keys:
        when = last_loaded.get(key)
        age = None if when is None or pd.isna(when) else round((now - when).total_seconds() / 3600, 1)
        context.log_event(dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey("pupils"), check_name=FRESHNESS_CHECK, partition=key, blocking=False,
            passed=age is not None and age <= limit, severity=dg.AssetCheckSeverity.WARN,
            target_materialization_data=_target(context, "pupils", key),
            metadata={**school_metadata(key, schools.get(key)), "hours_since_last_good_load": age,
                      "limit_hours": limit, "last_good_load": when.isoformat() if age is not None else "never"}))


def _target(context: dg.AssetExecutionContext, table: str, key: str) -> AssetCheckEvaluationTargetMaterializationData | None:
    """The school's latest materialisation of ``table`` (tonight's, once logged; else its last good
    load's): what a check evaluated now is about. Dagster shows a partitioned check's status for a
    partition only while its evaluation targets that partition's latest materialisation, and an
    evaluation logged from a step carries no target unless given one (as ``AssetCheckResult`` does
    for a step with one partition)."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(table), asset_partitions=[key]), limit=1).records
    if not records:
        return None  # never materialised: any evaluation is current
    latest = records[0]
    return AssetCheckEvaluationTargetMaterializationData(storage_id=latest.storage_id,
                                                         run_id=latest.event_log_entry.run_id, timestamp=latest.timestamp)


def school_metadata(key: str, school) -> dict:
    """Who an evaluation is about, first in its metadata: the partition key, the school's name, its
    LAESTAB and its route (registry facts, no pupil data)."""
    laestab, _, route = key.partition("-")
    return {"school": key, "school_name": school.name if school is not None else "(not in the registry)",
            "laestab": laestab, "route": route}


def report_school(context: dg.AssetExecutionContext, outcome: SchoolOutcome, selected: set[dg.AssetKey],
            school=None) -> None:
    """Log one school's materialisations and check evaluations against its partition.

    A check is evaluated only where it ran: ``structure`` on the tables of an extract that was read
    (``outcome.structural`` has them), ``records`` once the structure passed on every table. A school
    whose extract could not be read (a vendor host unreachable, an unreadable file, a refused
    password) gets no evaluation at all: its failure is the error logged here and the step's failure."""
    key = outcome.school_key
    # Who a check evaluation is about; not on materialisations: the run's event log filter matches
    # their metadata, and filtering on a school's key should find its failure, not its views.
    who = school_metadata(key, school)
    if outcome.status == FAILED:
        context.log.error(f"{named(key, {key: school} if school is not None else {})}: {outcome.message}")
    validated = bool(outcome.structural) and not any(outcome.structural.values())
    for table in TABLES:
        if dg.AssetKey(table) not in selected:
            continue
        if outcome.status == LOADED:  # first, so that tonight's checks target it (``_target``)
            context.log_event(dg.AssetMaterialization(
                asset_key=table, partition=key,
                metadata={"dagster/row_count": outcome.rows.get(table, 0), "source": outcome.sources.get(table, "none")},
            ))
        if table not in outcome.structural:  # not read: no check ran on it
            continue
        target = _target(context, table, key)
        if table in outcome.structural:
            problems = outcome.structural[table]
            context.log_event(dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey(table), check_name=STRUCTURE_CHECK, passed=not problems, blocking=True,
                severity=dg.AssetCheckSeverity.ERROR, partition=key, target_materialization_data=target,
                metadata={**who, "problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none")},
            ))
        if validated:
            by_rule = outcome.issues_by_table.get(table, {})
            context.log_event(dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey(table), check_name=RECORDS_CHECK, passed=not by_rule, blocking=False,
                severity=dg.AssetCheckSeverity.WARN, partition=key, target_materialization_data=target,
                metadata={**who, "issues": sum(by_rule.values()), "issues_by_rule": dg.MetadataValue.json(by_rule)},
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
