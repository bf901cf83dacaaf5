"""Children missing education: candidates for the LA's CME officers (design §3.5; domain.md §4).

A candidate is a pupil who has gone from a school's roll and is on no school's roll in the LA:

* ``left_no_destination``: the pupil's leaving date at a school has passed (``leaving_date <
  as_of``). The pupil is on roll up to and including the leaving date, the same reading as the
  on-roll test below ("no leaving date before the as-of date"), so a pupil leaving today is not
  yet a candidate. Leavers come from the schools' current pupils and, for leavers who have since
  dropped off an extract, from ``roll_history``. ``days_since_leaving`` counts calendar days from
  the leaving date to the as-of date.
* ``vanished_from_roll``: the pupil was on a school's nightly extract, is no longer on it (their
  ``last_seen`` is before that school's latest load) and no leaving date was ever given.
  ``days_since_leaving`` counts calendar days from ``last_seen`` to the as-of date.

On roll (anywhere in the LA, the same school included): an enrolment in the current pupils frame
with entry date on or before the as-of date (or none), no leaving date before the as-of date, and an
enrolment status other than ``G`` (a guest is not a registered pupil) or ``P`` (previous). A UPN on a
school's latest extract whose record failed validation (so it is in ``roll_history`` at that
school's latest load but not in the pupils frame) also counts as on roll, unless its recorded
dates say otherwise: a rejected record has not left. An admission dated after the as-of date does
not count yet (the contract: entry date ≤ as-of).

A pupil qualifying at several schools appears once, for the most recent departure (leaving date,
or last seen for a vanished pupil); ``laestab``/``school_key`` are that school's.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from ncc_transfer.rules.frames import input_frame, pupil_keys, view_frame

VIEW = "children_missing_education"
LEFT = "left_no_destination"
VANISHED = "vanished_from_roll"
NOT_ON_ROLL_STATUSES = ("G", "P")
_KEY = ["school_key", "upn"]


def children_missing_education(pupils: pd.DataFrame, roll_history: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Rows of the ``children_missing_education`` view, one per candidate pupil."""
    as_of_ts = pd.Timestamp(as_of)
    current = input_frame(pupils, ["school_key", "laestab", "upn", "enrol_status", "entry_date", "leaving_date"])
    history = input_frame(roll_history, ["school_key", "laestab", "upn", "entry_date", "leaving_date",
                                         "first_seen", "last_seen"])
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

    # Departures.
    left_current = current[current["leaving_date"].notna() & (current["leaving_date"] < as_of_ts)
                           & (status != "G").fillna(True).to_numpy(dtype=bool)]
    left_history = history[not_in_current & history["leaving_date"].notna() & (history["leaving_date"] < as_of_ts)]
    left = pd.concat([left_current[["school_key", "laestab", "upn", "leaving_date"]],
                      left_history[["school_key", "laestab", "upn", "leaving_date"]]], ignore_index=True)
    left = left.merge(history[_KEY + ["last_seen"]], on=_KEY, how="left")
    left["reason"] = LEFT
    left["departed"] = left["leaving_date"]

    vanished = history[not_in_current & history["leaving_date"].isna()
                       & (history["last_seen"] < history["latest_load"]) & (history["last_seen"] < as_of_ts)]
    vanished = vanished[["school_key", "laestab", "upn", "leaving_date", "last_seen"]].assign(
        reason=VANISHED, departed=vanished["last_seen"])

    candidates = pd.concat([left, vanished], ignore_index=True)
    candidates = candidates[candidates["upn"].notna() & ~candidates["upn"].isin(on_roll_upns)]
    candidates = (candidates.sort_values(["upn", "departed", "last_seen", "school_key"],
                                         ascending=[True, False, False, True], na_position="last", kind="stable")
                  .drop_duplicates("upn", keep="first"))
    candidates["days_since_leaving"] = (as_of_ts - candidates["departed"]).dt.days
    return view_frame(VIEW, candidates, as_of, sort_by=["school_key", "upn"])


def cme_headline(view: pd.DataFrame) -> dict:
    """Counts for an officer's glance (no identifiers)."""
    return {
        "candidates": int(len(view)),
        LEFT: int((view["reason"] == LEFT).sum()) if len(view) else 0,
        VANISHED: int((view["reason"] == VANISHED).sum()) if len(view) else 0,
    }


# -- internals ---------------------------------------------------------------------------------------


def _key_set(frame: pd.DataFrame) -> set[str]:
    return set(pupil_keys(frame))
