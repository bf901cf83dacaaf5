"""Row ceilings per dataset: an extract with more rows than any school can have is refused before
validation, so one broken or hostile export cannot cost more than a real school (docs/hardening.md,
"Bounded cost per school"). The ceilings and their reasoning: ``config.DEFAULT_MAX_ROWS``.

The school fails with an ``ExtractFileError`` naming the file and the count; its last good load stays.
"""

from __future__ import annotations

import csv
import io

from ..canonical import TABLES
from ..config import MAX_ROWS_VARIABLES, max_rows
from ..extract import ExtractFileError

_WHAT = {"pupils": "pupils", "attendance": "attendance marks", "exclusions": "exclusion records"}


def too_many_rows(table: str, rows: int) -> str:
    """The problem text: '... has 1,000,000 rows; a school has at most 10,000 pupils (NCC_MAX_PUPILS): ...'."""
    return (f"the file has {rows:,} rows; a school has at most {max_rows(table):,} {_WHAT[table]} "
            f"({MAX_ROWS_VARIABLES[table]}): check the export")


def check_csv_rows(text: str, file_name: str, table: str) -> None:
    """Refuse a CSV extract with more records than the ceiling, before it is parsed into columns.

    Counting lines is enough when there are few (a record takes at least one line); otherwise the
    records are counted exactly, one at a time, without keeping them (a quoted field may span lines).
    """
    ceiling = max_rows(table)
    if text.count("\n") <= ceiling:  # header + at most ``ceiling`` records
        return
    try:
        records = sum(1 for record in csv.reader(io.StringIO(text, newline=""), strict=False) if any(record))
    except csv.Error:
        return  # the reader names the unreadable line
    if records - 1 > ceiling:
        raise ExtractFileError(file_name, None, too_many_rows(table, records - 1))


def check_row_ceilings(tables: dict, sources: dict[str, str]) -> None:
    """Refuse an extract (any route: CTF, vendor API) with a table over its ceiling."""
    for table in TABLES:
        frame = tables.get(table)
        if frame is not None and len(frame) > max_rows(table):
            raise ExtractFileError(sources.get(table) or table, None, too_many_rows(table, len(frame)))
