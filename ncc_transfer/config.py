"""Configuration from the environment, read at call time, never at import time (so a test or the
CLI can set a variable before a night). Every variable is listed in README.md, "Configuration"."""

from __future__ import annotations

import os
from pathlib import Path

# How many example records a school's report (and ``validation_issues``) keeps per rule; the rest are
# counted exactly (``similar_records``). 200 fills a screen or two of the report: enough to see the pattern of
# a mistake and where it starts, few enough that one wrong export setting cannot make a report of
# gigabytes (docs/hardening.md, "Bounded cost per school").
DEFAULT_ISSUE_EXAMPLES_PER_RULE = 200

# The most rows one school's extract can hold, per dataset; more is a broken export, refused before
# validation. The largest English schools have about 3,000-4,000 pupils (DfE, "Schools, pupils and their
# characteristics", https://explore-education-statistics.service.gov.uk/find-statistics/school-pupils-and-their-characteristics);
# 10,000 leaves a wide margin. Marks: 10,000 pupils x 2 sessions x 250 days (a school year is 190 days
# of sessions; the margin covers pupils who joined and left during the year). Exclusions: 5 per pupil
# of the largest school, far above any school's suspension rate.
DEFAULT_MAX_ROWS = {"pupils": 10_000, "attendance": 5_000_000, "exclusions": 50_000}
MAX_ROWS_VARIABLES = {"pupils": "NCC_MAX_PUPILS", "attendance": "NCC_MAX_ATTENDANCE_MARKS",
                      "exclusions": "NCC_MAX_EXCLUSIONS"}


def ncc_home() -> Path:
    """The data folder: registry, landing files, raw archive, reports, embedded warehouse."""
    return Path(os.environ.get("NCC_HOME", "./.ncc_transfer")).expanduser().absolute()


def schools_file() -> Path:
    """The schools registry."""
    configured = os.environ.get("NCC_SCHOOLS_FILE")
    return Path(configured).expanduser().absolute() if configured else ncc_home() / "schools.yaml"


def warehouse_url() -> str:
    """`duckdb:///<path>` or `postgresql://user@host:port/db`."""
    return os.environ.get("NCC_WAREHOUSE_URL") or f"duckdb:///{ncc_home() / 'warehouse.duckdb'}"


def issue_examples_per_rule() -> int:
    """``NCC_ISSUE_EXAMPLES_PER_RULE``: example records kept per (school, rule); at least 1."""
    return max(1, _positive_int("NCC_ISSUE_EXAMPLES_PER_RULE", DEFAULT_ISSUE_EXAMPLES_PER_RULE))


def max_rows(table: str) -> int:
    """The most rows a school's ``table`` extract may hold (``NCC_MAX_PUPILS`` and the like)."""
    return _positive_int(MAX_ROWS_VARIABLES[table], DEFAULT_MAX_ROWS[table])


def _positive_int(variable: str, default: int) -> int:
    text = os.environ.get(variable, "").strip().replace("_", "").replace(",", "")
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{variable} must be a whole number, not {text!r}") from None
    if value < 0:
        raise ValueError(f"{variable} must not be negative")
    return value
