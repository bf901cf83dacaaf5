"""SIMS 8 / SIMS Primary V3 OData <-> canonical raw columns: the ONE place the SIMS wire shape is written down.

Both the connector (``connectors/sims/connector.py``, reading) and the simulator (``connectors/sims/simulator.py``, writing)
use these tables, so a real payload corrects both in one edit. Confidence per item:
``DOC`` (sims-partners.com documentation, e.g. https://www.sims-partners.com/Product/SIMS8/APIs/V3/ReleaseNote),
``GUESS`` (not found publicly: the most plausible shape; verify against the API Manager Swagger or a
sandbox). The field lists of the V3 domains sit behind API Manager, so most field names below are GUESSes.

Conventions (GUESS unless tagged): every entity has an ``ExternalID`` GUID [DOC for LearnerPersonals
and AttendanceCode]; a reference to another entity is an object ``{"ExternalID": ..., "Type": ...}`` as
the documented AttendanceCode -> StatutoryAttendanceCode reference is [DOC]; lists come in the OData v4
envelope ``{"@odata.context": ..., "value": [...]}`` paged with ``$top``/``$skip`` [DOC].
"""

from __future__ import annotations

DOC, GUESS = "DOC", "GUESS"

DEFAULT_BASE_URL = "https://seli00apm01.azure-api.net/ssli01"  # DOC (due to move to Dataexchange.CapitaSoftware.com)
DEFAULT_TOKEN_URL = "https://sts.sims.co.uk/connect/token"  # DOC
TOKEN_SCOPE = "simsserverapplication partner"  # DOC (sample code)
SUBSCRIPTION_KEY_HEADER = "Ocp-Apim-Subscription-Key"  # DOC
ORGANISATION_HEADER = "Organisation_ID"  # GUESS: the sample code sends it; a header is our guess of how

# Information domains: name -> (path under the base URL, confidence).
DOMAINS: dict[str, tuple[str, str]] = {
    "learners": ("/Learner/V3/LearnerPersonals", DOC),  # fields partly DOC (ExternalID, Preferred*, GenderCategory)
    "identifiers": ("/Learner/V3/LearnerIdentifiers", DOC),  # the path is DOC; the fields are a GUESS
    "enrolments": ("/Learner/V3/LearnerEnrolments", GUESS),
    "addresses": ("/Learner/V3/LearnerAddresses", GUESS),
    "characteristics": ("/Learner/V3/LearnerCharacteristics", GUESS),  # the cohort fields (PUPIL_FIELDS)
    "attendance": ("/Attendance/V3/AttendanceRecords", DOC),  # the path and AttendableEventStart are DOC
    "attendance_codes": ("/Attendance/V3/AttendanceCodes", GUESS),  # the code object itself is DOC
    "statutory_codes": ("/Attendance/V3/StatutoryAttendanceCodes", GUESS),
    "exclusions": ("/Behaviour/V3/Exclusions", GUESS),
}
LEARNER_DOMAINS = ("learners", "identifiers", "enrolments", "addresses", "characteristics")  # one pupil row
SATELLITE_DOMAINS = ("identifiers", "enrolments", "addresses", "characteristics")  # records pointing at a learner

# OData envelope and paging [DOC]. Page sizes [GUESS]: the older enhanced APIs returned up to 1000
# records per call, so the simulator refuses a $top above MAX_TOP (as ASP.NET OData does).
VALUE_KEY = "value"
PAGE_SIZES = {"learners": 500, "identifiers": 500, "enrolments": 500, "addresses": 500, "characteristics": 500,
              "attendance": 1000, "attendance_codes": 500, "statutory_codes": 500, "exclusions": 500}
MAX_TOP = 1000

