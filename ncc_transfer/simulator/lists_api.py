"""The simulator side of a small JSON lists API (``connectors/lists_api.py``, the routes whose API is
guessed): one school's pupils, marks and exclusions written through the route's mapping module,
filtered as the connector asks (leavers; a date range on the marks) and served a page at a time under
``API_PREFIX``.

A profile makes one ``ListsApi`` with what is its own: its pupil ids, how it writes a value, which
requests may read a school, its error bodies and its page envelope. Every path, parameter and field
name comes from the mapping, so a real payload corrects the connector and the profile in one edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .core import Simulator
from .records import in_range, public, write_fields
from .source import SourceSchool, stable_id

ERRORS = ("not_found", "refused", "error-body", "bad_paging")  # the answers a profile gives its own body


@dataclass(frozen=True)
class ListsApi:
    route: str
    mapping: ModuleType  # the route's mapping module (names: connectors/lists_api.py)
    pupil_id: Callable[..., Any]  # (laestab, "pupil", pupil key) or (laestab, "unknown", upn) -> a pupil's id
    value_out: Callable[[str, Any], Any]  # (canonical column, value) -> the value as the vendor writes it
    authorised: Callable[[Simulator, Request, Any], bool]  # may this request read this (registered) school?
    errors: Mapping[str, tuple[int, dict]]  # each of ERRORS -> (status, body)
    envelope: Callable[[list[dict], int, int, int], dict]  # (the page's records, page, size, total) -> body
    page_sizes: tuple[int, int] = (100, 5000)  # (default, maximum) [GUESS]

    # ----------------------------------------------------------------------------------- rendering
    def render(self, school: SourceSchool) -> dict[str, list[dict]]:
        """Every list of one school (``_leaver``/``_day`` are for filtering and are dropped when served)."""
        m, laestab = self.mapping, school.laestab
        local_code = {statutory: local for local, statutory in m.LOCAL_SUBCODES.items()}
        vendor_type = {category: kind for kind, category in m.EXCLUSION_TYPE.items()}

        def pupil_ref(pupil_key: str | None, upn: Any) -> Any:
            """The pupil a mark or exclusion carries; a stub id when the MIS has no such pupil record."""
            return self.pupil_id(laestab, "pupil", pupil_key) if pupil_key else \
                self.pupil_id(laestab, "unknown", str(upn))

        lists: dict[str, list[dict]] = {table: [] for table in m.ENDPOINTS}
        for pupil in school.pupils:
            record = {m.PUPIL_ID: self.pupil_id(laestab, "pupil", pupil.key), "_leaver": pupil.is_leaver}
            lists["pupils"].append(write_fields(record, pupil.row, m.PUPIL_FIELDS, self.value_out))
        for mark in school.marks:
            values = {"date": mark.date, "session": mark.session, "code": local_code.get(mark.code, mark.code)}
            record = {m.MARK_ID: int(stable_id("", laestab, "mark", mark.key, digits=12)),
                      m.MARK_PUPIL: pupil_ref(mark.pupil_key, mark.upn), "_day": mark.date}
            lists["attendance"].append(write_fields(record, values, m.MARK_FIELDS, self.value_out))
        for exclusion in school.exclusions:
            category = exclusion.row.get("category")
            values = {**exclusion.row, "category": vendor_type.get(category, category)}
            record = {m.EXCLUSION_ID: int(stable_id("", laestab, "exclusion", exclusion.key, digits=9)),
                      m.EXCLUSION_PUPIL: pupil_ref(exclusion.pupil_key, exclusion.row.get("upn"))}
            lists["exclusions"].append(write_fields(record, values, m.EXCLUSION_FIELDS, self.value_out))
        return lists

    def select(self, lists: dict[str, list[dict]], table: str, query: Any) -> list[dict]:
        """One list as the query asks for it: leavers only with ``LEAVERS_PARAM``, marks in the date range."""
        m = self.mapping
        items = lists[table]
        if table == "pupils" and query.get(m.LEAVERS_PARAM[0]) != m.LEAVERS_PARAM[1]:
            items = [p for p in items if not p["_leaver"]]
        if table == "attendance":
            start, end = (query.get(p) for p in m.ATTENDANCE_RANGE_PARAMS)
            items = [r for r in items if in_range(r["_day"], start, end)]
        return [public(r) for r in items]

    # ------------------------------------------------------------------------------------- serving
    def error(self, kind: str) -> JSONResponse:
        status, body = self.errors[kind]
        return JSONResponse(body, status_code=status)

    def respond(self, sim: Simulator, request: Request, school_id: str, table: str | None,
                fault: str | None) -> Response:
        m = self.mapping
        school = sim.school(self.route, school_id)
        if school is None or table is None:
            return self.error("not_found")
        if not self.authorised(sim, request, school):
            return self.error("refused")
        if fault == "error-body":
            return self.error("error-body")
        query = request.query_params
        default, maximum = self.page_sizes
        try:
            page = max(m.FIRST_PAGE, int(query.get(m.PAGE_PARAM, m.FIRST_PAGE)))
            size = max(1, min(int(query.get(m.SIZE_PARAM, default)), maximum))
        except ValueError:
            return self.error("bad_paging")
        filters = tuple(query.get(p) for p in (m.LEAVERS_PARAM[0], *m.ATTENDANCE_RANGE_PARAMS))
        items = sim.selection(self.route, school_id, school.source, self.render, (table, filters),
                              lambda lists: self.select(lists, table, query))
        offset = (page - m.FIRST_PAGE) * size
        return JSONResponse(self.envelope(items[offset:offset + size], page, size, len(items)))

    def routes(self, sim: Simulator) -> list[Route]:
        """The lists, at ``API_PREFIX/<path>`` (relative to the profile's mount)."""
        tables = {path.strip("/"): table for table, (path, _) in self.mapping.ENDPOINTS.items()}

        async def school_resource(request: Request) -> Response:
            school_id = request.path_params["school_id"]
            resource = request.path_params["resource"].strip("/")
            return await sim.serve(self.route, school_id, resource,
                                   lambda fault: self.respond(sim, request, school_id, tables.get(resource), fault))

        return [Route(self.mapping.API_PREFIX + "/{resource:path}", school_resource)]
