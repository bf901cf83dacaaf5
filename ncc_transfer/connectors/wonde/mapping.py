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

# Student includes the connector asks for (documented include names).
STUDENT_INCLUDES = ("education_details", "contact_details", "extended_details")
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
    # Cohort fields (ncc_transfer.cohorts), in the documented `extended_details` include. Wonde holds them: the
    # DfE's daily attendance collection through Wonde takes CLA, SEN support, EHCP, FSM, CIN and CPP
    # (https://www.gov.uk/guidance/share-your-daily-school-attendance-data). Their names inside
    # `extended_details` are a GUESS (not found publicly), as are the values: the DfE SEN provision code and
    # JSON booleans. Child in need and child protection plan are not mapped: the one public trace is a
    # `child_protection_plan_date_ranges` include [3P: Edrolo/pywonde meta/wonde.openapi.yaml] with no
    # shape; they stay null on this route until a sandbox shows them.
    "sen_provision": ("extended_details.data.sen_status", GUESS),
    "fsm_eligible": ("extended_details.data.free_school_meals", GUESS),
    "fsm_ever6": ("extended_details.data.free_school_meals_6", GUESS),
    "looked_after": ("extended_details.data.in_lea_care", GUESS),
}
COHORT_FLAGS = ("fsm_eligible", "fsm_ever6", "looked_after")  # JSON booleans [GUESS]
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
