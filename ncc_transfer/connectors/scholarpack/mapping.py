"""ScholarPack JSON <-> canonical raw columns: the ONE place the ScholarPack shape is written down.

Both the connector (``connectors/scholarpack/connector.py``, reading) and the simulator (``connectors/scholarpack/simulator.py``,
writing) use these dicts, so a real ScholarPack payload corrects both in one edit. Confidence per item:
``DOC`` (ScholarPack's help centre, e.g.
https://support.scholarpack.com/hc/en-gb/articles/6173665308189-For-Data-Integrators-About-the-ScholarPack-API),
``GUESS`` (not found publicly). ScholarPack documents its URL scheme, OAuth2 authorisation-code flow,
scopes, endpoint paths and the pagination envelope; the record field names are only on its Open API
page, which we have not seen, so every field name below is a GUESS to check against the sandbox
(``https://sandbox.scholarpack.co.uk/api/v1/``).
"""

from __future__ import annotations

DOC, GUESS = "DOC", "GUESS"

# https://<subdomain>.scholarpack.co.uk/api/v1/<resource>/, subdomain `services` (production) or `sandbox` [DOC].
DEFAULT_BASE_URL = "https://services.scholarpack.co.uk/api/v1"
API_PREFIX = "/api/v1"  # the tail of a base URL; the OAuth2 URIs sit beside it on the same host [DOC]
# OAuth2 URIs are https://<subdomain>.scholarpack.co.uk/oauth2/<endpoint>/ [DOC]; `token` as the endpoint
# name is a GUESS (the standard name; it was not in the help-centre excerpt).
TOKEN_PATH = "/oauth2/token/"
DEFAULT_TOKEN_URL = "https://services.scholarpack.co.uk" + TOKEN_PATH

# The nightly grant: refresh_token (RFC 6749 §6), client credentials in the form body [GUESS: the help
# centre documents only the authorisation-code leg]. The server may rotate the refresh token on every
# use [GUESS: assume it does; the connector keeps the newest one per school].
REFRESH_FORM = {"grant_type": "refresh_token", "refresh_token": "refresh_token", "client_id": "client_id",
                "client_secret": "client_secret"}  # RFC 6749 names
TOKEN_RESPONSE = {"access_token": "access_token", "expires_in": "expires_in", "refresh_token": "refresh_token"}
REFUSED_GRANT = "invalid_grant"  # RFC 6749 §5.2: the refresh token is expired, revoked or already used

# endpoint -> (path relative to the base URL, the scope it needs, confidence) [DOC: scopes table].
ENDPOINTS: dict[str, tuple[str, str, str]] = {
    "students": ("/students/", "student:read", DOC),
    "register": ("/students/register/", "student-register:read", DOC),  # daily register marks
    "historic_register": ("/students/register/historic/", "former-student-register:read", DOC),  # former students'
    "exclusions": ("/students/exclusions/", "student-exclusion:read", DOC),
    # Cohort endpoints: scope and path [DOC: "Scopes for API access to school data",
    # https://support.scholarpack.com/hc/en-gb/articles/6906393306653-Scopes-for-API-access-to-school-data].
    "sen": ("/students/sen/", "sen:read", DOC),
    "lac": ("/students/lac/", "lac:read", DOC),
}
SCOPES = tuple(scope for _, scope, _ in ENDPOINTS.values())

# Former students (leavers) are listed by /students/ only when asked [GUESS: the parameter is not
# public; ScholarPack has separate "former student" scopes, so leavers are assumed opt-in].
FORMER_STUDENTS_PARAM = ("include_former", "true")

# Register marks for a date range [GUESS: parameter names not public]. ISO dates.
REGISTER_RANGE_PARAMS = ("from_date", "to_date")

# Pagination envelope [DOC]: {"has_next", "has_prev", "next_num", "page", "pages", "per_page",
# "prev_num", "next_uri", "prev_uri", "data"}; `?page=` and `?per_page=` [DOC]; next_uri is absolute [DOC].
ITEMS_KEY = "data"
NEXT_KEY = "next_uri"
PAGE_PARAM, PER_PAGE_PARAM = "page", "per_page"
DEFAULT_PER_PAGE = 50  # the two help-centre versions show 50 and 100 [DOC]
# Page sizes the connector asks for; the maxima are not published [GUESS].
PAGE_SIZES = {"students": 100, "register": 1000, "historic_register": 1000, "exclusions": 100, "sen": 100, "lac": 100}

