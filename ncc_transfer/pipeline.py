"""One school's nightly load, as plain Python: extract -> structural check -> validate -> load.

One path for every caller: ``prepare_school`` (extract, check, validate, compute the views: no
warehouse) then ``commit_school`` (one warehouse transaction, then the audit row). The nightly step
(``defs/ingest.py``, which the command line and the benchmark run through Dagster) prepares the
schools ahead with ``prefetch.prepared_in_order`` and commits them one by one; ``process_school`` is
the same two calls for one school. Whatever goes wrong with one school is caught here and turned into a
``SchoolOutcome``: the school's previous load stays in the warehouse, its problems go to
``validation_issues`` (so the school is told), and the next school carries on.

Nothing here logs or raises with pupil data: messages name files, lines, columns and rules only.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from . import schemas
from .files_route.ceilings import check_row_ceilings
from .canonical import KEY_COLUMNS, RAW_COLUMNS, TABLES, VALIDATION_ISSUE_COLUMNS, issue_weights
from .extract import (ExtractFileError, ExtractWarning, RawExtract, RouteNotAvailable, TransientExtractError,
                      VendorRouteError)
from .files_route import read_school_folder
from .registry import School
from .validation import validate_extract
from .views import compute_school_views, refresh_school_views, school_view_counts, split_views_by_school
from .warehouse import DiskFull, Warehouse, WarehouseUnavailable, is_disk_full

log = logging.getLogger(__name__)

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


IN_PROGRESS_SUFFIXES = (".part", ".partial", ".filepart", ".crdownload", ".uploading")


def extract_raw(school: School, home: Path, replay: date | None = None, as_of: date | None = None,
                full_refresh: bool = False) -> RawExtract:
    """Fetch the school's raw extract through its route, or (``replay``) from that night's archive.

    ``as_of`` bounds what an MIS connector fetches (attendance up to that date; default today);
    ``full_refresh`` makes a vendor route that can list changes fetch everything tonight."""
    if replay is not None:
        return _replay(school, home, replay)
    if school.mis == "files":
        folder = school.landing_folder(home)
        _wait_for_uploads(folder)
        return read_school_folder(folder, school.laestab, as_of=as_of, urn=school.urn)
    from .connectors.incremental import StateStore
    from .connectors.routes import connector_for

    try:
        connector = connector_for(school.mis)
    except (KeyError, ModuleNotFoundError):
        raise RouteNotAvailable(f"no connector for the {school.mis!r} route in this version") from None
    state = StateStore(home / "state", force_full=full_refresh)
    raw = connector.fetch(school, as_of=as_of or date.today(), state=state)
    raw.fetch = getattr(connector, "last_fetch", None) or {"kind": "full"}
    return raw


def part_wait_seconds() -> float:
    """NCC_PART_WAIT_SECONDS: how long a school's upload still being written is waited for (default 60)."""
    return float(os.environ.get("NCC_PART_WAIT_SECONDS", "60") or 60)


def _in_progress(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.glob("*") if p.name.lower().endswith(IN_PROGRESS_SUFFIXES))


def _wait_for_uploads(folder: Path) -> None:
    """An upload still being written (``pupils.csv.part``) is a temporary fault, but a bounded one:
    it is waited for once, briefly (``part_wait_seconds``), then only this school fails tonight, with
    a message saying so, and is not retried (it must not hold the whole night in step retries)."""
    if not _in_progress(folder):
        return
    wait = part_wait_seconds()
    time.sleep(wait)
    left = _in_progress(folder)
    if left:
        raise ExtractFileError(left[0], None, f"still being written after a {wait:g} s wait (an upload that has "
                                              f"not finished, or was left behind by one that failed); the school's "
                                              f"files were not read tonight")


def _replay(school: School, home: Path, night: date) -> RawExtract:
    """The school's extract as archived on ``night``, read exactly as it was read then."""
    from .archive import ArchiveError, restore

    with tempfile.TemporaryDirectory(prefix="ncc-replay-") as scratch:
        try:
            restore(home, school.laestab, school.key, night, Path(scratch))
        except ArchiveError as exc:
            raise ReplayNotPossible(str(exc)) from None
        return read_school_folder(Path(scratch), school.laestab, as_of=night, urn=school.urn)


