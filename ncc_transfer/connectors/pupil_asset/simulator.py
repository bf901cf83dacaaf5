"""Pupil Asset's API as GUESSED in ``connectors/pupil_asset/mapping.py`` (Pupil Asset publishes
no API documentation), mounted at ``/pupil_asset``.

Nothing here is documented: every path, parameter, field and envelope comes from the mapping module, so
a real payload corrects the connector and this profile in one edit; the lists are served by
``simulator/lists_api.py``. The guessed shape:
``/api/v1/schools/{school_id}/{pupils|attendance/sessions|exclusions}``; an ``X-API-Key`` header;
``{"success": true, "data": [...]}``; ``page``/``limit`` page numbers with no count or link (a client
stops on a short page); ``status=all`` adds leavers to the pupils; ``from``/``to`` bound the marks;
``{"success": false, "error": "..."}`` with HTTP 200 for an error (the ``error-body`` fault). The
simulated MIS holds statutory X and I as the local sub-codes X01 and I01, and a SEN provision code as its
label ("SEN Support"); the cohort flags are JSON booleans. ``foreign`` does not apply (no next links) and
``expire-token`` neither (a static key).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.routing import Route

from ncc_transfer.connectors.pupil_asset import mapping as M
from ncc_transfer.simulator.core import FaultHandling, Simulator
from ncc_transfer.simulator.credentials import demo_secret_names, same, secrets_of
from ncc_transfer.simulator.lists_api import ListsApi
from ncc_transfer.simulator.records import flag_out
from ncc_transfer.simulator.source import SourceSchool, stable_id

ROUTE = "pupil_asset"
# error-body: success false in a 200, refused; page numbers, no links; a static API key
FAULT_HANDLING = FaultHandling(expire_token=False)
GENDER_OUT = {sex: gender for gender, sex in M.GENDER.items()}


@dataclass
class PupilAssetSchool:
    school_id: str
    api_key: str
    source: SourceSchool


def pupil_id(laestab: str, *parts: str) -> int:
    return int(stable_id("", laestab, *parts, digits=9))


def value_out(column: str, value: Any) -> Any:
    """Sex as Pupil Asset's gender, the SEN provision code as its label, a cohort flag as a JSON boolean (text
    that is not a flag as supplied, for validation to report); anything else as supplied."""
    if column == "sex":
        return GENDER_OUT.get(value, value)
    if column == "sen_provision":
        return M.SEN_STATUS_LABELS.get(value, value)  # a code held otherwise (legacy S, odd text) goes as held
    return flag_out(value) if column in M.COHORT_FLAGS else value


def _error(status: int, message: str) -> tuple[int, dict]:
    return status, {M.SUCCESS_KEY: False, M.ERROR_KEY: message}


API = ListsApi(
    ROUTE, M, pupil_id, value_out,
    envelope=lambda items, page, size, total: {M.SUCCESS_KEY: True, M.ITEMS_KEY: items},
    authorised=lambda sim, request, school: same(request.headers.get(M.API_KEY_HEADER, ""), school.api_key),
    errors={"not_found": _error(404, "Not found"), "refused": _error(401, "Invalid API key"),
            "error-body": _error(200, "Something went wrong"),
            "bad_paging": _error(400, "page and limit must be numbers")})


def routes(sim: Simulator) -> list[Route]:
    return API.routes(sim)


def register(sim: Simulator, school, source: SourceSchool, env) -> str:
    """Serve a registry school (``mis: pupil_asset``) from ``source``; its API key is read from ``env``."""
    school_id = str(school.source["school_id"])
    sim.add(ROUTE, school_id, PupilAssetSchool(school_id, *secrets_of(school, env, "api_key_env"), source))
    return school_id


def demo_settings(laestab: str, base_url: str) -> tuple[dict, list[str]]:
    """Registry settings of a demo school on this route, and the names of its secret variables."""
    names = demo_secret_names(ROUTE, laestab)
    return {"school_id": f"PA{laestab}", **names, "base_url": base_url, "rate_per_second": 0}, list(names.values())
