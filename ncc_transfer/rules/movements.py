"""Pupil movements: who joined and left each school this academic year.

Events dated from 1 September of the as-of date's academic year up to the as-of date:

* ``register`` events: ``joined`` at the entry date and ``left`` at the leaving date, from the
  schools' current pupils, and from ``roll_history`` for pupils no longer on an extract (the
  current pupils frame wins where both hold the pupil). Guests (enrolment status ``G``) are not
  admitted to the register and give no event.
* ``roll_change`` events, seen between nightly loads when the register dates do not tell:
  ``joined`` at ``first_seen`` for a pupil first seen after the school's first load (pupils on the
  first load were already there, not joiners) and with no entry date in the academic year (on or
  after 1 September; an entry date in the year gives a register event instead, or none yet when it
  is after the as-of date); ``left`` at ``last_seen`` for a pupil who vanished from the extract
  (last seen before the school's latest load) without a leaving date.

The new pupil return. School Attendance (Pupil Registration) (England) Regulations 2024
(SI 2024/208), reg 13, https://www.legislation.gov.uk/uksi/2024/208/regulation/13:

    13.—(1) By the end of the fifth day after the day when the name of a registered pupil, other
    than one within paragraph (2), is entered in the admission register of a school the proprietor
    must make a return to the local authority (a "new pupil return") giving all the information
    about the pupil that is entered in the admission register.
    (2) A registered pupil is within this paragraph if— (a) they are placed, on admission, in the
    school's most junior class; and (b) their starting day is the first day of the school year.

* ``new_entrant_return_deadline``: the regulation says "the fifth day after the day", not "school
  day" (the Regulations say "school day" where they mean it), so calendar days: the joining date +
  5 days (a pupil entered on Thu 3 Sep 2026 is due by the end of Tue 8 Sep 2026). The joining date
  stands for the day the name was entered: the register's entry (starting) date, or for a
  ``roll_change`` joiner the night it was first seen (the name was entered by then, so the deadline
  is at the latest that). Null for ``left`` events and for exempt joiners.
* ``new_entrant_return_exempt`` (reg 13(2)): a ``register`` joiner whose NC year is the school's
  most junior year group and whose entry date is the first day of the school year. The data has
  no classes, so "class" is read as the year group; the most junior is the lowest NC year among the
  school's current on-roll pupils (E1 < E2 < N1 < N2 < R < 1 < ... < 14; ``X`` and unknown years
  are ignored). The first day of the school year is the school's first school day on or after
  1 September (``calendar.school_days``), or, when it has none, the first weekday on or after
  1 September. A joiner with no NC year, or known only from ``roll_history``, is not exempt.
  Reg 13(3) (the LA may ask for these returns too) is not modelled: the exemption always applies.
* ``new_entrant_return_due`` flags a non-exempt ``joined`` event dated on or after the
  fifth-last school day of the school on or before the as-of date (recent joiners whose return
  the LA should be receiving). School days come from ``calendar.school_days``; a school with fewer
  than five known school days falls back to weekdays.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ncc_transfer.reference.enrolment import ON_ROLL_STATUSES
from ncc_transfer.rules.calendar import academic_year_start, school_days
from ncc_transfer.rules.frames import input_frame, pupil_keys, view_frame

VIEW = "pupil_movements"
RETURN_WINDOW_SCHOOL_DAYS = 5
RETURN_DEADLINE_DAYS = 5  # reg 13(1): "by the end of the fifth day after the day" (calendar days)
# Youngest first: the rank of each NC year for "the school's most junior class" (X and unknown: none).
NC_YEAR_ORDER = {code: rank for rank, code in enumerate(["E1", "E2", "N1", "N2", "R", *map(str, range(1, 15))])}
REGISTER = "register"
ROLL_CHANGE = "roll_change"
_KEY = ["school_key", "upn"]
_EVENT_COLUMNS = ["school_key", "laestab", "upn", "event", "event_date", "source"]


def pupil_movements(pupils: pd.DataFrame, roll_history: pd.DataFrame, attendance: pd.DataFrame,
                    as_of: date) -> pd.DataFrame:
    """Rows of the ``pupil_movements`` view."""
    as_of_ts = pd.Timestamp(as_of)
    year_start = pd.Timestamp(academic_year_start(as_of))

    current = input_frame(pupils, ["school_key", "laestab", "upn", "enrol_status", "entry_date", "leaving_date",
                                   "nc_year"])
    history = input_frame(roll_history, ["school_key", "laestab", "upn", "entry_date", "leaving_date",
                                         "first_seen", "last_seen"])
    current = current[current["upn"].notna() & current["school_key"].notna()]
    history = history[history["upn"].notna() & history["school_key"].notna()]
    history = history.assign(first_load=history.groupby("school_key")["first_seen"].transform("min"),
                             latest_load=history.groupby("school_key")["last_seen"].transform("max"))
    guest = current["enrol_status"].str.upper().eq("G").fillna(False).to_numpy(dtype=bool)
    guests = pupil_keys(current[guest])
    in_current = set(pupil_keys(current))

    # Register dates per enrolment: the current pupils frame, else what roll_history last recorded.
    history_only = history[~pupil_keys(history).isin(in_current).to_numpy(dtype=bool)]
    register = pd.concat([current.loc[~guest, ["school_key", "laestab", "upn", "entry_date", "leaving_date"]],
                          history_only[["school_key", "laestab", "upn", "entry_date", "leaving_date"]]],
                         ignore_index=True)

    def in_year(dates: pd.Series) -> pd.Series:
        return dates.notna() & (dates >= year_start) & (dates <= as_of_ts)

    events = [
        _events(register[in_year(register["entry_date"])], "joined", "entry_date", REGISTER),
        _events(register[in_year(register["leaving_date"])], "left", "leaving_date", REGISTER),
    ]

    roll = history[~pupil_keys(history).isin(guests).to_numpy(dtype=bool)].merge(
        register[_KEY + ["entry_date", "leaving_date"]].rename(
            columns={"entry_date": "register_entry", "leaving_date": "register_leaving"}),
        on=_KEY, how="left")
    no_entry_this_year = roll["register_entry"].isna() | (roll["register_entry"] < year_start)
    joined = roll[(roll["first_seen"] > roll["first_load"]) & no_entry_this_year & in_year(roll["first_seen"])]
    still_current = pupil_keys(roll).isin(in_current).to_numpy(dtype=bool)
    vanished = roll[~still_current & roll["register_leaving"].isna() & (roll["last_seen"] < roll["latest_load"])
                    & in_year(roll["last_seen"])]
    events += [_events(joined, "joined", "first_seen", ROLL_CHANGE),
               _events(vanished, "left", "last_seen", ROLL_CHANGE)]

    frame = pd.concat(events, ignore_index=True)
    days = school_days(attendance, as_of) if len(attendance) else None
    thresholds = _return_thresholds(days, frame["school_key"].unique(), as_of)
    threshold = pd.Series(frame["school_key"].map(thresholds).to_numpy(), index=frame.index, dtype="datetime64[ns]")
    joined = (frame["event"] == "joined").to_numpy(dtype=bool)
    exempt = joined & _junior_class_on_first_day(frame, current[~guest], days, year_start, as_of_ts)
    frame["new_entrant_return_exempt"] = exempt
    frame["new_entrant_return_due"] = joined & ~exempt & (frame["event_date"] >= threshold).to_numpy(dtype=bool)
    deadline = frame["event_date"] + pd.Timedelta(days=RETURN_DEADLINE_DAYS)
    frame["new_entrant_return_deadline"] = deadline.where(joined & ~exempt)
    return view_frame(VIEW, frame, as_of, sort_by=["school_key", "event_date", "upn", "event", "source"])


def movement_headline(view: pd.DataFrame) -> dict:
    """Counts for an officer's glance (no identifiers)."""
    if not len(view):
        return {"events": 0, "joined": 0, "left": 0, REGISTER: 0, ROLL_CHANGE: 0, "new_entrant_returns_due": 0}
    return {
        "events": int(len(view)),
        "joined": int((view["event"] == "joined").sum()),
        "left": int((view["event"] == "left").sum()),
        REGISTER: int((view["source"] == REGISTER).sum()),
        ROLL_CHANGE: int((view["source"] == ROLL_CHANGE).sum()),
        "new_entrant_returns_due": int(view["new_entrant_return_due"].sum()),
    }


