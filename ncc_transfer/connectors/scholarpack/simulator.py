"""ScholarPack's API shape, mounted at ``/scholarpack``. Source:
https://support.scholarpack.com/hc/en-gb/articles/6173665308189-For-Data-Integrators-About-the-ScholarPack-API.

* ``POST /oauth2/token/``: the refresh-token grant (form body ``grant_type=refresh_token``,
  ``refresh_token``, ``client_id``, ``client_secret``). Every use ROTATES the refresh token: the answer
  carries a new ``refresh_token`` and the one used is dead from then on (``400 invalid_grant``), as is
  every token issued before a re-authorisation (``reauthorise``). A wrong client id or secret is
  ``401 invalid_client``. The school is known by its refresh token (a ScholarPack school has no id in
  the URL: the authorisation is the school).
* ``GET /api/v1/students/``, ``/students/register/``, ``/students/register/historic/``,
  ``/students/exclusions/``, ``/students/sen/`` and ``/students/lac/`` (scopes ``sen:read``, ``lac:read``) with ``Authorization: Bearer <access token>`` (the token is the school);
  the ``{"has_next", "has_prev", "next_num", "page", "pages", "per_page", "prev_num", "next_uri",
  "prev_uri", "data"}`` envelope with ``?page=``/``?per_page=`` (Flask-SQLAlchemy style: a page past the
  last is a 404) and ABSOLUTE ``next_uri``/``prev_uri``. A token without an endpoint's scope is a 403.

The field layout comes from ``connectors/scholarpack/mapping.py``, shared with the connector; every GUESS
there is a guess here too (all record field names, the token path, rotation, ``include_former`` for
former students, ``from_date``/``to_date`` for register ranges, the SEN and LAC records, the error bodies). The simulated MIS
records statutory ``I`` as the local sub-code ``I01``.

Faults: requests are logged and given faults under the school id (the registry laestab); the token
endpoint's requests under ``token_key(school_id)`` (so a test can aim a fault at the data or at the
token endpoint). ``foreign`` puts ``next_uri`` on another host; ``error-body`` is a plain 500 with a
Flask-style ``{"error", "message"}`` body (no error-in-a-200 shape is known for ScholarPack);
``expire-token`` revokes the school's access tokens, so the request gets a 401.
"""

from __future__ import annotations

import math
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ncc_transfer.connectors.scholarpack import mapping as S
from ncc_transfer.simulator.core import REFUSED, RETRIED, FaultHandling, Simulator
from ncc_transfer.simulator.credentials import bearer, demo_secret_names, form, same, secrets_of
from ncc_transfer.simulator.records import flag_out, listed, public, set_path, whole_number
from ncc_transfer.simulator.source import SourceSchool

ROUTE = "scholarpack"
# error-body: a plain 500, retried; next links to another host refused; access tokens expire
FAULT_HANDLING = FaultHandling(error_body=RETRIED, foreign=REFUSED)
MAX_PER_PAGE = {"students": 100, "register": 1000, "historic_register": 1000, "exclusions": 100,
                "sen": 100, "lac": 100}  # [GUESS]
SIM_SUBCODES = {"I": "I01"}  # the simulated MIS records statutory I as local sub-code I01
TYPE_OUT = {"SUSP": "FIXD", "PERM": "PERM", "LNCH": "LNCH"}
RESOURCES = {path.strip("/"): name for name, (path, _, _) in S.ENDPOINTS.items()}
_UUIDS = uuid.UUID("0b5c6a1e-5c1d-4f57-9d4e-5c40a1a5e001")  # namespace of the simulated student uuids


@dataclass
class ScholarPackSchool:
    school_id: str
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)  # the live one
    source: SourceSchool = field(repr=False)
    scopes: tuple[str, ...] = S.SCOPES
    spent: list[str] = field(default_factory=list, repr=False)  # used or withdrawn refresh tokens
    access: list[str] = field(default_factory=list, repr=False)  # every access token issued


def token_key(school_id: str) -> str:
    """The key the token endpoint's requests are logged and given faults under."""
    return f"{school_id}/oauth2"


def reauthorise(sim: Simulator, school_id: str) -> str:
    """A school admin authorises the app again: every earlier token dies; returns the new refresh token."""
    school: ScholarPackSchool = sim.school(ROUTE, school_id)
    school.spent.append(school.refresh_token)
    school.refresh_token = secrets.token_urlsafe(32)
    sim.revoke(ROUTE, school_id)
    return school.refresh_token


def live_refresh_token(sim: Simulator, school_id: str) -> str:
    return sim.school(ROUTE, school_id).refresh_token


# ------------------------------------------------------------------------------------------ rendering


