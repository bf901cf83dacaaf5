"""Absence per enrolment (design §3.4 ``absence_summary``, §3.5; domain.md §3).

An enrolment is one (school_key, upn). Only marks dated from 1 September of the academic year that
contains ``as_of`` up to ``as_of`` itself count. Each mark is read against the code set in force on
its date (``reference.attendance_codes.category_for``); codes that are unknown on their date, blank
codes and ``-`` add no possible session.

Everything here is vectorised: marks are reduced to integer arrays (enrolment id, day number,
category) once, by ``prepare_marks``, which the run rules (``rules.runs``) share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from ncc_transfer.reference.attendance_codes import CATEGORIES, CODE_SET_CHANGE, category_for
from ncc_transfer.reference.enrolment import ON_ROLL_STATUSES
from ncc_transfer.rules.calendar import academic_year_start
from ncc_transfer.rules.frames import sorted_codes, view_frame

# Category numbers used in the mark arrays: CATEGORIES order, then "unknown" (code not valid on its
# date). present=0, aea=1, authorised=2, unauthorised=3 are the possible categories.
PRESENT, AEA, AUTHORISED, UNAUTHORISED, NOT_POSSIBLE, NO_MARK, UNKNOWN = range(7)
_CATEGORY_NUMBER = {name: i for i, name in enumerate(CATEGORIES)}
assert _CATEGORY_NUMBER == {"present": PRESENT, "aea": AEA, "authorised": AUTHORISED,
                            "unauthorised": UNAUTHORISED, "not_possible": NOT_POSSIBLE, "no_mark": NO_MARK}

DFE_MIN_AGE, DFE_MAX_AGE = 5, 15  # compulsory school age at 31 August (domain.md §3.2)
DFE_ENROL_STATUSES = frozenset({"C", "M"})  # sole or main registration
assert DFE_ENROL_STATUSES <= ON_ROLL_STATUSES

NULLABLE_INT_COLUMNS = frozenset({"age_at_31_august"})


# ------------------------------------------------------------------------------------ helpers

def as_of_timestamp(as_of: date | datetime | str | pd.Timestamp) -> pd.Timestamp:
    """The as-of date as a midnight Timestamp."""
    return pd.Timestamp(as_of).normalize()


@dataclass
class Marks:
    """Attendance marks in [academic year start, as_of], reduced to integer arrays.

    ``enrolments``: one row per (school_key, upn), sorted, columns school_key, laestab, upn (object);
    its position is the enrolment id. Per mark: ``enrolment`` (id), ``day`` (days since 1970-01-01),
    ``category`` (PRESENT..UNKNOWN), ``code`` (index into ``codes``, the normalised distinct codes;
    -1 for a blank code).
    """

    enrolments: pd.DataFrame
    enrolment: np.ndarray
    day: np.ndarray
    category: np.ndarray
    code: np.ndarray
    codes: np.ndarray
    school: np.ndarray  # per enrolment: index into ``schools``
    schools: np.ndarray

    @property
    def possible(self) -> np.ndarray:
        return self.category <= UNAUTHORISED

    def code_flags(self, wanted: set[str] | frozenset[str]) -> np.ndarray:
        """Per mark: True where the (normalised) code is in ``wanted``."""
        table = np.append(np.isin(self.codes, list(wanted)), False)  # last entry: blank code (-1)
        return table[self.code]


def _days(values: pd.Series) -> np.ndarray:
    if not pd.api.types.is_datetime64_any_dtype(values):
        values = pd.to_datetime(values, errors="coerce")
    return values.to_numpy(dtype="datetime64[D]").astype(np.int64)  # NaT -> int64 min


def _text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), None)


def prepare_marks(attendance: pd.DataFrame, as_of) -> Marks:
    """Reduce attendance to the marks that count on ``as_of`` (see ``Marks``)."""
    stamp = as_of_timestamp(as_of)
    first = np.datetime64(academic_year_start(stamp.date()), "D").astype(np.int64)
    last = np.datetime64(stamp.date(), "D").astype(np.int64)
    day_all = _days(attendance["date"])
    keep = (day_all >= first) & (day_all <= last)

    # Factorise whole columns (fast on Arrow strings; nulls -> -1), then keep the marks in range.
    school_idx, schools = pd.factorize(attendance["school_key"], sort=True)
    upn_idx, upns = pd.factorize(attendance["upn"], sort=True)
    keep &= (school_idx >= 0) & (upn_idx >= 0)
    day = day_all[keep]
    school_idx, upn_idx = school_idx[keep].astype(np.int64), upn_idx[keep].astype(np.int64)

    # Enrolment ids in (school_key, upn) order: both key factorisations are sorted, so is the pair's.
    width = max(len(upns), 1)
    enrolment, pairs = sorted_codes(school_idx * width + upn_idx, len(schools) * width)
    enr_school, enr_upn = pairs // width, pairs % width
    schools = np.asarray(schools, dtype=object)
    enrolments = pd.DataFrame({"school_key": schools[enr_school],
                               "upn": np.asarray(upns, dtype=object)[enr_upn]})
    enrolments["laestab"] = None
    if "laestab" in attendance.columns and len(pairs):
        lae_idx, laestabs = pd.factorize(attendance["laestab"])
        per_enrolment = np.full(len(pairs), -1, dtype=np.int64)  # stays -1 only if all null
        np.maximum.at(per_enrolment, enrolment, lae_idx[keep])
        enrolments["laestab"] = np.append(np.asarray(laestabs, dtype=object), None)[per_enrolment]

    # Categories: look up each distinct code once per code set, then index.
    code_idx, raw_codes = pd.factorize(attendance["code"])
    code_idx = code_idx[keep]
    codes = pd.Series(np.asarray(raw_codes, dtype=object)).astype(str).str.strip().str.upper()
    change = pd.Timestamp(CODE_SET_CHANGE)
    table = np.full((len(codes) + 1, 2), NO_MARK, dtype=np.int8)  # row -1: blank code
    for column, when in ((0, change - pd.Timedelta(days=1)), (1, change)):
        cats = category_for(codes, pd.Series([when] * len(codes), index=codes.index))
        table[:-1, column] = cats.map(_CATEGORY_NUMBER).fillna(UNKNOWN).to_numpy(dtype=np.int8)
    new_set = day >= np.datetime64(CODE_SET_CHANGE, "D").astype(np.int64)
    category = table[code_idx, new_set.astype(np.int64)]
    return Marks(enrolments=enrolments, enrolment=enrolment.astype(np.int64), day=day, category=category,
                 code=code_idx.astype(np.int64), codes=codes.to_numpy(dtype=object), school=enr_school,
                 schools=schools)


def age_at_31_august(dob: pd.Series, as_of) -> pd.Series:
    """Age in whole years on 31 August before the academic year containing ``as_of`` (Int64)."""
    ref = academic_year_start(as_of_timestamp(as_of).date())  # 1 September
    dob = pd.to_datetime(dob, errors="coerce")
    born_after_august = (dob.dt.month > 8).astype("int64")  # birthday not yet reached on 31 August
    age = ref.year - dob.dt.year.astype("Int64") - born_after_august
    return age.astype("Int64")


# ------------------------------------------------------------------------------- the view

def absence_summary(pupils: pd.DataFrame | None, attendance: pd.DataFrame, as_of,
                    marks: Marks | None = None) -> pd.DataFrame:
    """View ``absence_summary``: one row per enrolment (school_key, upn) with a possible session.

    Counts per category of marks in [academic year start, as_of]; rate = (authorised +
    unauthorised) / possible; persistent (≥ 10 %) and severe (≥ 50 %) are decided in integers.
    ``age_at_31_august`` and ``enrol_status`` come from ``pupils`` (null when the enrolment has marks
    but no pupil row); ``dfe_comparable`` = age 5-15 and enrol status C or M. ``marks``:
    ``prepare_marks(attendance, as_of)`` when the caller has it already (shared with the run rules).
    """
    marks = marks if marks is not None else prepare_marks(attendance, as_of)
    n = len(marks.enrolments)
    counts = np.bincount(marks.enrolment * 8 + marks.category.astype(np.int64), minlength=n * 8).reshape(n, 8)
    frame = marks.enrolments.copy()
    frame["sessions_present"] = counts[:, PRESENT]
    frame["sessions_aea"] = counts[:, AEA]
    frame["sessions_authorised"] = counts[:, AUTHORISED]
    frame["sessions_unauthorised"] = counts[:, UNAUTHORISED]
    frame["sessions_possible"] = counts[:, PRESENT:UNAUTHORISED + 1].sum(axis=1)
    frame = frame[frame["sessions_possible"] > 0].reset_index(drop=True)

    absent = frame["sessions_authorised"] + frame["sessions_unauthorised"]
    possible = frame["sessions_possible"]
    frame["absence_rate"] = absent / possible
    frame["persistent_absence"] = absent * 10 >= possible
    frame["severe_absence"] = absent * 2 >= possible

    if pupils is not None and len(pupils):
        people = pd.DataFrame({
            "school_key": _text(pupils["school_key"]),
            "upn": _text(pupils["upn"]),
            "dob": pupils["dob"] if "dob" in pupils.columns else pd.NaT,
            "enrol_status": _text(pupils["enrol_status"]) if "enrol_status" in pupils.columns else None,
        }).drop_duplicates(["school_key", "upn"], keep="last")
        people["age_at_31_august"] = age_at_31_august(people["dob"], as_of)
        frame = frame.merge(people[["school_key", "upn", "age_at_31_august", "enrol_status"]],
                            on=["school_key", "upn"], how="left", sort=False)
        if "laestab" in pupils.columns:  # enrolment's laestab from the pupil row when marks lack it
            fallback = pd.DataFrame({c: _text(pupils[c]) for c in ("school_key", "upn", "laestab")})
            fallback = fallback.drop_duplicates(["school_key", "upn"], keep="last").rename(
                columns={"laestab": "_laestab"})
            frame = frame.merge(fallback, on=["school_key", "upn"], how="left", sort=False)
            frame["laestab"] = frame["laestab"].where(frame["laestab"].notna(), frame["_laestab"])
    else:
        frame["age_at_31_august"] = pd.Series([pd.NA] * len(frame), dtype="Int64")
        frame["enrol_status"] = None

    age = frame["age_at_31_august"].astype("Int64")
    status = frame["enrol_status"].astype(object).str.strip().str.upper()
    frame["dfe_comparable"] = (age.between(DFE_MIN_AGE, DFE_MAX_AGE).fillna(False).astype(bool)
                               & status.isin(DFE_ENROL_STATUSES).to_numpy())
    return view_frame("absence_summary", frame, as_of, sort_by=["school_key", "upn"],
                      nullable_ints=NULLABLE_INT_COLUMNS)


def absence_headline(summary: pd.DataFrame) -> dict:
    """Headline figures for officers, over the DfE-comparable enrolments (age 5-15, status C/M).

    Keys: enrolments, persistent, severe, pa_rate (persistent / enrolments), severe_rate,
    sessions_possible, sessions_absent, overall_absence_rate (Σ absence / Σ possible), and
    all_enrolments (every row of the summary, comparable or not). Rates are None with no enrolments.
    """
    rows = summary[summary["dfe_comparable"].astype(bool)]
    enrolments = int(len(rows))
    persistent = int(rows["persistent_absence"].astype(bool).sum())
    severe = int(rows["severe_absence"].astype(bool).sum())
    possible = int(rows["sessions_possible"].sum())
    absent = int(rows["sessions_authorised"].sum() + rows["sessions_unauthorised"].sum())
    return {
        "enrolments": enrolments,
        "persistent": persistent,
        "severe": severe,
        "pa_rate": persistent / enrolments if enrolments else None,
        "severe_rate": severe / enrolments if enrolments else None,
        "sessions_possible": possible,
        "sessions_absent": absent,
        "overall_absence_rate": absent / possible if possible else None,
        "all_enrolments": int(len(summary)),
    }
