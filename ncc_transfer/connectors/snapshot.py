"""A vendor route's records as fetched (``Snapshot``), and the raw extract built from them.

Kept apart from ``base.py`` so that ``incremental.py`` (which merges snapshots night to night) and
``base.py`` (which calls it) do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..canonical import BOOKKEEPING_COLUMNS, RAW_COLUMNS, TABLES
from ..extract import RawExtract

STUDENT_KEY = "_student"  # a mark's or exclusion's vendor pupil id, turned into the UPN when building
ID_KEY = "_id"  # the vendor's record id (the key incremental extraction merges on)


@dataclass
class Snapshot:
    """One school's records as a vendor gave them, mapped to raw rows and keyed by vendor record id.

    Rows hold the canonical raw columns (text) plus ``_source`` (the endpoint path); marks and
    exclusions may hold ``_student`` (the vendor pupil id) instead of a UPN. ``watermark`` is what the
    vendor needs to list changes since this snapshot (empty when it cannot).
    """

    pupils: dict[str, dict] = field(default_factory=dict)
    attendance: dict[str, dict] = field(default_factory=dict)
    exclusions: dict[str, dict] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    watermark: dict[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> dict[str, dict]:
        return getattr(self, name)


def build_raw(snapshot: Snapshot) -> RawExtract:
    """A snapshot -> the raw extract the pipeline validates (vendor pupil ids resolved to UPNs)."""
    upn_of = {pid: row.get("upn") for pid, row in snapshot.pupils.items()}
    tables: dict[str, pd.DataFrame] = {}
    for table in TABLES:
        rows = []
        counters: dict[str, int] = {}
        for row in snapshot.table(table).values():
            row = dict(row)
            student = row.pop(STUDENT_KEY, None)
            if student is not None and "upn" not in row:
                row["upn"] = upn_of.get(str(student))
            source = row.get("_source") or snapshot.sources.get(table, "")
            counters[source] = counters.get(source, 0) + 1
            row["_source"], row["_line"] = source, str(counters[source])
            rows.append(row)
        tables[table] = pd.DataFrame(rows, columns=RAW_COLUMNS[table] + BOOKKEEPING_COLUMNS, dtype=object)
    return RawExtract(tables=tables, sources=dict(snapshot.sources))
