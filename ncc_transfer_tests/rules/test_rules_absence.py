"""Absence summary and continuous-run rules (docs/absence.md; DfE pupil absence methodology,
https://explore-education-statistics.service.gov.uk/methodology/pupil-absence-in-schools-in-england).

Calendars used below (real dates; weekends carry no marks unless a test says so):

    January 2026                      February 2026 (half-term Mon 16 - Fri 20)
    Mo Tu We Th Fr  Sa Su             Mo Tu We Th Fr  Sa Su
     5  6  7  8  9  10 11              2  3  4  5  6   7  8
    12 13 14 15 16  17 18              9 10 11 12 13  14 15
    19 20 21 22 23  24 25             16 17 18 19 20  21 22   <- half-term
    26 27 28 29 30  31  1             23 24 25 26 27  28  1
"""

from __future__ import annotations

import time
from datetime import date

import numpy as np
import pandas as pd
import pytest

from ncc_transfer.canonical import CANONICAL_COLUMNS, VIEW_COLUMNS
from ncc_transfer.rules.absence import absence_headline, absence_summary
from ncc_transfer.rules.runs import absence_triggers, code_runs, ten_day_absence

SCHOOL, LAESTAB = "alpha", "9991001"
WEEK_1 = ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08", "2026-01-09"]
WEEK_2 = ["2026-01-12", "2026-01-13", "2026-01-14", "2026-01-15", "2026-01-16"]
WEEK_3 = ["2026-01-19", "2026-01-20", "2026-01-21", "2026-01-22", "2026-01-23"]
WEEK_4 = ["2026-01-26", "2026-01-27", "2026-01-28", "2026-01-29", "2026-01-30"]
JANUARY = WEEK_1 + WEEK_2 + WEEK_3 + WEEK_4  # 20 school days


def marks(upn: str, days: dict[str, str] | list[tuple[str, str]], school: str = SCHOOL,
          laestab: str = LAESTAB) -> list[tuple]:
    """Attendance rows for one pupil: {date: "AM PM"} or {date: "N"} (same code both sessions)."""
    rows = []
    items = days.items() if isinstance(days, dict) else days
    for day, codes in items:
        am, pm = (codes.split() * 2)[:2]
        rows.append((school, laestab, upn, day, "AM", am))
        rows.append((school, laestab, upn, day, "PM", pm))
    return rows


def attendance(*groups: list[tuple], code_dtype: str = "string[pyarrow]") -> pd.DataFrame:
    rows = [row for group in groups for row in group]
    frame = pd.DataFrame(rows, columns=CANONICAL_COLUMNS["attendance"])
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    for column in ("school_key", "laestab", "upn", "session", "code"):
        frame[column] = frame[column].astype(code_dtype if column == "code" else "string[pyarrow]")
    return frame


