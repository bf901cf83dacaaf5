"""Bromcom's Read-Only Data Service (SOAP/ASMX, .NET DataSet XML) <-> canonical raw columns: the ONE place
the Bromcom wire shape is written down (https://docs.bromcom.com/knowledge-base/partner-api-integration/;
canonical columns: ``ncc_transfer.canonical``).

Both the connector (``connectors/bromcom/connector.py``, reading) and the simulator (``connectors/bromcom/simulator.py``,
writing) use these names, so a real payload corrects both in one edit. Confidence per item: ``DOC``
(Bromcom's knowledge base), ``3P`` (third-party integrations found through the code index), ``GUESS``
(not found publicly: the most plausible shape; verify with Bromcom partner support).

What is known: the service URL, the two operations and their parameters, credentials in every SOAP
body, the DataSet response (``diffgr:diffgram/NewDataSet/Table`` rows whose child elements are the
columns; a missing element is NULL), the entity names, and the Students columns StudentID, FirstName,
MiddleName, LastName, StartDate, EndDate. Every other column name is a GUESS, as are the attendance
date filter and the code values.
"""

from __future__ import annotations

from datetime import date

DOC, THIRD_PARTY, GUESS = "DOC", "3P", "GUESS"

# --------------------------------------------------------------------------------------- transport

DEFAULT_BASE_URL = "https://cloudmis.bromcom.com/Nucleus/WebServices/ThirdParty"  # DOC (regional hosts, Scomis differ)
SERVICE_PATH = "TPReadOnlyDataService.asmx"  # DOC, under the base URL
NAMESPACE = "http://tempuri.org/"  # 3P
SOAP_VERSION = "1.2"  # 3P: the recorded envelope is SOAP 1.2 (ASMX also serves 1.1 with a SOAPAction header)

# Operations [DOC]; parameter element names (camelCase) [3P]; SOAPAction = NAMESPACE + operation [3P].
FIND_ENTITIES = "findEntitiesBySchoolID"  # the entities the account may read
GET_ENTITY_DATA = "getEntityDataBySchoolID"
CREDENTIAL_FIELDS = ("schoolID", "username", "password")  # 3P: school id first, credentials last
ENTITY_NAME_PARAM = "entityName"  # 3P
ENTITY_FILTER_PARAM = "entityFilter"  # 3P: SQL syntax [DOC]

# The .NET DataSet in the response: <{op}Response><{op}Result><xs:schema/><diffgr:diffgram><NewDataSet>
# <Table>... [3P; the Response/Result element names follow the ASMX convention, GUESS].
DIFFGRAM_NS = "urn:schemas-microsoft-com:xml-diffgram-v1"  # 3P
MSDATA_NS = "urn:schemas-microsoft-com:xml-msdata"  # 3P
XS_NS = "http://www.w3.org/2001/XMLSchema"
DATASET_NAME, TABLE_NAME = "NewDataSet", "Table"  # 3P
ENTITY_NAME_COLUMN = "EntityName"  # 3P: findEntitiesBySchoolID's rows


def action(operation: str) -> str:
    return NAMESPACE + operation


def result_name(operation: str) -> str:
    return operation + "Result"


# ----------------------------------------------------------------------------------------- entities

# canonical table -> Bromcom entity (the names schools tick in Third Party Access Permissions) [3P]
ENTITIES = {"pupils": ("Students", THIRD_PARTY), "attendance": ("Attendances", THIRD_PARTY),
            "exclusions": ("StudentExclusions", THIRD_PARTY)}

STUDENT_ID = "StudentID"  # 3P: the pupil's id in every entity (an integer)

# Cohort entities (ncc_transfer.cohorts): entity names 3P (named by an LA's guidance to its Bromcom schools
# on Third Party Access Permissions; not in Bromcom's public knowledge base); every column a GUESS. They are
# optional: a school that has not granted one loads with its column null (the other entities stay required).
# SENStudents: one row per pupil on the SEN register with the DfE provision code (K/E; the legacy S/A/P are
# normalised by validation); a pupil the school lists no row for has no SEN (N).
# StudentsInCare: one row per care episode (StartDate, EndDate: null while in care); looked after on the
# night's as-of date when an episode covers it (ncc_transfer.cohorts.covers), otherwise false.
COHORT_ENTITIES = {"sen_provision": ("SENStudents", THIRD_PARTY), "looked_after": ("StudentsInCare", THIRD_PARTY)}
SEN_COLUMNS: dict[str, tuple[str, str]] = {"student": (STUDENT_ID, THIRD_PARTY), "sen_provision": ("SENStatus", GUESS)}
NO_SEN = "N"  # a pupil with no SENStudents row [GUESS that the entity lists only pupils with SEN]
IN_CARE_COLUMNS: dict[str, tuple[str, str]] = {"student": (STUDENT_ID, THIRD_PARTY),
                                               "start_date": ("InCareStartDate", GUESS),
                                               "end_date": ("InCareEndDate", GUESS)}

