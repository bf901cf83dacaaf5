"""Issues across nights: new on night 1, persisting on night 2 (count 2), fixed on night 3 (kept as history)."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from ncc_transfer.canonical import STORED_ISSUE_COLUMNS, VALIDATION_ISSUE_COLUMNS
from ncc_transfer.issue_history import merge_issue_history

NIGHTS = [date(2026, 3, 16), date(2026, 3, 17), date(2026, 3, 18), date(2026, 3, 19)]


def finding(rule="dob_not_a_date", upn="H801200001001", dataset="pupils", night=NIGHTS[0]):
    stamp = pd.Timestamp(night) + pd.Timedelta(hours=2)
    row = {"school_key": "9262001-files", "laestab": "9262001", "upn": upn, "dataset": dataset, "record": "",
           "location": "pupils.csv line 2", "field": "dob", "value": "2031-02-30", "rule": rule,
           "severity": "error", "message": "Date of birth 2031-02-30 is not a real date", "first_seen": stamp,
           "last_seen": stamp}
    return row


def night(previous, findings, when, checked=None):
    tonight = pd.DataFrame(findings, columns=VALIDATION_ISSUE_COLUMNS)
    return merge_issue_history(previous, tonight, night=when, seen_at=datetime.combine(when, datetime.min.time()),
                               checked_datasets=checked)


def empty():
    return pd.DataFrame(columns=STORED_ISSUE_COLUMNS)


def test_new_persisting_fixed_dropped():
    one = night(empty(), [finding()], NIGHTS[0])
    assert list(one.columns) == STORED_ISSUE_COLUMNS
    assert one.iloc[0][["status", "nights_seen"]].tolist() == ["new", 1]

    two = night(one, [finding(night=NIGHTS[1])], NIGHTS[1])
    assert two.iloc[0][["status", "nights_seen"]].tolist() == ["persisting", 2]
    assert two.iloc[0]["first_seen"] == one.iloc[0]["first_seen"]

    three = night(two, [], NIGHTS[2])
    assert len(three) == 1
    assert three.iloc[0]["status"] == "fixed" and three.iloc[0]["fixed_on"] == pd.Timestamp(NIGHTS[2])
    assert three.iloc[0]["nights_seen"] == 2

    four = night(three, [], NIGHTS[3])  # still fixed, still dated night 3: history, not re-reported
    assert four.iloc[0][["status", "nights_seen"]].tolist() == ["fixed", 2]
    assert four.iloc[0]["fixed_on"] == pd.Timestamp(NIGHTS[2])


def test_same_night_rerun_changes_nothing():
    one = night(empty(), [finding()], NIGHTS[0])
    again = night(one, [finding()], NIGHTS[0])
    assert again.iloc[0][["status", "nights_seen"]].tolist() == ["new", 1]
    fixed = night(night(one, [finding()], NIGHTS[1]), [], NIGHTS[2])
    fixed_again = night(fixed, [], NIGHTS[2])
    assert fixed_again.iloc[0]["status"] == "fixed"


def test_recurring_after_fix_is_new_again():
    fixed = night(night(empty(), [finding()], NIGHTS[0]), [], NIGHTS[1])
    back = night(fixed, [finding()], NIGHTS[2])
    assert back.iloc[0][["status", "nights_seen"]].tolist() == ["new", 1]
    assert len(back) == 1


def test_unchecked_datasets_are_kept_when_files_cannot_be_read():
    one = night(empty(), [finding(), finding(rule="code_unknown", dataset="attendance")], NIGHTS[0])
    file_problem = finding(rule="file_unreadable", upn=None, dataset="file")
    two = night(one, [file_problem], NIGHTS[1], checked={"file"})
    by_rule = two.set_index("rule")
    assert by_rule.loc["dob_not_a_date", "status"] == "new"  # not fixed: it was not checked tonight
    assert by_rule.loc["code_unknown", "status"] == "new"
    assert by_rule.loc["file_unreadable", "status"] == "new"
    three = night(two, [finding(night=NIGHTS[2])], NIGHTS[2])
    by_rule = three.set_index("rule")
    assert by_rule.loc["file_unreadable", "status"] == "fixed"
    assert by_rule.loc["dob_not_a_date", "status"] == "persisting"
    assert by_rule.loc["code_unknown", "status"] == "fixed"


def test_identity_separates_pupils_and_rules():
    one = night(empty(), [finding(), finding(upn="G80120000101A"), finding(rule="dob_in_future")], NIGHTS[0])
    two = night(one, [finding(upn="G80120000101A")], NIGHTS[1])
    statuses = sorted(zip(two["upn"], two["rule"], two["status"]))
    assert statuses == [("G80120000101A", "dob_not_a_date", "persisting"),
                        ("H801200001001", "dob_in_future", "fixed"),
                        ("H801200001001", "dob_not_a_date", "fixed")]
