"""The per-school validation feedback report: an HTML page for the school's data manager and a CSV
for the LA's case system.

Pure: takes the school's issue rows (``canonical.VALIDATION_ISSUE_COLUMNS`` plus ``nights_seen``,
``status`` and ``fixed_on``) and, optionally, its pupils (for names), and writes files. The rows are
at most ``NCC_ISSUE_EXAMPLES_PER_RULE`` examples per rule; counts include the records over that cap
(``similar_records``), and each rule says how many more records it has than it lists. No Dagster,
no warehouse. The files hold pupil data, so they are written only under ``reports_root/<laestab>/``
with owner-only permissions (``files.py``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ncc_transfer.canonical import VALIDATION_ISSUE_COLUMNS, issue_weights
from ncc_transfer.reports.files import school_dir, write_private
from ncc_transfer.reports.guide import guide, rule_sort_key
from ncc_transfer.reports.templating import render

NEW, PERSISTING, FIXED = "new", "persisting", "fixed"
ERROR, WARNING = "error", "warning"
HISTORY_COLUMNS = ["nights_seen", "status", "fixed_on"]
REPORT_COLUMNS = VALIDATION_ISSUE_COLUMNS + HISTORY_COLUMNS

# The CSV for the LA's case system: one row per issue, these columns first (then any others supplied).
# ``similar_records``: on a rule's last example row, how many more records have the same problem (not listed).
CSV_COLUMNS = [
    "school_key", "laestab", "status", "nights_seen", "fixed_on", "severity", "rule", "rule_title", "dataset",
    "upn", "pupil_name", "record", "location", "field", "value", "message", "first_seen", "last_seen", "similar_records",
]
# Cells starting with these are read as formulas by spreadsheet programs: neutralised in the CSV.
_FORMULA_START = ("=", "+", "@", "\t", "\r")

_SEVERITY_ORDER = {ERROR: 0, WARNING: 1}
_STATUS_ORDER = {NEW: 0, PERSISTING: 1, FIXED: 2}


@dataclass(frozen=True)
class SchoolReport:
    html_path: Path  # <reports_root>/<laestab>/<laestab>_validation_<as_of>.html
    csv_path: Path  # the same, .csv
    counts: dict[str, int]  # errors, warnings, new, persisting, fixed, open, rules: counts only (safe for metadata)
    latest_html_path: Path | None = None  # stable copy: <reports_root>/<laestab>/latest.html
    latest_csv_path: Path | None = None
    as_of: date | None = None
    school_key: str = ""
    laestab: str = ""
    school_name: str = ""

    @property
    def clean(self) -> bool:
        """No open issue (fixed ones may still be listed, with thanks)."""
        return self.counts.get("open", 0) == 0


def write_school_report(issues: pd.DataFrame, *, school_key: str, laestab: str, school_name: str, la_name: str,
                        as_of: date, reports_root: Path, pupils: pd.DataFrame | None = None,
                        generated_at: datetime | None = None) -> SchoolReport:
    """Write the school's HTML and CSV report for the night ``as_of``; return their paths and counts.

    ``issues``: this school's rows only (another school's rows raise ValueError rather than risk
    sending one school's pupils to another). ``pupils`` (upn, surname, forename; optional): used
    to put a name beside each UPN; a UPN with no pupil record is shown alone.
    """
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    frame = prepare_issues(issues, school_key=school_key, pupils=pupils)
    counts = issue_counts(frame)
    folder = school_dir(reports_root, laestab)
    stem = f"{laestab}_validation_{as_of.isoformat()}"

    html = render_school_html(frame, counts=counts, school_key=school_key, laestab=laestab,
                              school_name=school_name, la_name=la_name, as_of=as_of,
                              generated_at=generated_at or datetime.now().replace(microsecond=0))
    html_bytes = html.encode("utf-8")
    csv_bytes = issues_csv(frame).encode("utf-8")

    html_path = write_private(folder / f"{stem}.html", html_bytes)
    csv_path = write_private(folder / f"{stem}.csv", csv_bytes)
    latest_html = write_private(folder / "latest.html", html_bytes)
    latest_csv = write_private(folder / "latest.csv", csv_bytes)
    return SchoolReport(html_path=html_path, csv_path=csv_path, counts=counts, latest_html_path=latest_html,
                        latest_csv_path=latest_csv, as_of=as_of, school_key=school_key, laestab=laestab,
                        school_name=school_name)


# --- preparing the rows -------------------------------------------------------------------------------


def prepare_issues(issues: pd.DataFrame, *, school_key: str, pupils: pd.DataFrame | None = None) -> pd.DataFrame:
    """Normalise the issue rows: history columns filled in (a row without history is new tonight),
    status and severity lower-case, ``pupil_name`` and ``rule_title`` added."""
    frame = issues.copy().reset_index(drop=True)
    for column in VALIDATION_ISSUE_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    if "school_key" in frame.columns:
        others = frame["school_key"].notna() & (frame["school_key"].astype(str) != school_key)
        if others.any():
            keys = sorted(set(frame.loc[others, "school_key"].astype(str)))
            raise ValueError(f"issues for {school_key} include {int(others.sum())} rows of other schools "
                             f"({', '.join(keys)})")
    status = frame["status"] if "status" in frame.columns else pd.Series(None, index=frame.index, dtype=object)
    status = status.astype(object).where(status.notna(), NEW).astype(str).str.strip().str.lower()
    frame["status"] = status.where(status.isin(list(_STATUS_ORDER)), NEW)
    nights = frame["nights_seen"] if "nights_seen" in frame.columns else pd.Series(1, index=frame.index)
    frame["nights_seen"] = pd.to_numeric(nights, errors="coerce").fillna(1).clip(lower=1).astype(int)
    fixed_on = frame["fixed_on"] if "fixed_on" in frame.columns else pd.Series(pd.NaT, index=frame.index)
    frame["fixed_on"] = pd.to_datetime(fixed_on, errors="coerce")
    frame["severity"] = frame["severity"].astype(object).fillna(ERROR).astype(str).str.strip().str.lower()
    frame["rule"] = frame["rule"].astype(object).fillna("unknown").astype(str)
    frame["pupil_name"] = _names(frame["upn"], pupils, school_key)
    frame["rule_title"] = [guide(_text(d), r).title for d, r in zip(frame["dataset"], frame["rule"])]
    return frame


def _names(upns: pd.Series, pupils: pd.DataFrame | None, school_key: str) -> pd.Series:
    if pupils is None or pupils.empty or "upn" not in pupils.columns:
        return pd.Series("", index=upns.index, dtype=object)
    roll = pupils
    if "school_key" in roll.columns:
        roll = roll[roll["school_key"].astype(str) == school_key]
    lookup: dict[str, str] = {}
    for upn, surname, forename in zip(roll["upn"], roll.get("surname", pd.Series(index=roll.index)),
                                      roll.get("forename", pd.Series(index=roll.index))):
        key = _text(upn)
        if key and key not in lookup:
            name = ", ".join(part for part in (_text(surname).strip(), _text(forename).strip()) if part)
            if name:
                lookup[key] = name
    return pd.Series([lookup.get(_text(u), "") for u in upns], index=upns.index, dtype=object)


def _text(value: Any) -> str:
    """A cell as text; missing values (None, NaN, NA, NaT) as ''."""
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def issue_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Counts only (no pupil data): safe for logs and Dagster metadata. Exact: a row counts for itself
    and its ``similar_records`` records (those over the per-rule cap, not listed)."""
    weights = issue_weights(frame)
    is_open = frame["status"] != FIXED
    open_ = frame[is_open]
    return {
        "errors": int(weights[is_open & (frame["severity"] == ERROR)].sum()),
        "warnings": int(weights[is_open & (frame["severity"] != ERROR)].sum()),
        "new": int(weights[is_open & (frame["status"] == NEW)].sum()),
        "persisting": int(weights[is_open & (frame["status"] == PERSISTING)].sum()),
        "fixed": int(weights[frame["status"] == FIXED].sum()),
        "open": int(weights[is_open].sum()),
        "rules": int(open_[["dataset", "rule"]].drop_duplicates().shape[0]),
    }