class ReplayNotPossible(Exception):
    """The archive has no readable extract for that school and night."""


def _archive(school: School, home: Path, night: date, raw: RawExtract, outcome: SchoolOutcome,
             logs: list[tuple[int, str]]) -> None:
    """Keep tonight's raw extract, encrypted, for replay (off when NCC_ARCHIVE_KEY is unset).

    The files route keeps the files the extract was read from, as the school sent them (not the other
    files in the folder: ``archive.files_to_archive``); a vendor route keeps the extract it mapped
    from the vendor's answers as the files route's three CSVs, so a replay reads it the same way."""
    if not os.environ.get("NCC_ARCHIVE_KEY"):
        return
    from .archive import ArchiveError, archive_files, archive_payloads, files_to_archive

    if school.mis != "files":
        try:
            outcome.archived = archive_payloads(home, school.key, school.laestab, night, _csv_payloads(raw),
                                                route=school.mis) is not None
        except (ArchiveError, OSError) as exc:
            logs.append((logging.ERROR, f"{school.key}: raw archive failed ({_why(exc)}); the load goes on"))
        return

    from .files_route.safe_xml import max_file_bytes

    # Only the files tonight's extract was read from, within the size limit (never a refused or unused one).
    files, too_big = files_to_archive(school.landing_folder(home), list(raw.sources.values()), max_file_bytes())
    for name in too_big:  # grew past the limit after it was read: not archived
        logs.append((logging.WARNING, f"{school.key}: {name} is over the size limit (NCC_MAX_FILE_MB); not archived"))
    try:
        outcome.archived = archive_files(home, school.key, school.laestab, night, files, route=school.mis) is not None
    except (ArchiveError, OSError) as exc:
        logs.append((logging.ERROR, f"{school.key}: raw archive failed ({_why(exc)}); the load goes on"))


def _why(exc: Exception) -> str:
    """The exception's type, or 'disk full: <the file it names>' (never its contents)."""
    return f"disk full: {getattr(exc, 'filename', None) or 'under NCC_HOME'}" if is_disk_full(exc) \
        else type(exc).__name__


def _csv_payloads(raw: RawExtract) -> dict[str, bytes]:
    """A vendor route's raw tables as the files route's CSV extracts (text as mapped, empty = missing)."""
    payloads = {}
    for table in TABLES:
        frame = raw.tables[table][RAW_COLUMNS[table]]
        payloads[f"{table}.csv"] = frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
    return payloads


@dataclass
class PreparedSchool:
    """One school's extract, checked and ready to write: everything before the warehouse. Built by ``prepare_school`` without the warehouse (so the next school can
    be prepared in another process while this one is written); written by ``commit_school``."""

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


def process_school(
    school: School,
    *,
    home: Path,
    warehouse: Warehouse,
    as_of: date,
    run_id: str | None = None,
    extracted_at: datetime | None = None,
    views: bool = True,
    replay: bool = False,
    full_refresh: bool = False,
) -> SchoolOutcome:
    """``prepare_school`` then ``commit_school``: one school, the nightly step's path without the
    preparing ahead. Never raises for anything that goes wrong with the school.

    With ``views=False`` only the tables are loaded (the caller computes views itself). With
    ``replay`` the extract comes from the encrypted archive of the ``as_of`` night instead of the
    route (no vendor call, no landing folder), e.g. after a mapping or rule fix.
    """
    prepared = prepare_school(school, home=home, as_of=as_of, extracted_at=extracted_at, views=views, replay=replay,
                              full_refresh=full_refresh)
    return commit_school(prepared, warehouse=warehouse, run_id=run_id, views=views)


