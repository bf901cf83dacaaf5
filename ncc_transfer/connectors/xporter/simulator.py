"""Groupcall Xporter on Demand's API shape (https://xporterdocs.groupcall.com/docs/Xporter/endpoints/xporter;
GitHub TeamSatchel/xod_client), mounted at ``/xporter``.

* **STS** ``POST /idaas/sts/STS/GetToken`` with ``{estab, relyingParty, password, thirdpartyid}`` gives
  ``{"Message": null, "ExceptionMessage": null, "token", "expires"}`` (a per-school token); a wrong
  credential is a 401 [GUESS: the STS's refusal shape is not recorded]. The STS is another host in real
  life (``login.groupcall.com``), so its requests are served, logged and faulted as route
  ``xporter-sts`` (``sim.inject(estab, [...], route=STS_ROUTE)``), apart from the data API's.
* **Data** ``GET /api/v1/School/{estab}/{Students|AttendanceForDateRange|AttendanceCodes|
  StudentExclusions}[/{id}]`` with ``Authorization: Idaas <token>`` (a 401 ``Message`` body otherwise).
* **Envelope**: a named array per table, ``meta`` (on the first page only), and ``__pagination__``
  ``[{PageSize, PageNumber, PageCount, RowCount, NextPage}]`` whose ``NextPage`` is still there on the
  last page (as recorded). Errors come as a 200 with ``ExceptionMessage`` (the ``error-body`` fault, a
  bad parameter, a missing date range).
* **Changesets**: ``changedRows=*`` lists everything and starts a changeset; ``changedRows=<token>``
  lists the students changed since (only their ``Id``, as recorded, unless ``changed_rows_full``) and
  ``Students_deleted``. A token stands for a ``SourceSchool`` revision and the options it was taken
  with; a token asked for with other options, or not known, lists every row as changed (the docs warn
  of "spurious changes") [GUESS for the unknown token].

Field names come from ``connectors/xporter/mapping.py`` (shared with the connector); every GUESS there
is a guess here too: the UPN fields, the attendance and exclusion rows, ``dateFrom``/``dateTo``, the
attendance codes' statutory mapping. The simulated MIS records statutory ``X`` as local code ``X01``.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ncc_transfer.connectors.xporter import mapping as X
from ncc_transfer.simulator.core import FaultHandling, Simulator
from ncc_transfer.simulator.credentials import bearer, demo_secret_names, same, secrets_of
from ncc_transfer.simulator.records import flag_out, in_range, is_iso_date, public, split_house_number
from ncc_transfer.simulator.source import SourceSchool, stable_id

ROUTE = "xporter"
# error-body: ExceptionMessage in a 200, refused; page counts, no next links; STS tokens expire
FAULT_HANDLING = FaultHandling()
STS_ROUTE = "xporter-sts"  # the STS's requests, faults and log entries (a separate host in real life)
STS_PATH = "/idaas/sts/STS/GetToken"
DEFAULT_PAGE_SIZE = 25  # [GUESS] the server's default when pageSize is not given
MAX_PAGE_SIZE = 5000  # [GUESS] no published maximum
SIM_SUBCODES = {"X": "X01"}  # the simulated MIS's local sub-code for statutory X
CATEGORY_OUT = {v: k for k, v in X.EXCLUSION_CATEGORY.items()}  # SUSP -> FIXD
RESOURCES = {path.strip("/").lower(): name for name, (path, _) in X.ENDPOINTS.items()}
ERROR_BODY = {"Message": None, "ExceptionType": None, "ExceptionMessage": "Something went wrong",
              "InnerException": None}  # SDK (error_response cassette)
DENIED = {"Message": "Authorization has been denied for this request."}  # [GUESS] ASP.NET Web API's 401


@dataclass
class XporterSchool:
    estab: str
    relying_party: str
    secret: str = field(repr=False)
    source: SourceSchool = field(repr=False)
    changesets: dict[str, tuple[int, str]] = field(default_factory=dict)  # token -> (revision, options)
    changed_rows_full: bool = False  # changed rows with every field instead of only the Id

    def changeset(self, options: str) -> str:
        """The changeset token for the school's current revision and these options."""
        revision = self.source.revision
        token = hashlib.sha256(f"{self.estab}|{revision}|{options}".encode()).hexdigest()[:32]
        self.changesets[token] = (revision, options)
        return token


# ------------------------------------------------------------------------------------------ rendering


def student_id(pupil) -> str:
    return str(pupil.mis_id)


