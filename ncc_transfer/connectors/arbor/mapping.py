"""Arbor wire shape <-> canonical raw columns: the ONE place the Arbor shape is written down.

Both the connector (``connectors/arbor/connector.py``, reading) and the simulator (``connectors/arbor/simulator.py``,
writing) use these constants, so a real Arbor payload corrects both in one edit. Confidence per item
(developer docs: http://developers.arbor-education.com/api/endpoints):

* ``DOC``: Arbor's developer docs or support articles;
* ``SDK``: Arbor's official PHP SDK (``arbor-education/sis-sdk-php``), its models and examples;
* ``3P``: third-party GraphQL clients (field names seen in real queries);
* ``GUESS``: not found publicly; the most plausible shape. Verify against an Arbor sandbox.

Reading goes through Arbor GraphQL (``POST /graphql/query``), which avoids the REST
listing-then-href N+1 pattern; only the changelog (incremental extraction) is REST (``rest-v2``).
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

DOC, SDK, THIRD_PARTY, GUESS = "DOC", "SDK", "3P", "GUESS"

# ------------------------------------------------------------------------------------------ endpoints

GRAPHQL_PATH = "/graphql/query"  # 3P (and an SDK example, 2019): POST {"query": ...}, HTTP Basic
CHANGELOG_PATH = "/rest-v2/students/changelog"  # SDK: /rest-v2/{resource}/changelog
STUDENT_HREF = "/rest-v2/students/{id}"  # DOC: resource hrefs are /rest-v2/{plural-dashed}/{id}
APPLICATION_ID_HEADER = "x-mis-application-id"  # SDK (HttpClient adds it when an application id is set)

# The changelog (SDK): ?from-revision=n&to-revision=m ->
# {"changes": [{"changedObject": {"entityType", "href", "id"}, "changeType", "fromRevision", "toRevision"}]}
CHANGELOG_FROM = "from-revision"  # SDK
CHANGELOG_TO = "to-revision"  # SDK; GUESS: left out, the changelog runs to the current revision
CHANGES_KEY = "changes"  # SDK
CHANGE_TYPES = ("create", "update", "delete")  # SDK
STUDENT_ENTITY_TYPE = "Student"  # SDK (entityType of a Student reference)
# GUESS: `from-revision` is exclusive (changes after that revision are listed).
WATERMARK_KEY = "revision"  # the highest revision seen (our state; not a wire name)
# GUESS that GraphQL exposes it: REST objects carry `revisionId` [DOC]. The watermark of a full fetch is
# the highest revisionId among the students read.
REVISION_FIELD = "revisionId"

# REST error body (SDK): {"response": {"code", "reason", "errors": [{"exception", "message", ...}]}};
# a response.code in the body overrides the HTTP status. 200/201 are success.
REST_ERROR_ROOT = "response"
REST_OK_CODES = (200, 201)

# ------------------------------------------------------------------------------------------ paging

PAGE_SIZE_ARG = "page_size"  # 3P
PAGE_NUM_ARG = "page_num"  # 3P
# 3P: one client says pages are 0-based, another starts at page_num 1: GUESS 0. The connector refuses a
# page that repeats records already read, which is what a wrong base looks like.
FIRST_PAGE_NUM = 0
MAX_PAGE_SIZE = 3000  # 3P: the default page_size is 3000; GUESS that it is also the maximum
PAGE_SIZES = {"Student": 500, "AttendanceRecord": 3000, "FixedPeriodExclusion": 500, "PermanentExclusion": 500,
              "SenStatusAssignment": 1000, "EligibilityRecord": 1000, "InCareStatusAssignment": 1000,
              "ChildProtectionStatusAssignment": 1000}
ID_IN_ARG = "id_in"  # 3P (Django-style suffixes: `id_in`, `..._after_or_equal`, `..._before`)
ID_BATCH = 200  # students re-read per Student(id_in: [...]) query [GUESS: no limit published]

# ------------------------------------------------------------------------------------------ students

STUDENT_ENTITY = "Student"  # 3P
STUDENT_ID = "id"  # 3P
# canonical pupil column -> (dotted path in a GraphQL Student, confidence)
STUDENT_FIELDS: dict[str, tuple[str, str]] = {
    "upn": ("upn", THIRD_PARTY),
    "former_upn": ("formerUpn", GUESS),
    "surname": ("legalLastName", THIRD_PARTY),
    "forename": ("legalFirstName", THIRD_PARTY),
    "middle_names": ("legalMiddleNames", GUESS),  # a Person field [SDK]; on Student in GraphQL: GUESS
    # Arbor's preferred names are always filled in [GUESS]; canonical preferred_* only when they differ.
    "preferred_surname": ("preferredLastName", THIRD_PARTY),
    "preferred_forename": ("preferredFirstName", THIRD_PARTY),
    "dob": ("person.dateOfBirth", THIRD_PARTY),
    "sex": ("person.gender", GUESS),  # Person.gender [SDK]; its values: GUESS (see GENDER)
    "nc_year": ("displayAcademicLevel.displayName", THIRD_PARTY),  # the values' form: GUESS (NC_YEAR_*)
    "enrol_status": ("enrolmentMode.code", GUESS),  # UkDfe EnrolmentMode exists [SDK]; path and codes GUESS
    "entry_date": ("entryDate", GUESS),  # EducationalInstitutionEnrolment.entryDate [SDK]; on Student: GUESS
    "leaving_date": ("leavingDate", THIRD_PARTY),
    "address_line1": ("postalAddress.address1", GUESS),  # PostalAddress fields [SDK]; the path: GUESS
    "town": ("postalAddress.postalTown", GUESS),
    "postcode": ("postalAddress.postalCode", GUESS),
}
PREFERRED_OF = {"preferred_surname": "surname", "preferred_forename": "forename"}
# Person.gender values [GUESS]; anything else passes through for validation to judge.
GENDER = {"MALE": "M", "FEMALE": "F"}
# displayAcademicLevel.displayName [GUESS on the values]: "Year 5" -> "5", "Reception" -> "R"; anything
# else passes through.
NC_YEAR_PREFIX = "Year "
NC_YEAR_LABELS = {"Reception": "R", "Nursery 1": "N1", "Nursery 2": "N2"}

# Columns whose Arbor value is a date (`Y-m-d`) [SDK/DOC: Arbor dates are `Y-m-d`, datetimes `Y-m-d H:i:s`].
DATE_COLUMNS = {"dob", "entry_date", "leaving_date"}

# ------------------------------------------------------------------------------------------ attendance

ATTENDANCE_ENTITY = "AttendanceRecord"  # SDK model; as a GraphQL query field: GUESS
# GUESS filter arguments (the suffix style is 3P): a start datetime range, `Y-m-d H:i:s`.
ATTENDANCE_FROM_ARG = "startDatetime_after_or_equal"
ATTENDANCE_BEFORE_ARG = "startDatetime_before"
ATTENDANCE_FIELDS: dict[str, tuple[str, str]] = {
    "student": ("student.id", SDK),  # AttendanceRecord.student [SDK]
    "start": ("startDatetime", SDK),  # the session is read from its time (SESSION_*)
    "code": ("attendanceMark.code", SDK),  # AttendanceMark.code [SDK]; the codes: MARK_CODES
}
# AM/PM from the register's start time [GUESS: take it from the register or event time]:
# before noon AM, from noon PM; midnight (a datetime with no time of day) means no session.
SESSION_START_TIMES = {"AM": "09:00:00", "PM": "13:00:00"}  # what the simulator writes
PM_FROM = "12:00"
NO_SESSION_TIME = "00:00:00"
# AttendanceMark.code -> statutory code [GUESS on the names: the SDK retrieves marks by code, e.g.
# PRESENT, LATE; Arbor's BI dataset shows MARK_CODE PRESENT_AM with RAW_MARK "/" (DOC)]. A code not in
# this table (a DfE symbol itself, or a school's own mark) passes through for validation to judge.
MARK_CODES = {
    "PRESENT_AM": "/", "PRESENT_PM": "\\", "LATE": "L", "LATE_AFTER_REGISTER_CLOSED": "U",
    "EDUCATED_OFF_SITE": "B", "OTHER_AUTHORISED": "C", "LICENSED_PERFORMANCE": "C1",
    "PART_TIME_TIMETABLE": "C2", "DUAL_REGISTERED": "D", "SUSPENDED": "E", "HOLIDAY_NOT_AUTHORISED": "G",
    "HOLIDAY_AUTHORISED": "H", "ILLNESS": "I", "INTERVIEW": "J1", "LA_ARRANGED_EDUCATION": "K",
    "MEDICAL_APPOINTMENT": "M", "NO_REASON_YET": "N", "UNAUTHORISED_OTHER": "O", "SPORTING_ACTIVITY": "P",
    "NO_ACCESS_ARRANGEMENTS": "Q", "RELIGIOUS_OBSERVANCE": "R", "STUDY_LEAVE": "S", "TRAVELLER_ABSENCE": "T",
    "EDUCATIONAL_VISIT": "V", "WORK_EXPERIENCE": "W", "NON_COMPULSORY_SCHOOL_AGE": "X",
    "SCHOOL_CLOSED": "#",
}

# ------------------------------------------------------------------------------------------ exclusions

FIXED_PERIOD_ENTITY = "FixedPeriodExclusion"  # 3P (as a GraphQL query field) and SDK (model)
PERMANENT_ENTITY = "PermanentExclusion"  # SDK model; as a GraphQL query field: GUESS
CATEGORY_OF = {FIXED_PERIOD_ENTITY: "SUSP", PERMANENT_ENTITY: "PERM"}
LUNCHTIME_CATEGORY = "LNCH"
# The reasons: ExclusionReason.exportCode [SDK field; GUESS that it holds the DfE code, PD, VA, ...];
# more reasons through ExclusionExclusionReason [SDK model; the list field on the exclusion: GUESS].
REASON_FIELD = "exclusionReason.exportCode"
MORE_REASONS_FIELD = "exclusionExclusionReasons"
MORE_REASON_CODE = "exclusionReason.exportCode"
FIXED_PERIOD_FIELDS: dict[str, tuple[str, str]] = {
    "student": ("student.id", THIRD_PARTY),
    "start": ("fromDatetime", THIRD_PARTY),  # start_date, and start_session from its time
    "end": ("untilDatetime", SDK),  # end_date (its time is not used)
    "sessions": ("schoolDefinedSessionsExcluded", SDK),
    "lunchtime": ("isLunchtimeExclusion", GUESS),  # true: a lunchtime suspension (LNCH)
}
PERMANENT_FIELDS: dict[str, tuple[str, str]] = {
    "student": ("student.id", SDK),
    "start_date": ("fromDate", SDK),  # a date: PermanentExclusion has no start time
    "start_session": ("startSession", GUESS),  # AM | PM (CBDS needs it; no SDK field found)
}


# ------------------------------------------------------------------------------------------ cohorts

# The pupils table's cohort columns (ncc_transfer.cohorts). Arbor keeps SEN status, eligibilities (free
# school meals among them), in-care status and child protection status as dated assignments on entities
# of their own, not as fields of the student: SDK models SenStatusAssignment, EligibilityRecord,
# InCareStatusAssignment and ChildProtectionStatusAssignment (src/Arbor/Model/<name>.php, their resource
# names in src/Arbor/Resource/ResourceType.php, arbor-education/sis-sdk-php). Each is one more GraphQL list,
# paged like the others and read in full every night (full or incremental: a change to them is not a change
# to the Student, so the changelog does not list it). The values are counted on the night's as-of date.
# Optional: an entity the host refuses (GraphQL `errors` in the 200, e.g. no access, or a 403) leaves its
# columns null and the night goes on; other faults fail the school as on any list.
SEN_ENTITY = "SenStatusAssignment"  # SDK model; as a GraphQL query field: GUESS
FSM_ENTITY = "EligibilityRecord"  # SDK model; as a GraphQL query field: GUESS
IN_CARE_ENTITY = "InCareStatusAssignment"  # SDK model; as a GraphQL query field: GUESS
CHILD_PROTECTION_ENTITY = "ChildProtectionStatusAssignment"  # SDK model; as a GraphQL query field: GUESS
# Every cohort record: the pupil and the period (startDate, endDate: Y-m-d dates, endDate null while open).
COHORT_PERIOD: dict[str, tuple[str, str]] = {"start_date": ("startDate", SDK), "end_date": ("endDate", SDK)}
# SenStatusAssignment {senStatus, student, startDate, endDate} [SDK]. sen_provision: the assignment covering
# the night (the latest start if more than one); none covering it: N (no SEN on that day).
SEN_FIELDS: dict[str, tuple[str, str]] = {
    "student": ("student.id", SDK),  # SenStatusAssignment.student -> Student [SDK]
    **COHORT_PERIOD,
    "code": ("senStatus.code", GUESS),  # SenStatus.code [SDK]; GUESS that it holds the DfE N/K/E (legacy S/A/P
    # are normalised by validation); SenStatus also has exportCode and, in UkDfe, d00229 [SDK]
}
NO_SEN = "N"
# EligibilityRecord {eligibility, person, startDate, endDate, lastVerifiedDate, nextCheckDate} [SDK]: every
# kind of eligibility; the FSM ones are those whose Eligibility.code [SDK field] is in FSM_ELIGIBILITY_CODES.
# fsm_eligible / fsm_ever6 from their periods (ncc_transfer.cohorts.fsm_flags); a pupil with none: false.
FSM_FIELDS: dict[str, tuple[str, str]] = {
    "student": ("person.id", GUESS),  # EligibilityRecord.person is any ModelBase [SDK]; GUESS that a pupil's
    # record points at the Student itself (its id the Student id)
    **COHORT_PERIOD,
    "eligibility": ("eligibility.code", SDK),
}
FSM_ELIGIBILITY_CODES = ("FREE_SCHOOL_MEALS", "FSM")  # GUESS: the codes of Arbor's FSM eligibility
# InCareStatusAssignment {inCareStatus, student, startDate, endDate, responsibleLocalAuthority} [SDK]:
# looked_after when one covers the night (ncc_transfer.cohorts.covers), otherwise false. An assignment whose
# InCareStatus.countsAsInCareStatus [SDK] is false does not count (null counts).
IN_CARE_FIELDS: dict[str, tuple[str, str]] = {
    "student": ("student.id", SDK),
    **COHORT_PERIOD,
    "counts": ("inCareStatus.countsAsInCareStatus", SDK),
}
# ChildProtectionStatusAssignment {childProtectionStatus, student, startDate, endDate, notes,
# responsibleLocalAuthority} [SDK]: child_protection_plan when one covers the night, otherwise false [GUESS
# that every child protection status is a plan; ChildProtectionStatus has code and name, values unknown].
CHILD_PROTECTION_FIELDS: dict[str, tuple[str, str]] = {"student": ("student.id", SDK), **COHORT_PERIOD}
# entity -> (the cohort columns it gives, its fields). child_in_need: no SDK model found (stays null).
COHORT_ENTITIES: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, str]]]] = {
    SEN_ENTITY: (("sen_provision",), SEN_FIELDS),
    FSM_ENTITY: (("fsm_eligible", "fsm_ever6"), FSM_FIELDS),
    IN_CARE_ENTITY: (("looked_after",), IN_CARE_FIELDS),
    CHILD_PROTECTION_ENTITY: (("child_protection_plan",), CHILD_PROTECTION_FIELDS),
}


def exclusion_paths(fields: Mapping[str, tuple[str, str]]) -> list[str]:
    """The GraphQL field paths of an exclusion entity (its fields plus the reasons)."""
    return ["id", *(path for path, _ in fields.values()), REASON_FIELD,
            f"{MORE_REASONS_FIELD}.{MORE_REASON_CODE}"]


def student_paths() -> list[str]:
    return [STUDENT_ID, REVISION_FIELD, *(path for path, _ in STUDENT_FIELDS.values())]


def attendance_paths() -> list[str]:
    return ["id", *(path for path, _ in ATTENDANCE_FIELDS.values())]


def cohort_paths(entity: str) -> list[str]:
    """The GraphQL field paths of a cohort entity (``COHORT_ENTITIES``)."""
    return ["id", *(path for path, _ in COHORT_ENTITIES[entity][1].values())]


# ------------------------------------------------------------------------------------------ queries


def selection(paths: Iterable[str]) -> str:
    """Dotted field paths -> a GraphQL selection set: ``["id", "person.dateOfBirth"]`` ->
    ``{ id person { dateOfBirth } }``."""
    tree: dict[str, dict] = {}
    for path in paths:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})

    def render(node: dict) -> str:
        return "{ " + " ".join(name + (" " + render(child) if child else "") for name, child in node.items()) + " }"

    return render(tree)


def literal(value: Any) -> str:
    """A Python value as a GraphQL literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return json.dumps(str(value))


def query(entity: str, arguments: Mapping[str, Any], paths: Iterable[str]) -> str:
    """``{ Entity(arg: value, ...) { fields } }``."""
    args = ", ".join(f"{name}: {literal(value)}" for name, value in arguments.items())
    return "{ " + entity + (f"({args})" if args else "") + " " + selection(paths) + " }"
