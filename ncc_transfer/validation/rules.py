"""The catalogue of record-level rules: one entry per (dataset, rule), the single source of severity."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ncc_transfer.canonical import COHORT_FLAG_COLUMNS

ERROR = "error"  # record not loaded
WARNING = "warning"  # loaded, but the school should fix it

NAME_FIELDS = ("surname", "forename", "middle_names", "preferred_surname", "preferred_forename")
# The cohort fields (ncc_transfer.cohorts) as the school's data manager knows them.
COHORT_LABELS = {
    "sen_provision": "SEN provision",
    "fsm_eligible": "FSM eligible",
    "fsm_ever6": "FSM ever 6",
    "looked_after": "Looked after",
    "child_in_need": "Child in need",
    "child_protection_plan": "Child protection plan",
}


@dataclass(frozen=True)
class Rule:
    dataset: str
    field: str
    rule: str
    severity: str
    description: str


def _pupil_rules() -> list[Rule]:
    p = "pupils"
    rules = [
        Rule(p, "upn", "upn_missing", ERROR, "UPN is blank"),
        Rule(p, "upn", "upn_malformed", ERROR,
             "UPN is not 13 characters in the DfE shape (letter, 11 digits, digit or letter)"),
        Rule(p, "upn", "upn_check_letter", ERROR, "UPN check letter does not match the rest of the UPN"),
        Rule(p, "upn", "upn_la_code", ERROR,
             "UPN characters 2-4 are not a recognised LA number (DfE LA codes, retired ones included)"),
        Rule(p, "upn", "upn_temporary", WARNING, "UPN is a temporary UPN (ends in a letter)"),
        Rule(p, "former_upn", "former_upn_malformed", WARNING,
             "Former UPN is not a valid UPN (shape, LA number in characters 2-4, or check letter)"),
        Rule(p, "surname", "surname_missing", ERROR, "Surname is blank"),
        Rule(p, "forename", "forename_missing", ERROR, "Forename is blank"),
    ]
    for name in NAME_FIELDS:
        label = name.replace("_", " ")
        rules.append(Rule(p, name, f"{name}_spaces", WARNING, f"{label} has leading, trailing or doubled spaces"))
        rules.append(Rule(p, name, f"{name}_characters", WARNING,
                          f"{label} has characters outside the DfE name character set, or no letter"))
    rules += [
        Rule(p, "dob", "dob_missing", ERROR, "Date of birth is blank"),
        Rule(p, "dob", "dob_not_a_date", ERROR, "Date of birth is not a real date"),
        Rule(p, "dob", "dob_in_future", ERROR, "Date of birth is after the extract date"),
        Rule(p, "dob", "dob_implausible", ERROR,
             "Date of birth is a real date but makes the pupil younger than 2 or older than 25 on the extract date"),
        Rule(p, "dob", "dob_nc_year_mismatch", WARNING,
             "Age at 31 August of the current academic year does not match the NC year's expected age"),
        Rule(p, "sex", "sex_missing", WARNING, "Sex is blank"),
        Rule(p, "sex", "sex_invalid", WARNING, "Sex is not M or F"),
        Rule(p, "enrol_status", "enrol_status_missing", WARNING, "Enrolment status is blank"),
        Rule(p, "enrol_status", "enrol_status_unknown", WARNING, "Enrolment status is not one of C, M, S, F, O, G, P"),
        Rule(p, "nc_year", "nc_year_unknown", WARNING, "NC year is not one of R, 1-14, N1, N2, E1, E2, X"),
        Rule(p, "postcode", "postcode_missing", WARNING, "Postcode is blank"),
        Rule(p, "postcode", "postcode_invalid", WARNING, "Postcode is not a well-formed UK postcode"),
        Rule(p, "entry_date", "entry_date_not_a_date", ERROR, "Entry date is not a real date"),
        Rule(p, "leaving_date", "leaving_date_not_a_date", ERROR, "Leaving date is not a real date"),
        Rule(p, "leaving_date", "leaving_before_entry", ERROR, "Leaving date is before the entry date"),
        # Cohort fields (optional; a value that cannot be read is loaded as null: ncc_transfer.cohorts).
        Rule(p, "sen_provision", "sen_provision_invalid", WARNING,
             "SEN provision is not N, K or E (legacy S, A, P are read as E, K, K)"),
    ]
    for name in COHORT_FLAG_COLUMNS:
        rules.append(Rule(p, name, f"{name}_invalid", WARNING,
                          f"{COHORT_LABELS[name]} is not a yes/no value (Y/N, true/false, 1/0)"))
    return rules


def _attendance_rules() -> list[Rule]:
    a = "attendance"
    return [
        Rule(a, "upn", "upn_missing", ERROR, "Attendance mark has no UPN"),
        Rule(a, "upn", "upn_not_in_pupils", ERROR, "Attendance mark's UPN is not among the supplied pupil records"),
        Rule(a, "date", "date_not_a_date", ERROR, "Attendance mark's date is blank or not a real date"),
        Rule(a, "session", "session_invalid", ERROR, "Attendance mark's session is not AM or PM"),
        Rule(a, "code", "code_unknown", ERROR, "Attendance code is not a statutory register code"),
        Rule(a, "code", "code_not_valid_on_date", ERROR,
             "Attendance code is not valid on the mark's date (2024 set from 19 August 2024, pre-2024 set before)"),
        Rule(a, "date", "mark_before_entry", ERROR, "Attendance mark is dated before the pupil's entry date"),
        Rule(a, "date", "mark_after_leaving", ERROR, "Attendance mark is dated after the pupil's leaving date"),
        Rule(a, "date", "mark_after_extract", ERROR,
             "Attendance mark is dated after the night the data was extracted (a session that has not happened)"),
        Rule(a, "code", "no_mark", WARNING, "No mark recorded ('-') for a past session"),
    ]


def _exclusion_rules() -> list[Rule]:
    e = "exclusions"
    return [
        Rule(e, "upn", "upn_missing", ERROR, "Exclusion has no UPN"),
        Rule(e, "upn", "upn_not_in_pupils", ERROR, "Exclusion's UPN is not among the supplied pupil records"),
        Rule(e, "category", "category_missing", ERROR, "Exclusion category is blank"),
        Rule(e, "category", "category_unknown", ERROR, "Exclusion category is not PERM, SUSP (FIXD) or LNCH"),
        Rule(e, "start_date", "start_date_missing", ERROR, "Exclusion start date is blank"),
        Rule(e, "start_date", "start_date_not_a_date", ERROR, "Exclusion start date is not a real date"),
        Rule(e, "sessions", "sessions_missing", ERROR, "Suspension has no length in sessions"),
        Rule(e, "sessions", "sessions_invalid", ERROR, "Exclusion length in sessions is not a positive whole number"),
        Rule(e, "reason", "reason_missing", WARNING, "Exclusion reason is blank"),
        Rule(e, "reason", "reason_unknown", WARNING, "Exclusion reason is not a DfE reason code"),
        Rule(e, "reason_2", "reason_2_unknown", WARNING, "Second exclusion reason is not a DfE reason code"),
        Rule(e, "reason_3", "reason_3_unknown", WARNING, "Third exclusion reason is not a DfE reason code"),
        Rule(e, "end_date", "end_date_not_a_date", ERROR, "Exclusion end date is not a real date"),
        Rule(e, "end_date", "end_before_start", ERROR, "Exclusion end date is before its start date"),
        Rule(e, "start_session", "start_session_invalid", WARNING, "Exclusion start session is not AM or PM"),
    ]


RULES: list[Rule] = _pupil_rules() + _attendance_rules() + _exclusion_rules()
_BY_KEY: dict[tuple[str, str], Rule] = {(r.dataset, r.rule): r for r in RULES}
assert len(_BY_KEY) == len(RULES), "rule names must be unique within a dataset"


def rule(dataset: str, name: str) -> Rule:
    """The catalogue entry of one rule (KeyError for a rule that is not catalogued)."""
    return _BY_KEY[(dataset, name)]


def rules_frame() -> pd.DataFrame:
    """RULES as a DataFrame: dataset, field, rule, severity, description."""
    return pd.DataFrame([vars(r) for r in RULES], columns=["dataset", "field", "rule", "severity", "description"])
