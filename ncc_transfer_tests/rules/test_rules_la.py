"""Sixth-day provision, children missing education and pupil movements, hand-worked on real dates.

Calendar used throughout (2026):

         January 2026              February 2026              March 2026
    Mo Tu We Th Fr Sa Su      Mo Tu We Th Fr Sa Su      Mo Tu We Th Fr Sa Su
              1  2  3  4                         1                         1
     5  6  7  8  9 10 11       2  3  4  5  6  7  8       2  3  4  5  6  7  8
    12 13 14 15 16 17 18       9 10 11 12 13 14 15       9 10 11 12 13 14 15
    19 20 21 22 23 24 25      16 17 18 19 20 21 22      16 17 18 19 20 21 22
    26 27 28 29 30 31         23 24 25 26 27 28         23 24 25 26 27 28 29

School A (laestab 9262001): spring term from Mon 5 Jan 2026, half-term Mon 16 - Fri 20 Feb 2026
(marked '#', not a possible session), every other weekday a school day.
School B (laestab 9262002): the same, but half-term Mon 9 - Fri 13 Feb 2026 and (movements only)
an INSET day on Mon 2 Mar 2026.
School days come only from attendance marks up to the as-of date: after it, weekdays are assumed.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from ncc_transfer.canonical import TEXT_DTYPE, VIEW_COLUMNS, coerce_types
from ncc_transfer.rules.cme import children_missing_education, cme_headline
from ncc_transfer.rules.exclusions import exclusion_provision, provision_headline
from ncc_transfer.rules.movements import movement_headline, pupil_movements

D = pd.Timestamp
LAESTAB = {"a": "9262001", "b": "9262002", "c": "9262003"}
HALF_TERM = {"a": ("2026-02-16", "2026-02-20"), "b": ("2026-02-09", "2026-02-13")}


def attendance(school: str, last: str, closed: tuple[str, ...] = ()) -> pd.DataFrame:
    """AM/PM marks for one filler pupil on every weekday from 5 Jan 2026 to ``last``.

    Half-term days and ``closed`` days carry '#' (planned closure: not a possible session)."""
    days = pd.bdate_range("2026-01-05", last)
    shut = set(pd.date_range(*HALF_TERM[school])) | {D(d) for d in closed}
    rows = [{"school_key": school, "laestab": LAESTAB[school], "upn": "FILLER", "date": d, "session": s,
             "code": "#" if d in shut else ("/" if s == "AM" else "\\")}
            for d in days for s in ("AM", "PM")]
    return coerce_types("attendance", pd.DataFrame(rows))


def view_shape_ok(view: pd.DataFrame, name: str) -> None:
    assert list(view.columns) == list(VIEW_COLUMNS[name])
    for column, kind in VIEW_COLUMNS[name].items():
        dtype = str(view[column].dtype)
        if kind == "date":
            assert dtype == "datetime64[ns]", column
        elif kind == "bool":
            assert dtype == "bool", column
        elif kind == "int":
            assert dtype in ("int64", "Int64"), column
        elif kind == "text":
            assert view[column].dtype == TEXT_DTYPE, column


def as_object_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The same frame with plain object text columns (as read back from a database)."""
    out = frame.copy()
    for column in out.columns:
        if str(out[column].dtype).startswith("string"):
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


# ---------------------------------------------------------------------------------------------------
# Sixth-day provision (as of Fri 13 Mar 2026: A's and B's known school days end that day)
# ---------------------------------------------------------------------------------------------------

EX_AS_OF = date(2026, 3, 13)
EX_ATTENDANCE = pd.concat([attendance("a", "2026-03-13"), attendance("b", "2026-03-13")], ignore_index=True)


def exclusion(school: str, upn: str, category: str, start: str, sessions: int | None = None,
              session: str | None = "AM", end: str | None = None) -> dict:
    return {"school_key": school, "laestab": LAESTAB[school], "upn": upn, "category": category, "reason": "PD",
            "start_date": start, "start_session": session, "sessions": sessions, "end_date": end}


def provision(*rows: dict, as_of: date = EX_AS_OF) -> pd.DataFrame:
    view = exclusion_provision(coerce_types("exclusions", pd.DataFrame(list(rows))), EX_ATTENDANCE, as_of)
    view_shape_ok(view, "exclusion_provision")
    return view


def only_row(view: pd.DataFrame, upn: str) -> dict:
    rows = view[view["upn"] == upn]
    assert len(rows) == 1, rows
    return rows.iloc[0].to_dict()


def test_permanent_exclusion_sixth_day_skips_half_term():
    # A: Wed 11 Feb = day 1, Thu 12 = 2, Fri 13 = 3, half-term 16-20 Feb (no school days),
    # Mon 23 = 4, Tue 24 = 5, Wed 25 Feb = day 6.
    row = only_row(provision(exclusion("a", "PERM1", "PERM", "2026-02-11", session=None)), "PERM1")
    assert row["category"] == "PERM"
    assert row["start_date"] == D("2026-02-11")
    assert row["sixth_day"] == D("2026-02-25")
    assert not row["sixth_day_estimated"]
    assert row["responsible"] == "local_authority"
    assert pd.isna(row["school_days"])
    assert row["laestab"] == "9262001" and row["school_key"] == "a" and row["as_of"] == D("2026-03-13")


def test_permanent_exclusion_sixth_day_beyond_known_days_assumes_weekdays():
    # Known days end Fri 13 Mar (the as-of date). Thu 12 Mar = 1, Fri 13 = 2, then assumed weekdays:
    # Mon 16 = 3, Tue 17 = 4, Wed 18 = 5, Thu 19 Mar = 6 (estimated).
    row = only_row(provision(exclusion("a", "PERM2", "PERM", "2026-03-12")), "PERM2")
    assert row["sixth_day"] == D("2026-03-19")
    assert bool(row["sixth_day_estimated"]) is True


