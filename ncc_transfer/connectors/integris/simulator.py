"""RM Integris's API as GUESSED in ``connectors/integris/mapping.py`` (RM publishes no
API documentation), mounted at ``/integris``.

Nothing here is documented: every path, parameter, field and envelope comes from the mapping module, so
a real payload corrects the connector and this profile in one edit. The guessed shape: an OAuth2
client-credentials token endpoint at ``/oauth/token`` (form body; ``{"access_token", "token_type",
"expires_in"}``; a wrong client or secret is ``401 invalid_client``); bearer tokens on
``/api/v1/schools/{school_id}/{students|attendance|exclusions}``; ``{"items": [...], "page": n,
"pageSize": s, "totalPages": t, "totalCount": c}`` page counts; ``includeLeavers=true`` adds leavers;
``fromDate``/``toDate`` bound the marks; dates as ``YYYY-MM-DDT00:00:00``. The simulated MIS holds
statutory X and G as the local sub-codes X01 and G01.

Faults: the token endpoint goes through ``sim.serve`` under the school its client belongs to, so a
school's faults apply to its token requests too (the first request of every fetch). ``expire-token``
revokes the school's tokens: the next data request gets a 401. ``error-body`` is a plain 500 (no
error-in-a-200 shape is known for Integris); ``foreign`` does not apply (no next links).
"""

from __future__ import annotations

import hmac
import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ncc_transfer.connectors.integris import mapping as M
from ncc_transfer.simulator.core import Simulator, bearer
from ncc_transfer.simulator.source import SourceSchool, stable_id

ROUTE = "integris"
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 100, 5000  # [GUESS]
SIM_SUBCODES = {statutory: local for local, statutory in M.LOCAL_SUBCODES.items()}
TYPE_OUT = {category: kind for kind, category in M.EXCLUSION_TYPE.items()}
RESOURCES = {path.strip("/"): name for name, (path, _) in M.ENDPOINTS.items()}


@dataclass
class IntegrisSchool:
    school_id: str
    client_id: str
    client_secret: str
    source: SourceSchool


# ------------------------------------------------------------------------------------------ rendering


def _date_out(value: Any) -> Any:
    """A valid-looking ISO date gets a midnight time (GUESS: a .NET habit); anything else as is."""
    return f"{value}T00:00:00" if isinstance(value, str) and ISO_DATE.match(value) else value


def _set(target: dict, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def student_id(laestab: str, key: str) -> str:
    return stable_id("STU", laestab, "student", key, digits=9)


def _student_ref(laestab: str, pupil_key: str | None, upn: str | None) -> str:
    """The student id a mark or exclusion carries; a stub id when the MIS has no such student record."""
    return student_id(laestab, pupil_key) if pupil_key else stable_id("STU", laestab, "unknown", str(upn), digits=9)


def _record(row: dict, fields: dict[str, str], **extra: Any) -> dict:
    record = dict(extra)
    for column, path in fields.items():
        value = row.get(column)
        _set(record, path, _date_out(value) if column in M.DATE_COLUMNS else value)
    return record


def render(school: SourceSchool) -> dict[str, list[dict]]:
    """Every list of one school (``_leaver``/``_day`` are for filtering and are dropped when served)."""
    laestab = school.laestab
    lists: dict[str, list[dict]] = {name: [] for name in M.ENDPOINTS}
    for pupil in school.pupils:
        lists["students"].append(_record(pupil.row, M.STUDENT_FIELDS, **{
            M.STUDENT_ID: student_id(laestab, pupil.key), "_leaver": pupil.is_leaver}))
    for mark in school.marks:
        row = {"date": mark.date, "session": mark.session, "code": SIM_SUBCODES.get(mark.code, mark.code)}
        lists["attendance"].append(_record(row, M.MARK_FIELDS, **{
            M.MARK_ID: int(stable_id("", laestab, "mark", mark.key, digits=12)),
            M.MARK_STUDENT: _student_ref(laestab, mark.pupil_key, mark.upn), "_day": mark.date}))
    for exclusion in school.exclusions:
        row = dict(exclusion.row)
        row["category"] = TYPE_OUT.get(row.get("category"), row.get("category"))
        lists["exclusions"].append(_record(row, M.EXCLUSION_FIELDS, **{
            M.EXCLUSION_ID: int(stable_id("", laestab, "exclusion", exclusion.key, digits=9)),
            M.EXCLUSION_STUDENT: _student_ref(laestab, exclusion.pupil_key, row.get("upn"))}))
    return lists


def _in_range(day: Any, start: str | None, end: str | None) -> bool:
    if not isinstance(day, str) or not ISO_DATE.match(day):
        return True  # [GUESS] a mark whose date cannot be compared is returned rather than hidden
    return (start is None or day >= start) and (end is None or day <= end)


def _select(lists: dict[str, list[dict]], endpoint: str, query: Any) -> list[dict]:
    items = lists[endpoint]
    if endpoint == "students" and query.get(M.LEAVERS_PARAM[0]) != M.LEAVERS_PARAM[1]:
        items = [s for s in items if not s["_leaver"]]
    if endpoint == "attendance":
        start, end = (query.get(p) for p in M.ATTENDANCE_RANGE_PARAMS)
        items = [m for m in items if _in_range(m["_day"], start, end)]
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in items]


