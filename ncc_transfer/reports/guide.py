"""Plain-English guidance per validation rule, for the school feedback report.

Each rule (``ncc_transfer.validation.RULES`` plus the file-level rules the pipeline raises) gets a
heading a school data manager understands, what to do about it, and where in the MIS to do it.
The per-record ``message`` in ``validation_issues`` already says what is wrong with that record;
this is the group heading above those records.

Rules not listed here (a rule added later) fall back to the catalogue description, then to the
rule name, so a new rule never breaks the report.
"""

from __future__ import annotations

from dataclasses import dataclass

BASIC = "Pupil record › Basic details"
REGISTRATION = "Pupil record › Registration details"
ADDRESS = "Pupil record › Address"
REGISTER = "Attendance register"
CODE_SETUP = "Attendance code set-up (or the attendance register)"
EXCLUSIONS = "Behaviour / Exclusions › the exclusion record"
EXPORT = "Your MIS's export (or ask your MIS support)"

# Order in which datasets' rules are listed (file-level problems block everything, so they come first).
DATASET_ORDER = {"file": 0, "pupils": 1, "attendance": 2, "exclusions": 3}


@dataclass(frozen=True)
class RuleGuide:
    title: str  # heading: what is wrong, in plain English
    fix: str  # what to change
    where: str  # where in the MIS


_NAME_LABELS = {
    "surname": "Surname",
    "forename": "Forename",
    "middle_names": "Middle name(s)",
    "preferred_surname": "Preferred surname",
    "preferred_forename": "Preferred forename",
}

