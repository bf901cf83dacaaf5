"""The simulator's Starlette app: the synthetic LA's schools served in Wonde's API shape.

Wonde (``shared/docs/mis_apis.md`` §2): base path ``/v1.0/schools/{wonde_school_id}/...``; a bearer
token per school; the ``{"data": [...], "meta": {"pagination": {next, previous, more, per_page,
current_page}}}`` envelope, with no pagination object for a short unpaginated list; ``?page=`` and
``?cursor=`` paging by following ``meta.pagination.next``; ``include=`` on students (an unsupported
include fails the whole request with ``400 invalid_include``). The field layout comes from
``connectors/wonde_mapping.py``, shared with the connector; every GUESS there is a guess here too:
the read shape of ``/attendance/session`` and of ``/attendance-codes``, the ``start_date``/``end_date``
range parameters, the exclusion fields, and the UPN/admission/leaving fields under ``education_details``.

The data is a school's files-route landing folder, read with the project's own ``read_school_folder``
(raw text, as the school supplied it) and rendered into Wonde JSON, so the Wonde route and the files
route can be compared record for record.

Faults are injected per school, consumed one per request in order: ``429`` (``Retry-After: 1``),
``429-no-retry-after``, ``503`` (``Retry-After: 1``), ``500``, ``html`` (a maintenance page with status
200), ``truncated`` (a page cut off mid-JSON), ``foreign`` (a next link to another host), ``slow``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..connectors import wonde_mapping as W
from ..files_route import read_school_folder

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DEFAULT_PER_PAGE = 50  # Wonde's default page size [3P]
UNPAGINATED_MAX = 50  # "with 50 or fewer results no pagination object is returned" [3P]
MAX_PER_PAGE = {"students": 200, "leavers": 200, "attendance": 1000, "leaver_attendance": 1000,
                "attendance_codes": 200, "exclusions": 200}  # [GUESS] Wonde sets a maximum per endpoint
SIM_SUBCODES = {"X": "X01"}  # the simulated MIS records statutory X as local sub-code X01
GENDER_OUT = {v: k for k, v in W.GENDER.items() if k in ("MALE", "FEMALE")} | {"U": "NOT_STATED"}
TYPE_OUT = {"SUSP": "FIXD", "PERM": "PERM", "LNCH": "LNCH"}
MAINTENANCE_PAGE = ("<!DOCTYPE html><html><head><title>Down for maintenance</title></head>"
                    "<body><h1>We'll be back soon</h1></body></html>")


@dataclass
class SimSchool:
    """One school as Wonde serves it: lists of JSON-ready records per endpoint."""

    wonde_id: str
    token: str
    students: list[dict] = field(default_factory=list)
    leavers: list[dict] = field(default_factory=list)
    attendance: list[dict] = field(default_factory=list)
    leaver_attendance: list[dict] = field(default_factory=list)
    attendance_codes: list[dict] = field(default_factory=list)
    exclusions: list[dict] = field(default_factory=list)


@dataclass
class Simulator:
    """The app's state: schools by Wonde id, pending faults per school, and a log of requests."""

    schools: dict[str, SimSchool]
    faults: dict[str, deque] = field(default_factory=dict)
    log: list[tuple[str, str, int]] = field(default_factory=list)  # (school id, endpoint, status)
    views: dict[tuple, list[dict]] = field(default_factory=dict, repr=False)  # selections per query

    def inject(self, school_id: str, faults: Iterable[str]) -> None:
        self.faults.setdefault(school_id, deque()).extend(faults)

    def requests_to(self, school_id: str) -> list[tuple[str, str, int]]:
        return [r for r in self.log if r[0] == school_id]


# ------------------------------------------------------------------------------------------ rendering


def _stable_id(prefix: str, *parts: str) -> str:
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return prefix + str(int(digest[:12], 16) % 10**10).zfill(10)


def _date_out(text: Any) -> Any:
    """A valid-looking ISO date becomes a PHP DateTime object (as Wonde sends); anything else as is."""
    if isinstance(text, str) and ISO_DATE.match(text):
        return {"date": f"{text} 00:00:00.000000", "timezone_type": 3, "timezone": "Europe/London"}
    return text


