"""Attendance mark rules, vectorised over every mark and reported per (pupil, rule, value).

A school sends hundreds of thousands of marks; one wrong code mapping can touch thousands of them.
Each rule is a boolean mask; flagged marks are grouped by (UPN, rule, value) into one issue that
counts them and gives their date range and file lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ncc_transfer.canonical import ATTENDANCE_COLUMNS
from ncc_transfer.reference.attendance_codes import (
    ALL_CODES,
    CATEGORIES_2024,
    CLOSURE,
    CODE_SET_CHANGE,
    NO_MARK,
    PRE_2024_CATEGORIES,
    category_for,
)
from ncc_transfer.validation.common import (
    ISSUE_COLUMNS,
    SESSIONS,
    empty_issues,
    iso,
    location,
    long_date,
    map_unique,
    parse_dates,
    quoted,
    text_column,
    upper,
)
from ncc_transfer.validation.pupils import Roster, normalise_upn
from ncc_transfer.validation.rules import ERROR, rule

DATASET = "attendance"


@dataclass
class AttendanceResult:
    table: pd.DataFrame
    issues: pd.DataFrame


def _normalise_code(value: str) -> str:
    return value.strip().upper() or NO_MARK  # a blank mark is "no mark" (design §3.5)


def _flags(marks: pd.DataFrame, roster: Roster, as_of: date) -> dict[str, tuple[pd.Series, pd.Series]]:
    """rule -> (mask of flagged marks, value per mark). Marks of rejected pupils are not flagged."""
    upn, code, day, session = marks["upn"], marks["code"], marks["date"], marks["session"]
    no_upn = upn.isna()
    unknown_pupil = ~no_upn & ~upn.isin(roster.supplied)
    checked = ~no_upn & ~unknown_pupil & ~upn.isin(roster.rejected)
    dated = checked & day.notna()
    known_code = code.isin(ALL_CODES)
    entry = upn.map(roster.entry_date) if len(roster.entry_date) else pd.Series(pd.NaT, index=upn.index)
    leaving = upn.map(roster.leaving_date) if len(roster.leaving_date) else pd.Series(pd.NaT, index=upn.index)
    entry, leaving = pd.to_datetime(entry), pd.to_datetime(leaving)
    real_mark = dated & (code != NO_MARK)
    before_entry = real_mark & (day < entry)
    after_leaving = real_mark & (day > leaving)

    flags = {
        "upn_missing": (no_upn, marks["raw_upn"]),
        "upn_not_in_pupils": (unknown_pupil, upn),
        "date_not_a_date": (checked & day.isna(), marks["raw_date"]),
        "session_invalid": (checked & ~session.isin(SESSIONS), marks["raw_session"]),
        "code_unknown": (checked & ~known_code, code),
        "code_not_valid_on_date": (dated & known_code & category_for(code, day).isna(), code),
        "mark_before_entry": (before_entry, _iso_where(entry, before_entry)),
        "mark_after_leaving": (after_leaving, _iso_where(leaving, after_leaving)),
    }
    errors = np.logical_or.reduce([m.to_numpy(dtype=bool) for m, _ in flags.values()])
    in_enrolment = ~(day < entry) & ~(day > leaving)
    flags["no_mark"] = (dated & ~errors & (code == NO_MARK) & (day < pd.Timestamp(as_of)) & in_enrolment, code)
    return flags


def _iso_where(days: pd.Series, mask: pd.Series) -> pd.Series:
    """YYYY-MM-DD text of ``days`` on the flagged rows only (None elsewhere)."""
    text = pd.Series(None, index=days.index, dtype=object)
    if mask.any():
        text[mask] = days[mask].dt.strftime("%Y-%m-%d")
    return text


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
    if rule_name == "no_mark":
        return (f"{marks} {verb('has', 'have')} no mark recorded ('-') — record the missing "
                f"{verb('mark', 'marks')} {register}")
    raise KeyError(rule_name)


_RECORD_IS_VALUE = {"date_not_a_date", "session_invalid", "code_unknown", "code_not_valid_on_date", "no_mark"}


def _source_location(source: str, first_line: str, last_line: str) -> str:
    """'attendance.csv lines 40-51' for numeric lines, else 'ctf.xml pupil 7 to pupil 9'."""
    if first_line == last_line:
        return location(source, first_line)
    if first_line.isdigit() and last_line.isdigit():
        return location(source, "") + (" " if source else "") + f"lines {first_line}-{last_line}"
    return f"{location(source, first_line)} to {last_line}"


def _aggregate(marks: pd.DataFrame, flags: dict[str, tuple[pd.Series, pd.Series]]) -> pd.DataFrame:
    """One issue per (UPN, rule, value): count, date range and lines of the flagged marks."""
    parts = []
    for rule_name, (mask, value) in flags.items():
        if mask.any():
            hit = marks.loc[mask, ["upn", "date", "_source"]]
            hit = hit.assign(rule=rule_name, value=value[mask].astype(object).where(value[mask].notna(), ""),
                             _pos=np.flatnonzero(mask.to_numpy()))
            parts.append(hit)
    if not parts:
        return empty_issues()
    flagged = pd.concat(parts, ignore_index=True)
    flagged["upn"] = flagged["upn"].fillna("")
    flagged["_source"] = flagged["_source"].fillna("")
    keys = ["upn", "rule", "value"]

    # Marks come in file order, so a group's first and last positions give its line range.
    per_source = flagged.groupby(keys + ["_source"], sort=False).agg(
        n=("_pos", "size"), first=("date", "min"), last=("date", "max"),
        first_pos=("_pos", "min"), last_pos=("_pos", "max")).reset_index()
    lines = marks["_line"].fillna("").to_numpy(dtype=object)
    per_source["where"] = [
        _source_location(source, lines[a], lines[b])
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
    code = map_unique(text_column(raw, "code"), _normalise_code).fillna(NO_MARK)
    keep = (code != CLOSURE).to_numpy()  # closures / non-school days carry no information
    raw = raw[keep]
    code = code[keep]

    def column(name: str) -> pd.Series:  # raw text as is (map_unique reads NaN as None)
        return raw[name] if name in raw.columns else pd.Series(None, index=raw.index, dtype=object)

    marks = pd.DataFrame({
        "raw_upn": column("upn"),
        "raw_date": column("date"),
        "raw_session": column("session"),
        "code": code,
        "_source": column("_source"),
        "_line": column("_line"),
    }, index=raw.index)
    marks["upn"] = map_unique(marks["raw_upn"], normalise_upn)
    marks["date"], _ = parse_dates(marks["raw_date"])
    marks["session"] = upper(marks["raw_session"])

    flags = _flags(marks, roster, as_of)
    issues = _aggregate(marks, flags)

    dropped = marks["upn"].isin(roster.rejected).to_numpy()
    for rule_name, (mask, _) in flags.items():
        if rule(DATASET, rule_name).severity == ERROR:
            dropped |= mask.to_numpy(dtype=bool)
    table = marks.loc[~dropped, ATTENDANCE_COLUMNS]
    return AttendanceResult(table=table, issues=issues)
