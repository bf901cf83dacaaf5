"""The termly targeting support pack's rules (rules/targeting.py; docs/targeting_pack.md), worked by hand.

Calendars used below (real dates; weekends carry no marks):

    September 2026 (1 Sep is a Tuesday;       October 2026 (half-term Mon 26 - Fri 30)
    week 1 of the academic year is the        Mo Tu We Th Fr
    week of Mon 31 Aug)                        5  6  7  8  9      week 6
    Mo Tu We Th Fr                            12 13 14 15 16      week 7
     7  8  9 10 11     week 2                 19 20 21 22 23      week 8
    14 15 16 17 18     week 3                 26 27 28 29 30      week 9  <- half-term
                                              November: 2 3 4 5 6 week 10
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from ncc_transfer.canonical import CANONICAL_COLUMNS
from ncc_transfer.rules.absence import absence_summary
from ncc_transfer.rules.targeting import (
    NOT_RECORDED,
    cohort_rates,
    drop_flags,
    early_identification,
    infer_phase,
    open_items,
    pupil_lists,
    school_rates,
    school_terms,
    summer_term_start,
    term_of,
    weekly_series,
    with_la,
    year_group_rates,
)

SCHOOL, LAESTAB = "9262001-files", "9262001"
DOB = "2015-05-01"  # 11 at 31 August 2026 (10 at 31 August 2025): DfE-comparable both years


def weekdays(first: str, last: str) -> list[date]:
    day, end, out = date.fromisoformat(first), date.fromisoformat(last), []
    while day <= end:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


def marks(upn: str, days: list[date], absent: dict[tuple[date, str], str] | None = None,
          school: str = SCHOOL) -> list[tuple]:
    """Present (``/``) every session of ``days`` but the (day, session) -> code in ``absent``."""
    absent = absent or {}
    return [(school, school[:7], upn, day, session, absent.get((day, session), "/"))
            for day in days for session in ("AM", "PM")]


def absent_first(days: list[date], n_sessions: int, code: str) -> dict[tuple[date, str], str]:
    """``n_sessions`` absent sessions, AM then PM, from the first day on."""
    slots = [(d, s) for d in days for s in ("AM", "PM")]
    return {slot: code for slot in slots[:n_sessions]}


def attendance(*groups: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame([r for g in groups for r in g], columns=CANONICAL_COLUMNS["attendance"])
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    for column in ("school_key", "laestab", "upn", "session", "code"):
        frame[column] = frame[column].astype("string[pyarrow]")
    return frame


def pupils(rows: list[dict], school: str = SCHOOL) -> pd.DataFrame:
    """Pupils with the cohort columns (built by hand: another branch adds them to the canonical table)."""
    frame = pd.DataFrame([{"school_key": school, "laestab": school[:7], "dob": DOB, "enrol_status": "C",
                           "nc_year": "6", "surname": "Surname", "forename": "Forename", **r} for r in rows])
    frame["dob"] = pd.to_datetime(frame["dob"]).astype("datetime64[ns]")
    return frame


TWO_WEEKS = weekdays("2026-09-07", "2026-09-18")  # 10 school days, 20 sessions each
AS_OF = date(2026, 9, 18)


def four_pupils():
    """P1 all present; P2 2 of 20 sessions absent (exactly 10 %: PA); P3 10 of 20 (exactly 50 %: SA);
    P4 4 of 20 (20 %: PA)."""
    roll = pupils([
        {"upn": "P1", "sen_provision": "K", "fsm_eligible": True, "nc_year": "5"},
        {"upn": "P2", "sen_provision": "K", "fsm_eligible": False, "nc_year": "5"},
        {"upn": "P3", "sen_provision": None, "fsm_eligible": None, "nc_year": "6"},
        {"upn": "P4", "sen_provision": "N", "fsm_eligible": True, "nc_year": "6"},
    ])
    marks_ = attendance(marks("P1", TWO_WEEKS), marks("P2", TWO_WEEKS, absent_first(TWO_WEEKS, 2, "I")),
                        marks("P3", TWO_WEEKS, absent_first(TWO_WEEKS, 10, "O")),
                        marks("P4", TWO_WEEKS, absent_first(TWO_WEEKS, 4, "G")))
    return roll, marks_, absence_summary(roll, marks_, AS_OF)


def rates_of(frame: pd.DataFrame, cohort: str) -> dict[str, tuple]:
    rows = frame[frame["cohort"] == cohort]
    return {r.group: (r.pupils, round(r.attendance_rate, 4), round(r.pa_rate, 4), round(r.sa_rate, 4))
            for r in rows.itertuples()}


def test_school_rates_and_rates_by_cohort_on_four_pupils_over_two_weeks():
    roll, _, summary = four_pupils()
    # 4 pupils x 20 sessions = 80 possible; absent 0 + 2 + 10 + 4 = 16; attendance 1 - 16/80 = 0.80.
    # PA: P2 (2*10 >= 20), P3, P4 = 3 of 4; SA: P3 (10*2 >= 20) = 1 of 4.
    rates = school_rates(summary)
    assert rates["pupils"] == 4 and rates["sessions_possible"] == 80
    assert rates["attendance_rate"] == pytest.approx(0.80)
    assert rates["pa_rate"] == pytest.approx(0.75) and rates["sa_rate"] == pytest.approx(0.25)

    by_cohort = cohort_rates(summary, roll)
    # SEN K: P1 + P2, 40 possible, 2 absent -> 38/40 = 0.95; PA 1 of 2; SA 0.
    # SEN N: P4, 16/20 = 0.80, PA 1 of 1.  Not recorded (null, never "no"): P3, 10/20 = 0.50, PA and SA.
    assert rates_of(by_cohort, "sen_provision") == {
        "K (SEN support)": (2, 0.95, 0.5, 0.0), "N (no SEN)": (1, 0.8, 1.0, 0.0), NOT_RECORDED: (1, 0.5, 1.0, 1.0)}
    # FSM yes: P1 + P4, 4 absent of 40 -> 0.90, PA 1 of 2; no: P2 0.90, PA 1 of 1; not recorded: P3.
    assert rates_of(by_cohort, "fsm_eligible") == {
        "yes": (2, 0.9, 0.5, 0.0), "no": (1, 0.9, 1.0, 0.0), NOT_RECORDED: (1, 0.5, 1.0, 1.0)}
    # A cohort column absent from the frame is all "not recorded": every pupil, 0.80 as the school.
    assert rates_of(by_cohort, "looked_after") == {NOT_RECORDED: (4, 0.8, 0.75, 0.25)}

    # Year groups: 5 = P1 + P2 (38/40 = 0.95), 6 = P3 + P4 (26/40 = 0.65, PA 2 of 2, SA 1 of 2).
    years = year_group_rates(summary, roll)
    assert [(r.group, r.pupils, round(r.attendance_rate, 4)) for r in years.itertuples()] == [
        ("5", 2, 0.95), ("6", 2, 0.65)]


def test_rates_against_the_la_figure_for_the_same_group():
    roll, marks_, summary = four_pupils()
    # The LA's phase: this school and another, whose two pupils (SEN K) attend every session.
    other = "9262002-files"
    other_roll = pupils([{"upn": "Q1", "sen_provision": "K"}, {"upn": "Q2", "sen_provision": "K"}], school=other)
    other_marks = attendance(marks("Q1", TWO_WEEKS, school=other), marks("Q2", TWO_WEEKS, school=other))
    la_roll = pd.concat([roll, other_roll], ignore_index=True)
    la_summary = absence_summary(la_roll, pd.concat([marks_, other_marks], ignore_index=True), AS_OF)
    compared = with_la(cohort_rates(summary, roll), cohort_rates(la_summary, la_roll), ["cohort", "group"])
    k = compared[(compared["cohort"] == "sen_provision") & (compared["group"] == "K (SEN support)")].iloc[0]
    # LA SEN K: P1, P2, Q1, Q2: 80 possible, 2 absent -> 0.975; the school's 0.95 is 2.5 points below.
    assert k["la_pupils"] == 4 and k["la_attendance_rate"] == pytest.approx(0.975)
    assert k["attendance_gap"] == pytest.approx(-0.025)


def test_pupil_lists_severe_first_then_persistent_with_codes_and_patterns():
    roll, marks_, summary = four_pupils()
    lists = pupil_lists(roll, marks_, summary, SCHOOL, AS_OF)
    # P3 at exactly 50 % is SA ("50 % or more of possible sessions missed", docs/absence.md), listed first;
    # then the PA pupils lowest attendance first: P4 (0.80), P2 (0.90, exactly 10 %). P1 is on neither list.
    assert list(zip(lists["upn"], lists["list"])) == [("P3", "SA"), ("P4", "PA"), ("P2", "PA")]
    p3 = lists.iloc[0]
    # P3's 10 absent sessions are the first 5 days, Mon 7 - Fri 11 Sep, both sessions: O x 10, 2 per weekday;
    # Mon AM and Fri PM are 2 of the 10 -> 0.2.
    assert p3["codes"] == "O 10"
    assert [p3[f"absent_{d}"] for d in ("mon", "tue", "wed", "thu", "fri")] == [2, 2, 2, 2, 2]
    assert p3["mon_am_fri_pm_share"] == pytest.approx(0.2)
    assert p3["rate_this_term"] == pytest.approx(0.5)  # autumn term to date = the two weeks
    assert pd.isna(p3["rate_last_term"])  # no marks in summer 2026
    assert p3["sen_provision"] == NOT_RECORDED and lists.iloc[1]["fsm_eligible"] == "yes"
    # Only 10 school days: no "last 20 school days" against a before.
    assert pd.isna(p3["rate_last_20_days"])


def test_a_school_with_no_severely_absent_pupil():
    roll, marks_, summary = four_pupils()
    keep = summary["upn"] != "P3"
    lists = pupil_lists(roll, marks_, summary[keep], SCHOOL, AS_OF)
    assert "SA" not in set(lists["list"]) and list(lists["upn"]) == ["P4", "P2"]
    assert school_rates(summary[keep])["sa_rate"] == 0.0
    # No PA pupil either: empty lists with their columns.
    calm = summary["upn"] == "P1"
    assert pupil_lists(roll, marks_, summary[calm], SCHOOL, AS_OF).empty


def test_early_identification_boundary_in_exact_arithmetic():
    # 9.99 points does not flag, 10 does: before 100/100 sessions attended (100 %), recent 9,001/10,000
    # (90.01 %) and 9,000/10,000 (90 %). In floating point 1.0 - 0.9 is 0.0999...: the rule uses integers.
    assert list(drop_flags([0, 0, 0], [100, 100, 40], [999, 1000, 6], [10000, 10000, 60])) == [False, True, True]
    assert not drop_flags([0], [0], [6], [60])[0]  # no "before" sessions: nothing to compare


def test_early_identification_over_the_last_30_school_days():
    # 50 school days Mon 7 Sep - Fri 13 Nov 2026 (no holiday in this school's data). The last 30 are
    # Mon 5 Oct - Fri 13 Nov (60 sessions); before them Mon 7 Sep - Fri 2 Oct (20 days, 40 sessions).
    days = weekdays("2026-09-07", "2026-11-13")
    assert len(days) == 50
    before, recent = days[:20], days[20:]
    as_of = date(2026, 11, 13)
    roll = pupils([{"upn": u} for u in ("A", "B", "C", "D")])
    marks_ = attendance(
        # A: 100 % before, 54/60 = 90 % recent: exactly 10 points -> listed. YTD 6/100 absent: not PA.
        marks("A", days, absent_first(recent, 6, "I")),
        # B: 100 % before, 55/60 = 91.67 %: 8.33 points -> not listed.
        marks("B", days, absent_first(recent, 5, "I")),
        # C: 100 % before, 40/60 recent: 33 points, but 20/100 absent YTD is PA already -> not listed.
        marks("C", days, absent_first(recent, 20, "O")),
        # D: 38/40 = 95 % before, 51/60 = 85 % recent: a 10-point drop, but 11/100 absent YTD is PA -> not listed.
        marks("D", days, {**absent_first(before, 2, "I"), **absent_first(recent, 9, "I")}),
    )
    summary = absence_summary(roll, marks_, as_of)
    early = early_identification(roll, marks_, summary, SCHOOL, as_of)
    assert list(early["upn"]) == ["A"]
    assert early.iloc[0]["drop_points"] == pytest.approx(10.0)
    assert early.iloc[0]["rate_before"] == 1.0 and early.iloc[0]["rate_recent"] == pytest.approx(0.9)

    # The same school on day 30 (Fri 16 Oct): 30 school days or fewer, no "before": nobody.
    short = date(2026, 10, 16)
    assert early_identification(roll, marks_, absence_summary(roll, marks_, short), SCHOOL, short).empty


def test_weekly_series_skips_the_half_term_week_and_aligns_last_year_by_week_number():
    this_year = weekdays("2026-10-12", "2026-10-23") + weekdays("2026-11-02", "2026-11-06")  # 26-30 Oct: half-term
    last_year = weekdays("2025-10-13", "2025-10-24")  # weeks 7 and 8 of 2025/26 (1 Sep 2025 is a Monday)
    marks_ = attendance(marks("A", this_year, absent_first(weekdays("2026-11-02", "2026-11-06"), 5, "I")),
                        marks("A", last_year, absent_first(weekdays("2025-10-20", "2025-10-24"), 1, "I")))
    roll = pupils([{"upn": "A"}])
    series = weekly_series(roll, marks_, SCHOOL, date(2026, 11, 6))
    # Week numbers 2026/27: Mon 31 Aug is week 1, so 12 Oct = 1 + 42/7 = 7, 19 Oct = 8, 2 Nov = 10.
    # Week 9 (26 Oct, half-term) has no row. Week 10 this year: 5 of 10 sessions absent -> 0.5.
    assert list(series["week_number"]) == [7, 8, 10]
    assert [str(d) for d in series["week_commencing"]] == ["2026-10-12", "2026-10-19", "2026-11-02"]
    assert list(series["attendance_rate"]) == [1.0, 1.0, 0.5]
    # Last year: week 7 = 13 Oct 2025 (100 %), week 8 = 20 Oct 2025 (9/10 = 90 %), week 10 = 3 Nov 2025: no marks.
    assert [str(d) if not pd.isna(d) else None for d in series["last_year_week_commencing"]] == [
        "2025-10-13", "2025-10-20", None]
    assert series["last_year_rate"].iloc[0] == 1.0 and series["last_year_rate"].iloc[1] == pytest.approx(0.9)
    assert pd.isna(series["last_year_rate"].iloc[2])


def test_terms_from_the_schools_easter_break_or_from_easter():
    # 2027: Easter Sunday 28 March. A school closed Mon 29 Mar - Fri 9 Apr 2027 starts summer on Mon 12 Apr.
    open_days = [d for d in weekdays("2027-01-04", "2027-05-28")
                 if not date(2027, 3, 29) <= d <= date(2027, 4, 9)]
    dates = np.array(open_days, dtype="datetime64[D]")
    assert summer_term_start(dates, date(2026, 9, 1)) == date(2027, 4, 12)
    terms = school_terms(dates, date(2026, 9, 1))
    assert [(t.name, str(t.start), str(t.end)) for t in terms] == [
        ("autumn", "2026-09-01", "2026-12-31"), ("spring", "2027-01-01", "2027-04-11"),
        ("summer", "2027-04-12", "2027-08-31")]
    assert terms[0].label() == "2026-27-autumn"
    # Data up to 19 March only: the Tuesday after Easter Monday (Tue 30 Mar 2027).
    early = dates[dates <= np.datetime64("2027-03-19")]
    assert summer_term_start(early, date(2026, 9, 1)) == date(2027, 3, 30)
    # Autumn's previous term is last year's summer.
    marks_ = attendance(marks("A", weekdays("2026-09-07", "2026-09-11")))
    this, previous = term_of(marks_, SCHOOL, date(2026, 9, 11))
    assert (this.name, previous.name, previous.start.year) == ("autumn", "summer", 2026)


def test_open_items_are_the_schools_rows_ten_day_only_ongoing():
    views = {"ten_day_absence": pd.DataFrame({"school_key": [SCHOOL, SCHOOL, "other"], "upn": ["A", "B", "C"],
                                              "ongoing": [True, False, True]}),
             "absence_triggers": pd.DataFrame({"school_key": [SCHOOL, "other"], "upn": ["A", "C"]}),
             "children_missing_education": pd.DataFrame({"school_key": ["other"], "upn": ["Z"]})}
    items = open_items(views, SCHOOL)
    assert list(items["ten_day_absence"]["upn"]) == ["A"]
    assert list(items["absence_triggers"]["upn"]) == ["A"]
    assert items["children_missing_education"].empty and items["exclusion_provision"].empty


def test_phase_from_the_years_on_roll():
    assert infer_phase(["R", "1", "6", None, "X"]) == "primary"
    assert infer_phase(["7", "11", "13"]) == "secondary"
    assert infer_phase(["R", "6", "7"]) == "all-through"
    assert infer_phase(["X", None]) is None
