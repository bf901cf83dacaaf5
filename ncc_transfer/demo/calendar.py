"""A realistic, generic English (Norfolk-like) school calendar for the synthetic LA.

The LA calendar for the academic year starting in September ``year`` is derived, not looked up:

* autumn term starts on the first Wednesday or Thursday between 2 and 8 September;
* October half-term is the week of the last Monday in October;
* Christmas: two weeks from the Monday on or before 23 December;
* February half-term is the week of the first Monday on or after 12 February;
* Easter: the week before Good Friday and the week after Easter Monday (two weeks);
* May half-term is the week of the spring bank holiday (last Monday in May);
* the summer term ends on the Wednesday between 17 and 23 July;
* English bank holidays (with substitute days) are closures when they fall in term.

Each school adds 1 or 2 INSET days: the first weekdays of the autumn term, so its pupils start a day
or two after the LA term start. All of these are "not a school day" (``#`` marks) for that school.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from ncc_transfer.rules.calendar import easter_sunday

CODE_SET_2024_FROM = date(2024, 8, 19)  # School Attendance (Pupil Registration) (England) Regulations 2024


def _last_weekday(year: int, month: int, weekday: int) -> date:
    """The last `weekday` (0 = Monday) of a month."""
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    d = nxt - timedelta(days=1)
    return d - timedelta(days=(d.weekday() - weekday) % 7)


def _first_weekday_on_or_after(d: date, weekday: int) -> date:
    return d + timedelta(days=(weekday - d.weekday()) % 7)


def _monday_on_or_before(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _substitute(d: date, taken: set[date]) -> date:
    """Move a weekend bank holiday to the next weekday not already a holiday."""
    while d.weekday() >= 5 or d in taken:
        d += timedelta(days=1)
    return d


def bank_holidays(year: int) -> list[date]:
    """English bank holidays in calendar year `year` (standard rules, no one-off extra days)."""
    out: list[date] = []
    taken: set[date] = set()
    new_year = _substitute(date(year, 1, 1), taken)
    out.append(new_year)
    taken.add(new_year)
    easter = easter_sunday(year)
    out += [easter - timedelta(days=2), easter + timedelta(days=1)]
    out.append(_first_weekday_on_or_after(date(year, 5, 1), 0))  # early May
    out.append(_last_weekday(year, 5, 0))  # spring
    out.append(_last_weekday(year, 8, 0))  # summer
    christmas = _substitute(date(year, 12, 25), taken)
    taken.add(christmas)
    boxing = _substitute(date(year, 12, 26), taken)
    out += [christmas, boxing]
    return sorted(set(out))


@dataclass(frozen=True)
class Holiday:
    name: str
    start: date  # first day off (a Monday for the derived holidays)
    end: date  # last weekday off (a Friday)


@dataclass(frozen=True)
class LACalendar:
    """The LA's term calendar for one academic year (September `year` to July `year + 1`)."""

    year: int
    term_start: date
    term_end: date
    holidays: tuple[Holiday, ...]
    bank_holidays: tuple[date, ...] = field(default=())

    @property
    def academic_year_start(self) -> date:
        return date(self.year, 9, 1)

    def is_holiday(self, d: date) -> bool:
        return any(h.start <= d <= h.end for h in self.holidays)

    def term_weekdays(self, start: date, end: date) -> np.ndarray:
        """Boolean per calendar day in [start, end]: a weekday in term (holiday weeks excluded)."""
        n = (end - start).days + 1
        if n <= 0:
            return np.zeros(0, dtype=bool)
        days = np.arange(n)
        weekday = (start.weekday() + days) % 7
        out = weekday < 5
        d0 = np.datetime64(start, "D")
        dates = d0 + days
        out &= dates >= np.datetime64(self.term_start, "D")
        out &= dates <= np.datetime64(self.term_end, "D")
        for h in self.holidays:
            out &= ~((dates >= np.datetime64(h.start, "D")) & (dates <= np.datetime64(h.end, "D")))
        return out

    def closures(self, start: date, end: date) -> np.ndarray:
        """Boolean per calendar day in [start, end]: a bank holiday (closure in term)."""
        n = max((end - start).days + 1, 0)
        dates = np.datetime64(start, "D") + np.arange(n)
        bh = np.array(sorted(self.bank_holidays), dtype="datetime64[D]")
        return np.isin(dates, bh)

    def school_days(self, start: date, end: date, inset: tuple[date, ...] = ()) -> np.ndarray:
        """Boolean per calendar day in [start, end]: pupils are expected in school."""
        out = self.term_weekdays(start, end) & ~self.closures(start, end)
        if inset:
            n = out.shape[0]
            dates = np.datetime64(start, "D") + np.arange(n)
            out &= ~np.isin(dates, np.array(sorted(inset), dtype="datetime64[D]"))
        return out

    def inset_days(self, count: int) -> tuple[date, ...]:
        """The first `count` weekdays of the autumn term (a school's INSET days)."""
        out: list[date] = []
        d = self.term_start
        while len(out) < count:
            if d.weekday() < 5 and d not in self.bank_holidays:
                out.append(d)
            d += timedelta(days=1)
        return tuple(out)

    def to_json(self) -> dict:
        return {
            "year": self.year,
            "term_start": self.term_start.isoformat(),
            "term_end": self.term_end.isoformat(),
            "holidays": [{"name": h.name, "start": h.start.isoformat(), "end": h.end.isoformat()} for h in self.holidays],
            "bank_holidays_in_term": [
                d.isoformat() for d in self.bank_holidays if self.term_start <= d <= self.term_end and not self.is_holiday(d)
            ],
        }