def student_uuid(laestab: str, pupil_key: str) -> str:
    return str(uuid.uuid5(_UUIDS, f"{laestab}|{pupil_key}"))


def _student(school: SourceSchool, pupil) -> dict:
    record: dict[str, Any] = {S.STUDENT_ID: student_uuid(school.laestab, pupil.key), "_former": pupil.is_leaver}
    for column, (path, _) in S.STUDENT_FIELDS.items():
        value = pupil.row.get(column)
        if column in S.PREFERRED_OF:  # always filled: the legal name when none is set [GUESS]
            value = value or pupil.row.get(S.PREFERRED_OF[column])
        set_path(record, path, value)
    return record


def _exclusion(school: SourceSchool, exclusion) -> dict:
    row = exclusion.row
    owner = exclusion.pupil_key or f"unknown:{row.get('upn')}"
    record: dict[str, Any] = {S.EXCLUSION_FIELDS["student"][0]: student_uuid(school.laestab, owner)}
    for column, (name, _) in S.EXCLUSION_FIELDS.items():
        if column == "student":
            continue
        value = row.get(column)
        if column == "category":
            value = TYPE_OUT.get(value, value)
        record[name] = whole_number(value) if column == "sessions" else value
    record[S.EXCLUSION_REASONS[0]] = listed(row.get(c) for c in S.REASON_COLUMNS)
    return record


def render(school: SourceSchool) -> dict[str, list[dict]]:
    """Every ScholarPack list of one school (records carry ``_former``/``_day`` for filtering, then dropped)."""
    lists: dict[str, list[dict]] = {name: [] for name in S.ENDPOINTS}
    former = set()
    for pupil in school.pupils:
        lists["students"].append(_student(school, pupil))
        if pupil.is_leaver:
            former.add(pupil.key)
    fields = {c: f for c, (f, _) in S.REGISTER_FIELDS.items()}
    uuids = {p.key: student_uuid(school.laestab, p.key) for p in school.pupils}
    for mark in school.marks:
        # A mark whose UPN matches no pupil cannot happen in ScholarPack; it gets a stub student uuid so
        # the connector's handling of an unknown student can be seen.
        owner = mark.pupil_key or f"unknown:{mark.upn}"
        sid = uuids.get(owner) or student_uuid(school.laestab, owner)
        record = {fields["student"]: sid, fields["date"]: mark.date,
                  fields["session"]: mark.session, fields["code"]: SIM_SUBCODES.get(mark.code, mark.code),
                  "_day": mark.date}
        lists["historic_register" if mark.pupil_key in former else "register"].append(record)
    lists["exclusions"] = [_exclusion(school, e) for e in school.exclusions]
    for endpoint, (column, name, _) in S.COHORT_ENDPOINTS.items():  # a record where the MIS holds a value
        lists[endpoint] = [{S.STUDENT_ID: uuids[p.key], name: flag_out(value) if column in S.COHORT_FLAGS else value}
                           for p in school.pupils if (value := p.row.get(column)) is not None]
    return lists


def _in_range(record: dict, start: str | None, end: str | None) -> bool:
    day = record.get("_day")
    if not isinstance(day, str) or len(day) != 10:
        return True  # [GUESS] a mark whose date cannot be compared is returned rather than hidden
    return (not start or day >= start) and (not end or day <= end)


def _select(lists: dict[str, list[dict]], endpoint: str, former: bool, start: str | None, end: str | None
            ) -> list[dict]:
    if endpoint == "students":
        return [public(s) for s in lists[endpoint] if former or not s["_former"]]
    if endpoint in ("register", "historic_register"):
        return [public(m) for m in lists[endpoint] if _in_range(m, start, end)]
    return [public(r) for r in lists[endpoint]]


def _envelope(request: Request, items: list[dict], page: int, per_page: int) -> dict:
    """Flask-SQLAlchemy's pagination, as ScholarPack shows it [DOC], with absolute page URIs."""
    pages = math.ceil(len(items) / per_page) if items else 0
    has_next, has_prev = page < pages, page > 1
    return {"has_next": has_next, "has_prev": has_prev, "next_num": page + 1 if has_next else None,
            "page": page, "pages": pages, "per_page": per_page, "prev_num": page - 1 if has_prev else None,
            "next_uri": str(request.url.include_query_params(page=page + 1)) if has_next else None,
            "prev_uri": str(request.url.include_query_params(page=page - 1)) if has_prev else None,
            "data": items[(page - 1) * per_page: page * per_page]}


def _error(status: int, error: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status, headers=headers or None)


# ------------------------------------------------------------------------------------------ the app


