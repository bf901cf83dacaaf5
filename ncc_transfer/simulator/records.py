"""How the simulator's profiles write a ``SourceSchool``'s values into a vendor's records.

Values go in as the school supplied them (validation judges them after the connector reads them back);
only what a vendor would hold differently is converted (a date with a time, a count as a number).
Records may carry ``_``-keys for the simulator's own filtering (``_day``, ``_leaver``...): ``public``
drops them before a record is served.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any, Callable, Iterable, Mapping

from ncc_transfer.cohorts import flag_value

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def is_iso_date(value: Any) -> bool:
    """Whether ``value`` is text that looks like a ``YYYY-MM-DD`` date."""
    return isinstance(value, str) and bool(ISO_DATE.match(value))


def set_path(target: dict, path: str, value: Any) -> None:
    """``target[a][b][c] = value`` for the dotted ``path`` ``a.b.c`` (objects made on the way)."""
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def write_fields(record: dict, values: Mapping[str, Any], fields: Mapping[str, str],
                 out: Callable[[str, Any], Any] | None = None) -> dict:
    """Each canonical column of ``values`` written at its (dotted) path in ``fields``, through
    ``out(column, value)`` when given; returns ``record``."""
    for column, path in fields.items():
        value = values.get(column)
        set_path(record, path, value if out is None else out(column, value))
    return record


def public(record: dict) -> dict:
    """A record as served: without the simulator's ``_``-keys."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def in_range(day: Any, start: str | None, end: str | None) -> bool:
    """Whether a mark's date is within ``start``..``end`` (inclusive; None: unbounded)."""
    if not is_iso_date(day):
        return True  # [GUESS] a mark whose date cannot be compared is returned rather than hidden
    return (start is None or day >= start) and (end is None or day <= end)


def whole_number(value: Any) -> Any:
    """A count as a JSON number when it is a plain one (as an API would send it), else as supplied."""
    return int(value) if isinstance(value, str) and value.isdigit() and str(int(value)) == value else value


def split_house_number(line: str | None) -> tuple[str | None, str | None]:
    """An address line as (house number, street), split only where a space joining them gives the line
    back exactly (``"12A High Street"`` -> ``("12A", "High Street")``); else (None, the line)."""
    match = re.fullmatch(r"(\d+[A-Za-z]?) (\S.*)", line or "")
    return (match.group(1), match.group(2)) if match else (None, line or None)


def listed(values: Iterable[Any]) -> list:
    """Values as a vendor's list of them (the reasons of an exclusion): trailing blanks left out."""
    items = list(values)
    while items and items[-1] is None:
        items.pop()
    return items


def flag_out(value: Any) -> Any:
    """A cohort flag as supplied (``Y``/``N``, ``true``/``false``, ``1``/``0``: ``ncc_transfer.cohorts``) as the
    JSON boolean a vendor API sends; None stays None and text that is not a flag is passed on as supplied
    (for validation to report, as the files route does)."""
    try:
        return flag_value(value) if isinstance(value, str) else value
    except ValueError:
        return value


# -- cohort periods: a source school holds cohort flags, a vendor may hold dated periods (Wonde's date ranges,
# Arbor's assignments, Bromcom's care episodes); the profiles make them up around the school's latest mark,
# the same way on every route, so any night from two years before it to four years after reads the flags back.


def flag_given(value: Any) -> bool | None:
    """A supplied cohort flag as True/False; None for blank or for text that is not a flag (no period can
    say it)."""
    try:
        return flag_value(value) if isinstance(value, str) else None
    except ValueError:
        return None


def periods_night(school: Any) -> date:
    """The day a simulated school's cohort periods are made around: its latest mark (else its clock)."""
    days = [date.fromisoformat(m.date) for m in school.marks if is_iso_date(m.date)]
    return max(days) if days else school.clock.date()


def open_since(night: date) -> date:
    """The start of a made-up period still open on ``night`` (a true flag): about a year before it."""
    return night - timedelta(days=365)


def ended_ever6(night: date) -> tuple[date, date]:
    """A made-up FSM period that ended within six years of ``night`` (ever 6, not eligible): three to two
    years before it."""
    return night - timedelta(days=3 * 365), night - timedelta(days=2 * 365)