def _unknown_student(laestab: str, upn: Any) -> str:
    """A stub id for a mark or exclusion whose UPN matches no pupil record."""
    return stable_id("U", laestab, "unknown", str(upn), digits=9)


def year_group(nc_year: str | None) -> str | None:
    """The MIS's NC year text -> XoD's year group name (``"4"`` -> ``"Year  4"``), reversed exactly by
    the connector's ``nc_year_of``."""
    return None if nc_year is None else X.YEAR_GROUP_PREFIX + nc_year


def address_parts(line1: str | None) -> dict[str, str | None]:
    """An address line split into XoD's parts where the connector's join gives it back exactly."""
    number, street = split_house_number(line1)
    return {X.ADDRESS_HOUSE_NO: number, X.ADDRESS_HOUSE_NAME: None, X.ADDRESS_APARTMENT: None, X.ADDRESS_STREET: street}


def _field(column: str, table: dict[str, tuple[str, str]]) -> str:
    return table[column][0]


def _student(laestab: str, pupil) -> dict:
    row, sid = pupil.row, student_id(pupil)
    student: dict[str, Any] = {
        X.STUDENT_ID: sid, "XID": "x" + stable_id("", laestab, "xid", pupil.key, digits=6),
        "ExternalId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"xporter:{laestab}:{pupil.key}")),
        "IdaasId": f"PL-{sid}", "AdmissionNo": str(pupil.mis_id).zfill(6), "RegGroup": None, "HouseGroup": None}
    for column, (name, _) in X.STUDENT_FIELDS.items():
        if column in X.COHORT_FLAGS:
            student[name] = flag_out(row.get(column))
        elif column not in X.PREFERRED_OF and column != "address_line1":
            student[name] = year_group(row.get(column)) if column == "nc_year" else row.get(column)
    for column, legal in X.PREFERRED_OF.items():  # Forename/Surname: the name in use
        student[_field(column, X.STUDENT_FIELDS)] = row.get(column) or row.get(legal)
    student.update(address_parts(row.get("address_line1")))
    block = [row.get("address_line1"), row.get("town"), row.get("postcode")]
    student["AddressBlock"] = "\n".join(p for p in block if p) or None
    names = (student[_field("preferred_forename", X.STUDENT_FIELDS)],
             student[_field("preferred_surname", X.STUDENT_FIELDS)])
    student["DisplayName"] = " ".join(p for p in names if p) or None
    student[X.STUDENT_STATUS] = "Leaver" if pupil.is_leaver else "OnRoll"
    student["LastUpdated"] = pupil.updated.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-4]
    student["RowHash"] = hashlib.sha1(json.dumps(student, sort_keys=True, default=str).encode()).hexdigest().upper()
    return {**student, "_leaver": pupil.is_leaver, "_revision": pupil.revision}


def _day_out(value: str | None) -> str | None:
    return f"{value}T00:00:00" if is_iso_date(value) else value


def render(school: SourceSchool) -> dict[str, list[dict]]:
    """Every XoD table of one school; records carry ``_``-keys for filtering, dropped when served."""
    laestab = school.laestab
    ids = {p.key: student_id(p) for p in school.pupils}
    tables: dict[str, list[dict]] = {"students": [_student(laestab, p) for p in school.pupils],
                                     "attendance": [], "attendance_codes": [], "exclusions": [], "deleted": []}
    code_fields = X.ATTENDANCE_CODE_FIELDS
    for n, code in enumerate(school.codes(), start=1):
        tables["attendance_codes"].append({"Id": str(n), code_fields["code"]: SIM_SUBCODES.get(code, code),
                                           code_fields["description"]: None, code_fields["statutory"]: code})
    mark_fields = {c: f for c, (f, _) in X.ATTENDANCE_FIELDS.items()}
    for mark in school.marks:
        tables["attendance"].append({
            X.ATTENDANCE_ID: stable_id("", laestab, "mark", mark.key, digits=12),
            mark_fields["student"]: ids.get(mark.pupil_key) or _unknown_student(laestab, mark.upn),
            mark_fields["date"]: _day_out(mark.date), mark_fields["session"]: mark.session,
            mark_fields["code"]: SIM_SUBCODES.get(mark.code, mark.code) if mark.code else mark.code,
            "_day": mark.date})
    for exclusion in school.exclusions:
        record: dict[str, Any] = {X.EXCLUSION_ID: stable_id("", laestab, "exclusion", exclusion.key, digits=9)}
        for column, (name, _) in X.EXCLUSION_FIELDS.items():
            if column == "student":
                value = ids.get(exclusion.pupil_key) or _unknown_student(laestab, exclusion.row.get("upn"))
            elif column == "category":
                value = CATEGORY_OUT.get(exclusion.row.get(column), exclusion.row.get(column))
            else:
                value = exclusion.row.get(column)
            record[name] = value
        tables["exclusions"].append(record)
    for deletion in school.deletions:
        if deletion.kind == "pupil":  # marks and exclusions go with their student
            tables["deleted"].append({X.STUDENT_ID: str(deletion.mis_id), "_revision": deletion.revision})
    return tables


