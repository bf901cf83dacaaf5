"""Groupcall Xporter on Demand (XoD) JSON <-> canonical raw columns: the ONE place the XoD shape is
written down (https://xporterdocs.groupcall.com/docs/Xporter/endpoints/xporter; canonical columns:
``ncc_transfer.canonical``).

Both the connector (``connectors/xporter/connector.py``, reading) and the simulator (``connectors/xporter/simulator.py``,
writing) use these names, so a real XoD payload corrects both in one edit. Confidence per item:
``DOC`` (xporterdocs.groupcall.com), ``SDK`` (an official-ish client or a recorded real response: the
TeamSatchel/xod_client VCR cassettes), ``3P`` (a third-party client), ``GUESS`` (not found publicly: the
most plausible shape; replace it from the OpenAPI download on xporterdocs at contract time).

The well-documented part is the STS token, the ``Idaas`` header, the endpoint paths, the envelope
(named arrays, ``__pagination__`` with a stale ``NextPage`` on the last page, errors as a 200 with
``ExceptionMessage``), changesets and the student record. Attendance and exclusion field names, the
attendance date-range parameters and the UPN field are guesses.
"""

from __future__ import annotations

DOC, SDK, THIRD_PARTY, GUESS = "DOC", "SDK", "3P", "GUESS"

# ----------------------------------------------------------------------------------------- auth
DEFAULT_BASE_URL = "https://xporter.groupcall.com"  # DOC
DEFAULT_STS_URL = "https://login.groupcall.com/idaas/sts/STS/GetToken"  # DOC (another client: /api/oauth/GetToken, 3P)
AUTH_SCHEME = "Idaas"  # DOC: `Authorization: Idaas <token>`
THIRD_PARTY_ID = "XporterOnDemand"  # SDK: the STS body's thirdpartyid
# STS request body: our name -> the JSON key (SDK, valid_token cassette)
STS_BODY = {"estab": "estab", "relying_party": "relyingParty", "secret": "password", "third_party": "thirdpartyid"}
STS_TOKEN_FIELD = "token"  # SDK
STS_EXPIRY_FIELD = "expires"  # SDK: ISO timestamp with a 7-digit fraction and Z ("2018-06-24T18:55:26.1852229Z")

# ------------------------------------------------------------------------------------ endpoints
API_PREFIX = "/api/v1/School/{estab}"  # SDK
# endpoint -> (path relative to API_PREFIX, confidence). `Students/{id}` re-reads one pupil.
ENDPOINTS = {
    "students": ("/Students", SDK),
    "attendance": ("/AttendanceForDateRange", SDK),  # the path is in the SDK; the parameters and rows are a GUESS
    "attendance_codes": ("/AttendanceCodes", SDK),  # the path is in the SDK; the rows are a GUESS
    "exclusions": ("/StudentExclusions", SDK),  # the path is in the SDK; the rows are a GUESS
}
# endpoint -> (name of the result array in the body, confidence). Students is recorded; the others
# follow the same "named after the endpoint" pattern [GUESS].
TABLES = {
    "students": ("Students", SDK),
    "attendance": ("Attendance", GUESS),
    "attendance_codes": ("AttendanceCodes", GUESS),
    "exclusions": ("StudentExclusions", GUESS),
}

# --------------------------------------------------------------------------------- envelope/paging
PAGE_PARAM, PAGE_SIZE_PARAM = "page", "pageSize"  # SDK
PAGINATION_KEY = "__pagination__"  # SDK: [{PageSize, PageNumber, PageCount, RowCount, NextPage}]
PAGE_COUNT_PATH = "__pagination__.0.PageCount"  # SDK: stop on PageCount; NextPage is stale on the last page
META_KEY = "meta"  # SDK: [{"Id", "MIS", "Version", "DateTime"}] on the first page, [] after
# Page sizes the connector asks for [GUESS: no published maximum; one client defaults to 25].
PAGE_SIZES = {"students": 500, "attendance": 5000, "attendance_codes": 500, "exclusions": 500}
ERROR_FIELD = "ExceptionMessage"  # SDK: errors come as HTTP 200 with a non-null ExceptionMessage

# ------------------------------------------------------------------------------------- options
OPTIONS_PARAM = "options"  # SDK: a comma list
STUDENT_OPTIONS = ("includeLeavers",)  # SDK: leavers are left out without it
# AttendanceForDateRange date range [GUESS: the timetable uses dateFrom/dateTo].
ATTENDANCE_RANGE_PARAMS = ("dateFrom", "dateTo")

# ---------------------------------------------------------------------------------- changesets
CHANGED_ROWS_PARAM = "changedRows"  # DOC
CHANGED_ROWS_START = "*"  # DOC: starts a changeset (the full list comes back)
CHANGED_ROWS_KEY = "__changedRows__"  # DOC/SDK: [{SnapshotDate, PreviousChangedRows, RequestedChangedRows,
NEXT_CHANGED_ROWS = "NextChangedRows"  # ... NextChangedRows, NextUrl}]
DELETED_SUFFIX = "_deleted"  # DOC/SDK: `Students_deleted: [{"Id": ...}]`
WATERMARK_KEY = CHANGED_ROWS_PARAM  # the connector's watermark: {"changedRows": <NextChangedRows>}

