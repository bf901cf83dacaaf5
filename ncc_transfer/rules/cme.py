"""Children missing education: candidates for the LA's CME officers.

The LA's duty (Education Act 1996 s436A, https://www.legislation.gov.uk/ukpga/1996/56/section/436A) is
to establish "the identities of children in their area who are of compulsory school age but (a) are
not registered pupils at a school, and (b) are not receiving suitable education otherwise than at a
school". The statutory guidance is "Children missing education" (DfE, 2024 edition,
https://www.gov.uk/government/publications/children-missing-education). See docs/cme.md.

A candidate is a pupil of compulsory school age on the as-of date (``reference.school_age``) who has
gone from a school's roll and is on no school's roll in the LA:

* ``left_no_destination``: the pupil's leaving date at a school has passed (``leaving_date <
  as_of``). The pupil is on roll up to and including the leaving date, the same reading as the
  on-roll test below ("no leaving date before the as-of date"), so a pupil leaving today is not
  yet a candidate. Leavers come from the schools' current pupils and, for leavers who have since
  dropped off an extract, from ``roll_history``. ``days_since_leaving`` counts calendar days from
  the leaving date to the as-of date.
* ``vanished_from_roll``: the pupil was on a school's nightly extract, is no longer on it (their
  ``last_seen`` is before that school's latest load) and no leaving date was ever given.
  ``days_since_leaving`` counts calendar days from ``last_seen`` to the as-of date.
* ``not_started_next_phase``: a final-year completer (below) who is on no roll in the LA once ten
  school days of the next school year have passed: the officer checks the transfer (to secondary,
  say), which may be out of the LA. ``days_since_leaving`` counts from the leaving date.

Compulsory school age. Children below it (a reception pupil who has not reached the prescribed day
after their fifth birthday) or above it (after the last Friday of June of the school year in which
they turn 16) are not candidates. The date of birth is the pupil's current record's, else the one
``roll_history`` remembers; a pupil whose date of birth is unknown stays a candidate (the age cannot
rule them out).

Final-year completers. The deletion return does not apply where a pupil completes the school's final
year: the School Attendance (Pupil Registration) (England) Regulations 2024, reg 13(4)
(https://www.legislation.gov.uk/uksi/2024/208/regulation/13/made), requires a deletion return for a
registered pupil "other than one within paragraph (5)", as the 2006 Regulations' reg 12(8) (inserted
by SI 2016/792, https://www.legislation.gov.uk/uksi/2016/792/regulation/5/made) did where "the pupil
has completed the" school's final year; the CME statutory guidance before 2024 (2016 edition): "This
duty does not apply where the pupil has completed the school's final year, unless the local
authority requests for such information to be provided". Such a pupil moves on over the summer, so
is not a candidate in the holiday. A departure is a final-year completion when:

* the pupil's NC year at the leaving school (its record there, else what ``roll_history``
  remembers) is the school's final year group: ``final_years[school_key]`` when given (the
  registry's ``final_year``), else inferred by ``infer_final_years``; and
* the leaving date is in July or August. Summer terms in England end in the second half of July,
  and MISs record end-of-year leavers either on the last day of term or on 31 August; an earlier
  leaving date is a mid-year departure and stays ``left_no_destination``. (A final-year pupil who
  leaves in early July without a destination is off the list only until the check below.)

A completer is not a candidate until the tenth school day of the next school year (from 1 September
after the leaving date) is known to have passed; from then, if on no roll in the LA, they are
``not_started_next_phase``. School days are dates with a possible session (``calendar.school_days``):
the leaving school's own in the new year, or, when it has none (closed, or no data for the new year
yet), any LA school's. Fewer than ten known school days means not yet. When the as-of date is in a
later school year still, the tenth day has passed. Year 11 completers are past compulsory school age
by then (CSA ends on the last Friday of June of Year 11), so they never come back as candidates.

On roll (anywhere in the LA, the same school included): an enrolment in the current pupils frame
with entry date on or before the as-of date (or none), no leaving date before the as-of date, and an
enrolment status other than ``G`` (a guest is not a registered pupil) or ``P`` (previous). A UPN on a
school's latest extract whose record failed validation (so it is in ``roll_history`` at that
school's latest load but not in the pupils frame) also counts as on roll, unless its recorded
dates say otherwise: a rejected record has not left. An admission dated after the as-of date does
not count yet (entry date <= as-of).

A pupil qualifying at several schools appears once, for the most recent departure (leaving date,
or last seen for a vanished pupil); ``laestab``/``school_key`` are that school's. The completer and
age tests apply to that departure.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ncc_transfer.reference.school_age import compulsory_school_age_series
from ncc_transfer.rules.calendar import academic_year_start, school_days
from ncc_transfer.rules.frames import input_frame, pupil_keys, view_frame

VIEW = "children_missing_education"
LEFT = "left_no_destination"
VANISHED = "vanished_from_roll"
NOT_STARTED = "not_started_next_phase"
REASONS = (LEFT, VANISHED, NOT_STARTED)
NOT_ON_ROLL_STATUSES = ("G", "P")
COMPLETION_MONTHS = (7, 8)  # leaving dates in July or August end the school's final year
NEXT_PHASE_SCHOOL_DAYS = 10  # completers on no roll by the tenth school day of the next year
INFERENCE_WINDOW_DAYS = 365  # roll_history rows last seen this recently count for an inferred final year
_KEY = ["school_key", "upn"]


def children_missing_education(pupils: pd.DataFrame, roll_history: pd.DataFrame, as_of: date,
                               attendance: pd.DataFrame | None = None,
                               final_years: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Rows of the ``children_missing_education`` view, one per candidate pupil.

    ``attendance`` (school_key, date, code; any sessions) gives the school days of the new school
    year for final-year completers; without it no school days are known, so completers stay off the
    list. ``final_years`` maps a school key to its final NC year (the registry's); other schools'
    are inferred (``infer_final_years``)."""
    as_of_ts = pd.Timestamp(as_of)
    current = input_frame(pupils, ["school_key", "laestab", "upn", "enrol_status", "entry_date", "leaving_date",
                                   "dob", "nc_year"])
    history = input_frame(roll_history, ["school_key", "laestab", "upn", "entry_date", "leaving_date",
                                         "first_seen", "last_seen", "dob", "nc_year"])
    history["latest_load"] = history.groupby("school_key")["last_seen"].transform("max")
    status = current["enrol_status"].str.upper()
    in_current = _key_set(current)
    not_in_current = ~pupil_keys(history).isin(in_current)

    # Who is on a roll tonight, anywhere in the LA.
    def dates_allow(frame: pd.DataFrame) -> pd.Series:
        return ((frame["entry_date"].isna() | (frame["entry_date"] <= as_of_ts))
                & (frame["leaving_date"].isna() | (frame["leaving_date"] >= as_of_ts)))

    on_roll = current[~status.isin(NOT_ON_ROLL_STATUSES).to_numpy(dtype=bool) & dates_allow(current)]["upn"]
    rejected = history[not_in_current & (history["last_seen"] == history["latest_load"]) & dates_allow(history)]
    on_roll_upns = set(on_roll.dropna()) | set(rejected["upn"].dropna())

    # Departures, with the NC year at the leaving school (its record there, else the remembered one).
    columns = ["school_key", "laestab", "upn", "leaving_date", "nc_year"]
    left_current = current[current["leaving_date"].notna() & (current["leaving_date"] < as_of_ts)
                           & (status != "G").fillna(True).to_numpy(dtype=bool)]
    left_history = history[not_in_current & history["leaving_date"].notna() & (history["leaving_date"] < as_of_ts)]
    left = pd.concat([left_current[columns], left_history[columns]], ignore_index=True)
    left = left.merge(history[_KEY + ["last_seen"]], on=_KEY, how="left")
    left["reason"] = LEFT
    left["departed"] = left["leaving_date"]

    vanished = history[not_in_current & history["leaving_date"].isna()
                       & (history["last_seen"] < history["latest_load"]) & (history["last_seen"] < as_of_ts)]
    vanished = vanished[columns + ["last_seen"]].assign(reason=VANISHED, departed=vanished["last_seen"])

    candidates = pd.concat([left, vanished], ignore_index=True)
    candidates = candidates[candidates["upn"].notna() & ~candidates["upn"].isin(on_roll_upns)]
    candidates = (candidates.sort_values(["upn", "departed", "last_seen", "school_key"],
                                         ascending=[True, False, False, True], na_position="last", kind="stable")
                  .drop_duplicates("upn", keep="first").reset_index(drop=True))

    # Compulsory school age on the as-of date (unknown date of birth: kept).
    dobs = pd.concat([current[["upn", "dob"]], history[["upn", "dob"]]], ignore_index=True).dropna()
    dob = candidates["upn"].map(dobs.drop_duplicates("upn").set_index("upn")["dob"])
    of_age = compulsory_school_age_series(dob, as_of).fillna(True).to_numpy(dtype=bool)
    candidates = candidates[of_age].reset_index(drop=True)

    # Final-year completers: off the list until the tenth school day of the next year, then their own reason.
    finals = {**infer_final_years(pupils, roll_history, as_of), **dict(final_years or {})}
    final = candidates["school_key"].map(lambda key: finals.get(key)).astype("float64")
    completer = ((candidates["reason"] == LEFT) & (nc_number(candidates["nc_year"]) == final)
                 & candidates["leaving_date"].dt.month.isin(COMPLETION_MONTHS)).to_numpy(dtype=bool)
    if completer.any():
        passed = _next_year_started(candidates.loc[completer, ["school_key", "leaving_date"]], attendance, as_of)
        keep = ~completer
        keep[np.flatnonzero(completer)[passed]] = True
        candidates.loc[completer, "reason"] = NOT_STARTED
        candidates = candidates[keep]
    candidates["days_since_leaving"] = (as_of_ts - candidates["departed"]).dt.days
    return view_frame(VIEW, candidates, as_of, sort_by=["school_key", "upn"])


