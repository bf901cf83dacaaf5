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
PAGE_SIZES = {"Student": 500, "AttendanceRecord": 3000, "FixedPeriodExclusion": 500, "PermanentExclusion": 500}
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


def exclusion_paths(fields: Mapping[str, tuple[str, str]]) -> list[str]:
    """The GraphQL field paths of an exclusion entity (its fields plus the reasons)."""
    return ["id", *(path for path, _ in fields.values()), REASON_FIELD,
            f"{MORE_REASONS_FIELD}.{MORE_REASON_CODE}"]


def student_paths() -> list[str]:
    return [STUDENT_ID, REVISION_FIELD, *(path for path, _ in STUDENT_FIELDS.values())]


def attendance_paths() -> list[str]:
    return ["id", *(path for path, _ in ATTENDANCE_FIELDS.values())]


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