# canonical pupil column -> (dotted path in a student object, confidence). All GUESS (Open API page unseen).
STUDENT_ID = "student_uuid"  # the documented student key (photos path /students/<student_uuid>/photos/) [DOC]
STUDENT_FIELDS: dict[str, tuple[str, str]] = {
    "upn": ("upn", GUESS),
    "former_upn": ("former_upn", GUESS),
    "surname": ("legal_surname", GUESS),
    "forename": ("legal_forename", GUESS),
    "middle_names": ("middle_names", GUESS),
    # Preferred names are always filled (the legal name when none is set); canonical preferred_* only
    # when they differ from the legal name [GUESS].
    "preferred_surname": ("preferred_surname", GUESS),
    "preferred_forename": ("preferred_forename", GUESS),
    "dob": ("dob", GUESS),
    "sex": ("gender", GUESS),  # a CTF code M/F (passed through) [GUESS]
    "nc_year": ("nc_year", GUESS),
    "enrol_status": ("enrolment_status", GUESS),
    "entry_date": ("admission_date", GUESS),
    "leaving_date": ("leaving_date", GUESS),
    "address_line1": ("address.address_line_1", GUESS),
    "town": ("address.town", GUESS),
    "postcode": ("address.postcode", GUESS),
}
PREFERRED_OF = {"preferred_surname": "surname", "preferred_forename": "forename"}

# Cohort fields (ncc_transfer.cohorts) from the cohort endpoints: endpoint -> (canonical column, field of a
# record, confidence). Every record field is a GUESS (the Open API page is unseen): one record per student
# the MIS holds the item for, keyed by STUDENT_ID, on roll or former (the endpoints are assumed to list
# both, as no parameter is known); `sen_provision` the DfE provision code (N/K/E), `in_care` a JSON boolean.
# A student with no record is null (not supplied). A school whose authorisation predates these scopes
# answers 403: the connector leaves the column null for the whole school rather than fail the night.
COHORT_ENDPOINTS: dict[str, tuple[str, str, str]] = {
    "sen": ("sen_provision", "sen_provision", GUESS),
    "lac": ("looked_after", "in_care", GUESS),
}
COHORT_FLAGS = ("looked_after",)  # sent as JSON booleans [GUESS]

# canonical attendance column -> field of a register record [GUESS]. `mark` is the MIS's code, which
# may be a local sub-code (see LOCAL_SUBCODES).
REGISTER_FIELDS: dict[str, tuple[str, str]] = {
    "student": ("student_uuid", GUESS),  # the connector turns it into the UPN
    "date": ("date", GUESS),
    "session": ("session", GUESS),  # AM | PM
    "code": ("mark", GUESS),
}
# Local sub-codes -> statutory code (issue #4: a school may record a statutory code under a local
# sub-code, e.g. I01 for I). Anything else is already statutory (or is left for validation to reject).
LOCAL_SUBCODES = {"I01": "I", "X01": "X", "X02": "X"}

# canonical exclusion column -> field of an exclusion record [GUESS]. Reasons are a list of up to three
# CBDS reason codes, in order (reason, reason_2, reason_3).
EXCLUSION_FIELDS: dict[str, tuple[str, str]] = {
    "student": ("student_uuid", GUESS),
    "category": ("type", GUESS),
    "start_date": ("start_date", GUESS),
    "start_session": ("start_session", GUESS),
    "sessions": ("sessions", GUESS),
    "end_date": ("end_date", GUESS),
}
EXCLUSION_REASONS = ("reasons", GUESS)
REASON_COLUMNS = ("reason", "reason_2", "reason_3")
# ScholarPack exclusion type (CBDS category) -> canonical category (the warehouse says SUSP) [GUESS].
EXCLUSION_TYPE = {"FIXD": "SUSP", "PERM": "PERM", "LNCH": "LNCH"}

# Columns holding a date; ISO `YYYY-MM-DD` on the wire [GUESS], anything else passed on as supplied.
DATE_COLUMNS = {"dob", "entry_date", "leaving_date", "date", "start_date", "end_date"}

# Errors: not documented. The simulator answers a failure with a plain 5xx and a Flask-style body
# {"error": ..., "message": ...} [GUESS]; no error-in-a-200 shape is known.
ERROR_FIELDS = ("error", "message")