def prepare_school(school: School, *, home: Path, as_of: date, extracted_at: datetime | None = None,
                   views: bool = True, replay: bool = False, full_refresh: bool = False) -> PreparedSchool:
    """Extract, check and validate one school, and compute its views from tonight's rows, without the
    warehouse; never raises for anything that goes wrong with the school."""
    started = time.perf_counter()
    extracted_at = extracted_at or datetime.now(timezone.utc).replace(tzinfo=None)
    outcome = SchoolOutcome(school.key, school.laestab, school.mis, FAILED, as_of=as_of, replayed=replay)
    prepared = PreparedSchool(outcome, extracted_at)
    try:
        _prepare(school, home, as_of, prepared, full_refresh)
    except TransientExtractError as exc:
        outcome.message, outcome.transient = f"temporary fault: {exc}", True
    except (ExtractFileError, RouteNotAvailable, ReplayNotPossible, VendorRouteError) as exc:
        outcome.message = str(exc)
        prepared.issues, prepared.checked, prepared.file_failure = _file_issue(school, exc, extracted_at), {"file"}, True
    except Exception as exc:  # a defect or an environment fault: keep it to this school
        _unexpected(outcome, exc, "loading", prepared.logs)
    prepared.seconds = time.perf_counter() - started
    if views:
        _add_views(prepared, as_of)
    return prepared


def prepare_schools(schools: list[School], *, home: Path, as_of: date, views: bool = True,
                    replay: bool = False, full_refresh: bool = False) -> list[PreparedSchool]:
    """``prepare_school`` for several schools, their views computed in one pass over all of them.

    The rules work on many schools at once (everything is keyed by school), and most of a school's
    view time is fixed cost, so one pass for a handful of schools costs about half as much as one
    per school. Each school gets exactly the views it would get on its own (``add_views``)."""
    prepared = [prepare_school(school, home=home, as_of=as_of, views=False, replay=replay,
                               full_refresh=full_refresh) for school in schools]
    if views:
        add_views(prepared, as_of)
    return prepared


def add_views(batch: list[PreparedSchool], as_of: date) -> None:
    """Compute the views of every school in ``batch`` that has rows to load, in one pass.

    Each school's share of the time (its stage time and ``seconds``) is in proportion to its marks.
    If the pass fails, each school is computed on its own, so a school whose rows break a rule fails
    alone (``views_failure``)."""
    ready = [p for p in batch if p.tables is not None]
    if len(ready) > 1:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            tables = {name: pd.concat([p.tables[name] for p in ready], ignore_index=True)
                      for name in ("pupils", "attendance", "exclusions")}
            views = compute_school_views(tables["pupils"], tables["attendance"], tables["exclusions"], as_of)
            by_school = split_views_by_school(views, [p.outcome.school_key for p in ready])
        except Exception:  # noqa: BLE001 - find the school at fault: one by one, below
            pass
        else:
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            marks = [max(len(p.tables["attendance"]), 1) for p in ready]
            for prepared, share in zip(ready, marks):
                fraction = share / sum(marks)
                prepared.views = by_school[prepared.outcome.school_key]
                prepared.outcome.add_time("views", wall * fraction, cpu * fraction)
                prepared.seconds += wall * fraction
            return
    for prepared in ready:
        _add_views(prepared, as_of)


def _add_views(prepared: PreparedSchool, as_of: date) -> None:
    """One school's views from its rows to load (or ``views_failure`` if a rule fails on them)."""
    if prepared.tables is None:
        return
    outcome = prepared.outcome
    try:
        clock = outcome.clock()
        prepared.views = compute_school_views(prepared.tables["pupils"], prepared.tables["attendance"],
                                              prepared.tables["exclusions"], as_of)
        prepared.seconds += outcome.lap("views", clock) - clock
    except Exception as exc:
        prepared.views_failure = _unexpected_message(exc, "computing the statutory views")


