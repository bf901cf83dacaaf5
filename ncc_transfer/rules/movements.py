"""Pupil movements: who joined and left each school this academic year (design §3.4; domain.md §4.2).

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

``new_entrant_return_due`` (reg 13(1), 2024 Regulations: the new pupil return is due by the end of
the fifth day after admission) flags a ``joined`` event dated on or after the fifth-last school day
of the school on or before the as-of date. School days come from ``calendar.school_days``; a
school with fewer than five known school days falls back to weekdays. The reg 13(2) exemption
(the most junior class starting on the first day of the school year) is not applied: the view
cannot tell the class.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ncc_transfer.rules.calendar import academic_year_start, school_days
from ncc_transfer.rules.frames import input_frame, pupil_keys, view_frame

VIEW = "pupil_movements"
RETURN_WINDOW_SCHOOL_DAYS = 5
REGISTER = "register"
ROLL_CHANGE = "roll_change"
_KEY = ["school_key", "upn"]
_EVENT_COLUMNS = ["school_key", "laestab", "upn", "event", "event_date", "source"]


def pupil_movements(pupils: pd.DataFrame, roll_history: pd.DataFrame, attendance: pd.DataFrame,
                    as_of: date) -> pd.DataFrame:
    """Rows of the ``pupil_movements`` view."""
    as_of_ts = pd.Timestamp(as_of)
    year_start = pd.Timestamp(academic_year_start(as_of))

    current = input_frame(pupils, ["school_key", "laestab", "upn", "enrol_status", "entry_date", "leaving_date"])
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
    thresholds = _return_thresholds(attendance, frame["school_key"].unique(), as_of)
    threshold = pd.Series(frame["school_key"].map(thresholds).to_numpy(), index=frame.index, dtype="datetime64[ns]")
    frame["new_entrant_return_due"] = ((frame["event"] == "joined").to_numpy(dtype=bool)
                                       & (frame["event_date"] >= threshold).to_numpy(dtype=bool))
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


def _return_thresholds(attendance: pd.DataFrame, schools, as_of: date) -> dict:
    """school_key -> the fifth-last school day on or before as_of (weekdays when too few are known)."""
    fallback = pd.Timestamp(np.busday_offset(np.datetime64(as_of, "D"), -(RETURN_WINDOW_SCHOOL_DAYS - 1),
                                             roll="backward"))
    known: dict = {}
    if len(attendance):
        days = school_days(attendance, as_of)
        tail = days.groupby("school_key", sort=False).tail(RETURN_WINDOW_SCHOOL_DAYS)
        counted = tail.groupby("school_key", sort=False)["date"].agg(["min", "size"])
        known = {str(k): row["min"] for k, row in counted.iterrows() if row["size"] >= RETURN_WINDOW_SCHOOL_DAYS}
    return {k: known.get(str(k), fallback) for k in schools}