def infer_final_years(pupils: pd.DataFrame, roll_history: pd.DataFrame, as_of: date) -> dict[str, int]:
    """Each school's final year group as its roll shows it: the highest NC year (1-14) among its current
    pupils and the ``roll_history`` rows last seen in the year to the as-of date.

    The pupils table holds each school's latest extract (over the summer, with its leavers and their
    leaving dates); after the September rollover the leavers drop off it but ``roll_history`` still
    remembers their NC year, and the year group moving up fills the top year again. Codes other than
    1-14 (R, N1, N2, E1, E2, X) never count. A school with no such pupil has no inferred final year
    (so no completers); the registry's ``final_year`` settles schools whose roll misleads."""
    frames = []
    if len(pupils) and {"school_key", "nc_year"} <= set(pupils.columns):
        frames.append(pd.DataFrame({"school_key": pupils["school_key"].astype(object),
                                    "nc": nc_number(pupils["nc_year"]).to_numpy()}))
    if len(roll_history) and {"school_key", "nc_year", "last_seen"} <= set(roll_history.columns):
        seen = pd.to_datetime(roll_history["last_seen"])
        recent = (seen >= pd.Timestamp(as_of - timedelta(days=INFERENCE_WINDOW_DAYS))).to_numpy(dtype=bool)
        frames.append(pd.DataFrame({"school_key": roll_history["school_key"].astype(object)[recent],
                                    "nc": nc_number(roll_history["nc_year"]).to_numpy()[recent]}))
    if not frames:
        return {}
    years = pd.concat(frames, ignore_index=True).dropna()
    return {str(k): int(v) for k, v in years.groupby("school_key")["nc"].max().items()}