# Incremental [DOC for AttendanceRecords: `AttendanceRecords/SIMS.Changes(startDate={startDate})`;
# GUESS that the learner domains have the same function]. The start date is an unquoted
# DateTimeOffset literal in UTC. A changed entity comes back whole; a deleted learner comes back from
# LearnerPersonals as {"@removed": {"reason": "deleted"}, "ExternalID": ...} [GUESS: the OData 4.01
# delta-payload marker]. Change tracking per learner domain [GUESS]: the connector unions the learners
# changed in any of them and reads whatever part of a changed learner it did not get in full.
CHANGES_FUNCTION = "/SIMS.Changes(startDate={start})"
CHANGES_START = "startDate"  # the watermark key
REMOVED = "@removed"

# A reference to the learner, inside a satellite, attendance or exclusion record [GUESS].
LEARNER_REF = "Learner.ExternalID"
LEARNER_REF_TYPE = "Learner.Learner"
ID = "ExternalID"  # DOC

# canonical pupil column -> (domain, dotted field path, confidence)
PUPIL_FIELDS: dict[str, tuple[str, str, str]] = {
    "upn": ("identifiers", "UPN", GUESS),
    "former_upn": ("identifiers", "FormerUPN", GUESS),  # SIMS 7 has FormerUPN [DOC for SIMS 7]
    "surname": ("learners", "LegalSurname", GUESS),  # SIMS 7 has LegalSurname [DOC for SIMS 7]
    "forename": ("learners", "LegalForename", GUESS),
    "middle_names": ("learners", "MiddleNames", GUESS),  # SIMS 7: MiddleName
    # The names in use; canonical preferred_* only when they differ from the legal names.
    "preferred_surname": ("learners", "PreferredSurname", DOC),
    "preferred_forename": ("learners", "PreferredForename", DOC),
    "dob": ("learners", "DateOfBirth", GUESS),  # SIMS 7: DOB as 1986-01-17T00:00:00
    "sex": ("learners", "GenderCategory", DOC),  # the field is DOC; its values (GENDER below) a GUESS
    "nc_year": ("enrolments", "NCYear", GUESS),
    "enrol_status": ("enrolments", "EnrolmentStatus", GUESS),  # the CBDS code (C, M, S, G, ...)
    "entry_date": ("enrolments", "EntryDate", GUESS),
    "leaving_date": ("enrolments", "LeavingDate", GUESS),
    # address_line1 is built from ADDRESS_LINE1_PARTS (the SIMS 7 address fields [DOC for SIMS 7]).
    "town": ("addresses", "TownOrCity", GUESS),
    "postcode": ("addresses", "PostCode", GUESS),
    # Cohort fields (ncc_transfer.cohorts), one LearnerCharacteristics record per learner [GUESS: no V3 field
    # list is public (it sits behind API Manager; neither the documented LearnerIdentifiers example nor the
    # visible part of the LearnerPersonals definition holds any), so the domain, the field names and the values
    # are a GUESS: one domain per topic as the documented learner domains are; names after SIMS's own
    # vocabulary ("SEN Status", "In Care"), which Groupcall's SIMS-derived student record echoes (FSMEligible,
    # InLeaCare)]. SENStatus is a lookup reference like the documented CurrentYearGroup ({"Description",
    # "ExternalID", "Type"} [DOC for CurrentYearGroup]); its Description is read through the one label map,
    # ncc_transfer.cohorts.sen_provision_text ("SEN Support" -> K; a code passes as it is). The flags are
    # Edm.Boolean. FSM ever 6 is not mapped: SIMS keeps FSM history, not the DfE's ever-6 flag (schools import
    # it as the pupil premium indicator). Child in need / child protection plan: no trace; not mapped.
    "sen_provision": ("characteristics", "SENStatus.Description", GUESS),
    "fsm_eligible": ("characteristics", "FSMEligible", GUESS),
    "looked_after": ("characteristics", "InCare", GUESS),
}
COHORT_FLAGS = ("fsm_eligible", "looked_after")  # Edm.Boolean [GUESS]
SEN_STATUS_TYPE = "Learner.Lookup.SENStatus"  # GUESS, after "PastoralGroup.Definition.YearGroup" [DOC]
# The SEN status lookup's descriptions (the simulator writes these) [GUESS: the DfE's descriptions of the codes].
SEN_STATUS_LABELS = {"N": "No Special Educational Need", "K": "SEN Support", "E": "Education, Health and Care Plan"}
PREFERRED_OF = {"preferred_surname": "surname", "preferred_forename": "forename"}
ADDRESS_LINE1_PARTS = ("Apartment", "HouseName", "HouseNo", "Street")  # GUESS (SIMS 7 names); joined
ADDRESS_TYPE, HOME_ADDRESS, ADDRESS_END = "AddressType", "Home", "EndDate"  # GUESS: current home address

