"""The termly targeting support pack, wired to the warehouse: read, apply ``rules.targeting``, write.

Source: DfE, *Working together to improve school attendance* (2024), termly targeting support meetings,
https://www.gov.uk/government/publications/working-together-to-improve-school-attendance
What the pack shows and every rule: docs/targeting_pack.md. The school's pack is written under
``$NCC_HOME/packs/<laestab>/<academic year>-<term>/`` (owner-only); the LA page under
``$NCC_HOME/packs/la/<academic year>-<term>/``. What is returned for logs and Dagster metadata is counts.

The rates this year are the stored ``absence_summary`` view when it was computed for the pack's date;
for another date they are computed again from the canonical tables (``rules.absence.absence_summary``)
for the schools needed, which reads their marks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from .reference import national_attendance as national
from .registry import Registry, School
from .reports.targeting_pack import LaPage, SchoolPack, WrittenPack, write_la_page, write_school_pack
from .rules import targeting as rules
from .rules.absence import absence_summary
from .rules.calendar import academic_year_start, school_days
from .rules.term_dates import TermDates
from .term_dates import load_term_dates
from .warehouse import Warehouse


def packs_root(home: Path) -> Path:
    return Path(home) / "packs"


# ------------------------------------------------------------------------------------------ reading

def _dates(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column], errors="coerce").astype("datetime64[ns]")
    return frame


def read_pupils(warehouse: Warehouse) -> pd.DataFrame:
    """Every school's pupils, with whatever cohort columns the warehouse has (absent ones read as null)."""
    return _dates(warehouse.read("SELECT * FROM pupils"), "dob", "entry_date", "leaving_date")


def read_marks(warehouse: Warehouse, school_keys: list[str], first: date, last: date) -> pd.DataFrame:
    if not school_keys:
        return _dates(warehouse.read("SELECT * FROM attendance WHERE 1 = 0"), "date")
    marks = warehouse.read(
        f"SELECT * FROM attendance WHERE school_key IN ({', '.join('?' * len(school_keys))}) AND date BETWEEN ? AND ?",
        [*school_keys, first, last])
    return _dates(marks, "date")


SUMMARY_BATCH = 10  # schools whose year summary is computed together (memory: their marks)


def year_summary(warehouse: Warehouse, pupils: pd.DataFrame, school_keys: list[str], as_of: date) -> pd.DataFrame:
    """``absence_summary`` of these schools as of ``as_of``: the stored view's rows for that date, and for
    schools without stored rows for it, computed from their marks."""
    stored = warehouse.read("SELECT * FROM absence_summary WHERE as_of = ?", [as_of])
    stored = stored[stored["school_key"].isin(school_keys)]
    missing = sorted(set(school_keys) - set(stored["school_key"]))
    if not missing:
        return stored.reset_index(drop=True)
    # A school's rows depend on its own pupils and marks only: computed a few schools at a time, so an LA's
    # year of marks (44 million at Norfolk size) is never in memory at once.
    parts = []
    for start in range(0, len(missing), SUMMARY_BATCH):
        batch = missing[start:start + SUMMARY_BATCH]
        marks = read_marks(warehouse, batch, academic_year_start(as_of), as_of)
        parts.append(absence_summary(pupils[pupils["school_key"].isin(batch)], marks, as_of))
    computed = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return pd.concat([stored, computed], ignore_index=True) if len(stored) and len(computed) else (
        computed if not len(stored) else stored.reset_index(drop=True))


def school_phases(registry: Registry, pupils: pd.DataFrame) -> dict[str, tuple[str | None, str]]:
    """School key -> (phase, where it came from): the registry's ``phase``, else inferred from the roll."""
    years = pupils.groupby("school_key")["nc_year"].agg(list).to_dict() if len(pupils) else {}
    out = {}
    for school in registry.schools:
        if school.phase:
            out[school.key] = (school.phase, "registry")
        else:
            inferred = rules.infer_phase(years.get(school.key, []))
            out[school.key] = (inferred, "inferred from the roll" if inferred else "not known")
    return out


