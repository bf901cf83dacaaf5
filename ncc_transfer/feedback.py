"""Validation feedback, wired to the warehouse: each school's report, its email, the LA overview.

Reports hold pupil data, so they are written only under ``$NCC_HOME/reports/<laestab>/`` with
owner-only permissions; the overview and everything returned for Dagster metadata are counts.
Emailing schools is opt-in (``NCC_EMAIL_SCHOOL_REPORTS=true`` and SMTP settings), and only when the
night found something new; every email sent is recorded in ``audit_log``.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from .config import flag
from .registry import Registry, School
from .reports import SchoolReport, SmtpSettings, send_school_report, should_send, write_la_overview, write_school_report
from .reports.email import send_and_record
from .reports.overview import Overview
from .warehouse import Warehouse

log = logging.getLogger(__name__)


REPORT_NAME = re.compile(r"^(\d{7}_validation|la_overview)_(\d{4}-\d{2}-\d{2})\.(html|csv|png)$")


def reports_root(home: Path) -> Path:
    return home / "reports"


def report_retention_days() -> int:
    """How long dated reports are kept: ``reports_days`` of the retention schedule (default 90)."""
    from .retention import RetentionConfigError, default_retention, load_retention

    try:
        return load_retention().reports_days
    except RetentionConfigError:  # the nightly purge reports a broken schedule; keep the default here
        return default_retention().reports_days


def prune_reports(folder: Path, as_of: date, keep_days: int | None = None) -> int:
    """Delete this folder's dated reports older than the retention period; returns how many went.

    Only files named as the reports are named are touched; ``latest.*`` always stays.
    """
    keep_days = report_retention_days() if keep_days is None else keep_days
    cutoff = as_of - timedelta(days=keep_days)
    removed = 0
    for path in folder.glob("*"):
        match = REPORT_NAME.match(path.name)
        if match and path.is_file() and not path.is_symlink() and date.fromisoformat(match.group(2)) < cutoff:
            path.unlink()
            removed += 1
    return removed


def school_report(warehouse: Warehouse, school: School, *, la_name: str, as_of: date, home: Path,
                  extra_names: pd.DataFrame | None = None) -> SchoolReport:
    """Write the school's report from its stored issues (current and just fixed)."""
    issues = warehouse.read("SELECT * FROM validation_issues WHERE school_key = ? AND "
                            "(status IS NULL OR status <> 'fixed' OR fixed_on = ?)", [school.key, as_of])
    names = warehouse.read("SELECT upn, surname, forename FROM pupils WHERE school_key = ?", [school.key])
    if extra_names is not None and len(extra_names):
        names = pd.concat([names, extra_names[["upn", "surname", "forename"]]], ignore_index=True)
    names = names.astype(object).drop_duplicates("upn")
    report = write_school_report(issues, school_key=school.key, laestab=school.laestab, school_name=school.name,
                                 la_name=la_name, as_of=as_of, reports_root=reports_root(home), pupils=names)
    prune_reports(report.html_path.parent, as_of)
    return report


def email_enabled() -> bool:
    return flag("NCC_EMAIL_SCHOOL_REPORTS")


def maybe_email(warehouse: Warehouse, school: School, report: SchoolReport, *, la_name: str,
                run_id: str | None, enabled: bool | None = None, smtp: SmtpSettings | None | object = ...) -> str:
    """Email the report to the school's contact when enabled and something is new. Returns what happened.
    ``enabled`` and ``smtp`` default to the environment (NCC_EMAIL_SCHOOL_REPORTS, NCC_SMTP_*)."""
    if not (email_enabled() if enabled is None else enabled):
        return "email off"
    issues = warehouse.read("SELECT status FROM validation_issues WHERE school_key = ?", [school.key])
    if not should_send(issues):
        return "nothing new"
    return send_now(warehouse, school, report, la_name=la_name, run_id=run_id, smtp=smtp)


def send_now(warehouse: Warehouse, school: School, report: SchoolReport, *, la_name: str,
             run_id: str | None = None, smtp: SmtpSettings | None | object = ...) -> str:
    """Email the report to the school's contact now; record it in audit_log. Returns what happened.
    ``smtp``: the delivery settings (None: off); by default from the environment (NCC_SMTP_*)."""
    if not school.contact:
        return "no contact in the registry"
    return send_and_record(
        warehouse, school, lambda settings: send_school_report(
            report, to=school.contact, school_name=school.name, la_name=la_name,
            new_count=report.counts.get("new", 0), smtp=settings),
        smtp=smtp, run_id=run_id, event="report_sent", what="report email",
        detail={"new": report.counts.get("new", 0), "open": report.counts.get("open", 0)},
        message="validation report emailed to the registry contact")


def la_overview(warehouse: Warehouse, registry: Registry, *, as_of: date, home: Path) -> Overview:
    """Issue counts per school and rule, nights since the last clean extract, and a 30-night trend."""
    names = {s.key: s.name for s in registry.schools}
    counts = warehouse.read(
        # A row stands for itself and its ``similar_records`` records over the per-rule cap: exact counts.
        "SELECT school_key, dataset, rule, severity, CAST(sum(1 + coalesce(similar_records, 0)) AS BIGINT) AS count "
        "FROM validation_issues "
        "WHERE status IS NULL OR status <> 'fixed' GROUP BY school_key, dataset, rule, severity")
    extractions = warehouse.read(
        "SELECT school_key, logged_at, outcome, detail FROM audit_log WHERE event IN ('extraction', 'replay')")
    trend, clean_nights = _trend(extractions)
    trend = trend[trend["night"] <= pd.Timestamp(as_of)]
    counts["school_name"] = counts["school_key"].map(names)
    counts["nights_since_clean"] = counts["school_key"].map(lambda k: _nights_since(clean_nights.get(k), as_of))
    clean_schools = [k for k in names if k not in set(counts["school_key"]) and k in set(trend["school_key"])]
    if clean_schools:
        counts = pd.concat([counts, pd.DataFrame({"school_key": clean_schools, "school_name": [names[k] for k in clean_schools],
                                                  "rule": None, "dataset": None, "severity": None, "count": 0,
                                                  "nights_since_clean": 0})], ignore_index=True)
    recent = trend[trend["night"] > pd.Timestamp(as_of - timedelta(days=30))]
    overview = write_la_overview(counts, recent, la_name=registry.la_name, as_of=as_of, reports_root=reports_root(home))
    prune_reports(overview.html_path.parent, as_of)
    return overview


def _trend(extractions: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, date]]:
    """Errors and warnings per school per night (the last extraction of the night), and each
    school's last clean night (an extraction that loaded with no issue at all)."""
    rows, clean = [], {}
    for row in extractions.sort_values("logged_at").itertuples():
        detail = json.loads(row.detail or "{}")
        night = pd.Timestamp(detail.get("as_of") or row.logged_at).normalize()
        rows.append({"night": night, "school_key": row.school_key, "errors": int(detail.get("errors", 0)),
                     "warnings": int(detail.get("warnings", 0))})
        if row.outcome == "loaded" and not detail.get("errors") and not detail.get("warnings"):
            clean[row.school_key] = night.date()
    frame = pd.DataFrame(rows, columns=["night", "school_key", "errors", "warnings"])
    return frame.drop_duplicates(["night", "school_key"], keep="last"), clean


def _nights_since(night: date | None, as_of: date) -> int | None:
    return None if night is None else max(0, (as_of - night).days)
