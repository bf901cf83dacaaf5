"""Continuous runs of absence in school days, and the cumulative sickness count.

Walk each enrolment's (school_key, upn) days in date order, using only the dates on which the pupil
has marks in [academic year start, as_of]. For a set of codes, a day

* **extends** the run when it has at least one possible session and every possible session carries
  a code in the set;
* **breaks** it when any possible session carries a code outside the set, or any mark is ``D``;
* is **skipped** (neither) when it has no possible session: ``#``, ``X``, ``Y*``, ``Q``, ``Z``, ``-``,
  blank or unknown codes only (weekends and holidays have no marks at all, so are skipped too).

A run of at least ``min_days`` extending days is reported with its first and last day, its length
in school days, ``threshold_day`` (its ``min_days``-th day), ``sessions`` (possible sessions with a
code of the set) and ``ongoing``: its last day is the school's last school day on or before ``as_of``
(school days per ``calendar.school_days``, over every pupil of the school).

Views:

* ``ten_day_absence``: codes G N O U for 10 school days. School Attendance (Pupil Registration)
  (England) Regulations 2024 (SI 2024/208), reg 13, the attendance return
  (https://www.legislation.gov.uk/uksi/2024/208/regulation/13).
* ``absence_triggers``:

  - ``sickness_15``: code I on 15 consecutive school days (a run, as above);
  - ``sickness_15_cumulative``: 15 school days of illness in the academic year, not necessarily in a
    row. DfE statutory guidance "Arranging education for children who cannot attend school because
    of health needs" (December 2023,
    https://www.gov.uk/government/publications/education-for-children-with-health-needs-who-cannot-attend-school):
    the local authority should arrange provision once it is clear that a child will miss 15 school
    days "consecutively or cumulatively" because of health needs (the wording as LAs apply it, e.g.
    https://thegrid.org.uk/admissions-attendance-travel-to-school/attendance/15-day-sickness-absence:
    "will miss 15 days consecutively or cumulatively because of health needs"). A day is two
    sessions, so a morning of I is half a day of illness: the rule counts possible sessions coded I
    in the year; 30 sessions are 15 days. ``first_day``: the first day with an I session;
    ``threshold_day``: the day the 30th I session falls on (the fifteenth day of illness);
    ``last_day``: the latest day with an I session up to as_of; ``school_days``: days with at least
    one I session; ``sessions``: I sessions. One row per enrolment, and only when the fifteenth
    day came before the fifteenth day of every ``sickness_15`` run of the enrolment (when one run of
    15 days is what reached the threshold, that run's row already says so);
  - ``gno_20``: codes G N O for 20 school days, the reg 9(1)(i) deletion ground and joint-enquiry
    point, so ``U`` breaks it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ncc_transfer.rules.absence import Marks, prepare_marks
from ncc_transfer.rules.calendar import school_days
from ncc_transfer.rules.frames import sorted_codes, view_frame

UNAUTHORISED_CODES = frozenset({"G", "N", "O", "U"})
SICKNESS_CODES = frozenset({"I"})
GNO_CODES = frozenset({"G", "N", "O"})
BREAKING_CODES = frozenset({"D"})  # break a run even though not a possible session

TEN_DAY_MIN_DAYS = 10
SICKNESS_MIN_DAYS = 15
GNO_MIN_DAYS = 20

RUN_COLUMNS = ["school_key", "laestab", "upn", "first_day", "last_day", "school_days", "ongoing"]
TRIGGER_COLUMNS = RUN_COLUMNS + ["threshold_day", "sessions"]
SICKNESS_RUN, SICKNESS_CUMULATIVE, GNO_RUN = "sickness_15", "sickness_15_cumulative", "gno_20"

_NO_DAY = np.iinfo(np.int64).min


@dataclass
class PupilDays:
    """One row per (enrolment, date with marks), sorted by enrolment then date."""

    marks: Marks
    day_of_mark: np.ndarray  # per mark: index of its pupil-day
    enrolment: np.ndarray  # per pupil-day
    day: np.ndarray  # per pupil-day: days since 1970-01-01
    has_possible: np.ndarray  # per pupil-day: at least one possible session
    has_breaker: np.ndarray  # per pupil-day: a D mark
    school_last_day: np.ndarray  # per enrolment: its school's last school day <= as_of (_NO_DAY if none)
    school_days: pd.DataFrame  # calendar.school_days over these marks: school_key, date, day_number
    school_day_pairs: tuple[np.ndarray, np.ndarray]  # absence.school_day_pairs(marks), from the pupil-days


def pupil_days(marks: Marks, as_of) -> PupilDays:
    """Reduce marks to pupil-days (vectorised; see ``PupilDays``)."""
    n_enrol, n_schools = len(marks.enrolments), len(marks.schools)
    base = int(marks.day.min()) if len(marks.day) else 0
    span = int(marks.day.max()) - base + 1 if len(marks.day) else 1  # days from the first mark to the last
    day_of_mark, keys = sorted_codes(marks.enrolment * span + (marks.day - base), n_enrol * span)
    n_days = len(keys)
    enrolment = keys // span
    day = keys % span + base
    has_possible = np.bincount(day_of_mark[marks.possible], minlength=n_days) > 0
    has_breaker = np.bincount(day_of_mark[marks.code_flags(BREAKING_CODES)], minlength=n_days) > 0

    # School days (calendar.school_days) from the distinct (school, date) pairs with a possible session.
    school_of_day = marks.school[enrolment] if n_days else np.array([], dtype=np.int64)
    _, pairs = sorted_codes(school_of_day[has_possible] * span + (day[has_possible] - base), n_schools * span)
    frame = pd.DataFrame({
        "school_key": marks.schools[pairs // span] if len(pairs) else np.array([], dtype=object),
        "date": (pairs % span + base).astype("datetime64[D]").astype("datetime64[ns]"),
        "possible": np.ones(len(pairs), dtype=bool),
    })
    calendar = school_days(frame, pd.Timestamp(as_of).date())
    last = calendar.groupby("school_key")["date"].max()
    by_school = np.full(n_schools, _NO_DAY, dtype=np.int64)
    if len(last):
        position = pd.Index(marks.schools).get_indexer(last.index)
        by_school[position] = last.to_numpy(dtype="datetime64[D]").astype(np.int64)
    school_last_day = by_school[marks.school] if n_enrol else np.array([], dtype=np.int64)
    school_day_pairs = (pairs // span, pairs % span + base)
    return PupilDays(marks, day_of_mark, enrolment, day, has_possible, has_breaker, school_last_day, calendar,
                     school_day_pairs)


def runs_in(days: PupilDays, codes: set[str] | frozenset[str], min_days: int) -> pd.DataFrame:
    """Runs of at least ``min_days`` extending days for one code set (columns ``TRIGGER_COLUMNS``)."""
    marks = days.marks
    in_set = marks.possible & marks.code_flags(codes)
    outside = marks.possible & ~in_set
    has_outside = np.bincount(days.day_of_mark[outside], minlength=len(days.day)) > 0
    code_sessions = np.bincount(days.day_of_mark[in_set], minlength=len(days.day))
    breaks = has_outside | days.has_breaker
    extends = days.has_possible & ~breaks
    walked = extends | breaks  # skipped days drop out of the walk

    enrolment = days.enrolment[walked]
    day = days.day[walked]
    extending = extends[walked]
    # A segment starts at every breaking day and at every new enrolment; the extending days of one
    # segment form one run.
    starts = ~extending
    starts[1:] |= enrolment[1:] != enrolment[:-1]
    if len(starts):
        starts[0] = True
    segment = np.cumsum(starts)[extending]
    enrolment, day = enrolment[extending], day[extending]
    counted = np.cumsum(code_sessions[walked][extending])  # code sessions up to and including each day

    first = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]]) if len(segment) else np.array([], int)
    last = np.r_[first[1:] - 1, len(segment) - 1].astype(int) if len(first) else np.array([], int)
    length = last - first + 1
    keep = length >= min_days
    first, last, length = first[keep], last[keep], length[keep]
    who = enrolment[first]

    frame = marks.enrolments.iloc[who][["school_key", "laestab", "upn"]].reset_index(drop=True)
    frame["first_day"] = day[first].astype("datetime64[D]").astype("datetime64[ns]")
    frame["last_day"] = day[last].astype("datetime64[D]").astype("datetime64[ns]")
    frame["school_days"] = length.astype(np.int64)
    frame["ongoing"] = day[last] == days.school_last_day[who]
    frame["threshold_day"] = day[first + max(min_days, 1) - 1].astype("datetime64[D]").astype("datetime64[ns]")
    frame["sessions"] = (counted[last] - counted[first] + code_sessions[walked][extending][first]).astype(np.int64)
    return frame[TRIGGER_COLUMNS]  # already sorted: enrolment ids follow (school_key, upn), then date


def code_runs(attendance: pd.DataFrame, as_of, codes: set[str] | frozenset[str], min_days: int) -> pd.DataFrame:
    """Every run of at least ``min_days`` school days in which each possible session is in ``codes``.

    Columns ``RUN_COLUMNS`` (school_key, laestab, upn, first_day, last_day, school_days, ongoing),
    sorted by school_key, upn, first_day. One row per run: a pupil can have several.
    """
    marks = prepare_marks(attendance, as_of)
    return runs_in(pupil_days(marks, as_of), {c.strip().upper() for c in codes}, min_days)[RUN_COLUMNS]


def ten_day_absence(attendance: pd.DataFrame, as_of, min_days: int = TEN_DAY_MIN_DAYS,
                    codes: set[str] | frozenset[str] = UNAUTHORISED_CODES, days: PupilDays | None = None
                    ) -> pd.DataFrame:
    """View ``ten_day_absence``: runs of unauthorised absence (G N O U) of ``min_days`` or more.

    ``days``: ``pupil_days(prepare_marks(attendance, as_of), as_of)`` when the caller has it already."""
    if days is None:
        runs = code_runs(attendance, as_of, codes, min_days)
    else:
        runs = runs_in(days, {c.strip().upper() for c in codes}, min_days)
    return view_frame("ten_day_absence", runs, as_of, sort_by=())


def cumulative_runs(days: PupilDays, codes: set[str] | frozenset[str], min_days: int) -> pd.DataFrame:
    """Enrolments with at least ``2 * min_days`` possible sessions coded in ``codes`` this academic year
    (a day is two sessions), not necessarily on consecutive days: one row each, columns ``TRIGGER_COLUMNS``
    (see the module docstring, ``sickness_15_cumulative``)."""
    marks = days.marks
    needed = 2 * max(min_days, 1)
    flagged = marks.possible & marks.code_flags(codes)
    enrolment, day = marks.enrolment[flagged], marks.day[flagged]
    order = np.lexsort((day, enrolment))
    enrolment, day = enrolment[order], day[order]
    if not len(enrolment):
        return pd.DataFrame({c: [] for c in TRIGGER_COLUMNS})
    starts = np.flatnonzero(np.r_[True, enrolment[1:] != enrolment[:-1]])
    counts = np.diff(np.r_[starts, len(enrolment)])
    new_day = np.r_[True, (enrolment[1:] != enrolment[:-1]) | (day[1:] != day[:-1])]
    days_with_code = np.add.reduceat(new_day.astype(np.int64), starts)
    reached = counts >= needed
    first, count = starts[reached], counts[reached]
    who = enrolment[first]

    def as_dates(values: np.ndarray) -> np.ndarray:
        return values.astype("datetime64[D]").astype("datetime64[ns]")

    frame = marks.enrolments.iloc[who][["school_key", "laestab", "upn"]].reset_index(drop=True)
    frame["first_day"] = as_dates(day[first])
    frame["last_day"] = as_dates(day[first + count - 1])
    frame["school_days"] = days_with_code[reached].astype(np.int64)
    frame["ongoing"] = day[first + count - 1] == days.school_last_day[who]
    frame["threshold_day"] = as_dates(day[first + needed - 1])
    frame["sessions"] = count.astype(np.int64)
    return frame[TRIGGER_COLUMNS]


def absence_triggers(attendance: pd.DataFrame, as_of, sickness_days: int = SICKNESS_MIN_DAYS,
                     gno_days: int = GNO_MIN_DAYS, days: PupilDays | None = None) -> pd.DataFrame:
    """View ``absence_triggers``: ``sickness_15`` (I for ``sickness_days`` consecutive school days),
    ``sickness_15_cumulative`` (``sickness_days`` days of I sessions in the year, reached other than by
    one such run) and ``gno_20`` (only G N O for ``gno_days``). Trigger names stay the same if
    thresholds change. ``days`` as for ``ten_day_absence``.
    """
    days = days if days is not None else pupil_days(prepare_marks(attendance, as_of), as_of)
    runs = runs_in(days, SICKNESS_CODES, sickness_days)
    cumulative = cumulative_runs(days, SICKNESS_CODES, sickness_days)
    if len(runs) and len(cumulative):  # keep the cumulative row only when it reached 15 days first
        earliest_run = runs.groupby(["school_key", "upn"], sort=False)["threshold_day"].min().rename("_run")
        cumulative = cumulative.join(earliest_run, on=["school_key", "upn"])
        cumulative = cumulative[~(cumulative["_run"] <= cumulative["threshold_day"])].drop(columns="_run")
    found = [runs.assign(trigger=SICKNESS_RUN), cumulative.assign(trigger=SICKNESS_CUMULATIVE),
             runs_in(days, GNO_CODES, gno_days).assign(trigger=GNO_RUN)]
    found = [f for f in found if len(f)]
    frame = pd.concat(found, ignore_index=True) if found else None
    return view_frame("absence_triggers", frame, as_of, sort_by=["school_key", "upn", "first_day", "trigger"])