def la_calendar(year: int) -> LACalendar:
    """The derived LA calendar for the academic year starting in September `year`."""
    term_start = next(
        d for d in (date(year, 9, day) for day in range(2, 9)) if d.weekday() in (2, 3)  # Wed or Thu
    )
    oct_mon = _last_weekday(year, 10, 0)
    xmas_mon = _monday_on_or_before(date(year, 12, 23))
    feb_mon = _first_weekday_on_or_after(date(year + 1, 2, 12), 0)
    easter = easter_sunday(year + 1)
    may_mon = _last_weekday(year + 1, 5, 0)
    term_end = next(d for d in (date(year + 1, 7, day) for day in range(17, 24)) if d.weekday() == 2)
    holidays = (
        Holiday("October half-term", oct_mon, oct_mon + timedelta(days=4)),
        Holiday("Christmas", xmas_mon, xmas_mon + timedelta(days=11)),
        Holiday("February half-term", feb_mon, feb_mon + timedelta(days=4)),
        Holiday("Easter", easter - timedelta(days=6), easter + timedelta(days=5)),
        Holiday("May half-term", may_mon, may_mon + timedelta(days=4)),
    )
    bh = tuple(d for d in bank_holidays(year) + bank_holidays(year + 1) if term_start <= d <= term_end)
    return LACalendar(year=year, term_start=term_start, term_end=term_end, holidays=holidays, bank_holidays=bh)


def half_terms(cal: LACalendar) -> list[tuple[str, int, date, date]]:
    """(term, half, first day, last day) of the calendar's six half terms: between the term start, the
    holidays (in order: October half term, Christmas, February half term, Easter, May half term) and the
    term end; a half term ends on the weekday before a holiday and starts on the weekday after one."""
    starts = [cal.term_start] + [_next_weekday(h.end) for h in cal.holidays]
    ends = [_previous_weekday(h.start) for h in cal.holidays] + [cal.term_end]
    names = [(term, half) for term in ("autumn", "spring", "summer") for half in (1, 2)]
    return [(term, half, first, last) for (term, half), first, last in zip(names, starts, ends)]


def _next_weekday(d: date) -> date:
    d += timedelta(days=1)
    return d + timedelta(days=(7 - d.weekday()) % 7) if d.weekday() >= 5 else d


def _previous_weekday(d: date) -> date:
    d -= timedelta(days=1)
    return d - timedelta(days=d.weekday() - 4) if d.weekday() >= 5 else d


def term_dates_csv(years: list[int]) -> str:
    """The LA's term dates file (``$NCC_HOME/term_dates.csv``, docs/targeting_pack.md) for the academic years
    starting in September of ``years``: what an LA officer types from the council's published dates."""
    rows = ["academic_year,term,half,first_day,last_day"]
    for year in years:
        for term, half, first, last in half_terms(la_calendar(year)):
            rows.append(f"{year}/{(year + 1) % 100:02d},{term},{half},{first.isoformat()},{last.isoformat()}")
    return "\n".join(rows) + "\n"


def academic_year_for(as_of: date) -> tuple[LACalendar, date]:
    """The calendar whose marks the demo writes, and the last date with marks.

    The academic year containing `as_of` (starting 1 September). Marks run to the day before `as_of`,
    capped at the end of the summer term. When no pupil could have a school day before `as_of` (the
    summer holiday is handled by the cap; early September by falling back), the previous academic
    year is used, up to its end.
    """
    year = as_of.year if as_of.month >= 9 else as_of.year - 1
    cal = la_calendar(year)
    first_possible = cal.inset_days(2)[-1]  # a school with one INSET day has pupils from here
    if as_of <= first_possible:
        cal = la_calendar(year - 1)
    last = min(as_of - timedelta(days=1), cal.term_end)
    return cal, last
