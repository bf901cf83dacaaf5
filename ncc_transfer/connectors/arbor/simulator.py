"""Arbor's API shape (http://developers.arbor-education.com/api/endpoints; official SDK: GitHub
arbor-education/sis-sdk-php), mounted at ``/arbor``.

* ``POST /graphql/query`` with ``{"query": ..., "variables": ...}``: a real GraphQL front
  (``graphql_server.py``: the query is parsed and validated by graphql-core against ``SCHEMA_SDL``, so an
  unknown field or argument gives GraphQL's own error), answering ``Student``, ``AttendanceRecord``,
  ``FixedPeriodExclusion``, ``PermanentExclusion`` and the cohort entities (``SenStatusAssignment``,
  ``EligibilityRecord``, ``InCareStatusAssignment``, ``ChildProtectionStatusAssignment``, made up from the
  pupils' cohort values: :func:`cohort_lists`) lists paged by ``page_size``/``page_num`` (0-based:
  ``FIRST_PAGE_NUM``), with ``id_in`` on students and a ``startDatetime`` range on attendance records.
  Errors come as ``{"data": ..., "errors": [...]}`` with HTTP 200, as GraphQL servers do.
* ``GET /rest-v2/students/changelog?from-revision=n[&to-revision=m]``: the students changed (``update``)
  or deleted (``delete``) after revision ``n``, from the ``SourceSchool``'s revision stamps and
  deletions; hrefs are host-relative and carry the simulator's mount prefix, as a school host's would.
* HTTP Basic on every request (401 otherwise); the school is told apart by its partner-app username (a
  real Arbor school has its own host). When the registry gives an ``application_id``, the
  ``x-mis-application-id`` header must carry it.

Faults only Arbor can show: ``error-body`` is a GraphQL ``errors`` answer in a 200 ("You do not have
access to Student.upn.") on ``/graphql/query``, and Arbor's REST ``response.errors`` body with
``response.code`` 500 in a 200 on the changelog; ``foreign`` gives changelog hrefs on another host.
``expire-token`` does not apply: Basic credentials are static (there is no token to revoke).

Every field comes from ``connectors/arbor/mapping.py``, shared with the connector, so every GUESS there
is a guess here too. What the simulated MIS cannot hold is noted where it is rendered: a mark with no
AM/PM session, an exclusion category other than PERM/SUSP/FIXD/LNCH (the files route rejects those
records anyway), a length or end date on a permanent exclusion.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ncc_transfer.connectors.arbor import mapping as A
from ncc_transfer.connectors.arbor.graphql_server import QueryError, execute
from ncc_transfer.simulator.core import FaultHandling, Simulator
from ncc_transfer.simulator.credentials import basic, demo_secret_names, same, secrets_of
from ncc_transfer.simulator.records import (
    ended_ever6, flag_given, is_iso_date, listed, open_since, periods_night, set_path
)
from ncc_transfer.simulator.source import SourceSchool, stable_id

ROUTE = "arbor"
# error-body: GraphQL errors in a 200, refused; GraphQL pages by number (no next links); static Basic auth
FAULT_HANDLING = FaultHandling(expire_token=False)
WHOLE_NUMBER = re.compile(r"^\d+$")
UNTIL_TIME = "15:30:00"  # [GUESS] the time of day written on an exclusion's untilDatetime (not read back)
END_TIMES = {"AM": "12:00:00", "PM": "15:30:00"}  # [GUESS] a register's endDatetime (not read back)
GENDER_OUT = {v: k for k, v in A.GENDER.items()}
MARK_NAME = {symbol: name for name, symbol in A.MARK_CODES.items()}
NC_LABEL = {code: label for label, code in A.NC_YEAR_LABELS.items()}
ACCESS_DENIED = {"message": "You do not have access to Student.upn.",  # the shape is 3P; the code GUESS
                 "extensions": {"code": "ACCESS_DENIED"}}
UNKNOWN_SCHOOL = "unknown"

@dataclass
class ArborSchool:
    school_id: str  # the simulator's name for the school (its LAESTAB)
    user: str
    password: str
    application_id: str | None
    source: SourceSchool
    # The page_num of the first page. Tests set 1 to play the other reading of the 0/1 ambiguity: a
    # page number below it is read as the first page [GUESS], so page 0 and page 1 give the same records.
    first_page_num: int = A.FIRST_PAGE_NUM
    # Cohort entities the partner app has no access to (tests): a query for one is answered with GraphQL
    # errors ("You do not have access to ..."), as Arbor answers a field the app may not read.
    refused_entities: set[str] = field(default_factory=set)


# ------------------------------------------------------------------------------------------ rendering


def arbor_id(laestab: str, *parts: str) -> int:
    """A stable numeric Arbor id (15 digits: below 2**53, and no collisions among a school's records).

    GraphQL gives ids as ``ID`` (JSON strings: ``Int`` is 32-bit); REST gives them as numbers [GUESS].
    """
    return int(stable_id("", laestab, *parts, digits=15))


def student_id(laestab: str, pupil_key: str) -> int:
    return arbor_id(laestab, "student", pupil_key)


def _set_or_null(target: dict, path: str, value: Any) -> None:
    """Like ``set_path``, but a null value makes the related object itself null (``attendanceMark: null``)."""
    if value is None and "." in path:
        target[path.split(".")[0]] = None
    else:
        set_path(target, path, value)


def _nulls_to_none(record: dict) -> dict:
    """A related object whose every field is null is itself null (no address, no enrolment mode...)."""
    return {k: (None if isinstance(v, dict) and all(x is None for x in v.values()) else v)
            for k, v in record.items()}


def datetime_out(day: str | None, session: str | None, times: dict[str, str] = A.SESSION_START_TIMES) -> str | None:
    """A date and a session -> ``Y-m-d H:i:s``; no session (or one Arbor cannot hold) -> midnight."""
    if day is None:
        return None
    return f"{day} {times.get((session or '').strip().upper(), A.NO_SESSION_TIME)}"


def nc_label(code: str | None) -> str | None:
    if code is None:
        return None
    if code.strip().isdigit():
        return A.NC_YEAR_PREFIX + code
    return NC_LABEL.get(code, code)


def _student(school: SourceSchool, pupil) -> dict:
    row = pupil.row
    student: dict[str, Any] = {"id": str(student_id(school.laestab, pupil.key)), A.REVISION_FIELD: pupil.revision,
                               "displayName": " ".join(p for p in (row.get("forename"), row.get("surname")) if p),
                               "person": {"id": str(arbor_id(school.laestab, "person", pupil.key))}}
    for column, (path, _) in A.STUDENT_FIELDS.items():
        value = row.get(column)
        if column in A.PREFERRED_OF:  # Arbor fills preferred names in with the legal ones
            value = value or row.get(A.PREFERRED_OF[column])
        elif column == "sex":
            value = GENDER_OUT.get(value, value)
        elif column == "nc_year":
            value = nc_label(value)
        set_path(student, path, value)
    return _nulls_to_none(student)


def _mark(school: SourceSchool, mark) -> dict:
    sid = student_id(school.laestab, mark.pupil_key) if mark.pupil_key else \
        arbor_id(school.laestab, "unknown", str(mark.upn))  # a mark for a pupil with no record: a stub id
    fields = {name: path for name, (path, _) in A.ATTENDANCE_FIELDS.items()}
    record: dict[str, Any] = {"id": str(arbor_id(school.laestab, "mark", mark.key)), "_day": mark.date,
                              "endDatetime": datetime_out(mark.date, mark.session, END_TIMES), "minutesLate": None}
    set_path(record, fields["student"], str(sid))
    # A mark with no AM/PM session cannot be held (Arbor's session is its register's time): midnight.
    set_path(record, fields["start"], datetime_out(mark.date, mark.session))
    # The statutory code as Arbor names the mark; a code with no name (or a local one) as it is.
    _set_or_null(record, fields["code"], MARK_NAME.get(mark.code, mark.code))
    return record


def _reason_item(code: str | None, path: str) -> dict:
    item: dict[str, Any] = {}
    _set_or_null(item, path, code)
    return item


def _reasons(row: dict) -> dict:
    """The first reason on the exclusion, the second and third as ExclusionExclusionReasons (in order)."""
    more = listed([row.get("reason_2"), row.get("reason_3")])
    return {**_reason_item(row.get("reason"), A.REASON_FIELD),
            A.MORE_REASONS_FIELD: [_reason_item(code, A.MORE_REASON_CODE) for code in more]}


def _sessions_out(value: str | None) -> Any:
    """A whole number as a number; anything else as supplied (the MIS would not hold it; passed on)."""
    return int(value) if isinstance(value, str) and WHOLE_NUMBER.match(value.strip()) else value


def _exclusion(school: SourceSchool, exclusion) -> tuple[str, dict] | None:
    row = exclusion.row
    category = (row.get("category") or "").strip().upper()
    sid = student_id(school.laestab, exclusion.pupil_key) if exclusion.pupil_key else \
        arbor_id(school.laestab, "unknown", str(row.get("upn")))
    base = {"id": str(arbor_id(school.laestab, "exclusion", exclusion.key)), "student": {"id": str(sid)},
            "narrative": None, **_reasons(row)}
    if category in ("SUSP", "FIXD", "LNCH"):
        fields = {name: path for name, (path, _) in A.FIXED_PERIOD_FIELDS.items()}
        record = {**base, fields["start"]: datetime_out(row.get("start_date"), row.get("start_session")),
                  fields["end"]: None if row.get("end_date") is None else f"{row['end_date']} {UNTIL_TIME}",
                  fields["sessions"]: _sessions_out(row.get("sessions")),
                  fields["lunchtime"]: category == A.LUNCHTIME_CATEGORY}
        return A.FIXED_PERIOD_ENTITY, record
    if category == "PERM":  # Arbor holds no length or end date for one: they are not rendered
        fields = {name: path for name, (path, _) in A.PERMANENT_FIELDS.items()}
        return A.PERMANENT_ENTITY, {**base, fields["start_date"]: row.get("start_date"),
                                    fields["start_session"]: row.get("start_session")}
    return None  # a category Arbor has no record for (the files route rejects it: category_unknown)


def _assignment(school: SourceSchool, entity: str, pupil, start: date, end: date | None, n: int = 0,
                **values: Any) -> dict:
    fields = A.COHORT_ENTITIES[entity][1]
    record: dict[str, Any] = {"id": str(arbor_id(school.laestab, entity, pupil.key, str(n)))}
    set_path(record, fields["student"][0], str(student_id(school.laestab, pupil.key)))
    set_path(record, fields["start_date"][0], start.isoformat())
    set_path(record, fields["end_date"][0], end.isoformat() if end else None)
    for name, value in values.items():
        set_path(record, fields[name][0], value)
    return record


def cohort_lists(school: SourceSchool) -> dict[str, list[dict]]:
    """The cohort entities (``mapping.COHORT_ENTITIES``) from the pupils' cohort values.

    The source holds values, not periods, so the periods are made up around the school's latest mark (as
    the Wonde simulator does): SEN provision other than N (as supplied) an assignment open since a year
    before it; FSM eligible an open eligibility from a year before, ever 6 without eligibility one that
    ended two years before; looked after and a child protection plan an open assignment from a year
    before. Any night from two years before to four years after the latest mark reads them back. What
    Arbor has no record for (N, false, a value not supplied or not a flag) gets none: the connector reads
    that as N or false. An entity whose columns the school supplies for no pupil at all (a CTF has no child
    protection element) is left out: the school does not keep it, and a query for it is refused."""
    night = periods_night(school)
    year_before = open_since(night)
    lists: dict[str, list[dict]] = {entity: [] for entity in A.COHORT_ENTITIES}
    fsm_code = A.FSM_ELIGIBILITY_CODES[0]
    for pupil in school.pupils:
        row = pupil.row
        code = row.get("sen_provision")
        if code is not None and code.strip() and code.strip().upper() != A.NO_SEN:
            lists[A.SEN_ENTITY].append(_assignment(school, A.SEN_ENTITY, pupil, year_before, None, code=code))
        eligible, ever6 = flag_given(row.get("fsm_eligible")), flag_given(row.get("fsm_ever6"))
        if eligible:
            lists[A.FSM_ENTITY].append(_assignment(school, A.FSM_ENTITY, pupil, year_before, None,
                                                   eligibility=fsm_code))
        elif ever6:
            lists[A.FSM_ENTITY].append(_assignment(school, A.FSM_ENTITY, pupil, *ended_ever6(night),
                                                   eligibility=fsm_code))
        if flag_given(row.get("looked_after")):
            lists[A.IN_CARE_ENTITY].append(_assignment(school, A.IN_CARE_ENTITY, pupil, year_before, None,
                                                       counts=True))
        if flag_given(row.get("child_protection_plan")):
            lists[A.CHILD_PROTECTION_ENTITY].append(_assignment(school, A.CHILD_PROTECTION_ENTITY, pupil,
                                                                year_before, None))
    return {entity: records for entity, records in lists.items()
            if any(_supplied(p.row.get(c)) for c in A.COHORT_ENTITIES[entity][0] for p in school.pupils)}


def _supplied(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def render(school: SourceSchool) -> dict[str, list[dict]]:
    """Every GraphQL list of one school (records may carry ``_day`` for filtering, dropped on output)."""
    lists: dict[str, list[dict]] = {A.STUDENT_ENTITY: [_student(school, p) for p in school.pupils],
                                    A.ATTENDANCE_ENTITY: [_mark(school, m) for m in school.marks],
                                    A.FIXED_PERIOD_ENTITY: [], A.PERMANENT_ENTITY: [], **cohort_lists(school)}
    for exclusion in school.exclusions:
        rendered = _exclusion(school, exclusion)
        if rendered is not None:
            lists[rendered[0]].append(rendered[1])
    return lists


def changelog(school: SourceSchool, root_path: str, after: int, upto: int, host: str = "") -> list[dict]:
    """The Student changes after revision ``after`` up to ``upto`` (hrefs host-relative, or on ``host``)."""

    def entry(kind: str, sid: int, revision: int) -> dict:
        href = host + root_path + A.STUDENT_HREF.format(id=sid)
        return {"changedObject": {"entityType": A.STUDENT_ENTITY_TYPE, "href": href, "id": sid},
                "changeType": kind, "fromRevision": after, "toRevision": revision}

    changes = [entry("update", student_id(school.laestab, p.key), p.revision)
               for p in school.pupils if after < p.revision <= upto]
    changes += [entry("delete", student_id(school.laestab, d.key), d.revision)
                for d in school.deletions if d.kind == "pupil" and after < d.revision <= upto]
    return sorted(changes, key=lambda c: c["toRevision"])


# ------------------------------------------------------------------------------------------ GraphQL


def _select(lists: dict[str, list[dict]], entity: str, args: dict) -> list[dict]:
    """One GraphQL list as its (non-paging) arguments select it."""
    if entity not in lists:  # a cohort entity the school does not keep (cohort_lists)
        raise QueryError(f"You do not have access to {entity}.")
    items = lists[entity]
    if entity == A.STUDENT_ENTITY and args.get(A.ID_IN_ARG) is not None:
        wanted = {str(i) for i in args[A.ID_IN_ARG]}
        items = [s for s in items if s["id"] in wanted]
    if entity == A.ATTENDANCE_ENTITY:
        start, before = args.get(A.ATTENDANCE_FROM_ARG), args.get(A.ATTENDANCE_BEFORE_ARG)

        def wanted_mark(record: dict) -> bool:
            if not is_iso_date(record["_day"]):
                return True  # [GUESS] a mark whose date cannot be compared is returned rather than hidden
            when = record["startDatetime"]
            return (start is None or when >= start) and (before is None or when < before)

        items = [m for m in items if wanted_mark(m)]
    return items


# ------------------------------------------------------------------------------------------ the app


def _rest_error(code: int, reason: str, message: str) -> dict:
    """Arbor's REST error body."""
    return {A.REST_ERROR_ROOT: {"code": code, "reason": reason,
                                "errors": [{"exception": "Exception", "message": message}]}}


