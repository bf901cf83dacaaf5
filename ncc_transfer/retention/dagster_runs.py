"""Dagster's part of a purge: finished runs past their date, with their event logs and captured logs."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .items import NO_SCHOOL, PartlyDeleted, PurgeItem
from .schedule import Cutoffs, RetentionConfig

if TYPE_CHECKING:  # pragma: no cover
    import dagster as dg


def runs_item(config: RetentionConfig, cut: Cutoffs, instance: dg.DagsterInstance) -> PurgeItem:
    import dagster as dg

    records = instance.get_run_records(filters=dg.RunsFilter(created_before=cut.runs))
    finished = [r.dagster_run.run_id for r in records if r.dagster_run.is_finished]
    unfinished = len(records) - len(finished)
    note = f"{unfinished} older runs still queued or in progress are kept" if unfinished else None
    return PurgeItem("dagster", "runs", "runs", {"dagster_runs_days": config.dagster_runs_days},
                     f"finished runs created before {cut.runs.strftime('%Y-%m-%d %H:%M UTC')}, with their event logs",
                     {NO_SCHOOL: len(finished)} if finished else {}, note=note, targets=finished)


def delete_runs(item: PurgeItem, instance: dg.DagsterInstance) -> PurgeItem:
    """Delete the planned runs through Dagster's own ``delete_run``; returns the item with the count deleted."""
    deleted = 0
    try:
        for run_id in item.targets:
            if not instance.has_run(run_id):
                continue
            instance.delete_run(run_id)  # the run and its event log
            try:
                instance.compute_log_manager.delete_logs(prefix=[run_id])  # its captured stdout/stderr
            except NotImplementedError:
                pass
            deleted += 1
    except Exception as exc:
        raise PartlyDeleted(replace(item, by_school={NO_SCHOOL: deleted} if deleted else {})) from exc
    return replace(item, by_school={NO_SCHOOL: deleted} if deleted else {})
