"""Whether tonight's extract is another school's (a roll swapped between two schools' exports or
folders), checked against the warehouse before a school is written; and failing the school for it."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import next_steps
from .issue_rows import count_issues, issue_rows_for
from .outcome import PreparedSchool
from .warehouse import Warehouse


@dataclass(frozen=True)
class AnotherSchoolsRoll:
    """Tonight's extract shares under half its pupils with the school's last load and over half with
    ``school_key``'s current roll: ``shared`` of tonight's ``pupils`` are on that roll, ``kept`` on the
    school's own last load. Counts only, never pupils."""

    school_key: str
    shared: int
    pupils: int
    kept: int

    def problem(self) -> str:
        return (f"this extract looks like {self.school_key}'s ({self.shared} of its {self.pupils} pupils are on "
                f"that school's roll, {self.kept} on this school's last load)")


def extract_of_another_school(warehouse: Warehouse, school_key: str, upns: pd.Series) -> AnotherSchoolsRoll | None:
    """Whether tonight's pupils (``upns``) look like another school's roll rather than this school's.

    Cheap: one query for the school's last load (its ``pupils`` rows); only when tonight shares under
    half its UPNs with that, a second counting tonight's UPNs on each other school's ``pupils`` rows.
    Skipped (None) when the school has no previous load or tonight has no pupils."""
    tonight = set(upns.dropna().astype(str))
    if not tonight:
        return None
    last = warehouse.read("SELECT upn FROM pupils WHERE school_key = ?", [school_key])
    if last.empty:
        return None
    kept = len(tonight & set(last["upn"].astype(str)))
    if 2 * kept >= len(tonight):
        return None
    others = warehouse.read("SELECT school_key, upn FROM pupils WHERE school_key <> ? AND upn IN "
                            "(SELECT UNNEST(CAST(? AS VARCHAR[])))", [school_key, sorted(tonight)])
    if others.empty:
        return None
    counts = others.groupby("school_key")["upn"].nunique().sort_values(ascending=False, kind="stable")
    other_key, shared = str(counts.index[0]), int(counts.iloc[0])
    if 2 * shared <= len(tonight):
        return None
    return AnotherSchoolsRoll(other_key, shared, len(tonight), kept)


def fail_as_another_school(prepared: PreparedSchool, swap: AnotherSchoolsRoll) -> None:
    """Fail the school structurally: its last load stays, and its report gets one file-level issue.
    Tonight's record-level issues are not recorded: they are about another school's pupils."""
    outcome, problem = prepared.outcome, swap.problem()
    outcome.structural = {"pupils": [problem]}
    outcome.message = (f"{problem}; previous load kept. "
                       f"Next: {next_steps.ANOTHER_SCHOOL}: {next_steps.rerun(outcome.school_key)}")
    source = outcome.sources.get("pupils", "pupils")
    message = (f"Tonight's pupil extract ({source}) looks like another school's: {swap.shared} of its "
               f"{swap.pupils} pupils are on {swap.school_key}'s roll and only {swap.kept} were in this school's "
               f"last load. Nothing from this school was loaded tonight and its last good load is kept: check "
               f"that your MIS exports this school's data, to this school's folder.")
    row = {"upn": None, "dataset": "file", "record": source, "location": source, "field": "",
           "value": swap.school_key, "rule": "extract_of_another_school", "severity": "error", "message": message}
    prepared.issues = issue_rows_for(outcome.school_key, outcome.laestab, [row], prepared.extracted_at)
    prepared.checked = {"file"}
    count_issues(prepared.issues, outcome)
