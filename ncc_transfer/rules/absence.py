"""Absence per enrolment: the ``absence_summary`` view, by the DfE's published method.

Source: DfE, "Pupil absence statistics: methodology" ("Pupil absence in schools in England"),
https://explore-education-statistics.service.gov.uk/methodology/pupil-absence-in-schools-in-england

An enrolment is one (school_key, upn). Only marks dated from 1 September of the academic year that
contains ``as_of`` up to ``as_of`` itself count. Each mark is read against the code set in force on
its date (``reference.attendance_codes.category_for``); codes that are unknown on their date, blank
codes and ``-`` add no possible session.

Two sets of counts per enrolment (column names in ``canonical.VIEW_COLUMNS["absence_summary"]``):

* **DfE method** (``sessions_*``, ``absence_rate``, ``persistent_absence``, ``severe_absence``).
  The methodology's Year 11 rule: "all possible sessions and absences relating to [the second half
  of the summer term] for 15 year olds (as at the start of the academic year) are removed prior to
  any analysis", and pupils who first enrolled in the second half of the summer term are not
  included. Here: for an enrolment with ``age_at_31_august == 15``, every mark dated on or after
  its school's ``summer_2_start`` is left out of these columns. Rate = (authorised + unauthorised) /
  possible; "persistent absentee" = 10 % or more of their own possible sessions; "severe" = 50 % or
  more; both compared in integers (exactly 10 % is persistent). An enrolment whose possible sessions
  were all cut has 0 possible sessions, a null rate and is neither persistent nor severe.
* **Uncut** (``*_all``): the same counts over every mark, so an officer still sees a Year 11 pupil
  who stopped attending in June (``persistent_absence_all``).

``summer_2_start``, per school: the first day of the second half of the summer term, from the
school's own calendar (school days = dates on which any of its pupils has a possible session,
``calendar.school_days``): the first school day after the May half-term break, the longest run of
at least ``HALF_TERM_MIN_WEEKDAYS`` weekdays without a school day whose missing weekdays fall
between 18 May and 14 June. When the school's data shows no such break, the first school day after
the spring bank holiday (the last Monday in May). Null when the school has no school day after it.

Rows: every enrolment with a possible session in either set (``sessions_possible_all > 0``), so a
Year 11 enrolment whose only possible sessions were cut still appears, with its uncut counts.
``dfe_comparable`` (the rows the DfE would count): age 5-15 at 31 August, sole or main registration
(C or M), at least one possible session under the DfE method, and not first enrolled in the second
half of the summer term (``first_enrolled_summer_2``: the pupil's entry date, or when there is none
its first possible session this year, is on or after ``summer_2_start``). ``absence_headline`` and
``views.la_headline`` use the DfE columns over the ``dfe_comparable`` rows.

Everything here is vectorised: marks are reduced to integer arrays (enrolment id, day number,
category) once, by ``prepare_marks``, which the run rules (``rules.runs``) share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from ncc_transfer.reference.attendance_codes import CATEGORIES, CODE_SET_CHANGE, category_for
from ncc_transfer.reference.enrolment import ON_ROLL_STATUSES
from ncc_transfer.rules.calendar import academic_year_start
from ncc_transfer.rules.frames import sorted_codes, view_frame

# Category numbers used in the mark arrays: CATEGORIES order, then "unknown" (code not valid on its
# date). present=0, aea=1, authorised=2, unauthorised=3 are the possible categories.
PRESENT, AEA, AUTHORISED, UNAUTHORISED, NOT_POSSIBLE, NO_MARK, UNKNOWN = range(7)
_CATEGORY_NUMBER = {name: i for i, name in enumerate(CATEGORIES)}
assert _CATEGORY_NUMBER == {"present": PRESENT, "aea": AEA, "authorised": AUTHORISED,
                            "unauthorised": UNAUTHORISED, "not_possible": NOT_POSSIBLE, "no_mark": NO_MARK}

DFE_MIN_AGE, DFE_MAX_AGE = 5, 15  # "aged between 5 and 15 as at the start of the academic year (31 August)"
YEAR_11_AGE = 15  # 15 at 31 August: their second half of the summer term is removed (DfE method)
HALF_TERM_MIN_WEEKDAYS = 3  # a May half-term: at least this many weekdays in a row without a school day
HALF_TERM_WINDOW = ((5, 18), (6, 14))  # (month, day): the break's missing weekdays fall in this window
DFE_ENROL_STATUSES = frozenset({"C", "M"})  # sole or main registration
assert DFE_ENROL_STATUSES <= ON_ROLL_STATUSES

NULLABLE_INT_COLUMNS = frozenset({"age_at_31_august"})
_COUNT_COLUMNS = ("sessions_present", "sessions_aea", "sessions_authorised", "sessions_unauthorised")
_NO_DAY = np.iinfo(np.int64).min


# ------------------------------------------------------------------------------------ helpers

def as_of_timestamp(as_of: date | datetime | str | pd.Timestamp) -> pd.Timestamp:
    """The as-of date as a midnight Timestamp."""
    return pd.Timestamp(as_of).normalize()


@dataclass
class Marks:
    """Attendance marks in [academic year start, as_of], reduced to integer arrays.

    ``enrolments``: one row per (school_key, upn), sorted, columns school_key, laestab, upn (object);
    its position is the enrolment id. Per mark: ``enrolment`` (id), ``day`` (days since 1970-01-01),
    ``category`` (PRESENT..UNKNOWN), ``code`` (index into ``codes``, the normalised distinct codes;
    -1 for a blank code).
    """

    enrolments: pd.DataFrame
    enrolment: np.ndarray
    day: np.ndarray
    category: np.ndarray
    code: np.ndarray
    codes: np.ndarray
    school: np.ndarray  # per enrolment: index into ``schools``
    schools: np.ndarray

    @property
    def possible(self) -> np.ndarray:
        return self.category <= UNAUTHORISED

    def code_flags(self, wanted: set[str] | frozenset[str]) -> np.ndarray:
        """Per mark: True where the (normalised) code is in ``wanted``."""
        table = np.append(np.isin(self.codes, list(wanted)), False)  # last entry: blank code (-1)
        return table[self.code]


def _days(values: pd.Series) -> np.ndarray:
    if not pd.api.types.is_datetime64_any_dtype(values):
        values = pd.to_datetime(values, errors="coerce")
    return values.to_numpy(dtype="datetime64[D]").astype(np.int64)  # NaT -> int64 min


def _text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), None)


def prepare_marks(attendance: pd.DataFrame, as_of) -> Marks:
    """Reduce attendance to the marks that count on ``as_of`` (see ``Marks``)."""
    stamp = as_of_timestamp(as_of)
    first = np.datetime64(academic_year_start(stamp.date()), "D").astype(np.int64)
    last = np.datetime64(stamp.date(), "D").astype(np.int64)
    day_all = _days(attendance["date"])
    keep = (day_all >= first) & (day_all <= last)

    # Factorise whole columns (fast on Arrow strings; nulls -> -1), then keep the marks in range.
    school_idx, schools = pd.factorize(attendance["school_key"], sort=True)
    upn_idx, upns = pd.factorize(attendance["upn"], sort=True)
    keep &= (school_idx >= 0) & (upn_idx >= 0)
    day = day_all[keep]
    school_idx, upn_idx = school_idx[keep].astype(np.int64), upn_idx[keep].astype(np.int64)

    # Enrolment ids in (school_key, upn) order: both key factorisations are sorted, so is the pair's.
    width = max(len(upns), 1)
    enrolment, pairs = sorted_codes(school_idx * width + upn_idx, len(schools) * width)
    enr_school, enr_upn = pairs // width, pairs % width
    schools = np.asarray(schools, dtype=object)
    enrolments = pd.DataFrame({"school_key": schools[enr_school],
                               "upn": np.asarray(upns, dtype=object)[enr_upn]})
    enrolments["laestab"] = None
    if "laestab" in attendance.columns and len(pairs):
        lae_idx, laestabs = pd.factorize(attendance["laestab"])
        per_enrolment = np.full(len(pairs), -1, dtype=np.int64)  # stays -1 only if all null
        np.maximum.at(per_enrolment, enrolment, lae_idx[keep])
        enrolments["laestab"] = np.append(np.asarray(laestabs, dtype=object), None)[per_enrolment]

    # Categories: look up each distinct code once per code set, then index.
    code_idx, raw_codes = pd.factorize(attendance["code"])
    code_idx = code_idx[keep]
    codes = pd.Series(np.asarray(raw_codes, dtype=object)).astype(str).str.strip().str.upper()
    change = pd.Timestamp(CODE_SET_CHANGE)
    table = np.full((len(codes) + 1, 2), NO_MARK, dtype=np.int8)  # row -1: blank code
    for column, when in ((0, change - pd.Timedelta(days=1)), (1, change)):
        cats = category_for(codes, pd.Series([when] * len(codes), index=codes.index))
        table[:-1, column] = cats.map(_CATEGORY_NUMBER).fillna(UNKNOWN).to_numpy(dtype=np.int8)
    new_set = day >= np.datetime64(CODE_SET_CHANGE, "D").astype(np.int64)
    category = table[code_idx, new_set.astype(np.int64)]
    return Marks(enrolments=enrolments, enrolment=enrolment.astype(np.int64), day=day, category=category,
                 code=code_idx.astype(np.int64), codes=codes.to_numpy(dtype=object), school=enr_school,
                 schools=schools)


def age_at_31_august(dob: pd.Series, as_of) -> pd.Series:
    """Age in whole years on 31 August before the academic year containing ``as_of`` (Int64)."""
    ref = academic_year_start(as_of_timestamp(as_of).date())  # 1 September
    dob = pd.to_datetime(dob, errors="coerce")
    born_after_august = (dob.dt.month > 8).astype("int64")  # birthday not yet reached on 31 August
    age = ref.year - dob.dt.year.astype("Int64") - born_after_august
    return age.astype("Int64")


def school_day_pairs(marks: Marks) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (school, day) pairs with a possible session, in (school, day) order: school as an
    index into ``marks.schools``, day as days since 1970-01-01."""
    possible = marks.possible
    if not possible.any():
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    day = marks.day[possible]
    base = int(day.min())
    span = int(day.max()) - base + 1
    _, pairs = sorted_codes(marks.school[marks.enrolment[possible]] * span + (day - base), len(marks.schools) * span)
    return pairs // span, pairs % span + base


