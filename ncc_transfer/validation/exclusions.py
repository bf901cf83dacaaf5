"""Exclusion record rules (sources in ``reference.exclusions``): category, dates, length in sessions, reasons."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from ncc_transfer.canonical import EXCLUSION_COLUMNS
from ncc_transfer.reference.exclusions import CATEGORIES, CATEGORY_CODES, REASON_CODES, normalise_category
from ncc_transfer.validation.common import (
    SESSIONS,
    Findings,
    blank,
    iso,
    locations,
    map_unique,
    parse_dates,
    quoted,
    stripped,
    text_column,
    upper,
)
from ncc_transfer.validation.pupils import Roster, normalise_upn

_WHOLE_NUMBER = re.compile(r"\d+(?:\.0+)?")
FIX = "the exclusion record in your MIS (Behaviour / Exclusions)"


@dataclass
class ExclusionResult:
    table: pd.DataFrame
    issues: pd.DataFrame


def _sessions(value: str) -> int | None:
    text = value.strip()
    return int(float(text)) if _WHOLE_NUMBER.fullmatch(text) else None


def _identity(category: pd.Series, start_text: pd.Series) -> pd.Series:
    """'The suspension starting 2025-10-01' per record, for messages."""
    names = category.map(lambda c: CATEGORIES.get(c, "exclusion").lower() if isinstance(c, str) else "exclusion")
    return pd.Series([f"The {n} starting {s}" if s else f"The {n} with no start date"
                      for n, s in zip(names, start_text)], index=category.index, dtype=object)


def validate_exclusions(raw: pd.DataFrame, roster: Roster) -> ExclusionResult:
    text = {c: text_column(raw, c) for c in EXCLUSION_COLUMNS}
    upn = map_unique(text["upn"], normalise_upn)
    category = normalise_category(stripped(text["category"]))
    reasons = {c: upper(text[c]) for c in ("reason", "reason_2", "reason_3")}
    start, bad_start = parse_dates(text["start_date"])
    end, bad_end = parse_dates(text["end_date"])
    start_session = upper(text["start_session"])
    sessions = map_unique(text["sessions"], _sessions)
    start_text = pd.Series([iso(d) if not pd.isna(d) else (s or "").strip() for d, s in zip(start, text["start_date"])],
                           index=raw.index, dtype=object)
    who = _identity(category, start_text)

    f = Findings("exclusions", upn=upn, record=start_text, where=locations(raw))

    def add(rule_name, mask, value, template):
        """template(value) -> the message after the record's identity."""
        messages = pd.Series([f"{w} {template(v if isinstance(v, str) else '')}" for w, v in zip(who, value)],
                             index=raw.index, dtype=object)
        f.add(rule_name, mask, value, messages)

    # Which pupil: unknown pupils are errors; a rejected pupil's exclusions are dropped silently.
    no_upn = upn.isna()
    unknown = ~no_upn & ~upn.isin(roster.supplied)
    add("upn_missing", no_upn, text["upn"], lambda v: "has no UPN — enter the pupil's UPN on " + FIX)
    add("upn_not_in_pupils", unknown, text["upn"],
        lambda v: f"is for UPN {quoted(v)}, which is not among the pupil records sent — include the pupil in the "
                  f"pupil export, or correct the UPN on {FIX}")
    checked = ~no_upn & ~unknown & ~upn.isin(roster.rejected)

    add("category_missing", checked & category.isna(), text["category"],
        lambda v: f"has no category — set it to PERM, SUSP or LNCH on {FIX}")
    add("category_unknown", checked & category.notna() & ~category.isin(list(CATEGORY_CODES)), text["category"],
        lambda v: f"has category {quoted(v)}, which is not PERM (permanent), SUSP (suspension) or LNCH "
                  f"(lunchtime) — correct it on {FIX}")
    add("start_date_missing", checked & blank(text["start_date"]), text["start_date"],
        lambda v: f"has no start date — enter it on {FIX}")
    add("start_date_not_a_date", checked & bad_start, text["start_date"],
        lambda v: f"has start date {quoted(v)}, which is not a real date — correct it on {FIX}")
    add("sessions_missing", checked & (category == "SUSP") & blank(text["sessions"]), text["sessions"],
        lambda v: f"has no length in sessions (a day is 2 sessions) — enter the number of sessions on {FIX}")
    add("sessions_invalid", checked & ~blank(text["sessions"]) & ~(pd.to_numeric(sessions).fillna(0) > 0),
        text["sessions"],
        lambda v: f"has length {quoted(v)} sessions, which is not a positive whole number (a day is 2 sessions) "
                  f"— correct it on {FIX}")
    add("reason_missing", checked & reasons["reason"].isna(), text["reason"],
        lambda v: f"has no reason — enter the DfE reason code on {FIX}")
    for column, ordinal in (("reason", ""), ("reason_2", "second "), ("reason_3", "third ")):
        value = reasons[column]
        add(f"{column}_unknown", checked & value.notna() & ~value.isin(list(REASON_CODES)), text[column],
            lambda v, ordinal=ordinal: f"has {ordinal}reason {quoted(v)}, which is not a DfE exclusion reason "
                                       f"code — choose a reason from the DfE list on {FIX}")
    add("end_date_not_a_date", checked & bad_end, text["end_date"],
        lambda v: f"has end date {quoted(v)}, which is not a real date — correct it on {FIX}")
    add("end_before_start", checked & (end < start).fillna(False), text["end_date"],
        lambda v: f"has end date {v.strip()}, which is before its start date — correct the start or end date on {FIX}")
    bad_session = checked & start_session.notna() & ~start_session.isin(SESSIONS)
    add("start_session_invalid", bad_session, text["start_session"],
        lambda v: f"has start session {quoted(v)}, which is not AM or PM — correct it on {FIX} "
                  f"(loaded without a start session until then)")

    table = pd.DataFrame({
        "upn": upn,
        "category": category,
        **reasons,
        "start_date": start,
        "start_session": start_session.where(~bad_session, None),
        "sessions": pd.array(sessions, dtype="Int64"),
        "end_date": end,
    }, index=raw.index)[EXCLUSION_COLUMNS]
    loaded = table[checked & ~f.rejected]
    return ExclusionResult(table=loaded, issues=f.issues())
