"""The files route's CSV extracts: ``pupils.csv``, ``attendance.csv``, ``exclusions.csv`` (docs/files_route.md,
"The files a school sends").

Everything is read as text, exactly as supplied (empty → None). The header names the columns with the
canonical names of :data:`ncc_transfer.canonical.RAW_COLUMNS` (case-insensitive, surrounding spaces
ignored). The school identity columns ``laestab``, ``urn`` and ``school_key`` are allowed and dropped (the
folder names the school), but only after checking them: a value that names another school (a LAESTAB, or
a partition key's LAESTAB, other than the folder's; a URN other than the registry's, when the registry
gives one) refuses the file, naming the line and the column, so another school's export in this folder
never replaces this school's load. Blank identity cells are allowed. Unknown
columns are dropped with a warning that names the header cell only in the school's own report (a cell
can hold pupil data pasted into the header): logs get the count. Missing required columns are
reported by the later structural check, not here.

The reader is the standard library's ``csv`` module (it knows on which physical line each record
starts, which pandas does not when a quoted field spans lines), with the per-column work done on
whole columns (a year of attendance for a large school is ~760,000 records: about 1.5 s). Sizes are
bounded by the file limit, the csv module's field limit (131,072), :data:`MAX_FIELD_CHARS` and the
row ceilings (``ceilings.check_csv_rows``: an absurd row count is refused before records are built).
Records whose field count differs from the header's are refused, naming the line.
"""

from __future__ import annotations

import codecs
import csv
import gc
import io
import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from ..canonical import BOOKKEEPING_COLUMNS, RAW_COLUMNS, REQUIRED_COLUMNS
from ..validation.text_hygiene import escape_control_characters
from .ceilings import check_csv_rows
from ..extract import ExtractFileError, ExtractWarning
from .safe_xml import read_bounded

MAX_FIELD_CHARS = 10_000
IDENTITY_COLUMNS = ("school_key", "laestab", "urn")  # checked against the folder's school, then dropped
IGNORED_COLUMNS = IDENTITY_COLUMNS
LAESTAB_VALUE = re.compile(r"^\d{7}$")
URN_VALUE = re.compile(r"^\d{6,7}$")
SCHOOL_KEY_VALUE = re.compile(r"^(\d{7})-[a-z_]+$")
SHOWN_CELL_CHARS = 100  # an unknown header cell is shown to the school up to this length


def _decode(data: bytes, file_name: str) -> str:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ExtractFileError(
            file_name, f"line {line}", f"not valid UTF-8 at line {line}: save the file as UTF-8"
        ) from None


def _header(cells: list[str], file_name: str, table: str,
            where: str) -> tuple[list[int], list[str], list[ExtractWarning]]:
    """(positions kept, their canonical names, warnings) from the header row (at ``where``)."""
    known = RAW_COLUMNS[table]
    names = [cell.strip().lower() for cell in cells]
    recognised = [n for n in names if n in known or n in IGNORED_COLUMNS]
    if not recognised:
        raise ExtractFileError(
            file_name,
            where,
            "the first line is not a header row of column names (expected names such as "
            + ", ".join(REQUIRED_COLUMNS[table])
            + "): add a header row",
        )
    seen: set[str] = set()
    positions: list[int] = []
    kept: list[str] = []
    unknown: list[int] = []
    for position, name in enumerate(names):
        if name in seen and (name in known or name in IGNORED_COLUMNS):
            raise ExtractFileError(
                file_name, where, f"column '{name}' appears more than once in the header: keep one"
            )
        seen.add(name)
        if name in IGNORED_COLUMNS:
            continue
        if name in known:
            positions.append(position)
            kept.append(name)
            continue
        unknown.append(position)
    return positions, kept, _unknown_column_warnings(file_name, cells, unknown)


def _unknown_column_warnings(file_name: str, cells: list[str], unknown: list[int]) -> list[ExtractWarning]:
    """One warning per unknown or unnamed header cell (0-based ``unknown`` positions). The cell goes
    only to the school's report, as the issue's value; the log line, shared by all of them, counts."""
    if not unknown:
        return []
    plural = "" if len(unknown) == 1 else "s"
    log_text = f"{file_name}: {len(unknown)} unknown column{plural} ignored (listed in the school's report)"
    warnings = []
    for position in unknown:
        cell = cells[position].strip()
        if cell:
            report_text = f"{file_name}: column {position + 1}'s header is not a known column name, so the column was ignored"
        else:
            report_text = f"{file_name}: column {position + 1} has no header, so the column was ignored"
        shown = escape_control_characters(cell if len(cell) <= SHOWN_CELL_CHARS else cell[:SHOWN_CELL_CHARS] + "…")
        warnings.append(ExtractWarning(log_text, report_text, shown or None))
    return warnings


def read_extract_csv(path: Path, table: str, laestab: str | None = None,
                     urn: str | None = None) -> tuple[pd.DataFrame, list[ExtractWarning]]:
    """Read one CSV extract into a raw frame (only the known columns present, plus ``_source``/``_line``).

    ``laestab`` (and ``urn``, when the registry gives one): the folder's school, checked against any
    identity column; None skips that check (a reader outside a school's folder)."""
    if table not in RAW_COLUMNS:
        raise ValueError(f"unknown table {table!r}")
    with _no_cyclic_gc():
        return _read(path, table, laestab, urn)