def latest_night(warehouse: Warehouse) -> date | None:
    """The date of the latest night whose views are stored (``absence_summary.as_of``); None before any."""
    value = warehouse.read("SELECT max(as_of) AS as_of FROM absence_summary")["as_of"].iloc[0]
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def la_school_days(warehouse: Warehouse, first: date, last: date) -> list[date]:
    """The LA's school days from ``first`` to ``last``: dates with a possible session of any school's pupil."""
    marks = _dates(warehouse.read("SELECT DISTINCT date, code FROM attendance WHERE date BETWEEN ? AND ?",
                                  [first, last]), "date")
    days = school_days(marks.assign(school_key="la"))
    return [pd.Timestamp(d).date() for d in days["date"]]


def _stored_view(warehouse: Warehouse, name: str) -> pd.DataFrame:
    return warehouse.read(f"SELECT * FROM {name}")


# ------------------------------------------------------------------------------------------ the LA, read once

@dataclass
class PhaseFigures:
    """The LA's figures a school is set against: the schools of its phase (every school when the phase
    is not known). Counts and rates only."""

    rates: dict
    cohorts: pd.DataFrame
    year_groups: pd.DataFrame


@dataclass
class LaData:
    """What every pack of the LA reads from the warehouse, read once: the pupils, each school's phase, the
    year's ``absence_summary`` of the schools asked for, and the stored statutory lists. The LA's figures
    per phase are computed once, on first use (``phase_figures``)."""

    registry: Registry
    as_of: date
    pupils: pd.DataFrame
    phases: dict[str, tuple[str | None, str]]
    summary: pd.DataFrame
    views: dict[str, pd.DataFrame]
    views_as_of: date | None
    term_dates: TermDates | None = None  # the LA's term dates file, when there is one
    _figures: dict = field(default_factory=dict, repr=False)

    def same_phase(self, school_key: str) -> list[str]:
        """The schools of this school's phase (every school when its phase is not known), itself included."""
        phase = self.phases.get(school_key, (None, ""))[0]
        return sorted({k for k, (p, _) in self.phases.items() if p == phase or phase is None} | {school_key})

    def phase_figures(self, school_key: str) -> PhaseFigures:
        keys = tuple(self.same_phase(school_key))
        if keys not in self._figures:
            summary = self.summary[self.summary["school_key"].isin(keys)]
            pupils = self.pupils[self.pupils["school_key"].isin(keys)]
            self._figures[keys] = PhaseFigures(rules.school_rates(summary), rules.cohort_rates(summary, pupils),
                                               rules.year_group_rates(summary, pupils))
        return self._figures[keys]


def read_la(warehouse: Warehouse, registry: Registry, as_of: date, school_keys: list[str] | None = None,
            pupils: pd.DataFrame | None = None) -> LaData:
    """Read what the packs need once. ``school_keys``: the schools whose year summary is needed (default
    every school of the registry); a date without stored views computes it from their marks. The LA's
    term dates file is read here (``term_dates.load_term_dates``; None without one): a file that cannot
    be used stops the packs with its ``TermDatesError``, rather than packs filed under inferred terms."""
    term_dates = load_term_dates()
    pupils = read_pupils(warehouse) if pupils is None else pupils
    phases = school_phases(registry, pupils)
    keys = sorted(phases) if school_keys is None else sorted(school_keys)
    views = {name: _stored_view(warehouse, name) for name in rules.OPEN_ITEM_VIEWS}
    stamps = pd.to_datetime(views["ten_day_absence"]["as_of"]) if len(views["ten_day_absence"]) else pd.Series(
        [], dtype="datetime64[ns]")
    return LaData(registry=registry, as_of=as_of, pupils=pupils, phases=phases,
                  summary=year_summary(warehouse, pupils, keys, as_of), views=views,
                  views_as_of=stamps.max().date() if len(stamps) else None, term_dates=term_dates)


