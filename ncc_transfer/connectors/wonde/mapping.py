"""Wonde JSON <-> canonical raw columns: the ONE place the Wonde shape is written down.

Both the connector (``connectors/wonde/connector.py``, reading) and the simulator (``connectors/wonde/simulator.py``,
writing) use these dicts, so a real Wonde payload corrects both in one edit. Confidence per field:
``DOC`` (Wonde docs, https://docs.wonde.com/docs/api/sync/, or the official SDK, GitHub
wondeltd/php-client), ``3P`` (third-party client or spec), ``GUESS`` (not found publicly: the most
plausible shape; verify against a sandbox).
"""

from __future__ import annotations

DOC, THIRD_PARTY, GUESS = "DOC", "3P", "GUESS"

API_PREFIX = "/v1.0/schools/{school_id}"

# Endpoints (paths relative to API_PREFIX) -> confidence.
ENDPOINTS = {
    "students": ("/students", THIRD_PARTY),
    "leavers": ("/students-leaver", DOC),  # official PHP client: students-leaver/
    "attendance": ("/attendance/session", DOC),  # the path is documented; the READ shape is a GUESS
    "leaver_attendance": ("/attendance-leavers/session", THIRD_PARTY),
    "attendance_codes": ("/attendance-codes", THIRD_PARTY),
    "exclusions": ("/exclusions", DOC),  # the path is documented; the field names are a GUESS
    "deletions": ("/deletions", THIRD_PARTY),  # {type, id, mis_id, deleted_at, restored_at}
}

# Incremental extraction: rows modified after a moment, `Y-m-d H:i:s` [SDK].
UPDATED_AFTER_PARAM = "updated_after"
DELETION_TYPE_STUDENT = "student"

# Cohort date ranges: student includes listed in the student object's related objects (`in_care_date_ranges`,
# `sen_date_ranges`, `fsm_date_ranges`, `child_protection_plan_date_ranges`, `upfsm_date_ranges`, each "many")
# [3P: Edrolo/pywonde docs/Student.md, generated from Wonde's OpenAPI file (meta/wonde.openapi.yaml), citing
# https://docs.wonde.com/docs/api/sync#student-object; the include NAMES only]. The shape of a range is a GUESS
# (no example found): `{"data": [{"start_date": <date or PHP DateTime>, "end_date": <same, null = open>}]}`.
# A pupil is counted on the night's as-of date (ncc_transfer.cohorts): looked after / on a child protection plan
# when a range covers it; FSM eligible and ever 6 by cohorts.fsm_flags. The include present with no ranges is
# false; the include absent from the student is null (not supplied). `sen_date_ranges` is not mapped: what a
# range holds besides its dates (a provision code?) is not known; sen_provision stays on extended_details.
DATE_RANGE_INCLUDES: dict[str, tuple[str, str]] = {
    "fsm": ("fsm_date_ranges", THIRD_PARTY),  # -> fsm_eligible, fsm_ever6
    "looked_after": ("in_care_date_ranges", THIRD_PARTY),
    "child_protection_plan": ("child_protection_plan_date_ranges", THIRD_PARTY),
}
DATE_RANGE_FIELDS = ("start_date", "end_date")  # [GUESS]
DATE_RANGE_ITEMS = "data"  # the include envelope, as for every Wonde include [DOC]

# Student includes the connector asks for (documented include names; the date ranges above: 3P).
STUDENT_INCLUDES = ("education_details", "contact_details", "extended_details",
                    *(name for name, _ in DATE_RANGE_INCLUDES.values()))
# Exclusions carry their pupil inline: `include=student.education_details` [GUESS that it is allowed].
EXCLUSION_INCLUDES = ("student.education_details",)

# Query parameters for the attendance date range [GUESS: only updated_after/updated_before are documented].
ATTENDANCE_RANGE_PARAMS = ("start_date", "end_date")

# Page sizes: `per_page` is documented; the maximum per endpoint is not published [GUESS].
PAGE_SIZES = {"students": 200, "attendance": 1000, "exclusions": 200, "attendance_codes": 200, "deletions": 200}

