"""School days and academic years, shared by the rules.

"School days of a school are the dates on which any of its pupils has a possible session"
(the project's definition: an MIS records a possible session only on days the school is open).
Dates after the last observed school day are not known from the data; where a rule
needs them (a sixth day in the future), weekdays are assumed and the result is marked estimated.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ncc_transfer.reference.attendance_codes import possible_for


def academic_year_start(on: date) -> date:
    """1 September of the academic year containing ``on``."""
    return date(on.year if on.month >= 9 else on.year - 1, 9, 1)


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


def with_possible(attendance: pd.DataFrame) -> pd.DataFrame:
    """Attendance with a boolean ``possible`` column (the code counts as a possible session)."""
    return attendance.assign(possible=possible_for(attendance["code"], attendance["date"]).to_numpy(dtype=bool))


def school_days(attendance: pd.DataFrame, as_of: date | None = None) -> pd.DataFrame:
    """One row per (school_key, date) on which any pupil of the school had a possible session.

    Columns: school_key, date (datetime64[ns]), day_number (1, 2, ... in date order per school).
    ``attendance`` needs school_key, date, code (and ``possible`` if already computed).
    """
    possible = (attendance["possible"] if "possible" in attendance.columns
                else possible_for(attendance["code"], attendance["date"]))
    if as_of is not None:
        possible = possible & (attendance["date"] <= pd.Timestamp(as_of))
    frame = attendance.loc[possible, ["school_key", "date"]]
    if pd.api.types.is_datetime64_dtype(frame["date"]) and not frame["school_key"].isna().any():
        # Distinct (school, date) pairs on integer codes: both factorisations are sorted, so the
        # pairs come out in (school_key, date) order, as the sort below would give.
        school, schools = pd.factorize(frame["school_key"], sort=True)
        day, dates = pd.factorize(frame["date"], sort=True)
        pairs = np.sort(pd.unique(school.astype(np.int64) * max(len(dates), 1) + day))  # sort the few distinct
        days = pd.DataFrame({"school_key": schools.take(pairs // max(len(dates), 1)),
                             "date": dates.take(pairs % max(len(dates), 1))})
    else:  # unusual input (text dates, a missing school): the plain pandas way
        days = frame.drop_duplicates().sort_values(["school_key", "date"], kind="stable").reset_index(drop=True)
    days["day_number"] = days.groupby("school_key").cumcount() + 1
    return days


def nth_school_day(days: pd.Series, start: date, n: int) -> tuple[date, bool]:
    """The n-th school day counting ``start`` (or the next school day after it) as day 1.

    ``days`` is one school's sorted school days (datetime64). Beyond the last known school day,
    weekdays are assumed: the second value is True when the answer relies on that assumption.
    """
    known = days.to_numpy(dtype="datetime64[D]")
    start64 = np.datetime64(start, "D")
    from_start = known[known >= start64]
    if len(from_start) >= n:
        return pd.Timestamp(from_start[n - 1]).date(), False
    counted = len(from_start)
    cursor = (from_start[-1] + np.timedelta64(1, "D")) if counted else start64
    remaining = n - counted
    result = np.busday_offset(cursor, remaining - 1, roll="forward")
    return pd.Timestamp(result).date(), True