# Keyed by (dataset, rule); dataset "*" matches any dataset.
GUIDES: dict[tuple[str, str], RuleGuide] = {
    # File-level problems (raised by the pipeline, not the record rules).
    ("*", "file_unreadable"): RuleGuide(
        "A file from your MIS could not be read",
        "Nothing from your school was loaded tonight. Export the file again from your MIS before tonight's run.",
        EXPORT),
    ("*", "file_warning"): RuleGuide(
        "Something in an exported file needs checking",
        "The file was read, but part of it was not what we expected. Check the export settings.",
        EXPORT),
    ("*", "control_character"): RuleGuide(
        "A field holds an invisible control character",
        "The character was removed and the record loaded. Retype the field in your MIS (the character usually "
        "comes from text pasted in from another program).",
        BASIC),
    ("*", "extract_of_another_school"): RuleGuide(
        "Tonight's export looks like another school's",
        "Nothing from your school was loaded tonight and your last good load is kept. Check that your MIS exports "
        "your own school's data, and that it is sent to your school's folder.",
        EXPORT),
    ("*", "file_set_aside"): RuleGuide(
        "A file in your folder was set aside, not used for your roll",
        "Nothing was removed and nothing needs correcting in your MIS: your pupils, attendance and enrolments "
        "come from your MIS's full export. Each message says what the file was and what to do with it.",
        EXPORT),
    ("*", "required_column_missing"): RuleGuide(
        "A required column is missing from the export",
        "Nothing from your school was loaded tonight. Include the column in the export.",
        EXPORT),
    ("*", "structure"): RuleGuide(
        "The exported file is not laid out as expected",
        "Nothing from your school was loaded tonight. Check the export settings.",
        EXPORT),
    ("*", "duplicate_record"): RuleGuide(
        "The same record appears more than once",
        "Nothing from your school was loaded tonight. Remove or merge the duplicate records.",
        EXPORT),
    # Pupils.
    ("pupils", "upn_missing"): RuleGuide(
        "Pupil has no UPN", "Enter the pupil's UPN (from their CTF or admission paperwork).", BASIC),
    ("pupils", "upn_malformed"): RuleGuide(
        "UPN is not in the right format",
        "A UPN is 13 characters: a letter, 11 digits, then a digit or letter. Check it against the pupil's "
        "CTF or admission paperwork and correct it.", BASIC),
    ("pupils", "upn_check_letter"): RuleGuide(
        "UPN has a typing mistake (check letter does not match)",
        "One of the UPN's characters is wrong. Check it against the pupil's CTF or admission paperwork.", BASIC),
    ("pupils", "upn_la_code"): RuleGuide(
        "UPN does not start with a real LA number (characters 2 to 4)",
        "Characters 2 to 4 of a UPN are the LA number of the school that issued it. Check the UPN against the "
        "pupil's CTF or previous school and correct it; if the pupil has no UPN, generate a temporary one.", BASIC),
    ("pupils", "upn_temporary"): RuleGuide(
        "Pupil still has a temporary UPN",
        "Replace the temporary UPN with the pupil's permanent one when you have it.", BASIC),
    ("pupils", "former_upn_malformed"): RuleGuide(
        "Former UPN is not a valid UPN",
        "Correct or remove the former UPN (it needs the UPN format, a real LA number in characters 2 to 4 "
        "and a matching check letter).", BASIC),
    ("pupils", "surname_missing"): RuleGuide("Pupil has no surname", "Enter the pupil's legal surname.", BASIC),
    ("pupils", "forename_missing"): RuleGuide("Pupil has no forename", "Enter the pupil's legal forename.", BASIC),
    ("pupils", "dob_missing"): RuleGuide("Date of birth is missing", "Enter the pupil's date of birth.", BASIC),
    ("pupils", "dob_not_a_date"): RuleGuide(
        "Date of birth is not a real date", "Correct the date of birth (for example, 30 February does not exist).",
        BASIC),
    ("pupils", "dob_in_future"): RuleGuide(
        "Date of birth is in the future", "Correct the date of birth.", BASIC),
    ("pupils", "dob_implausible"): RuleGuide(
        "Date of birth gives an impossible age",
        "Check the date of birth: it makes the pupil younger than 2 or older than 25 (a placeholder such as "
        "1900-01-01 is a common cause).", BASIC),
    ("pupils", "dob_nc_year_mismatch"): RuleGuide(
        "Age does not match the NC year",
        "Check the date of birth and the NC year. No change is needed if the pupil is deliberately taught "
        "out of their year group.", f"{BASIC} and {REGISTRATION}"),
    ("pupils", "sex_missing"): RuleGuide("Sex is missing", "Record M or F.", BASIC),
    ("pupils", "sex_invalid"): RuleGuide("Sex is not M or F", "Record M or F.", BASIC),
    ("pupils", "enrol_status_missing"): RuleGuide(
        "Enrolment status is missing", "Record the enrolment status (C, M, S, F, O, G or P).", REGISTRATION),
    ("pupils", "enrol_status_unknown"): RuleGuide(
        "Enrolment status is not a DfE status", "Use one of C, M, S, F, O, G or P.", REGISTRATION),
    ("pupils", "nc_year_unknown"): RuleGuide(
        "NC year is not recognised", "Use R, 1 to 14, N1, N2, E1, E2 or X.", REGISTRATION),
    ("pupils", "postcode_missing"): RuleGuide("Home postcode is missing", "Enter the pupil's home postcode.", ADDRESS),
    ("pupils", "postcode_invalid"): RuleGuide(
        "Home postcode is not a real UK postcode", "Correct the postcode.", ADDRESS),
    ("pupils", "entry_date_not_a_date"): RuleGuide(
        "Entry date is not a real date", "Correct the date the pupil joined.", REGISTRATION),
    ("pupils", "leaving_date_not_a_date"): RuleGuide(
        "Leaving date is not a real date", "Correct the date the pupil left.", REGISTRATION),
    ("pupils", "leaving_before_entry"): RuleGuide(
        "Leaving date is before the entry date", "Correct the entry or leaving date.", REGISTRATION),
    # Attendance.
    ("attendance", "upn_missing"): RuleGuide(
        "Attendance marks with no UPN", "Make sure every pupil on the register has a UPN.", f"{REGISTER} and {BASIC}"),
    ("attendance", "upn_not_in_pupils"): RuleGuide(
        "Attendance marks for a pupil who is not in the pupil export",
        "Include the pupil in the pupil export, or correct the UPN.", BASIC),
    ("attendance", "date_not_a_date"): RuleGuide(
        "Attendance mark has no real date", "Check the export of the attendance register.", EXPORT),
    ("attendance", "session_invalid"): RuleGuide(
        "Attendance session is not AM or PM", "Check the export of the attendance register.", EXPORT),
    ("attendance", "code_unknown"): RuleGuide(
        "Attendance code is not a statutory code",
        "Map your MIS's code to a statutory code, or change the marks.", CODE_SETUP),
    ("attendance", "code_not_valid_on_date"): RuleGuide(
        "Attendance code is not valid on that date",
        "Change the marks to the right code of the 2024 code set (in use since 19 August 2024).", REGISTER),
    ("attendance", "mark_before_entry"): RuleGuide(
        "Attendance marks before the pupil joined", "Correct the entry date, or remove the marks.",
        f"{REGISTRATION} or {REGISTER}"),
    ("attendance", "mark_after_leaving"): RuleGuide(
        "Attendance marks after the pupil left", "Correct the leaving date, or remove the marks.",
        f"{REGISTRATION} or {REGISTER}"),
    ("attendance", "mark_after_extract"): RuleGuide(
        "Attendance marks dated in the future",
        "Check the date (often a mistyped year). A mark can only be recorded for a session that has happened; "
        "marks entered in advance are collected once the day has passed.", REGISTER),
    ("attendance", "no_mark"): RuleGuide(
        "Missing attendance marks", "Record the missing marks.", REGISTER),
    # Exclusions.
    ("exclusions", "upn_missing"): RuleGuide("Exclusion with no UPN", "Check the exclusion record.", EXCLUSIONS),
    ("exclusions", "upn_not_in_pupils"): RuleGuide(
        "Exclusion for a pupil who is not in the pupil export",
        "Include the pupil in the pupil export, or correct the UPN.", f"{EXCLUSIONS} and {BASIC}"),
    ("exclusions", "category_missing"): RuleGuide(
        "Exclusion has no category", "Record PERM, SUSP or LNCH.", EXCLUSIONS),
    ("exclusions", "category_unknown"): RuleGuide(
        "Exclusion category is not recognised", "Use PERM (permanent), SUSP (suspension) or LNCH (lunchtime).",
        EXCLUSIONS),
    ("exclusions", "start_date_missing"): RuleGuide(
        "Exclusion has no start date", "Enter the start date.", EXCLUSIONS),
    ("exclusions", "start_date_not_a_date"): RuleGuide(
        "Exclusion start date is not a real date", "Correct the start date.", EXCLUSIONS),
    ("exclusions", "sessions_missing"): RuleGuide(
        "Suspension has no length", "Enter the length in sessions (a day is 2 sessions).", EXCLUSIONS),
    ("exclusions", "sessions_invalid"): RuleGuide(
        "Exclusion length is not a whole number of sessions", "Enter the length in sessions (a day is 2 sessions).",
        EXCLUSIONS),
    ("exclusions", "reason_missing"): RuleGuide(
        "Exclusion has no reason", "Record the DfE reason for the exclusion.", EXCLUSIONS),
    ("exclusions", "reason_unknown"): RuleGuide(
        "Exclusion reason is not a DfE reason", "Use a DfE exclusion reason code.", EXCLUSIONS),
    ("exclusions", "reason_2_unknown"): RuleGuide(
        "Second exclusion reason is not a DfE reason", "Use a DfE exclusion reason code.", EXCLUSIONS),
    ("exclusions", "reason_3_unknown"): RuleGuide(
        "Third exclusion reason is not a DfE reason", "Use a DfE exclusion reason code.", EXCLUSIONS),
    ("exclusions", "end_date_not_a_date"): RuleGuide(
        "Exclusion end date is not a real date", "Correct the end date.", EXCLUSIONS),
    ("exclusions", "end_before_start"): RuleGuide(
        "Exclusion ends before it starts", "Correct the start or end date.", EXCLUSIONS),
    ("exclusions", "start_session_invalid"): RuleGuide(
        "Exclusion start session is not AM or PM", "Record AM or PM.", EXCLUSIONS),
}
for _field, _label in _NAME_LABELS.items():
    GUIDES[("pupils", f"{_field}_spaces")] = RuleGuide(
        f"{_label} has extra spaces", "Remove spaces at the start or end, and double spaces.", BASIC)
    GUIDES[("pupils", f"{_field}_characters")] = RuleGuide(
        f"{_label} contains characters a name cannot have",
        "Use only letters, spaces, hyphens, apostrophes and full stops.", BASIC)


