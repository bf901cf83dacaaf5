"""The LA's term dates file (rules/term_dates.py, term_dates.py), hand-worked.

2025/26 is Norfolk County Council's published dates as Rosecroft Primary School (which follows them)
lists them, https://www.rosecroftprimary.org/parents/term-dates : autumn Wed 3 Sep - Fri 19 Dec 2025,
half term after Fri 24 Oct, back Tue 4 Nov; spring Tue 6 Jan - Fri 27 Mar 2026, half term after
Fri 13 Feb, back Mon 23 Feb; summer Wed 15 Apr - Fri 17 Jul 2026, half term after Fri 22 May, back
Mon 1 Jun. 2026/27 is an example of the usual shape (not a published calendar): Easter Sunday is
28 March 2027, so the spring term ends on Thu 25 Mar and the summer term starts on Mon 12 Apr.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from ncc_transfer.rules.targeting import Term, term_of
from ncc_transfer.rules.term_dates import (
    TermDatesError,
    half_term_state,
    parse_term_dates,
    term_from_dates,
)
from ncc_transfer.term_dates import load_term_dates

FILE = """\
# Norfolk County Council term dates 2025/26; 2026/27 an example
academic_year,term,half,first_day,last_day
2025/26,autumn,1,2025-09-03,2025-10-24
2025/26,autumn,2,2025-11-04,2025-12-19
2025/26,spring,1,2026-01-06,2026-02-13
2025/26,spring,2,2026-02-23,2026-03-27
2025/26,summer,1,2026-04-15,2026-05-22
2025/26,summer,2,2026-06-01,2026-07-17
2026/27,autumn,1,2026-09-03,2026-10-23
2026/27,autumn,2,2026-11-02,2026-12-18
2026/27,spring,1,2027-01-05,2027-02-12
2026/27,spring,2,2027-02-22,2027-03-25
2026/27,summer,1,2027-04-12,2027-05-28
2026/27,summer,2,2027-06-07,2027-07-21
"""
DATES = parse_term_dates(FILE, "term_dates.csv")


def test_the_file_reads_one_half_term_a_row():
    assert len(DATES.halves) == 12
    first = DATES.halves[0]
    assert (first.year, first.term, first.half, first.first_day, first.last_day, first.line) == (
        2025, "autumn", 1, date(2025, 9, 3), date(2025, 10, 24), 3)
    assert first.name() == "autumn 1 2025/26"
    assert DATES.years() == {2025, 2026}
    assert DATES.covers(date(2025, 9, 1)) and DATES.covers(date(2027, 8, 31)) and not DATES.covers(date(2027, 9, 1))


def test_a_spreadsheet_saved_file_reads_the_same(tmp_path):
    """Day-first dates, 2025-2026 years, capitalised terms, an extra column, a BOM and CRLF line ends."""
    lines = ["Academic_Year,Term,Half,First_Day,Last_Day,Notes"]
    for h in DATES.halves:
        lines.append(f"{h.year}-{h.year + 1},{h.term.capitalize()},{h.half},{h.first_day:%d/%m/%Y},"
                     f"{h.last_day:%d/%m/%Y},typed from the council's page")
    path = tmp_path / "term_dates.csv"
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    read = load_term_dates(path)
    assert [(h.year, h.term, h.half, h.first_day, h.last_day) for h in read.halves] == [
        (h.year, h.term, h.half, h.first_day, h.last_day) for h in DATES.halves]
    assert load_term_dates(tmp_path / "none.csv") is None  # optional: no file, no term dates


# ------------------------------------------------------------------------------------------ when to pack

# A night is dated by its run (the schedule's date, 02:00) and holds the MIS extracts of the evening
# before: the night of Sat 25 Oct 2025 is the first with Fri 24 Oct's marks.
@pytest.mark.parametrize("night, due", [
    (date(2025, 9, 3), None),  # before the first half term
    (date(2025, 10, 23), None),  # Thu's night: marks to Wed 22 Oct; autumn 1 goes on to Fri 24 Oct
    (date(2025, 10, 24), None),  # Fri's night (02:00 Fri): marks to Thu 23 Oct, not yet the last day's
    (date(2025, 10, 25), date(2025, 10, 24)),  # Sat's night holds Fri 24 Oct: pack as of Fri 24 Oct
    (date(2025, 10, 31), date(2025, 10, 24)),  # still the half-term holiday
    (date(2025, 11, 4), date(2025, 10, 24)),  # Tue 4 Nov, autumn 2's first day: its night holds none of it
    (date(2025, 11, 5), None),  # holds Tue 4 Nov: autumn 2 has begun
    (date(2025, 12, 19), None),  # autumn 2's last day: its marks come with the next night
    (date(2025, 12, 20), date(2025, 12, 19)),
    (date(2026, 3, 28), date(2026, 3, 27)),  # spring 2 ends before Easter (5 Apr 2026)
    (date(2026, 7, 18), date(2026, 7, 17)),  # summer 2
    (date(2026, 8, 31), date(2026, 7, 17)),  # the summer holiday
    (date(2027, 7, 22), date(2027, 7, 21)),  # the file's last half term
    (date(2027, 8, 20), date(2027, 7, 21)),  # after it: open-ended
])
def test_the_half_term_due_a_pack_is_the_one_whose_last_day_has_loaded(night, due):
    half = half_term_state(DATES, night).ended
    assert (half.last_day if half else None) == due


def test_where_the_night_stands():
    assert half_term_state(DATES, date(2025, 10, 23)).current.name() == "autumn 1 2025/26"
    assert half_term_state(DATES, date(2025, 9, 1)).current.name() == "autumn 1 2025/26"
    assert half_term_state(DATES, date(2026, 1, 7)).current.name() == "spring 1 2025/26"
    assert half_term_state(DATES, date(2025, 10, 24)).current.name() == "autumn 1 2025/26"
    state = half_term_state(DATES, date(2025, 12, 24))
    assert state.ended.name() == "autumn 2 2025/26" and state.current is None


# ------------------------------------------------------------------------------------------ terms

def test_the_terms_come_from_the_file():
    this, last = term_from_dates(DATES, date(2026, 2, 13))
    assert this == Term("spring", date(2026, 1, 6), date(2026, 3, 27))
    assert last == Term("autumn", date(2025, 9, 3), date(2025, 12, 19))
    this, last = term_from_dates(DATES, date(2026, 10, 23))
    assert this.label() == "2026-27-autumn" and this == Term("autumn", date(2026, 9, 3), date(2026, 12, 18))
    assert last == Term("summer", date(2026, 4, 15), date(2026, 7, 17))  # last year's summer, from the file
    # A holiday belongs to the term before it; early September before the term starts, to autumn.
    assert term_from_dates(DATES, date(2025, 12, 30))[0].name == "autumn"
    assert term_from_dates(DATES, date(2026, 4, 14))[0].name == "spring"
    assert term_from_dates(DATES, date(2026, 8, 31))[0].name == "summer"
    assert term_from_dates(DATES, date(2026, 9, 1))[0].label() == "2026-27-autumn"
    assert term_from_dates(DATES, date(2027, 9, 6)) is None  # 2027/28 is not in the file
    this, last = term_from_dates(DATES, date(2025, 10, 24))
    assert this.label() == "2025-26-autumn" and last is None  # 2024/25 is not in the file


def _marks(days: list[date]) -> pd.DataFrame:
    return pd.DataFrame({"school_key": "s", "upn": "A", "date": pd.to_datetime(days), "session": "AM", "code": "/"})


def test_a_pack_in_the_easter_holiday_is_of_the_spring_term_by_the_file():
    """2026/27: the LA's spring term ends Thu 25 Mar 2027; Easter Sunday is 28 March and the summer term
    starts on Mon 12 Apr. A pack as of Wed 31 Mar, the data through 25 Mar: the data does not show the
    Easter break yet (no school day after it), so without the file summer starts on the Tuesday after
    Easter Monday (30 Mar) and the pack would be the summer term's, with no school day in it; by the
    file it is the spring term's (5 Jan - 25 Mar), and last term autumn."""
    marks = _marks(list(pd.bdate_range("2026-09-03", "2027-03-25").date))
    on = date(2027, 3, 31)
    inferred, _ = term_of(marks, "s", on)
    assert inferred == Term("summer", date(2027, 3, 30), date(2027, 8, 31))
    this, last = term_of(marks, "s", on, DATES)
    assert this == Term("spring", date(2027, 1, 5), date(2027, 3, 25)) and this.label() == "2026-27-spring"
    assert last == Term("autumn", date(2026, 9, 3), date(2026, 12, 18))