# GenderCategory values -> CTF sex [GUESS: only the field name is documented]. Anything else passes
# through for validation to judge.
GENDER = {"Male": "M", "Female": "F", "Unknown": "U"}

# Attendance records [GUESS beyond AttendableEventStart, which is DOC]. The date comes from
# AttendableEventStart (UTC) in Europe/London; the session from SessionName (SIMS 7's name [DOC for
# SIMS 7]) or, without it, from the start time (before noon: AM).
ATTENDANCE_FIELDS = {
    "start": ("AttendableEventStart", DOC),
    "session": ("SessionName", GUESS),
    "code": ("AttendanceCode.ExternalID", GUESS),  # a reference to an AttendanceCodes entry
}
ATTENDANCE_FILTER_FIELD = "AttendableEventStart"  # DOC; a bare date in the filter errors [DOC]
MAX_SPAN_DAYS = 90  # DOC for the enhanced APIs; assumed to hold for V3 [GUESS]
LOCAL_TIMEZONE = "Europe/London"
NOON_HOUR = 12

# An AttendanceCodes entry [DOC]: {"@odata.type": "#ESS.Attendance.AttendanceCode", "ExternalID",
# "LookupType": "AttendanceCode", "Code": "X01", "Description", "DisplayOrder", "IsVisible",
# "StatutoryAttendanceCode": {"ExternalID", "Type": "Attendance.Lookup.StatutoryAttendanceCode"}}.
# Codes can be 3-character local sub-codes that map to a statutory code [DOC].
CODE_FIELDS = {"code": "Code", "statutory": "StatutoryAttendanceCode.ExternalID"}
CODE_TYPE = "#ESS.Attendance.AttendanceCode"
STATUTORY_CODE_REF_TYPE = "Attendance.Lookup.StatutoryAttendanceCode"
# A StatutoryAttendanceCodes entry [GUESS]: {"ExternalID", "Code", "Description"}.
STATUTORY_CODE_FIELDS = {"code": "Code"}

# canonical exclusion column -> field [GUESS: the B2B/CTF exclusion vocabulary [DOC for SIMS 7]:
# Category PERM|FIXD|LNCH, Reasons (up to three, in order), StartDate, StartSession, EndDate; the length
# in sessions as `Sessions` (B2B has SchoolDays) is a GUESS].
EXCLUSION_FIELDS: dict[str, tuple[str, str]] = {
    "category": ("Category", GUESS),
    "start_date": ("StartDate", GUESS),
    "start_session": ("StartSession", GUESS),
    "sessions": ("Sessions", GUESS),
    "end_date": ("EndDate", GUESS),
}
EXCLUSION_REASONS = ("Reasons", ("reason", "reason_2", "reason_3"))  # a list of CBDS reason codes [GUESS]
# CBDS category -> canonical category (the warehouse says SUSP for FIXD) [DOC for the CBDS codes].
EXCLUSION_CATEGORY = {"FIXD": "SUSP", "PERM": "PERM", "LNCH": "LNCH"}

# Pupil and exclusion columns whose SIMS value is a date (DateTimeOffset, `...T00:00:00Z`) [GUESS].
DATE_COLUMNS = {"dob", "entry_date", "leaving_date", "start_date", "end_date"}

# The OData error body [GUESS for SIMS; the OData v4 JSON error format]: {"error": {"code", "message"}}.
ERROR_KEY = "error"
