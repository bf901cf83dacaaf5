"""The retention schedule and the purge (issue #7): delete what is past its date, in every store.

The schedule is a YAML file beside the registry (``$NCC_HOME/retention.yaml``, or the file named by
``NCC_RETENTION_FILE``); without one, the documented defaults in ``retention_defaults.yaml`` apply
(copy that file to adopt and change them). Keys a file leaves out keep their default.

A purge is two steps, so what is shown is what is done:

* ``plan_purge`` counts what is past its date in each store: the warehouse (per table, either
  backend), the raw archive (``$NCC_HOME/archive/<partition key>/<YYYY-MM-DD>/``), the reports folder
  (dated reports by the date in their name; ``latest.*`` by when it was last written, so a school that
  left the registry or stopped loading loses its last report too) and the Dagster instance (finished
  runs with their event logs and captured compute logs). Counts per store, table and school: never a
  pupil identifier.
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
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .canonical import VIEW_COLUMNS
from .rules.calendar import academic_year_start
from .config import ncc_home
from .warehouse import Warehouse

if TYPE_CHECKING:  # pragma: no cover
    import dagster as dg

log = logging.getLogger(__name__)

DEFAULTS_FILE = Path(__file__).with_name("retention_defaults.yaml")
NO_SCHOOL = "(la)"  # the "school" of counts that are not one school's: LA-wide rows, the overview, runs
_MINIMUM = {"attendance_academic_years": 1}  # everything else: 0 or more
_DATE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# -- the schedule -----------------------------------------------------------------------------------

class RetentionConfigError(ValueError):
    """The retention file cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class RetentionConfig:
    """Retention periods (days unless the name says years). Defaults: ``retention_defaults.yaml``."""

    raw_archive_days: int = 30
    attendance_academic_years: int = 2
    leavers_years: int = 6
    validation_issues_fixed_days: int = 365
    reports_days: int = 90
    dagster_runs_days: int = 90
    audit_log_years: int = 7
    extract_state_days: int = 14
    source: str = field(default="built-in defaults", compare=False)

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "source"]

    def periods(self) -> dict[str, int]:
        return {key: getattr(self, key) for key in self.keys()}


def retention_file() -> Path:
    """``NCC_RETENTION_FILE``, else ``$NCC_HOME/retention.yaml``."""
    configured = os.environ.get("NCC_RETENTION_FILE")
    return Path(configured).expanduser().absolute() if configured else ncc_home() / "retention.yaml"


@functools.lru_cache(maxsize=1)
def default_retention() -> RetentionConfig:
    """The shipped schedule, read from ``retention_defaults.yaml`` (the one place its numbers live).

    Read once per process: the file ships with the code (every school's report asks for it)."""
    return parse_retention(_read_yaml(DEFAULTS_FILE), source=f"defaults ({DEFAULTS_FILE.name})")


def load_retention(path: Path | None = None) -> RetentionConfig:
    """The schedule in ``path`` (default ``retention_file()``); a missing file means the defaults.

    Raises ``RetentionConfigError`` naming the file and key for anything it cannot use.
    """
    path = retention_file() if path is None else Path(path)
    if not path.exists():
        return default_retention()
    return parse_retention(_read_yaml(path), source=str(path), base=default_retention())