# ------------------------------------------------------------------------------------------ envelopes


class BadRequest(Exception):
    """A request XoD answers with a 200 and an ``ExceptionMessage``."""


def _error(message: str) -> JSONResponse:
    return JSONResponse({**ERROR_BODY, "ExceptionMessage": message})


def _int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"The parameter {name} is not a number") from None


def _envelope(request: Request, table: str, items: list[dict], *, paginate: bool = True,
              extras: dict | None = None) -> dict:
    size = max(1, min(_int_param(request, X.PAGE_SIZE_PARAM, DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE))
    page = max(1, _int_param(request, X.PAGE_PARAM, 1))
    count = math.ceil(len(items) / size)
    body: dict[str, Any] = {table: [public(r) for r in items[(page - 1) * size:page * size]]}
    if table == X.TABLES["students"][0]:
        body["StudentSiblings"] = []
    body[X.META_KEY] = [{"Id": 1, "MIS": "simsnet", "Version": "4",
                         "DateTime": datetime.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]}] if page == 1 else []
    body.update(extras or {})
    if paginate or count > 1:  # the recorded changeset answer (one page) has no __pagination__
        body[X.PAGINATION_KEY] = [{"PageSize": size, "PageNumber": page, "PageCount": count, "RowCount": len(items),
                                   "NextPage": f"?page={page + 1}&pageSize={size}"}]  # still there on the last page
    return body


# ------------------------------------------------------------------------------------------ the app