# -- internals ---------------------------------------------------------------------------------------


def _events(rows: pd.DataFrame, event: str, date_column: str, source: str) -> pd.DataFrame:
    return pd.DataFrame({
        "school_key": rows["school_key"].to_numpy(), "laestab": rows["laestab"].to_numpy(),
        "upn": rows["upn"].to_numpy(), "event": event,
        "event_date": rows[date_column].to_numpy(dtype="datetime64[ns]"), "source": source,
    }, columns=_EVENT_COLUMNS)


def _junior_class_on_first_day(frame: pd.DataFrame, on_roll: pd.DataFrame, days: pd.DataFrame | None,
                               year_start: pd.Timestamp, as_of: pd.Timestamp) -> np.ndarray:
    """Per event: a ``register`` event of a pupil in the school's most junior NC year dated on the first
    day of the school year (reg 13(2); see the module docstring)."""
    status = on_roll["enrol_status"].str.upper()
    on_roll = on_roll[status.isin(list(ON_ROLL_STATUSES)).fillna(False).to_numpy(dtype=bool)]
    rank = on_roll["nc_year"].str.upper().map(NC_YEAR_ORDER)
    junior = rank.groupby(on_roll["school_key"].astype(object)).min()
    year_of = on_roll.drop_duplicates(_KEY, keep="last").set_index(_KEY)["nc_year"].str.upper().map(NC_YEAR_ORDER)
    pupil_rank = pd.Series(year_of.reindex(pd.MultiIndex.from_frame(frame[_KEY].astype(object))).to_numpy(),
                           index=frame.index, dtype="float64")
    school_junior = frame["school_key"].astype(object).map(junior).astype("float64")

    weekday = pd.Timestamp(np.busday_offset(np.datetime64(year_start.date(), "D"), 0, roll="forward"))
    first_days: dict = {}
    if days is not None and len(days):
        this_year = days[(days["date"] >= year_start) & (days["date"] <= as_of)]
        first_days = this_year.groupby(this_year["school_key"].astype(object))["date"].min().to_dict()
    first_day = pd.Series([first_days.get(k, weekday) for k in frame["school_key"].astype(object)],
                          index=frame.index, dtype="datetime64[ns]")
    return ((frame["source"] == REGISTER).to_numpy(dtype=bool)
            & (pupil_rank == school_junior).to_numpy(dtype=bool)
            & (frame["event_date"] == first_day).to_numpy(dtype=bool))


def _return_thresholds(days: pd.DataFrame | None, schools, as_of: date) -> dict:
    """school_key -> the fifth-last school day on or before as_of (weekdays when too few are known)."""
    fallback = pd.Timestamp(np.busday_offset(np.datetime64(as_of, "D"), -(RETURN_WINDOW_SCHOOL_DAYS - 1),
                                             roll="backward"))
    known: dict = {}
    if days is not None and len(days):
        tail = days.groupby("school_key", sort=False).tail(RETURN_WINDOW_SCHOOL_DAYS)
        counted = tail.groupby("school_key", sort=False)["date"].agg(["min", "size"])
        known = {str(k): row["min"] for k, row in counted.iterrows() if row["size"] >= RETURN_WINDOW_SCHOOL_DAYS}
    return {k: known.get(str(k), fallback) for k in schools}
