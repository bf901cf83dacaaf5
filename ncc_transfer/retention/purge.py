"""The purge in two steps, so what is shown is what is done: ``plan_purge`` counts, ``execute_purge``
deletes exactly that, store by store, and audits each; ``run_purge`` does both with the environment's
configuration (the command line and the Dagster asset)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import ncc_home, warehouse_url
from ..warehouse import Warehouse, open_warehouse
from .dagster_runs import delete_runs, runs_item
from .files import archive_item, delete_paths, packs_item, reports_item, state_item
from .items import PartlyDeleted, PurgeError, PurgeItem, PurgePlan, PurgeResult
from .schedule import Cutoffs, RetentionConfig, load_retention
from .warehouse_rows import BLANKED, blank_cohort_fields, delete_rows, warehouse_items

if TYPE_CHECKING:  # pragma: no cover
    import dagster as dg

log = logging.getLogger(__name__)

RECLAIM = "warehouse storage"  # the name of the reclaim step in ``PurgeResult.failures``


def plan_purge(config: RetentionConfig, *, as_of: date, warehouse: Warehouse, home: Path,
               instance: dg.DagsterInstance | None = None) -> PurgePlan:
    """Count what is past its date in every store (reads only). ``instance`` None: Dagster is skipped."""
    cut = Cutoffs.of(config, as_of)
    home = Path(home)
    items = [*warehouse_items(config, cut, warehouse), archive_item(config, cut, home),
             reports_item(config, cut, home), packs_item(config, cut, home),
             state_item(config, cut, home)]
    skipped = []
    if instance is not None:
        items.append(runs_item(config, cut, instance))
    else:
        skipped.append("dagster runs: no Dagster instance given")
    return PurgePlan(as_of=as_of, config=config, cutoffs=cut, items=items, home=home, skipped=skipped)


def execute_purge(plan: PurgePlan | RetentionConfig, *, warehouse: Warehouse, home: Path | None = None,
                  instance: dg.DagsterInstance | None = None, as_of: date | None = None,
                  dry_run: bool = False, run_id: str | None = None, raise_on_failure: bool = True) -> PurgeResult:
    """Delete what the plan found (a config is planned first, as of ``as_of``, default today).

    ``dry_run``: delete nothing and write nothing (not even audit rows); the plan's counts are returned.
    Otherwise each store and table is deleted on its own and audited as soon as it is done; one that
    fails is audited as ``failed`` and the others still go. Then ``PurgeError`` is raised (unless
    ``raise_on_failure`` is false) so a scheduled purge shows as failed.
    """
    if isinstance(plan, RetentionConfig):
        if home is None:
            raise TypeError("execute_purge(config, ...) needs home=")
        plan = plan_purge(plan, as_of=as_of or date.today(), warehouse=warehouse, home=home, instance=instance)
    if dry_run:
        return PurgeResult(plan=plan, dry_run=True, items=list(plan.items))
    if instance is None and any(i.store == "dagster" for i in plan.items):
        raise TypeError("the plan includes Dagster runs: pass the instance to execute_purge")

    result = PurgeResult(plan=plan, dry_run=False, items=[])
    for item in plan.items:
        try:
            done = _delete(item, warehouse, instance)
        except Exception as exc:  # noqa: BLE001 - one store failing must not stop the others
            partial = exc.done if isinstance(exc, PartlyDeleted) else replace(item, by_school={})
            cause = exc.__cause__ if isinstance(exc, PartlyDeleted) else exc
            result.failures[item.name] = f"{type(cause).__name__}: {_first_line(cause)}"
            result.items.append(partial)
            log.error("retention purge: %s failed (%s)", item.name, type(cause).__name__)
            _audit(warehouse, partial, plan, run_id, "failed",
                   f"retention purge of {item.name} failed ({type(cause).__name__}) after deleting "
                   f"{partial.total:,} of {item.total:,} {item.unit}")
            result.audit_rows += 1
            continue
        result.items.append(done)
        _audit(warehouse, done, plan, run_id, "deleted",
               f"retention purge deleted {done.total:,} {done.unit} of {item.name} ({done.cutoff})")
        result.audit_rows += 1
        log.info("retention purge: %s", done.line())
    _reclaim_space(warehouse, result)
    if result.failures and raise_on_failure:
        raise PurgeError(result)
    return result


def _delete(item: PurgeItem, warehouse: Warehouse, instance: dg.DagsterInstance | None) -> PurgeItem:
    """Delete one item; returns it with the counts actually deleted."""
    if item.store == "warehouse" and item.unit == BLANKED:
        return blank_cohort_fields(item, warehouse)
    if item.store == "warehouse":
        return delete_rows(item, warehouse)
    if item.store == "dagster":
        if instance is None:
            raise TypeError("the plan includes Dagster runs: pass the instance to execute_purge")
        return delete_runs(item, instance)
    return delete_paths(item)


def _reclaim_space(warehouse: Warehouse, result: PurgeResult) -> None:
    """Rewrite the warehouse's storage so deleted and replaced rows are gone as bytes too. After every
    purge, whatever it deleted: the night's replaced rows are in the files as well."""
    try:
        warehouse.reclaim_space()
    except Exception as exc:  # noqa: BLE001 - reported like a store that failed; the deletes stand
        result.failures[RECLAIM] = f"{type(exc).__name__}: {_first_line(exc)}"
        log.error("retention purge: rewriting the warehouse's storage failed (%s)", type(exc).__name__)
        return
    log.info("retention purge: warehouse storage rewritten (%s)", warehouse.describe())


def _audit(warehouse: Warehouse, item: PurgeItem, plan: PurgePlan, run_id: str | None, outcome: str,
           message: str) -> None:
    detail = {**item.detail(), "as_of": plan.as_of.isoformat(), "schedule": plan.config.source}
    warehouse.append_audit([{"logged_at": datetime.now(timezone.utc).replace(tzinfo=None), "event": "purge",
                             "school_key": None, "route": None, "run_id": run_id, "outcome": outcome,
                             "detail": detail, "message": message}])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else ""


def run_purge(*, as_of: date | None = None, dry_run: bool = False, instance: dg.DagsterInstance | None = None,
              run_id: str | None = None, warehouse: Warehouse | None = None,
              config: RetentionConfig | None = None) -> PurgeResult:
    """Plan and (unless ``dry_run``) execute the purge with the environment's configuration
    (``NCC_HOME``, ``NCC_WAREHOUSE_URL``, ``NCC_RETENTION_FILE``). Pass ``instance`` to include
    Dagster's runs (the asset: ``context.instance``; the CLI: ``DagsterInstance.get()``)."""
    config = config or load_retention()
    own = warehouse is None
    warehouse = warehouse or open_warehouse(warehouse_url())
    try:
        plan = plan_purge(config, as_of=as_of or date.today(), warehouse=warehouse, home=ncc_home(), instance=instance)
        return execute_purge(plan, warehouse=warehouse, instance=instance, dry_run=dry_run, run_id=run_id)
    finally:
        if own:
            warehouse.close()


def result_metadata(result: PurgeResult) -> dict[str, Any]:
    """Counts for Dagster metadata (no identifiers): totals per store and table."""
    return {"dry_run": result.dry_run, "total": result.total,
            "by_table": json.dumps({i.name: i.total for i in result.items}, sort_keys=True),
            "failures": len(result.failures)}