def pupils(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame([{"school_key": SCHOOL, "laestab": LAESTAB, **r} for r in rows])
    frame = frame.reindex(columns=CANONICAL_COLUMNS["pupils"])
    frame["dob"] = pd.to_datetime(frame["dob"]).astype("datetime64[ns]")
    for column in CANONICAL_COLUMNS["pupils"]:
        if column not in ("dob", "entry_date", "leaving_date", "extracted_at"):
            frame[column] = frame[column].astype("string[pyarrow]")
    return frame


def same(days: list[str], code: str) -> dict[str, str]:
    return {d: code for d in days}


def runs_as_tuples(frame: pd.DataFrame, *extra: str) -> list[tuple]:
    cols = ["upn", *extra, "first_day", "last_day", "school_days", "ongoing"]
    return [(r[0], *r[1:len(extra) + 1], str(r[-4].date()), str(r[-3].date()), int(r[-2]), bool(r[-1]))
            for r in frame[cols].itertuples(index=False)]


def assert_view_shape(frame: pd.DataFrame, view: str) -> None:
    assert list(frame.columns) == list(VIEW_COLUMNS[view])
    for column, kind in VIEW_COLUMNS[view].items():
        dtype = frame[column].dtype
        if kind == "int":
            assert str(dtype) in ("int64", "Int64"), (column, dtype)
        elif kind == "float":
            assert dtype == np.float64, (column, dtype)
        elif kind == "bool":
            assert dtype == bool, (column, dtype)
        elif kind == "date":
            assert dtype == "datetime64[ns]", (column, dtype)
        else:
            assert pd.api.types.is_string_dtype(dtype) or dtype == object, (column, dtype)


AS_OF = date(2026, 3, 20)  # Friday; the pupils' marks stop earlier unless a test says otherwise


# ================================================================= ten school days: the walk

@pytest.mark.parametrize("weekend", ["no marks", "#"])
def test_run_counts_through_a_weekend(weekend):
    days = same(WEEK_1 + WEEK_2, "N")  # Mon 5 - Fri 16 Jan: 10 school days of N
    if weekend == "#":
        days.update({"2026-01-10": "#", "2026-01-11": "#"})  # Sat/Sun marked as closure
    found = ten_day_absence(attendance(marks("P1", days)), AS_OF)
    assert runs_as_tuples(found) == [("P1", "2026-01-05", "2026-01-16", 10, True)]


@pytest.mark.parametrize("half_term", ["absent", "#"])
def test_run_counts_through_half_term(half_term):
    # Mon 9 - Fri 13 Feb N (5 days), half-term 16-20 Feb, Mon 23 - Fri 27 Feb N (5 days).
    before = ["2026-02-09", "2026-02-10", "2026-02-11", "2026-02-12", "2026-02-13"]
    holiday = ["2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20"]
    after = ["2026-02-23", "2026-02-24", "2026-02-25", "2026-02-26", "2026-02-27"]
    days = {**same(before, "N"), **same(after, "O")}
    if half_term == "#":
        days.update(same(holiday, "#"))
    found = ten_day_absence(attendance(marks("P1", days)), date(2026, 2, 27))
    assert runs_as_tuples(found) == [("P1", "2026-02-09", "2026-02-27", 10, True)]


@pytest.mark.parametrize("breaker", ["L", "/ N", "N L", "V", "I", "D", "N D", "M N"])
def test_run_is_broken(breaker):
    # 20 days of N with a breaking day on Mon 12 Jan: 5 days before (not reported), 14 after.
    # The school's last school day is Fri 30 Jan (its only pupil's last mark), so the run is ongoing.
    days = same(JANUARY, "N")
    days["2026-01-12"] = breaker
    found = ten_day_absence(attendance(marks("P1", days)), AS_OF)
    assert runs_as_tuples(found) == [("P1", "2026-01-13", "2026-01-30", 14, True)]


def test_late_mark_splits_ten_days_into_two_short_runs():
    days = same(WEEK_1 + WEEK_2 + ["2026-01-19"], "N")  # 11 days of N ...
    days["2026-01-09"] = "L"  # ... Fri 9 Jan late: 4 days + 6 days
    assert ten_day_absence(attendance(marks("P1", days)), AS_OF).empty


def test_dual_registration_day_breaks_even_with_no_possible_session():
    days = same(WEEK_1 + WEEK_2 + ["2026-01-19"], "N")
    days["2026-01-09"] = "D"  # at the other school all day: not possible, yet it ends the run
    assert ten_day_absence(attendance(marks("P1", days)), AS_OF).empty


@pytest.mark.parametrize("pm", ["#", "X", "-", "Y1", "Z", "Q"])
def test_day_with_one_possible_session_extends(pm):
    days = same(WEEK_1 + WEEK_2, "N")
    days["2026-01-07"] = f"N {pm}"  # Wed 7 Jan: AM N, PM not possible -> still extends
    days["2026-01-14"] = f"{pm} G"  # Wed 14 Jan: AM not possible, PM G
    found = ten_day_absence(attendance(marks("P1", days)), AS_OF)
    assert runs_as_tuples(found) == [("P1", "2026-01-05", "2026-01-16", 10, True)]


@pytest.mark.parametrize("skipped", ["#", "X", "Y1 Y2", "Z", "-", "Q", "# X"])
def test_day_with_no_possible_session_is_skipped(skipped):
    days = same(WEEK_1 + WEEK_2 + ["2026-01-19"], "U")
    days["2026-01-09"] = skipped  # Fri 9 Jan skipped: Mon 5 - Mon 19 Jan = 10 extending days
    found = ten_day_absence(attendance(marks("P1", days)), AS_OF)
    assert runs_as_tuples(found) == [("P1", "2026-01-05", "2026-01-19", 10, True)]


def test_exactly_ten_days_reported_nine_not():
    ten = same(WEEK_1 + WEEK_2, "N")  # 5-16 Jan
    nine = same(WEEK_1 + WEEK_2[:4], "N")  # 5-15 Jan
    nine["2026-01-16"] = "/"  # back on Fri 16 Jan
    found = ten_day_absence(attendance(marks("TEN", ten), marks("NINE", nine)), AS_OF)
    assert runs_as_tuples(found) == [("TEN", "2026-01-05", "2026-01-16", 10, True)]


def test_ongoing_when_open_on_the_as_of_date_and_not_after_return():
    still_out = same(WEEK_1 + WEEK_2 + WEEK_3, "N")  # N every day to Fri 23 Jan (the as-of date)
    came_back = {**same(WEEK_1 + WEEK_2, "N"), **same(WEEK_3, "/ \\")}  # back on Mon 19 Jan
    found = ten_day_absence(attendance(marks("OUT", still_out), marks("BACK", came_back)), date(2026, 1, 23))
    assert runs_as_tuples(found) == [
        ("BACK", "2026-01-05", "2026-01-16", 10, False),
        ("OUT", "2026-01-05", "2026-01-23", 15, True),
    ]


def test_ongoing_uses_the_schools_last_school_day():
    # LEFT's marks stop on Fri 16 Jan (left the roll); the school carried on to Fri 23 Jan.
    left = same(WEEK_1 + WEEK_2, "N")
    stayer = same(WEEK_1 + WEEK_2 + WEEK_3, "/")
    # Same shape at another school whose last school day is Fri 16 Jan (marks end there).
    other = same(WEEK_1 + WEEK_2, "N")
    found = ten_day_absence(attendance(marks("LEFT", left), marks("STAY", stayer),
                                       marks("OTHER", other, school="beta", laestab="9991002")),
                            date(2026, 1, 23))
    assert runs_as_tuples(found) == [("LEFT", "2026-01-05", "2026-01-16", 10, False),
                                     ("OTHER", "2026-01-05", "2026-01-16", 10, True)]
    assert list(found["school_key"]) == ["alpha", "beta"]


def test_as_of_mid_run_cuts_the_run_and_it_is_ongoing():
    days = same(JANUARY, "N")
    found = ten_day_absence(attendance(marks("P1", days)), date(2026, 1, 18))  # Sunday 18 Jan
    assert runs_as_tuples(found) == [("P1", "2026-01-05", "2026-01-16", 10, True)]
    assert ten_day_absence(attendance(marks("P1", days)), date(2026, 1, 15)).empty  # 9 days so far


def test_two_separate_runs_give_two_rows():
    days = {**same(WEEK_1 + WEEK_2, "G"), "2026-01-19": "/", **same(WEEK_3[1:] + WEEK_4 + ["2026-02-02"], "O")}
    found = ten_day_absence(attendance(marks("P1", days)), date(2026, 2, 2))
    assert runs_as_tuples(found) == [("P1", "2026-01-05", "2026-01-16", 10, False),
                                     ("P1", "2026-01-20", "2026-02-02", 10, True)]


def test_mover_same_upn_two_schools_are_separate_enrolments():
    # 6 days of N at alpha (5-12 Jan), then 6 days of N at beta (13-20 Jan): no run of 10 anywhere.
    at_alpha = same(WEEK_1 + WEEK_2[:1], "N")
    at_beta = same(WEEK_2[1:] + WEEK_3[:2], "N")
    att = attendance(marks("MOVER", at_alpha), marks("MOVER", at_beta, school="beta", laestab="9991002"))
    assert ten_day_absence(att, AS_OF).empty
    summary = absence_summary(None, att, AS_OF)
    assert list(zip(summary["school_key"], summary["laestab"], summary["upn"], summary["sessions_possible"])) == [
        ("alpha", LAESTAB, "MOVER", 12), ("beta", "9991002", "MOVER", 12)]


def test_threshold_is_a_parameter():
    days = same(WEEK_1, "N")
    assert runs_as_tuples(ten_day_absence(attendance(marks("P1", days)), AS_OF, min_days=5)) == [
        ("P1", "2026-01-05", "2026-01-09", 5, True)]
    generic = code_runs(attendance(marks("P1", days)), AS_OF, {"n"}, 3)
    assert list(generic.columns) == ["school_key", "laestab", "upn", "first_day", "last_day", "school_days",
                                     "ongoing"]
    assert runs_as_tuples(generic) == [("P1", "2026-01-05", "2026-01-09", 5, True)]


def test_marks_after_as_of_and_before_the_academic_year_are_ignored():
    days = {**same(["2025-07-14", "2025-07-15", "2025-07-16", "2025-07-17", "2025-07-18"], "N"),  # last year
            **same(WEEK_1 + WEEK_2[:4], "N"), "2026-01-16": "N", "2026-01-19": "N"}
    found = ten_day_absence(attendance(marks("P1", days)), date(2026, 1, 15))  # Thu 15 Jan
    assert found.empty  # 9 days in range; 16 and 19 Jan are after as-of, July is last year
    summary = absence_summary(None, attendance(marks("P1", days)), date(2026, 1, 15))
    assert int(summary["sessions_possible"].iloc[0]) == 18


# ================================================================= other triggers

def test_illness_breaks_ten_day_run_but_builds_sickness_15():
    days = same(WEEK_1 + WEEK_2 + WEEK_3, "I")  # 15 days of I, 5-23 Jan
    att = attendance(marks("SICK", days), marks("MIX", {**same(JANUARY, "N"), "2026-01-12": "I"}))
    as_of = date(2026, 1, 30)
    assert runs_as_tuples(ten_day_absence(att, as_of)) == [("MIX", "2026-01-13", "2026-01-30", 14, True)]
    triggers = absence_triggers(att, as_of)
    assert runs_as_tuples(triggers, "trigger") == [("SICK", "sickness_15", "2026-01-05", "2026-01-23", 15, False)]


def test_sickness_14_days_not_enough():
    att = attendance(marks("SICK", same(WEEK_1 + WEEK_2 + WEEK_3[:4], "I")))
    assert absence_triggers(att, AS_OF).empty


def test_twenty_days_of_g_n_o_is_gno_20_and_u_breaks_it():
    mixed = {d: "GNO"[i % 3] for i, d in enumerate(JANUARY)}  # 20 days cycling G, N, O
    with_u = {**mixed, "2026-01-19": "U"}
    att = attendance(marks("GNO", mixed), marks("WITHU", with_u))
    as_of = date(2026, 1, 30)
    assert runs_as_tuples(absence_triggers(att, as_of), "trigger") == [
        ("GNO", "gno_20", "2026-01-05", "2026-01-30", 20, True)]
    # U is unauthorised: the 10-day rule still sees 20 days for both pupils.
    assert runs_as_tuples(ten_day_absence(att, as_of)) == [
        ("GNO", "2026-01-05", "2026-01-30", 20, True), ("WITHU", "2026-01-05", "2026-01-30", 20, True)]


def test_triggers_for_the_same_pupil_sort_by_first_day_and_thresholds_are_parameters():
    days = {**same(WEEK_1, "I"), **same(WEEK_2, "N")}
    found = absence_triggers(attendance(marks("P1", days)), AS_OF, sickness_days=5, gno_days=5)
    assert runs_as_tuples(found, "trigger") == [("P1", "sickness_15", "2026-01-05", "2026-01-09", 5, False),
                                                ("P1", "gno_20", "2026-01-12", "2026-01-16", 5, True)]


# ================================================================= absence summary

def one(summary: pd.DataFrame, upn: str) -> dict:
    rows = summary[summary["upn"] == upn]
    assert len(rows) == 1
    return rows.iloc[0].to_dict()


def test_exactly_ten_percent_is_persistent_and_nine_and_a_half_is_not():
    # TEN: 20 sessions (5-16 Jan), 2 absent = 10 %. NEAR: 200 sessions (100 days from Mon 1 Sep 2025),
    # 19 absent = 9.5 %.
    ten = {**same(WEEK_1 + WEEK_2, "/ \\"), "2026-01-07": "I O"}
    hundred = [d.strftime("%Y-%m-%d") for d in pd.bdate_range("2025-09-01", periods=100)]
    near = same(hundred, "/")
    for d in hundred[:9]:
        near[d] = "N"
    near[hundred[9]] = "/ M"
    summary = absence_summary(None, attendance(marks("TEN", ten), marks("NEAR", near)), AS_OF)
    t, n = one(summary, "TEN"), one(summary, "NEAR")
    assert (t["sessions_possible"], t["sessions_authorised"], t["sessions_unauthorised"]) == (20, 1, 1)
    assert t["absence_rate"] == pytest.approx(0.10) and t["persistent_absence"] and not t["severe_absence"]
    assert (n["sessions_possible"], n["sessions_authorised"] + n["sessions_unauthorised"]) == (200, 19)
    assert n["absence_rate"] == pytest.approx(0.095) and not n["persistent_absence"]


def test_exactly_fifty_percent_is_severe():
    half = {**same(WEEK_1, "N"), **same(WEEK_2, "/")}  # 10 of 20 sessions
    under = {**same(WEEK_1[:4], "N"), "2026-01-09": "N /", **same(WEEK_2, "/")}  # 9 of 20
    summary = absence_summary(None, attendance(marks("HALF", half), marks("UNDER", under)), AS_OF)
    assert one(summary, "HALF")["severe_absence"] and one(summary, "HALF")["persistent_absence"]
    assert not one(summary, "UNDER")["severe_absence"] and one(summary, "UNDER")["persistent_absence"]
    assert one(summary, "UNDER")["absence_rate"] == pytest.approx(0.45)


def test_present_and_aea_are_possible_not_absence():
    days = {"2026-01-05": "/ \\", "2026-01-06": "L V", "2026-01-07": "K P", "2026-01-08": "W B"}
    s = one(absence_summary(None, attendance(marks("P1", days)), AS_OF), "P1")
    assert (s["sessions_possible"], s["sessions_present"], s["sessions_aea"]) == (8, 3, 5)
    assert (s["sessions_authorised"], s["sessions_unauthorised"], s["absence_rate"]) == (0, 0, 0.0)
    assert not s["persistent_absence"]


def test_not_possible_codes_and_no_marks_are_left_out():
    days = {"2026-01-05": "D X", "2026-01-06": "Y1 Z", "2026-01-07": "# -", "2026-01-08": "Q Y7",
            "2026-01-09": "N /"}
    s = one(absence_summary(None, attendance(marks("P1", days)), AS_OF), "P1")
    assert (s["sessions_possible"], s["sessions_present"], s["sessions_unauthorised"]) == (2, 1, 1)
    assert s["absence_rate"] == 0.5 and s["severe_absence"]


def test_all_authorised_and_unauthorised_codes():
    days = {"2026-01-05": "C C1", "2026-01-06": "C2 E", "2026-01-07": "I J1", "2026-01-08": "M R",
            "2026-01-09": "S T", "2026-01-12": "G N", "2026-01-13": "O U"}
    s = one(absence_summary(None, attendance(marks("P1", days)), AS_OF), "P1")
    assert (s["sessions_possible"], s["sessions_authorised"], s["sessions_unauthorised"]) == (14, 10, 4)


def test_pre_2024_codes_read_by_date():
    # Summer 2024 (old set until Sun 18 Aug 2024): H authorised, J approved activity.
    old = {"2024-07-15": "H H", "2024-07-16": "J /", "2024-07-17": "/ \\"}
    s = one(absence_summary(None, attendance(marks("P1", old)), date(2024, 7, 19)), "P1")
    assert (s["sessions_possible"], s["sessions_authorised"], s["sessions_aea"], s["sessions_present"]) == (6, 2, 1, 3)
    # Autumn 2024 (new set): H no longer exists, so it is not a possible session; J1 is authorised.
    new = {"2024-09-09": "H H", "2024-09-10": "J1 /"}
    s = one(absence_summary(None, attendance(marks("P1", new)), date(2024, 9, 13)), "P1")
    assert (s["sessions_possible"], s["sessions_authorised"], s["sessions_present"]) == (2, 1, 1)


def test_enrolments_with_zero_possible_sessions_are_excluded():
    att = attendance(marks("DUAL", same(WEEK_1, "D")), marks("CLOSED", same(WEEK_1, "#")),
                     marks("HERE", same(WEEK_1, "/")))
    roll = pupils([{"upn": "DUAL", "dob": "2015-01-01", "enrol_status": "M"},
                   {"upn": "NOMARKS", "dob": "2015-01-01", "enrol_status": "C"},
                   {"upn": "HERE", "dob": "2015-01-01", "enrol_status": "C"}])
    summary = absence_summary(roll, att, AS_OF)
    assert list(summary["upn"]) == ["HERE"]


def test_dfe_comparable_age_and_enrol_status():
    # as of 20 Mar 2026 the academic year starts 1 Sep 2025: ages are taken on Sun 31 Aug 2025.
    roll = pupils([
        {"upn": "AGE4", "dob": "2020-09-01", "enrol_status": "C"},  # 4 on 31 Aug 2025
        {"upn": "AGE5", "dob": "2020-08-31", "enrol_status": "C"},  # 5 that very day
        {"upn": "AGE15", "dob": "2009-09-01", "enrol_status": "M"},  # 15 (16 the next day)
        {"upn": "AGE16", "dob": "2009-08-31", "enrol_status": "C"},  # 16
        {"upn": "SUBSID", "dob": "2015-06-01", "enrol_status": "S"},  # subsidiary dual registration
        {"upn": "NODOB", "dob": None, "enrol_status": "C"},
    ])
    upns = ["AGE4", "AGE5", "AGE15", "AGE16", "SUBSID", "NODOB", "NOPUPIL"]
    att = attendance(*[marks(u, same(WEEK_1, "/")) for u in upns])
    summary = absence_summary(roll, att, AS_OF).set_index("upn")
    assert summary.loc["AGE4", "age_at_31_august"] == 4 and summary.loc["AGE5", "age_at_31_august"] == 5
    assert summary.loc["AGE15", "age_at_31_august"] == 15 and summary.loc["AGE16", "age_at_31_august"] == 16
    assert summary.loc["SUBSID", "age_at_31_august"] == 10
    assert pd.isna(summary.loc["NODOB", "age_at_31_august"]) and pd.isna(summary.loc["NOPUPIL", "age_at_31_august"])
    assert pd.isna(summary.loc["NOPUPIL", "enrol_status"]) and summary.loc["AGE15", "enrol_status"] == "M"
    assert summary["dfe_comparable"].to_dict() == {
        "AGE15": True, "AGE16": False, "AGE4": False, "AGE5": True, "NODOB": False, "NOPUPIL": False,
        "SUBSID": False}


def test_headline_counts_dfe_comparable_enrolments():
    roll = pupils([{"upn": u, "dob": "2015-01-01", "enrol_status": "C"} for u in ("A", "B", "C", "D")]
                  + [{"upn": "OLD", "dob": "2008-01-01", "enrol_status": "C"}])
    att = attendance(
        marks("A", same(WEEK_1, "/")),  # 0 of 10
        marks("B", {**same(WEEK_1[:4], "/"), WEEK_1[4]: "N"}),  # 2 of 10: persistent
        marks("C", {**same(WEEK_1[:2], "/"), **same(WEEK_1[2:], "I")}),  # 6 of 10: severe
        marks("D", same(WEEK_1, "#")),  # no possible session: no row
        marks("OLD", same(WEEK_1, "N")),  # 17: not comparable
    )
    headline = absence_headline(absence_summary(roll, att, AS_OF))
    assert headline["enrolments"] == 3 and headline["all_enrolments"] == 4
    assert (headline["persistent"], headline["severe"]) == (2, 1)
    assert headline["pa_rate"] == pytest.approx(2 / 3)
    assert headline["overall_absence_rate"] == pytest.approx(8 / 30)
    empty = absence_headline(absence_summary(None, attendance(), AS_OF))
    assert empty["enrolments"] == 0 and empty["pa_rate"] is None and empty["overall_absence_rate"] is None


# ================================================================= contract shape

@pytest.mark.parametrize("code_dtype", ["string[pyarrow]", "object"])
def test_views_have_contract_columns_and_types(code_dtype):
    att = attendance(marks("P2", same(WEEK_1 + WEEK_2, "N")), marks("P1", same(WEEK_1 + WEEK_2 + WEEK_3, "I")),
                     code_dtype=code_dtype)
    roll = pupils([{"upn": "P1", "dob": "2014-02-03", "enrol_status": "C"}])
    summary = absence_summary(roll, att, AS_OF)
    assert_view_shape(summary, "absence_summary")
    assert list(summary["upn"]) == ["P1", "P2"]
    assert (summary["as_of"] == pd.Timestamp(AS_OF)).all()
    ten = ten_day_absence(att, AS_OF)
    assert_view_shape(ten, "ten_day_absence")
    assert (ten["as_of"] == pd.Timestamp(AS_OF)).all() and len(ten) == 1
    triggers = absence_triggers(att, AS_OF)
    assert_view_shape(triggers, "absence_triggers")
    assert list(triggers["trigger"]) == ["sickness_15"]
    empty = attendance()
    assert_view_shape(absence_summary(roll, empty, AS_OF), "absence_summary")
    assert_view_shape(ten_day_absence(empty, AS_OF), "ten_day_absence")
    assert_view_shape(absence_triggers(empty, AS_OF), "absence_triggers")


def test_object_and_arrow_codes_give_the_same_views():
    groups = [marks("P1", {**same(JANUARY, "N"), "2026-01-12": "L"}), marks("P2", same(JANUARY, "I"))]
    a, b = attendance(*groups), attendance(*groups, code_dtype="object")
    pd.testing.assert_frame_equal(absence_summary(None, a, AS_OF), absence_summary(None, b, AS_OF))
    pd.testing.assert_frame_equal(ten_day_absence(a, AS_OF), ten_day_absence(b, AS_OF))
    pd.testing.assert_frame_equal(absence_triggers(a, AS_OF), absence_triggers(b, AS_OF))


# ================================================================= scale

def test_scale_2000_pupils_a_school_year(capsys):
    rng = np.random.default_rng(2026)
    n_pupils, n_days = 2000, 190
    days = pd.bdate_range("2025-09-01", periods=n_days + 10)[:n_days]  # 190 weekdays (no holidays)
    # Mostly present; some pupils with long absence blocks so the run rules have work to do.
    codes = np.array(["/", "\\", "L", "I", "N", "O", "G", "U", "M", "V", "#", "D", "X", "-"], dtype=object)
    weights = np.array([.40, .40, .03, .04, .03, .02, .01, .01, .01, .01, .02, .005, .005, .01])
    grid = rng.choice(len(codes), size=(n_pupils, n_days, 2), p=weights / weights.sum())
    truant = rng.random(n_pupils) < 0.1
    grid[truant, 40:70, :] = 4  # 30 days of N
    sick = rng.random(n_pupils) < 0.05
    grid[sick, 100:120, :] = 3  # 20 days of I
    upns = np.array([f"A{i:012d}" for i in range(n_pupils)], dtype=object)
    school = np.where(np.arange(n_pupils) < 1000, "alpha", "beta").astype(object)
    att = pd.DataFrame({
        "school_key": np.repeat(school, n_days * 2),
        "laestab": np.repeat(np.where(school == "alpha", "9991001", "9991002"), n_days * 2),
        "upn": np.repeat(upns, n_days * 2),
        "date": np.tile(np.repeat(days.to_numpy(dtype="datetime64[ns]"), 2), n_pupils),
        "session": np.tile(np.array(["AM", "PM"], dtype=object), n_pupils * n_days),
        "code": codes[grid.reshape(-1)],
    })
    for column in ("school_key", "laestab", "upn", "session", "code"):
        att[column] = att[column].astype("string[pyarrow]")
    roll = pupils([{"upn": u, "dob": "2014-05-05", "enrol_status": "C"} for u in upns[:1000]])
    as_of = date(2026, 7, 17)

    timings = {}
    start = time.perf_counter()
    summary = absence_summary(roll, att, as_of)
    timings["absence_summary"] = time.perf_counter() - start
    start = time.perf_counter()
    ten = ten_day_absence(att, as_of)
    timings["ten_day_absence"] = time.perf_counter() - start
    start = time.perf_counter()
    triggers = absence_triggers(att, as_of)
    timings["absence_triggers"] = time.perf_counter() - start
    with capsys.disabled():
        print(f"\n{len(att):,} marks: " + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()))

    assert len(summary) == n_pupils
    assert summary["sessions_possible"].sum() == int((grid <= 9).sum())
    assert set(ten["upn"]) >= set(upns[truant])  # every 30-day N block is a run of at least 10 days
    assert set(triggers.loc[triggers["trigger"] == "sickness_15", "upn"]) >= set(upns[sick])
    assert sum(timings.values()) < 10
