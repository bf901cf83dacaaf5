"""Pupil record rules: UPN, names, date of birth, sex, enrolment, NC year, postcode, cohort fields.

UPN rules follow the DfE's "Unique pupil numbers (UPN)" guidance
(https://www.gov.uk/government/publications/unique-pupil-numbers) and the DfE's CIN census validation
rules 1510-1550 (see ``ncc_transfer.reference.upn`` and ``ncc_transfer.reference.la_codes``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pandas as pd

from ncc_transfer.canonical import PUPIL_COLUMNS
from ncc_transfer.reference import upn as upn_ref
from ncc_transfer.reference.enrolment import ENROL_STATUSES, NC_YEAR_CODES, expected_nc_year_age
from ncc_transfer.validation.common import (
    CALENDAR_YEARS,
    Findings,
    as_bool,
    blank,
    iso,
    locations,
    map_unique,
    parse_dates,
    per_value,
    quoted,
    stripped,
    text_column,
    upper,
)
from ncc_transfer.validation.cohorts import cohort_values
from ncc_transfer.validation.rules import NAME_FIELDS

# Allowed name characters, and at least one letter (as in https://github.com/quhack/dfeqa).
_NAME_CHARS = r"\d\-.,'’\"+*()\[\] `_/\\A-Za-zÀ-ÖØ-öø-ÿĀ-ſƀ-ȳɐ-ʭ"
_NAME_LETTERS = r"A-Za-zÀ-ÖØ-öø-ÿĀ-ſƀ-ȳɐ-ʭ"
NAME_PATTERN = re.compile(f"^[{_NAME_CHARS}]*[{_NAME_LETTERS}]+[{_NAME_CHARS}]*$")
# UK postcode shape from NHS Digital's ADR-004 (https://github.com/NHSDigital/dtos-cohort-manager,
# docs/adr/ADR-004_Postcode_Validation.md), applied after normalising case and spacing.
POSTCODE_PATTERN = re.compile(r"^([A-Z][A-HJ-Y]?[0-9][A-Z0-9]? [0-9][A-Z]{2}|GIR 0AA)$")

REJECTED_SUFFIX = "; this pupil's record, attendance and exclusions are not loaded until it is fixed."

_FIELD_LABELS = {
    "surname": "Surname",
    "forename": "Forename",
    "middle_names": "Middle names",
    "preferred_surname": "Preferred surname",
    "preferred_forename": "Preferred forename",
}


@dataclass
class Roster:
    """What the attendance and exclusion rules need to know about the supplied pupils."""

    supplied: pd.Index  # every normalised UPN in the pupil records, loaded or not
    rejected: pd.Index  # UPNs of pupil records with an error (their marks are dropped silently)
    entry_date: pd.Series  # datetime64 by UPN, loaded pupils only
    leaving_date: pd.Series


@dataclass
class PupilResult:
    table: pd.DataFrame  # canonical columns (without school columns), error records removed
    issues: pd.DataFrame
    roster: Roster


# ---------------------------------------------------------------- normalisers

def normalise_upn(value: str) -> str | None:
    return value.strip().upper() or None


def normalise_sex(value: str) -> str | None:
    text = value.strip().upper()
    return {"MALE": "M", "FEMALE": "F"}.get(text, text) or None


_NC_NUMBER = re.compile(r"(?:YEAR|YR|Y|NC)? ?0*(\d{1,2})")
_RECEPTION = {"RECEPTION", "REC", "YR", "YEAR R", "Y R"}


def normalise_nc_year(value: str) -> str | None:
    """'Year  4', 'Y4', '04' -> '4'; 'Reception', 'YR' -> 'R'. Anything else is kept (upper-cased)."""
    text = re.sub(r"\s+", " ", value.strip().upper())
    if not text or text in NC_YEAR_CODES:
        return text or None
    if text in _RECEPTION:
        return "R"
    match = _NC_NUMBER.fullmatch(text)
    if match and 1 <= int(match.group(1)) <= 14:
        return str(int(match.group(1)))
    return text


def normalise_postcode(value: str) -> str | None:
    """Upper case, one space before the last three characters when the result is a valid postcode;
    otherwise the value stripped and upper-cased (so the school sees what it sent)."""
    text = value.strip().upper()
    if not text:
        return None
    compact = re.sub(r"\s+", "", text)
    candidate = f"{compact[:-3]} {compact[-3:]}" if len(compact) >= 5 else compact
    return candidate if POSTCODE_PATTERN.match(candidate) else text


# ---------------------------------------------------------------- the rule groups

def _upn_rules(f: Findings, raw_upn: pd.Series, upn: pd.Series, raw_former: pd.Series, former: pd.Series) -> None:
    fix = "check it against the pupil's CTF or admission paperwork and correct it in the pupil's record (Basic details)"
    missing = upn.isna()
    f.add("upn_missing", missing, raw_upn,
          lambda v: "UPN is blank — enter the pupil's UPN in the pupil's record (Basic details)")
    formed = upn_ref.well_formed_mask(upn)
    f.add("upn_malformed", ~missing & ~formed, raw_upn,
          lambda v: f"UPN {quoted(v)} is not a valid UPN: it must be 13 characters, a letter, 11 digits, "
                    f"then a digit or letter — {fix}")
    checked = upn_ref.valid_check_letter_mask(upn)
    f.add("upn_check_letter", formed & ~checked, raw_upn,
          lambda v: f"UPN {quoted(v)} has a check letter (first character) that does not match the rest "
                    f"of the UPN, so one of its characters is wrong — {fix}")
    # Checked whatever the check letter says (as DfE's CIN rule 1530 is), temporary UPNs included.
    unknown_la = formed & ~upn_ref.recognised_la_code_mask(upn)
    f.add("upn_la_code", unknown_la, raw_upn,
          lambda v: f"UPN {quoted(v)} has characters 2–4 ({normalise_upn(v)[1:4]}) that are not a recognised "
                    f"LA number — check the UPN against the pupil's CTF or previous school and correct it in "
                    f"the pupil's record (Basic details); if the pupil has no UPN, generate a temporary one "
                    f"in the MIS")
    temporary = checked & as_bool(upn.str.slice(12, 13).str.isalpha())
    f.add("upn_temporary", temporary, raw_upn,
          lambda v: f"UPN {quoted(v)} is a temporary UPN — replace it with the pupil's permanent UPN "
                    f"in the pupil's record (Basic details)")
    # A former UPN is only reported (it is not how the pupil is identified): one warning for any fault.
    bad_former = former.notna() & ~(upn_ref.valid_check_letter_mask(former)
                                    & upn_ref.recognised_la_code_mask(former))
    f.add("former_upn_malformed", bad_former, raw_former,
          lambda v: f"Former UPN {quoted(v)} is not a valid UPN (13 characters, characters 2–4 a recognised "
                    f"LA number, and a matching check letter) — correct or remove it in the pupil's record "
                    f"(Basic details)")


def _has_stray_spaces(name: str) -> bool:
    """A name (not blank) with spaces at the start or end, or two together."""
    return bool(name.strip()) and (name != name.strip() or "  " in name)


def _has_bad_characters(name: str) -> bool:
    """A name (not blank) with a character a name cannot have, or no letter."""
    return bool(name.strip()) and not NAME_PATTERN.match(name.strip())


def _name_rules(f: Findings, names: dict[str, pd.Series]) -> None:
    """``names``: the raw text of each name field."""
    for name in ("surname", "forename"):
        label = _FIELD_LABELS[name]
        f.add(f"{name}_missing", blank(names[name]), names[name],
              lambda v, label=label: f"{label} is blank — enter it in the pupil's record (Basic details)")
    for name in NAME_FIELDS:
        values, label = names[name], _FIELD_LABELS[name]
        spaces = per_value(values, _has_stray_spaces)
        f.add(f"{name}_spaces", spaces, values,
              lambda v, label=label: f"{label} {quoted(v)} has spaces at the start or end, or two spaces "
                                     f"together — remove them in the pupil's record (Basic details)")
        bad_chars = per_value(values, _has_bad_characters)
        f.add(f"{name}_characters", bad_chars, values,
              lambda v, label=label: f"{label} {quoted(v)} contains characters a name cannot have (or no "
                                     f"letter) — use only letters, spaces, hyphens, apostrophes and full stops "
                                     f"in the pupil's record (Basic details)")


# Ages (whole years on the night's date) a pupil on a school's roll can have: 2-year-olds in a school
# nursery (DfE "Early education and childcare" statutory guidance: funded places from age 2) up to 25,
# the oldest a young person with an EHC plan can be in education (Children and Families Act 2014,
# s.46; SEND Code of Practice 0-25, 2015).
YOUNGEST_AGE, OLDEST_AGE = 2, 25


def age_on(dob: pd.Series, day: date) -> pd.Series:
    """Age in whole years on ``day`` (NaN where the date of birth is missing)."""
    had_birthday = (dob.dt.month < day.month) | ((dob.dt.month == day.month) & (dob.dt.day <= day.day))
    return day.year - dob.dt.year - 1 + had_birthday.astype(int)


def _dob_rules(f: Findings, raw_dob: pd.Series, dob: pd.Series, bad: pd.Series,
               nc_year: pd.Series, raw_nc: pd.Series, as_of: date) -> None:
    fix = "correct it in the pupil's record (Basic details)"
    f.add("dob_missing", blank(raw_dob), raw_dob,
          lambda v: "Date of birth is blank — enter it in the pupil's record (Basic details)")
    f.add("dob_not_a_date", bad, raw_dob,
          lambda v: f"Date of birth {v} is not a real date — {fix}")
    f.add("dob_in_future", dob > pd.Timestamp(as_of), raw_dob,
          lambda v: f"Date of birth {v} is in the future — {fix}")
    age_now = age_on(dob, as_of)
    implausible = dob.notna() & (dob <= pd.Timestamp(as_of)) & ((age_now < YOUNGEST_AGE) | (age_now > OLDEST_AGE))
    messages = pd.Series("", index=dob.index, dtype=object)
    for i in implausible[implausible].index:
        messages[i] = (f"Date of birth {raw_dob[i].strip()} would make the pupil {int(age_now[i])} — check it in "
                       f"the pupil's record (Basic details); pupils are {YOUNGEST_AGE} to {OLDEST_AGE}")
    f.add("dob_implausible", implausible, raw_dob, messages)

    start_year = as_of.year if as_of.month >= 9 else as_of.year - 1  # academic year starts 1 September
    age = start_year - dob.dt.year - (dob.dt.month >= 9).astype(int)  # age on 31 August of start_year
    expected = expected_nc_year_age(nc_year)
    mismatch = dob.notna() & expected.notna() & (age != expected).fillna(False).astype(bool)
    mismatch &= (dob <= pd.Timestamp(as_of)) & ~implausible
    messages = pd.Series("", index=dob.index, dtype=object)
    for i in mismatch[mismatch].index:
        messages[i] = (
            f"Date of birth {raw_dob[i].strip()} makes the pupil {int(age[i])} on 31 August {start_year}, but NC "
            f"year {quoted(raw_nc[i].strip())} is for pupils aged {int(expected[i])} — check the date of birth "
            f"(Basic details) and the NC year (Registration details); no change is needed if the pupil is "
            f"deliberately taught out of their year group"
        )
    f.add("dob_nc_year_mismatch", mismatch, raw_dob, messages)


def _coded_field_rules(f: Findings, raw: dict[str, pd.Series], norm: dict[str, pd.Series]) -> None:
    sex = norm["sex"]
    f.add("sex_missing", sex.isna(), raw["sex"],
          lambda v: "Sex is blank — record M or F in the pupil's record (Basic details)")
    f.add("sex_invalid", sex.notna() & ~sex.isin(["M", "F"]), raw["sex"],
          lambda v: f"Sex {quoted(v)} is not M or F — record M or F in the pupil's record (Basic details)")

    status = norm["enrol_status"]
    codes = ", ".join(ENROL_STATUSES)
    f.add("enrol_status_missing", status.isna(), raw["enrol_status"],
          lambda v: f"Enrolment status is blank — set it ({codes}) in the pupil's record (Registration details)")
    f.add("enrol_status_unknown", status.notna() & ~status.isin(list(ENROL_STATUSES)), raw["enrol_status"],
          lambda v: f"Enrolment status {quoted(v)} is not a DfE enrolment status ({codes}) — correct it in the "
                    f"pupil's record (Registration details)")

    nc = norm["nc_year"]
    f.add("nc_year_unknown", nc.notna() & ~nc.isin(list(NC_YEAR_CODES)), raw["nc_year"],
          lambda v: f"NC year {quoted(v)} is not a national curriculum year (R, 1 to 14, N1, N2, E1, E2 or X) — "
                    f"correct the pupil's NC year (actual) in the pupil's record (Registration details)")

    postcode = norm["postcode"]
    f.add("postcode_missing", postcode.isna(), raw["postcode"],
          lambda v: "Postcode is blank — enter the pupil's home postcode in the pupil's record (Address)")
    f.add("postcode_invalid", postcode.notna() & ~as_bool(postcode.str.match(POSTCODE_PATTERN.pattern)),
          raw["postcode"],
          lambda v: f"Postcode {quoted(v)} is not a valid UK postcode — correct it in the pupil's record (Address)")


def _enrolment_date_rules(f: Findings, raw: dict[str, pd.Series],
                          dates: dict[str, tuple[pd.Series, pd.Series]]) -> None:
    fix = "correct it in the pupil's record (Registration details)"
    f.add("entry_date_not_a_date", dates["entry_date"][1], raw["entry_date"],
          lambda v: f"Entry date {v} is not a real date — {fix}")
    f.add("leaving_date_not_a_date", dates["leaving_date"][1], raw["leaving_date"],
          lambda v: f"Leaving date {v} is not a real date — {fix}")
    entry, leaving = dates["entry_date"][0], dates["leaving_date"][0]
    before = (leaving < entry).fillna(False)
    messages = pd.Series("", index=entry.index, dtype=object)
    for i in before[before].index:
        messages[i] = (f"Leaving date {iso(leaving[i])} is before the entry date {iso(entry[i])} — correct "
                       f"the entry or leaving date in the pupil's record (Registration details)")
    f.add("leaving_before_entry", before, raw["leaving_date"], messages)


# ---------------------------------------------------------------- entry point

def validate_pupils(raw: pd.DataFrame, as_of: date) -> PupilResult:
    raw_text = {c: text_column(raw, c) for c in PUPIL_COLUMNS}
    norm: dict[str, pd.Series] = {
        "upn": map_unique(raw_text["upn"], normalise_upn),
        "former_upn": map_unique(raw_text["former_upn"], normalise_upn),
        "sex": map_unique(raw_text["sex"], normalise_sex),
        "nc_year": map_unique(raw_text["nc_year"], normalise_nc_year),
        "enrol_status": upper(raw_text["enrol_status"]),
        "postcode": map_unique(raw_text["postcode"], normalise_postcode),
        "address_line1": stripped(raw_text["address_line1"]),
        "town": stripped(raw_text["town"]),
    }
    names = {n: raw_text[n].where(~blank(raw_text[n]), None) for n in NAME_FIELDS}  # stored as supplied
    dates = {c: parse_dates(raw_text[c]) for c in ("entry_date", "leaving_date")}
    dates = {"dob": parse_dates(raw_text["dob"], CALENDAR_YEARS), **dates}  # 1900-01-01 is real: dob_implausible

    f = Findings("pupils", upn=norm["upn"], record=pd.Series("", index=raw.index, dtype=object),
                 where=locations(raw))
    _upn_rules(f, raw_text["upn"], norm["upn"], raw_text["former_upn"], norm["former_upn"])
    _name_rules(f, {n: raw_text[n] for n in NAME_FIELDS})
    _dob_rules(f, raw_text["dob"], dates["dob"][0], dates["dob"][1], norm["nc_year"], raw_text["nc_year"], as_of)
    _coded_field_rules(f, raw_text, norm)
    _enrolment_date_rules(f, raw_text, dates)
    norm.update(cohort_values(f, raw_text))

    issues = f.issues()
    is_error = issues["severity"] == "error"
    issues.loc[is_error & issues["upn"].notna(), "message"] = (
        issues.loc[is_error & issues["upn"].notna(), "message"].str.rstrip(".") + REJECTED_SUFFIX)

    table = pd.DataFrame({**norm, **names, **{c: d for c, (d, _) in dates.items()}}, index=raw.index)
    table = table[PUPIL_COLUMNS]
    loaded = table[~f.rejected]
    supplied = pd.Index(norm["upn"].dropna().unique())
    rejected = pd.Index(norm["upn"][f.rejected].dropna().unique())
    by_upn = loaded.drop_duplicates("upn").set_index("upn")
    roster = Roster(supplied=supplied, rejected=rejected,
                    entry_date=by_upn["entry_date"], leaving_date=by_upn["leaving_date"])
    return PupilResult(table=loaded, issues=issues, roster=roster)