def commit_school(prepared: PreparedSchool, *, warehouse: Warehouse, run_id: str | None = None,
                  views: bool = True) -> SchoolOutcome:
    """Write a prepared school: its rows, issues and views in one transaction (or its issues alone),
    then its audit row. When nothing loads, its views are recomputed from its last good load (as of
    tonight). If the views could not be computed from tonight's rows, nothing of them loads: the
    previous load and its views stay together, and tonight's issues are recorded."""
    started = time.perf_counter()
    outcome, key, as_of = prepared.outcome, prepared.outcome.school_key, prepared.outcome.as_of
    for level, message in prepared.logs:
        log.log(level, "%s", message)
    with_views = prepared.views if views else None  # written with the rows
    if prepared.file_failure:  # as before: a failure to record the file problem is not kept to the school
        with disk_full_stops(warehouse, key):
            warehouse.replace_issues(key, prepared.issues, night=as_of, checked_datasets=prepared.checked)
    else:
        try:
            clock = outcome.clock()
            if prepared.tables is not None and views and prepared.views_failure:
                outcome.message = prepared.views_failure
                log.error("%s: %s", key, outcome.message)
                warehouse.replace_issues(key, prepared.issues, night=as_of, checked_datasets=prepared.checked)
            elif prepared.tables is not None and (swap := extract_of_another_school(
                    warehouse, key, prepared.tables["pupils"]["upn"])) is not None:
                _fail_as_another_school(prepared, swap)
                warehouse.replace_issues(key, prepared.issues, night=as_of, checked_datasets=prepared.checked)
            elif prepared.tables is not None:
                warehouse.replace_school(key, prepared.tables, prepared.issues, roll=prepared.roll, night=as_of,
                                         views=with_views)
                outcome.lap("load", clock)
                outcome.status = LOADED
                outcome.loaded_tables = prepared.tables
            elif prepared.issues is not None:
                warehouse.replace_issues(key, prepared.issues, night=as_of, checked_datasets=prepared.checked)
        except (WarehouseUnavailable, DiskFull):
            raise  # the warehouse itself: every school after this one would fail the same way
        except Exception as exc:  # a defect or an environment fault: keep it to this school
            if is_disk_full(exc):
                raise _disk_full(warehouse, key) from None
            _unexpected(outcome, exc, "loading")
    if views:
        try:
            clock = outcome.clock()
            if outcome.status == LOADED and with_views is not None:
                outcome.views = {name: school_view_counts(name, frame) for name, frame in with_views.items()}
            else:
                outcome.views = refresh_school_views(warehouse, key, as_of, tables=outcome.loaded_tables)
            outcome.lap("views", clock)
        except (WarehouseUnavailable, DiskFull):
            raise
        except Exception as exc:
            if is_disk_full(exc):
                raise _disk_full(warehouse, key) from None
            _unexpected(outcome, exc, "computing the statutory views")
    outcome.seconds = prepared.seconds + time.perf_counter() - started
    outcome.loaded_tables = None  # do not keep a school's rows alive after its turn
    with disk_full_stops(warehouse, key):
        warehouse.append_audit([outcome.audit_row(run_id, prepared.extracted_at)])
    log.info("%s", outcome.summary_line())
    return outcome


def _disk_full(warehouse: Warehouse, key: str) -> DiskFull:
    return DiskFull(f"disk full: {warehouse.describe()} (while writing {key}; its previous load is kept)")


@contextmanager
def disk_full_stops(warehouse: Warehouse, key: str) -> Iterator[None]:
    """A disk-full error while writing ``key`` becomes ``DiskFull``: the night stops, saying so."""
    try:
        yield
    except Exception as exc:
        if is_disk_full(exc) and not isinstance(exc, DiskFull):
            raise _disk_full(warehouse, key) from None
        raise


@dataclass(frozen=True)
class AnotherSchoolsRoll:
    """Tonight's extract shares under half its pupils with the school's last load and over half with
    ``school_key``'s current roll: ``shared`` of tonight's ``pupils`` are on that roll, ``kept`` on the
    school's own last load. Counts only, never pupils."""

    school_key: str
    shared: int
    pupils: int
    kept: int

    def problem(self) -> str:
        return (f"this extract looks like {self.school_key}'s ({self.shared} of its {self.pupils} pupils are on "
                f"that school's roll, {self.kept} on this school's last load)")