# canonical pupil column -> (dotted path inside a Wonde student object, confidence)
STUDENT_FIELDS: dict[str, tuple[str, str]] = {
    "upn": ("education_details.data.upn", THIRD_PARTY),
    "former_upn": ("education_details.data.former_upn", GUESS),
    "surname": ("legal_surname", THIRD_PARTY),
    "forename": ("legal_forename", THIRD_PARTY),
    "middle_names": ("middle_names", THIRD_PARTY),
    # Wonde's `surname`/`forename` are the names in use; canonical preferred_* only when they differ.
    "preferred_surname": ("surname", THIRD_PARTY),
    "preferred_forename": ("forename", THIRD_PARTY),
    "dob": ("date_of_birth", THIRD_PARTY),
    "sex": ("gender", THIRD_PARTY),
    "nc_year": ("education_details.data.current_nc_year", THIRD_PARTY),
    "enrol_status": ("education_details.data.enrolment_status", GUESS),
    "entry_date": ("education_details.data.admission_date", GUESS),
    "leaving_date": ("education_details.data.leaving_date", GUESS),
    # The address include has house_number/house_name/apartment/street; see ADDRESS_LINE1_PARTS.
    "address_line1": ("contact_details.data.addresses.home.street", THIRD_PARTY),
    "town": ("contact_details.data.addresses.home.town", THIRD_PARTY),
    "postcode": ("contact_details.data.addresses.home.postcode", THIRD_PARTY),
    # SEN provision, in the documented `extended_details` include. Wonde holds it: the DfE's daily attendance
    # collection through Wonde takes CLA, SEN support, EHCP, FSM, CIN and CPP
    # (https://www.gov.uk/guidance/share-your-daily-school-attendance-data). Its name inside `extended_details`
    # is a GUESS (not found publicly), as is the value (the DfE SEN provision code). FSM, looked after and child
    # protection plan come from the date-range includes (DATE_RANGE_INCLUDES); child in need is not mapped (no
    # public trace of it in Wonde's student object): null on this route.
    "sen_provision": ("extended_details.data.sen_status", GUESS),
}
PREFERRED_OF = {"preferred_surname": "surname", "preferred_forename": "forename"}
ADDRESS_PREFIX = "contact_details.data.addresses.home."
ADDRESS_LINE1_PARTS = ("apartment", "house_name", "house_number", "street")  # joined into address_line1

# Wonde gender -> CTF sex. The docs list six values; anything else passes through for validation to judge.
GENDER = {"MALE": "M", "FEMALE": "F", "NOT_STATED": "U", "INDETERMINATE": "U"}

# canonical attendance column -> path in a session mark [GUESS: the read shape is not public; it mirrors
# the documented writeback record student_id/date/session/attendance_code_id].
ATTENDANCE_FIELDS: dict[str, tuple[str, str]] = {
    "student": ("student", GUESS),  # the Wonde student id; the connector turns it into the UPN
    "date": ("date", GUESS),  # a PHP DateTime object
    "session": ("session", DOC),  # AM | PM
    "code": ("attendance_code", GUESS),  # an id from /attendance-codes
}
# An attendance code object [GUESS]: {"id", "code" (the MIS's code, possibly a local sub-code), "description"}.
ATTENDANCE_CODE_FIELDS = {"id": "id", "code": "code"}
# Local sub-codes -> statutory code (issue #4: e.g. SIMS 8's X01 is statutory X). Anything else is
# already statutory (or is left for validation to reject).
LOCAL_SUBCODES = {"X01": "X", "X02": "X", "Y01": "Y1"}

# canonical exclusion column -> path in an exclusion object [GUESS: field names not found].
EXCLUSION_FIELDS: dict[str, tuple[str, str]] = {
    "upn": ("student.data.education_details.data.upn", GUESS),
    "category": ("type", GUESS),
    "reason": ("reason_1", GUESS),
    "reason_2": ("reason_2", GUESS),
    "reason_3": ("reason_3", GUESS),
    "start_date": ("start_date", GUESS),
    "start_session": ("start_session", GUESS),
    "sessions": ("length_sessions", GUESS),
    "end_date": ("end_date", GUESS),
}
# Wonde exclusion type -> canonical category (CBDS says FIXD; the warehouse says SUSP) [GUESS].
EXCLUSION_TYPE = {"FIXD": "SUSP", "PERM": "PERM", "LNCH": "LNCH"}

# Columns whose Wonde value is a PHP DateTime object {"date": "Y-m-d H:i:s.u", ...} or a plain date.
DATE_COLUMNS = {"dob", "entry_date", "leaving_date", "date", "start_date", "end_date"}

PAGINATION_NEXT = "meta.pagination.next"  # DOC
