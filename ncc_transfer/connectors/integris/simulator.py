"""RM Integris's API as GUESSED in ``connectors/integris/mapping.py`` (RM publishes no
API documentation), mounted at ``/integris``.

Nothing here is documented: every path, parameter, field and envelope comes from the mapping module, so
a real payload corrects the connector and this profile in one edit; the lists are served by
``simulator/lists_api.py``. The guessed shape: an OAuth2 client-credentials token endpoint at
``/oauth/token`` (form body; ``{"access_token", "token_type", "expires_in"}``; a wrong client or secret
is ``401 invalid_client``); bearer tokens on
``/api/v1/schools/{school_id}/{students|attendance|exclusions}``; ``{"items": [...], "page": n,
"pageSize": s, "totalPages": t, "totalCount": c}`` page counts; ``includeLeavers=true`` adds leavers;
``fromDate``/``toDate`` bound the marks; dates as ``YYYY-MM-DDT00:00:00``. The simulated MIS holds
statutory X and G as the local sub-codes X01 and G01; the cohort flags go as ``Y``/``N``.

Faults: the token endpoint goes through ``sim.serve`` under the school its client belongs to, so a
school's faults apply to its token requests too (the first request of every fetch). ``expire-token``
revokes the school's tokens: the next data request gets a 401. ``error-body`` is a plain 500 (no
error-in-a-200 shape is known for Integris); ``foreign`` does not apply (no next links).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ncc_transfer.connectors.integris import mapping as M
from ncc_transfer.simulator.core import RETRIED, FaultHandling, Simulator
from ncc_transfer.simulator.credentials import bearer, demo_secret_names, form, same, secrets_of
from ncc_transfer.simulator.lists_api import ListsApi
from ncc_transfer.simulator.records import flag_out, is_iso_date
from ncc_transfer.simulator.source import SourceSchool, stable_id

ROUTE = "integris"
# the token request comes first (an expire-token there passes harmlessly); error-body: a plain 500, retried
FAULT_HANDLING = FaultHandling(lead=("expire-token",), error_body=RETRIED)


@dataclass
class IntegrisSchool:
    school_id: str
    client_id: str
    client_secret: str
    source: SourceSchool


def pupil_id(laestab: str, *parts: str) -> str:
    return stable_id("STU", laestab, *parts, digits=9)


def value_out(column: str, value: Any) -> Any:
    """A valid-looking ISO date gets a midnight time (GUESS: a .NET habit); a cohort flag goes as ``Y``/``N``
    (``FLAG_TEXT``; text that is not a flag as supplied, for validation to report); anything else as is."""
    if column in M.COHORT_FLAGS:
        flag = flag_out(value)
        return M.FLAG_TEXT[flag] if isinstance(flag, bool) else flag
    return f"{value}T00:00:00" if column in M.DATE_COLUMNS and is_iso_date(value) else value


def envelope(items: list[dict], page: int, size: int, total: int) -> dict:
    return {M.ITEMS_KEY: items, "page": page, "pageSize": size, M.TOTAL_PAGES_KEY: max(1, math.ceil(total / size)),
            "totalCount": total}


API = ListsApi(
    ROUTE, M, pupil_id, value_out, envelope=envelope,
    authorised=lambda sim, request, school: sim.token_school(ROUTE, bearer(request.headers)) == school.school_id,
    errors={"not_found": (404, {"error": "not_found"}), "refused": (401, {"error": "invalid_token"}),
            "error-body": (500, {"error": "server_error"}),  # no error-in-a-200 shape is known: a plain 500
            "bad_paging": (400, {"error": "invalid_paging"})})


def routes(sim: Simulator) -> list[Route]:
    async def token(request: Request) -> Response:
        fields = await form(request)
        school = sim.school_where(ROUTE, lambda s: same(fields.get("client_id", ""), s.client_id))
        school_id = school.school_id if school else ""
        return await sim.serve(ROUTE, school_id, M.TOKEN_PATH.strip("/"), lambda fault: _token(school, fields))

    def _token(school: IntegrisSchool | None, fields: dict[str, str]) -> Response:
        if fields.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        if school is None or not same(fields.get("client_secret", ""), school.client_secret):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        issued, ttl = sim.issue_token(ROUTE, school.school_id)
        return JSONResponse({"access_token": issued, "token_type": "Bearer", "expires_in": int(ttl)})

    return [Route(M.TOKEN_PATH, token, methods=["POST"]), *API.routes(sim)]


def register(sim: Simulator, school, source: SourceSchool, env) -> str:
    """Serve a registry school (``mis: integris``) from ``source``; its client id and secret are read from
    ``env`` by the names in the registry."""
    school_id = str(school.source["school_id"])
    sim.add(ROUTE, school_id, IntegrisSchool(school_id, *secrets_of(school, env, "client_id_env", "client_secret_env"),
                                             source))
    return school_id


def demo_settings(laestab: str, base_url: str) -> tuple[dict, list[str]]:
    """Registry settings of a demo school on this route, and the names of its secret variables."""
    names = demo_secret_names(ROUTE, laestab)
    return {"school_id": f"IG{laestab}", **names, "base_url": base_url, "rate_per_second": 0}, list(names.values())
