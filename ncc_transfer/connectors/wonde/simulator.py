"""Wonde's API shape (https://docs.wonde.com/docs/api/sync/), mounted at ``/wonde``.

Base path ``/v1.0/schools/{wonde_school_id}/...``; a bearer token per school; the ``{"data": [...],
"meta": {"pagination": {next, previous, more, per_page, current_page}}}`` envelope, with no pagination
object for a short unpaginated list; ``?page=`` and ``?cursor=`` paging by following
``meta.pagination.next``; ``include=`` on students (an unsupported include fails the whole request with
``400 invalid_include``); ``updated_after`` on every list and a ``/deletions`` list (incremental
extraction). The field layout comes from ``connectors/wonde/mapping.py``, shared with the
connector; every GUESS there is a guess here too: the read shape of ``/attendance/session`` and of
``/attendance-codes``, the ``start_date``/``end_date`` range parameters, the exclusion fields, and the
UPN/admission/leaving fields under ``education_details``, and the shape of the cohort date-range includes
(``fsm_date_ranges``, ``in_care_date_ranges``, ``child_protection_plan_date_ranges``), made up from the
school's flags around its latest mark (:func:`date_ranges`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ncc_transfer.connectors.wonde import mapping as W
from ncc_transfer.simulator.core import REFUSED, RETRIED, FaultHandling, Simulator
from ncc_transfer.simulator.credentials import bearer, demo_secret_names, same, secrets_of
from ncc_transfer.simulator.records import (
    ended_ever6, flag_given, in_range, is_iso_date, open_since, periods_night, public, set_path
)
from ncc_transfer.simulator.source import SourceSchool, stable_id

ROUTE = "wonde"
# error-body: a plain 500, retried; next links to another host refused; a static token
FAULT_HANDLING = FaultHandling(error_body=RETRIED, foreign=REFUSED, expire_token=False)
DEFAULT_PER_PAGE = 50  # Wonde's default page size [3P]
UNPAGINATED_MAX = 50  # "with 50 or fewer results no pagination object is returned" [3P]
MAX_PER_PAGE = {"students": 200, "leavers": 200, "attendance": 1000, "leaver_attendance": 1000,
                "attendance_codes": 200, "exclusions": 200, "deletions": 200}  # [GUESS] per-endpoint maxima
SIM_SUBCODES = {"X": "X01"}  # the simulated MIS records statutory X as local sub-code X01
GENDER_OUT = {v: k for k, v in W.GENDER.items() if k in ("MALE", "FEMALE")} | {"U": "NOT_STATED"}
TYPE_OUT = {"SUSP": "FIXD", "PERM": "PERM", "LNCH": "LNCH"}
RANGES_KEY = "_wonde_date_ranges"  # a source pupil's exact date ranges, set by a test (see date_ranges)
RESOURCES = {"students": "students", "students-leaver": "leavers", "attendance/session": "attendance",
             "attendance-leavers/session": "leaver_attendance", "attendance-codes": "attendance_codes",
             "exclusions": "exclusions", "deletions": "deletions"}


@dataclass
class WondeSchool:
    wonde_id: str
    token: str
    source: SourceSchool


# ------------------------------------------------------------------------------------------ rendering


def _date_out(value: Any) -> Any:
    """A valid-looking ISO date becomes a PHP DateTime object (as Wonde sends); anything else as is."""
    if is_iso_date(value):
        return {"date": f"{value} 00:00:00.000000", "timezone_type": 3, "timezone": "Europe/London"}
    return value


def value_out(column: str, value: Any) -> Any:
    """A canonical value as Wonde writes it: sex as a gender, categories as types, dates as DateTimes."""
    if column == "sex":
        value = GENDER_OUT.get(value, value)
    elif column == "category":
        value = TYPE_OUT.get(value, value)
    return _date_out(value) if column in W.DATE_COLUMNS else value


@lru_cache(maxsize=4096)  # a school's records share a few change times (the dict is never changed)
def _stamp(when: datetime) -> dict:
    return {"date": when.strftime("%Y-%m-%d %H:%M:%S.000000"), "timezone_type": 3, "timezone": "Europe/London"}


def _range(start: date, end: date | None) -> dict:
    first, last = W.DATE_RANGE_FIELDS
    return {first: _date_out(start.isoformat()), last: _date_out(end.isoformat()) if end else None}


def date_ranges(row: dict, night: date) -> dict[str, dict]:
    """The date-range includes a student's flags give (``mapping.DATE_RANGE_INCLUDES``; shape GUESS).

    The source school holds flags, not periods, so the ranges are made up around ``night`` (the school's
    latest mark): true is a range open since about a year before it; FSM ever 6 without eligibility a range
    ended two years before it; false no range; a flag not supplied (or not readable) leaves the include out.
    Any night from two years before to four years after ``night`` gives the same flags back.

    A test gives a pupil exact ranges instead with ``source.change_pupil(upn, at=..., **{RANGES_KEY: {include
    name: [(start, end or None), ...]}})`` (ISO dates): those includes are served as given."""
    out: dict[str, dict] = {}
    given = row.get(RANGES_KEY) or {}
    year_before = open_since(night)
    eligible, ever6 = flag_given(row.get("fsm_eligible")), flag_given(row.get("fsm_ever6"))
    if eligible is not None and ever6 is not None:
        ranges = [_range(year_before, None)] if eligible else [_range(*ended_ever6(night))] if ever6 else []
        out[W.DATE_RANGE_INCLUDES["fsm"][0]] = {W.DATE_RANGE_ITEMS: ranges}
    for field in ("looked_after", "child_protection_plan"):
        value = flag_given(row.get(field))
        if value is not None:
            out[W.DATE_RANGE_INCLUDES[field][0]] = {W.DATE_RANGE_ITEMS: [_range(year_before, None)] if value else []}
    for include, spans in given.items():
        out[include] = {W.DATE_RANGE_ITEMS: [_range(date.fromisoformat(start), date.fromisoformat(end) if end else None)
                                             for start, end in spans]}
    return out


def student_id(laestab: str, pupil_key: str) -> str:
    return stable_id("A", laestab, "student", pupil_key)


def _student(school: SourceSchool, pupil, night: date) -> dict:
    student: dict[str, Any] = {"id": student_id(school.laestab, pupil.key),
                               "upi": hashlib.md5(f"{school.laestab}|{pupil.mis_id}".encode()).hexdigest(),
                               "mis_id": str(pupil.mis_id), "title": None, "initials": None,
                               "gender_identity": None, "restored_at": None, "updated_at": _stamp(pupil.updated),
                               "_updated": pupil.updated}
    for column, (path, _) in W.STUDENT_FIELDS.items():
        if column not in W.PREFERRED_OF:
            set_path(student, path, value_out(column, pupil.row.get(column)))
    for column, wonde_field in W.PREFERRED_OF.items():
        legal = W.STUDENT_FIELDS[column.replace("preferred_", "")][0]
        student[wonde_field] = pupil.row.get(column) or student.get(legal)
    student.update(date_ranges(pupil.row, night))
    return student


def code_id(laestab: str, code: str) -> str:
    return stable_id("AC", laestab, "code", code)


def render(school: SourceSchool) -> dict[str, list[dict]]:
    """Every Wonde list of one school (records carry ``_updated``/``_day`` for filtering, then dropped)."""
    lists: dict[str, list[dict]] = {k: [] for k in MAX_PER_PAGE}
    leaver_keys = set()
    night = periods_night(school)
    for pupil in school.pupils:
        (lists["leavers"] if pupil.is_leaver else lists["students"]).append(_student(school, pupil, night))
        if pupil.is_leaver:
            leaver_keys.add(pupil.key)
    for code in school.codes():
        lists["attendance_codes"].append({"id": code_id(school.laestab, code), "code": SIM_SUBCODES.get(code, code),
                                          "description": None, "_updated": school.clock})
    for mark in school.marks:
        # A mark for a pupil the MIS has no student record of cannot happen in Wonde; the simulator gives
        # it a stub student id so the connector's handling of an unknown student can be seen.
        sid = student_id(school.laestab, mark.pupil_key) if mark.pupil_key else \
            stable_id("A", school.laestab, "unknown", str(mark.upn))
        record = {"id": stable_id("S", school.laestab, mark.key), "student": sid, "date": _date_out(mark.date),
                  "session": mark.session, "attendance_code": code_id(school.laestab, mark.code) if mark.code else None,
                  "comment": None, "minutes_late": None, "updated_at": _stamp(mark.updated),
                  "_day": mark.date, "_updated": mark.updated}
        (lists["leaver_attendance"] if mark.pupil_key in leaver_keys else lists["attendance"]).append(record)
    for exclusion in school.exclusions:
        upn = exclusion.row.get("upn")
        sid = student_id(school.laestab, exclusion.pupil_key) if exclusion.pupil_key else \
            stable_id("A", school.laestab, "unknown", str(upn))
        record: dict[str, Any] = {"id": stable_id("E", school.laestab, exclusion.key),
                                  "student": {"data": {"id": sid, "education_details": {"data": {"upn": upn}}}},
                                  "updated_at": _stamp(exclusion.updated), "_updated": exclusion.updated}
        for column, (path, _) in W.EXCLUSION_FIELDS.items():
            if column != "upn":
                set_path(record, path, value_out(column, exclusion.row.get(column)))
        lists["exclusions"].append(record)
    for deletion in school.deletions:
        if deletion.kind == "pupil":  # only top-level objects are listed
            lists["deletions"].append({"type": "student", "id": student_id(school.laestab, deletion.key),
                                       "mis_id": str(deletion.mis_id), "deleted_at": _stamp(deletion.at),
                                       "restored_at": None, "_updated": deletion.at})
    return lists


# ------------------------------------------------------------------------------------------ the app


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _uncursor(token: str) -> int:
    padded = token + "=" * (-len(token) % 4)
    return int(json.loads(base64.urlsafe_b64decode(padded))["o"])


def _envelope(request: Request, endpoint: str, items: list[dict], includes: list[str]) -> dict:
    query = request.query_params
    per_page = max(1, min(int(query.get("per_page", DEFAULT_PER_PAGE)), MAX_PER_PAGE[endpoint]))
    cursor = query.get("cursor")
    if cursor and cursor != "true":
        offset = _uncursor(cursor)
    else:
        offset = (max(1, int(query.get("page", "1"))) - 1) * per_page
    chunk = items[offset:offset + per_page]
    more = offset + per_page < len(items)
    meta: dict[str, Any] = {"includes": includes}
    if cursor or "per_page" in query or "page" in query or len(items) > UNPAGINATED_MAX:
        nxt = None
        if more:
            nxt = str(request.url.include_query_params(cursor=_cursor(offset + per_page)) if cursor
                      else request.url.include_query_params(page=offset // per_page + 2))
        meta["pagination"] = {"next": nxt, "previous": None, "more": more, "per_page": per_page,
                              "current_page": offset // per_page + 1}
    return {"data": chunk, "meta": meta}


def _parse_updated_after(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.strip().replace(" ", "T"))


def _select(lists: dict[str, list[dict]], endpoint: str, includes: list[str], start: str | None, end: str | None,
            updated_after: datetime | None) -> list[dict]:
    items = [r for r in lists[endpoint] if updated_after is None or r["_updated"] > updated_after]
    if endpoint in ("students", "leavers"):
        left_out = set(W.STUDENT_INCLUDES) - set(includes)
        return [{k: v for k, v in public(s).items() if k not in left_out} for s in items]
    if endpoint in ("attendance", "leaver_attendance"):
        return [public(m) for m in items if in_range(m["_day"], start, end)]
    if endpoint == "exclusions" and "student.education_details" not in includes:
        return [{**public(e), "student": e["student"]["data"]["id"]} for e in items]
    return [public(r) for r in items]


def routes(sim: Simulator) -> list[Route]:
    async def school_resource(request: Request) -> Response:
        school_id = request.path_params["school_id"]
        resource = request.path_params["resource"].strip("/")
        return await sim.serve(ROUTE, school_id, resource, lambda fault: _respond(request, school_id,
                                                                                   RESOURCES.get(resource), fault))

    def _respond(request: Request, school_id: str, endpoint: str | None, fault: str | None) -> Response:
        school: WondeSchool | None = sim.school(ROUTE, school_id)
        if school is None or endpoint is None:
            return JSONResponse({"error": "not_found", "error_description": "Not found"}, status_code=404)
        if not same(bearer(request.headers), school.token):
            return JSONResponse({"error": "unauthenticated", "error_description": "Unauthenticated."},
                                status_code=401)
        if fault == "error-body":
            return JSONResponse({"error": "server_error", "error_description": "Something went wrong"},
                                status_code=500)
        includes = [i for i in request.query_params.get("include", "").split(",") if i]
        if endpoint in ("students", "leavers"):
            allowed = set(W.STUDENT_INCLUDES) | {"year", "registration"}
        elif endpoint == "exclusions":
            allowed = set(W.EXCLUSION_INCLUDES) | {"student"}
        else:
            allowed = set()
        if any(i not in allowed for i in includes):
            return JSONResponse({"error": "invalid_include", "error_description": "Invalid include."},
                                status_code=400)
        start, end = (request.query_params.get(p) for p in W.ATTENDANCE_RANGE_PARAMS)
        try:
            updated_after = _parse_updated_after(request.query_params.get(W.UPDATED_AFTER_PARAM))
        except ValueError:
            return JSONResponse({"error": "validation", "error_description": "updated_after is not a date"},
                                status_code=422)
        query = (endpoint, tuple(includes), start, end, updated_after)
        items = sim.selection(ROUTE, school_id, school.source, render, query,
                              lambda lists: _select(lists, endpoint, includes, start, end, updated_after))
        body = _envelope(request, endpoint, items, includes)
        if fault == "foreign" and body["meta"].get("pagination", {}).get("next"):
            body["meta"]["pagination"]["next"] = "https://foreign.invalid" + request.url.path + "?page=2"
        return JSONResponse(body)

    return [Route("/v1.0/schools/{school_id}/{resource:path}", school_resource)]


def register(sim: Simulator, school, source: SourceSchool, env) -> str:
    """Serve a registry school (``mis: wonde``) from ``source``; its token is read from ``env``."""
    school_id = str(school.source["school_id"])
    sim.add(ROUTE, school_id, WondeSchool(school_id, *secrets_of(school, env, "token_env"), source))
    return school_id


def demo_settings(laestab: str, base_url: str) -> tuple[dict, list[str]]:
    """Registry settings of a demo school on this route, and the names of its secret variables."""
    names = demo_secret_names(ROUTE, laestab)
    return {"school_id": f"A{laestab}", **names, "base_url": base_url, "rate_per_second": 0}, list(names.values())
