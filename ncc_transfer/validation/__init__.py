"""Record-level validation: raw extract in, canonical tables and validation issues out.

Each rule group lives in its own module (``pupils``, ``attendance``, ``exclusions``); the catalogue
of rules, with their severities, is ``RULES`` (``rules.py``). Severity ``error`` means the record is
not loaded; ``warning`` means it is loaded and the school is asked to fix it. Messages are written
for the school's data manager: what is wrong, the exact value, and where in the MIS to change it.

Before any rule, control characters are taken out of every text field of every extract
(``text_hygiene``: a ``control_character`` warning, or for a UPN an escape the UPN rules reject), so no
rule, report or warehouse backend sees one. Like the file-level rules the pipeline raises, that rule
spans fields and is not in ``RULES``.

Pupil records are checked first. A rejected pupil's attendance marks and exclusions are dropped
without further issues (the pupil's own error message says so). Attendance issues are aggregated
per (pupil, rule, value), so a wrong code mapping gives one issue per pupil, not one per mark.

Each (dataset, rule) keeps at most ``NCC_ISSUE_EXAMPLES_PER_RULE`` example rows; the records over that
are counted exactly in the ``similar_records`` column of the last example kept (docs/hardening.md, "Bounded
cost per school"), so one wrong export setting costs a few hundred rows, not one per record.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pandas as pd

from ncc_transfer.canonical import (TABLES, VALIDATION_ISSUE_COLUMNS, coerce_types, constant_text, empty_raw,
                                   issue_weights)
from ncc_transfer.config import issue_examples_per_rule
from ncc_transfer.validation.attendance import validate_attendance
from ncc_transfer.validation.common import cap_issues
from ncc_transfer.validation.exclusions import validate_exclusions
from ncc_transfer.validation.pupils import validate_pupils
from ncc_transfer.validation.rules import ERROR, NAME_FIELDS, RULES, WARNING, Rule, rule, rules_frame
from ncc_transfer.validation.text_hygiene import scrub_control_characters

__all__ = [
    "ERROR",
    "NAME_FIELDS",
    "RULES",
    "WARNING",
    "Rule",
    "ValidatedExtract",
    "rule",
    "rules_frame",
    "validate_extract",
]


@dataclass
class ValidatedExtract:
    tables: dict[str, pd.DataFrame]  # canonical typed frames, error records removed
    issues: pd.DataFrame  # exactly canonical.VALIDATION_ISSUE_COLUMNS
    raw: dict[str, pd.DataFrame] | None = None  # the raw frames as checked (control characters taken out)

    def counts(self) -> dict[str, int]:
        """Issue counts by severity, records over the cap included (safe for logs and Dagster metadata)."""
        by_severity = issue_weights(self.issues).groupby(self.issues["severity"]).sum()
        return {ERROR: int(by_severity.get(ERROR, 0)), WARNING: int(by_severity.get(WARNING, 0))}

    def rule_counts(self) -> dict[str, int]:
        """Issue counts per 'dataset.rule' (no pupil data)."""
        keys = self.issues["dataset"] + "." + self.issues["rule"]
        return {k: int(v) for k, v in issue_weights(self.issues).groupby(keys).sum().sort_index().items()}


def _timestamp(value: datetime.datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp


def _raw(raw: dict[str, pd.DataFrame], table: str) -> pd.DataFrame:
    frame = raw.get(table)
    if frame is None:
        frame = empty_raw(table)
    if isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1:
        return frame  # already positional (the rule groups never modify the raw frame): no copy
    return frame.reset_index(drop=True)


def validate_extract(raw: dict[str, pd.DataFrame], *, school_key: str, laestab: str,
                     extracted_at: datetime.datetime, as_of: datetime.date) -> ValidatedExtract:
    """Check one school's raw extract record by record.

    ``raw`` maps "pupils", "attendance" and "exclusions" to raw text frames (canonical.py); a
    missing table or optional column counts as empty. ``as_of`` is the extract's reference date
    (future dates of birth, past sessions with no mark, the academic year for age checks).
    """
    stamp = _timestamp(extracted_at)
    if isinstance(as_of, datetime.datetime):
        as_of = as_of.date()

    scrubbed = {table: scrub_control_characters(_raw(raw, table), table) for table in TABLES}
    checked = {table: frame for table, (frame, _) in scrubbed.items()}
    pupils = validate_pupils(checked["pupils"], as_of)
    attendance = validate_attendance(checked["attendance"], pupils.roster, as_of)
    exclusions = validate_exclusions(checked["exclusions"], pupils.roster)

    tables = {}
    for name, frame in (("pupils", pupils.table), ("attendance", attendance.table), ("exclusions", exclusions.table)):
        frame = frame.reset_index(drop=True)
        frame["school_key"] = constant_text(school_key, len(frame))
        frame["laestab"] = constant_text(laestab, len(frame))
        if name == "pupils":
            frame["extracted_at"] = stamp
        tables[name] = coerce_types(name, frame)
    assert tuple(tables) == TABLES

    parts = [scrubbed["pupils"][1], pupils.issues, scrubbed["attendance"][1], attendance.issues,
             scrubbed["exclusions"][1], exclusions.issues]
    parts = [(part if "similar_records" in part.columns else part.assign(similar_records=pd.NA))
             .astype({"similar_records": "Int64"}) for part in parts]
    issues = pd.concat(parts, ignore_index=True)
    issues = cap_issues(issues, issue_examples_per_rule()).reset_index(drop=True)  # per-pupil attendance rows too
    issues.insert(0, "school_key", school_key)
    issues.insert(1, "laestab", laestab)
    issues["first_seen"] = pd.Series(stamp, index=issues.index, dtype="datetime64[ns]")
    issues["last_seen"] = issues["first_seen"]
    for column in VALIDATION_ISSUE_COLUMNS:
        if column == "similar_records":
            issues[column] = pd.to_numeric(issues[column], errors="coerce").astype("Int64")
        elif column not in ("first_seen", "last_seen"):
            issues[column] = issues[column].astype(object).where(issues[column].notna(), None)
    return ValidatedExtract(tables=tables, issues=issues[VALIDATION_ISSUE_COLUMNS], raw=checked)