def test_permanent_exclusion_counts_the_excluding_schools_days():
    # B's half-term is 9-13 Feb. Wed 4 Feb = 1, Thu 5 = 2, Fri 6 = 3, Mon 16 = 4, Tue 17 = 5, Wed 18 = 6.
    # (On A's calendar the sixth day would be Wed 11 Feb.)
    # A start inside B's half-term (Tue 10 Feb) counts from the next school day, Mon 16 Feb = 1:
    # Tue 17 = 2, Wed 18 = 3, Thu 19 = 4, Fri 20 = 5, Mon 23 Feb = 6.
    view = provision(exclusion("b", "PERM3", "PERM", "2026-02-04"), exclusion("b", "PERM4", "PERM", "2026-02-10"))
    assert only_row(view, "PERM3")["sixth_day"] == D("2026-02-18")
    assert only_row(view, "PERM4")["sixth_day"] == D("2026-02-23")
    assert only_row(view, "PERM4")["start_date"] == D("2026-02-10")  # as recorded
    assert not view["sixth_day_estimated"].any()


def test_school_without_attendance_marks_counts_weekdays_estimated():
    # School C has no marks at all: Mon 2 Mar = 1, Tue 3, Wed 4, Thu 5, Fri 6, Mon 9 Mar = 6 (assumed).
    row = only_row(provision(exclusion("c", "NO_MARKS", "PERM", "2026-03-02")), "NO_MARKS")
    assert (row["sixth_day"], bool(row["sixth_day_estimated"])) == (D("2026-03-09"), True)


def test_back_to_back_suspensions_over_a_weekend_merge():
    # 6 sessions from Wed 25 Feb AM: Wed 25, Thu 26, Fri 27 (3 days). Weekend: no school days.
    # 6 sessions from Mon 2 Mar AM: Mon 2, Tue 3, Wed 4 (3 days). One period of 6 school days from
    # Wed 25 Feb; day 6 = Wed 4 Mar.
    view = provision(exclusion("a", "SUSP1", "SUSP", "2026-03-02", 6), exclusion("a", "SUSP1", "SUSP", "2026-02-25", 6))
    row = only_row(view, "SUSP1")
    assert row["category"] == "SUSP"
    assert row["start_date"] == D("2026-02-25")
    assert row["school_days"] == 6
    assert row["sixth_day"] == D("2026-03-04")
    assert row["responsible"] == "school"
    assert not row["sixth_day_estimated"]


def test_suspensions_with_a_school_day_between_do_not_merge():
    # Wed 25 - Fri 27 Feb, then Tue 3 - Thu 5 Mar: Mon 2 Mar is a school day between. Two periods of 3.
    view = provision(exclusion("a", "SUSP2", "SUSP", "2026-02-25", 6), exclusion("a", "SUSP2", "SUSP", "2026-03-03", 6))
    assert view.empty


def test_suspensions_either_side_of_half_term_merge():
    # Wed 11 - Fri 13 Feb (3 days), half-term 16-20 Feb has no school days, Mon 23 - Wed 25 Feb (3 days):
    # one period of 6; day 6 = Wed 25 Feb.
    view = provision(exclusion("a", "SUSP3", "SUSP", "2026-02-11", 6), exclusion("a", "SUSP3", "SUSP", "2026-02-23", 6))
    row = only_row(view, "SUSP3")
    assert (row["start_date"], row["school_days"], row["sixth_day"]) == (D("2026-02-11"), 6, D("2026-02-25"))


def test_suspensions_of_five_days_or_fewer_give_no_row():
    view = provision(
        exclusion("a", "THREE", "SUSP", "2026-03-09", 6),  # Mon 9 - Wed 11 Mar: 3 days
        exclusion("a", "FIVE", "SUSP", "2026-03-02", 10),  # Mon 2 - Fri 6 Mar: exactly 5 days
        exclusion("a", "PM_NINE", "SUSP", "2026-03-04", 9, session="PM"),  # Wed PM .. Tue 10 Mar PM: 5 days
    )
    assert view.empty


def test_eleven_sessions_from_a_morning_is_six_days():
    # Mon 2 Mar AM, 11 sessions: Mon 2 .. Fri 6 take 10 sessions, the 11th is Mon 9 Mar AM.
    # Days touched = (0 + 11 - 1) // 2 + 1 = 6; day 6 = Mon 9 Mar.
    row = only_row(provision(exclusion("a", "ELEVEN", "SUSP", "2026-03-02", 11)), "ELEVEN")
    assert (row["school_days"], row["sixth_day"]) == (6, D("2026-03-09"))


def test_afternoon_start_has_one_session_on_its_first_day():
    # Wed 4 Mar PM, 10 sessions: Wed PM (1), Thu 5 (2), Fri 6 (2), Mon 9 (2), Tue 10 (2), Wed 11 AM (1).
    # Days touched = (1 + 10 - 1) // 2 + 1 = 6; day 6 = Wed 11 Mar.
    row = only_row(provision(exclusion("a", "PM_TEN", "SUSP", "2026-03-04", 10, session="PM")), "PM_TEN")
    assert (row["start_date"], row["school_days"], row["sixth_day"]) == (D("2026-03-04"), 6, D("2026-03-11"))


def test_a_pm_suspension_following_an_am_one_on_its_last_day_merges():
    # Mon 2 Mar AM, 5 sessions: Mon, Tue, Wed AM (3 days). Wed 4 Mar PM, 5 sessions: Wed PM .. Fri 6
    # (3 days). They share Wed 4 Mar: one period Mon 2 - Fri 6 Mar = 5 days, no row. Add a third,
    # Mon 9 Mar AM, 2 sessions: the period becomes 6 days; day 6 = Mon 9 Mar.
    first = exclusion("a", "HALVES", "SUSP", "2026-03-02", 5)
    second = exclusion("a", "HALVES", "SUSP", "2026-03-04", 5, session="PM")
    assert provision(first, second).empty
    row = only_row(provision(first, second, exclusion("a", "HALVES", "SUSP", "2026-03-09", 2)), "HALVES")
    assert (row["start_date"], row["school_days"], row["sixth_day"]) == (D("2026-03-02"), 6, D("2026-03-09"))


