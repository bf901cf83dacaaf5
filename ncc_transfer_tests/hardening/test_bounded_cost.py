"""Bounded cost per school (docs/hardening.md): issues capped per rule with exact counts, the history
bounded by the cap after a fix, and row ceilings refusing absurd extracts before validation.

Fast by design: tens of thousands of rows at most; the million-row case is benchmarks/hostile_file_bench.py.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from ncc_transfer.canonical import STORED_ISSUE_COLUMNS, issue_weights
from ncc_transfer.files_route import ExtractFileError
from ncc_transfer.files_route.ceilings import check_row_ceilings
from ncc_transfer.files_route.csv_extracts import read_extract_csv
from ncc_transfer.issue_history import merge_issue_history
from ncc_transfer.pipeline import SchoolOutcome, _count_issues
from ncc_transfer.reports import write_school_report
from ncc_transfer.validation import validate_extract
from ncc_transfer.validation.common import Findings, locations

AS_OF = date(2026, 3, 20)
FLAGGED = 50_000


def blank_postcode_pupils(n: int, postcode: str | None = None) -> pd.DataFrame:
    """``n`` valid pupils (distinct, well-formed UPNs) with a blank postcode: one warning each."""
    from benchmarks.hostile_file_bench import upns

    return pd.DataFrame({
        "upn": upns(n), "surname": "Smith", "forename": "Ann", "dob": "2015-10-01", "sex": "F",
        "enrol_status": "C", "nc_year": "5", "postcode": postcode,
        "_source": "pupils.csv", "_line": [str(i) for i in range(2, n + 2)],
    }).astype(object)


def validate(pupils: pd.DataFrame, stamp: datetime):
    return validate_extract({"pupils": pupils}, school_key="9264100-files", laestab="9264100",
                            extracted_at=stamp, as_of=AS_OF)


def test_findings_keep_the_first_examples_and_count_the_rest(monkeypatch):
    monkeypatch.delenv("NCC_ISSUE_EXAMPLES_PER_RULE", raising=False)
    raw = pd.DataFrame({"_source": "pupils.csv", "_line": [str(i) for i in range(2, FLAGGED + 2)]})
    upn = pd.Series([f"U{i}" for i in range(FLAGGED)], dtype=object)
    findings = Findings("pupils", upn=upn, record=pd.Series("", index=upn.index, dtype=object), where=locations(raw))
    built = []

    def message(value: str) -> str:
        built.append(value)
        return "Postcode is blank"

    findings.add("postcode_missing", pd.Series(True, index=upn.index), pd.Series(None, index=upn.index), message)
    issues = findings.issues()

    assert len(issues) == 200 == len(built)  # messages built for the examples only
    assert issues["location"].tolist()[:2] == ["pupils.csv line 2", "pupils.csv line 3"]
    assert issues["similar_records"].iloc[-1] == FLAGGED - 200 and issues["similar_records"].iloc[:-1].isna().all()
    assert int(issue_weights(issues).sum()) == FLAGGED


def test_cap_is_configurable_and_counts_stay_exact(monkeypatch):
    monkeypatch.setenv("NCC_ISSUE_EXAMPLES_PER_RULE", "25")
    validated = validate(blank_postcode_pupils(2_000), datetime(2026, 3, 20, 2))

    assert len(validated.tables["pupils"]) == 2_000
    assert len(validated.issues) == 25
    assert validated.counts() == {"error": 0, "warning": 2_000}
    assert validated.rule_counts() == {"pupils.postcode_missing": 2_000}
    outcome = SchoolOutcome("9264100-files", "9264100", "files", "loaded")
    _count_issues(validated.issues, outcome)  # what the Dagster checks' metadata and the audit log carry
    assert outcome.warnings == 2_000 and outcome.issues_by_table == {"pupils": {"postcode_missing": 2_000}}


def test_report_says_how_many_more(tmp_path, monkeypatch):
    monkeypatch.setenv("NCC_ISSUE_EXAMPLES_PER_RULE", "200")
    validated = validate(blank_postcode_pupils(FLAGGED), datetime(2026, 3, 20, 2))
    report = write_school_report(validated.issues, school_key="9264100-files", laestab="9264100",
                                 school_name="Bench School", la_name="Norfolk", as_of=AS_OF, reports_root=tmp_path)
    html = report.html_path.read_text()

    assert report.counts["warnings"] == FLAGGED and report.counts["open"] == FLAGGED
    assert "and 49,800 more records with the same problem" in html
    assert "50,000 records" in html
    assert report.html_path.stat().st_size < 1_000_000 and report.csv_path.stat().st_size < 500_000


def test_history_after_a_fixed_night_holds_at_most_the_cap(monkeypatch):
    monkeypatch.setenv("NCC_ISSUE_EXAMPLES_PER_RULE", "30")
    hostile = validate(blank_postcode_pupils(5_000), datetime(2026, 3, 20, 2))
    first = merge_issue_history(pd.DataFrame(columns=STORED_ISSUE_COLUMNS), hostile.issues, night=AS_OF,
                                seen_at=datetime(2026, 3, 20, 2))
    assert len(first) == 30 and int(issue_weights(first).sum()) == 5_000

    clean = validate(blank_postcode_pupils(5_000, postcode="NR1 1AA"), datetime(2026, 3, 23, 2))
    after = merge_issue_history(first, clean.issues, night=date(2026, 3, 23), seen_at=datetime(2026, 3, 23, 2))
    assert len(after) == 30 and set(after["status"]) == {"fixed"}
    assert after["similar_records"].dtype == "Int64"


def test_too_many_pupils_refused_while_reading(tmp_path, monkeypatch):
    monkeypatch.setenv("NCC_MAX_PUPILS", "10")
    path = tmp_path / "pupils.csv"
    rows = "".join(f"A{i:012d},Smith,Ann,2015-10-01,F\n" for i in range(11))
    path.write_text("upn,surname,forename,dob,sex\n" + rows)

    with pytest.raises(ExtractFileError) as refused:
        read_extract_csv(path, "pupils")
    assert str(refused.value) == ("pupils.csv: the file has 11 rows; a school has at most 10 pupils "
                                  "(NCC_MAX_PUPILS): check the export")

    path.write_text("upn,surname,forename,dob,sex\n" + rows[rows.index("\n") + 1:] + "\n\n")  # 10 rows, blank lines
    assert len(read_extract_csv(path, "pupils")[0]) == 10


def test_quoted_line_breaks_do_not_count_as_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("NCC_MAX_PUPILS", "3")
    path = tmp_path / "pupils.csv"
    path.write_text("upn,surname,forename,dob,sex\n" + 'A1,"Smith\nJones\nBrown",Ann,2015-10-01,F\n' * 3)
    assert len(read_extract_csv(path, "pupils")[0]) == 3


def test_any_route_over_a_ceiling_is_refused(monkeypatch):
    monkeypatch.setenv("NCC_MAX_ATTENDANCE_MARKS", "5")
    marks = pd.DataFrame({"upn": np.full(6, "A1", dtype=object)})
    with pytest.raises(ExtractFileError, match=r"ctf\.xml: the file has 6 rows; a school has at most 5 attendance "
                                               r"marks \(NCC_MAX_ATTENDANCE_MARKS\)"):
        check_row_ceilings({"attendance": marks}, {"attendance": "ctf.xml"})
    check_row_ceilings({"attendance": marks.head(5)}, {"attendance": "ctf.xml"})


def test_cap_issues_keeps_counts_of_rows_already_capped():
    from ncc_transfer.validation.common import cap_issues

    issues = pd.DataFrame({"dataset": ["attendance"] * 5 + ["pupils"], "rule": ["code_unknown"] * 5 + ["sex_missing"],
                           "upn": list("ABCDEF"), "similar_records": [None, 10, None, 4, None, None]})
    capped = cap_issues(issues, keep=2)
    assert capped["upn"].tolist() == ["A", "B", "F"]
    assert capped["similar_records"].tolist()[:2] == [pd.NA, 10 + 3 + 4]  # C, D (and its 4), E dropped
    assert int(issue_weights(capped).sum()) == int(issue_weights(issues).sum()) == 20
