"""The LA's published term dates (``$NCC_HOME/term_dates.csv``): read, checked, and what they decide.

Every English LA publishes its school term and holiday dates (Norfolk County Council: "School term and
holiday dates" on norfolk.gov.uk); the LA's data engineer types them, one row per half term, into a
CSV file (docs/targeting_pack.md, "The LA's term dates"). Optional: without it, breaks and terms are
read from the data as before (``rules.breaks``, ``rules.targeting.school_terms``).

The file's columns (a header row; other columns, blank lines and lines starting with ``#`` ignored)::

    academic_year,term,half,first_day,last_day
    2025/26,autumn,1,2025-09-03,2025-10-24

* ``academic_year``: ``2025/26`` (``2025-26`` and ``2025/2026`` also read): September to August.
* ``term``: autumn, spring or summer (any case); ``half``: 1 or 2.
* ``first_day`` and ``last_day``: the first and last day of the half term with pupils, both counted,
  ``2025-10-24`` or ``24/10/2025`` (day first, as UK spreadsheets save it); each a weekday.

Checked here (``TermDatesError`` names the file, the line and the field): every column present, every
value read, first_day <= last_day, both within the academic year (1 September - 31 August), and the
rows whole academic years in order: autumn 1, autumn 2, spring 1, spring 2, summer 1, summer 2, the next
year after, each half term starting after the one before it ends.

* ``half_term_state``: by the latest night, the half term whose packs are due (the night after its last
  day has loaded, the next half term not begun) or the one still going on (the break sensor).
* ``term_from_dates``: the term of a date and the term before it (``rules.targeting.term_of``).

Pure functions, no warehouse.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, timedelta

from ncc_transfer.rules.calendar import academic_year_start

COLUMNS = ("academic_year", "term", "half", "first_day", "last_day")
TERMS = ("autumn", "spring", "summer")
ORDER = tuple((term, half) for term in TERMS for half in (1, 2))  # the six half terms of a year
_YEAR = re.compile(r"^(\d{4})\s*[/-]\s*(\d{2}|\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_UK = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


class TermDatesError(ValueError):
    """The term dates file cannot be used: the message names the file, the line and the field."""


@dataclass(frozen=True)
class Term:
    """A school term (the targeting pack's "this term" and "last term"): from the file, or read from the
    data (``rules.targeting.school_terms``)."""

    name: str  # autumn | spring | summer
    start: date
    end: date  # inclusive

    def label(self) -> str:
        """``2026-27-autumn``: the academic year and the term (names the pack's folder)."""
        first = self.start.year if self.name == "autumn" else self.start.year - 1
        return f"{first}-{(first + 1) % 100:02d}-{self.name}"


@dataclass(frozen=True)
class HalfTerm:
    year: int  # the academic year's first calendar year: 2025 for 2025/26
    term: str  # autumn | spring | summer
    half: int  # 1 | 2
    first_day: date
    last_day: date  # inclusive: the last day with pupils before the holiday
    line: int = 0  # the file's line (for messages)

    def name(self) -> str:
        """``autumn 1 2025/26``."""
        return f"{self.term} {self.half} {self.year}/{(self.year + 1) % 100:02d}"


@dataclass(frozen=True)
class TermDates:
    """The half terms of a checked file, in order (whole academic years, one after another)."""

    source: str
    halves: tuple[HalfTerm, ...]

    def years(self) -> set[int]:
        return {h.year for h in self.halves}

    def covers(self, on: date) -> bool:
        """Is ``on`` in an academic year (1 September - 31 August) the file holds?"""
        return academic_year_start(on).year in self.years()


def _date(text: str) -> date | None:
    text = text.strip()
    try:
        if m := _ISO.match(text):
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if m := _UK.match(text):
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        return None
    return None


def _year(text: str) -> int | None:
    m = _YEAR.match(text.strip())
    if not m:
        return None
    first, second = int(m.group(1)), m.group(2)
    return first if int(second) in ((first + 1) % 100, first + 1) else None


def parse_term_dates(text: str, source: str) -> TermDates:
    """The half terms of the CSV ``text`` (the file ``source``), checked; ``TermDatesError`` otherwise."""
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise TermDatesError(f"{source}: no header row; the columns are {','.join(COLUMNS)}")
    header_line, header_text = lines[0]
    header = [c.strip().lower() for c in next(csv.reader([header_text]))]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise TermDatesError(f"{source}, line {header_line}: the header has no column {', '.join(missing)} "
                             f"(the columns are {','.join(COLUMNS)})")
    at = {c: header.index(c) for c in COLUMNS}
    halves: list[HalfTerm] = []
    for number, line in lines[1:]:
        cells = next(csv.reader([line]))

        def value(column: str) -> str:
            index = at[column]
            return cells[index].strip() if index < len(cells) else ""

        def fail(column: str, why: str) -> TermDatesError:
            return TermDatesError(f"{source}, line {number}, {column} {value(column)!r}: {why}")

        year = _year(value("academic_year"))
        if year is None:
            raise fail("academic_year", "not an academic year such as 2025/26")
        term = value("term").lower()
        if term not in TERMS:
            raise fail("term", "not autumn, spring or summer")
        if value("half") not in ("1", "2"):
            raise fail("half", "not 1 or 2")
        half = int(value("half"))
        days = {}
        for column in ("first_day", "last_day"):
            day = _date(value(column))
            if day is None:
                raise fail(column, "not a date such as 2025-10-24 or 24/10/2025")
            if day.weekday() >= 5:
                raise fail(column, f"a {day:%A}, not a school day")
            if not date(year, 9, 1) <= day <= date(year + 1, 8, 31):
                raise fail(column, f"not in the academic year {year}/{(year + 1) % 100:02d} "
                                   f"(1 September {year} - 31 August {year + 1})")
            days[column] = day
        if days["first_day"] > days["last_day"]:
            raise fail("last_day", f"before first_day {days['first_day'].isoformat()}")
        current = HalfTerm(year, term, half, days["first_day"], days["last_day"], number)
        if halves:
            before = halves[-1]
            index = ORDER.index((before.term, before.half))
            expected = (before.year, *ORDER[index + 1]) if index + 1 < len(ORDER) else (before.year + 1, *ORDER[0])
            if (year, term, half) != expected:
                wanted = HalfTerm(expected[0], expected[1], expected[2], date.min, date.min).name()
                raise fail("term", f"{current.name()} where {wanted} should follow {before.name()} (line "
                                   f"{before.line}): one row per half term, whole academic years in order")
            if current.first_day <= before.last_day:
                raise fail("first_day", f"not after {before.name()} ends ({before.last_day.isoformat()}, "
                                        f"line {before.line})")
        elif (term, half) != ORDER[0]:
            raise fail("term", f"the first row is {current.name()}: the file starts with autumn 1 of a year")
        halves.append(current)
    if not halves:
        raise TermDatesError(f"{source}: no half term below the header")
    last = halves[-1]
    if (last.term, last.half) != ORDER[-1]:
        raise TermDatesError(f"{source}, line {last.line}: the file ends with {last.name()}; "
                             f"each academic year has all six half terms, to summer 2")
    return TermDates(source=source, halves=tuple(halves))


# ------------------------------------------------------------------------------------------ what they decide

@dataclass(frozen=True)
class HalfTermState:
    """Where the latest night stands by the file: ``ended`` the half term whose last day's marks it holds
    while the next half term's have not begun, else ``current`` the half term it is in (or the first
    one, before it)."""

    ended: HalfTerm | None
    current: HalfTerm | None


def night_covers_through(night: date) -> date:
    """The last date whose marks a night holds. A night is dated by its run (``as_of``, the nightly
    schedule's date: 02:00 on Saturday 25 October is the night of 2025-10-25), and it loads the extracts
    the schools' MIS wrote the evening before: marks to the day before its date."""
    return night - timedelta(days=1)


def half_term_state(dates: TermDates, night: date) -> HalfTermState:
    """By the latest ``night``: the half term that has ended (the night holds its ``last_day``'s marks:
    ``night`` is after it) while the next has not begun (the night holds none of its days; the file's last
    half term: open-ended), or else the half term the night is in or before."""
    through = night_covers_through(night)
    halves = dates.halves
    ended = [i for i, h in enumerate(halves) if h.last_day <= through]
    if ended:
        i = ended[-1]
        following = halves[i + 1] if i + 1 < len(halves) else None
        if following is None or through < following.first_day:
            return HalfTermState(ended=halves[i], current=None)
        return HalfTermState(ended=None, current=following)
    return HalfTermState(ended=None, current=halves[0])


def terms_of_year(dates: TermDates, year: int) -> list[Term] | None:
    """Autumn, spring and summer of the academic year starting in September ``year`` from the file (each
    from its first half's first day to its second half's last day), or None if the file has no such year."""
    halves = [h for h in dates.halves if h.year == year]
    if not halves:
        return None
    return [Term(term, halves[2 * i].first_day, halves[2 * i + 1].last_day) for i, term in enumerate(TERMS)]


def term_from_dates(dates: TermDates, on: date) -> tuple[Term, Term | None] | None:
    """(the term of ``on``, the term before it) by the file, or None when the file does not hold ``on``'s
    academic year. The term of ``on`` is the latest of its academic year begun by ``on`` (a holiday
    belongs to the term before it; a September day before the autumn term starts, to the autumn term).
    The term before an autumn term is last year's summer term by the file; None when the file does not
    hold last year either (the caller reads it from the data)."""
    year = academic_year_start(on).year
    terms = terms_of_year(dates, year)
    if terms is None:
        return None
    index = max([i for i, t in enumerate(terms) if t.start <= on] or [0])
    if index:
        return terms[index], terms[index - 1]
    before = terms_of_year(dates, year - 1)
    return terms[0], (before[2] if before else None)
