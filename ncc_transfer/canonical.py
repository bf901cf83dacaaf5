"""The canonical tables: column names, their order and their pandas types.

Two shapes of each table exist in the pipeline:

* **raw** frames come out of a route (files, or an MIS connector). Every column is text
  (object dtype holding ``str`` or ``None``), exactly as the school's MIS supplied it, plus two
  bookkeeping columns, ``_source`` (file or endpoint name) and ``_line`` (a line number or element
  position as text; a vendor record's number as an integer, a text per record costing more than
  the record), so validation messages can point at the record.
* **canonical** frames come out of validation: typed, normalised, error records removed, and
  carrying ``school_key``, ``laestab`` (and ``extracted_at`` for pupils).

Only this module says which columns exist; everything else imports the lists from here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

TABLES = ("pupils", "attendance", "exclusions")
TEXT_DTYPE = "string[pyarrow]"  # canonical text columns; raw frames keep plain object text

SCHOOL_COLUMNS = ["school_key", "laestab"]
BOOKKEEPING_COLUMNS = ["_source", "_line"]

# The pupil's cohorts for the LA's termly attendance "targeting support meeting" (DfE "Working together to
# improve school attendance", statutory from August 2024), as the school's MIS holds them on the night
# (ncc_transfer.cohorts says what each means and how each route supplies it). Special-category-adjacent
# personal data: never in a log line or Dagster metadata (docs/data_protection.md).
COHORT_FLAG_COLUMNS = ["fsm_eligible", "fsm_ever6", "looked_after", "child_in_need", "child_protection_plan"]
COHORT_COLUMNS = ["sen_provision", *COHORT_FLAG_COLUMNS]

# Contract columns, in order, without the school columns.
PUPIL_COLUMNS = [
    "upn",
    "former_upn",
    "surname",
    "forename",
    "middle_names",
    "preferred_surname",
    "preferred_forename",
    "dob",
    "sex",
    "nc_year",
    "enrol_status",
    "entry_date",
    "leaving_date",
    "address_line1",
    "town",
    "postcode",
    # Added with the termly targeting-support cohorts (contracts only grow): null = not supplied, never "no".
    *COHORT_COLUMNS,
]
ATTENDANCE_COLUMNS = ["upn", "date", "session", "code"]
EXCLUSION_COLUMNS = [
    "upn",
    "category",
    "reason",
    "reason_2",
    "reason_3",
    "start_date",
    "start_session",
    "sessions",
    "end_date",
]

RAW_COLUMNS: dict[str, list[str]] = {
    "pupils": PUPIL_COLUMNS,
    "attendance": ATTENDANCE_COLUMNS,
    "exclusions": EXCLUSION_COLUMNS,
}

# Columns a files-route CSV must have (docs/files_route.md). `sessions` is required for suspensions only,
# which is a record-level rule, not a column rule.
REQUIRED_COLUMNS: dict[str, list[str]] = {
    "pupils": ["upn", "surname", "forename", "dob", "sex"],
    "attendance": ["upn", "date", "session", "code"],
    "exclusions": ["upn", "category", "start_date"],
}

# Columns that identify one record; duplicates are a structural (blocking) problem.
KEY_COLUMNS: dict[str, list[str]] = {
    "pupils": ["upn"],
    "attendance": ["upn", "date", "session"],
    "exclusions": ["upn", "category", "start_date", "start_session"],
}

DATE_COLUMNS: dict[str, list[str]] = {
    "pupils": ["dob", "entry_date", "leaving_date"],
    "attendance": ["date"],
    "exclusions": ["start_date", "end_date"],
    "validation_issues": ["fixed_on", "last_night"],
}
INTEGER_COLUMNS: dict[str, list[str]] = {"pupils": [], "attendance": [], "exclusions": ["sessions"],
                                         "validation_issues": ["nights_seen", "similar_records"]}
# True / false / null (not supplied), held as pandas' nullable "boolean".
BOOLEAN_COLUMNS: dict[str, list[str]] = {"pupils": COHORT_FLAG_COLUMNS}

# Canonical column order per table, as stored in the warehouse.
CANONICAL_COLUMNS: dict[str, list[str]] = {
    # The cohort columns come last, after extracted_at: where ALTER TABLE ADD COLUMN put them in a warehouse
    # made before them, so an upgraded warehouse and a new one hold the columns in the same order.
    "pupils": SCHOOL_COLUMNS + [c for c in PUPIL_COLUMNS if c not in COHORT_COLUMNS] + ["extracted_at"]
    + COHORT_COLUMNS,
    "attendance": SCHOOL_COLUMNS + ATTENDANCE_COLUMNS,
    "exclusions": SCHOOL_COLUMNS + EXCLUSION_COLUMNS,
}

VALIDATION_ISSUE_COLUMNS = [
    "school_key",
    "laestab",
    "upn",  # null when the issue is not about one pupil
    "dataset",  # pupils | attendance | exclusions
    "record",  # stable identity of the record within (dataset, upn): '' for a pupil, a date, a code
    "location",  # where to find it: "pupils.csv line 14", "ctf_2025.xml pupil 7"
    "field",
    "value",  # the offending value as supplied (text), or null
    "rule",  # short stable rule name, e.g. "dob_not_a_date"
    "severity",  # error (record not loaded) | warning (loaded, needs fixing)
    "message",  # plain English: what is wrong and what to change, where in the MIS
    "first_seen",
    "last_seen",
    # Added with the per-rule cap (contracts only grow): on the last example kept for a (school, rule),
    # how many more records have the same problem and are counted, not stored; null elsewhere. The exact
    # count of a rule is its rows plus their ``similar_records`` (``issue_weights``).
    "similar_records",
]
# What the warehouse adds to each finding to follow it across nights (``issue_history``).
ISSUE_HISTORY_COLUMNS = [
    "nights_seen",  # nights in a row the issue has been reported
    "status",  # new | persisting | fixed (kept the night of the fix, dropped the night after)
    "fixed_on",  # the night it was no longer reported
    "last_night",  # the night (as-of date) it was last evaluated
]
STORED_ISSUE_COLUMNS = VALIDATION_ISSUE_COLUMNS + ISSUE_HISTORY_COLUMNS


def issue_weights(issues: pd.DataFrame) -> pd.Series:
    """How many records each issue row stands for: 1, plus its ``similar_records`` (records over the cap)."""
    if "similar_records" not in issues.columns:
        return pd.Series(1, index=issues.index, dtype="int64")
    similar = pd.to_numeric(issues["similar_records"], errors="coerce").fillna(0).astype("int64")
    return similar + 1


def column_type(table: str, column: str) -> str:
    """The type kind a canonical column holds: 'date', 'int', 'bool', 'timestamp' or 'text' (the
    warehouse's SQL type of each kind: ``warehouse.base.SQL_TYPES``)."""
    if column in DATE_COLUMNS.get(table, []):
        return "date"
    if column in INTEGER_COLUMNS.get(table, []):
        return "int"
    if column in BOOLEAN_COLUMNS.get(table, []):
        return "bool"
    if column in ("extracted_at", "first_seen", "last_seen"):
        return "timestamp"
    return "text"


def empty_raw(table: str) -> pd.DataFrame:
    """A raw frame with no rows and every raw column (all text)."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in RAW_COLUMNS[table] + BOOKKEEPING_COLUMNS})


def empty_canonical(table: str) -> pd.DataFrame:
    """A canonical frame with no rows and the right types."""
    return coerce_types(table, pd.DataFrame({c: pd.Series(dtype=object) for c in CANONICAL_COLUMNS[table]}))


def as_datetimes(values, **to_datetime_args):
    """``pd.to_datetime(values, ...)``, except that values already held as (naive) datetime64 are
    returned as they are: ``to_datetime`` would give the same values, after boxing a sample of them
    one by one (tens of milliseconds on a school's marks)."""
    if isinstance(values, pd.Series) and pd.api.types.is_datetime64_dtype(values.dtype):
        return values
    return pd.to_datetime(values, **to_datetime_args)


def text_array(values: np.ndarray, codes: np.ndarray) -> pd.arrays.ArrowStringArray:
    """A ``TEXT_DTYPE`` column whose row i is ``values[codes[i]]`` (None -> null; a negative code counts
    from the end, as numpy indexing does). Built by an Arrow ``take`` from the distinct values, without
    a Python object per row: the fast way to a canonical text column from factorised text."""
    codes = np.asarray(codes)
    if len(values):
        codes = np.where(codes < 0, codes + len(values), codes)
    return pd.arrays.ArrowStringArray(pa.array(values, type=pa.string()).take(pa.array(codes, type=pa.int64())))


def constant_text(value: str | None, n: int) -> pd.arrays.ArrowStringArray:
    """A ``TEXT_DTYPE`` column of ``n`` copies of one value (school_key, laestab)."""
    return text_array(np.array([value], dtype=object), np.zeros(n, dtype=np.int64))


def as_nullable_booleans(values: pd.Series) -> pd.Series:
    """A column of True / False / None (or NaN, pd.NA; numpy or nullable booleans, as a warehouse gives
    them back) as pandas' nullable ``boolean``, null kept."""
    if values.dtype == "boolean":
        return values
    if values.dtype == bool:
        return values.astype("boolean")
    return pd.Series(pd.array([None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else bool(v)
                               for v in values], dtype="boolean"), index=values.index)


def coerce_types(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Put a frame's canonical columns into their canonical pandas types, in canonical order.

    Text becomes Arrow-backed strings (``TEXT_DTYPE``: compact, and Pandera checks the column type
    without visiting every value); dates become datetime64[ns] at midnight; integers become nullable
    Int64; booleans become nullable ``boolean`` (null kept: "not supplied"). Values must already be
    valid: this is not where bad input is detected.
    """
    out = pd.DataFrame(index=frame.index)
    for column in CANONICAL_COLUMNS[table]:
        values = frame[column] if column in frame.columns else pd.Series(None, index=frame.index, dtype=object)
        kind = column_type(table, column)
        if kind == "date" and values.dtype == "datetime64[ns]":  # already dates (validation's output)
            out[column] = values.dt.normalize()
        elif kind == "date":
            out[column] = pd.to_datetime(values, format="ISO8601").astype("datetime64[ns]").dt.normalize()
        elif kind == "timestamp":
            out[column] = as_datetimes(values).astype("datetime64[ns]")
        elif kind == "int":
            out[column] = pd.to_numeric(values).astype("Int64")
        elif kind == "bool":
            out[column] = as_nullable_booleans(values)
        else:
            out[column] = values.astype(TEXT_DTYPE)
    return out.reset_index(drop=True)


# Statutory views (their rules and sources: docs/statutory_views.md, docs/absence.md, docs/cme.md): column -> type
# kind ('text', 'date', 'int', 'float', 'bool').
# Every view row carries `as_of`, the date the view was computed for.
VIEW_COLUMNS: dict[str, dict[str, str]] = {
    "absence_summary": {
        "school_key": "text", "laestab": "text", "upn": "text",
        "sessions_possible": "int", "sessions_present": "int", "sessions_aea": "int",
        "sessions_authorised": "int", "sessions_unauthorised": "int",
        "absence_rate": "float", "persistent_absence": "bool", "severe_absence": "bool",
        "age_at_31_august": "int", "enrol_status": "text", "dfe_comparable": "bool", "as_of": "date",
        # Added with the DfE Year 11 rule (contracts only grow): the uncut counts, and what was cut.
        "sessions_possible_all": "int", "sessions_present_all": "int", "sessions_aea_all": "int",
        "sessions_authorised_all": "int", "sessions_unauthorised_all": "int", "absence_rate_all": "float",
        "persistent_absence_all": "bool", "severe_absence_all": "bool", "summer_2_start": "date",
        "first_enrolled_summer_2": "bool",
    },
    "ten_day_absence": {
        "school_key": "text", "laestab": "text", "upn": "text", "first_day": "date", "last_day": "date",
        "school_days": "int", "ongoing": "bool", "as_of": "date",
    },
    "absence_triggers": {
        "school_key": "text", "laestab": "text", "upn": "text", "trigger": "text", "first_day": "date",
        "last_day": "date", "school_days": "int", "ongoing": "bool", "as_of": "date",
        # Added with sickness_15_cumulative: the day the threshold was reached and the sessions counted.
        "threshold_day": "date", "sessions": "int",
    },
    "exclusion_provision": {
        "school_key": "text", "laestab": "text", "upn": "text", "category": "text", "start_date": "date",
        "school_days": "int", "sixth_day": "date", "sixth_day_estimated": "bool", "responsible": "text",
        "as_of": "date",
    },
    "children_missing_education": {
        "upn": "text", "laestab": "text", "school_key": "text", "leaving_date": "date",
        "days_since_leaving": "int", "reason": "text", "last_seen": "date", "as_of": "date",
    },
    "pupil_movements": {
        "upn": "text", "laestab": "text", "school_key": "text", "event": "text", "event_date": "date",
        "source": "text", "new_entrant_return_due": "bool", "as_of": "date",
        # Added with reg 13(2): the exemption and the return's deadline (reg 13(1): joining date + 5 days).
        "new_entrant_return_exempt": "bool", "new_entrant_return_deadline": "date",
    },
}
SCHOOL_VIEWS = ("absence_summary", "ten_day_absence", "absence_triggers", "exclusion_provision")
LA_VIEWS = ("children_missing_education", "pupil_movements")

# What the warehouse remembers of each school's roll between nights (for pupils who vanish).
# ``dob`` and ``nc_year`` (as last loaded) let the CME rule judge compulsory school age and the
# final-year completers of a pupil who has since dropped off every extract; null in rows recorded
# before they were added, until the pupil is seen again.
ROLL_HISTORY_COLUMNS: dict[str, str] = {
    "school_key": "text", "laestab": "text", "upn": "text", "entry_date": "date", "leaving_date": "date",
    "first_seen": "date", "last_seen": "date", "dob": "date", "nc_year": "text",
}
