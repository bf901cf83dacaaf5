"""Compulsory school age (CSA) in England: when it starts and when it ends, for a date of birth.

Sources:

* Education Act 1996, section 8 (https://www.legislation.gov.uk/ukpga/1996/56/section/8):
  "(2) A person begins to be of compulsory school age— (a) when he attains the age of five, if he
  attains that age on a prescribed day, and (b) otherwise at the beginning of the prescribed day next
  following his attaining that age." "(3) A person ceases to be of compulsory school age at the end
  of the day which is the school leaving date for any calendar year— (a) if he attains the age of 16
  after that day but before the beginning of the school year next following, (b) if he attains that
  age on that day, or (c) (unless paragraph (a) applies) if that day is the school leaving date next
  following his attaining that age."
* The Education (Start of Compulsory School Age) Order 1998, SI 1998/1607
  (https://www.legislation.gov.uk/uksi/1998/1607/made): the prescribed days are 31 August,
  31 December and 31 March.
* The Education (School Leaving Date) Order 1997, SI 1997/1970
  (https://www.legislation.gov.uk/uksi/1997/1970/made): the school leaving date is the last Friday
  in June.
* IPSEA, "Compulsory school age" (https://www.ipsea.org.uk/faqs/compulsory-school-age), restating
  the rule in plain words: CSA starts "on 31 December, 31 March or 31 August following their fifth
  birthday - whichever comes first. If their fifth birthday is on one of those dates then they reach
  compulsory school age on that date", and "ends on the last Friday in June which falls in the
  academic year in which they turn 16. For example, for a child born on 23 September 2007 compulsory
  school age will end on 28 June 2024." (Both of its examples are in the tests.)

So, for a date of birth:

* ``csa_start``: the fifth birthday if it falls on 31 March, 31 August or 31 December, else the
  next of those days after it (birthdays 1 Jan-31 Mar -> 31 Mar; 1 Apr-31 Aug -> 31 Aug;
  1 Sep-31 Dec -> 31 Dec, all in the year of the fifth birthday).
* ``csa_end``: the last Friday of June of the school year (taken as 1 September-31 August) in
  which the child turns 16 (s8(3)(a)-(c) all land there: a 16th birthday from 1 September to the
  leaving date is followed by that June's leaving date; one after it and before the next school
  year falls under (a)). The child is of CSA to the end of that day.

A child is of compulsory school age on ``on`` when ``csa_start <= on <= csa_end``. A birthday on
29 February is taken to fall on 1 March in other years (the anniversaries that matter, the 5th and
16th, land in the same term and school year either way).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

PRESCRIBED_DAYS = ((3, 31), (8, 31), (12, 31))  # (month, day), in calendar order
CSA_START_AGE = 5
CSA_END_AGE = 16


def last_friday_of_june(year: int) -> date:
    """The school leaving date for ``year`` (SI 1997/1970): the last Friday in June."""
    june_30 = date(year, 6, 30)
    return june_30 - timedelta(days=(june_30.weekday() - 4) % 7)


def csa_start(dob: date) -> date:
    """The first day of compulsory school age: the prescribed day on or after the fifth birthday."""
    year = dob.year + CSA_START_AGE
    for month, day in PRESCRIBED_DAYS:
        if (dob.month, dob.day) <= (month, day):
            return date(year, month, day)
    raise AssertionError("unreachable: 31 December is the last prescribed day")  # pragma: no cover


def csa_end(dob: date) -> date:
    """The last day of compulsory school age: the last Friday of June of the school year in which the
    child turns 16 (a birthday from 1 September belongs to the school year ending the next summer)."""
    return last_friday_of_june(dob.year + CSA_END_AGE + (1 if dob.month >= 9 else 0))


def compulsory_school_age(dob: date, on: date) -> bool:
    """Whether a child born on ``dob`` is of compulsory school age on ``on``."""
    return csa_start(dob) <= on <= csa_end(dob)


def csa_bounds(dobs: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``csa_start`` and ``csa_end`` over a Series of dates of birth (anything ``pd.to_datetime``
    reads); datetime64[ns] Series with the same index, NaT where the date of birth is missing."""
    dob = pd.to_datetime(dobs, errors="coerce")
    if getattr(dob.dt, "tz", None) is not None:
        dob = dob.dt.tz_localize(None)
    dob = dob.astype("datetime64[ns]")
    year = dob.dt.year.to_numpy(dtype="float64")
    month = dob.dt.month.to_numpy(dtype="float64")
    day = dob.dt.day.to_numpy(dtype="float64")
    missing = np.isnan(year)
    month_day = np.where(missing, 0, month * 100 + day)
    start_month = np.select([month_day <= 331, month_day <= 831], [3, 8], default=12)
    start_day = np.full(len(dob), 31)
    start_year = np.where(missing, 2000, year + CSA_START_AGE).astype(np.int64)
    end_year = np.where(missing, 2000, year + CSA_END_AGE + (month >= 9)).astype(np.int64)
    start = pd.to_datetime(pd.DataFrame({"year": start_year, "month": start_month, "day": start_day}))
    june_30 = pd.to_datetime(pd.DataFrame({"year": end_year, "month": 6, "day": 30}))
    end = june_30 - pd.to_timedelta((june_30.dt.weekday - 4) % 7, unit="D")
    start = pd.Series(start.to_numpy(dtype="datetime64[ns]"), index=dob.index)
    end = pd.Series(end.to_numpy(dtype="datetime64[ns]"), index=dob.index)
    return start.mask(missing), end.mask(missing)


def compulsory_school_age_series(dobs: pd.Series, on: date) -> pd.Series:
    """Vectorised ``compulsory_school_age``: a nullable boolean Series, <NA> where the date of birth
    is missing (the caller decides what an unknown age means)."""
    start, end = csa_bounds(dobs)
    on_ts = pd.Timestamp(on)
    result = pd.Series(((start <= on_ts) & (on_ts <= end)).to_numpy(), index=start.index, dtype="boolean")
    return result.mask(start.isna())