def extract_of_another_school(warehouse: Warehouse, school_key: str, upns: pd.Series) -> AnotherSchoolsRoll | None:
    """Whether tonight's pupils (``upns``) look like another school's roll rather than this school's.

    Cheap: one query for the school's last load (its ``pupils`` rows); only when tonight shares under
    half its UPNs with that, a second counting tonight's UPNs on each other school's ``pupils`` rows.
    Skipped (None) when the school has no previous load or tonight has no pupils."""
    tonight = set(upns.dropna().astype(str))
    if not tonight:
        return None
    last = warehouse.read("SELECT upn FROM pupils WHERE school_key = ?", [school_key])
    if last.empty:
        return None
    kept = len(tonight & set(last["upn"].astype(str)))
    if 2 * kept >= len(tonight):
        return None
    others = warehouse.read("SELECT school_key, upn FROM pupils WHERE school_key <> ? AND upn IN "
                            "(SELECT UNNEST(CAST(? AS VARCHAR[])))", [school_key, sorted(tonight)])
    if others.empty:
        return None
    counts = others.groupby("school_key")["upn"].nunique().sort_values(ascending=False, kind="stable")
    other_key, shared = str(counts.index[0]), int(counts.iloc[0])
    if 2 * shared <= len(tonight):
        return None
    return AnotherSchoolsRoll(other_key, shared, len(tonight), kept)


def _fail_as_another_school(prepared: PreparedSchool, swap: AnotherSchoolsRoll) -> None:
    """Fail the school structurally: its last load stays, and its report gets one file-level issue.
    Tonight's record-level issues are not recorded: they are about another school's pupils."""
    outcome, problem = prepared.outcome, swap.problem()
    outcome.structural = {"pupils": [problem]}
    outcome.message = f"{problem}; previous load kept"
    source = outcome.sources.get("pupils", "pupils")
    message = (f"Tonight's pupil extract ({source}) looks like another school's: {swap.shared} of its "
               f"{swap.pupils} pupils are on {swap.school_key}'s roll and only {swap.kept} were in this school's "
               f"last load. Nothing from this school was loaded tonight and its last good load is kept: check "
               f"that your MIS exports this school's data, to this school's folder.")
    row = {"upn": None, "dataset": "file", "record": source, "location": source, "field": "",
           "value": swap.school_key, "rule": "extract_of_another_school", "severity": "error", "message": message}
    prepared.issues = _issue_rows_for(outcome.school_key, outcome.laestab, [row], prepared.extracted_at)
    prepared.checked = {"file"}
    _count_issues(prepared.issues, outcome)


def _prepare(school: School, home: Path, as_of: date, prepared: PreparedSchool, full_refresh: bool = False) -> None:
    outcome, extracted_at = prepared.outcome, prepared.extracted_at
    clock = outcome.clock()
    raw = extract_raw(school, home, replay=as_of if outcome.replayed else None, as_of=as_of,
                      full_refresh=full_refresh)
    clock = outcome.lap("extract", clock)
    check_row_ceilings(raw.tables, raw.sources)  # any route: refuse an absurd extract before validating
    if not outcome.replayed:
        _archive(school, home, as_of, raw, outcome, prepared.logs)
    clock = outcome.lap("archive", clock)
    outcome.sources = dict(raw.sources)
    outcome.fetch = raw.fetch
    outcome.raw_names = _names(raw.tables["pupils"])
    warnings = [w if isinstance(w, ExtractWarning) else ExtractWarning.plain(w) for w in raw.warnings]
    log_texts = [w.log_text for w in warnings] + list(raw.set_aside)
    prepared.logs += [(logging.WARNING, f"{school.key}: {text}") for text in dict.fromkeys(log_texts)]
    notes = _warning_issues(school, warnings, extracted_at, set_aside=raw.set_aside)

    raw_problems = {t: schemas.structural_problems(schemas.raw_schema(t), raw.tables[t]) for t in TABLES}
    if any(raw_problems.values()):
        outcome.structural = raw_problems
        issues = _concat_issues(notes, _missing_column_issues(school, raw, raw_problems, extracted_at))
        _fail_structurally(prepared, issues, checked={"file"})
        return

    validated = validate_extract(raw.tables, school_key=school.key, laestab=school.laestab,
                                 extracted_at=extracted_at, as_of=as_of)
    outcome.raw_names = _names(validated.raw["pupils"])  # as checked: no control character
    issues = _concat_issues(notes, validated.issues)
    outcome.structural = {t: schemas.structural_problems(schemas.CANONICAL_MODELS[t], validated.tables[t]) for t in TABLES}
    outcome.rows = {t: len(validated.tables[t]) for t in TABLES}
    if any(outcome.structural.values()):
        duplicates = _duplicate_issues(school, validated.tables, extracted_at)
        _fail_structurally(prepared, pd.concat([issues, duplicates], ignore_index=True))
        return

    _count_issues(issues, outcome)
    prepared.roll = _roll(school, validated.raw["pupils"], validated.tables["pupils"], as_of)
    outcome.lap("validate", clock)
    prepared.tables, prepared.issues = validated.tables, issues


