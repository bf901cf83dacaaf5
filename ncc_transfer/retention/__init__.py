"""The retention schedule and the purge (issue #7): delete what is past its date, in every store.

The schedule is a YAML file beside the registry (``$NCC_HOME/retention.yaml``, or the file named by
``NCC_RETENTION_FILE``); without one, the documented defaults in ``retention_defaults.yaml`` apply
(copy that file to adopt and change them). Keys a file leaves out keep their default.

A purge is two steps, so what is shown is what is done:

* ``plan_purge`` counts what is past its date in each store: the warehouse (per table, either
  backend), the raw archive (``$NCC_HOME/archive/<partition key>/<YYYY-MM-DD>/``), vendor routes'
  extract state, the reports folder (dated reports by the date in their name; ``latest.*`` by when it
  was last written, so a school that left the registry or stopped loading loses its last report too)
  and the Dagster instance (finished runs with their event logs and captured compute logs). Counts
  per store, table and school: never a pupil identifier.
* ``execute_purge`` deletes exactly that: each warehouse table in its own transaction
  (``Warehouse.delete_where``), each archive night and report file on its own, each run through
  Dagster's own ``delete_run``. After each store and table it writes one ``audit_log`` row
  (``event = 'purge'``, outcome ``deleted``, or ``failed`` with the planned counts), whose ``detail``
  holds the rule, cut-off and counts per school.
* Then the warehouse's storage is rewritten (``Warehouse.reclaim_space``: the DuckDB file compacted
  into a fresh one, ``VACUUM FULL`` on PostgreSQL), so the bytes of the rows deleted, and of the rows
  a night replaced since the last purge, are gone from the files too. One that fails is reported like
  a store that failed (``failures``, ``PurgeError``).

A dry run (``execute_purge(..., dry_run=True)``, ``ncc-transfer purge --dry-run``) writes nothing at
all, not even audit rows: nothing happened to any data, and a dry run must be safe to run at any
time, with read-only credentials. It returns the plan's counts.

Cut-offs (something dated before the cut-off goes; dated on it, it stays):

* archive nights, reports, fixed issues, Dagster runs: ``as_of`` minus N days (runs: midnight UTC);
* attendance: 1 September of the academic year N-1 years before the current one;
* leavers and the audit log: the same day N years earlier (29 February: the 28th).

The modules: ``schedule`` (the schedule and its cut-offs), ``items`` (what a plan and its result
hold), ``warehouse_rows``, ``files`` and ``dagster_runs`` (each store's part: what is due, deleting
it) and ``purge`` (planning, executing and auditing).
"""

from ..rules.calendar import academic_year_start
from .items import NO_SCHOOL, PurgeError, PurgeItem, PurgePlan, PurgeResult
from .purge import RECLAIM, execute_purge, plan_purge, result_metadata, run_purge
from .schedule import (
    DEFAULTS_FILE,
    Cutoffs,
    RetentionConfig,
    RetentionConfigError,
    default_retention,
    load_retention,
    parse_retention,
    retention_file,
    years_before,
)
from .warehouse_rows import warehouse_steps

__all__ = [
    "DEFAULTS_FILE", "NO_SCHOOL", "RECLAIM", "Cutoffs", "PurgeError", "PurgeItem", "PurgePlan", "PurgeResult",
    "RetentionConfig", "RetentionConfigError", "academic_year_start", "default_retention", "execute_purge",
    "load_retention", "parse_retention", "plan_purge", "result_metadata", "retention_file", "run_purge",
    "warehouse_steps", "years_before",
]