def routes(sim: Simulator) -> list[Route]:
    async def token(request: Request) -> Response:
        fields = await form(request, keep_blank_values=True)
        offered = fields.get("refresh_token", "")
        school = sim.school_where(ROUTE, lambda s: any(same(offered, t) for t in (s.refresh_token, *s.spent)))
        key = token_key(school.school_id if school else "")
        return await sim.serve(ROUTE, key, "oauth2/token", lambda fault: _grant(school, fields, fault))

    def _grant(school: ScholarPackSchool | None, fields: dict[str, str], fault: str | None) -> Response:
        if fault == "error-body":
            return _error(500, "server_error", "The server encountered an internal error.")
        if fields.get("grant_type") != "refresh_token":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if school is None:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if not (same(fields.get("client_id", ""), school.client_id)
                and same(fields.get("client_secret", ""), school.client_secret)):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if not same(fields.get("refresh_token", ""), school.refresh_token):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)  # spent or withdrawn
        school.spent.append(school.refresh_token)
        school.refresh_token = secrets.token_urlsafe(32)  # rotation: the old one is dead from now on
        access, ttl = sim.issue_token(ROUTE, school.school_id)
        school.access.append(access)
        return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": int(ttl),
                             "refresh_token": school.refresh_token, "scope": " ".join(school.scopes)},
                            headers={"Cache-Control": "no-store"})

    async def resource(request: Request) -> Response:
        offered = bearer(request.headers)
        school = sim.school_where(ROUTE, lambda s: bool(offered) and any(same(offered, t) for t in s.access))
        name = request.path_params["resource"].strip("/")
        return await sim.serve(ROUTE, school.school_id if school else "", name,
                               lambda fault: _respond(request, school, offered, RESOURCES.get(name), fault))

    def _respond(request: Request, school: ScholarPackSchool | None, offered: str, endpoint: str | None,
                 fault: str | None) -> Response:
        if school is None or sim.token_school(ROUTE, offered) != school.school_id:
            return _error(401, "invalid_token", "The access token is invalid or has expired.",
                          **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if endpoint is None:
            return _error(404, "Not Found", "The requested URL was not found on the server.")
        if S.ENDPOINTS[endpoint][1] not in school.scopes:
            return _error(403, "insufficient_scope", "The access token lacks a scope this resource needs.")
        if fault == "error-body":
            return _error(500, "Internal Server Error", "The server encountered an internal error.")
        query = request.query_params
        try:
            page = int(query.get(S.PAGE_PARAM, "1"))
            per_page = min(int(query.get(S.PER_PAGE_PARAM, S.DEFAULT_PER_PAGE)), MAX_PER_PAGE[endpoint])
        except ValueError:
            return _error(400, "Bad Request", "page and per_page must be whole numbers.")
        if page < 1 or per_page < 1:
            return _error(404, "Not Found", "The requested URL was not found on the server.")
        name, value = S.FORMER_STUDENTS_PARAM
        former = query.get(name) == value
        start, end = (query.get(p) for p in S.REGISTER_RANGE_PARAMS)
        items = sim.selection(ROUTE, school.school_id, school.source, render, (endpoint, former, start, end),
                              lambda lists: _select(lists, endpoint, former, start, end))
        body = _envelope(request, items, page, per_page)
        if page > max(body["pages"], 1):
            return _error(404, "Not Found", "The requested URL was not found on the server.")
        if fault == "foreign" and body["next_uri"]:
            body["next_uri"] = "https://foreign.invalid" + request.url.path + f"?page={page + 1}"
        return JSONResponse(body)

    return [Route(S.TOKEN_PATH, token, methods=["POST"]),
            Route(S.API_PREFIX + "/{resource:path}", resource)]


def register(sim: Simulator, school, source: SourceSchool, env) -> str:
    """Serve a registry school (``mis: scholarpack``) from ``source``. Its client credentials and the
    refresh token a school admin's authorisation gave are read from ``env`` by the names in the
    registry. Returns the simulator's id for the school (its laestab)."""
    school_id = str(school.laestab)
    credentials = secrets_of(school, env, "client_id_env", "client_secret_env", "refresh_token_env")
    sim.add(ROUTE, school_id, ScholarPackSchool(school_id, *credentials, source))
    return school_id


def demo_settings(laestab: str, base_url: str) -> tuple[dict, list[str]]:
    """Registry settings of a demo school on this route (``base_url`` is the profile's mount), and the
    names of its secret variables. The token URL follows from the base URL (``/oauth2/token/`` beside
    ``/api/v1``)."""
    names = demo_secret_names(ROUTE, laestab)
    return {**names, "base_url": base_url.rstrip("/") + S.API_PREFIX, "rate_per_second": 0}, list(names.values())