# ------------------------------------------------------------------------------------------ the app


def routes(sim: Simulator) -> list[Route]:
    def by_client(client_id: str) -> IntegrisSchool | None:
        for school in sim.schools.get(ROUTE, {}).values():
            if hmac.compare_digest(school.client_id.encode(), client_id.encode()):
                return school
        return None

    async def token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        school = by_client(form.get("client_id", ""))
        school_id = school.school_id if school else ""
        return await sim.serve(ROUTE, school_id, M.TOKEN_PATH.strip("/"), lambda fault: _token(school, form))

    def _token(school: IntegrisSchool | None, form: dict[str, str]) -> Response:
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        secret = form.get("client_secret", "")
        if school is None or not hmac.compare_digest(secret.encode(), school.client_secret.encode()):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        issued, ttl = sim.issue_token(ROUTE, school.school_id)
        return JSONResponse({"access_token": issued, "token_type": "Bearer", "expires_in": int(ttl)})

    async def school_resource(request: Request) -> Response:
        school_id = request.path_params["school_id"]
        resource = request.path_params["resource"].strip("/")
        return await sim.serve(ROUTE, school_id, resource,
                               lambda fault: _respond(request, school_id, RESOURCES.get(resource), fault))

    def _respond(request: Request, school_id: str, endpoint: str | None, fault: str | None) -> Response:
        school: IntegrisSchool | None = sim.school(ROUTE, school_id)
        if school is None or endpoint is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        if sim.token_school(ROUTE, bearer(request.headers)) != school_id:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        if fault == "error-body":  # no error-in-a-200 shape is known: a plain 500
            return JSONResponse({"error": "server_error"}, status_code=500)
        query = request.query_params
        try:
            page = max(M.FIRST_PAGE, int(query.get(M.PAGE_PARAM, M.FIRST_PAGE)))
            size = max(1, min(int(query.get(M.SIZE_PARAM, DEFAULT_PAGE_SIZE)), MAX_PAGE_SIZE))
        except ValueError:
            return JSONResponse({"error": "invalid_paging"}, status_code=400)
        cache_key = (ROUTE, school_id, school.source.revision, endpoint,
                     tuple(query.get(p) for p in (M.LEAVERS_PARAM[0], *M.ATTENDANCE_RANGE_PARAMS)))
        items = sim.cache.get(cache_key)
        if items is None:  # one selection per query and revision, reused by every page of it
            lists_key = (ROUTE, school_id, school.source.revision)
            lists = sim.cache.get(lists_key)
            if lists is None:
                lists = sim.cache[lists_key] = render(school.source)
            items = sim.cache[cache_key] = _select(lists, endpoint, query)
        offset = (page - M.FIRST_PAGE) * size
        return JSONResponse({M.ITEMS_KEY: items[offset:offset + size], "page": page, "pageSize": size,
                             M.TOTAL_PAGES_KEY: max(1, math.ceil(len(items) / size)), "totalCount": len(items)})

    return [Route(M.TOKEN_PATH, token, methods=["POST"]),
            Route(M.API_PREFIX + "/{resource:path}", school_resource)]


def register(sim: Simulator, school, source: SourceSchool, env) -> str:
    """Serve a registry school (``mis: integris``) from ``source``; its client id and secret are read from
    ``env`` by the names in the registry."""
    school_id = str(school.source["school_id"])
    sim.add(ROUTE, school_id, IntegrisSchool(school_id, env[school.source["client_id_env"]],
                                             env[school.source["client_secret_env"]], source))
    return school_id


def demo_settings(laestab: str, base_url: str) -> tuple[dict, list[str]]:
    """Registry settings of a demo school on this route, and the names of its secret variables."""
    id_env, secret_env = f"DEMO_INTEGRIS_CLIENT_ID_{laestab}", f"DEMO_INTEGRIS_CLIENT_SECRET_{laestab}"
    return {"school_id": f"IG{laestab}", "client_id_env": id_env, "client_secret_env": secret_env,
            "base_url": base_url, "rate_per_second": 0}, [id_env, secret_env]