def routes(sim: Simulator) -> list[Route]:
    def school_of(request: Request) -> ArborSchool | None:
        credentials = basic(request.headers)
        return None if credentials is None else sim.school_where(ROUTE, lambda s: same(credentials[0], s.user))

    def refused(request: Request, school: ArborSchool | None) -> Response | None:
        credentials = basic(request.headers)
        if school is None or credentials is None or not same(credentials[1], school.password):
            return JSONResponse(_rest_error(401, "Unauthorized", "Invalid credentials"), status_code=401,
                                headers={"WWW-Authenticate": 'Basic realm="Arbor"'})
        sent = request.headers.get(A.APPLICATION_ID_HEADER, "")
        if school.application_id and not same(sent, school.application_id):
            return JSONResponse(_rest_error(401, "Unauthorized", "Unknown application"), status_code=401)
        return None

    def answer_graphql(request: Request, body: bytes, school: ArborSchool | None, fault: str | None) -> Response:
        denied = refused(request, school)
        if denied is not None:
            return denied
        assert school is not None
        if fault == "error-body":
            return JSONResponse({"data": {A.STUDENT_ENTITY: None}, "errors": [ACCESS_DENIED]})
        try:
            payload = json.loads(body)
            query, variables = payload["query"], payload.get("variables")
            if not isinstance(query, str) or not (variables is None or isinstance(variables, dict)):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"errors": [{"message": "Must provide a query string."}]}, status_code=400)

        def lists_for(entity: str, filters: tuple) -> list[dict]:
            if entity in school.refused_entities:
                raise QueryError(f"You do not have access to {entity}.")
            args = {k: json.loads(v) for k, v in filters}
            return sim.selection(ROUTE, school.school_id, school.source, render, (entity, filters),
                                 lambda lists: _select(lists, entity, args))

        answer = execute(query, variables, lists_for, school.first_page_num)
        return JSONResponse(answer)

    async def graphql(request: Request) -> Response:
        school = school_of(request)
        body = await request.body()
        return await sim.serve(ROUTE, school.school_id if school else UNKNOWN_SCHOOL, "graphql/query",
                               lambda fault: answer_graphql(request, body, school, fault))

    def answer_changelog(request: Request, school: ArborSchool | None, fault: str | None) -> Response:
        denied = refused(request, school)
        if denied is not None:
            return denied
        assert school is not None
        if fault == "error-body":  # Arbor's REST error in a 200; the body's code overrides the status
            return JSONResponse(_rest_error(500, "Internal Server Error", "An unexpected error occurred"))
        try:
            after = int(request.query_params[A.CHANGELOG_FROM])
            upto = int(request.query_params.get(A.CHANGELOG_TO, school.source.revision))
        except (KeyError, ValueError):
            return JSONResponse(_rest_error(422, "Unprocessable Entity", f"{A.CHANGELOG_FROM} is required"),
                                status_code=422)
        host = "https://foreign.invalid" if fault == "foreign" else ""
        changes = changelog(school.source, request.scope.get("root_path", ""), after, upto, host)
        return JSONResponse({A.CHANGES_KEY: changes})

    async def students_changelog(request: Request) -> Response:
        school = school_of(request)
        return await sim.serve(ROUTE, school.school_id if school else UNKNOWN_SCHOOL,
                               "rest-v2/students/changelog", lambda fault: answer_changelog(request, school, fault))

    async def other_rest(request: Request) -> Response:  # e.g. a changelog href: not simulated
        school = school_of(request)
        return await sim.serve(ROUTE, school.school_id if school else UNKNOWN_SCHOOL, "rest-v2",
                               lambda fault: refused(request, school) or JSONResponse(
                                   _rest_error(404, "Not Found", "Resource not found"), status_code=404))

    return [Route(A.GRAPHQL_PATH, graphql, methods=["POST"]),
            Route(A.CHANGELOG_PATH, students_changelog, methods=["GET"]),
            Route("/rest-v2/{rest:path}", other_rest, methods=["GET"])]


def register(sim: Simulator, school, source: SourceSchool, env) -> str:
    """Serve a registry school (``mis: arbor``) from ``source``; its Basic credentials are read from
    ``env`` by the names in ``user_env``/``password_env``. Returns the simulator's id (the LAESTAB)."""
    application_id = school.source.get("application_id")
    sim.add(ROUTE, school.laestab, ArborSchool(school.laestab, *secrets_of(school, env, "user_env", "password_env"),
                                               str(application_id) if application_id else None, source))
    return school.laestab


def demo_settings(laestab: str, base_url: str) -> tuple[dict, list[str]]:
    """Registry settings of a demo school on this route, and the names of its secret variables."""
    names = demo_secret_names(ROUTE, laestab)
    return ({"base_url": base_url, **names, "application_id": f"uk_demo_{laestab}", "rate_per_second": 0},
            list(names.values()))
