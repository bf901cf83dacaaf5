"""Validation feedback: the per-school report (HTML + CSV), the LA overview (chart + HTML), and
email delivery. Pure functions over DataFrames that write files; the Dagster wiring calls them.

The school report holds pupil data and is written only under ``<reports_root>/<laestab>/``
(folders 0o700, files 0o600). The overview and everything returned for metadata hold counts only.
"""

from ncc_transfer.reports.email import SmtpSettings, build_school_email, send_school_report, should_send
from ncc_transfer.reports.guide import RuleGuide, guide
from ncc_transfer.reports.overview import Overview, write_la_overview
from ncc_transfer.reports.school_report import SchoolReport, issue_counts, prepare_issues, write_school_report

__all__ = [
    "Overview",
    "RuleGuide",
    "SchoolReport",
    "SmtpSettings",
    "build_school_email",
    "guide",
    "issue_counts",
    "prepare_issues",
    "send_school_report",
    "should_send",
    "write_la_overview",
    "write_school_report",
]