def _concat_issues(*frames: pd.DataFrame) -> pd.DataFrame:
    """Issue frames one after another. Empty ones are left out, as pandas already leaves them out of
    deciding the columns' types (and will stop doing so); with none left, the last frame's columns."""
    kept = [frame for frame in frames if len(frame)]
    return pd.concat(kept, ignore_index=True) if kept else frames[-1].reset_index(drop=True)


def _names(raw_pupils: pd.DataFrame) -> pd.DataFrame:
    """UPN and names as supplied, so the school's report can name pupils whose record was rejected."""
    columns = [c for c in ("upn", "surname", "forename") if c in raw_pupils.columns]
    names = raw_pupils[columns].reindex(columns=["upn", "surname", "forename"]).astype(object)
    names["upn"] = names["upn"].where(names["upn"].isna(), names["upn"].astype(str).str.strip().str.upper())
    return names.dropna(subset=["upn"])


def _roll(school: School, raw_pupils: pd.DataFrame, pupils: pd.DataFrame, seen_on: date) -> pd.DataFrame:
    """Who was on tonight's extract: every UPN supplied, loaded or not (a rejected record has not left),
    with the loaded record's dates, date of birth and NC year (for the CME rule, once the pupil is gone)."""
    upns = raw_pupils["upn"].dropna().astype(str).str.strip().str.upper()
    roll = pd.DataFrame({"upn": upns[upns != ""].unique()})
    dates = pupils[["upn", "entry_date", "leaving_date", "dob", "nc_year"]].astype({"upn": object})
    roll = roll.merge(dates, on="upn", how="left")
    roll.insert(0, "school_key", school.key)
    roll.insert(1, "laestab", school.laestab)
    roll["seen_on"] = pd.Timestamp(seen_on)
    return roll


def _unexpected(outcome: SchoolOutcome, exc: Exception, during: str,
                logs: list[tuple[int, str]] | None = None) -> None:
    """Record an unexpected error without its message (messages can quote data values); logged now,
    or added to ``logs`` to be logged when the school is committed."""
    outcome.status = FAILED
    outcome.message = _unexpected_message(exc, during)
    if logs is None:
        log.error("%s: %s", outcome.school_key, outcome.message)
    else:
        logs.append((logging.ERROR, f"{outcome.school_key}: {outcome.message}"))


def _unexpected_message(exc: Exception, during: str) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
    return f"unexpected {type(exc).__name__} while {during}{where}; previous load kept"


def _fail_structurally(prepared: PreparedSchool, issues: pd.DataFrame, checked: set[str] | None = None) -> None:
    outcome = prepared.outcome
    problems = [f"{t}: {p}" for t, ps in outcome.structural.items() for p in ps]
    outcome.message = "structure check failed (" + "; ".join(problems) + "); previous load kept"
    _count_issues(issues, outcome)
    prepared.issues, prepared.checked = issues, checked


def _count_issues(issues: pd.DataFrame, outcome: SchoolOutcome) -> None:
    """Exact counts: each row stands for itself and its ``similar_records`` records over the per-rule cap."""
    weights = issue_weights(issues)
    outcome.issues_by_rule = {str(k): int(v) for k, v in weights.groupby(issues["rule"]).sum().sort_index().items()}
    outcome.errors = int(weights[issues["severity"] == "error"].sum())
    outcome.warnings = int(weights[issues["severity"] == "warning"].sum())
    by_table: dict[str, dict[str, int]] = {}
    for (dataset, rule), count in weights.groupby([issues["dataset"], issues["rule"]]).sum().items():
        by_table.setdefault(str(dataset), {})[str(rule)] = int(count)
    outcome.issues_by_table = by_table


