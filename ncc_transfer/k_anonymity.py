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
(``postcode_sector``, ``postcode_district``, ``postcode_area``). Analysts need the school and year
group most, so those are never generalised, then sex; the date of birth and the postcode give way first.
Not treated as quasi-identifiers: enrolment status, entry and leaving dates, extract time (school
events, not facts a neighbour knows; see docs/hardening.md), and the cohort flags (``sen_provision``,
``fsm_eligible``, ...): they are the sensitive attributes the analysis is about, released as they are
within classes of at least k (docs/data_protection.md).

The ladder (``LADDER``): each level coarsens one field, and each level's classes nest inside the next
level's. A row is released at the finest level its class allows (``assign_levels``: top-down, so the
pupils left over at a level are kept together at the coarser one rather than stranded):

====================  ==================================  ==========================  ========
level                 date of birth                       postcode                    sex
====================  ==================================  ==========================  ========
``month_sector``      month (``dob_month``) and cohort    sector, district, area      given
``month_district``    month and cohort                    district, area              given
``cohort_district``   cohort (``birth_cohort``) only      district, area              given
``cohort_area``       cohort only                         area ('NR') only            given
``cohort``            cohort only                         withheld                    given
``year_group``        withheld                            withheld                    given
``school_year``       withheld                            withheld                    withheld
====================  ==================================  ==========================  ========

``birth_cohort`` is the academic year of birth (1 September to 31 August, e.g. '2015/16'), the cohort
a pupil's NC year normally follows. Only a row in a class under k at ``school_year`` (a year group of
fewer than k pupils at that school) is suppressed: dropped from the pupils table, so every row left
keeps its school and year group. Its rows in the views stay (they hold no date of birth, sex or
postcode; ``pseudonymise`` withholds the one derived field, the age).
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
KEPT_COLUMNS = ("school_key", "laestab", "nc_year")  # never generalised
QUASI_IDENTIFIERS = KEPT_COLUMNS + ("sex",) + BIRTH_COLUMNS + POSTCODE_COLUMNS
_LADDER_COLUMNS = ("sex",) + BIRTH_COLUMNS + POSTCODE_COLUMNS  # what a level may withhold
SUPPRESSED = "suppressed"

_POSTCODE = re.compile(r"^(([A-Z]{1,2})[0-9][A-Z0-9]?)([0-9])[A-Z]{2}$")


@dataclass(frozen=True)
class Level:
    """One rung: which birth and postcode columns are released (finer ones are blanked), and sex."""

    name: str
    birth: tuple[str, ...]
    postcode: tuple[str, ...]
    sex: bool = True

    @property
    def released(self) -> tuple[str, ...]:
        return (("sex",) if self.sex else ()) + self.birth + self.postcode


