"""Pupil Asset's API as GUESSED in ``connectors/pupil_asset/mapping.py`` (Pupil Asset publishes
no API documentation), mounted at ``/pupil_asset``.

Nothing here is documented: every path, parameter, field and envelope comes from the mapping module, so
a real payload corrects the connector and this profile in one edit. The guessed shape:
``/api/v1/schools/{school_id}/{pupils|attendance/sessions|exclusions}``; an ``X-API-Key`` header;
``{"success": true, "data": [...]}``; ``page``/``limit`` page numbers with no count or link (a client
stops on a short page); ``status=all`` adds leavers to the pupils; ``from``/``to`` bound the marks;
``{"success": false, "error": "..."}`` with HTTP 200 for an error (the ``error-body`` fault). The
simulated MIS holds statutory X and I as the local sub-codes X01 and I01. ``foreign`` does not apply
(no next links) and ``expire-token`` neither (a static key).
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ncc_transfer.connectors.pupil_asset import mapping as M
from ncc_transfer.simulator.core import Simulator
from ncc_transfer.simulator.source import SourceSchool, stable_id

ROUTE = "pupil_asset"
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DEFAULT_LIMIT, MAX_LIMIT = 100, 5000  # [GUESS]
SIM_SUBCODES = {statutory: local for local, statutory in M.LOCAL_SUBCODES.items()}
GENDER_OUT = {sex: gender for gender, sex in M.GENDER.items()}
TYPE_OUT = {category: kind for kind, category in M.EXCLUSION_TYPE.items()}
RESOURCES = {path.strip("/"): name for name, (path, _) in M.ENDPOINTS.items()}


@dataclass
class PupilAssetSchool:
    school_id: str
    api_key: str
    source: SourceSchool


def pupil_id(laestab: str, key: str) -> int:
    return int(stable_id("", laestab, "pupil", key, digits=9))


def _pupil_ref(laestab: str, pupil_key: str | None, upn: str | None) -> int:
    """The pupil id a mark or exclusion carries; a stub id when the MIS has no such pupil record."""
    return pupil_id(laestab, pupil_key) if pupil_key else int(stable_id("", laestab, "unknown", str(upn), digits=9))


def render(school: SourceSchool) -> dict[str, list[dict]]:
    """Every list of one school (``_leaver``/``_day`` are for filtering and are dropped when served)."""
    lists: dict[str, list[dict]] = {name: [] for name in M.ENDPOINTS}
    for pupil in school.pupils:
        record: dict[str, Any] = {M.PUPIL_ID: pupil_id(school.laestab, pupil.key), "_leaver": pupil.is_leaver}
        for column, field in M.PUPIL_FIELDS.items():
            value = pupil.row.get(column)
            record[field] = GENDER_OUT.get(value, value) if column == "sex" else value
        lists["pupils"].append(record)
    for mark in school.marks:
        code = SIM_SUBCODES.get(mark.code, mark.code)
        values = {"date": mark.date, "session": mark.session, "code": code}
        record = {M.MARK_ID: int(stable_id("", school.laestab, "mark", mark.key, digits=12)),
                  M.MARK_PUPIL: _pupil_ref(school.laestab, mark.pupil_key, mark.upn), "_day": mark.date}
        record.update({field: values[column] for column, field in M.MARK_FIELDS.items()})
        lists["attendance"].append(record)
    for exclusion in school.exclusions:
        record = {M.EXCLUSION_ID: int(stable_id("", school.laestab, "exclusion", exclusion.key, digits=9)),
                  M.EXCLUSION_PUPIL: _pupil_ref(school.laestab, exclusion.pupil_key, exclusion.row.get("upn"))}
        for column, field in M.EXCLUSION_FIELDS.items():
            value = exclusion.row.get(column)
            record[field] = TYPE_OUT.get(value, value) if column == "category" else value
        lists["exclusions"].append(record)
    return lists


def _in_range(day: Any, start: str | None, end: str | None) -> bool:
    if not isinstance(day, str) or not ISO_DATE.match(day):
        return True  # [GUESS] a mark whose date cannot be compared is returned rather than hidden
    return (start is None or day >= start) and (end is None or day <= end)


def _select(lists: dict[str, list[dict]], endpoint: str, query: Any) -> list[dict]:
    items = lists[endpoint]
    if endpoint == "pupils" and query.get(M.PUPIL_STATUS_PARAM[0]) != M.PUPIL_STATUS_PARAM[1]:
        items = [p for p in items if not p["_leaver"]]
    if endpoint == "attendance":
        start, end = (query.get(p) for p in M.ATTENDANCE_RANGE_PARAMS)
        items = [m for m in items if _in_range(m["_day"], start, end)]
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in items]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({M.SUCCESS_KEY: False, M.ERROR_KEY: message}, status_code=status)


def routes(sim: Simulator) -> list[Route]:
    async def school_resource(request: Request) -> Response:
        school_id = request.path_params["school_id"]
        resource = request.path_params["resource"].strip("/")
        return await sim.serve(ROUTE, school_id, resource,
                               lambda fault: _respond(request, school_id, RESOURCES.get(resource), fault))

    def _respond(request: Request, school_id: str, endpoint: str | None, fault: str | None) -> Response:
        school: PupilAssetSchool | None = sim.school(ROUTE, school_id)
        if school is None or endpoint is None:
            return _error(404, "Not found")
        key = request.headers.get(M.API_KEY_HEADER, "")
        if not hmac.compare_digest(key.encode(), school.api_key.encode()):
            return _error(401, "Invalid API key")
        if fault == "error-body":
            return _error(200, "Something went wrong")
        query = request.query_params
        try:
            page = max(M.FIRST_PAGE, int(query.get(M.PAGE_PARAM, M.FIRST_PAGE)))
            limit = max(1, min(int(query.get(M.SIZE_PARAM, DEFAULT_LIMIT)), MAX_LIMIT))
        except ValueError:
            return _error(400, "page and limit must be numbers")
        cache_key = (ROUTE, school_id, school.source.revision, endpoint,
                     tuple(query.get(p) for p in (M.PUPIL_STATUS_PARAM[0], *M.ATTENDANCE_RANGE_PARAMS)))
        items = sim.cache.get(cache_key)
        if items is None:  # one selection per query and revision, reused by every page of it
            lists_key = (ROUTE, school_id, school.source.revision)
            lists = sim.cache.get(lists_key)
            if lists is None:
                lists = sim.cache[lists_key] = render(school.source)
            items = sim.cache[cache_key] = _select(lists, endpoint, query)
        offset = (page - M.FIRST_PAGE) * limit
        return JSONResponse({M.SUCCESS_KEY: True, M.ITEMS_KEY: items[offset:offset + limit]})

    return [Route(M.API_PREFIX + "/{resource:path}", school_resource)]


def register(sim: Simulator, school, source: SourceSchool, env) -> str:
    """Serve a registry school (``mis: pupil_asset``) from ``source``; its API key is read from ``env``."""
    school_id = str(school.source["school_id"])
    sim.add(ROUTE, school_id, PupilAssetSchool(school_id, env[school.source["api_key_env"]], source))
    return school_id


def demo_settings(laestab: str, base_url: str) -> tuple[dict, list[str]]:
    """Registry settings of a demo school on this route, and the names of its secret variables."""
    key_env = f"DEMO_PUPIL_ASSET_KEY_{laestab}"
    return {"school_id": f"PA{laestab}", "api_key_env": key_env, "base_url": base_url, "rate_per_second": 0}, [key_env]