def guide(dataset: str | None, rule: str) -> RuleGuide:
    """The guidance for one rule; never fails (unknown rules get a generic entry)."""
    dataset = dataset or ""
    found = GUIDES.get((dataset, rule)) or GUIDES.get(("*", rule))
    if found is None and not dataset:  # dataset not known (e.g. LA-wide counts): the first dataset with the rule
        found = next((GUIDES[(d, rule)] for d in sorted(DATASET_ORDER, key=DATASET_ORDER.get) if (d, rule) in GUIDES),
                     None)
    if found is not None:
        return found
    try:  # a catalogued rule without guidance here yet
        from ncc_transfer.validation.rules import rule as catalogue_rule

        description = catalogue_rule(dataset, rule).description
    except (KeyError, ImportError):
        description = rule.replace("_", " ").capitalize()
    return RuleGuide(description, "See the message on each record below.", "Your MIS")


def rule_sort_key(dataset: str | None, rule: str) -> tuple[int, int, str]:
    """Order of rule groups within a severity: file problems, then pupils, attendance, exclusions,
    each in the order of the rule catalogue (so related rules stay together)."""
    try:
        from ncc_transfer.validation.rules import RULES

        order = next((i for i, r in enumerate(RULES) if r.dataset == dataset and r.rule == rule), len(RULES))
    except ImportError:  # pragma: no cover
        order = 0
    return (DATASET_ORDER.get(dataset or "", 9), order, rule)
