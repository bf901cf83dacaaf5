"""Enrolment statuses and national curriculum (NC) years.

Sources: the DfE's school census guide and common basic data set (CBDS) code sets for enrolment
status and NC year actual (https://www.gov.uk/guidance/complete-the-school-census); age is taken at
31 August for every phase (ScholarPack query 1601Q,
https://support.scholarpack.com/hc/en-gb/articles/6263297962141-Query-1601Q-Pupil-s-age-is-out-of-range-for-school-type).

A pupil is on roll at a school when its enrolment status is C (single registration), M (main
dual registration) or S (subsidiary dual registration). G (guest), P (previous), F (FE college)
and O (other provider) are not on this school's roll.

NC years: R and 1-14, early years N1, N2, E1, E2, and X (NC not followed). The expected age at
31 August (start of the academic year) is NC year + 4 for R..14, with R at 4.
"""

from __future__ import annotations

import pandas as pd

ENROL_STATUSES: dict[str, tuple[str, bool]] = {
    "C": ("Current (single registration at this school)", True),
    "M": ("Current main (dual registration)", True),
    "S": ("Current subsidiary (dual registration)", True),
    "F": ("FE college", False),
    "O": ("Other provider", False),
    "G": ("Guest (not registered at this school, attends some lessons or sessions)", False),
    "P": ("Previous", False),
}
ON_ROLL_STATUSES: frozenset[str] = frozenset(c for c, (_, on_roll) in ENROL_STATUSES.items() if on_roll)

NC_YEARS: dict[str, tuple[str, int | None]] = {
    "E1": ("Early years 1", None),
    "E2": ("Early years 2", None),
    "N1": ("Nursery 1", None),
    "N2": ("Nursery 2", None),
    "R": ("Reception", 4),
    **{str(y): (f"Year {y}", y + 4) for y in range(1, 15)},
    "X": ("National curriculum not followed", None),
}
NC_YEAR_CODES: frozenset[str] = frozenset(NC_YEARS)


def enrol_status_table() -> pd.DataFrame:
    """Columns: code, meaning, on_roll (bool)."""
    return pd.DataFrame(
        [{"code": c, "meaning": m, "on_roll": on} for c, (m, on) in ENROL_STATUSES.items()]
    )


def nc_year_table() -> pd.DataFrame:
    """Columns: code, meaning, expected_age (Int64 age at 31 August; null for N1, N2, E1, E2, X)."""
    frame = pd.DataFrame([{"code": c, "meaning": m, "expected_age": a} for c, (m, a) in NC_YEARS.items()])
    frame["expected_age"] = frame["expected_age"].astype("Int64")
    return frame


def expected_nc_year_age(nc_year):
    """Expected age at 31 August for an NC year code ('R' -> 4, '1' -> 5, ..., '14' -> 18).

    Takes one code (returns int or None) or a Series of codes (returns a nullable Int64 Series).
    Codes must be normalised ('R', '1'..'14'); anything else has no expected age.
    """
    ages = {c: a for c, (_, a) in NC_YEARS.items() if a is not None}
    if isinstance(nc_year, pd.Series):
        return nc_year.map(ages).astype("Int64")
    return ages.get(nc_year) if isinstance(nc_year, str) else None
