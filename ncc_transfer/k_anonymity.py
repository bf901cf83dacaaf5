"""k-anonymity for the pseudonymised pupils table: a fixed generalisation ladder, then suppression.

A pseudonymised row can still be singled out by what an acquaintance knows of a child: the school,
sex, year group, date of birth and where the child lives. Those are the quasi-identifiers here. The
export is generalised until every combination of their released values covers at least ``k`` pupils
(k-anonymity: L. Sweeney, "k-anonymity: a model for protecting privacy", International Journal of
Uncertainty, Fuzziness and Knowledge-Based Systems 10(5), 2002). The techniques are the ones the ICO's
"Anonymisation: managing data protection risk code of practice" (November 2012) describes: chapter 5
("Personal data and spatial information": postcodes are coarsened to a level where individuals are
not identifiable) and Appendix 2 ("Some key anonymisation techniques": derived data items and banding,
e.g. a date of birth released as a year, and withholding whatever still risks identification).
k = 5 by default (``--k``): larger k for wider sharing.

Quasi-identifiers (``QUASI_IDENTIFIERS``): school (``school_key``/``laestab``, one school), ``sex``,
``nc_year``, the date of birth (``dob_month`` and ``birth_cohort``) and the postcode
(``postcode_sector``, ``postcode_district``, ``postcode_area``). Analysts need the school, year group
and sex most, so those are never generalised; the date of birth and the postcode give way first.
Not treated as quasi-identifiers: enrolment status, entry and leaving dates, extract time (school
events, not facts a neighbour knows; see docs/hardening.md).

The ladder (``LADDER``): each row is released at the first level at which its class (the rows
released at that level with the same values) has at least k rows; each level coarsens one field:

====================  ==================================  ==========================
level                 date of birth                       postcode
====================  ==================================  ==========================
``month_sector``      month (``dob_month``) and cohort    sector, district, area
``month_district``    month and cohort                    district, area
``cohort_district``   cohort (``birth_cohort``) only      district, area
``cohort_area``       cohort only                         area ('NR') only
``cohort``            cohort only                         withheld
``year_group``        withheld                            withheld
====================  ==================================  ==========================

``birth_cohort`` is the academic year of birth (1 September to 31 August, e.g. '2015/16'), the cohort
a pupil's NC year normally follows. A row still in a class under k at ``year_group`` (fewer than k
pupils of that sex in that year group of that school) is suppressed: dropped from the pupils table.
Coarser columns are always filled when a finer one is (they follow from it), so an analyst can group
at any level and see how many rows each level covers.

Every function here is pure: frames in, frames out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

DEFAULT_K = 5
BIRTH_COLUMNS = ("dob_month", "birth_cohort")  # finest first
POSTCODE_COLUMNS = ("postcode_sector", "postcode_district", "postcode_area")  # finest first
KEPT_COLUMNS = ("school_key", "laestab", "sex", "nc_year")  # never generalised
QUASI_IDENTIFIERS = KEPT_COLUMNS + BIRTH_COLUMNS + POSTCODE_COLUMNS
SUPPRESSED = "suppressed"

_POSTCODE = re.compile(r"^(([A-Z]{1,2})[0-9][A-Z0-9]?)([0-9])[A-Z]{2}$")


@dataclass(frozen=True)
class Level:
    """One rung: which birth and postcode columns are released (finer ones are blanked)."""

    name: str
    birth: tuple[str, ...]
    postcode: tuple[str, ...]


LADDER: tuple[Level, ...] = (
    Level("month_sector", ("dob_month", "birth_cohort"), POSTCODE_COLUMNS),
    Level("month_district", ("dob_month", "birth_cohort"), ("postcode_district", "postcode_area")),
    Level("cohort_district", ("birth_cohort",), ("postcode_district", "postcode_area")),
    Level("cohort_area", ("birth_cohort",), ("postcode_area",)),
    Level("cohort", ("birth_cohort",), ()),
    Level("year_group", (), ()),
)


@dataclass
class KAnonymityReport:
    """What the generalisation did: for the export's manifest (counts only)."""

    k: int
    rows_in: int
    rows_out: int
    rows_by_level: dict[str, int]
    suppressed_rows: int
    min_class_size: int | None  # smallest class in the released table (None when it is empty)
    classes: int
    quasi_identifiers: list[str] = field(default_factory=lambda: list(QUASI_IDENTIFIERS))

    def as_dict(self) -> dict[str, Any]:
        return {
            "k": self.k, "quasi_identifiers": self.quasi_identifiers,
            "ladder": [{"level": lv.name, "birth": list(lv.birth), "postcode": list(lv.postcode)} for lv in LADDER],
            "suppression": "a row still in a class under k at the last level is dropped from the pupils table",
            "rows_in": self.rows_in, "rows_out": self.rows_out, "rows_by_level": self.rows_by_level,
            "suppressed_rows": self.suppressed_rows, "achieved_min_class_size": self.min_class_size,
            "classes": self.classes,
        }


# ------------------------------------------------------------------------- the hierarchies

def _compact_postcode(value: Any) -> re.Match | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return _POSTCODE.match(re.sub(r"\s+", "", str(value)).upper())


