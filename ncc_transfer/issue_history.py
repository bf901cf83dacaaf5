"""Validation issues across nights: what is new, what persists (and for how long), what was fixed.

An issue is identified by (school, dataset, pupil, record, field, rule). Each night's issues are
merged with the school's stored ones:

* still reported: ``persisting``, ``first_seen`` kept, ``nights_seen`` + 1;
* reported for the first time (or again after a fix): ``new``, ``nights_seen`` 1;
* no longer reported, in a dataset checked tonight: ``fixed`` with ``fixed_on``. The school's report
  lists it the night of the fix (a thank-you) and not after; the row stays as history until the
  retention schedule deletes it (``validation_issues_fixed_days``). If it recurs, a ``new`` row
  replaces it;
* in a dataset not checked tonight (the school's files could not be read): kept as they were.

Re-running the same night (same ``night`` date) changes nothing: counts move only between nights.

Tonight's findings are already capped per rule (``NCC_ISSUE_EXAMPLES_PER_RULE`` examples, the rest
counted in ``similar_records``), so what is stored, open or fixed, is bounded by the cap too: a school that
fixes a file of a million flagged records keeps a few hundred ``fixed`` rows, not a million.
Pure pandas, shared by every warehouse backend.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from .canonical import STORED_ISSUE_COLUMNS, VALIDATION_ISSUE_COLUMNS

IDENTITY = ["school_key", "dataset", "upn", "record", "field", "rule"]
NEW, PERSISTING, FIXED = "new", "persisting", "fixed"


def merge_issue_history(previous: pd.DataFrame, tonight: pd.DataFrame, *, night: date, seen_at: datetime,
                        checked_datasets: set[str] | None = None) -> pd.DataFrame:
    """The school's issue rows to store after tonight. ``tonight`` holds tonight's findings.

    ``checked_datasets``: the datasets tonight's run actually evaluated (default: all of them).
    """
    night_ts = pd.Timestamp(night)
    fresh = tonight.reindex(columns=VALIDATION_ISSUE_COLUMNS)
    fresh["last_seen"] = pd.Timestamp(seen_at)
    old = previous.reindex(columns=STORED_ISSUE_COLUMNS).copy()
    for frame in (fresh, old):
        frame["_key"] = _identity(frame)

    carried = old[~old["dataset"].isin(checked_datasets)] if checked_datasets is not None else old.iloc[0:0]
    in_scope = old.drop(carried.index)
    open_before = in_scope[in_scope["status"] != FIXED].set_index("_key")
    fixed_before = in_scope[in_scope["status"] == FIXED].set_index("_key")

    # Tonight's findings: new, or persisting from an open issue.
    matched = fresh["_key"].isin(open_before.index)
    fresh["status"] = NEW
    fresh["nights_seen"] = 1
    fresh["fixed_on"] = pd.NaT
    fresh["last_night"] = night_ts
    if matched.any():
        before = open_before.loc[fresh.loc[matched, "_key"]]
        same_night = (pd.to_datetime(before["last_night"]) == night_ts).to_numpy()
        fresh.loc[matched, "first_seen"] = before["first_seen"].to_numpy()
        fresh.loc[matched, "nights_seen"] = before["nights_seen"].fillna(1).astype(int).to_numpy() + (~same_night)
        fresh.loc[matched, "status"] = before["status"].where(same_night, PERSISTING).to_numpy()

    # Open issues not found tonight were fixed tonight; earlier fixes stay as history.
    gone = open_before[~open_before.index.isin(fresh["_key"])].reset_index()
    gone["status"] = FIXED
    gone["fixed_on"] = night_ts
    fixed_history = fixed_before[~fixed_before.index.isin(fresh["_key"])].reset_index()

    parts = [_typed(frame[STORED_ISSUE_COLUMNS]) for frame in (fresh, gone, fixed_history, carried) if len(frame)]
    if not parts:
        return fresh[STORED_ISSUE_COLUMNS]
    merged = pd.concat(parts, ignore_index=True)
    return merged.astype({"nights_seen": "Int64", "similar_records": "Int64"})


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """One set of types for every part, so concatenation never depends on which parts are empty."""
    stamps = {c: "datetime64[ns]" for c in ("first_seen", "last_seen", "fixed_on", "last_night")}
    counts = {"nights_seen": "Int64", "similar_records": "Int64"}
    text = {c: object for c in STORED_ISSUE_COLUMNS if c not in stamps and c not in counts}
    frame = frame.assign(similar_records=pd.to_numeric(frame["similar_records"], errors="coerce"))
    return frame.astype({**stamps, **text, **counts})


def _identity(frame: pd.DataFrame) -> pd.Series:
    parts = [frame[column].astype(object).fillna("").astype(str) for column in IDENTITY]
    key = parts[0]
    for part in parts[1:]:
        key = key + "\x1f" + part
    return key