def _set(target: dict, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def _student(row: dict, wonde_id: str, mis_id: int, laestab: str) -> dict:
    sid = _stable_id("A", laestab, "student", str(mis_id))
    student: dict[str, Any] = {"id": sid, "upi": hashlib.md5(f"{laestab}|{mis_id}".encode()).hexdigest(),
                               "mis_id": str(mis_id), "title": None, "initials": None,
                               "gender_identity": None, "restored_at": None}
    for column, (path, _) in W.STUDENT_FIELDS.items():
        if column in W.PREFERRED_OF:
            continue
        value = _text(row.get(column))
        if column == "sex":
            value = GENDER_OUT.get(value, value)
        if column in W.DATE_COLUMNS:
            value = _date_out(value)
        _set(student, path, value)
    for column, wonde_field in W.PREFERRED_OF.items():
        legal = W.STUDENT_FIELDS[column.replace("preferred_", "")][0]
        student[wonde_field] = _text(row.get(column)) or student.get(legal)
    return student


def wonde_school_from_folder(folder: Path, laestab: str, wonde_id: str, token: str) -> SimSchool:
    """Render a landing folder (read by the files route) as Wonde serves the same school."""
    raw = read_school_folder(Path(folder), laestab)
    school = SimSchool(wonde_id=wonde_id, token=token)
    upn_to_id: dict[str, str] = {}
    leaver_ids: set[str] = set()
    for mis_id, row in enumerate(raw.tables["pupils"].to_dict("records"), start=1):
        student = _student(row, wonde_id, mis_id, laestab)
        upn = _text(row.get("upn"))
        if upn is not None:
            upn_to_id.setdefault(upn, student["id"])
        if _text(row.get("leaving_date")):
            school.leavers.append(student)
            leaver_ids.add(student["id"])
        else:
            school.students.append(student)

    marks = raw.tables["attendance"]
    code_ids: dict[str, str] = {}
    for code in sorted({c for c in marks["code"].dropna().unique()}):
        code_ids[code] = _stable_id("AC", laestab, "code", code)
        school.attendance_codes.append({"id": code_ids[code], "code": SIM_SUBCODES.get(code, code),
                                        "description": None})
    for n, (upn, day, session, code) in enumerate(marks[["upn", "date", "session", "code"]].itertuples(index=False)):
        upn, code = _text(upn), _text(code)
        # A mark for a pupil the MIS has no student record of cannot happen in Wonde; the simulator gives
        # it a stub student id so the connector's handling of an unknown student can be seen.
        sid = upn_to_id.get(upn) if upn is not None else None
        sid = sid or _stable_id("A", laestab, "unknown", str(upn))
        record = {"id": _stable_id("S", laestab, str(n)), "student": sid, "date": _date_out(_text(day)),
                  "session": _text(session), "attendance_code": code_ids.get(code) if code else None,
                  "comment": None, "minutes_late": None, "_day": _text(day)}
        (school.leaver_attendance if sid in leaver_ids else school.attendance).append(record)

    for n, row in enumerate(raw.tables["exclusions"].to_dict("records"), start=1):
        upn = _text(row.get("upn"))
        sid = upn_to_id.get(upn) or _stable_id("A", laestab, "unknown", str(upn))
        record: dict[str, Any] = {"id": _stable_id("E", laestab, str(n)),
                                  "student": {"data": {"id": sid, "education_details": {"data": {"upn": upn}}}}}
        for column, (path, _) in W.EXCLUSION_FIELDS.items():
            if column == "upn":
                continue
            value = _text(row.get(column))
            if column == "category":
                value = TYPE_OUT.get(value, value)
            if column in W.DATE_COLUMNS:
                value = _date_out(value)
            _set(record, path, value)
        school.exclusions.append(record)
    return school


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


def _without(record: dict, keep: set[str], optional: tuple[str, ...]) -> dict:
    return {k: v for k, v in record.items() if not k.startswith("_") and (k not in optional or k in keep)}


def _in_range(record: dict, start: str | None, end: str | None) -> bool:
    day = record.get("_day")
    if not isinstance(day, str) or not ISO_DATE.match(day):
        return True  # [GUESS] a mark whose date cannot be compared is returned rather than hidden
    return (start is None or day >= start) and (end is None or day <= end)


def _select(school: SimSchool, endpoint: str, includes: list[str], start: str | None, end: str | None) -> list[dict]:
    items: list[dict] = getattr(school, endpoint)
    if endpoint in ("students", "leavers"):
        return [_without(s, set(includes), W.STUDENT_INCLUDES) for s in items]
    if endpoint in ("attendance", "leaver_attendance"):
        return [_without(m, set(), ()) for m in items if _in_range(m, start, end)]
    if endpoint == "exclusions" and "student.education_details" not in includes:
        return [{**e, "student": e["student"]["data"]["id"]} for e in items]
    return items


RESOURCES = {"students": "students", "students-leaver": "leavers", "attendance/session": "attendance",
             "attendance-leavers/session": "leaver_attendance", "attendance-codes": "attendance_codes",
             "exclusions": "exclusions"}


def create_app(sim: Simulator) -> Starlette:
    """The Starlette app serving ``sim``'s schools; ``app.state.sim`` is the simulator."""

    async def school_resource(request: Request) -> Response:
        school_id = request.path_params["school_id"]
        resource = request.path_params["resource"].strip("/")
        endpoint = RESOURCES.get(resource)
        response = await _respond(request, school_id, endpoint)
        sim.log.append((school_id, resource, response.status_code))
        return response

    async def _respond(request: Request, school_id: str, endpoint: str | None) -> Response:
        school = sim.schools.get(school_id)
        if school is None or endpoint is None:
            return JSONResponse({"error": "not_found", "error_description": "Not found"}, status_code=404)
        pending = sim.faults.get(school_id)
        fault = pending.popleft() if pending else None
        if fault in ("429", "503", "500", "429-no-retry-after"):
            headers = {"Retry-After": "1"} if fault in ("429", "503") else {}
            return JSONResponse({"error": "unavailable"}, status_code=int(fault[:3]), headers=headers)
        if fault == "html":
            return HTMLResponse(MAINTENANCE_PAGE, status_code=200)
        if fault == "slow":
            await asyncio.sleep(2)
        supplied = request.headers.get("authorization", "")
        if not hmac.compare_digest(supplied.encode(), f"Bearer {school.token}".encode()):
            return JSONResponse({"error": "unauthenticated", "error_description": "Unauthenticated."},
                                status_code=401)
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
        key = (school_id, endpoint, tuple(includes), start, end)
        items = sim.views.get(key)
        if items is None:  # one selection per query, reused by every page of it
            items = sim.views[key] = _select(school, endpoint, includes, start, end)
        body = _envelope(request, endpoint, items, includes)
        if fault == "foreign" and body["meta"].get("pagination", {}).get("next"):
            body["meta"]["pagination"]["next"] = "https://foreign.invalid" + request.url.path + "?page=2"
        if fault == "truncated":
            text = json.dumps(body)
            return Response(text[: len(text) // 2], media_type="application/json")
        return JSONResponse(body)

    app = Starlette(routes=[Route("/v1.0/schools/{school_id}/{resource:path}", school_resource)])
    app.state.sim = sim
    return app