def nc_number(nc_year: pd.Series) -> pd.Series:
    """NC year 1-14 as a float (NaN for R, N1, N2, E1, E2, X, blank or anything else)."""
    numbers = pd.to_numeric(nc_year.astype(object).astype(str).str.strip(), errors="coerce")
    return numbers.where((numbers >= 1) & (numbers <= 14) & (numbers == numbers.round()))


def tenth_school_day(days: pd.Series, start: date, n: int = NEXT_PHASE_SCHOOL_DAYS) -> date | None:
    """The n-th known school day on or after ``start`` (sorted datetime64 ``days``), or None when fewer
    are known: never assumed."""
    later = days[days >= pd.Timestamp(start)]
    return later.iloc[n - 1].date() if len(later) >= n else None


def cme_headline(view: pd.DataFrame) -> dict:
    """Counts for an officer's glance (no identifiers)."""
    counts = {"candidates": int(len(view))}
    counts.update({reason: int((view["reason"] == reason).sum()) if len(view) else 0 for reason in REASONS})
    return counts


# -- internals ---------------------------------------------------------------------------------------


def _key_set(frame: pd.DataFrame) -> set[str]:
    return set(pupil_keys(frame))


def _next_year_started(completers: pd.DataFrame, attendance: pd.DataFrame | None, as_of: date) -> np.ndarray:
    """Per completer (school_key, leaving_date): whether the tenth school day of the school year after
    the leaving date is known to have passed by the as-of date."""
    as_of_year = pd.Timestamp(academic_year_start(as_of))
    next_year = pd.to_datetime({"year": completers["leaving_date"].dt.year, "month": 9, "day": 1})
    days = (school_days(attendance[["school_key", "date", "code"]].assign(
                date=pd.to_datetime(attendance["date"]).astype("datetime64[ns]")), as_of)
            if attendance is not None and len(attendance) else pd.DataFrame({"school_key": [], "date": []}))
    la_days = pd.Series(np.sort(days["date"].unique()), dtype="datetime64[ns]")
    by_school = {key: frame["date"].reset_index(drop=True) for key, frame in days.groupby("school_key")}
    passed = []
    for key, start in zip(completers["school_key"], next_year):
        if start < as_of_year:  # a later school year already: a whole year has passed
            passed.append(True)
            continue
        own = by_school.get(key)
        own = own[own >= start] if own is not None else None
        calendar = own if own is not None and len(own) else la_days
        passed.append(tenth_school_day(calendar, start.date()) is not None)
    return np.asarray(passed, dtype=bool)
