"""The warehouse's part of a purge: which rows of each table are past their date, and deleting them; and the
cohort fields of leavers past ``leaver_cohort_fields_days``, blanked in rows that stay."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..canonical import COHORT_COLUMNS, VIEW_COLUMNS
from ..warehouse import Warehouse
from .items import NO_SCHOOL, PurgeItem
from .schedule import Cutoffs, RetentionConfig


def _leaver(table: str) -> str:
    """Rows of a pupil whose row in ``pupils`` at the same school has a leaving date before ``?``."""
    return (f'EXISTS (SELECT 1 FROM pupils AS leaver WHERE leaver.school_key = "{table}".school_key '
            f'AND leaver.upn = "{table}".upn AND leaver.leaving_date < ?)')


def warehouse_steps(config: RetentionConfig, cut: Cutoffs) -> list[tuple[str, dict[str, int], str, str, list[Any]]]:
    """(table, rules, cut-off in words, condition, params) in the order they are deleted.

    Every table whose rows belong to a leaver comes before ``pupils``: their conditions find the
    leaver through ``pupils``, so a purge interrupted half-way is finished by the next one.
    """
    leavers = {"leavers_years": config.leavers_years}
    left = f"leavers: left before {cut.leavers.isoformat()}"
    steps: list[tuple[str, dict[str, int], str, str, list[Any]]] = [
        ("attendance", {"attendance_academic_years": config.attendance_academic_years, **leavers},
         f"marks before {cut.attendance.isoformat()}; {left}",
         f'"date" < ? OR {_leaver("attendance")}', [cut.attendance, cut.leavers]),
        ("exclusions", leavers, left, _leaver("exclusions"), [cut.leavers]),
        ("validation_issues", {"validation_issues_fixed_days": config.validation_issues_fixed_days, **leavers},
         f"fixed before {cut.issues_fixed.isoformat()}; {left}",
         f"(status = 'fixed' AND fixed_on < ?) OR {_leaver('validation_issues')}", [cut.issues_fixed, cut.leavers]),
        *((view, leavers, left, _leaver(view), [cut.leavers]) for view in VIEW_COLUMNS),
        ("roll_history", leavers, left, f"leaving_date < ? OR {_leaver('roll_history')}", [cut.leavers, cut.leavers]),
        ("pupils", leavers, left, "leaving_date < ?", [cut.leavers]),
        ("audit_log", {"audit_log_years": config.audit_log_years}, f"logged before {cut.audit.date().isoformat()}",
         "logged_at < ?", [cut.audit]),
    ]
    return steps


COHORT_FIELDS_TABLE = "pupils cohort fields"  # the item's name: pupils' rows keep everything else
BLANKED = "rows blanked"


def cohort_fields_step(config: RetentionConfig, cut: Cutoffs) -> tuple[str, dict[str, int], str, str, list[Any]]:
    """(item table, rules, cut-off in words, condition, params) of the leavers whose cohort fields go."""
    held = " OR ".join(f'"{c}" IS NOT NULL' for c in COHORT_COLUMNS)
    return (COHORT_FIELDS_TABLE, {"leaver_cohort_fields_days": config.leaver_cohort_fields_days},
            f"cohort fields of leavers: left before {cut.cohort_fields.isoformat()}",
            f"leaving_date < ? AND ({held})", [cut.cohort_fields])


def warehouse_items(config: RetentionConfig, cut: Cutoffs, warehouse: Warehouse) -> list[PurgeItem]:
    table, rules, words, condition, params = cohort_fields_step(config, cut)
    blanked = PurgeItem("warehouse", table, BLANKED, rules, words,
                        _count_by_school(warehouse, "pupils", condition, params), targets=(condition, params))
    return [blanked, *(PurgeItem("warehouse", table, "rows", rules, words,
                                 _count_by_school(warehouse, table, condition, params), targets=(condition, params))
                       for table, rules, words, condition, params in warehouse_steps(config, cut))]


def blank_cohort_fields(item: PurgeItem, warehouse: Warehouse) -> PurgeItem:
    """Set the planned leavers' cohort fields to null; returns the item with the rows actually blanked."""
    if not item.total:
        return replace(item, by_school={})
    condition, params = item.targets
    before = _count_by_school(warehouse, "pupils", condition, params)
    blanked = warehouse.blank_where("pupils", COHORT_COLUMNS, condition, params)
    note = None if blanked == sum(before.values()) else \
        f"rows changed during the purge: {blanked:,} blanked in all, per-school counts taken just before"
    return replace(item, by_school=before, note=note)


def delete_rows(item: PurgeItem, warehouse: Warehouse) -> PurgeItem:
    """Delete one table's planned rows; returns the item with the counts actually deleted."""
    if not item.total:  # nothing was due: no write transaction
        return replace(item, by_school={})
    condition, params = item.targets
    # The table's rows in one transaction; the counts per school are taken just before it.
    before = _count_by_school(warehouse, item.table, condition, params)
    deleted = warehouse.delete_where(item.table, condition, params)
    note = None if deleted == sum(before.values()) else \
        f"rows changed during the purge: {deleted:,} deleted in all, per-school counts taken just before"
    return replace(item, by_school=before, note=note)


def _count_by_school(warehouse: Warehouse, table: str, condition: str, params: list[Any]) -> dict[str, int]:
    counts = warehouse.read(f'SELECT school_key, count(*) AS n FROM "{table}" WHERE {condition} GROUP BY school_key',
                            params)
    return {(NO_SCHOOL if _missing(k) else str(k)): int(n) for k, n in zip(counts["school_key"], counts["n"])}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)