def parse_retention(data: Any, *, source: str, base: RetentionConfig | None = None) -> RetentionConfig:
    """Check a parsed YAML document; keys it leaves out come from ``base`` (default: built-in)."""
    base = base or RetentionConfig()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RetentionConfigError(f"{source}: expected a mapping of retention keys to whole numbers, "
                                   f"got {type(data).__name__}")
    known = RetentionConfig.keys()
    problems: list[str] = []
    values: dict[str, int] = {}
    for key, value in data.items():
        if key not in known:
            problems.append(f"{source}: unknown key {key!r} (known keys: {', '.join(known)})")
            continue
        minimum = _MINIMUM.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{source}: {key} must be a whole number (got {value!r})")
        elif value < minimum:
            why = " (the current year's marks are needed for tonight's statutory lists)" if minimum else ""
            problems.append(f"{source}: {key} must be {minimum} or more{why} (got {value})")
        else:
            values[key] = value
    if problems:
        raise RetentionConfigError("; ".join(problems))
    return replace(base, **values, source=source)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RetentionConfigError(f"{path}: cannot read the retention file ({type(exc).__name__}: {exc})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise RetentionConfigError(f"{path}: not valid YAML{where}") from None


# -- cut-offs ---------------------------------------------------------------------------------------

def years_before(day: date, years: int) -> date:
    """The same day ``years`` years earlier (29 February becomes the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class Cutoffs:
    """Dated before these, it goes."""

    archive: date
    attendance: date
    leavers: date
    issues_fixed: date
    reports: date
    runs: datetime  # aware, UTC
    audit: datetime  # naive, as audit_log.logged_at is stored (UTC)
    state: date

    @classmethod
    def of(cls, config: RetentionConfig, as_of: date) -> Cutoffs:
        runs_day = as_of - timedelta(days=config.dagster_runs_days)
        year_start = academic_year_start(as_of)
        return cls(
            archive=as_of - timedelta(days=config.raw_archive_days),
            attendance=year_start.replace(year=year_start.year - (config.attendance_academic_years - 1)),
            leavers=years_before(as_of, config.leavers_years),
            issues_fixed=as_of - timedelta(days=config.validation_issues_fixed_days),
            reports=as_of - timedelta(days=config.reports_days),
            runs=datetime.combine(runs_day, time(0), tzinfo=timezone.utc),
            audit=datetime.combine(years_before(as_of, config.audit_log_years), time(0)),
            state=as_of - timedelta(days=config.extract_state_days),
        )


# -- the plan ---------------------------------------------------------------------------------------

@dataclass
class PurgeItem:
    """What goes from one store and table: counts per school, and (privately) how to find it."""

    store: str  # warehouse | archive | reports | dagster
    table: str  # warehouse table, or nights | files | runs
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


@dataclass
class PurgePlan:
    as_of: date
    config: RetentionConfig
    cutoffs: Cutoffs
    items: list[PurgeItem]
    home: Path
    skipped: list[str] = field(default_factory=list)  # stores not looked at, and why

    @property
    def total(self) -> int:
        return sum(item.total for item in self.items)

    def item(self, store: str, table: str) -> PurgeItem:
        return next(i for i in self.items if i.store == store and i.table == table)

    def counts(self) -> dict[str, dict[str, int]]:
        """``"store table"`` -> school -> count, for every item (empty when nothing goes)."""
        return {item.name: dict(item.by_school) for item in self.items}

    def lines(self, schools: bool = True) -> list[str]:
        head = (f"Retention purge as of {self.as_of.isoformat()} (schedule: {self.config.source}; "
                + ", ".join(f"{k} {v}" for k, v in self.config.periods().items()) + ")")
        return [head, *(f"  {item.line(schools)}" for item in self.items),
                *(f"  skipped: {reason}" for reason in self.skipped)]


@dataclass
class PurgeResult:
    plan: PurgePlan
    dry_run: bool
    items: list[PurgeItem]  # what was deleted (dry run: what would be)
    failures: dict[str, str] = field(default_factory=dict)  # item name -> error type and message
    audit_rows: int = 0

    @property
    def total(self) -> int:
        return sum(item.total for item in self.items)

    def item(self, store: str, table: str) -> PurgeItem:
        return next(i for i in self.items if i.store == store and i.table == table)

    def counts(self) -> dict[str, dict[str, int]]:
        return {item.name: dict(item.by_school) for item in self.items}

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


def plan_purge(config: RetentionConfig, *, as_of: date, warehouse: Warehouse, home: Path,
               instance: dg.DagsterInstance | None = None) -> PurgePlan:
    """Count what is past its date in every store (reads only). ``instance`` None: Dagster is skipped."""
    cut = Cutoffs.of(config, as_of)
    home = Path(home)
    items = [*_warehouse_items(config, cut, warehouse), _archive_item(config, cut, home),
             _reports_item(config, cut, home), _state_item(config, cut, home)]
    skipped = []
    if instance is not None:
        items.append(_runs_item(config, cut, instance))
    else:
        skipped.append("dagster runs: no Dagster instance given")
    return PurgePlan(as_of=as_of, config=config, cutoffs=cut, items=items, home=home, skipped=skipped)


# -- the warehouse ----------------------------------------------------------------------------------

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


def _warehouse_items(config: RetentionConfig, cut: Cutoffs, warehouse: Warehouse) -> list[PurgeItem]:
    return [PurgeItem("warehouse", table, "rows", rules, words, _count_by_school(warehouse, table, condition, params),
                      targets=(condition, params))
            for table, rules, words, condition, params in warehouse_steps(config, cut)]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


# -- files ------------------------------------------------------------------------------------------

def _real_dirs(folder: Path) -> list[os.DirEntry]:
    """Sub-folders of ``folder`` that are real folders (symlinks are never followed)."""
    if folder.is_symlink() or not folder.is_dir():
        return []
    with os.scandir(folder) as entries:
        return sorted((e for e in entries if e.is_dir(follow_symlinks=False)), key=lambda e: e.name)


def _date_name(text: str) -> date | None:
    if not _DATE_NAME.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


# A night being written or replaced (``archive.py``): ``.<YYYY-MM-DD>.new-<random>`` / ``.old-<random>``;
# one left behind by a crash holds the same raw data as the night, so it goes with it.
_ARCHIVE_LEFTOVER = re.compile(r"^\.(\d{4}-\d{2}-\d{2})\.(?:new|old)-[A-Za-z0-9_]+$")


def _archive_item(config: RetentionConfig, cut: Cutoffs, home: Path) -> PurgeItem:
    """Nights of the raw archive, ``archive/<partition key>/<YYYY-MM-DD>/``, dated before the cut-off
    (with any half-written or replaced copy of such a night left by a crash)."""
    by_school: Counter[str] = Counter()
    paths: list[Path] = []
    for school in _real_dirs(home / "archive"):
        for night in _real_dirs(Path(school.path)):
            leftover = _ARCHIVE_LEFTOVER.match(night.name)
            day = _date_name(leftover.group(1) if leftover else night.name)
            if day is not None and day < cut.archive:
                paths.append(Path(night.path))
                by_school[school.name] += 1
    return PurgeItem("archive", "nights", "folders", {"raw_archive_days": config.raw_archive_days},
                     f"nights before {cut.archive.isoformat()}", dict(by_school), targets=paths)


def _state_item(config: RetentionConfig, cut: Cutoffs, home: Path) -> PurgeItem:
    """Vendor routes' extract state (``state/<partition>/``, the mirror incremental extraction keeps)
    not brought up to date since the cut-off: the school left its route or stopped being extracted."""
    paths: list[Path] = []
    for folder in _real_dirs(home / "state"):
        meta = Path(folder.path) / "meta.json"
        try:
            as_of = date.fromisoformat(json.loads(meta.read_text())["as_of"])
        except (OSError, ValueError, KeyError, TypeError):
            as_of = date.fromtimestamp(Path(folder.path).stat().st_mtime)  # unreadable: by its age
        if as_of < cut.state:
            paths.append(Path(folder.path))
    return PurgeItem("state", "extract state", "folders", {"extract_state_days": config.extract_state_days},
                     f"not refreshed since {cut.state.isoformat()}", {p.name: 1 for p in paths}, targets=paths)


_LATEST_NAME = re.compile(r"^latest\.(?:html|csv|png)$")


def _report_date(folder: str, name: str) -> date | None:
    """The date of a dated report file in ``reports/<folder>/`` (None: not one, e.g. ``latest.html``)."""
    if folder == "la":
        match = re.fullmatch(r"la_overview_(\d{4}-\d{2}-\d{2})\.(?:html|png)", name)
    else:
        match = re.fullmatch(re.escape(folder) + r"_validation_(\d{4}-\d{2}-\d{2})\.(?:html|csv)", name)
    return _date_name(match.group(1)) if match else None


def _latest_date(entry: os.DirEntry) -> date | None:
    """The day a ``latest.*`` report was last written (None: not one). It is rewritten with each night's
    report, so one not written since the cut-off belongs to a school that is no longer loaded."""
    if not _LATEST_NAME.match(entry.name):
        return None
    return date.fromtimestamp(entry.stat(follow_symlinks=False).st_mtime)


def _reports_item(config: RetentionConfig, cut: Cutoffs, home: Path) -> PurgeItem:
    by_school: Counter[str] = Counter()
    paths: list[Path] = []
    for folder in _real_dirs(home / "reports"):
        with os.scandir(folder.path) as entries:
            for entry in entries:
                day = _report_date(folder.name, entry.name) or _latest_date(entry)
                if day is not None and day < cut.reports and entry.is_file(follow_symlinks=False):
                    paths.append(Path(entry.path))
                    by_school[NO_SCHOOL if folder.name == "la" else folder.name] += 1
    return PurgeItem("reports", "files", "files", {"reports_days": config.reports_days},
                     f"reports dated before {cut.reports.isoformat()} (latest.*: last written before it)",
                     dict(by_school), targets=sorted(paths))


# -- Dagster ----------------------------------------------------------------------------------------

def _runs_item(config: RetentionConfig, cut: Cutoffs, instance: dg.DagsterInstance) -> PurgeItem:
    import dagster as dg

    records = instance.get_run_records(filters=dg.RunsFilter(created_before=cut.runs))
    finished = [r.dagster_run.run_id for r in records if r.dagster_run.is_finished]
    unfinished = len(records) - len(finished)
    note = f"{unfinished} older runs still queued or in progress are kept" if unfinished else None
    return PurgeItem("dagster", "runs", "runs", {"dagster_runs_days": config.dagster_runs_days},
                     f"finished runs created before {cut.runs.strftime('%Y-%m-%d %H:%M UTC')}, with their event logs",
                     {NO_SCHOOL: len(finished)} if finished else {}, note=note, targets=finished)


# -- doing it ---------------------------------------------------------------------------------------

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
            partial = exc.done if isinstance(exc, _PartlyDeleted) else replace(item, by_school={})
            cause = exc.__cause__ if isinstance(exc, _PartlyDeleted) else exc
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


RECLAIM = "warehouse storage"  # the name of the reclaim step in ``PurgeResult.failures``


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


class _PartlyDeleted(Exception):
    """Deleting one item stopped part-way; ``done`` holds what did go (the cause is ``__cause__``)."""

    def __init__(self, done: PurgeItem):
        super().__init__(done.name)
        self.done = done


def _delete(item: PurgeItem, warehouse: Warehouse, instance: dg.DagsterInstance | None) -> PurgeItem:
    """Delete one item; returns it with the counts actually deleted."""
    if item.store == "warehouse":
        if not item.total:  # nothing was due: no write transaction
            return replace(item, by_school={})
        condition, params = item.targets
        # The table's rows in one transaction; the counts per school are taken just before it.
        before = _count_by_school(warehouse, item.table, condition, params)
        deleted = warehouse.delete_where(item.table, condition, params)
        note = None if deleted == sum(before.values()) else \
            f"rows changed during the purge: {deleted:,} deleted in all, per-school counts taken just before"
        return replace(item, by_school=before, note=note)
    if item.store == "archive":
        return _remove_paths(item, folder=True, school=lambda p: p.parent.name)
    if item.store == "state":
        return _remove_paths(item, folder=True, school=lambda p: p.name)
    if item.store == "reports":
        return _remove_paths(item, folder=False, school=lambda p: NO_SCHOOL if p.parent.name == "la" else p.parent.name)
    if item.store == "dagster":
        if instance is None:
            raise TypeError("the plan includes Dagster runs: pass the instance to execute_purge")
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
            raise _PartlyDeleted(replace(item, by_school={NO_SCHOOL: deleted} if deleted else {})) from exc
        return replace(item, by_school={NO_SCHOOL: deleted} if deleted else {})
    raise ValueError(f"unknown store {item.store!r}")


def _count_by_school(warehouse: Warehouse, table: str, condition: str, params: list[Any]) -> dict[str, int]:
    counts = warehouse.read(f'SELECT school_key, count(*) AS n FROM "{table}" WHERE {condition} GROUP BY school_key',
                            params)
    return {(NO_SCHOOL if _missing(k) else str(k)): int(n) for k, n in zip(counts["school_key"], counts["n"])}


def _remove_paths(item: PurgeItem, *, folder: bool, school) -> PurgeItem:
    """Delete the planned folders (a whole night) or files, re-checking each is still what was planned."""
    by_school: Counter[str] = Counter()
    try:
        for path in item.targets:
            if path.is_symlink():
                continue
            if folder and path.is_dir():
                shutil.rmtree(path)  # removes links inside without following them
            elif not folder and path.is_file():
                path.unlink()
            else:
                continue
            by_school[school(path)] += 1
    except OSError as exc:
        raise _PartlyDeleted(replace(item, by_school=dict(by_school))) from exc
    return replace(item, by_school=dict(by_school))


def _audit(warehouse: Warehouse, item: PurgeItem, plan: PurgePlan, run_id: str | None, outcome: str,
           message: str) -> None:
    detail = {**item.detail(), "as_of": plan.as_of.isoformat(), "schedule": plan.config.source}
    warehouse.append_audit([{"logged_at": datetime.now(timezone.utc).replace(tzinfo=None), "event": "purge",
                             "school_key": None, "route": None, "run_id": run_id, "outcome": outcome,
                             "detail": detail, "message": message}])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else ""


# -- one call for the command line and the Dagster asset --------------------------------------------

def run_purge(*, as_of: date | None = None, dry_run: bool = False, instance: dg.DagsterInstance | None = None,
              run_id: str | None = None, warehouse: Warehouse | None = None,
              config: RetentionConfig | None = None) -> PurgeResult:
    """Plan and (unless ``dry_run``) execute the purge with the environment's configuration
    (``NCC_HOME``, ``NCC_WAREHOUSE_URL``, ``NCC_RETENTION_FILE``). Pass ``instance`` to include
    Dagster's runs (the asset: ``context.instance``; the CLI: ``DagsterInstance.get()``)."""
    from .config import warehouse_url
    from .warehouse import open_warehouse

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