# ------------------------------------------------------------------------------------- students
STUDENT_ID = "Id"  # SDK: the MIS person id as text ("3116")
# canonical pupil column -> (XoD student field, confidence)
STUDENT_FIELDS: dict[str, tuple[str, str]] = {
    "upn": ("UPN", GUESS),  # not in the recorded response (probably gated by a scope or `select`)
    "former_upn": ("FormerUPN", GUESS),
    "surname": ("LegalSurname", SDK),
    "forename": ("LegalForename", SDK),
    "middle_names": ("MiddleName", SDK),
    # XoD's Forename/Surname are the names in use; canonical preferred_* only when they differ.
    "preferred_surname": ("Surname", SDK),
    "preferred_forename": ("Forename", SDK),
    "dob": ("DateofBirth", SDK),  # sic: lower-case "of"
    "sex": ("Gender", SDK),  # "M" / "F"
    "nc_year": ("YearGroup", SDK),  # "Year  4" (two spaces), "Year  N2": see YEAR_GROUP_PREFIX
    "enrol_status": ("EnrolmentStatus", SDK),  # "C"
    "entry_date": ("EntryDate", SDK),
    "leaving_date": ("LeavingDate", SDK),
    "address_line1": ("Street", SDK),  # with the parts of ADDRESS_LINE1_PARTS
    "town": ("TownOrCity", SDK),
    "postcode": ("PostCode", SDK),
    # Cohort fields (ncc_transfer.cohorts). The field names are in the recorded student (SDK: TeamSatchel/xod_client
    # spec/fixtures/vcr_cassettes/students.yml); their values are not shown there: the DfE SEN provision code
    # (N/K/E) and JSON booleans are a GUESS. XoD has no child in need / child protection plan field in that
    # record, so those two stay null on this route.
    "sen_provision": ("SENProvision", SDK),
    "fsm_eligible": ("FSMEligible", SDK),
    "fsm_ever6": ("FSMEver6", SDK),
    "looked_after": ("InLeaCare", SDK),
}
COHORT_FLAGS = ("fsm_eligible", "fsm_ever6", "looked_after")  # sent as JSON booleans [GUESS]
PREFERRED_OF = {"preferred_surname": "surname", "preferred_forename": "forename"}
# Parts joined into address_line1: "<Apartment>, <HouseName>, <HouseNo> <Street>" (SDK field names; the
# joining is ours).
ADDRESS_APARTMENT, ADDRESS_HOUSE_NAME, ADDRESS_HOUSE_NO, ADDRESS_STREET = "Apartment", "HouseName", "HouseNo", "Street"
# The year group's name is "Year  " + the NC year code (SDK: "Year  4", "Year  N2"); the connector strips
# the prefix, so the NC year text comes back exactly as the MIS holds it.
YEAR_GROUP_PREFIX = "Year  "
STUDENT_STATUS = "StudentStatus"  # SDK: "OnRoll"; a leaver's value is a GUESS ("Leaver")
DATE_COLUMNS = {"dob", "entry_date", "leaving_date", "date", "start_date", "end_date"}

# ----------------------------------------------------------------------------------- attendance
# canonical attendance column -> (field of an AttendanceForDateRange row, confidence)
ATTENDANCE_ID = "Id"  # GUESS
ATTENDANCE_FIELDS: dict[str, tuple[str, str]] = {
    "student": ("StudentId", GUESS),  # the student's Id; the connector turns it into the UPN
    "date": ("Date", GUESS),  # "2026-03-19T00:00:00"
    "session": ("Session", GUESS),  # "AM" | "PM"
    "code": ("Code", GUESS),  # the MIS's code, possibly a local sub-code (see AttendanceCodes)
}
# An AttendanceCodes row [GUESS]: {"Id", "Code" (the MIS's code, e.g. local "X01"), "Description",
# "StatutoryCode" (the DfE code it counts as, e.g. "X")}.
ATTENDANCE_CODE_FIELDS = {"code": "Code", "statutory": "StatutoryCode", "description": "Description"}

# ----------------------------------------------------------------------------------- exclusions
EXCLUSION_ID = "Id"  # GUESS
# canonical exclusion column -> (field of a StudentExclusions row, confidence) [GUESS: none published]
EXCLUSION_FIELDS: dict[str, tuple[str, str]] = {
    "student": ("StudentId", GUESS),
    "category": ("Category", GUESS),  # CBDS: PERM / FIXD / LNCH
    "reason": ("Reason1", GUESS),  # CBDS reason codes
    "reason_2": ("Reason2", GUESS),
    "reason_3": ("Reason3", GUESS),
    "start_date": ("StartDate", GUESS),
    "start_session": ("StartSession", GUESS),  # "AM" | "PM"
    "sessions": ("Sessions", GUESS),  # length in sessions
    "end_date": ("EndDate", GUESS),
}
# CBDS category -> canonical (the warehouse says SUSP for a fixed-period exclusion). Others pass through.
EXCLUSION_CATEGORY = {"FIXD": "SUSP", "PERM": "PERM", "LNCH": "LNCH"}