def routes(sim: Simulator) -> list[Route]:
    def tables(school: XporterSchool) -> dict[str, list[dict]]:
        return sim.rendering(ROUTE, school.estab, school.source, render)

    def selected(school: XporterSchool, endpoint: str, *spec: Any) -> list[dict]:
        return sim.selection(ROUTE, school.estab, school.source, render, (endpoint, *spec),
                             lambda lists: _select(lists, endpoint, *spec))

    def _select(lists: dict[str, list[dict]], endpoint: str, *spec: Any) -> list[dict]:
        if endpoint == "students":
            leavers, record_id, after = spec
            return [s for s in lists["students"] if (leavers or not s["_leaver"])
                    and (record_id is None or s[X.STUDENT_ID] == record_id)
                    and (after is None or s["_revision"] > after)]
        if endpoint == "attendance":
            start, end = spec
            return [m for m in lists["attendance"] if in_range(m["_day"], start, end)]
        return lists[endpoint]

    def students(request: Request, school: XporterSchool, record_id: str | None) -> dict:
        table = X.TABLES["students"][0]
        options = request.query_params.get(X.OPTIONS_PARAM, "")
        leavers = "includeleavers" in {o.strip().lower() for o in options.split(",")}
        requested = request.query_params.get(X.CHANGED_ROWS_PARAM)
        if requested is None:
            return _envelope(request, table, selected(school, "students", leavers, record_id, None))
        after = None
        if requested != X.CHANGED_ROWS_START:
            revision, taken_with = school.changesets.get(requested, (None, None))
            after = revision if taken_with == options else None  # other options: every row is "changed"
        rows = selected(school, "students", leavers, record_id, after)
        if requested != X.CHANGED_ROWS_START and not school.changed_rows_full:
            rows = [{X.STUDENT_ID: r[X.STUDENT_ID]} for r in rows]  # as recorded: changed rows carry only Id
        deleted = [] if after is None or _int_param(request, X.PAGE_PARAM, 1) > 1 else \
            [public(d) for d in tables(school)["deleted"] if d["_revision"] > after]
        token = school.changeset(options)
        page_size = request.query_params.get(X.PAGE_SIZE_PARAM, str(DEFAULT_PAGE_SIZE))
        extras = {table + X.DELETED_SUFFIX: deleted, "StudentSiblings" + X.DELETED_SUFFIX: [],
                  X.CHANGED_ROWS_KEY: [{"SnapshotDate": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
                                        "SnapshotRP": school.relying_party, "PreviousChangedRows": requested,
                                        "RequestedChangedRows": requested, X.NEXT_CHANGED_ROWS: token,
                                        "NextUrl": f"?changedRows={token}&page=1&pageSize={page_size}"}]}
        return _envelope(request, table, rows, paginate=requested == X.CHANGED_ROWS_START, extras=extras)

    def answer(request: Request, estab: str, resource: str, record_id: str | None, fault: str | None) -> Response:
        school: XporterSchool | None = sim.school(ROUTE, estab)
        token = bearer(request.headers, X.AUTH_SCHEME)
        if school is None or not token or sim.token_school(ROUTE, token) != estab:
            return JSONResponse(DENIED, status_code=401)
        endpoint = RESOURCES.get(resource.lower())
        if endpoint is None:
            return JSONResponse({"Message": "No HTTP resource was found that matches the request URI."},
                                status_code=404)
        if fault == "error-body":
            return JSONResponse(ERROR_BODY)
        try:
            if endpoint == "students":
                return JSONResponse(students(request, school, record_id))
            if endpoint == "attendance":
                start, end = (request.query_params.get(p) for p in X.ATTENDANCE_RANGE_PARAMS)
                if not (is_iso_date(start) and is_iso_date(end)):
                    raise BadRequest("dateFrom and dateTo are required (yyyy-MM-dd)")
                rows = selected(school, endpoint, start, end)
            else:
                rows = selected(school, endpoint)
            return JSONResponse(_envelope(request, X.TABLES[endpoint][0], rows))
        except BadRequest as exc:
            return _error(str(exc))

    async def api(request: Request) -> Response:
        estab = request.path_params["estab"]
        resource, _, record_id = request.path_params["resource"].strip("/").partition("/")
        return await sim.serve(ROUTE, estab, resource, lambda fault: answer(request, estab, resource,
                                                                             record_id or None, fault))

    def issue(body: Any, estab: str, fault: str | None) -> Response:
        school: XporterSchool | None = sim.school(ROUTE, estab)
        if fault == "error-body":
            return JSONResponse(ERROR_BODY)
        fields = X.STS_BODY
        valid = (school is not None and isinstance(body, dict)
                 and body.get(fields["relying_party"]) == school.relying_party
                 and body.get(fields["third_party"]) == X.THIRD_PARTY_ID
                 and same(str(body.get(fields["secret"], "")), school.secret))
        if not valid:
            return JSONResponse({"Message": "Invalid estab, relying party or secret", "ExceptionMessage": None,
                                 "token": None, "expires": None}, status_code=401)
        token, ttl = sim.issue_token(ROUTE, estab)
        expires = datetime.now(timezone.utc) + timedelta(seconds=ttl)
        return JSONResponse({"Message": None, "ExceptionMessage": None, X.STS_TOKEN_FIELD: token,
                             X.STS_EXPIRY_FIELD: expires.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"})

    async def sts(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        estab = body.get(X.STS_BODY["estab"]) if isinstance(body, dict) else None
        estab = estab if isinstance(estab, str) and len(estab) <= 20 else ""
        return await sim.serve(STS_ROUTE, estab, STS_PATH, lambda fault: issue(body, estab, fault))

    return [Route(STS_PATH, sts, methods=["POST"]),
            Route("/api/v1/School/{estab}/{resource:path}", api, methods=["GET"])]


def register(sim: Simulator, school, source: SourceSchool, env) -> str:
    """Serve a registry school (``mis: xporter``) from ``source``; its schoolSecret is read from ``env``
    by the name in ``source.secret_env``. Returns the estab it is served under."""
    estab = str(school.source.get("estab") or school.laestab)
    relying_party = str(school.source["relying_party"])
    sim.add(ROUTE, estab, XporterSchool(estab, relying_party, *secrets_of(school, env, "secret_env"), source))
    return estab


def demo_settings(laestab: str, base_url: str) -> tuple[dict, list[str]]:
    """Registry settings of a demo school on this route, and the names of its secret variables."""
    names = demo_secret_names(ROUTE, laestab)
    return ({"relying_party": "ncc-transfer-demo", **names, "base_url": base_url, "sts_url": base_url + STS_PATH,
             "rate_per_second": 0}, list(names.values()))