def test_lunchtime_exclusions_never_trigger_nor_bridge():
    # SUSP Wed 25 - Fri 27 Feb, LNCH Mon 2 Mar, SUSP Tue 3 - Thu 5 Mar: the lunchtime exclusion does not
    # fill the school day between, so two 3-day periods. Eight lunchtimes in a row trigger nothing.
    lunches = [exclusion("a", "LUNCHES", "LNCH", d, 1, session="PM")
               for d in ("2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06", "2026-03-09",
                         "2026-03-10", "2026-03-11")]
    view = provision(exclusion("a", "BRIDGE", "SUSP", "2026-02-25", 6),
                     exclusion("a", "BRIDGE", "LNCH", "2026-03-02", 1),
                     exclusion("a", "BRIDGE", "SUSP", "2026-03-03", 6), *lunches)
    assert view.empty


def test_suspensions_at_two_schools_do_not_merge():
    # A: Wed 25 - Fri 27 Feb; B: Mon 2 - Wed 4 Mar. Back to back in time, but different schools.
    view = provision(exclusion("a", "MOVER", "SUSP", "2026-02-25", 6), exclusion("b", "MOVER", "SUSP", "2026-03-02", 6))
    assert view.empty


def test_end_date_is_used_when_sessions_are_missing():
    # Mon 2 Mar to Mon 9 Mar: Mon 2, Tue 3, Wed 4, Thu 5, Fri 6, Mon 9 = 6 school days; day 6 = Mon 9 Mar.
    row = only_row(provision(exclusion("a", "ENDS", "SUSP", "2026-03-02", None, end="2026-03-09")), "ENDS")
    assert (row["school_days"], row["sixth_day"]) == (6, D("2026-03-09"))


def test_suspension_running_past_the_as_of_date_is_estimated():
    # Thu 12 Mar AM, 12 sessions: Thu 12, Fri 13 (known), Mon 16 .. Thu 19 (assumed weekdays): 6 days.
    row = only_row(provision(exclusion("a", "LATE", "SUSP", "2026-03-12", 12)), "LATE")
    assert (row["school_days"], row["sixth_day"], bool(row["sixth_day_estimated"])) == (6, D("2026-03-19"), True)


def test_only_exclusions_this_academic_year_up_to_the_as_of_date():
    view = provision(
        exclusion("a", "LASTYEAR", "SUSP", "2025-07-01", 20),  # academic year 2024/25
        exclusion("a", "LASTYEAR", "PERM", "2025-07-14"),
        exclusion("a", "TOMORROW", "PERM", "2026-03-16"),  # after the as-of date
    )
    assert view.empty


def test_rows_are_ordered_typed_and_independent_of_text_storage():
    rows = [exclusion("b", "PERM3", "PERM", "2026-02-04"), exclusion("a", "SUSP1", "SUSP", "2026-02-25", 6),
            exclusion("a", "SUSP1", "SUSP", "2026-03-02", 6), exclusion("a", "PERM1", "PERM", "2026-02-11"),
            exclusion("a", "LATE", "SUSP", "2026-03-12", 12)]
    arrow = provision(*rows)
    objects = exclusion_provision(as_object_text(coerce_types("exclusions", pd.DataFrame(rows))),
                                  as_object_text(EX_ATTENDANCE), EX_AS_OF)
    pd.testing.assert_frame_equal(arrow, objects)
    assert list(zip(arrow["school_key"], arrow["upn"])) == [("a", "LATE"), ("a", "PERM1"), ("a", "SUSP1"),
                                                             ("b", "PERM3")]
    assert str(arrow["school_days"].dtype) == "Int64"
    assert provision_headline(arrow) == {
        "rows": 4, "permanent": 2, "suspension_periods": 2, "local_authority": 2, "school": 2,
        "sixth_day_reached": 3, "sixth_day_estimated": 1, "schools": 2}
    empty = provision()
    assert empty.empty and provision_headline(empty)["rows"] == 0


# ---------------------------------------------------------------------------------------------------
# Children missing education (as of Mon 2 Feb 2026; every school's first load Mon 5 Jan 2026, latest
# load Mon 2 Feb 2026)
# ---------------------------------------------------------------------------------------------------

CME_AS_OF = date(2026, 2, 2)
FIRST_LOAD, LATEST_LOAD = "2026-01-05", "2026-02-02"


def pupil(school: str, upn: str, status: str = "C", entry: str | None = "2022-09-05",
          leaving: str | None = None) -> dict:
    return {"school_key": school, "laestab": LAESTAB[school], "upn": upn, "surname": "Test", "forename": "Pupil",
            "dob": "2015-05-01", "sex": "F", "nc_year": "5", "enrol_status": status, "entry_date": entry,
            "leaving_date": leaving, "extracted_at": "2026-02-02T02:00:00"}


def seen(school: str, upn: str, first: str = FIRST_LOAD, last: str = LATEST_LOAD, entry: str | None = "2022-09-05",
         leaving: str | None = None) -> dict:
    return {"school_key": school, "laestab": LAESTAB[school], "upn": upn, "entry_date": entry,
            "leaving_date": leaving, "first_seen": first, "last_seen": last}


def pupils_frame(rows: list[dict]) -> pd.DataFrame:
    return coerce_types("pupils", pd.DataFrame(rows))