# canonical pupil column -> (Students column, confidence). Students holds leavers (EndDate set) and future
# pupils as well; the connector asks for the whole table (no filter) [GUESS that an empty filter is allowed].
STUDENT_COLUMNS: dict[str, tuple[str, str]] = {
    "upn": ("UPN", GUESS),
    "former_upn": ("FormerUPN", GUESS),
    "surname": ("LastName", THIRD_PARTY),  # legal names [GUESS that they are the legal ones]
    "forename": ("FirstName", THIRD_PARTY),
    "middle_names": ("MiddleName", THIRD_PARTY),
    "preferred_surname": ("PreferredLastName", GUESS),
    "preferred_forename": ("PreferredFirstName", GUESS),
    "dob": ("DOB", GUESS),
    "sex": ("Gender", GUESS),  # "Male" / "Female" (see GENDER)
    "nc_year": ("NCYear", GUESS),
    "enrol_status": ("EnrolmentStatus", GUESS),  # the CBDS code (C, S, M, ...)
    "entry_date": ("StartDate", THIRD_PARTY),
    "leaving_date": ("EndDate", THIRD_PARTY),
    # Bromcom keeps addresses in Addresses/PersonAddresses; flattened onto Students here [GUESS].
    "address_line1": ("AddressLine1", GUESS),
    "town": ("Town", GUESS),
    "postcode": ("Postcode", GUESS),
}
# Bromcom gender text -> CTF sex; anything else passes through for validation to judge [GUESS].
GENDER = {"MALE": "M", "FEMALE": "F"}

# Attendances: one row per pupil per session [GUESS: every column but StudentID].
ATTENDANCE_ID = "AttendanceID"  # GUESS
ATTENDANCE_COLUMNS: dict[str, tuple[str, str]] = {
    "student": (STUDENT_ID, THIRD_PARTY),
    "date": ("AttendanceDate", GUESS),
    "session": ("Session", GUESS),  # AM | PM
    "code": ("AttendanceCode", GUESS),  # the mark as the MIS records it: maybe a local sub-code (X01)
}
# The MIS's local sub-codes -> statutory code (as SIMS 8's X01 is X) [GUESS: Bromcom's own list is not
# public]. Anything else is already statutory, or is left for validation to reject.
LOCAL_SUBCODES = {"X01": "X", "X02": "X", "Y01": "Y1"}

# No pagination: attendance is read in date windows of at most this many days [GUESS: a sensible size],
# filtered in SQL on the date column [GUESS on the column; the SQL form is DOC].
ATTENDANCE_CHUNK_DAYS = 30
FILTER_DATE_FORMAT = "%Y%m%d"  # DOC: the documented example filter uses '20100901'


def date_range_filter(column: str, start: date, end_exclusive: date) -> str:
    """The EntityFilter for ``start <= column < end_exclusive`` (dates only: no untrusted text)."""
    return (f"{column} >= '{start.strftime(FILTER_DATE_FORMAT)}' "
            f"AND {column} < '{end_exclusive.strftime(FILTER_DATE_FORMAT)}'")


# StudentExclusions [entity name 3P; every column GUESS].
EXCLUSION_ID = "ExclusionID"  # GUESS
EXCLUSION_COLUMNS: dict[str, tuple[str, str]] = {
    "student": (STUDENT_ID, THIRD_PARTY),
    "category": ("ExclusionType", GUESS),  # see EXCLUSION_TYPE
    "reason": ("ExclusionReason", GUESS),  # CBDS reason code
    "reason_2": ("ExclusionReason2", GUESS),
    "reason_3": ("ExclusionReason3", GUESS),
    "start_date": ("StartDate", GUESS),
    "start_session": ("StartSession", GUESS),  # AM | PM
    "sessions": ("SessionsExcluded", GUESS),
    "end_date": ("EndDate", GUESS),
}
# Bromcom exclusion type text -> canonical category [GUESS: descriptions; CBDS codes accepted too].
EXCLUSION_TYPE = {"SUSPENSION": "SUSP", "FIXED TERM": "SUSP", "FIXD": "SUSP", "PERMANENT": "PERM", "PERM": "PERM",
                  "LUNCHTIME": "LNCH", "LNCH": "LNCH"}

# Columns that are .NET DateTime in the DataSet: ``2025-09-01T00:00:00+01:00`` (local time with its
# offset) [GUESS on the offset form: general DataSet behaviour]. The connector keeps the date part.
DATE_COLUMNS = {"DOB", "StartDate", "EndDate", "AttendanceDate", "InCareStartDate", "InCareEndDate"}
INTEGER_COLUMNS = {STUDENT_ID, ATTENDANCE_ID, EXCLUSION_ID}  # xs:int in the inline xs:schema; the rest xs:string