def test_an_autumn_pack_without_last_year_in_the_file_reads_last_summer_from_the_data():
    """Autumn 2025 from the file; 2024/25 is not in it, so last term is read from the data as without a
    file: the summer term 2025 from the first school day after the Easter break (Easter 20 Apr 2025)."""
    days = [d for first, last in (("2025-01-06", "2025-04-04"), ("2025-04-22", "2025-07-22"), ("2025-09-03", "2025-10-24"))
            for d in pd.bdate_range(first, last).date]
    this, last = term_of(_marks(days), "s", date(2025, 10, 24), DATES)
    assert this == Term("autumn", date(2025, 9, 3), date(2025, 12, 19))
    assert last == Term("summer", date(2025, 4, 22), date(2025, 8, 31))
    # A date the file does not hold: read from the data as without it.
    assert term_of(_marks(days), "s", date(2025, 5, 1), DATES) == term_of(_marks(days), "s", date(2025, 5, 1))


# ------------------------------------------------------------------------------------------ a bad file

def _with(line: int, row: str) -> str:
    lines = FILE.splitlines()
    lines[line - 1] = row
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text, message", [
    (_with(3, "2025/26,autumn,1,2025-09-03,2025-10-32"),
     "term_dates.csv, line 3, last_day '2025-10-32': not a date such as 2025-10-24 or 24/10/2025"),
    (_with(3, "2025/26,autumn,1,2025-09-03,24 Oct 2025"), "line 3, last_day '24 Oct 2025': not a date"),
    (_with(3, "2025/26,autumn,1,2025-10-24,2025-09-03"), "line 3, last_day '2025-09-03': before first_day 2025-10-24"),
    (_with(3, "2025/26,autumn,1,2025-09-03,2025-10-25"), "line 3, last_day '2025-10-25': a Saturday, not a school day"),
    (_with(4, "2025/26,autumn,2,2025-10-24,2025-12-19"),
     "line 4, first_day '2025-10-24': not after autumn 1 2025/26 ends (2025-10-24, line 3)"),
    (_with(4, "2025/26,winter,2,2025-11-04,2025-12-19"), "line 4, term 'winter': not autumn, spring or summer"),
    (_with(4, "2025/26,autumn,3,2025-11-04,2025-12-19"), "line 4, half '3': not 1 or 2"),
    (_with(5, "2025/26,spring,2,2026-01-06,2026-02-13"),
     "line 5, term 'spring': spring 2 2025/26 where spring 1 2025/26 should follow autumn 2 2025/26 (line 4)"),
    (_with(3, "2025,autumn,1,2025-09-03,2025-10-24"), "line 3, academic_year '2025': not an academic year"),
    (_with(3, "2025/27,autumn,1,2025-09-03,2025-10-24"), "line 3, academic_year '2025/27': not an academic year"),
    (_with(9, "2026/27,autumn,1,2025-09-03,2026-10-23"),
     "line 9, first_day '2025-09-03': not in the academic year 2026/27"),
    (_with(2, "academic_year,term,first_day,last_day"), "line 2: the header has no column half"),
    ("\n".join(FILE.splitlines()[:-1]) + "\n", "line 13: the file ends with summer 1 2026/27"),
    ("# nothing\n", "term_dates.csv: no header row"),
])
def test_a_bad_file_is_refused_naming_the_line_and_the_field(text, message):
    with pytest.raises(TermDatesError) as raised:
        parse_term_dates(text, "term_dates.csv")
    assert message in str(raised.value)
    assert str(raised.value).startswith("term_dates.csv")
