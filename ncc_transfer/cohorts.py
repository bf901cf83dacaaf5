"""The pupil cohorts an LA looks at in its termly attendance "targeting support meeting" with each school
(DfE "Working together to improve school attendance", statutory from August 2024): what each canonical
cohort column holds, and the pure functions every route uses to get there.

The columns (``canonical.COHORT_COLUMNS``; null always means "the route did not supply it", never "no"):

* ``sen_provision`` (text): the DfE SEN provision code, ``N`` no special educational need, ``K`` SEN
  support, ``E`` EHC plan (CTF ``SENhistory/SEN/SENprovision``, census item 100472). Codes from before
  the 2014 SEND reforms are normalised: ``S`` (statement of SEN) -> ``E``, ``A`` (School Action) and ``P``
  (School Action Plus) -> ``K``. Sources: the 2014 SEND code of practice replaced School Action and
  School Action Plus with the single SEN support category (code K) and statements with EHC plans (code E)
  (DfE School Census guide 2015-16, p. 66, as quoted by Cornwall Council, "SEN category codes for the
  school census",
  https://www.cornwall.gov.uk/education-and-learning/schools-and-colleges/special-educational-needs-file/schools/sen-category-codes-for-the-school-census/);
  Capita (SIMS) treats "S - Statement" as equivalent to "E" in England
  (http://cesewcensus.org.uk/helpdesk/knowledgebase.php?article=40); Arbor says the S status "is no
  longer in use" (https://support.arbor-education.com/hc/en-us/articles/4404893720733-SEN-Statuses-of-N-E-and-K).
* ``fsm_eligible`` (boolean): eligible for free school meals on the night's as-of date.
* ``fsm_ever6`` (boolean): eligible at any point in the six years up to the as-of date.
* ``looked_after`` (boolean): in the care of a local authority (CTF ``LookedAfter/InCare``).
* ``child_in_need``, ``child_protection_plan`` (boolean): where the MIS holds them.

Raw frames (``canonical``: every column text, as supplied) carry ``sen_provision`` as supplied and the
flags as text; validation (``validation.cohorts``) turns them into the canonical values with
:func:`flag_value` and :func:`sen_provision_code`, and reports a value it cannot read as a warning (the
value loaded as null, the pupil loaded). A route whose vendor sends a SEN provision as a label ("SEN
Support") writes its code with :func:`sen_provision_text` (one label map for every route). A route that only
has date ranges (CTF FSM instances, a vendor's date ranges) writes ``true``/``false`` from :func:`fsm_flags`.
"""

from __future__ import annotations

from datetime import date
from typing import Callable, Iterable, TypeVar

# Codes a school may send for sen_provision -> the current DfE code (see the module docstring).
SEN_PROVISION_CODES = {"N": "N", "K": "K", "E": "E", "S": "E", "A": "K", "P": "K"}
CURRENT_SEN_PROVISION_CODES = ("N", "K", "E")
# What a vendor may send instead of a SEN provision code: the DfE's descriptions of the codes (School Census
# guide, as quoted by Cornwall Council, see the module docstring: "N - No special educational need", "K - SEN
# support", "E - Education, health and care plan"; before 2014 "S - Statement", "A - School Action", "P - School
# Action Plus") and their usual short forms, upper case with single spaces -> the code (legacy codes as they
# are: sen_provision_code normalises them). One map for every route that reads labels (sen_provision_text).
SEN_PROVISION_LABELS = {
    "NO SPECIAL EDUCATIONAL NEED": "N", "NO SPECIAL EDUCATIONAL NEEDS": "N", "NO SEN": "N",
    "SEN SUPPORT": "K",
    "EDUCATION, HEALTH AND CARE PLAN": "E", "EDUCATION HEALTH AND CARE PLAN": "E", "EHC PLAN": "E", "EHCP": "E",
    "STATEMENT": "S", "STATEMENT OF SEN": "S", "SCHOOL ACTION": "A", "SCHOOL ACTION PLUS": "P",
}

# Texts a school may send for a flag (case-insensitive, surrounding spaces ignored) -> the flag.
FLAG_TEXTS = {"y": True, "yes": True, "true": True, "t": True, "1": True,
              "n": False, "no": False, "false": False, "f": False, "0": False}
