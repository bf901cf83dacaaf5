"""Running a night through Dagster in this process (``run_night``): one run of the nightly job per
batch of schools, then a run for their reports (after the last batch, with the LA-wide assets); and
each school's outcome read back from the audit log. Used by ``ncc-transfer run`` and ``demo``, the
tests and the benchmark.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

LOCAL_DAGSTER_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"
# The command line prints one line per school; the full event log is in the Dagster instance.
QUIET_LOGGERS = {"console": {"config": {"log_level": "CRITICAL"}}}


@dataclass
class NightResult:
    """What a night did: one line per school, its Dagster runs, the counts and the seconds it took."""

    lines: list[str]
    run_ids: list[str]
    failed: int
    loaded: int
    skipped: int
    seconds: float
    stopped: str | None = None  # why the whole night stopped early (warehouse lost, disk full)

    def runs_text(self) -> str:
        """The night's Dagster runs, for a summary line; when none was created (every school asked
        for is inactive in the registry), says so rather than naming a run that does not exist."""
        if not self.run_ids:
            return "no Dagster run: no active school to load"
        return f"Dagster run{'s' if len(self.run_ids) > 1 else ''} {', '.join(self.run_ids)}"


def dagster_instance():
    """The Dagster instance at $DAGSTER_HOME; without one, a persistent instance under $NCC_HOME."""
    import dagster as dg

    from .config import ncc_home
    from .files_at_rest import tighten_homes

    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(ncc_home() / "dagster_home")
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    tighten_homes()  # DAGSTER_HOME may have just been set or made
    settings = home / "dagster.yaml"
    if not settings.exists():  # the embedded default: the repository's dagster.yaml (SQLite storage)
        settings.write_text(LOCAL_DAGSTER_YAML.read_text(encoding="utf-8") if LOCAL_DAGSTER_YAML.exists()
                            else "telemetry:\n  enabled: false\n", encoding="utf-8")
    return dg.DagsterInstance.get()


def run_night(registry, schools: list[str] | None = None, as_of: date | None = None,
              replay: bool = False, full_refresh: bool = False, warehouse_checked: bool = False) -> NightResult:
    """Run the nightly job in this process (one Dagster run per batch) and collect each school's outcome.

    The warehouse is checked first (unless the caller just did): unreachable, no run is created."""
    from .config import schools_per_run, warehouse_url
    from .defs.operations.nightly import night_batches, range_tags
    from .defs.schools.partitions import school_partitions, sync_partitions
    from .definitions import defs
    from .night_guard import NightInterrupted, process_tags
    from .timing import section
    from .warehouse import DiskFull, WarehouseUnavailable, check_warehouse, open_warehouse

    started = time.perf_counter()
    if not warehouse_checked:
        check_warehouse(warehouse_url())  # unreachable: stop now, before any run is created
    with section("dagster_setup"):
        instance = dagster_instance()
        sync_partitions(instance, registry)
    keys = list(instance.get_dynamic_partitions(school_partitions.name))
    by_key = registry.by_key()
    wanted = [k for k in keys if k in set(schools)] if schools else keys
    if schools:
        batches = _contiguous_ranges(keys, [k for k in wanted if by_key[k].active])
    else:
        batches = night_batches(keys, registry, schools_per_run())
    definitions = defs()
    night = {"as_of": as_of.isoformat() if as_of else None}
    run_config = {"ops": {"school_extract": {"config": {**night, "replay": replay, "full_refresh": full_refresh}}},
                  "loggers": QUIET_LOGGERS}

    def execute(job_name: str, config: dict, tags: dict | None = None):
        with section("dagster_runs"):  # run creation (planned events), the steps, run events
            result = definitions.resolve_job_def(job_name).execute_in_process(
                instance=instance, tags={**(tags or {}), **process_tags()}, run_config=config, raise_on_error=False)
        if _interrupted(result):
            raise NightInterrupted()
        return result

    # Per batch, the schools' step then their reports; with the last batch's reports, in the same run
    # (``night_end``), the LA-wide assets over every school's latest load (docs/asset_graph.md).
    reports = {"school_report": {"config": night}}
    la_wide = {"la_views": {"config": night}, "validation_overview": {"config": night}}
    run_ids, stopped = [], None
    for number, (first, last) in enumerate(batches, start=1):
        result = execute("nightly", run_config, range_tags(first, last))
        run_ids.append(result.run_id)
        stopped = _night_stopped(result)
        if stopped:
            break  # the warehouse or the disk: the next batch would stop the same way
        final = number == len(batches)
        execute("night_end" if final else "school_reports",
                {"ops": {**reports, **(la_wide if final else {})}, "loggers": QUIET_LOGGERS},
                range_tags(first, last))

    try:
        warehouse = open_warehouse(warehouse_url())
        try:
            outcomes = outcomes_for_runs(warehouse, run_ids)
        finally:
            warehouse.close()
    except (WarehouseUnavailable, DiskFull):
        if not stopped:
            raise
        outcomes = {}  # the warehouse that stopped the night cannot say more
    lines, failed, loaded, skipped = [], 0, 0, 0
    for key in wanted:
        school = by_key[key]
        if not school.active:
            lines.append(f"{key:<20} skipped  inactive in the registry (active: false)")
            skipped += 1
            continue
        outcome = outcomes.get(key)
        if outcome is None:
            lines.append(f"{key:<20} FAILED   no result recorded: the run stopped early (see the run in the Dagster UI)")
            failed += 1
        elif outcome["outcome"] == "loaded":
            detail = json.loads(outcome["detail"])
            rows = detail.get("rows", {})
            lines.append(f"{key:<20} loaded   {rows.get('pupils', 0):,} pupils, {rows.get('attendance', 0):,} attendance, "
                         f"{rows.get('exclusions', 0):,} exclusions; {detail.get('errors', 0)} errors, "
                         f"{detail.get('warnings', 0)} warnings")
            loaded += 1
        else:
            lines.append(f"{key:<20} FAILED   {outcome['message']}")
            failed += 1
    return NightResult(lines, run_ids, failed, loaded, skipped, time.perf_counter() - started, stopped)


def _step_failures(result):
    return [event.step_failure_data for event in result.all_events if event.is_step_failure]


def _interrupted(result) -> bool:
    """Did Dagster stop the step for SIGTERM/SIGINT (its ``DagsterExecutionInterruptedError``)?"""
    return any(getattr(data.error_source, "name", "") == "INTERRUPT" for data in _step_failures(result))


def _night_stopped(result) -> str | None:
    """The step's reason for stopping the whole night (``NIGHT_STOPPED`` metadata), if it did."""
    from .defs.schools.assets import NIGHT_STOPPED

    for data in _step_failures(result):
        entry = (data.user_failure_data.metadata or {}).get(NIGHT_STOPPED) if data.user_failure_data else None
        if entry is not None:
            return str(getattr(entry, "value", entry))
    return None


def _contiguous_ranges(keys: list[str], wanted: list[str]) -> list[tuple[str, str]]:
    """Split the wanted keys into ranges of neighbours in partition order."""
    chosen = set(wanted)
    ranges, first, last = [], None, None
    for key in keys:
        if key in chosen:
            first = first or key
            last = key
        elif first is not None:
            ranges.append((first, last))
            first = last = None
    if first is not None:
        ranges.append((first, last))
    return ranges


def outcomes_for_runs(warehouse, run_ids: list[str]) -> dict[str, dict]:
    """Each school's audit row (extraction or replay) from these runs: the last one, by school key."""
    if not run_ids:
        return {}
    placeholders = ", ".join("?" for _ in run_ids)
    rows = warehouse.read(
        f"SELECT school_key, outcome, detail, message FROM audit_log WHERE event IN ('extraction', 'replay') "
        f"AND run_id IN ({placeholders}) ORDER BY logged_at", run_ids)
    return {row["school_key"]: row for row in rows.to_dict("records")}
