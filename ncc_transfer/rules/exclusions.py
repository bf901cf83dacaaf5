"""Sixth-day provision for excluded pupils.

Sources: the Education (Provision of Full-Time Education for Excluded Pupils) (England) Regulations
2007, SI 2007/1870 (https://www.legislation.gov.uk/uksi/2007/1870/made): the duties "apply from the
sixth school day of exclusion"; Education Act 1996 s19(3A) (https://www.legislation.gov.uk/ukpga/1996/56/section/19)
for permanently excluded pupils (the local authority) and Education and Inspections Act 2006 s100
(https://www.legislation.gov.uk/ukpga/2006/40/section/100) for suspended pupils (the school).

Counting is in school days of the *excluding* school (``calendar.school_days`` over its attendance
up to the as-of date), the first day of the exclusion being day 1 (the start date, or the next
school day when the start date is not one). Beyond the school's last known school day weekdays are
assumed and the sixth day is marked ``sixth_day_estimated``.

* Permanent exclusion (``PERM``): the local authority provides from the sixth school day.
* Suspensions (``SUSP``; ``FIXD`` is read as ``SUSP``): a suspension covers the school days its
  sessions touch from its start day and start session. A morning (or unstated) start covers
  ``2k`` sessions in ``k`` days; an afternoon start has one session on its first day, so
  ``days = (start_offset + sessions - 1) // 2 + 1`` with ``start_offset`` 0 for AM/null, 1 for PM.
  Without ``sessions`` the end date decides (school days from the start to the end date); with
  neither, one day. Suspensions of the same pupil at the same school that follow each other with
  no school day between (next start day ≤ previous end day + 1, overlaps included) form one
  period (SI 2014/3216: "regardless of whether the pupil has been excluded for a single fixed
  period or more than one"). A period of more than five school days needs provision from its
  sixth school day, by the school. Shorter periods produce no row.
* Lunchtime exclusions (``LNCH``) never trigger and never join or bridge a period.

Only exclusions starting in the academic year of the as-of date, on or before it, are considered.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ncc_transfer.canonical import TEXT_DTYPE, as_datetimes
from ncc_transfer.rules.calendar import academic_year_start, nth_school_day, school_days
from ncc_transfer.rules.frames import view_frame

VIEW = "exclusion_provision"
PROVISION_FROM_DAY = 6  # statutory: provision from the sixth school day
LONGEST_WITHOUT_PROVISION = PROVISION_FROM_DAY - 1  # periods of more than 5 school days trigger
RESPONSIBLE = {"PERM": "local_authority", "SUSP": "school"}
_NULLABLE_INT = {"school_days"}  # null for permanent exclusions


class SchoolCalendar:
    """One school's school days, numbered from 0, extended by weekdays after the last known day."""

    def __init__(self, known: np.ndarray, origin_if_empty: np.datetime64):
        self.known = np.sort(np.asarray(known, dtype="datetime64[D]"))
        self.n = len(self.known)
        # The first date not covered by the known days; weekdays are assumed from there.
        self.origin = self.known[-1] + np.timedelta64(1, "D") if self.n else np.datetime64(origin_if_empty, "D")

    def index_of(self, dates: np.ndarray) -> np.ndarray:
        """Number of the first school day on or after each date (0-based)."""
        dates = np.asarray(dates, dtype="datetime64[D]")
        index = np.searchsorted(self.known, dates, side="left").astype(np.int64)
        beyond = dates >= self.origin
        if beyond.any():
            rolled = np.busday_offset(dates[beyond], 0, roll="forward")
            index[beyond] = self.n + np.busday_count(self.origin, rolled)
        return index

    def series(self) -> pd.Series:
        return pd.Series(self.known.astype("datetime64[ns]"))