# --- HTML ------------------------------------------------------------------------------------------------


def marker(status: str, nights: int) -> str:
    """The text of a record's marker: NEW, PERSISTING (n nights) or FIXED."""
    if status == FIXED:
        return "FIXED"
    if status == PERSISTING:
        return f"PERSISTING ({nights} night{'s' if nights != 1 else ''})"
    return "NEW"


def _row(record: pd.Series) -> dict[str, Any]:
    value = record["value"]
    value = None if _text(value) == "" else str(value)
    fixed_on = record["fixed_on"]
    return {
        "name": _text(record["pupil_name"]),
        "upn": _text(record["upn"]),
        "value": value,
        "field": _text(record["field"]).replace("_", " "),
        "location": _text(record["location"]),
        "message": _text(record["message"]),
        "status": record["status"],
        "marker": marker(record["status"], int(record["nights_seen"])),
        "rule_title": record["rule_title"],
        "fixed_on": fixed_on.date() if not pd.isna(fixed_on) else None,
        "more": more_records(record.get("similar_records")),
    }


def more_records(similar: Any) -> str:
    """'and 999,800 more records with the same problem' for the records over the cap ('' for none)."""
    count = 0 if _text(similar) == "" else int(similar)
    if count <= 0:
        return ""
    return f"and {count:,} more record{'' if count == 1 else 's'} with the same problem"