LADDER: tuple[Level, ...] = (
    Level("month_sector", ("dob_month", "birth_cohort"), POSTCODE_COLUMNS),
    Level("month_district", ("dob_month", "birth_cohort"), ("postcode_district", "postcode_area")),
    Level("cohort_district", ("birth_cohort",), ("postcode_district", "postcode_area")),
    Level("cohort_area", ("birth_cohort",), ("postcode_area",)),
    Level("cohort", ("birth_cohort",), ()),
    Level("year_group", (), ()),
    Level("school_year", (), (), sex=False),
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
            "ladder": [{"level": lv.name, "released": list(lv.released)} for lv in LADDER],
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
    for column in _LADDER_COLUMNS:
        if column not in level.released:
            out[column] = None
    return out


def class_sizes(released: pd.DataFrame) -> pd.Series:
    """Per row: how many rows share all its quasi-identifier values (blank counts as a value)."""
    if not len(released):
        return pd.Series(dtype="int64", index=released.index)
    keys = released[list(QUASI_IDENTIFIERS)].astype(object).fillna("\x00")
    return keys.groupby(list(QUASI_IDENTIFIERS), sort=False)[QUASI_IDENTIFIERS[0]].transform("size").astype("int64")


def _class_keys(released: pd.DataFrame) -> list[tuple]:
    """Per row: its quasi-identifier values as a tuple (blank as '\\x00', so keys sort and compare)."""
    values = released[list(QUASI_IDENTIFIERS)].astype(object).where(released.notna(), "\x00").astype(str)
    return list(values.itertuples(index=False, name=None))


def _groups(keys: list[tuple], rows: list[int]) -> list[tuple[tuple, list[int]]]:
    """``rows`` grouped by their key, in key order: [(key, rows)]."""
    by_key: dict[tuple, list[int]] = {}
    for row in rows:
        by_key.setdefault(keys[row], []).append(row)
    return sorted(by_key.items())


def assign_levels(frame: pd.DataFrame, k: int) -> pd.Series:
    """Per row: the name of the finest ladder level it is released at, or SUPPRESSED.

    Top-down over the ladder's nested classes (each level's class lies inside one class of the next
    level). A class of the coarsest level (school and NC year) under k is suppressed. A class of at
    least k is split into its classes one level finer: those of at least k are split further; the
    rest (the residue) stay at this level, together. A residue of 1 to k-1 rows would be a class under
    k, so it is topped up to k (``_top_up``). Rows are taken in ``frame``'s order where a choice is
    needed (the export sorts by school and pupil_id, a keyed hash: no order that means anything).
    """
    check_k(k)
    keys = [_class_keys(released_at(frame, level)) for level in LADDER]
    names = [SUPPRESSED] * len(frame)
    coarsest = len(LADDER) - 1
    todo = [(coarsest, rows) for _, rows in _groups(keys[coarsest], list(range(len(frame)))) if len(rows) >= k]
    while todo:
        depth, rows = todo.pop()
        for row in rows:
            names[row] = LADDER[depth].name
        if depth == 0:
            continue
        finer = [g_rows for _, g_rows in _groups(keys[depth - 1], rows)]
        split = [g for g in finer if len(g) >= k]
        residue = sum(len(g) for g in finer if len(g) < k)
        if 0 < residue < k:
            split = _top_up(split, residue, k, keys[depth - 2] if depth >= 2 else None)
        todo.extend((depth - 1, g) for g in split)
    return pd.Series(names, index=frame.index, dtype=object)


def _top_up(split: list[list[int]], residue: int, k: int, finer_keys: list[tuple] | None) -> list[list[int]]:
    """The finer classes left to split once a residue of ``residue`` (< k) rows is topped up to k.

    The largest finer class that can spare the missing rows and keep k gives them: the rows of its
    smallest classes one level further down (those most likely to be coarsened anyway), ties in
    row order. When none can spare them, whole classes join the residue, smallest first.
    """
    need = k - residue
    by_size = sorted(split, key=len, reverse=True)
    if by_size and len(by_size[0]) - need >= k:
        donor = by_size[0]
        sizes = {}
        if finer_keys is not None:
            for row in donor:
                sizes[finer_keys[row]] = sizes.get(finer_keys[row], 0) + 1
        order = sorted(donor, key=lambda row: (sizes.get(finer_keys[row], 0) if finer_keys else 0, row))
        given = set(order[:need])
        return [[row for row in donor if row not in given]] + by_size[1:]
    remaining = sorted(split, key=len)
    while residue < k and remaining:
        residue += len(remaining.pop(0))
    return remaining


def apply_levels(frame: pd.DataFrame, levels: pd.Series) -> pd.DataFrame:
    """``frame`` with each row's withheld columns blanked and suppressed rows dropped."""
    out = frame[levels != SUPPRESSED].copy()
    kept_levels = levels[out.index]
    for level in LADDER:
        rows = kept_levels.index[kept_levels == level.name]
        for column in _LADDER_COLUMNS:
            if column not in level.released:
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


def check_k(k: int) -> None:
    """ValueError unless ``k`` is a whole number of at least 1."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a whole number of at least 1, not {k!r}")
