"""Attendance mark rules, vectorised over every mark and reported per (pupil, rule, value).

A school sends hundreds of thousands of marks; one wrong code mapping can touch thousands of them.
Each rule is a boolean mask; flagged marks are grouped by (UPN, rule, value) into one issue that
counts them and gives their date range and file lines. Marks are handled as integer codes into
their distinct UPNs, dates, sessions and codes (``_Marks``): no per-mark Python objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ncc_transfer.canonical import ATTENDANCE_COLUMNS, text_array
from ncc_transfer.reference.attendance_codes import (
    ALL_CODES,
    CATEGORIES_2024,
    CLOSURE,
    CODE_SET_CHANGE,
    NO_MARK,
    PRE_2024_CATEGORIES,
)
from ncc_transfer.validation.common import (
    ISSUE_COLUMNS,
    SESSIONS,
    Coded,
    coded,
    empty_issues,
    iso,
    location,
    long_date,
    parse_date_table,
    quoted,
    raw_column,
    upper_or_none,
)
from ncc_transfer.validation.pupils import Roster, normalise_upn
from ncc_transfer.validation.rules import ERROR, rule

DATASET = "attendance"


@dataclass
class AttendanceResult:
    table: pd.DataFrame
    issues: pd.DataFrame


def _normalise_code(value: str) -> str:
    return value.strip().upper() or NO_MARK  # a blank mark is treated as '-' (no mark recorded)


@dataclass
class _Marks:
    """The marks (closures dropped) as per-mark codes into small per-value tables.

    A register has few distinct UPNs, dates, sessions and codes, so every normalisation and lookup
    is done once per distinct value and spread to the marks by integer indexing. Each table has one
    extra last entry for a missing value, which is where the code -1 (null) points.
    """

    rows: np.ndarray  # per mark: its row in the raw frame
    upn: Coded
    date: Coded
    session: Coded
    code: Coded
    upn_value: np.ndarray  # per distinct raw UPN: the normalised UPN (None when blank)
    day: np.ndarray  # per distinct raw date: datetime64[ns] (NaT when blank or not a date)
    session_value: np.ndarray  # per distinct raw session: stripped, upper case (None when blank)
    code_value: np.ndarray  # per distinct raw code: normalised ('-' when blank)

    def per_mark(self, column: str, table: np.ndarray) -> np.ndarray:
        return table[getattr(self, column).codes]


def _prepare(raw: pd.DataFrame) -> _Marks:
    code = coded(raw_column(raw, "code"))
    code_value = code.table(_normalise_code, NO_MARK)
    rows = np.flatnonzero(code_value[code.codes] != CLOSURE)  # closures / non-school days carry no information
    upn, date, session = (coded(raw_column(raw, c)).take(rows) for c in ("upn", "date", "session"))
    return _Marks(rows=rows, upn=upn, date=date, session=session, code=code.take(rows),
                  upn_value=upn.table(normalise_upn, None), day=parse_date_table(date.uniques),
                  session_value=session.table(upper_or_none, None), code_value=code_value)


def _flags(marks: _Marks, roster: Roster, as_of: date) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """rule -> (mask of flagged marks, values, keys): the value of mark i is ``values[keys[i]]``.

    Marks of rejected pupils are not flagged.
    """
    upns = pd.Series(marks.upn_value, dtype=object)
    no_upn_u = upns.isna().to_numpy()
    unknown_u = ~no_upn_u & ~upns.isin(roster.supplied).to_numpy()
    checked_u = ~no_upn_u & ~unknown_u & ~upns.isin(roster.rejected).to_numpy()
    entry_u = _dates_by_upn(upns, roster.entry_date)
    leaving_u = _dates_by_upn(upns, roster.leaving_date)
    codes = marks.code_value
    known_u = np.array([c in ALL_CODES for c in codes], dtype=bool)
    valid_new_u = np.array([c in CATEGORIES_2024 for c in codes], dtype=bool)
    valid_old_u = np.array([c in PRE_2024_CATEGORIES for c in codes], dtype=bool)
    no_mark_u = codes == NO_MARK

    u, c = marks.upn.codes, marks.code.codes
    day = marks.day[marks.date.codes]
    entry, leaving = entry_u[u], leaving_u[u]
    no_upn, unknown, checked = no_upn_u[u], unknown_u[u], checked_u[u]
    dated = checked & ~np.isnat(day)
    known = known_u[c]
    new_set = day >= np.datetime64(CODE_SET_CHANGE, "ns")  # NaT compares False (such marks are not dated)
    valid_on_date = np.where(new_set, valid_new_u[c], valid_old_u[c])
    real_mark = dated & ~no_mark_u[c]
    after_extract = real_mark & (day > np.datetime64(as_of, "ns"))  # a session that has not happened yet
    before_entry = real_mark & (day < entry)
    after_leaving = real_mark & (day > leaving) & ~after_extract  # one issue per mark: the date is the problem
    session_ok_u = np.isin(marks.session_value, SESSIONS)

    raw_upn = marks.upn.uniques
    flags = {
        "upn_missing": (no_upn, raw_upn, u),
        "upn_not_in_pupils": (unknown, marks.upn_value, u),
        "date_not_a_date": (checked & np.isnat(day), marks.date.uniques, marks.date.codes),
        "session_invalid": (checked & ~session_ok_u[marks.session.codes], marks.session.uniques, marks.session.codes),
        "code_unknown": (checked & ~known, codes, c),
        "code_not_valid_on_date": (dated & known & ~valid_on_date, codes, c),
        "mark_before_entry": (before_entry, _iso_dates(entry_u), u),
        "mark_after_leaving": (after_leaving, _iso_dates(leaving_u), u),
        "mark_after_extract": (after_extract, np.array([as_of.isoformat()], dtype=object),
                               np.zeros(len(day), dtype=np.int64)),
    }
    errors = np.logical_or.reduce([mask for mask, _, _ in flags.values()])
    in_enrolment = ~(day < entry) & ~(day > leaving)
    flags["no_mark"] = (dated & ~errors & no_mark_u[c] & (day < np.datetime64(as_of, "ns")) & in_enrolment, codes, c)
    return flags


def _dates_by_upn(upns: pd.Series, dates: pd.Series) -> np.ndarray:
    """Per distinct UPN: its date from ``dates`` (indexed by UPN), NaT when none."""
    if not len(dates):
        return np.full(len(upns), np.datetime64("NaT"), dtype="datetime64[ns]")
    return pd.to_datetime(upns.map(dates)).to_numpy(dtype="datetime64[ns]")


def _iso_dates(days: np.ndarray) -> np.ndarray:
    """YYYY-MM-DD text of each date (None for NaT)."""
    return np.array([None if np.isnat(d) else pd.Timestamp(d).strftime("%Y-%m-%d") for d in days], dtype=object)


def _marks_phrase(n: int, first, last) -> str:
    noun = "session mark" if n == 1 else "session marks"
    if pd.isna(first):
        return f"{n} {noun}"
    if first == last:
        return f"{n} {noun} on {iso(first)}"
    return f"{n} {noun} between {iso(first)} and {iso(last)}"


def _message(rule_name: str, value: str, n: int, first, last) -> str:
    marks = _marks_phrase(n, first, last)
    one = n == 1

    def verb(singular: str, plural: str) -> str:
        return singular if one else plural

    register = "in the attendance register"
    if rule_name == "upn_missing":
        return f"{marks} {verb('has', 'have')} no UPN — check that your MIS attendance export includes each pupil's UPN"
    if rule_name == "upn_not_in_pupils":
        return (f"{marks} {verb('is', 'are')} for UPN {quoted(value)}, which is not among the pupil records "
                f"sent — include the pupil in the pupil export, or correct the UPN in the pupil's record "
                f"(Basic details)")
    if rule_name == "date_not_a_date":
        what = "no date" if value == "" else f"the date {quoted(value)}, which is not a real date"
        return f"{marks} {verb('has', 'have')} {what} — correct the date {register} (dates are written YYYY-MM-DD)"
    if rule_name == "session_invalid":
        what = "no session" if value == "" else f"session {quoted(value)}"
        return (f"{marks} {verb('has', 'have')} {what} — each mark must be for the AM or PM session; "
                f"correct {verb('it', 'them')} {register}")
    if rule_name == "code_unknown":
        return (f"{marks} {verb('uses', 'use')} code {quoted(value)}, which is not a statutory attendance code — "
                f"map your MIS code to a statutory code (attendance code set-up) or change the marks {register}")
    if rule_name == "code_not_valid_on_date":
        if value in PRE_2024_CATEGORIES and value not in CATEGORIES_2024:
            return (f"{marks} {verb('uses', 'use')} code {quoted(value)}, which is not a valid code since "
                    f"{long_date(CODE_SET_CHANGE)} — change {verb('it', 'them')} to the right code of the 2024 "
                    f"code set {register}")
        return (f"{marks} {verb('uses', 'use')} code {quoted(value)}, which only came into use on "
                f"{long_date(CODE_SET_CHANGE)} — change {verb('it', 'them')} to the right pre-2024 code {register}")
    if rule_name == "mark_before_entry":
        return (f"{marks} {verb('is', 'are')} dated before the pupil's entry date {value} — correct the entry date "
                f"in the pupil's record (Registration details) or remove the {verb('mark', 'marks')} {register}")
    if rule_name == "mark_after_leaving":
        return (f"{marks} {verb('is', 'are')} dated after the pupil's leaving date {value} — correct the leaving date "
                f"in the pupil's record (Registration details) or remove the {verb('mark', 'marks')} {register}")
    if rule_name == "mark_after_extract":
        return (f"{marks} {verb('is', 'are')} dated after {long_date(value)}, the night this data was collected "
                f"— a mark can only be recorded for a session that has happened: check the date "
                f"{register} (often a mistyped year); {verb('it was', 'they were')} not loaded, and a mark "
                f"entered in advance is collected once the day has passed")
    if rule_name == "no_mark":
        return (f"{marks} {verb('has', 'have')} no mark recorded ('-') — record the missing "
                f"{verb('mark', 'marks')} {register}")
    raise KeyError(rule_name)


_RECORD_IS_VALUE = {"date_not_a_date", "session_invalid", "code_unknown", "code_not_valid_on_date", "no_mark"}


def _text_or_blank(value) -> str:
    """A raw ``_line`` as text ("" when missing; a vendor record's number is an integer)."""
    return "" if value is None or pd.isna(value) else str(value)


def _source_location(source: str, first_line: str, last_line: str) -> str:
    """'attendance.csv lines 40-51' for numeric lines, else 'ctf.xml pupil 7 to pupil 9'."""
    if first_line == last_line:
        return location(source, first_line)
    if first_line.isdigit() and last_line.isdigit():
        return location(source, "") + (" " if source else "") + f"lines {first_line}-{last_line}"
    return f"{location(source, first_line)} to {last_line}"


def _aggregate(raw: pd.DataFrame, marks: _Marks, flags: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
               ) -> pd.DataFrame:
    """One issue per (UPN, rule, value): count, date range and lines of the flagged marks."""
    parts = []
    for rule_name, (mask, values, keys) in flags.items():
        if mask.any():
            pos = np.flatnonzero(mask)
            parts.append(pd.DataFrame({
                "upn": marks.upn_value[marks.upn.codes[pos]],
                "date": marks.day[marks.date.codes[pos]],
                "_source": raw_column(raw, "_source")[marks.rows[pos]],
                "rule": rule_name,
                "value": values[keys[pos]],
                "_pos": pos,
            }))
    if not parts:
        return empty_issues()
    flagged = pd.concat(parts, ignore_index=True)
    for column in ("upn", "_source", "value"):
        flagged[column] = flagged[column].fillna("")
    keys = ["upn", "rule", "value"]

    # Marks come in file order, so a group's first and last positions give its line range.
    per_source = flagged.groupby(keys + ["_source"], sort=False).agg(
        n=("_pos", "size"), first=("date", "min"), last=("date", "max"),
        first_pos=("_pos", "min"), last_pos=("_pos", "max")).reset_index()
    lines = raw_column(raw, "_line")[marks.rows]
    per_source["where"] = [
        _source_location(source, _text_or_blank(lines[a]), _text_or_blank(lines[b]))
        for source, a, b in per_source[["_source", "first_pos", "last_pos"]].itertuples(index=False)
    ]
    grouped = per_source.groupby(keys, sort=False).agg(
        n=("n", "sum"), first=("first", "min"), last=("last", "max"), where=("where", "; ".join)).reset_index()

    rows = []
    for upn, rule_name, value, n, first, last, where_text in grouped[
            keys + ["n", "first", "last", "where"]].itertuples(index=False):
        entry = rule(DATASET, rule_name)
        rows.append({
            "upn": upn or None,
            "dataset": DATASET,
            "record": value if rule_name in _RECORD_IS_VALUE else "",
            "location": where_text,
            "field": entry.field,
            "value": value,
            "rule": rule_name,
            "severity": entry.severity,
            "message": _message(rule_name, value, int(n), first, last),
        })
    return pd.DataFrame(rows, columns=ISSUE_COLUMNS)


def validate_attendance(raw: pd.DataFrame, roster: Roster, as_of: date) -> AttendanceResult:
    """Check every mark; the table holds the loaded marks with canonical text (Arrow) and date columns."""
    marks = _prepare(raw)
    flags = _flags(marks, roster, as_of)
    issues = _aggregate(raw, marks, flags)

    rejected_u = pd.Series(marks.upn_value, dtype=object).isin(roster.rejected).to_numpy()
    dropped = rejected_u[marks.upn.codes]
    for rule_name, (mask, _, _) in flags.items():
        if rule(DATASET, rule_name).severity == ERROR:
            dropped |= mask
    kept = np.flatnonzero(~dropped)
    table = pd.DataFrame({
        "upn": text_array(marks.upn_value, marks.upn.codes[kept]),
        "date": marks.day[marks.date.codes[kept]],
        "session": text_array(marks.session_value, marks.session.codes[kept]),
        "code": text_array(marks.code_value, marks.code.codes[kept]),
    }, columns=ATTENDANCE_COLUMNS)
    return AttendanceResult(table=table, issues=issues)