def postcode_sector(value: Any) -> str | None:
    """'NR1 2AB' -> 'NR1 2'; None when the value is not shaped like a UK postcode."""
    match = _compact_postcode(value)
    return f"{match.group(1)} {match.group(3)}" if match else None


def postcode_district(value: Any) -> str | None:
    """'NR1 2AB' -> 'NR1' (the outward code)."""
    match = _compact_postcode(value)
    return match.group(1) if match else None


def postcode_area(value: Any) -> str | None:
    """'NR1 2AB' -> 'NR' (the letters the outward code starts with)."""
    match = _compact_postcode(value)
    return match.group(2) if match else None


def _stamp(value: Any) -> pd.Timestamp | None:
    if value is None or (not isinstance(value, (str, date)) and pd.isna(value)):
        return None
    stamp = pd.to_datetime(value, errors="coerce")
    return None if pd.isna(stamp) else stamp


def dob_month(value: Any) -> str | None:
    """A date of birth reduced to 'YYYY-MM'."""
    stamp = _stamp(value)
    return None if stamp is None else f"{stamp.year:04d}-{stamp.month:02d}"


def birth_cohort(value: Any) -> str | None:
    """The academic year (1 September - 31 August) a date of birth falls in: 2015-09-01 -> '2015/16'."""
    stamp = _stamp(value)
    if stamp is None:
        return None
    start = stamp.year if stamp.month >= 9 else stamp.year - 1
    return f"{start}/{(start + 1) % 100:02d}"


def hierarchy_columns(dob: pd.Series, postcode: pd.Series) -> pd.DataFrame:
    """Every birth and postcode column at full detail (before any generalisation)."""
    dobs, postcodes = dob.astype(object), postcode.astype(object)
    return pd.DataFrame({
        "dob_month": [dob_month(v) for v in dobs],
        "birth_cohort": [birth_cohort(v) for v in dobs],
        "postcode_sector": [postcode_sector(v) for v in postcodes],
        "postcode_district": [postcode_district(v) for v in postcodes],
        "postcode_area": [postcode_area(v) for v in postcodes],
    }, index=dob.index, dtype=object)


# ------------------------------------------------------------------------- generalisation

def released_at(frame: pd.DataFrame, level: Level) -> pd.DataFrame:
    """The quasi-identifier columns of ``frame`` as released at ``level`` (withheld columns blank)."""
    out = frame[list(QUASI_IDENTIFIERS)].astype(object).copy()
    for column in BIRTH_COLUMNS + POSTCODE_COLUMNS:
        if column not in level.birth + level.postcode:
            out[column] = None
    return out


def class_sizes(released: pd.DataFrame) -> pd.Series:
    """Per row: how many rows share all its quasi-identifier values (blank counts as a value)."""
    if not len(released):
        return pd.Series(dtype="int64", index=released.index)
    keys = released[list(QUASI_IDENTIFIERS)].astype(object).fillna("\x00")
    return keys.groupby(list(QUASI_IDENTIFIERS), sort=False)[QUASI_IDENTIFIERS[0]].transform("size").astype("int64")


def assign_levels(frame: pd.DataFrame, k: int) -> pd.Series:
    """Per row: the name of the first ladder level at which its class has >= k rows, or SUPPRESSED.

    Classes at a level are counted among the rows still unplaced, so every released class is made
    of rows released together and has at least k of them.
    """
    _check_k(k)
    levels = pd.Series(SUPPRESSED, index=frame.index, dtype=object)
    pending = pd.Series(True, index=frame.index)
    for level in LADDER:
        if not pending.any():
            break
        sizes = class_sizes(released_at(frame[pending], level))
        placed = sizes.index[sizes >= k]
        levels[placed] = level.name
        pending[placed] = False
    return levels


def apply_levels(frame: pd.DataFrame, levels: pd.Series) -> pd.DataFrame:
    """``frame`` with each row's withheld columns blanked and suppressed rows dropped."""
    out = frame[levels != SUPPRESSED].copy()
    kept_levels = levels[out.index]
    for level in LADDER:
        rows = kept_levels.index[kept_levels == level.name]
        for column in BIRTH_COLUMNS + POSTCODE_COLUMNS:
            if column not in level.birth + level.postcode:
                out.loc[rows, column] = None
    return out


def k_anonymise(frame: pd.DataFrame, k: int = DEFAULT_K) -> tuple[pd.DataFrame, KAnonymityReport]:
    """Generalise ``frame`` (every ``QUASI_IDENTIFIERS`` column at full detail) to k-anonymity.

    Returns the released rows (other columns untouched) and the report for the manifest.
    """
    levels = assign_levels(frame, k)
    released = apply_levels(frame, levels)
    sizes = class_sizes(released)
    counts = levels.value_counts()
    return released, KAnonymityReport(
        k=k, rows_in=len(frame), rows_out=len(released),
        rows_by_level={level.name: int(counts.get(level.name, 0)) for level in LADDER},
        suppressed_rows=int(counts.get(SUPPRESSED, 0)),
        min_class_size=int(sizes.min()) if len(sizes) else None,
        classes=int(released[list(QUASI_IDENTIFIERS)].astype(object).fillna("\x00").drop_duplicates().shape[0]),
    )


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a whole number of at least 1, not {k!r}")