def _issue_rows(school: School, rows: list[dict[str, Any]], at: datetime) -> pd.DataFrame:
    return _issue_rows_for(school.key, school.laestab, rows, at)


def _issue_rows_for(school_key: str, laestab: str, rows: list[dict[str, Any]], at: datetime) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=VALIDATION_ISSUE_COLUMNS)
    frame["school_key"], frame["laestab"] = school_key, laestab
    frame["first_seen"] = frame["last_seen"] = at
    return frame.astype({"first_seen": "datetime64[ns]", "last_seen": "datetime64[ns]"})


def _file_issue(school: School, exc: Exception, at: datetime) -> pd.DataFrame:
    if isinstance(exc, ExtractFileError):
        location = f"{exc.file}: {exc.location}" if exc.location else exc.file
        message = (f"{exc.problem}. Nothing from this school was loaded tonight and its last good load is kept: "
                   f"export the file again from your MIS (or ask your MIS support) before tonight's run.")
        record = exc.file
    else:
        location, record = school.mis, ""
        message = f"{exc}. The LA's data team needs to set up this route; nothing was loaded."
    return _issue_rows(school, [{"upn": None, "dataset": "file", "record": record, "location": location,
                                 "field": "", "value": None, "rule": "file_unreadable", "severity": "error",
                                 "message": message}], at)


def _warning_issues(school: School, warnings: list[ExtractWarning], at: datetime,
                    set_aside: list[str] = ()) -> pd.DataFrame:
    """File-level notes for the school's report, the only place a warning's value goes: warnings about
    files used (``file_warning``) and files set aside, not used, with what was done and why
    (``file_set_aside``, already whole sentences naming files, counts and dates only)."""
    def row(record: str, rule: str, message: str, value: str | None = None) -> dict:
        return {"upn": None, "dataset": "file", "record": record, "location": record.split(":", 1)[0], "field": "",
                "value": value, "rule": rule, "severity": "warning", "message": message}

    rows = [row(w.report_text, "file_warning", f"{w.report_text}. Check the export settings in your MIS.", w.value)
            for w in warnings]
    rows += [row(text, "file_set_aside", text) for text in set_aside]
    return _issue_rows(school, rows, at)


def _missing_column_issues(school: School, raw: RawExtract, problems: dict[str, list[str]], at: datetime) -> pd.DataFrame:
    rows = []
    for table, table_problems in problems.items():
        source = raw.sources.get(table, f"{table}.csv")
        for problem in table_problems:
            column = problem.rsplit(": ", 1)[-1] if problem.startswith("required column missing") else ""
            rows.append({"upn": None, "dataset": "file", "record": source, "location": source, "field": column,
                         "value": None, "rule": "required_column_missing" if column else "structure", "severity": "error",
                         "message": (f"{source} has no '{column}' column, which is required. Nothing from this school "
                                     f"was loaded tonight and its last good load is kept: include the column in the export."
                                     if column else f"{source}: {problem}. Nothing from this school was loaded tonight.")})
    return _issue_rows(school, rows, at)


def _duplicate_issues(school: School, tables: dict[str, pd.DataFrame], at: datetime) -> pd.DataFrame:
    rows = []
    for table in TABLES:
        frame, key = tables[table], KEY_COLUMNS[table]
        duplicated = frame[frame.duplicated(key, keep=False)]
        for upn, group in duplicated.groupby("upn", dropna=False):
            rows.append({"upn": upn, "dataset": table, "record": "duplicate", "location": table, "field": ", ".join(key),
                         "value": str(len(group)), "rule": "duplicate_record", "severity": "error",
                         "message": (f"{len(group)} {table} records for this pupil share the same "
                                     f"{', '.join(key)}. Each must appear once: remove the duplicate in your MIS. "
                                     f"Nothing from this school was loaded tonight until this is fixed.")})
    return _issue_rows(school, rows, at)


def skipped_outcome(school: School) -> SchoolOutcome:
    return SchoolOutcome(school.key, school.laestab, school.mis, SKIPPED,
                         message="inactive in the registry (active: false); its data is kept as last loaded")
