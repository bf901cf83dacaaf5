"""A vendor route's records as fetched (``Snapshot``), and the raw extract built from them.

Kept apart from ``base.py`` so that ``incremental.py`` (which merges snapshots night to night) and
``base.py`` (which calls it) do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..canonical import BOOKKEEPING_COLUMNS, RAW_COLUMNS, TABLES
from ..extract import RawExtract
from .records import ID_KEY, Records

STUDENT_KEY = "_student"  # a mark's or exclusion's vendor pupil id, turned into the UPN when building


@dataclass
class Snapshot:
    """One school's records as a vendor gave them, mapped to raw rows and keyed by vendor record id.

    Rows hold the canonical raw columns (text) plus ``_source`` (the endpoint path); marks and
    exclusions may hold ``_student`` (the vendor pupil id) instead of a UPN; a route's pupil rows may
    hold what it counts night-dependent values from (Wonde: ``_cohort_periods``), kept in the mirror and
    left out of the raw extract (``build_raw`` takes only the raw columns). The marks, almost all of
    a school's records, are held column by column (``records.Records``); pupils and exclusions, a few
    hundred, as a dict of rows. ``watermark`` is what the vendor needs to list changes since this
    snapshot (empty when it cannot).
    """

    pupils: dict[str, dict] = field(default_factory=dict)
    attendance: Records = field(default_factory=Records)
    exclusions: dict[str, dict] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    watermark: dict[str, Any] = field(default_factory=dict)

    def records(self, name: str) -> Records:
        """A table as ``Records``, whichever way it is held."""
        table = getattr(self, name)
        return table if isinstance(table, Records) else Records.from_rows(table)


def build_raw(snapshot: Snapshot) -> RawExtract:
    """A snapshot -> the raw extract the pipeline validates (vendor pupil ids resolved to UPNs).

    Built column by column: a value repeated over many records (a date, a code, a pupil's UPN) is one
    ``str`` object, not one per record."""
    upn_of = {pid: row.get("upn") for pid, row in snapshot.pupils.items()}
    tables = {table: _raw_table(snapshot.records(table), RAW_COLUMNS[table], upn_of, snapshot.sources.get(table, ""))
              for table in TABLES}
    return RawExtract(tables=tables, sources=dict(snapshot.sources))


def _raw_table(records: Records, columns: list[str], upn_of: dict[str, Any], default_source: str) -> pd.DataFrame:
    data = {}
    for name in columns:
        if name == "upn" and STUDENT_KEY in records.fields:  # the UPN of the vendor's pupil id where none is given
            from_student = records.mapped(STUDENT_KEY, lambda student: upn_of.get(student))
            given = records.objects("upn") if "upn" in records.fields else None
            data[name] = from_student if given is None else np.where(pd.isna(given), from_student, given)
        else:
            data[name] = records.objects(name)
    sources = records.objects("_source")
    sources[pd.isna(sources) | (sources == "")] = default_source
    data["_source"], data["_line"] = sources, _line_numbers(sources)
    # Not consolidated into one block (``copy=False``): no second copy of the columns while building.
    return pd.DataFrame(data, columns=columns + BOOKKEEPING_COLUMNS, copy=False)


def _line_numbers(sources: np.ndarray) -> np.ndarray:
    """Each record's number within its source, from 1 (the raw frames' ``_line``: an integer here, not
    a text per record, which would cost more than the record)."""
    lines = np.zeros(len(sources), dtype=np.int64)
    for source in dict.fromkeys(sources):
        where = np.flatnonzero(sources == source)
        lines[where] = np.arange(1, len(where) + 1)
    return lines


__all__ = ["ID_KEY", "STUDENT_KEY", "Snapshot", "build_raw"]
