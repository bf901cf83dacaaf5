"""One school's night as the pipeline hands it on: ``PreparedSchool`` (its extract checked, ready to
write) and ``SchoolOutcome`` (what happened to it: status, counts, messages, stage times)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

from .canonical import TABLES
from .registry import School

LOADED, FAILED, SKIPPED = "loaded", "failed", "skipped"


@dataclass
class SchoolOutcome:
    """What happened to one school tonight. Counts and descriptions only: no pupil data."""

    school_key: str
    laestab: str
    route: str
    status: str
    rows: dict[str, int] = field(default_factory=dict)
    issues_by_rule: dict[str, int] = field(default_factory=dict)
    issues_by_table: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: int = 0
    warnings: int = 0
    structural: dict[str, list[str]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    views: dict[str, dict] = field(default_factory=dict)
    message: str | None = None
    transient: bool = False
    as_of: date | None = None
    replayed: bool = False  # loaded from the raw archive, not the route
    archived: bool = False  # tonight's raw extract was archived
    raw_names: pd.DataFrame | None = field(default=None, repr=False)  # for the school's report only
    loaded_tables: dict[str, pd.DataFrame] | None = field(default=None, repr=False)
    stage_seconds: dict[str, float] = field(default_factory=dict)  # extract, archive, validate, load, views
    stage_cpu_seconds: dict[str, float] = field(default_factory=dict)  # the same stages, CPU time of the thread doing them
    fetch: dict | None = None  # vendor routes: {"kind": "full"|"incremental", ...counts}
    seconds: float = 0.0
    _cpu_clock: float = field(default_factory=time.thread_time, repr=False)

    def clock(self) -> float:
        """Start timing a stage: restarts the CPU clock, returns the wall clock for ``lap``."""
        self._cpu_clock = time.thread_time()
        return time.perf_counter()

    def lap(self, stage: str, since: float) -> float:
        """Add the wall time since ``since`` (and the CPU time since the last lap) to ``stage``;
        returns now (for the next lap)."""
        now, cpu = time.perf_counter(), time.thread_time()
        self.add_time(stage, now - since, cpu - self._cpu_clock)
        self._cpu_clock = cpu
        return now

    def add_time(self, stage: str, wall: float, cpu: float) -> None:
        """Add wall and CPU seconds to ``stage`` (a school's share of work done for several)."""
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + wall
        self.stage_cpu_seconds[stage] = self.stage_cpu_seconds.get(stage, 0.0) + cpu

    @property
    def ok(self) -> bool:
        return self.status != FAILED

    def summary_line(self) -> str:
        """One line per school for the command line."""
        if self.status == SKIPPED:
            return f"{self.school_key:<20} skipped  {self.message}"
        if self.status == FAILED:
            return f"{self.school_key:<20} FAILED   {self.message}"
        counts = ", ".join(f"{self.rows.get(t, 0):,} {t}" for t in TABLES)
        return f"{self.school_key:<20} loaded   {counts}; {self.errors} errors, {self.warnings} warnings"

    def audit_row(self, run_id: str | None, at: datetime) -> dict[str, Any]:
        return {
            "logged_at": at,
            "event": "replay" if self.replayed else "extraction",
            "school_key": self.school_key,
            "route": self.route,
            "run_id": run_id,
            "outcome": self.status,
            "detail": {"as_of": self.as_of.isoformat() if self.as_of else None,
                       "rows": self.rows, "errors": self.errors, "warnings": self.warnings,
                       "issues_by_rule": self.issues_by_rule, "sources": self.sources,
                       "structural": self.structural, "seconds": round(self.seconds, 3),
                       # Wall seconds per stage, and under "cpu" the process CPU seconds per stage.
                       "stage_seconds": {**{k: round(v, 3) for k, v in self.stage_seconds.items()},
                                         "cpu": {k: round(v, 3) for k, v in self.stage_cpu_seconds.items()}},
                       "archived": self.archived, **({"fetch": self.fetch} if self.fetch else {}),
                       **({"transient": True} if self.transient else {})},
            "message": self.message,
        }


@dataclass
class PreparedSchool:
    """One school's extract, checked and ready to write: everything before the warehouse. Built by
    ``prepare_school`` without the warehouse (so the next school can be prepared in another process
    while this one is written); written by ``commit_school``."""

    outcome: SchoolOutcome
    extracted_at: datetime
    tables: dict[str, pd.DataFrame] | None = None  # canonical rows to load (None: nothing to load)
    issues: pd.DataFrame | None = None  # validation issues to merge, with the tables or alone
    checked: set[str] | None = None  # with issues alone: the datasets evaluated tonight (None: all)
    file_failure: bool = False  # issues alone because the extract could not be read (write errors propagate)
    roll: pd.DataFrame | None = None
    views: dict[str, pd.DataFrame] | None = None  # computed from ``tables`` (None: compute after writing)
    views_failure: str | None = None  # computing them from ``tables`` failed: the outcome's message if loaded
    logs: list[tuple[int, str]] = field(default_factory=list)  # (level, message), logged when committed
    seconds: float = 0.0
    pid: int = field(default_factory=os.getpid)  # the process that prepared it (``prefetch``)


def skipped_outcome(school: School) -> SchoolOutcome:
    return SchoolOutcome(school.key, school.laestab, school.mis, SKIPPED,
                         message="inactive in the registry (active: false); its data is kept as last loaded")