def _identity_problem(column: str, value: str, laestab: str, urn: str | None) -> str | None:
    """Why one identity cell (stripped, not blank) does not name the folder's school; None if it does.
    A value is quoted only when it has the shape of a school number (a cell can hold pasted pupil data)."""
    move = "move the file to that school's folder"
    if column == "laestab":
        if value == laestab:
            return None
        if LAESTAB_VALUE.match(value):
            return f"laestab {value} is another school's; this folder is {laestab}'s — {move}"
        return f"the laestab column does not hold a 7-digit LAESTAB; this folder is {laestab}'s — correct or remove the column"
    if column == "school_key":
        match = SCHOOL_KEY_VALUE.match(value)
        if match and match.group(1) == laestab:
            return None
        if match:
            return f"school_key {value} is another school's; this folder is {laestab}'s — {move}"
        return f"the school_key column does not hold a school key such as {laestab}-files — correct or remove the column"
    if urn is None or value == urn:  # urn: compared only when the registry gives the school's URN
        return None
    if URN_VALUE.match(value):
        return f"urn {value} is another school's; this folder is URN {urn}'s (LAESTAB {laestab}) — {move}"
    return f"the urn column does not hold a 6-digit URN; this folder is URN {urn}'s — correct or remove the column"


def _check_identity(file_name: str, header: list[str], by_position: list[tuple], lines: np.ndarray,
                    laestab: str, urn: str | None) -> None:
    """Refuse the file at the first identity cell that names another school (each distinct value once)."""
    names = [cell.strip().lower() for cell in header]
    for position, name in enumerate(names):
        if name not in IDENTITY_COLUMNS or not by_position or position >= len(by_position):
            continue
        values = by_position[position]
        wrong = {v: problem for v in set(values)
                 if v.strip() and (problem := _identity_problem(name, v.strip(), laestab, urn))}
        if wrong:
            row = next(i for i, v in enumerate(values) if v in wrong)
            raise ExtractFileError(file_name, f"line {lines[row]}", wrong[values[row]])


def _read(path: Path, table: str, laestab: str | None = None,
          urn: str | None = None) -> tuple[pd.DataFrame, list[ExtractWarning]]:
    file_name = path.name
    text = _decode(read_bounded(path, file_name), file_name)
    if not text.strip():
        raise ExtractFileError(file_name, None, "the file is empty: expected a header row and one row per record")
    check_csv_rows(text, file_name, table)  # refuse an absurd row count before building any record

    records, lines = _records(text, file_name)
    widths = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
    # Blank lines give [] (or one empty field); the first other record is the header.
    blank = widths == 0
    for i in np.flatnonzero(widths == 1):
        blank[i] = not records[i][0].strip()
    real = np.flatnonzero(~blank)
    if not len(real):
        raise ExtractFileError(file_name, None, "the file is empty: expected a header row and one row per record")
    header_at = int(real[0])
    header = records[header_at]
    width = len(header)
    positions, columns, warnings = _header(header, file_name, table, f"line {lines[header_at]}")
    body = real[1:]
    wrong = body[widths[body] != width]
    if len(wrong):
        index = int(wrong[0])
        raise ExtractFileError(
            file_name,
            f"line {lines[index]}",
            f"the record has {widths[index]} fields but the header has {width} columns: "
            "check for a missing or extra comma, or a value with a comma that is not in quotes",
        )
    if len(body) == len(records) - header_at - 1:
        records, lines = records[header_at + 1 :], lines[header_at + 1 :]
    else:  # blank lines among the records
        records, lines = [records[i] for i in body], lines[body]

    count = len(records)
    by_position = list(zip(*records)) if records else [() for _ in header]
    if laestab is not None:
        _check_identity(file_name, header, by_position, lines, laestab, urn)
    data: dict[str, np.ndarray] = {}
    for position, name in zip(positions, columns):
        values = by_position[position]
        if values and max(map(len, values)) > MAX_FIELD_CHARS:
            row = next(i for i, v in enumerate(values) if len(v) > MAX_FIELD_CHARS)
            raise ExtractFileError(
                file_name,
                f"line {lines[row]}",
                f"the value in column '{name}' is longer than {MAX_FIELD_CHARS:,} characters",
            )
        column = np.empty(count, dtype=object)
        column[:] = values
        column[column == ""] = None
        data[name] = column
    order = [c for c in RAW_COLUMNS[table] if c in data]
    data["_source"] = np.full(count, file_name, dtype=object)
    data["_line"] = np.asarray(lines).astype(str).astype(object)
    return pd.DataFrame(data, columns=order + BOOKKEEPING_COLUMNS), warnings


def _records(text: str, file_name: str) -> tuple[list[list[str]], np.ndarray]:
    """Every CSV record (blank lines included, as []) and the physical line each starts on."""
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=False)
        records = list(reader)
        if reader.line_num == len(records):  # one line per record (no quoted line breaks): line = position
            return records, np.arange(1, len(records) + 1)
        reader = csv.reader(io.StringIO(text, newline=""), strict=False)
        records, lines, previous = [], [], 0
        for record in reader:
            records.append(record)
            lines.append(previous + 1)
            previous = reader.line_num
        return records, np.asarray(lines, dtype=np.int64)
    except csv.Error as exc:
        problem = "the line contains a NUL character" if "NUL" in str(exc) else str(exc).split(":")[0]
        raise ExtractFileError(file_name, f"line {reader.line_num}", f"not a readable CSV record ({problem})") from None


@contextmanager
def _no_cyclic_gc():
    """Pause the cyclic garbage collector: building hundreds of thousands of small lists would
    otherwise trigger it over and over (each pass walking every list so far), doubling the time.
    Nothing built here forms a cycle, so reference counting alone frees it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