def exclusion_provision(exclusions: pd.DataFrame, attendance: pd.DataFrame, as_of: date,
                        days: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows of the ``exclusion_provision`` view: who needs sixth-day provision, from when, by whom.

    ``days``: the schools' school days from the academic year's start (``calendar.school_days``
    columns school_key, date) when the caller has them already (``rules.runs.PupilDays``); days
    before the year's start do not matter, as every count here is between days of this year."""
    as_of_ts = pd.Timestamp(as_of)
    year_start = pd.Timestamp(academic_year_start(as_of))
    ex = _prepare(exclusions)
    ex = ex[ex["upn"].notna() & ex["school_key"].notna() & ex["start_date"].notna()
            & (ex["start_date"] >= year_start) & (ex["start_date"] <= as_of_ts)
            & ex["category"].isin(list(RESPONSIBLE))]
    if not len(ex):  # most schools, most nights: no school days needed
        return view_frame(VIEW, None, as_of, sort_by=(), nullable_ints=_NULLABLE_INT)

    if days is None:
        days = school_days(attendance, as_of) if len(attendance) else pd.DataFrame(
            {"school_key": pd.Series(dtype=object), "date": pd.Series(dtype="datetime64[ns]")})
    by_school = {str(k): g["date"].to_numpy(dtype="datetime64[D]") for k, g in days.groupby("school_key", sort=True)}
    origin = np.datetime64(year_start.date(), "D")
    calendars = {k: SchoolCalendar(by_school.get(k, np.array([], dtype="datetime64[D]")), origin)
                 for k in ex["school_key"].astype(str).unique()}

    frames = [_permanent(ex[ex["category"] == "PERM"], calendars),
              _suspensions(ex[ex["category"] == "SUSP"], calendars)]
    rows = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else None
    return view_frame(VIEW, rows, as_of, sort_by=["school_key", "upn", "start_date", "category"],
                      nullable_ints=_NULLABLE_INT)


def provision_headline(view: pd.DataFrame) -> dict:
    """Counts for an officer's glance (no identifiers)."""
    if not len(view):
        return {"rows": 0, "permanent": 0, "suspension_periods": 0, "local_authority": 0, "school": 0,
                "sixth_day_reached": 0, "sixth_day_estimated": 0, "schools": 0}
    return {
        "rows": int(len(view)),
        "permanent": int((view["category"] == "PERM").sum()),
        "suspension_periods": int((view["category"] == "SUSP").sum()),
        "local_authority": int((view["responsible"] == "local_authority").sum()),
        "school": int((view["responsible"] == "school").sum()),
        "sixth_day_reached": int((view["sixth_day"] <= view["as_of"]).sum()),
        "sixth_day_estimated": int(view["sixth_day_estimated"].sum()),
        "schools": int(view["school_key"].nunique()),
    }


# -- internals ---------------------------------------------------------------------------------------


def _prepare(exclusions: pd.DataFrame) -> pd.DataFrame:
    """Only the columns the rule needs, with text normalised (object or Arrow strings in)."""
    out = pd.DataFrame(index=exclusions.index)
    for column in ("school_key", "laestab", "upn", "category", "start_session"):
        values = exclusions[column] if column in exclusions.columns else pd.Series(None, index=exclusions.index)
        out[column] = values.astype(TEXT_DTYPE).str.strip()
    out["category"] = out["category"].str.upper().replace({"FIXD": "SUSP"})
    out["start_session"] = out["start_session"].str.upper()
    for column in ("start_date", "end_date"):
        out[column] = as_datetimes(exclusions[column]).astype("datetime64[ns]").dt.normalize()
    out["sessions"] = pd.to_numeric(exclusions["sessions"]).astype("Int64")
    return out.reset_index(drop=True)


def _permanent(perm: pd.DataFrame, calendars: dict[str, SchoolCalendar]) -> pd.DataFrame:
    perm = perm.drop_duplicates(["school_key", "upn", "start_date"]).reset_index(drop=True)
    if not len(perm):
        return perm
    sixth = [nth_school_day(calendars[str(k)].series(), d.date(), PROVISION_FROM_DAY)
             for k, d in zip(perm["school_key"], perm["start_date"])]
    return pd.DataFrame({
        "school_key": perm["school_key"], "laestab": perm["laestab"], "upn": perm["upn"], "category": "PERM",
        "start_date": perm["start_date"], "school_days": pd.array([pd.NA] * len(perm), dtype="Int64"),
        "sixth_day": pd.to_datetime([s for s, _ in sixth]), "sixth_day_estimated": [e for _, e in sixth],
        "responsible": RESPONSIBLE["PERM"],
    })


def _suspensions(susp: pd.DataFrame, calendars: dict[str, SchoolCalendar]) -> pd.DataFrame:
    if not len(susp):
        return susp
    parts = []
    for key, group in susp.groupby("school_key", sort=True):
        cal = calendars[str(key)]
        group = group.copy()
        group["first"] = cal.index_of(group["start_date"].to_numpy())
        days_touched = _days_touched(group, cal)
        group["last"] = group["first"] + days_touched - 1
        parts.append(group)
    spans = pd.concat(parts, ignore_index=True).sort_values(
        ["school_key", "upn", "first", "last", "start_date"], kind="stable").reset_index(drop=True)

    # Periods: a suspension starts a new one unless it begins no later than the day after the
    # furthest day reached so far by the pupil's earlier suspensions at the school.
    pupil = ["school_key", "upn"]
    reached = spans.groupby(pupil, sort=False)["last"].cummax()
    reached_before = reached.groupby([spans["school_key"], spans["upn"]], sort=False).shift(1)
    new_period = reached_before.isna() | (spans["first"] > reached_before + 1)
    spans["period"] = new_period.cumsum()
    periods = spans.groupby("period", sort=True).agg(
        school_key=("school_key", "first"), laestab=("laestab", "first"), upn=("upn", "first"),
        start_date=("start_date", "min"), first=("first", "min"), last=("last", "max"))
    periods["school_days"] = periods["last"] - periods["first"] + 1
    periods = periods[periods["school_days"] > LONGEST_WITHOUT_PROVISION].reset_index(drop=True)
    if not len(periods):
        return periods
    sixth = [nth_school_day(calendars[str(k)].series(), d.date(), PROVISION_FROM_DAY)
             for k, d in zip(periods["school_key"], periods["start_date"])]
    return pd.DataFrame({
        "school_key": periods["school_key"], "laestab": periods["laestab"], "upn": periods["upn"],
        "category": "SUSP", "start_date": periods["start_date"],
        "school_days": periods["school_days"].astype("Int64"),
        "sixth_day": pd.to_datetime([s for s, _ in sixth]), "sixth_day_estimated": [e for _, e in sixth],
        "responsible": RESPONSIBLE["SUSP"],
    })


def _days_touched(group: pd.DataFrame, cal: SchoolCalendar) -> np.ndarray:
    """School days each suspension covers (at least 1)."""
    sessions = group["sessions"]
    offset = (group["start_session"] == "PM").fillna(False).astype(np.int64)
    by_sessions = (offset + sessions - 1) // 2 + 1
    # Fallback: school days from the start day to the end date (the last school day on or before it).
    end_next = (group["end_date"] + pd.Timedelta(days=1)).to_numpy()
    has_end = group["end_date"].notna().to_numpy()
    by_end = np.ones(len(group), dtype=np.int64)
    if has_end.any():
        by_end[has_end] = cal.index_of(end_next[has_end]) - group["first"].to_numpy()[has_end]
    usable = (sessions.notna() & (sessions > 0)).fillna(False).to_numpy(dtype=bool)
    days = np.where(usable, by_sessions.fillna(1).to_numpy(dtype=np.int64), by_end)
    return np.maximum(days, 1)
