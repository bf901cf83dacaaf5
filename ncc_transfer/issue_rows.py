"""The ``validation_issues`` rows the pipeline makes itself, beside the record rules' (``validation``):
files that could not be read, notes about files, missing columns, duplicate records; and the counts
of a school's issues on its outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from .canonical import KEY_COLUMNS, TABLES, VALIDATION_ISSUE_COLUMNS, issue_weights
from .extract import ExtractFileError, ExtractWarning, RawExtract
from .outcome import SchoolOutcome
from .registry import School


def concat_issues(*frames: pd.DataFrame) -> pd.DataFrame:
    """Issue frames one after another. Empty ones are left out, as pandas already leaves them out of
    deciding the columns' types (and will stop doing so); with none left, the last frame's columns."""
    kept = [frame for frame in frames if len(frame)]
    return pd.concat(kept, ignore_index=True) if kept else frames[-1].reset_index(drop=True)


def count_issues(issues: pd.DataFrame, outcome: SchoolOutcome) -> None:
    """Exact counts: each row stands for itself and its ``similar_records`` records over the per-rule cap."""
    weights = issue_weights(issues)
    outcome.issues_by_rule = {str(k): int(v) for k, v in weights.groupby(issues["rule"]).sum().sort_index().items()}
    outcome.errors = int(weights[issues["severity"] == "error"].sum())
    outcome.warnings = int(weights[issues["severity"] == "warning"].sum())
    by_table: dict[str, dict[str, int]] = {}
    for (dataset, rule), count in weights.groupby([issues["dataset"], issues["rule"]]).sum().items():
        by_table.setdefault(str(dataset), {})[str(rule)] = int(count)
    outcome.issues_by_table = by_table


def issue_rows(school: School, rows: list[dict[str, Any]], at: datetime) -> pd.DataFrame:
    return issue_rows_for(school.key, school.laestab, rows, at)


def issue_rows_for(school_key: str, laestab: str, rows: list[dict[str, Any]], at: datetime) -> pd.DataFrame:
    """``rows`` (the issue columns but the school's and the dates) as the school's issues, first seen ``at``."""
    frame = pd.DataFrame(rows, columns=VALIDATION_ISSUE_COLUMNS)
    frame["school_key"], frame["laestab"] = school_key, laestab
    frame["first_seen"] = frame["last_seen"] = at
    return frame.astype({"first_seen": "datetime64[ns]", "last_seen": "datetime64[ns]"})


def file_issue(school: School, exc: Exception, at: datetime) -> pd.DataFrame:
    if isinstance(exc, ExtractFileError):
        location = f"{exc.file}: {exc.location}" if exc.location else exc.file
        message = (f"{exc.problem}. Nothing from this school was loaded tonight and its last good load is kept: "
                   f"export the file again from your MIS (or ask your MIS support) before tonight's run.")
        record = exc.file
    else:
        location, record = school.mis, ""
        message = f"{exc}. The LA's data team needs to set up this route; nothing was loaded."
    return issue_rows(school, [{"upn": None, "dataset": "file", "record": record, "location": location,
                                "field": "", "value": None, "rule": "file_unreadable", "severity": "error",
                                "message": message}], at)


def warning_issues(school: School, warnings: list[ExtractWarning], at: datetime,
                   set_aside: list[str] = ()) -> pd.DataFrame:
    """File-level notes for the school's report, the only place a warning's value goes: warnings about
    files used (``file_warning``) and files set aside, not used, with what was done and why
    (``file_set_aside``, already whole sentences naming files, counts and dates only)."""
    def row(record: str, rule: str, message: str, value: str | None = None) -> dict:
        return {"upn": None, "dataset": "file", "record": record, "location": record.split(":", 1)[0], "field": "",
                "value": value, "rule": rule, "severity": "warning", "message": message}

    rows = [row(w.report_text, "file_warning", f"{w.report_text}. Check the export settings in your MIS.", w.value)
            for w in warnings]
    rows += [row(text, "file_set_aside", text) for text in set_aside]
    return issue_rows(school, rows, at)


def missing_column_issues(school: School, raw: RawExtract, problems: dict[str, list[str]], at: datetime) -> pd.DataFrame:
    rows = []
    for table, table_problems in problems.items():
        source = raw.sources.get(table, f"{table}.csv")
        for problem in table_problems:
            column = problem.rsplit(": ", 1)[-1] if problem.startswith("required column missing") else ""
            rows.append({"upn": None, "dataset": "file", "record": source, "location": source, "field": column,
                         "value": None, "rule": "required_column_missing" if column else "structure", "severity": "error",
                         "message": (f"{source} has no '{column}' column, which is required. Nothing from this school "
                                     f"was loaded tonight and its last good load is kept: include the column in the export."
                                     if column else f"{source}: {problem}. Nothing from this school was loaded tonight.")})
    return issue_rows(school, rows, at)


def duplicate_issues(school: School, tables: dict[str, pd.DataFrame], at: datetime) -> pd.DataFrame:
    rows = []
    for table in TABLES:
        frame, key = tables[table], KEY_COLUMNS[table]
        duplicated = frame[frame.duplicated(key, keep=False)]
        for upn, group in duplicated.groupby("upn", dropna=False):
            rows.append({"upn": upn, "dataset": table, "record": "duplicate", "location": table, "field": ", ".join(key),
                         "value": str(len(group)), "rule": "duplicate_record", "severity": "error",
                         "message": (f"{len(group)} {table} records for this pupil share the same "
                                     f"{', '.join(key)}. Each must appear once: remove the duplicate in your MIS. "
                                     f"Nothing from this school was loaded tonight until this is fixed.")})
    return issue_rows(school, rows, at)
