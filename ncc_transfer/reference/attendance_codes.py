"""Attendance register codes: the 2024 set and the pre-2024 set.

Sources: SI 2024/208, regulation 10 and its tables (https://www.legislation.gov.uk/uksi/2024/208/regulation/10/made);
DfE, "Working together to improve school attendance" (August 2024, https://www.gov.uk/government/publications/working-together-to-improve-school-attendance);
the statistical categories of the DfE's 2024/25 daily attendance data set
(https://explore-education-statistics.service.gov.uk/data-catalogue/data-set/d1d846a8-9956-4753-b1ec-5a0468f937ed);
the pre-2024 codes: the Education (Pupil Registration) (England) Regulations 2006, SI 2006/1751, and
the DfE absence methodology (https://explore-education-statistics.service.gov.uk/methodology/pupil-absence-in-schools-in-england).

The School Attendance (Pupil Registration) (England) Regulations 2024 (SI 2024/208) replaced the
2006 code set on 19 August 2024. A mark is read against the set in force on its date: `H`, `F`, `J`
and single `Y` exist before that date only; `K`, `C1`, `C2`, `J1`, `Q` and `Y1`-`Y7` from it only;
`T` changed meaning and `J` (approved educational activity) became `J1` (authorised absence).

Categories: ``present``, ``aea`` (approved educational activity), ``authorised``,
``unauthorised``, ``not_possible`` (not a possible session) and ``no_mark`` (``-``: no mark
recorded). A session is possible when its category is one of ``POSSIBLE_CATEGORIES``.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ncc_transfer.canonical import as_datetimes

CODE_SET_CHANGE = date(2024, 8, 19)  # first day of the 2024 set
PRE_2024_LAST_DAY = date(2024, 8, 18)

CATEGORIES = ("present", "aea", "authorised", "unauthorised", "not_possible", "no_mark")
POSSIBLE_CATEGORIES = ("present", "aea", "authorised", "unauthorised")

NO_MARK = "-"
CLOSURE = "#"

_BOTH, _PRE, _NEW = "both", "pre_2024", "2024"

# (code, period, meaning, category). possible_session follows from the category.
_CODES: list[tuple[str, str, str, str]] = [
    # present
    ("/", _BOTH, "Present (morning session)", "present"),
    ("\\", _BOTH, "Present (afternoon session)", "present"),
    ("L", _BOTH, "Late, arrived before the register closed", "present"),
    # approved educational activity
    ("K", _NEW, "Attending education provision arranged by the local authority", "aea"),
    ("V", _BOTH, "Educational visit or trip", "aea"),
    ("P", _BOTH, "Approved sporting activity", "aea"),
    ("W", _BOTH, "Work experience", "aea"),
    ("B", _PRE, "Educated off site (not dual registration)", "aea"),
    ("B", _NEW, "Any other approved educational activity", "aea"),
    ("J", _PRE, "At an interview with a prospective employer or educational establishment", "aea"),
    # authorised absence
    ("C", _PRE, "Other authorised circumstances", "authorised"),
    ("C", _NEW, "Leave of absence for exceptional circumstances", "authorised"),
    ("C1", _NEW, "Leave of absence: regulated performance or regulated employment abroad", "authorised"),
    ("C2", _NEW, "Leave of absence: temporary reduced (part-time) timetable", "authorised"),
    ("E", _BOTH, "Suspended or permanently excluded, no alternative provision made", "authorised"),
    ("I", _BOTH, "Illness (not medical or dental appointment)", "authorised"),
    ("J1", _NEW, "Leave of absence: interview for employment or admission to another educational institution",
     "authorised"),
    ("M", _BOTH, "Medical or dental appointment", "authorised"),
    ("R", _BOTH, "Religious observance", "authorised"),
    ("S", _BOTH, "Study leave (studying for a public examination)", "authorised"),
    ("T", _PRE, "Gypsy, Roma and Traveller absence", "authorised"),
    ("T", _NEW, "Parent travelling for occupational purposes (mobile child)", "authorised"),
    ("H", _PRE, "Agreed (authorised) family holiday", "authorised"),
    ("F", _PRE, "Agreed extended family holiday", "authorised"),
    # unauthorised absence
    ("G", _BOTH, "Holiday not authorised by the school", "unauthorised"),
    ("N", _BOTH, "Reason for absence not yet established", "unauthorised"),
    ("O", _BOTH, "Absent in other or unknown circumstances", "unauthorised"),
    ("U", _BOTH, "Arrived after the register closed", "unauthorised"),
    # not a possible session
    ("D", _BOTH, "Dual registered, attending another school where registered", "not_possible"),
    ("X", _BOTH, "Non-compulsory school age pupil not required to attend", "not_possible"),
    ("Q", _NEW, "Unable to attend because of a lack of access arrangements", "not_possible"),
    ("Y", _PRE, "Unable to attend due to exceptional circumstances", "not_possible"),
    ("Y1", _NEW, "Unable to attend: transport normally provided not available", "not_possible"),
    ("Y2", _NEW, "Unable to attend: widespread disruption to travel", "not_possible"),
    ("Y3", _NEW, "Unable to attend: part of the school premises closed", "not_possible"),
    ("Y4", _NEW, "Unable to attend: whole school site unexpectedly closed", "not_possible"),
    ("Y5", _NEW, "Unable to attend: in criminal justice detention", "not_possible"),
    ("Y6", _NEW, "Unable to attend: public health guidance or law", "not_possible"),
    ("Y7", _NEW, "Unable to attend: any other unavoidable cause", "not_possible"),
    ("Z", _BOTH, "Prospective pupil not on the admission register", "not_possible"),
    (CLOSURE, _BOTH, "Planned whole or partial school closure", "not_possible"),
    # no mark
    (NO_MARK, _BOTH, "No mark recorded", "no_mark"),
]

# code -> category, one dict per code set (what `category_for` maps through).
PRE_2024_CATEGORIES: dict[str, str] = {c: cat for c, p, _, cat in _CODES if p in (_BOTH, _PRE)}
CATEGORIES_2024: dict[str, str] = {c: cat for c, p, _, cat in _CODES if p in (_BOTH, _NEW)}
ALL_CODES: frozenset[str] = frozenset(PRE_2024_CATEGORIES) | frozenset(CATEGORIES_2024)


def code_table() -> pd.DataFrame:
    """Every code, one row per period in which it is valid with that meaning and category.

    Columns: code, meaning, category, possible_session (bool), valid_from, valid_to
    (datetime64[ns]; NaT = open-ended).
    """
    change = pd.Timestamp(CODE_SET_CHANGE)
    last_pre = pd.Timestamp(PRE_2024_LAST_DAY)
    rows = []
    for code, period, meaning, category in _CODES:
        rows.append({
            "code": code,
            "meaning": meaning,
            "category": category,
            "possible_session": category in POSSIBLE_CATEGORIES,
            "valid_from": change if period == _NEW else pd.NaT,
            "valid_to": last_pre if period == _PRE else pd.NaT,
        })
    frame = pd.DataFrame(rows)
    for column in ("valid_from", "valid_to"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frame


def codes_in_force(on: date) -> dict[str, str]:
    """code -> category for the set in force on one date."""
    return CATEGORIES_2024 if on >= CODE_SET_CHANGE else PRE_2024_CATEGORIES


def category_for(codes: pd.Series, dates: pd.Series) -> pd.Series:
    """The category of each mark's code under the set in force on its date (vectorised).

    ``codes`` must already be normalised (upper case, stripped). The result is object dtype:
    the category text, or None where the code is not valid on that date or the date is missing.
    """
    when = as_datetimes(pd.Series(dates, index=codes.index), errors="coerce")
    change = pd.Timestamp(CODE_SET_CHANGE)
    new_set = (when >= change).to_numpy()
    old_set = (when < change).to_numpy()
    result = pd.Series(None, index=codes.index, dtype=object)
    if new_set.any():
        result[new_set] = codes[new_set].map(CATEGORIES_2024)
    if old_set.any():
        result[old_set] = codes[old_set].map(PRE_2024_CATEGORIES)
    return result.where(result.notna(), None)


def possible_for(codes: pd.Series, dates: pd.Series) -> pd.Series:
    """True where the mark counts as a possible session (vectorised; invalid codes are False).

    The same reading as ``category_for(codes, dates).isin(POSSIBLE_CATEGORIES)``, looking each
    distinct code up once per code set rather than once per mark."""
    when = as_datetimes(pd.Series(dates, index=codes.index), errors="coerce").to_numpy(dtype="datetime64[ns]")
    index, distinct = pd.factorize(codes, use_na_sentinel=True)  # -1 (a missing code) reads the last entry
    possible = set(POSSIBLE_CATEGORIES)
    new_ok = np.array([CATEGORIES_2024.get(c) in possible for c in distinct] + [False], dtype=bool)
    old_ok = np.array([PRE_2024_CATEGORIES.get(c) in possible for c in distinct] + [False], dtype=bool)
    change = np.datetime64(CODE_SET_CHANGE, "ns")
    return pd.Series(((when >= change) & new_ok[index]) | ((when < change) & old_ok[index]), index=codes.index)


def is_known_code(codes: pd.Series) -> pd.Series:
    """True where the code exists in either set (whatever the date)."""
    return codes.isin(ALL_CODES)