def roll_frame(rows: list[dict]) -> pd.DataFrame:
    """roll_history as the warehouse returns it: object text, datetime64[ns] dates."""
    frame = pd.DataFrame(rows)
    for column in ("entry_date", "leaving_date", "first_seen", "last_seen"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frame


def current_with_history(rows: list[dict]) -> list[dict]:
    """Every current pupil was on tonight's extract: a roll_history row last seen at the latest load."""
    return [seen(r["school_key"], r["upn"], entry=r["entry_date"], leaving=r["leaving_date"]) for r in rows]


def cme(pupils: list[dict], history_only: list[dict] = (), as_of: date = CME_AS_OF) -> pd.DataFrame:
    history = roll_frame(current_with_history(pupils) + list(history_only))
    view = children_missing_education(pupils_frame(pupils), history, as_of)
    view_shape_ok(view, "children_missing_education")
    return view


def test_pupil_who_moved_schools_is_not_a_candidate():
    # Left A Fri 16 Jan 2026; on B's roll from Mon 19 Jan 2026.
    view = cme([pupil("a", "MOVED", "P", leaving="2026-01-16"), pupil("b", "MOVED", "C", entry="2026-01-19"),
                pupil("a", "STAYING")], history_only=[])
    assert view.empty


def test_leaver_on_no_roll_is_a_candidate():
    # Left A Fri 9 Jan 2026. 9 Jan -> 31 Jan is 22 days, -> 2 Feb is 24 days.
    view = cme([pupil("a", "LEAVER", "P", leaving="2026-01-09"), pupil("b", "OTHER")])
    assert view.to_dict("records") == [{
        "upn": "LEAVER", "laestab": "9262001", "school_key": "a", "leaving_date": D("2026-01-09"),
        "days_since_leaving": 24, "reason": "left_no_destination", "last_seen": D("2026-02-02"),
        "as_of": D("2026-02-02")}]


def test_pupil_vanished_from_the_extract_without_a_leaving_date_is_a_candidate():
    # On A's extract 5 Jan - Fri 23 Jan 2026, gone since, no leaving date. 23 Jan -> 2 Feb = 10 days.
    view = cme([pupil("a", "STAYING")], history_only=[seen("a", "GONE", last="2026-01-23")])
    assert len(view) == 1
    row = view.iloc[0].to_dict()
    assert (row["upn"], row["reason"], row["days_since_leaving"], row["last_seen"]) == (
        "GONE", "vanished_from_roll", 10, D("2026-01-23"))
    assert pd.isna(row["leaving_date"]) and row["laestab"] == "9262001"


def test_a_guest_elsewhere_is_not_on_a_roll():
    # Left A Fri 16 Jan 2026; only a guest (G) at B since. 16 Jan -> 2 Feb = 17 days.
    view = cme([pupil("a", "GUEST", "P", leaving="2026-01-16"), pupil("b", "GUEST", "G", entry="2026-01-19")])
    assert view[["upn", "school_key", "days_since_leaving", "reason"]].to_dict("records") == [
        {"upn": "GUEST", "school_key": "a", "days_since_leaving": 17, "reason": "left_no_destination"}]


def test_a_guest_leaving_is_not_a_departure_from_a_roll():
    # A guest's leaving date at B is not a deletion from B's register.
    view = cme([pupil("a", "VISITOR"), pupil("b", "VISITOR", "G", entry="2026-01-05", leaving="2026-01-16")])
    assert view.empty


def test_dual_registration_elsewhere_counts_as_on_roll():
    view = cme([pupil("a", "DUAL", "P", leaving="2026-01-23"), pupil("b", "DUAL", "S", entry="2025-09-03")])
    assert view.empty


def test_leaving_date_today_has_not_passed():
    view = cme([pupil("a", "TODAY", "C", leaving="2026-02-02")])
    assert view.empty


def test_admission_dated_after_the_as_of_date_does_not_count_yet():
    # Left A Fri 30 Jan; B admits from Mon 9 Feb (entry date after 2 Feb): a candidate until then.
    pupils = [pupil("a", "LATER", "P", leaving="2026-01-30"), pupil("b", "LATER", "C", entry="2026-02-09")]
    row = cme(pupils).iloc[0]
    assert (row["upn"], row["school_key"], row["days_since_leaving"]) == ("LATER", "a", 3)
    assert cme(pupils, as_of=date(2026, 2, 9)).empty


def test_most_recent_departure_wins_across_schools():
    # Left A Fri 19 Dec 2025 (since dropped from A's extract: roll_history only), then C Fri 23 Jan 2026.
    # One row, for C: 23 Jan -> 2 Feb = 10 days.
    view = cme([pupil("c", "TWICE", "P", entry="2026-01-05", leaving="2026-01-23")],
               history_only=[seen("a", "TWICE", last="2026-01-05", leaving="2025-12-19")])
    assert view[["upn", "laestab", "school_key", "leaving_date", "days_since_leaving"]].to_dict("records") == [
        {"upn": "TWICE", "laestab": "9262003", "school_key": "c", "leaving_date": D("2026-01-23"),
         "days_since_leaving": 10}]


def test_record_rejected_on_another_schools_extract_still_counts_as_on_roll():
    # Left A 16 Jan; on B's extract since 19 Jan (seen at B's latest load) but B's record failed validation.
    view = cme([pupil("a", "REJECTED", "P", leaving="2026-01-16"), pupil("b", "OTHER")],
               history_only=[seen("b", "REJECTED", first="2026-01-19", entry=None)])
    assert view.empty


def test_vanished_pupil_now_on_another_roll_is_not_a_candidate():
    view = cme([pupil("c", "FOUND", "C", entry="2026-01-26")], history_only=[seen("a", "FOUND", last="2026-01-23")])
    assert view.empty


def test_cme_with_object_text_and_headline():
    pupils = [pupil("a", "LEAVER", "P", leaving="2026-01-09"), pupil("b", "GUEST", "G", entry="2026-01-19"),
              pupil("a", "GUEST", "P", leaving="2026-01-16")]
    history = current_with_history(pupils) + [seen("a", "GONE", last="2026-01-23")]
    arrow = children_missing_education(pupils_frame(pupils), roll_frame(history), CME_AS_OF)
    objects = children_missing_education(as_object_text(pupils_frame(pupils)),
                                         roll_frame(history).astype({"upn": "string[pyarrow]"}), CME_AS_OF)
    pd.testing.assert_frame_equal(arrow, objects)
    assert list(arrow["upn"]) == ["GONE", "GUEST", "LEAVER"]  # ordered by school, then UPN
    assert cme_headline(arrow) == {"candidates": 3, "left_no_destination": 2, "vanished_from_roll": 1,
                                   "not_started_next_phase": 0}


# ---------------------------------------------------------------------------------------------------
# Pupil movements (as of Wed 4 Mar 2026; first loads Mon 5 Jan 2026, latest loads Wed 4 Mar 2026)
#
# A's last five school days up to Wed 4 Mar: Wed 4, Tue 3, Mon 2 Mar, Fri 27, Thu 26 Feb; the
# sixth-last is Wed 25 Feb. B closed Mon 2 Mar (INSET), so its fifth-last is Wed 25 Feb.
# ---------------------------------------------------------------------------------------------------

MV_AS_OF = date(2026, 3, 4)
MV_LATEST = "2026-03-04"
MV_ATTENDANCE = pd.concat([attendance("a", MV_LATEST), attendance("b", MV_LATEST, closed=("2026-03-02",))],
                          ignore_index=True)


def movements(pupils: list[tuple[dict, str]], history_only: list[dict] = (), attendance_frame=MV_ATTENDANCE,
              as_of: date = MV_AS_OF) -> pd.DataFrame:
    """``pupils``: (pupil row, first_seen) pairs; each is on the latest extract."""
    history = [seen(p["school_key"], p["upn"], first=first, last=MV_LATEST, entry=p["entry_date"],
                    leaving=p["leaving_date"]) for p, first in pupils]
    view = pupil_movements(pupils_frame([p for p, _ in pupils]), roll_frame(history + list(history_only)),
                           attendance_frame, as_of)
    view_shape_ok(view, "pupil_movements")
    return view


def events(view: pd.DataFrame) -> list[tuple]:
    return [(r.school_key, r.upn, r.event, r.event_date.strftime("%Y-%m-%d"), r.source, bool(r.new_entrant_return_due))
            for r in view.itertuples()]


def test_register_and_roll_change_movements():
    view = movements(
        [
            (pupil("a", "NEW_THU", entry="2026-02-26"), "2026-02-26"),  # 5th-last school day: return due
            (pupil("a", "NEW_WED", entry="2026-02-25"), "2026-02-25"),  # 6th-last school day: not flagged
            (pupil("a", "LEAVER", "P", entry="2020-09-02", leaving="2026-02-13"), FIRST_LOAD),
            (pupil("a", "AUTUMN", entry="2025-09-03"), FIRST_LOAD),  # register date in the year: reported
            (pupil("a", "OLD", entry="2019-09-04"), FIRST_LOAD),  # nothing this year
            (pupil("a", "FIRST_LOAD_NO_ENTRY", entry=None), FIRST_LOAD),  # on the first load: not a joiner
            (pupil("a", "LAST_YEAR", "P", entry="2019-09-04", leaving="2025-07-18"), FIRST_LOAD),
            (pupil("a", "PRE_ADMITTED", entry="2026-03-09"), "2026-03-02"),  # joins after the as-of date
            (pupil("a", "GUEST", "G", entry="2026-03-02"), "2026-03-02"),  # guests are not admitted
            (pupil("a", "ROLL_NEW", entry=None), "2026-03-02"),  # first seen Mon 2 Mar: roll change, due
            (pupil("a", "RETURNER", entry="2023-09-05"), "2026-02-24"),  # entry in an earlier year
            (pupil("b", "B_NEW_WED", entry="2026-02-25"), "2026-02-25"),  # B's 5th-last school day: due
        ],
        history_only=[
            seen("a", "VANISHED", last="2026-02-27"),  # gone from the extract, no leaving date
            seen("a", "DROPPED_LEAVER", last="2026-01-30", leaving="2026-01-30"),  # left with a date
        ],
    )
    assert events(view) == [
        ("a", "AUTUMN", "joined", "2025-09-03", "register", False),
        ("a", "DROPPED_LEAVER", "left", "2026-01-30", "register", False),
        ("a", "LEAVER", "left", "2026-02-13", "register", False),
        ("a", "RETURNER", "joined", "2026-02-24", "roll_change", False),
        ("a", "NEW_WED", "joined", "2026-02-25", "register", False),
        ("a", "NEW_THU", "joined", "2026-02-26", "register", True),
        ("a", "VANISHED", "left", "2026-02-27", "roll_change", False),
        ("a", "ROLL_NEW", "joined", "2026-03-02", "roll_change", True),
        ("b", "B_NEW_WED", "joined", "2026-02-25", "register", True),
    ]
    assert set(view["laestab"]) == {"9262001", "9262002"} and (view["as_of"] == D("2026-03-04")).all()
    assert movement_headline(view) == {"events": 9, "joined": 6, "left": 3, "register": 6, "roll_change": 3,
                                       "new_entrant_returns_due": 3}


def test_first_load_pupils_are_not_roll_change_joiners_even_when_the_first_load_was_mid_year():
    # The first load was Mon 5 Jan 2026: everyone on it was already there, whatever their entry date.
    view = movements([(pupil("a", f"P{i}", entry=None), FIRST_LOAD) for i in range(3)])
    assert view.empty and movement_headline(view)["events"] == 0


def test_new_entrant_return_falls_back_to_weekdays_without_attendance():
    # No marks for school C: weekdays assumed. Wed 4, Tue 3, Mon 2 Mar, Fri 27, Thu 26 Feb: Thu 26 is the
    # fifth-last, so a joiner on Wed 25 Feb is not flagged and one on Thu 26 Feb is.
    view = movements([(pupil("c", "C_WED", entry="2026-02-25"), "2026-02-25"),
                      (pupil("c", "C_THU", entry="2026-02-26"), "2026-02-26")],
                     attendance_frame=MV_ATTENDANCE.iloc[:0])
    assert [(u, due) for _, u, _, _, _, due in events(view)] == [("C_WED", False), ("C_THU", True)]


def test_movements_independent_of_text_storage():
    rows = [(pupil("a", "NEW_THU", entry="2026-02-26"), "2026-02-26"),
            (pupil("b", "B", entry="2026-01-07"), "2026-01-07")]
    history = [seen(p["school_key"], p["upn"], first=f, last=MV_LATEST, entry=p["entry_date"]) for p, f in rows]
    history.append(seen("a", "GONE", last="2026-02-20"))
    arrow = pupil_movements(pupils_frame([p for p, _ in rows]), roll_frame(history), MV_ATTENDANCE, MV_AS_OF)
    objects = pupil_movements(as_object_text(pupils_frame([p for p, _ in rows])), roll_frame(history),
                              as_object_text(MV_ATTENDANCE), MV_AS_OF)
    pd.testing.assert_frame_equal(arrow, objects)
    assert len(arrow) == 3


@pytest.mark.parametrize("func", ["cme", "movements"])
def test_la_views_on_empty_inputs(func):
    if func == "cme":
        view = children_missing_education(coerce_types("pupils", pd.DataFrame(columns=["school_key", "laestab"])),
                                          roll_frame([seen("a", "X")]).iloc[:0], CME_AS_OF)
        view_shape_ok(view, "children_missing_education")
    else:
        view = pupil_movements(coerce_types("pupils", pd.DataFrame(columns=["school_key", "laestab"])),
                               roll_frame([seen("a", "X")]).iloc[:0], MV_ATTENDANCE.iloc[:0], MV_AS_OF)
        view_shape_ok(view, "pupil_movements")
    assert view.empty


# ---------------------------------------------------------------------------------------------------
# CME over the summer: compulsory school age and final-year completers (2027)
#
#          June 2027                 July 2027                August 2027             September 2027
#    Mo Tu We Th Fr Sa Su      Mo Tu We Th Fr Sa Su      Mo Tu We Th Fr Sa Su      Mo Tu We Th Fr Sa Su
#        1  2  3  4  5  6                1  2  3  4                         1             1  2  3  4  5
#     7  8  9 10 11 12 13       5  6  7  8  9 10 11       2  3  4  5  6  7  8       6  7  8  9 10 11 12
#    14 15 16 17 18 19 20      12 13 14 15 16 17 18       9 10 11 12 13 14 15      13 14 15 16 17 18 19
#    21 22 23 24 25 26 27      19 20 21 22 23 24 25      16 17 18 19 20 21 22      20 21 22 23 24 25 26
#    28 29 30                  26 27 28 29 30 31         23 24 25 26 27 28 29      27 28 29 30
#                                                        30 31
#
# Primary P (laestab 9262101, Years R-6) and secondary S (9264101, Years 7-11). Both end the summer
# term on Wed 21 Jul 2027 and start the new year on Thu 2 Sep 2027 (Wed 1 Sep an INSET day, '#').
# New-year school days: Thu 2, Fri 3, Mon 6, Tue 7, Wed 8, Thu 9, Fri 10, Mon 13, Tue 14 (9th) and
# Wed 15 Sep 2027 (10th). Last Friday of June 2027: the 25th, the school leaving date.
#
# August: the warehouse holds each school's latest extract (Mon 16 Aug 2027), leavers included with
# their leaving dates. September: the MISs have rolled over; the leavers dropped off P's and S's
# extracts after the load of Wed 1 Sep 2027, and roll_history remembers them (dates, dob, NC year).
# ---------------------------------------------------------------------------------------------------

SUMMER_LAESTAB = {"p": "9262101", "s": "9264101", "f": "9262102"}
AUG_AS_OF, SEP_AS_OF = date(2027, 8, 16), date(2027, 9, 22)
END_OF_TERM = "2027-07-21"


def child(school: str, upn: str, dob: str, nc: str, status: str = "C", entry: str | None = "2021-09-06",
          leaving: str | None = None) -> dict:
    return {"school_key": school, "laestab": SUMMER_LAESTAB[school], "upn": upn, "surname": "Test",
            "forename": "Pupil", "dob": dob, "sex": "F", "nc_year": nc, "enrol_status": status, "entry_date": entry,
            "leaving_date": leaving, "extracted_at": "2027-08-16T02:00:00"}


def remembered(row: dict, last: str, first: str = "2026-09-03") -> dict:
    """The roll_history row of a pupil last seen on ``last``: dates, dob and NC year as last loaded."""
    return {"school_key": row["school_key"], "laestab": row["laestab"], "upn": row["upn"],
            "entry_date": row["entry_date"], "leaving_date": row["leaving_date"], "first_seen": first,
            "last_seen": last, "dob": row["dob"], "nc_year": row["nc_year"]}


def new_year_attendance(schools: tuple[str, ...], last: str) -> pd.DataFrame:
    """One filler pupil's marks at each school from Wed 1 Sep 2027 (INSET '#') to ``last``."""
    rows = [{"school_key": school, "laestab": SUMMER_LAESTAB[school], "upn": "FILLER", "date": d, "session": s,
             "code": "#" if d == D("2027-09-01") else "/"}
            for school in schools for d in pd.bdate_range("2027-09-01", last) for s in ("AM", "PM")]
    return coerce_types("attendance", pd.DataFrame(rows))


def summer_cme(current: list[dict], history_only: list[dict], as_of: date, latest: str,
               attendance_frame: pd.DataFrame | None = None, final_years: dict | None = None) -> pd.DataFrame:
    history = roll_frame([remembered(r, latest) for r in current] + history_only)
    history["dob"] = pd.to_datetime(history["dob"]).astype("datetime64[ns]")
    view = children_missing_education(pupils_frame(current), history, as_of, attendance=attendance_frame,
                                      final_years=final_years)
    view_shape_ok(view, "children_missing_education")
    return view


def reasons(view: pd.DataFrame) -> dict[str, str]:
    return dict(zip(view["upn"], view["reason"]))


# Year 6 in 2026/27: born 1 Sep 2015 - 31 Aug 2016; Year 11: born 1 Sep 2010 - 31 Aug 2011.
Y6_GONE = child("p", "Y6GONE", "2016-03-10", "6", leaving=END_OF_TERM)      # no secondary place in the LA
Y6_MOVED = child("p", "Y6MOVED", "2015-11-20", "6", leaving=END_OF_TERM)    # starts at S on Thu 2 Sep 2027
Y4_LEFT = child("p", "Y4LEFT", "2018-01-20", "4", leaving=END_OF_TERM)      # not the final year: no destination
Y5_STAYS = child("p", "Y5STAYS", "2017-02-02", "5")
Y11_DONE = child("s", "Y11DONE", "2011-03-10", "11", leaving=END_OF_TERM)   # 16 on 10 Mar 2027: CSA to 25 Jun 2027
Y10_STAYS = child("s", "Y10STAYS", "2012-04-04", "10")


def august_rolls() -> list[dict]:
    return [Y6_GONE, Y6_MOVED, Y4_LEFT, Y5_STAYS, Y11_DONE, Y10_STAYS]


def september(as_of: date = SEP_AS_OF, attendance_frame: pd.DataFrame | None = None, **kwargs) -> pd.DataFrame:
    """After the rollover: P's and S's extracts no longer carry their leavers (last seen Wed 1 Sep 2027);
    the year groups moved up; Y6MOVED is on S's roll from Thu 2 Sep 2027."""
    latest = as_of.isoformat()
    current = [{**Y5_STAYS, "nc_year": "6"}, {**Y10_STAYS, "nc_year": "11"},
               child("s", "Y6MOVED", "2015-11-20", "7", entry="2027-09-02")]
    gone = [remembered(r, "2027-09-01") for r in (Y6_GONE, Y6_MOVED, Y4_LEFT, Y11_DONE)]
    if attendance_frame is None:
        attendance_frame = new_year_attendance(("p", "s"), latest)
    return summer_cme(current, gone, as_of, latest, attendance_frame, **kwargs)


def test_in_the_summer_holiday_final_year_leavers_are_not_candidates():
    # As of Mon 16 Aug 2027: the Y6 and Y11 leavers (left Wed 21 Jul 2027, the last day of term) are not
    # candidates; the Y4 leaver with no destination is (21 Jul -> 16 Aug = 26 days).
    view = summer_cme(august_rolls(), [], AUG_AS_OF, "2027-08-16")
    assert view[["upn", "school_key", "reason", "days_since_leaving"]].to_dict("records") == [
        {"upn": "Y4LEFT", "school_key": "p", "reason": "left_no_destination", "days_since_leaving": 26}]


def test_final_year_leaver_on_no_roll_after_ten_school_days_has_not_started_next_phase():
    # As of Wed 22 Sep 2027, 10 school days after Thu 2 Sep: Y6GONE is on no roll: not_started_next_phase,
    # 21 Jul -> 22 Sep = 63 days. Y6MOVED started at S. Y11DONE is 16, past CSA (25 Jun 2027). Y4LEFT stays
    # left_no_destination (from roll_history: the leavers dropped off P's extract, they did not vanish).
    view = september()
    assert reasons(view) == {"Y4LEFT": "left_no_destination", "Y6GONE": "not_started_next_phase"}
    row = view[view["upn"] == "Y6GONE"].iloc[0]
    assert (row["school_key"], row["laestab"], row["leaving_date"], row["days_since_leaving"], row["last_seen"]) == (
        "p", "9262101", D(END_OF_TERM), 63, D("2027-09-01"))
    assert cme_headline(view) == {"candidates": 2, "left_no_destination": 1, "vanished_from_roll": 0,
                                  "not_started_next_phase": 1}


def test_not_started_next_phase_from_the_tenth_school_day_not_before():
    # Tue 14 Sep 2027 is the 9th school day of the new year, Wed 15 Sep the 10th.
    assert "Y6GONE" not in reasons(september(date(2027, 9, 14)))
    assert reasons(september(date(2027, 9, 15)))["Y6GONE"] == "not_started_next_phase"


def test_tenth_school_day_falls_back_to_the_las_days_and_is_never_assumed():
    # P has no new-year marks (say its loads fail): S's school days count. No marks at all: never a candidate.
    only_s = new_year_attendance(("s",), "2027-09-22")
    assert reasons(september(attendance_frame=only_s))["Y6GONE"] == "not_started_next_phase"
    assert "Y6GONE" not in reasons(september(date(2027, 9, 14), attendance_frame=only_s))
    nothing = only_s.iloc[0:0]
    assert reasons(september(attendance_frame=nothing)) == {"Y4LEFT": "left_no_destination"}
    # P's own days govern when it has some: P opened a day later (Fri 3 Sep), so its 10th is Thu 16 Sep.
    p_marks = new_year_attendance(("p",), "2027-09-15")
    late_p = pd.concat([new_year_attendance(("s",), "2027-09-15"), p_marks[p_marks["date"] != D("2027-09-02")]])
    assert "Y6GONE" not in reasons(september(date(2027, 9, 15), attendance_frame=late_p))


def test_a_school_year_later_the_tenth_day_has_long_passed():
    # As of Wed 6 Sep 2028 (no 2027/28 marks read, as compute_la_views reads only this year's): still a candidate.
    view = september(date(2028, 9, 6), attendance_frame=new_year_attendance(("p",), "2027-09-22").iloc[0:0])
    assert reasons(view)["Y6GONE"] == "not_started_next_phase"


def test_year_11_leaver_never_comes_back():
    # Even with no secondary past Year 11 and a year later: 16 since 10 Mar 2027, CSA ended Fri 25 Jun 2027.
    assert "Y11DONE" not in reasons(summer_cme(august_rolls(), [], AUG_AS_OF, "2027-08-16"))
    for as_of in (SEP_AS_OF, date(2027, 11, 1), date(2028, 9, 6)):
        assert "Y11DONE" not in reasons(september(as_of))
    # Its NC year alone would have brought it back: with no date of birth known, it is not_started_next_phase.
    no_dob = [{**remembered(Y11_DONE, "2027-09-01"), "dob": None}]
    assert reasons(summer_cme([Y10_STAYS], no_dob, SEP_AS_OF, "2027-09-22",
                              new_year_attendance(("s",), "2027-09-22"))) == {"Y11DONE": "not_started_next_phase"}


def test_sixteen_year_old_who_left_in_june_is_not_a_candidate_after_the_leaving_date():
    # Year 11, 16 on Wed 5 May 2027, left Fri 11 Jun 2027 (not a completion: June). Of CSA to Fri 25 Jun 2027:
    # a candidate on Mon 21 Jun (10 days), not on Mon 28 Jun 2027 nor in August.
    june = child("s", "JUNE16", "2011-05-05", "11", leaving="2027-06-11")
    rows = [june, Y10_STAYS]
    assert summer_cme(rows, [], date(2027, 6, 21), "2027-06-21")[["upn", "days_since_leaving"]].to_dict("records") == [
        {"upn": "JUNE16", "days_since_leaving": 10}]
    assert summer_cme(rows, [], date(2027, 6, 28), "2027-06-28").empty
    assert summer_cme(rows, [], AUG_AS_OF, "2027-08-16").empty


def test_child_below_compulsory_school_age_is_not_a_candidate():
    # Born 15 Jan 2022, 5 on Fri 15 Jan 2027 (spring term): CSA from Wed 31 Mar 2027. Left P's reception
    # class on Fri 12 Feb 2027: not a candidate on Mon 1 Mar 2027, a candidate on Thu 1 Apr 2027 (48 days).
    reception = child("p", "RECEPT", "2022-01-15", "R", entry="2026-09-03", leaving="2027-02-12")
    rows = [reception, Y5_STAYS]
    assert summer_cme(rows, [], date(2027, 3, 1), "2027-03-01").empty
    assert summer_cme(rows, [], date(2027, 3, 30), "2027-03-30").empty
    view = summer_cme(rows, [], date(2027, 4, 1), "2027-04-01")
    assert view[["upn", "reason", "days_since_leaving"]].to_dict("records") == [
        {"upn": "RECEPT", "reason": "left_no_destination", "days_since_leaving": 48}]


def test_unknown_date_of_birth_keeps_the_candidate():
    # History recorded before dob was remembered: the age cannot rule the pupil out.
    old_row = {**remembered(Y4_LEFT, "2027-09-01"), "dob": None, "nc_year": None}
    view = summer_cme([Y5_STAYS], [old_row], SEP_AS_OF, "2027-09-22", new_year_attendance(("p",), "2027-09-22"))
    assert reasons(view) == {"Y4LEFT": "left_no_destination"}


def test_mid_year_final_year_leaver_is_not_a_completer():
    # A Year 6 pupil who left P on Fri 14 May 2027 with no destination: a candidate in August (94 days).
    may = child("p", "Y6MAY", "2015-10-10", "6", leaving="2027-05-14")
    view = summer_cme([may, Y5_STAYS, Y6_GONE], [], AUG_AS_OF, "2027-08-16")
    assert view[["upn", "reason", "days_since_leaving"]].to_dict("records") == [
        {"upn": "Y6MAY", "reason": "left_no_destination", "days_since_leaving": 94}]


def test_registry_final_year_overrides_the_roll():
    # A first school F (Years R-4 in a three-tier LA) whose roll also carries one pupil recorded in Year 5
    # (taught out of year group): inferred, its final year is 5 and its Year 4 leaver (21 Jul 2027) is a
    # candidate on Mon 16 Aug 2027; with the registry's final_year: 4 it is a completer.
    at_f = {"school_key": "f", "laestab": SUMMER_LAESTAB["f"]}
    rows = [{**Y4_LEFT, **at_f}, {**Y5_STAYS, **at_f}]
    assert reasons(summer_cme(rows, [], AUG_AS_OF, "2027-08-16")) == {"Y4LEFT": "left_no_destination"}
    assert summer_cme(rows, [], AUG_AS_OF, "2027-08-16", final_years={"f": 4}).empty
    # The registry also overrides the other way: P declared final_year 5 makes its Y6 leaver no completer.
    assert reasons(summer_cme(august_rolls(), [], AUG_AS_OF, "2027-08-16", final_years={"p": 5})) == {
        "Y4LEFT": "left_no_destination", "Y6GONE": "left_no_destination", "Y6MOVED": "left_no_destination"}


def test_final_year_is_inferred_from_the_roll_and_what_was_seen():
    from ncc_transfer.rules.cme import infer_final_years

    pupils = pupils_frame([Y5_STAYS, child("p", "REC", "2022-03-03", "R"), child("s", "X1", "2012-04-04", "X"),
                           Y10_STAYS, child("f", "NURS", "2023-01-01", "N2")])
    history = roll_frame([remembered(Y6_GONE, "2027-09-01"), remembered(Y11_DONE, "2027-09-01"),
                          {**remembered(Y11_DONE, "2026-08-31"), "school_key": "f", "upn": "OLD"}])
    # P: Y5 on the roll now, Y6 seen on Wed 1 Sep 2027 -> 6. S: 11 seen. F: only N2 now; its Y11 row was
    # last seen Mon 31 Aug 2026, more than a year before Wed 22 Sep 2027 -> no final year.
    assert infer_final_years(pupils, history, SEP_AS_OF) == {"p": 6, "s": 11}
    assert infer_final_years(pupils.iloc[0:0], history.iloc[0:0], SEP_AS_OF) == {}


def test_compute_la_views_reads_the_remembered_rolls_and_passes_the_registrys_final_years(tmp_path):
    """Through the warehouse: August load with the leavers, September load after the rollover."""
    from ncc_transfer.canonical import VALIDATION_ISSUE_COLUMNS
    from ncc_transfer.views import compute_la_views, inferred_final_years
    from ncc_transfer.warehouse import DuckDBWarehouse

    no_issues = pd.DataFrame({c: pd.Series(dtype=object) for c in VALIDATION_ISSUE_COLUMNS})
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")

    def load(school: str, rows: list[dict], night: str, marks: pd.DataFrame | None = None) -> None:
        frame = pupils_frame(rows)
        roll = frame[["school_key", "laestab", "upn", "entry_date", "leaving_date", "dob", "nc_year"]].astype(
            {"upn": object, "school_key": object, "laestab": object, "nc_year": object}).assign(seen_on=D(night))
        tables = {"pupils": frame}
        if marks is not None:
            tables["attendance"] = marks
        warehouse.replace_school(school, tables, no_issues, roll=roll, night=D(night).date())

    load("p", [Y6_GONE, Y4_LEFT, Y5_STAYS], "2027-08-16")
    assert reasons(compute_la_views(warehouse, AUG_AS_OF)["children_missing_education"]) == {
        "Y4LEFT": "left_no_destination"}
    # The registry says P's final year is 5: its Year 6 leaver is no completer.
    assert reasons(compute_la_views(warehouse, AUG_AS_OF, {"p": 5})["children_missing_education"]) == {
        "Y4LEFT": "left_no_destination", "Y6GONE": "left_no_destination"}
    # Rollover: P's extract has only the year group moving up; its marks give the new year's school days.
    load("p", [{**Y5_STAYS, "nc_year": "6"}], "2027-09-22", new_year_attendance(("p",), "2027-09-22"))
    assert inferred_final_years(warehouse, SEP_AS_OF) == {"p": 6}
    view = compute_la_views(warehouse, SEP_AS_OF)["children_missing_education"]
    assert reasons(view) == {"Y4LEFT": "left_no_destination", "Y6GONE": "not_started_next_phase"}
    assert set(view["last_seen"]) == {D("2027-08-16")}
    warehouse.close()