# ------------------------------------------------------------------------------------------ the school

@dataclass
class SchoolInputs:
    """One school's rows and its phase's LA figures: everything ``assemble_pack`` needs, no warehouse
    (picklable, so a pack can be computed and written in a worker process)."""

    school: School
    la_name: str
    as_of: date
    phase: str | None
    phase_source: str
    summary: pd.DataFrame  # the school's rows of the year's absence_summary
    pupils: pd.DataFrame  # the school's pupils
    marks: pd.DataFrame  # the school's marks from 1 September last academic year to as_of
    la: PhaseFigures
    open_items: dict[str, pd.DataFrame]
    views_as_of: date | None
    term_dates: TermDates | None = None


def _with_names(frame: pd.DataFrame, school_pupils: pd.DataFrame) -> pd.DataFrame:
    names = school_pupils[["upn", "surname", "forename", "nc_year"]]
    names = names.astype(object).drop_duplicates("upn", keep="last")
    keep = [c for c in frame.columns if c not in ("surname", "forename", "nc_year")]
    return frame[keep].merge(names, on="upn", how="left")


def school_inputs(warehouse: Warehouse, la: LaData, school: School) -> SchoolInputs:
    """Slice the LA's rows to the school and read its marks (this year and last)."""
    phase, phase_source = la.phases.get(school.key, (None, "not known"))
    first = academic_year_start(la.as_of)
    return SchoolInputs(
        school=school, la_name=la.registry.la_name, as_of=la.as_of, phase=phase, phase_source=phase_source,
        summary=la.summary[la.summary["school_key"] == school.key],
        pupils=la.pupils[la.pupils["school_key"] == school.key],
        marks=(read_marks(warehouse, [school.key], date(first.year - 1, 9, 1), la.as_of)),
        la=la.phase_figures(school.key), open_items=rules.open_items(la.views, school.key),
        views_as_of=la.views_as_of, term_dates=la.term_dates)


def assemble_pack(inputs: SchoolInputs) -> SchoolPack:
    """The figures of one school's pack (``rules.targeting`` over its rows): pure, no warehouse."""
    school, as_of, mine, marks, school_pupils = (inputs.school, inputs.as_of, inputs.summary, inputs.marks,
                                                 inputs.pupils)
    # The pack's terms, in one place: the LA's term dates file when it holds the year, else read from the data.
    term, last_term = rules.term_of(marks, school.key, as_of, inputs.term_dates)
    items = {name: _with_names(frame, school_pupils) if len(frame) else frame
             for name, frame in inputs.open_items.items()}
    return SchoolPack(
        school_key=school.key, laestab=school.laestab, school_name=school.name, la_name=inputs.la_name, as_of=as_of,
        term_label=term.label(), term=term, last_term=last_term, phase=inputs.phase, phase_source=inputs.phase_source,
        rates=rules.school_rates(mine), la_rates=inputs.la.rates,
        national=national.figure_for(inputs.phase, as_of),
        weekly=rules.weekly_series(school_pupils, marks, school.key, as_of),
        pupils=rules.pupil_lists(school_pupils, marks, mine, school.key, as_of, terms=(term, last_term)),
        early=_with_names(rules.early_identification(school_pupils, marks, mine, school.key, as_of), school_pupils),
        cohorts=rules.with_la(rules.cohort_rates(mine, school_pupils), inputs.la.cohorts, ["cohort", "group"]),
        year_groups=rules.with_la(rules.year_group_rates(mine, school_pupils), inputs.la.year_groups, ["group"]),
        open_items=items, views_as_of=inputs.views_as_of)


def build_school_pack(warehouse: Warehouse, registry: Registry, school: School, as_of: date,
                      pupils: pd.DataFrame | None = None) -> SchoolPack:
    """The figures of one school's pack as of ``as_of``, alone: the year summary of its phase only."""
    pupils = read_pupils(warehouse) if pupils is None else pupils
    phases = school_phases(registry, pupils)
    phase = phases.get(school.key, (None, ""))[0]
    same_phase = sorted({k for k, (p, _) in phases.items() if p == phase or phase is None} | {school.key})
    la = read_la(warehouse, registry, as_of, same_phase, pupils=pupils)
    return assemble_pack(school_inputs(warehouse, la, school))


