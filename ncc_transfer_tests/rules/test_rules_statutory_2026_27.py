"""The DfE Year 11 rule, cumulative sickness and the reg 13(2) new-pupil exemption, hand-worked on the
2026/27 school year in England (docs/absence.md).

School A's calendar, 2026/27 (AM/PM marks on every school day; holidays carry no marks):

    Autumn term   Thu 3 Sep 2026 - Fri 18 Dec 2026, half-term Mon 26 - Fri 30 Oct 2026     72 school days
    Christmas     Mon 21 Dec 2026 - Fri 1 Jan 2027
    Spring term   Mon 4 Jan 2027 - Fri 26 Mar 2027, half-term Mon 15 - Fri 19 Feb 2027     55 school days
    Easter        Mon 29 Mar 2027 - Fri 9 Apr 2027
    Summer 1      Mon 12 Apr 2027 - Fri 28 May 2027, closed Mon 3 May (early May bank hol.) 34 school days
    May half-term Mon 31 May 2027 (spring bank holiday) - Fri 4 Jun 2027
    Summer 2      Mon 7 Jun 2027 - Wed 21 Jul 2027                                          33 school days
                                                                                     total 194 school days

         May 2027                  June 2027                 July 2027
    Mo Tu We Th Fr Sa Su      Mo Tu We Th Fr Sa Su      Mo Tu We Th Fr Sa Su
                    1  2           1  2  3  4  5  6                1  2  3  4
     3  4  5  6  7  8  9       7  8  9 10 11 12 13       5  6  7  8  9 10 11
    10 11 12 13 14 15 16      14 15 16 17 18 19 20      12 13 14 15 16 17 18
    17 18 19 20 21 22 23      21 22 23 24 25 26 27      19 20 21 22 23 24 25
    24 25 26 27 28 29 30      28 29 30                  26 27 28 29 30 31
    31

School B: the same, but no May half-term: open Tue 1 - Fri 4 Jun 2027 (closed only on the spring
bank holiday, Mon 31 May). School C: its half-term is the week after, Mon 7 - Fri 11 Jun 2027 (and
closed Mon 31 May).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from ncc_transfer.canonical import CANONICAL_COLUMNS, VIEW_COLUMNS, coerce_types
from ncc_transfer.rules.absence import absence_headline, absence_summary
from ncc_transfer.rules.movements import movement_headline, pupil_movements
from ncc_transfer.rules.runs import absence_triggers

D = pd.Timestamp
AS_OF = date(2027, 7, 21)  # Wed 21 Jul 2027, the last day of the summer term
HOLIDAYS = [("2026-10-26", "2026-10-30"), ("2026-12-21", "2027-01-01"), ("2027-02-15", "2027-02-19"),
            ("2027-03-29", "2027-04-09"), ("2027-05-03", "2027-05-03")]
MAY_HALF_TERM = {"A": ("2027-05-31", "2027-06-04"), "B": ("2027-05-31", "2027-05-31"),
                 "C": ("2027-05-31", "2027-05-31"), "C2": ("2027-06-07", "2027-06-11")}


def school_days(school: str = "A", last: str = "2027-07-21") -> list[pd.Timestamp]:
    closed = [*HOLIDAYS, MAY_HALF_TERM[school]] + ([MAY_HALF_TERM["C2"]] if school == "C" else [])
    shut = {d for first, end in closed for d in pd.date_range(first, end)}
    return [d for d in pd.bdate_range("2026-09-03", last) if d not in shut]


def marks(school: str, upn: str, codes: dict[pd.Timestamp, str]) -> list[dict]:
    """AM/PM rows; a code "X Y" gives X in the morning and Y in the afternoon."""
    rows = []
    for day, code in codes.items():
        am, pm = (code.split() * 2)[:2]
        rows += [{"school_key": school, "laestab": "999" + school, "upn": upn, "date": day, "session": "AM",
                  "code": am},
                 {"school_key": school, "laestab": "999" + school, "upn": upn, "date": day, "session": "PM",
                  "code": pm}]
    return rows


def attendance(*groups: list[dict]) -> pd.DataFrame:
    return coerce_types("attendance", pd.DataFrame([r for g in groups for r in g],
                                                   columns=CANONICAL_COLUMNS["attendance"]))


def pupils(rows: list[dict]) -> pd.DataFrame:
    return coerce_types("pupils", pd.DataFrame(rows))


def pupil(school: str, upn: str, dob: str, nc_year: str = "5", status: str = "C", entry: str | None = None) -> dict:
    return {"school_key": school, "laestab": "999" + school, "upn": upn, "dob": dob, "nc_year": nc_year,
            "enrol_status": status, "entry_date": entry, "surname": "S", "forename": "F", "sex": "F"}


def present_then_absent_from(school: str, upn: str, absent_from: str) -> list[dict]:
    """Present every school day, then unauthorised absence (O) every school day from ``absent_from``."""
    return marks(school, upn, {d: ("O" if d >= D(absent_from) else "/ \\") for d in school_days(school)})


# =============================================================================== absence_summary

Y11_DOB, Y10_DOB = "2011-03-10", "2012-03-10"  # 15 and 14 on Mon 31 Aug 2026


def test_year_11_absent_only_after_may_half_term_is_not_persistent_under_the_dfe_method():
    # Both present on every school day to Fri 28 May 2027 (161 days) and absent (O) on every day of
    # summer 2, Mon 7 Jun - Wed 21 Jul 2027 (33 days = 66 sessions) of 194 days (388 sessions).
    att = attendance(present_then_absent_from("A", "Y11", "2027-06-07"),
                     present_then_absent_from("A", "Y10", "2027-06-07"))
    roll = pupils([pupil("A", "Y11", Y11_DOB, "11", entry="2022-09-05"),
                   pupil("A", "Y10", Y10_DOB, "10", entry="2022-09-05")])
    summary = absence_summary(roll, att, AS_OF).set_index("upn")
    y11, y10 = summary.loc["Y11"], summary.loc["Y10"]
    assert (y11["age_at_31_august"], y10["age_at_31_august"]) == (15, 14)
    assert y11["summer_2_start"] == D("2027-06-07") and y10["summer_2_start"] == D("2027-06-07")
    # Y11, DfE method: summer 2 removed: 322 possible (161 days), none absent.
    assert (y11["sessions_possible"], y11["sessions_present"], y11["sessions_unauthorised"]) == (322, 322, 0)
    assert y11["absence_rate"] == 0 and not y11["persistent_absence"] and not y11["severe_absence"]
    # Y11, uncut: 66 of 388 = 17.0 %: persistent.
    assert (y11["sessions_possible_all"], y11["sessions_unauthorised_all"]) == (388, 66)
    assert y11["absence_rate_all"] == pytest.approx(66 / 388) and y11["persistent_absence_all"]
    assert not y11["severe_absence_all"]
    # Y10: nothing cut: persistent in both.
    for suffix in ("", "_all"):
        assert (y10["sessions_possible" + suffix], y10["sessions_unauthorised" + suffix]) == (388, 66)
        assert y10["persistent_absence" + suffix] and not y10["severe_absence" + suffix]
    assert y11["dfe_comparable"] and y10["dfe_comparable"]
    headline = absence_headline(absence_summary(roll, att, AS_OF))
    assert (headline["enrolments"], headline["persistent"]) == (2, 1)
    assert headline["sessions_possible"] == 322 + 388 and headline["sessions_absent"] == 66


def test_before_summer_2_nothing_is_cut():
    # As of Fri 28 May 2027 the break has not happened: the fallback (first school day after Mon 31 May)
    # is not in the data, so summer_2_start is null and nothing is cut.
    att = attendance(present_then_absent_from("A", "Y11", "2027-05-24"))
    roll = pupils([pupil("A", "Y11", Y11_DOB, "11", entry="2022-09-05")])
    row = absence_summary(roll, att, date(2027, 5, 28)).iloc[0]
    assert pd.isna(row["summer_2_start"])
    assert row["sessions_possible"] == row["sessions_possible_all"] == 322 and row["sessions_unauthorised"] == 10


def test_school_without_a_may_half_term_cuts_from_the_day_after_the_spring_bank_holiday():
    # School B is closed only on Mon 31 May 2027 (one weekday: no half-term). Summer 2 starts on the
    # first school day after the spring bank holiday, Tue 1 Jun 2027: 4 + 33 = 37 days cut.
    att = attendance(present_then_absent_from("B", "Y11", "2027-06-01"))
    roll = pupils([pupil("B", "Y11", Y11_DOB, "11", entry="2022-09-05")])
    row = absence_summary(roll, att, AS_OF).iloc[0]
    assert row["summer_2_start"] == D("2027-06-01")
    assert (row["sessions_possible"], row["sessions_unauthorised"]) == (322, 0) and not row["persistent_absence"]
    assert (row["sessions_possible_all"], row["sessions_unauthorised_all"]) == (396, 74)
    assert row["persistent_absence_all"]


def test_half_term_in_the_first_week_of_june_is_found_from_the_schools_own_calendar():
    # School C: closed Mon 31 May (bank holiday) and Mon 7 - Fri 11 Jun (half-term): summer 2 from Mon 14 Jun.
    att = attendance(present_then_absent_from("C", "Y11", "2027-06-14"))
    roll = pupils([pupil("C", "Y11", Y11_DOB, "11", entry="2022-09-05")])
    row = absence_summary(roll, att, AS_OF).iloc[0]
    assert row["summer_2_start"] == D("2027-06-14")
    assert row["sessions_unauthorised"] == 0 and row["sessions_unauthorised_all"] == 56  # 14 Jun - 21 Jul: 28 days


def test_enrolment_whose_only_sessions_were_cut_keeps_its_uncut_row_and_summer_2_joiners_are_not_comparable():
    summer_2 = [d for d in school_days("A") if d >= D("2027-06-07")]
    att = attendance(present_then_absent_from("A", "FILLER", "2027-08-01"),
                     marks("A", "Y11_NEW", {d: "O" for d in summer_2}),  # joined Mon 7 Jun, never came
                     marks("A", "Y9_NEW", {d: "/ \\" for d in summer_2}))  # joined Mon 7 Jun, present
    roll = pupils([pupil("A", "FILLER", Y10_DOB, "10", entry="2022-09-05"),
                   pupil("A", "Y11_NEW", Y11_DOB, "11", entry="2027-06-07"),
                   pupil("A", "Y9_NEW", "2013-03-10", "9", entry=None)])  # no entry date: first session
    summary = absence_summary(roll, att, AS_OF).set_index("upn")
    y11 = summary.loc["Y11_NEW"]
    assert (y11["sessions_possible"], y11["sessions_possible_all"], y11["sessions_unauthorised_all"]) == (0, 66, 66)
    assert pd.isna(y11["absence_rate"]) and not y11["persistent_absence"] and y11["persistent_absence_all"]
    assert y11["first_enrolled_summer_2"] and not y11["dfe_comparable"]
    y9 = summary.loc["Y9_NEW"]
    assert y9["sessions_possible"] == 66 and y9["first_enrolled_summer_2"] and not y9["dfe_comparable"]
    assert not summary.loc["FILLER", "first_enrolled_summer_2"] and summary.loc["FILLER", "dfe_comparable"]


# =============================================================================== absence_triggers

def triggers_as_tuples(frame: pd.DataFrame) -> list[tuple]:
    return [(r.upn, r.trigger, r.first_day.strftime("%Y-%m-%d"), r.threshold_day.strftime("%Y-%m-%d"),
             r.last_day.strftime("%Y-%m-%d"), int(r.school_days), int(r.sessions), bool(r.ongoing))
            for r in frame.itertuples()]


def test_three_separate_five_day_illnesses_are_cumulative_not_consecutive():
    # Ill (I) Mon 5 - Fri 9 Oct 2026, Mon 9 - Fri 13 Nov 2026 and Mon 11 - Fri 15 Jan 2027; present on every
    # other school day. The 30th I session falls on Fri 15 Jan 2027, the fifteenth day of illness.
    ill = {d for first, last in [("2026-10-05", "2026-10-09"), ("2026-11-09", "2026-11-13"),
                                 ("2027-01-11", "2027-01-15")] for d in pd.date_range(first, last)}
    days = school_days("A", last="2027-01-22")
    att = attendance(marks("A", "SICK3", {d: ("I" if d in ill else "/ \\") for d in days}))
    assert triggers_as_tuples(absence_triggers(att, date(2027, 1, 22))) == [
        ("SICK3", "sickness_15_cumulative", "2026-10-05", "2027-01-15", "2027-01-15", 15, 30, False)]
    # On Thu 14 Jan 2027 only 28 I sessions (14 days): nothing yet.
    assert absence_triggers(att, date(2027, 1, 14)).empty


def test_half_days_of_illness_count_as_half_days():
    # Mornings only (I then present) on 30 school days from Mon 7 Sep 2026: 30 sessions = 15 days,
    # reached on the 30th such day, Fri 16 Oct 2026. First illness Mon 7 Sep.
    days = school_days("A", last="2026-10-23")
    mornings = days[2:32]  # Mon 7 Sep - Fri 16 Oct 2026 (30 school days)
    assert (mornings[0], mornings[-1]) == (D("2026-09-07"), D("2026-10-16"))
    att = attendance(marks("A", "AM_ILL", {d: ("I \\" if d in mornings else "/ \\") for d in days}))
    assert triggers_as_tuples(absence_triggers(att, date(2026, 10, 23))) == [
        ("AM_ILL", "sickness_15_cumulative", "2026-09-07", "2026-10-16", "2026-10-16", 30, 30, False)]


def test_fifteen_consecutive_days_of_illness_is_one_sickness_15_row():
    # Ill Mon 7 Sep - Fri 25 Sep 2026 (15 school days): the run reached 15 days; no cumulative row too.
    days = school_days("A", last="2026-10-02")
    att = attendance(marks("A", "RUN", {d: ("I" if d <= D("2026-09-25") and d >= D("2026-09-07") else "/ \\")
                                        for d in days}))
    assert triggers_as_tuples(absence_triggers(att, date(2026, 10, 2))) == [
        ("RUN", "sickness_15", "2026-09-07", "2026-09-25", "2026-09-25", 15, 30, False)]


def test_cumulative_threshold_before_a_later_run_gives_both_rows():
    # Ill Thu 3 - Fri 4 Sep 2026 (2 days), then Mon 5 - Fri 23 Oct 2026 (15 days, ongoing on Fri 23 Oct):
    # the 30th I session falls on the run's 13th day, Wed 21 Oct; the run's 15th day is Fri 23 Oct.
    days = school_days("A", last="2026-10-23")
    ill = {D("2026-09-03"), D("2026-09-04")} | set(pd.bdate_range("2026-10-05", "2026-10-23"))
    att = attendance(marks("A", "BOTH", {d: ("I" if d in ill else "/ \\") for d in days}))
    assert triggers_as_tuples(absence_triggers(att, date(2026, 10, 23))) == [
        ("BOTH", "sickness_15_cumulative", "2026-09-03", "2026-10-21", "2026-10-23", 17, 34, True),
        ("BOTH", "sickness_15", "2026-10-05", "2026-10-23", "2026-10-23", 15, 30, True)]


# =============================================================================== pupil_movements

def roll_history(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["school_key", "laestab", "upn", "entry_date", "leaving_date", "first_seen",
                                        "last_seen"])
    for column in ("entry_date", "leaving_date", "first_seen", "last_seen"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frame


def joiners(roll: list[dict], att: pd.DataFrame, as_of: date) -> list[tuple]:
    view = pupil_movements(pupils(roll), roll_history([]), att, as_of)
    assert list(view.columns) == list(VIEW_COLUMNS["pupil_movements"])
    assert str(view["new_entrant_return_deadline"].dtype) == "datetime64[ns]"
    return [(r.school_key, r.upn, r.event_date.strftime("%Y-%m-%d"), bool(r.new_entrant_return_exempt),
             bool(r.new_entrant_return_due),
             None if pd.isna(r.new_entrant_return_deadline) else r.new_entrant_return_deadline.strftime("%Y-%m-%d"))
            for r in view.itertuples() if r.event == "joined"]


def test_reception_child_starting_on_the_first_day_is_exempt_and_year_3_child_is_not():
    # School A (Reception to Year 6) opens on Thu 3 Sep 2026, its first school day on or after 1 September.
    # As of Tue 8 Sep 2026: school days Thu 3, Fri 4, Mon 7, Tue 8 Sep (four: weekdays fill in, so joiners
    # from Wed 2 Sep are recent). Deadline (reg 13(1), calendar days): Thu 3 Sep + 5 = Tue 8 Sep 2026;
    # Mon 7 Sep + 5 = Sat 12 Sep 2026.
    att = attendance(marks("A", "FILLER", {d: "/ \\" for d in school_days("A", last="2026-09-08")}))
    roll = [pupil("A", "REC", "2022-03-10", "R", entry="2026-09-03"),
            pupil("A", "Y3", "2018-03-10", "3", entry="2026-09-03"),
            pupil("A", "REC_LATE", "2022-04-10", "R", entry="2026-09-07"),  # not on the first day
            pupil("A", "Y6", "2015-03-10", "6", entry="2020-09-03"),
            pupil("A", "FILLER", "2016-03-10", "5", entry="2020-09-03")]
    assert joiners(roll, att, date(2026, 9, 8)) == [
        ("A", "REC", "2026-09-03", True, False, None),
        ("A", "Y3", "2026-09-03", False, True, "2026-09-08"),
        ("A", "REC_LATE", "2026-09-07", False, True, "2026-09-12"),
    ]
    view = pupil_movements(pupils(roll), roll_history([]), att, date(2026, 9, 8))
    assert movement_headline(view)["new_entrant_returns_due"] == 2


def test_most_junior_class_comes_from_the_schools_own_roll():
    # School B has a nursery (N1) pupil on roll: Reception is not its most junior class, the nursery is.
    att = attendance(marks("B", "FILLER", {d: "/ \\" for d in school_days("B", last="2026-09-08")}))
    roll = [pupil("B", "NURSERY", "2023-03-10", "N1", entry="2026-09-03"),
            pupil("B", "REC", "2022-03-10", "R", entry="2026-09-03"),
            pupil("B", "FILLER", "2016-03-10", "5", entry="2020-09-03")]
    assert joiners(roll, att, date(2026, 9, 8)) == [
        ("B", "NURSERY", "2026-09-03", True, False, None),
        ("B", "REC", "2026-09-03", False, True, "2026-09-08"),
    ]


def test_school_without_marks_starts_its_year_on_the_first_weekday_of_september():
    # No marks for school N: the first day of the school year is Tue 1 Sep 2026.
    roll = [pupil("N", "REC_1", "2022-03-10", "R", entry="2026-09-01"),
            pupil("N", "REC_3", "2022-03-10", "R", entry="2026-09-03")]
    assert joiners(roll, attendance(), date(2026, 9, 4)) == [
        ("N", "REC_1", "2026-09-01", True, False, None),
        ("N", "REC_3", "2026-09-03", False, True, "2026-09-08"),
    ]