def _sorted_rows(group: pd.DataFrame) -> list[dict[str, Any]]:
    keyed = group.assign(_no_name=group["pupil_name"].eq(""), _name=group["pupil_name"].str.casefold(),
                         _upn=group["upn"].map(_text), _record=group["record"].map(_text),
                         _location=group["location"].map(_text))
    keyed = keyed.sort_values(["_no_name", "_name", "_upn", "_record", "_location"], kind="stable")
    return [_row(r) for _, r in keyed.iterrows()]


def rule_groups(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Open issues grouped by rule: errors first, then warnings; within each, catalogue order."""
    open_ = frame[frame["status"] != FIXED]
    groups = []
    for (severity, dataset, rule), group in open_.groupby(
            [open_["severity"], open_["dataset"].map(_text), open_["rule"]], sort=False):
        g = guide(dataset, rule)
        groups.append({
            "severity": severity,
            "severity_rank": _SEVERITY_ORDER.get(severity, 2),
            "sort": rule_sort_key(dataset, rule),
            "dataset": dataset,
            "rule": rule,
            "title": g.title,
            "fix": g.fix,
            "where": g.where,
            "count": int(issue_weights(group).sum()),
            "new": int(issue_weights(group)[group["status"] == NEW].sum()),
            "rows": _sorted_rows(group),
            "more": more_records(issue_weights(group).sum() - len(group)),
        })
    groups.sort(key=lambda g: (g["severity_rank"], g["sort"]))
    for number, group in enumerate(groups, start=1):
        group["anchor"] = f"rule-{number}"
    return groups


def render_school_html(frame: pd.DataFrame, *, counts: dict[str, int], school_key: str, laestab: str,
                       school_name: str, la_name: str, as_of: date, generated_at: datetime) -> str:
    groups = rule_groups(frame)
    fixed = frame[frame["status"] == FIXED]
    fixed_rows = []
    for _, record in fixed.assign(_sort=[rule_sort_key(_text(d), r) for d, r in zip(fixed["dataset"], fixed["rule"])]
                                  ).sort_values("_sort", kind="stable").iterrows():
        fixed_rows.append(_row(record))
    return render(
        "school_report.html.j2",
        school_name=school_name, school_key=school_key, laestab=laestab, la_name=la_name, as_of=as_of,
        generated_at=generated_at, counts=counts,
        error_groups=[g for g in groups if g["severity"] == ERROR],
        warning_groups=[g for g in groups if g["severity"] != ERROR],
        fixed_rows=fixed_rows,
    )


# --- CSV -------------------------------------------------------------------------------------------------


def _csv_cell(value: Any) -> str:
    if _text(value) == "":
        return ""
    if isinstance(value, (pd.Timestamp, datetime)):
        stamp = pd.Timestamp(value)
        return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    text = _text(value)
    # A spreadsheet would run "=HYPERLINK(...)" from a school's file: prefix a quote, as OWASP advises.
    # A lone "-" (no mark) or a negative number is left as it is.
    if text.startswith(_FORMULA_START) or (text.startswith("-") and len(text) > 1 and not _is_number(text)):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def issues_csv(frame: pd.DataFrame) -> str:
    """One row per issue (open and fixed), UTF-8 text with a header row, RFC 4180 quoting."""
    columns = CSV_COLUMNS + [c for c in frame.columns if c not in CSV_COLUMNS and not c.startswith("_")]
    ordered = frame.assign(
        _sev=frame["severity"].map(lambda s: _SEVERITY_ORDER.get(s, 2)),
        _fixed=frame["status"].eq(FIXED),
        _sort=[rule_sort_key(_text(d), r) for d, r in zip(frame["dataset"], frame["rule"])],
        _upn=frame["upn"].map(_text), _record=frame["record"].map(_text),
    ).sort_values(["_fixed", "_sev", "_sort", "_upn", "_record"], kind="stable")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for record in ordered[columns].itertuples(index=False, name=None):
        writer.writerow([_csv_cell(v) for v in record])
    return out.getvalue()