def write_pack(warehouse: Warehouse, registry: Registry, school: School, *, as_of: date, home: Path) -> WrittenPack:
    """Build and write one school's pack; returns its folder, files and counts."""
    return write_school_pack(build_school_pack(warehouse, registry, school, as_of), packs_root(home))


# ------------------------------------------------------------------------------------------ the LA page

FURTHEST = 10  # schools listed furthest below their phase's average


def build_la_page(warehouse: Warehouse, registry: Registry, as_of: date, la: LaData | None = None) -> LaPage:
    """Rates by phase (with England's), the schools furthest below their phase's average, and cohort gaps
    across the LA. Counts and rates only. ``la``: the LA's rows already read (``read_la``, every school)."""
    la = read_la(warehouse, registry, as_of) if la is None else la
    pupils, phases, summary = la.pupils, la.phases, la.summary
    phase_of = {k: (p or "not known") for k, (p, _) in phases.items()}
    summary = summary.assign(phase=summary["school_key"].map(phase_of))
    names = {s.key: s.name for s in registry.schools}
    phase_rows, school_rows = [], []
    for phase, rows in summary.groupby("phase", sort=True):
        rates = rules.school_rates(rows)
        figure = national.figure_for(None if phase == "not known" else phase, as_of)
        phase_rows.append({"phase": phase, "schools": rows["school_key"].nunique(), **rates,
                           "national_attendance": figure.attendance_rate if figure else None,
                           "national_pa": figure.pa_rate if figure else None})
        for key, school in rows.groupby("school_key", sort=True):
            own = rules.school_rates(school)
            gap = (None if own["attendance_rate"] is None or rates["attendance_rate"] is None
                   else own["attendance_rate"] - rates["attendance_rate"])
            school_rows.append({"school_name": names.get(key, key), "phase": phase, **own,
                                "phase_rate": rates["attendance_rate"], "gap": gap})
    furthest = pd.DataFrame(school_rows, columns=["school_name", "phase", "pupils", "attendance_rate", "pa_rate",
                                                  "sa_rate", "phase_rate", "gap"])
    furthest = furthest.dropna(subset=["gap"]).sort_values(["gap", "school_name"], kind="stable").head(FURTHEST)
    overall = rules.school_rates(summary)["attendance_rate"]
    gaps = rules.cohort_rates(summary, pupils)
    gaps["gap"] = gaps["attendance_rate"] - overall if overall is not None else None
    term = _la_term(warehouse, as_of, la.term_dates)
    return LaPage(la_name=registry.la_name, as_of=as_of, term_label=term.label(),
                  phases=pd.DataFrame(phase_rows, columns=["phase", "schools", "pupils", "attendance_rate", "pa_rate",
                                                           "sa_rate", "national_attendance", "national_pa"]),
                  furthest=furthest.reset_index(drop=True), cohort_gaps=gaps)


def _la_term(warehouse: Warehouse, as_of: date, term_dates: TermDates | None = None) -> rules.Term:
    """The term of ``as_of`` by the LA's term dates file when it holds the year, else by the LA's calendar
    read from the school days of every school together."""
    days = warehouse.read("SELECT DISTINCT date, code FROM attendance WHERE date BETWEEN ? AND ?",
                          [date(as_of.year - 1, 1, 1), as_of])
    days = _dates(days.assign(school_key="la", upn="", session="AM"), "date")
    return rules.term_of(days, "la", as_of, term_dates)[0]


def write_la(warehouse: Warehouse, registry: Registry, *, as_of: date, home: Path) -> WrittenPack:
    return write_la_page(build_la_page(warehouse, registry, as_of), packs_root(home))
