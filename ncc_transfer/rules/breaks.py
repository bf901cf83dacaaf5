"""Breaks in the LA's school calendar, read from its school days: when to make the termly packs.

Source: DfE, *Working together to improve school attendance* (statutory from 19 August 2024): the local
authority holds a **termly** targeting support meeting with each school,
https://www.gov.uk/government/publications/working-together-to-improve-school-attendance ; a
maintained school meets for at least 380 sessions (190 days) a year, its term and holiday dates set by
the LA or the school: The Education (School Day and School Year) (England) Regulations 1999,
https://www.legislation.gov.uk/uksi/1999/3181

Used when the LA gives no term dates file (``rules.term_dates``; docs/targeting_pack.md, "The LA's term
dates"), or for a night in an academic year the file does not hold. A **break** is a run of at least
``BREAK_MIN_WEEKDAYS`` (5) weekdays, Monday to Friday, with no school day of the LA (a date on which any
pupil of any school has a possible session: ``rules.calendar.school_days``). One closed day (a bank
holiday, an INSET day, a snow day) is not a break; a half-term week is. The data shows a break only as
it passes: on the night that has loaded the break's fifth weekday (a night holds the marks of the day
before its date: ``rules.term_dates.night_covers_through``). Pure functions, no warehouse.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import numpy as np

BREAK_MIN_WEEKDAYS = 5


def _weekdays_between(after: date, through: date) -> int:
    """Weekdays (Mon-Fri) from the day after ``after`` to ``through``, both counted."""
    return int(np.busday_count(after + timedelta(days=1), through + timedelta(days=1))) if through > after else 0


def is_last_school_day_before_break(school_days: Iterable[date], day: date, known_through: date,
                                    min_weekdays: int = BREAK_MIN_WEEKDAYS) -> bool | None:
    """Is ``day`` the last school day before a break? ``known_through``: the last date the loaded data
    covers (the latest night's date).

    True when ``day`` is a school day and the ``min_weekdays`` weekdays after it, all known, are without
    a school day; False when ``day`` is not a school day, or a school day follows before that many
    weekdays; None when it cannot be told yet (fewer weekdays known after it, none a school day)."""
    days = {d for d in school_days if d <= known_through}
    if day not in days:
        return False
    following = [d for d in days if d > day]
    if following and _weekdays_between(day, min(following) - timedelta(days=1)) < min_weekdays:
        return False
    if following:
        return True
    return True if _weekdays_between(day, known_through) >= min_weekdays else None


def last_school_day_before_break(school_days: Iterable[date], known_through: date,
                                 min_weekdays: int = BREAK_MIN_WEEKDAYS) -> date | None:
    """The LA's latest school day up to ``known_through`` when the data already shows a break after it
    (``min_weekdays`` weekdays after it known, none a school day); None while school goes on or before
    the break has shown itself."""
    days = [d for d in school_days if d <= known_through]
    if not days:
        return None
    last = max(days)
    return last if is_last_school_day_before_break(days, last, known_through, min_weekdays) else None