TRUE_TEXT, FALSE_TEXT = "true", "false"  # what a route writes into a raw frame for a flag it derived

EVER6_YEARS = 6


def flag_value(text: str | None) -> bool | None:
    """A supplied flag as True/False; None for blank. Raises ValueError for text that is not a flag."""
    if text is None or not text.strip():
        return None
    try:
        return FLAG_TEXTS[text.strip().lower()]
    except KeyError:
        raise ValueError(text) from None


def is_flag_text(text: str | None) -> bool:
    """Blank, or a text :func:`flag_value` reads."""
    return text is None or not text.strip() or text.strip().lower() in FLAG_TEXTS


def flag_text(value: bool | None) -> str | None:
    """A flag as the raw text a route writes (``true``/``false``; None stays None)."""
    return None if value is None else (TRUE_TEXT if value else FALSE_TEXT)


def sen_provision_code(text: str | None) -> str | None:
    """A supplied SEN provision code as the current DfE code (legacy codes normalised); None for blank.
    Raises ValueError for text that is not a SEN provision code."""
    if text is None or not text.strip():
        return None
    try:
        return SEN_PROVISION_CODES[text.strip().upper()]
    except KeyError:
        raise ValueError(text) from None


def sen_provision_text(value: str | None) -> str | None:
    """A vendor's SEN provision as raw text: a label of :data:`SEN_PROVISION_LABELS` (whatever its case and
    spacing) -> its code; anything else (a code, or text that is neither) as supplied, for validation to read
    with :func:`sen_provision_code` or report."""
    if value is None:
        return None
    return SEN_PROVISION_LABELS.get(" ".join(value.split()).upper(), value)


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February -> 28 February in a common year)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def overlaps(periods: Iterable[tuple[date | None, date | None]], first: date, last: date) -> bool:
    """A period (start, end; end None = still open) that reaches into ``first``..``last``: start <= last
    and (no end, or end >= first). A period without a start date is not counted (it cannot be placed in
    time)."""
    return any(start is not None and start <= last and (end is None or end >= first) for start, end in periods)


def covers(periods: Iterable[tuple[date | None, date | None]], as_of: date) -> bool:
    """A period covering ``as_of``: a flag a route only has as date ranges (in care, a child protection
    plan) on the night's as-of date."""
    return overlaps(periods, as_of, as_of)


def fsm_flags(periods: Iterable[tuple[date | None, date | None]], as_of: date) -> tuple[bool, bool]:
    """(eligible, ever 6) from FSM eligibility periods (start, end; end None = still eligible).

    Eligible: a period covering ``as_of``. Ever 6: a period reaching into the six years up to ``as_of``
    (start <= as_of and (no end, or end >= as_of minus six years)). No periods at all: (False, False)."""
    periods = list(periods)
    return covers(periods, as_of), overlaps(periods, years_before(as_of, EVER6_YEARS), as_of)


Period = tuple[date | None, date | None]  # (start, end); end None: still open
Record = TypeVar("Record")


def periods_by_pupil(records: Iterable[Record], pupil_of: Callable[[Record], str | None],
                     period_of: Callable[[Record], Period]) -> dict[str, list[tuple[Period, Record]] | None]:
    """A vendor's dated records (care episodes, status assignments, eligibilities) -> (period, record) by
    pupil. ``period_of`` raises ValueError for dates that cannot be read: that pupil is then None (its value
    not supplied, whatever its other records say). A record without a pupil is skipped."""
    by_pupil: dict[str, list[tuple[Period, Record]] | None] = {}
    for record in records:
        pupil = pupil_of(record)
        if not pupil:
            continue
        try:
            period = period_of(record)
        except ValueError:
            by_pupil[pupil] = None
            continue
        listed = by_pupil.setdefault(pupil, [])
        if listed is not None:
            listed.append((period, record))
    return by_pupil


def covering_flags(by_pupil: dict[str, list[tuple[Period, Record]] | None], as_of: date) -> dict[str, str | None]:
    """``true``/``false`` by pupil: a period covering ``as_of`` (:func:`covers`); None for a pupil whose
    dates cannot be read. A pupil with no record is not listed."""
    return {pupil: None if listed is None else flag_text(covers([period for period, _ in listed], as_of))
            for pupil, listed in by_pupil.items()}
