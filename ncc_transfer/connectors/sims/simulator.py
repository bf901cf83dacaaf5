"""SIMS 8 / SIMS Primary V3 OData APIs (https://www.sims-partners.com/Product/SIMS8/APIs/V3/ReleaseNote),
mounted at ``/sims``.

Two services, as in production:

* the STS, ``POST /connect/token`` (form-encoded OAuth2 client credentials; scopes
  ``simsserverapplication partner``) answering ``{access_token, expires_in, token_type, scope}``, or
  ``400 {"error": "invalid_client"}`` [GUESS: IdentityServer's answer]. Its faults are queued under
  ``sts_key(client_id)`` (a different host in production, so a different fault queue here);
* the API Manager gateway, ``GET /{Service}/V3/{Domain}``: the subscription key is checked first (401
  ``Access denied due to missing/invalid subscription key``, APIM's real answers), then the bearer
  token (401 ``Unauthorized. Access token is missing or invalid.``), then the ``Organisation_ID``
  header [GUESS] picks the school (403 when the client is not linked to it). Faults are queued under
  the organisation id.

Lists are OData v4 ``{"@odata.context", "value": [...]}`` paged with ``$top``/``$skip`` (``$top``
above ``MAX_TOP`` is refused with 400, as ASP.NET OData does; no ``@odata.nextLink`` is rendered, so
the ``foreign`` fault does not apply; the query options are read in ``odata_query.py``).
AttendanceRecords require a ``$filter`` on
``AttendableEventStart`` with DateTimeOffset literals (a bare date is a 400 [DOC]) spanning at most 90
days [DOC for the enhanced APIs; GUESS for V3]. ``{Domain}/SIMS.Changes(startDate=...)`` lists the
records changed since then, and deleted learners, marks and exclusions as ``@removed`` entries [GUESS].
The ``error-body`` fault is an OData error object with status 200 [GUESS]. Field names come from
``connectors/sims/mapping.py``, shared with the connector: every GUESS there is a guess here too.

Every learner has one LearnerCharacteristics record (its cohort fields, null where the landing folder has
none; the SEN status as a lookup reference described "SEN Support") [GUESS, as the domain is].

The simulated MIS records statutory ``X`` as the local code ``X01`` and ``C`` as ``C01``, each mapped
to its statutory code, so the connector's statutory mapping is exercised.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, time, timezone
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ncc_transfer.connectors.sims import mapping as S
from ncc_transfer.connectors.sims.odata_query import ODataError, attendance_span, datetime_offset, paging
from ncc_transfer.simulator.core import FaultHandling, Simulator
from ncc_transfer.simulator.credentials import bearer, demo_secret_names, form, same, secrets_of
from ncc_transfer.simulator.records import (
    flag_out, is_iso_date, listed, public, set_path, split_house_number, whole_number
)
from ncc_transfer.simulator.source import SourceSchool

ROUTE = "sims"
# error-body: an OData error in a 200, refused; $top/$skip paging; STS tokens expire
FAULT_HANDLING = FaultHandling()
NAMESPACE = b"ncc-transfer/sims|"
LONDON = ZoneInfo(S.LOCAL_TIMEZONE)
CHANGES = re.compile(r"^(?P<domain>[A-Za-z]+)/SIMS\.Changes\(startDate=(?P<start>[^)]*)\)$")
SESSION_START = {"AM": time(8, 50), "PM": time(13, 20)}  # [GUESS] register times, Europe/London
SESSION_END = {"AM": time(12, 0), "PM": time(15, 20)}
SIM_LOCAL_CODES = {"X": "X01", "C": "C01"}  # statutory code -> the simulated MIS's local sub-code
GENDER_OUT = {v: k for k, v in S.GENDER.items()}
CATEGORY_OUT = {"SUSP": "FIXD", "PERM": "PERM", "LNCH": "LNCH"}
DOMAIN_OF_PATH = {path: domain for domain, (path, _) in S.DOMAINS.items()}
MISSING_KEY = ("Access denied due to missing subscription key. Make sure to include subscription key when "
               "making requests to an API.")
INVALID_KEY = ("Access denied due to invalid subscription key. Make sure to provide a valid key for an active "
               "subscription.")
BAD_TOKEN = "Unauthorized. Access token is missing or invalid."


@dataclass
class SimsSchool:
    organisation_id: str
    client_id: str
    client_secret: str
    subscription_key: str
    source: SourceSchool


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def sts_key(client_id: str) -> str:
    """The fault-queue and log key of the STS for one client (not the client id itself)."""
    return f"sts-{_hash(client_id)}"


def client_key(client_id: str) -> str:
    """Whom a token is issued to: the client (one integrator may serve many schools)."""
    return f"client-{_hash(client_id)}"


def guid(laestab: str, *parts: str) -> str:
    """A deterministic ExternalID GUID (stable across simulator restarts), formatted like uuid5."""
    digest = hashlib.sha1(NAMESPACE + "|".join((laestab, *parts)).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-a{digest[17:20]}-{digest[20:32]}"


def _ref(external_id: str, kind: str) -> dict[str, str]:
    return {"ExternalID": external_id, "Type": kind}


def _date_out(value: Any) -> Any:
    """A date as an OData DateTimeOffset at midnight [GUESS]; anything else as it was supplied."""
    return f"{value}T00:00:00Z" if is_iso_date(value) else value


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=4096)
def _event(day: Any, session: Any) -> tuple[str | None, str | None, datetime | None]:
    """(AttendableEventStart, AttendableEventEnd, the start as a datetime for filtering) of a mark."""
    if not isinstance(day, str):
        return None, None, None
    try:
        on = date.fromisoformat(day) if is_iso_date(day) else None
    except ValueError:
        on = None
    if on is None:  # not a date: passed on as supplied; such a mark is in every date range [GUESS]
        return f"{day}T00:00:00Z", None, None
    part = session if session in SESSION_START else "AM"
    start = datetime.combine(on, SESSION_START[part], tzinfo=LONDON)
    return _utc(start), _utc(datetime.combine(on, SESSION_END[part], tzinfo=LONDON)), start


def _address(pupil_row: dict) -> dict[str, Any] | None:
    line, town, postcode = (pupil_row.get(c) for c in ("address_line1", "town", "postcode"))
    if line is None and town is None and postcode is None:
        return None
    parts = dict(zip(S.ADDRESS_LINE1_PARTS, (None, None, *split_house_number(line))))
    return {**parts, "District": None, "County": None, "Country": None, S.ADDRESS_TYPE: S.HOME_ADDRESS,
            "StartDate": None, S.ADDRESS_END: None}


# ------------------------------------------------------------------------------------------ rendering


def _sen_status(laestab: str, code: Any) -> dict[str, Any] | None:
    """The SEN status lookup reference for a SEN provision code as held: the DfE description of N/K/E, any
    other value (a legacy code, odd text) as the description as supplied [GUESS, as the mapping's shape is]."""
    if code is None:
        return None
    return {**_ref(guid(laestab, "sen_status", str(code)), S.SEN_STATUS_TYPE),
            "Description": S.SEN_STATUS_LABELS.get(code, code)}


def _learner_records(school: SourceSchool, pupil) -> dict[str, dict]:
    """One pupil as its LearnerPersonals record and satellite records (each with ``_updated``)."""
    learner_id = guid(school.laestab, "learner", pupil.key)
    records: dict[str, dict] = {"learners": {"@odata.type": "#ESS.Learner.LearnerPersonal", S.ID: learner_id}}
    for domain in S.SATELLITE_DOMAINS:
        records[domain] = {S.ID: guid(school.laestab, domain, pupil.key)}
        set_path(records[domain], S.LEARNER_REF.rsplit(".", 1)[0], _ref(learner_id, S.LEARNER_REF_TYPE))
    for column, (domain, path, _) in S.PUPIL_FIELDS.items():
        if column in S.PREFERRED_OF:
            continue
        value = pupil.row.get(column)
        if column == "sex":
            value = GENDER_OUT.get(value, value)
        elif column in S.COHORT_FLAGS:  # Edm.Boolean; text that is not a flag as supplied
            value = flag_out(value)
        elif column == "sen_provision":  # a lookup reference (null when not held), its description the label
            set_path(records[domain], path.rsplit(".", 1)[0], _sen_status(school.laestab, value))
            continue
        set_path(records[domain], path, _date_out(value) if column in S.DATE_COLUMNS else value)
    for column, legal in S.PREFERRED_OF.items():  # the name in use: the preferred one, else the legal one
        set_path(records["learners"], S.PUPIL_FIELDS[column][1], pupil.row.get(column) or pupil.row.get(legal))
    address = _address(pupil.row)
    if address is None:
        del records["addresses"]
    else:
        records["addresses"].update(address)
    for record in records.values():
        record["_updated"] = pupil.updated
    return records


def _codes(school: SourceSchool) -> dict[str, list[dict]]:
    lists: dict[str, list[dict]] = {"attendance_codes": [], "statutory_codes": []}
    for order, code in enumerate(school.codes(), start=1):
        statutory_id = guid(school.laestab, "statutory", code)
        local = SIM_LOCAL_CODES.get(code, code)
        lists["statutory_codes"].append({S.ID: statutory_id, "Code": code, "Description": None,
                                         "_updated": school.clock})
        lists["attendance_codes"].append({
            "@odata.type": S.CODE_TYPE, S.ID: guid(school.laestab, "code", code), "LookupType": "AttendanceCode",
            "Code": local, "Description": None, "DisplayOrder": order, "IsVisible": True,
            "StatutoryAttendanceCode": _ref(statutory_id, S.STATUTORY_CODE_REF_TYPE), "_updated": school.clock})
    return lists


def _learner_id(school: SourceSchool, pupil_key: str | None, upn: Any) -> str:
    # A record for a pupil the MIS has no learner of cannot happen in SIMS; the simulator gives it a stub
    # learner id so the connector's handling of an unknown learner can be seen.
    return guid(school.laestab, "learner", pupil_key) if pupil_key else guid(school.laestab, "unknown", str(upn))


def _mark(school: SourceSchool, mark) -> dict:
    start, end, moment = _event(mark.date, mark.session)
    code = {S.ID: guid(school.laestab, "code", mark.code), "Type": "Attendance.Lookup.AttendanceCode"} \
        if mark.code else None
    return {"@odata.type": "#ESS.Attendance.AttendanceRecord", S.ID: guid(school.laestab, "mark", mark.key),
            "Learner": _ref(_learner_id(school, mark.pupil_key, mark.upn), S.LEARNER_REF_TYPE),
            "AttendableEventStart": start, "AttendableEventEnd": end, "SessionName": mark.session,
            "AttendanceCode": code, "MinutesLate": None, "Comments": None, "_start": moment, "_updated": mark.updated}


def _exclusion(school: SourceSchool, exclusion) -> dict:
    row = exclusion.row
    record: dict[str, Any] = {S.ID: guid(school.laestab, "exclusion", exclusion.key),
                              "Learner": _ref(_learner_id(school, exclusion.pupil_key, row.get("upn")),
                                              S.LEARNER_REF_TYPE), "_updated": exclusion.updated}
    for column, (field, _) in S.EXCLUSION_FIELDS.items():
        value = row.get(column)
        if column == "category":
            value = CATEGORY_OUT.get(value, value)
        elif column == "sessions":
            value = whole_number(value)  # Edm.Int32
        set_path(record, field, _date_out(value) if column in S.DATE_COLUMNS else value)
    record[S.EXCLUSION_REASONS[0]] = listed(row.get(c) for c in S.EXCLUSION_REASONS[1])
    return record


def render(school: SourceSchool) -> dict[str, list[dict]]:
    """Every SIMS domain of one school (records carry ``_updated``/``_start`` for filtering)."""
    lists: dict[str, list[dict]] = {domain: [] for domain in S.DOMAINS}
    for pupil in school.pupils:
        for domain, record in _learner_records(school, pupil).items():
            lists[domain].append(record)
    lists.update(_codes(school))
    lists["attendance"] = [_mark(school, m) for m in school.marks]
    lists["exclusions"] = [_exclusion(school, e) for e in school.exclusions]
    return lists


REMOVED_KIND = {"learners": ("pupil", "learner"), "attendance": ("mark", "mark"),
                "exclusions": ("exclusion", "exclusion")}


def removed(school: SourceSchool, domain: str, since: datetime) -> list[dict]:
    """Deleted records of a domain since ``since``, as OData 4.01 ``@removed`` entries [GUESS]."""
    if domain not in REMOVED_KIND:
        return []
    kind, prefix = REMOVED_KIND[domain]
    return [{S.REMOVED: {"reason": "deleted"}, S.ID: guid(school.laestab, prefix, d.key)}
            for d in school.deletions if d.kind == kind and _aware(d.at) > since]


def _aware(moment: datetime) -> datetime:
    """A SourceSchool stamp (naive local time) as an aware datetime."""
    return moment if moment.tzinfo else moment.astimezone()


# ------------------------------------------------------------------------------------------ requests


def _select(school: SourceSchool, lists: dict[str, list[dict]], domain: str, since: datetime | None,
            span: tuple[datetime, datetime] | None) -> list[dict]:
    items = lists[domain]
    if since is not None:
        items = [r for r in items if _aware(r["_updated"]) > since]
    if span is not None:
        low, high = span
        items = [r for r in items if r["_start"] is None or low <= r["_start"] < high]
    selected = [public(r) for r in items]
    return selected + (removed(school, domain, since) if since is not None else [])


def routes(sim: Simulator) -> list[Route]:
    async def token(request: Request) -> Response:
        fields = await form(request)
        client_id = str(fields.get("client_id") or "")
        return await sim.serve(ROUTE, sts_key(client_id), "connect/token", lambda fault: _token(fields, client_id))

    def _token(fields: dict[str, str], client_id: str) -> Response:
        if fields.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        school = sim.school_where(ROUTE, lambda s: same(client_id, s.client_id))
        if school is None or not same(str(fields.get("client_secret") or ""), school.client_secret):
            return JSONResponse({"error": "invalid_client"}, status_code=400)
        scopes = str(fields.get("scope") or "").split()
        if not scopes or not set(scopes) <= set(S.TOKEN_SCOPE.split()):
            return JSONResponse({"error": "invalid_scope"}, status_code=400)
        issued, ttl = sim.issue_token(ROUTE, client_key(client_id))
        return JSONResponse({"access_token": issued, "expires_in": int(ttl), "token_type": "Bearer",
                             "scope": " ".join(scopes)})

    async def data(request: Request) -> Response:
        organisation = request.headers.get(S.ORGANISATION_HEADER, "")
        endpoint = f"{request.path_params['service']}/V3/{request.path_params['rest']}"
        return await sim.serve(ROUTE, organisation or "-", endpoint,
                               lambda fault: _data(request, organisation, fault))

    def _gateway(request: Request, organisation: str) -> Response | SimsSchool:
        """API Manager's checks (subscription key, then token), then the organisation: the school or a refusal."""
        school: SimsSchool | None = sim.school(ROUTE, organisation)
        key = request.headers.get(S.SUBSCRIPTION_KEY_HEADER, "")
        if not key:
            return JSONResponse({"statusCode": 401, "message": MISSING_KEY}, status_code=401)
        known = [school] if school is not None else list(sim.schools.get(ROUTE, {}).values())
        if not any(same(key, s.subscription_key) for s in known):
            return JSONResponse({"statusCode": 401, "message": INVALID_KEY}, status_code=401)
        holder = sim.token_school(ROUTE, bearer(request.headers))
        if holder is None:
            return JSONResponse({"statusCode": 401, "message": BAD_TOKEN}, status_code=401)
        if not organisation:
            return ODataError(400, "", f"The {S.ORGANISATION_HEADER} header is required.").response()
        if school is None or holder != client_key(school.client_id):
            return ODataError(403, "Forbidden", "The client is not permitted for this organisation.").response()
        return school

    def _data(request: Request, organisation: str, fault: str | None) -> Response:
        if fault == "expire-token":  # tokens belong to the client: revoke the school's client's tokens
            linked = sim.school(ROUTE, organisation)
            if linked is not None:
                sim.revoke(ROUTE, client_key(linked.client_id))
        school = _gateway(request, organisation)
        if isinstance(school, Response):
            return school
        if fault == "error-body":
            return JSONResponse({"error": {"code": "InternalServerError", "message": "An error has occurred."}})
        try:
            return _list(request, school)
        except ODataError as error:
            return error.response()

    def _list(request: Request, school: SimsSchool) -> Response:
        service, rest = request.path_params["service"], request.path_params["rest"]
        since = None
        changes = CHANGES.match(rest)
        if changes:
            rest, since = changes.group("domain"), datetime_offset(changes.group("start"))
        domain = DOMAIN_OF_PATH.get(f"/{service}/V3/{rest}")
        if domain is None:
            raise ODataError(404, "", "No HTTP resource was found that matches the request URI.")
        query = request.query_params
        top, skip = paging(query)
        span = attendance_span(query.get("$filter")) if domain == "attendance" and since is None else None
        if "$filter" in query and domain != "attendance":
            raise ODataError(400, "", "The query specified in the URI is not valid. $filter is not supported here.")
        items = sim.selection(ROUTE, school.organisation_id, school.source, render, (domain, since, span),
                              lambda lists: _select(school.source, lists, domain, since, span))
        context = f"{request.base_url}$metadata#{rest}" + ("/$delta" if since is not None else "")
        return JSONResponse({"@odata.context": context, S.VALUE_KEY: items[skip:skip + top]})

    return [Route("/connect/token", token, methods=["POST"]),
            Route("/{service}/V3/{rest:path}", data, methods=["GET"])]


def register(sim: Simulator, school, source: SourceSchool, env) -> str:
    """Serve a registry school (``mis: sims``) from ``source``; its credentials are read from ``env`` by
    the variable names in the registry. Returns the organisation id."""
    organisation = str(school.source["organisation_id"])
    credentials = secrets_of(school, env, "client_id_env", "client_secret_env", "subscription_key_env")
    sim.add(ROUTE, organisation, SimsSchool(organisation, *credentials, source))
    return organisation


def demo_settings(laestab: str, base_url: str) -> tuple[dict, list[str]]:
    """Registry settings of a demo school on this route, and the names of its secret variables."""
    names = demo_secret_names(ROUTE, laestab)
    return ({"organisation_id": f"ORG{laestab}", **names, "base_url": base_url,
             "token_url": base_url + "/connect/token", "rate_per_second": 0}, list(names.values()))