def summer_2_starts(marks: Marks, as_of, pairs: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Per school (``marks.schools`` order): the day number (days since 1970-01-01) on which the second
    half of its summer term starts in the academic year containing ``as_of``, or ``_NO_DAY``.

    From the school's own school days (dates with a possible session of any of its pupils): the first
    school day after its May half-term break, the longest gap with at least ``HALF_TERM_MIN_WEEKDAYS``
    weekdays without a school day inside the ``HALF_TERM_WINDOW`` (earliest if tied). Without such a
    break, the first school day after the spring bank holiday (the last Monday in May). ``_NO_DAY`` when
    the school has no school day after either (nothing to cut yet). ``pairs``: ``school_day_pairs(marks)``
    when the caller has them already (``runs.pupil_days`` does).
    """
    out = np.full(len(marks.schools), _NO_DAY, dtype=np.int64)
    school, school_day = pairs if pairs is not None else school_day_pairs(marks)  # distinct school days
    if not len(school):
        return out
    year = academic_year_start(as_of_timestamp(as_of).date()).year + 1  # the summer term's calendar year

    # Gaps between a school's consecutive school days: weekdays without a school day inside the window.
    (m0, d0), (m1, d1) = HALF_TERM_WINDOW
    window_first = np.datetime64(date(year, m0, d0), "D").astype(np.int64)
    window_end = np.datetime64(date(year, m1, d1), "D").astype(np.int64) + 1  # exclusive
    same = school[1:] == school[:-1]
    gap_school, after = school[1:][same], school_day[1:][same]
    missing_first = np.maximum(school_day[:-1][same] + 1, window_first)
    missing_end = np.maximum(np.minimum(after, window_end), missing_first)
    weekdays = np.busday_count(missing_first.astype("datetime64[D]"), missing_end.astype("datetime64[D]"))
    is_break = weekdays >= HALF_TERM_MIN_WEEKDAYS
    if is_break.any():
        order = np.lexsort((after[is_break], -weekdays[is_break], gap_school[is_break]))
        chosen_school, first = np.unique(gap_school[is_break][order], return_index=True)
        out[chosen_school] = after[is_break][order][first]

    # No break in the data: the first school day after the spring bank holiday (last Monday in May).
    bank_holiday = np.busday_offset(np.datetime64(date(year, 5, 31), "D"), 0, roll="backward", weekmask="Mon")
    later = school_day > bank_holiday.astype(np.int64)
    fallback_school, first = np.unique(school[later], return_index=True)
    no_break = out[fallback_school] == _NO_DAY
    out[fallback_school[no_break]] = school_day[later][first][no_break]
    return out


def _people(pupils: pd.DataFrame | None, as_of) -> pd.DataFrame:
    """One row per (school_key, upn) of ``pupils``: age_at_31_august, enrol_status, entry_date, _laestab."""
    columns = ["school_key", "upn", "age_at_31_august", "enrol_status", "entry_date", "_laestab"]
    if pupils is None or not len(pupils):
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        return empty.astype({"age_at_31_august": "Int64", "entry_date": "datetime64[ns]"})
    def column(name):
        return pupils[name] if name in pupils.columns else pd.Series([None] * len(pupils), index=pupils.index)
    people = pd.DataFrame({
        "school_key": _text(pupils["school_key"]),
        "upn": _text(pupils["upn"]),
        "dob": column("dob"),
        "enrol_status": _text(column("enrol_status")),
        "entry_date": pd.to_datetime(column("entry_date"), errors="coerce"),
        "_laestab": _text(column("laestab")),
    }).drop_duplicates(["school_key", "upn"], keep="last")
    people["age_at_31_august"] = age_at_31_august(people["dob"], as_of)
    return people[columns]


# ------------------------------------------------------------------------------- the view

def absence_summary(pupils: pd.DataFrame | None, attendance: pd.DataFrame, as_of,
                    marks: Marks | None = None, school_days: tuple[np.ndarray, np.ndarray] | None = None
                    ) -> pd.DataFrame:
    """View ``absence_summary``: one row per enrolment (school_key, upn) with a possible session.

    Counts per category of marks in [academic year start, as_of], by the DfE method (``sessions_*``,
    the Year 11 second-half-of-summer cut applied) and uncut (``*_all``); see the module docstring.
    ``age_at_31_august``, ``enrol_status`` and the entry date come from ``pupils`` (null when the
    enrolment has marks but no pupil row). ``marks``: ``prepare_marks(attendance, as_of)`` when the
    caller has it already (shared with the run rules); ``school_days``: ``school_day_pairs(marks)``, likewise.
    """
    marks = marks if marks is not None else prepare_marks(attendance, as_of)
    n = len(marks.enrolments)
    frame = marks.enrolments.merge(_people(pupils, as_of), on=["school_key", "upn"], how="left", sort=False)
    frame["laestab"] = frame["laestab"].where(frame["laestab"].notna(), frame["_laestab"])
    age = frame["age_at_31_august"].astype("Int64")

    # Year 11 rule: marks of 15-year-olds on or after their school's summer_2_start are cut.
    starts = summer_2_starts(marks, as_of, school_days)
    start_of_enrolment = starts[marks.school] if n else np.array([], dtype=np.int64)
    cut_from = np.where(start_of_enrolment == _NO_DAY, np.iinfo(np.int64).max, start_of_enrolment)
    year_11 = age.eq(YEAR_11_AGE).fillna(False).to_numpy(dtype=bool)
    cut = year_11[marks.enrolment] & (marks.day >= cut_from[marks.enrolment])

    category = marks.category.astype(np.int64)
    every = np.bincount(marks.enrolment * 8 + category, minlength=n * 8).reshape(n, 8)
    kept = np.bincount(marks.enrolment[~cut] * 8 + category[~cut], minlength=n * 8).reshape(n, 8)
    for suffix, counts in (("", kept), ("_all", every)):
        for column, category_number in zip(_COUNT_COLUMNS, (PRESENT, AEA, AUTHORISED, UNAUTHORISED)):
            frame[column + suffix] = counts[:, category_number]
        frame["sessions_possible" + suffix] = counts[:, PRESENT:UNAUTHORISED + 1].sum(axis=1)
        absent = frame["sessions_authorised" + suffix] + frame["sessions_unauthorised" + suffix]
        possible = frame["sessions_possible" + suffix]
        frame["absence_rate" + suffix] = (absent / possible.where(possible > 0)).astype("float64")
        frame["persistent_absence" + suffix] = (possible > 0) & (absent * 10 >= possible)
        frame["severe_absence" + suffix] = (possible > 0) & (absent * 2 >= possible)

    # "Pupils who first enrolled in the second half of the summer term are not included."
    first_possible = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_possible, marks.enrolment[marks.possible], marks.day[marks.possible])
    entry = frame["entry_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)  # NaT -> int64 min
    first_enrolled = np.where(frame["entry_date"].notna().to_numpy(dtype=bool), entry, first_possible)
    frame["first_enrolled_summer_2"] = (start_of_enrolment != _NO_DAY) & (first_enrolled >= start_of_enrolment)
    frame["summer_2_start"] = start_of_enrolment.astype("datetime64[D]").astype("datetime64[ns]")  # _NO_DAY: NaT

    status = frame["enrol_status"].astype(object).str.strip().str.upper()
    frame["dfe_comparable"] = (age.between(DFE_MIN_AGE, DFE_MAX_AGE).fillna(False).to_numpy(dtype=bool)
                               & status.isin(DFE_ENROL_STATUSES).to_numpy(dtype=bool)
                               & (frame["sessions_possible"] > 0).to_numpy(dtype=bool)
                               & ~frame["first_enrolled_summer_2"].to_numpy(dtype=bool))
    frame = frame[frame["sessions_possible_all"] > 0].reset_index(drop=True)
    return view_frame("absence_summary", frame, as_of, sort_by=["school_key", "upn"],
                      nullable_ints=NULLABLE_INT_COLUMNS)


def absence_headline(summary: pd.DataFrame) -> dict:
    """Headline figures for officers, over the DfE-comparable enrolments (age 5-15, status C/M).

    Keys: enrolments, persistent, severe, pa_rate (persistent / enrolments), severe_rate,
    sessions_possible, sessions_absent, overall_absence_rate (Σ absence / Σ possible), and
    all_enrolments (every row of the summary, comparable or not). Rates are None with no enrolments.
    """
    rows = summary[summary["dfe_comparable"].astype(bool)]
    enrolments = int(len(rows))
    persistent = int(rows["persistent_absence"].astype(bool).sum())
    severe = int(rows["severe_absence"].astype(bool).sum())
    possible = int(rows["sessions_possible"].sum())
    absent = int(rows["sessions_authorised"].sum() + rows["sessions_unauthorised"].sum())
    return {
        "enrolments": enrolments,
        "persistent": persistent,
        "severe": severe,
        "pa_rate": persistent / enrolments if enrolments else None,
        "severe_rate": severe / enrolments if enrolments else None,
        "sessions_possible": possible,
        "sessions_absent": absent,
        "overall_absence_rate": absent / possible if possible else None,
        "all_enrolments": int(len(summary)),
    }
