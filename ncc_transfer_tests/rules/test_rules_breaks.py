"""Breaks read from the LA's school days (rules/breaks.py), hand-worked on the 2025/26 calendar.

A 2025/26 calendar of the usual English shape (written out here, not any LA's published dates):
autumn term from Wed 3 Sep 2025; October half term Mon 27 - Fri 31 Oct 2025 (last school day before it
Fri 24 Oct); back Mon 3 Nov; Christmas from Mon 22 Dec 2025 (last school day Fri 19 Dec); the early May
bank holiday Mon 4 May 2026 is one closed day, not a break.
"""

from datetime import date, timedelta

import pytest

from ncc_transfer.rules.breaks import is_last_school_day_before_break, last_school_day_before_break


def weekdays(first: date, last: date) -> list[date]:
    out, day = [], first
    while day <= last:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


AUTUMN = weekdays(date(2025, 9, 3), date(2025, 10, 24)) + weekdays(date(2025, 11, 3), date(2025, 12, 19))
SPRING_TO_MAY = weekdays(date(2026, 4, 20), date(2026, 5, 1)) + weekdays(date(2026, 5, 5), date(2026, 5, 8))


@pytest.mark.parametrize("known_through, expected", [
    (date(2025, 10, 24), None),  # the Friday itself: school may go on on Monday
    (date(2025, 10, 25), None),  # the night after (Sat): the half term does not show yet
    (date(2025, 10, 30), None),  # Thu of half term: 4 weekdays without school (27, 28, 29, 30 Oct)
    (date(2025, 10, 31), date(2025, 10, 24)),  # Fri 31 Oct: the 5th weekday: a break
    (date(2025, 11, 1), date(2025, 10, 24)),   # the Saturday's night: still that break
    (date(2025, 11, 3), None),  # Mon 3 Nov: school again
    (date(2025, 12, 26), date(2025, 12, 19)),  # 22-26 Dec (Christmas Day and Boxing Day are weekdays)
    (date(2025, 12, 23), None),  # two weekdays into the Christmas holiday
])
def test_the_last_school_day_before_a_break_shows_once_five_weekdays_have_passed(known_through, expected):
    assert last_school_day_before_break(AUTUMN, known_through) == expected


def test_is_friday_24_october_the_last_school_day_before_half_term():
    assert is_last_school_day_before_break(AUTUMN, date(2025, 10, 24), date(2025, 10, 25)) is None  # not known yet
    assert is_last_school_day_before_break(AUTUMN, date(2025, 10, 24), date(2025, 10, 31)) is True
    assert is_last_school_day_before_break(AUTUMN, date(2025, 10, 24), date(2025, 11, 20)) is True  # later: still
    assert is_last_school_day_before_break(AUTUMN, date(2025, 10, 23), date(2025, 10, 31)) is False  # Fri follows
    assert is_last_school_day_before_break(AUTUMN, date(2025, 10, 27), date(2025, 10, 31)) is False  # no school


def test_one_closed_day_is_not_a_break():
    # Fri 1 May 2026, then the bank holiday Mon 4 May, school again Tue 5 May: 1 weekday without school.
    assert is_last_school_day_before_break(SPRING_TO_MAY, date(2026, 5, 1), date(2026, 5, 8)) is False
    assert last_school_day_before_break(SPRING_TO_MAY, date(2026, 5, 5)) is None
    assert last_school_day_before_break([], date(2026, 5, 5)) is None
