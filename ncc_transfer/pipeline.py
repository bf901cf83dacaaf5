"""One school's nightly load, as plain Python: extract -> structural check -> validate -> load.

One path for every caller: ``prepare_school`` (extract, check, validate, compute the views: no
warehouse) then ``commit_school`` (one warehouse transaction, then the audit row). The nightly step
(``defs/schools/assets.py``, which the command line and the benchmark run through Dagster) prepares
the schools ahead with ``prefetch.prepared_as_ready`` and commits them one by one; ``process_school`` is
the same two calls for one school. Whatever goes wrong with one school is caught here and turned into a
``SchoolOutcome``: the school's previous load stays in the warehouse, its problems go to
``validation_issues`` (so the school is told), and the next school carries on.

The path's parts live beside it: ``school_extract`` (reading the extract, archiving it),
``issue_rows`` (the issues the path makes itself), ``another_school`` (an extract that is another
school's), ``outcome`` (``PreparedSchool`` and ``SchoolOutcome``).

Nothing here logs or raises with pupil data: messages name files, lines, columns and rules only.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd

from . import next_steps, schemas
from .another_school import extract_of_another_school, fail_as_another_school
from .canonical import TABLES
from .extract import (ExtractFileError, ExtractWarning, RouteNotAvailable, TransientExtractError, VendorHostUnreachable,
                      VendorRouteError)
from .files_route.ceilings import check_row_ceilings
from .night_guard import raise_if_interrupted
from .issue_rows import (concat_issues, count_issues, duplicate_issues, file_issue, missing_column_issues,
                         warning_issues)
from .outcome import FAILED, LOADED, PreparedSchool, SchoolOutcome, skipped_outcome
from .registry import School
from .school_extract import ReplayNotPossible, archive_extract, extract_raw
from .validation import validate_extract
from .views import compute_school_views, refresh_school_views, school_view_counts, split_views_by_school
from .warehouse import DiskFull, Warehouse, WarehouseUnavailable, is_disk_full

# Callers (the Dagster step, the tests) import the outcome types from here too, ``skipped_outcome``
# included, and ``count_issues`` by its name from before ``issue_rows`` held it.
_count_issues = count_issues

log = logging.getLogger(__name__)


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
    except VendorHostUnreachable as exc:  # before TransientExtractError: it is one, with its own next step
        text = str(exc).removeprefix(f"{school.key}: ").removeprefix(f"{school.mis}: ")
        outcome.message = with_next_step(f"{school.mis} route: {text}; a temporary fault, previous load kept",
                                         next_steps.unreachable(school.key, exc.host, exc.port, exc.how, home))
        outcome.transient = True
    except TransientExtractError as exc:
        outcome.message, outcome.transient = with_next_step(f"temporary fault: {exc}", next_steps.TEMPORARY), True
    except (ExtractFileError, RouteNotAvailable, ReplayNotPossible, VendorRouteError) as exc:
        outcome.message = with_next_step(str(exc), _next_step_for(exc, school.key))
        prepared.issues, prepared.checked, prepared.file_failure = file_issue(school, exc, extracted_at), {"file"}, True
    except Exception as exc:  # a defect or an environment fault: keep it to this school
        raise_if_interrupted()
        _unexpected(outcome, exc, "loading", prepared.logs)
    prepared.seconds = time.perf_counter() - started
    if views:
        _add_views(prepared, as_of)
    return prepared


def with_next_step(problem: str, step: str) -> str:
    """A failure message: what went wrong, then what to do about it (``next_steps``)."""
    return f"{problem}. Next: {step}"


def _next_step_for(exc: Exception, key: str) -> str:
    """The next step for a school whose extract could not be had (not a temporary fault)."""
    if isinstance(exc, VendorRouteError):
        step = next_steps.ROUTE_SETTINGS
    elif isinstance(exc, RouteNotAvailable):
        step = "change the school's mis in the registry, or install a version of ncc-transfer with that route"
    elif isinstance(exc, ReplayNotPossible):
        return f"replay a night the archive holds (--as-of), or run {key} without --replay"
    else:
        step = next_steps.SCHOOL_FILES
    return f"{step}: {next_steps.rerun(key)}"


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
            raise_if_interrupted()
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
        raise_if_interrupted()
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
                fail_as_another_school(prepared, swap)
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
            raise_if_interrupted()
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
            raise_if_interrupted()
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


def _prepare(school: School, home: Path, as_of: date, prepared: PreparedSchool, full_refresh: bool = False) -> None:
    outcome, extracted_at = prepared.outcome, prepared.extracted_at
    clock = outcome.clock()
    raw = extract_raw(school, home, replay=as_of if outcome.replayed else None, as_of=as_of,
                      full_refresh=full_refresh)
    clock = outcome.lap("extract", clock)
    check_row_ceilings(raw.tables, raw.sources)  # any route: refuse an absurd extract before validating
    if not outcome.replayed:
        archive_extract(school, home, as_of, raw, outcome, prepared.logs)
    clock = outcome.lap("archive", clock)
    outcome.sources = dict(raw.sources)
    outcome.fetch = raw.fetch
    outcome.raw_names = _names(raw.tables["pupils"])
    warnings = [w if isinstance(w, ExtractWarning) else ExtractWarning.plain(w) for w in raw.warnings]
    log_texts = [w.log_text for w in warnings] + list(raw.set_aside)
    prepared.logs += [(logging.WARNING, f"{school.key}: {text}") for text in dict.fromkeys(log_texts)]
    notes = warning_issues(school, warnings, extracted_at, set_aside=raw.set_aside)

    raw_problems = {t: schemas.structural_problems(schemas.raw_schema(t), raw.tables[t]) for t in TABLES}
    if any(raw_problems.values()):
        outcome.structural = raw_problems
        issues = concat_issues(notes, missing_column_issues(school, raw, raw_problems, extracted_at))
        _fail_structurally(prepared, issues, checked={"file"})
        return

    validated = validate_extract(raw.tables, school_key=school.key, laestab=school.laestab,
                                 extracted_at=extracted_at, as_of=as_of)
    outcome.raw_names = _names(validated.raw["pupils"])  # as checked: no control character
    issues = concat_issues(notes, validated.issues)
    outcome.structural = {t: schemas.structural_problems(schemas.CANONICAL_MODELS[t], validated.tables[t]) for t in TABLES}
    outcome.rows = {t: len(validated.tables[t]) for t in TABLES}
    if any(outcome.structural.values()):
        duplicates = duplicate_issues(school, validated.tables, extracted_at)
        _fail_structurally(prepared, pd.concat([issues, duplicates], ignore_index=True))
        return

    count_issues(issues, outcome)
    prepared.roll = _roll(school, validated.raw["pupils"], validated.tables["pupils"], as_of)
    outcome.lap("validate", clock)
    prepared.tables, prepared.issues = validated.tables, issues


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
    return with_next_step(f"unexpected {type(exc).__name__} while {during}{where}; previous load kept",
                          next_steps.UNEXPECTED)


def _fail_structurally(prepared: PreparedSchool, issues: pd.DataFrame, checked: set[str] | None = None) -> None:
    outcome = prepared.outcome
    problems = [f"{t}: {p}" for t, ps in outcome.structural.items() for p in ps]
    outcome.message = with_next_step("structure check failed (" + "; ".join(problems) + "); previous load kept",
                                     f"{next_steps.STRUCTURE}: {next_steps.rerun(outcome.school_key)}")
    count_issues(issues, outcome)
    prepared.issues, prepared.checked = issues, checked


