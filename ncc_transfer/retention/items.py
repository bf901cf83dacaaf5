"""What a purge finds and deletes, store by store, counted per school (never a pupil identifier)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from .schedule import Cutoffs, RetentionConfig

NO_SCHOOL = "(la)"  # the "school" of counts that are not one school's: LA-wide rows, the overview, runs


@dataclass
class PurgeItem:
    """What goes from one store and table: counts per school, and (privately) how to find it."""

    store: str  # warehouse | archive | state | reports | dagster
    table: str  # warehouse table, or nights | extract state | files | runs
    unit: str  # rows | folders | files | runs
    rules: dict[str, int]  # the retention keys behind it, with their values
    cutoff: str  # in words, for people and the audit row
    by_school: dict[str, int]  # school key (laestab for files) or NO_SCHOOL -> count; zero counts left out
    note: str | None = None
    # How to delete exactly this: (condition, params) for a table, paths, or run ids. Never shown.
    targets: Any = field(default=None, repr=False, compare=False)

    @property
    def total(self) -> int:
        return sum(self.by_school.values())

    @property
    def name(self) -> str:
        return f"{self.store} {self.table}"

    def detail(self) -> dict[str, Any]:
        """Counts and rules only, for audit_log and metadata."""
        out = {"store": self.store, "table": self.table, "unit": self.unit, "rules": dict(self.rules),
               "cutoff": self.cutoff, "total": self.total, "by_school": dict(sorted(self.by_school.items()))}
        if self.note:
            out["note"] = self.note
        return out

    def line(self, schools: bool = True) -> str:
        """One line for people: the total, the rule, and (``schools``) the count per school."""
        text = f"{self.name}: {self.total:,} {self.unit} ({self.cutoff})"
        if schools and self.by_school:
            text += ": " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.by_school.items()))
        if self.note:
            text += f" [{self.note}]"
        return text


class _Items:
    """Totals and look-ups over ``items``, shared by a plan and its result."""

    items: list[PurgeItem]

    @property
    def total(self) -> int:
        return sum(item.total for item in self.items)

    def item(self, store: str, table: str) -> PurgeItem:
        return next(i for i in self.items if i.store == store and i.table == table)

    def counts(self) -> dict[str, dict[str, int]]:
        """``"store table"`` -> school -> count, for every item (empty when nothing goes)."""
        return {item.name: dict(item.by_school) for item in self.items}


@dataclass
class PurgePlan(_Items):
    as_of: date
    config: RetentionConfig
    cutoffs: Cutoffs
    items: list[PurgeItem]
    home: Path
    skipped: list[str] = field(default_factory=list)  # stores not looked at, and why

    def lines(self, schools: bool = True) -> list[str]:
        head = (f"Retention purge as of {self.as_of.isoformat()} (schedule: {self.config.source}; "
                + ", ".join(f"{k} {v}" for k, v in self.config.periods().items()) + ")")
        return [head, *(f"  {item.line(schools)}" for item in self.items),
                *(f"  skipped: {reason}" for reason in self.skipped)]


@dataclass
class PurgeResult(_Items):
    plan: PurgePlan
    dry_run: bool
    items: list[PurgeItem]  # what was deleted (dry run: what would be)
    failures: dict[str, str] = field(default_factory=dict)  # item name -> error type and message
    audit_rows: int = 0

    def lines(self, schools: bool = True) -> list[str]:
        head = self.plan.lines()[0]
        return [("DRY RUN, nothing deleted. Would delete: " if self.dry_run else "Deleted: ") + head,
                *(f"  {item.line(schools)}" for item in self.items),
                *(f"  FAILED {name}: {error}" for name, error in self.failures.items()),
                *(f"  skipped: {reason}" for reason in self.plan.skipped)]


class PurgeError(RuntimeError):
    """Some stores could not be purged (the others were); the message lists which."""

    def __init__(self, result: PurgeResult):
        self.result = result
        super().__init__("retention purge failed for " + "; ".join(f"{k} ({v})" for k, v in result.failures.items()))


class PartlyDeleted(Exception):
    """Deleting one item stopped part-way; ``done`` holds what did go (the cause is ``__cause__``)."""

    def __init__(self, done: PurgeItem):
        super().__init__(done.name)
        self.done = done
