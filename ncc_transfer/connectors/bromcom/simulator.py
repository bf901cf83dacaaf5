"""Bromcom's SOAP Read-Only Data Service (https://docs.bromcom.com/knowledge-base/partner-api-integration/),
mounted at ``/bromcom``.

``POST /TPReadOnlyDataService.asmx`` takes a SOAP 1.1 (``text/xml`` + ``SOAPAction``) or 1.2
(``application/soap+xml``) envelope and answers in the same version, as ASMX does:

* ``findEntitiesBySchoolID(schoolID, username, password)``: the entities the school granted its Third
  Party user (a DataSet of ``EntityName`` rows);
* ``getEntityDataBySchoolID(schoolID, entityName, entityFilter, username, password)``: a .NET DataSet
  (``...Result`` holding an inline ``xs:schema`` and a ``diffgr:diffgram/NewDataSet/Table`` row per record;
  a NULL column is a missing element) for ``Students``, ``Attendances`` and ``StudentExclusions``. No
  pagination: the whole filtered table. ``entityFilter`` accepts exactly the forms the connector sends:
  empty (every row) or ``<date column> >= 'YYYYMMDD' AND <date column> < 'YYYYMMDD'`` on the attendance
  date column; anything else is a SQL-error SOAP Fault.

Errors are SOAP Faults with HTTP 500, as ASMX gives for any exception: wrong credentials or an unknown
SchoolID, an entity the school has not granted, an entity or filter SQL Server would reject, and the
``error-body`` fault (a server-side timeout, e.g. the database). ``foreign`` and ``expire-token`` do not
apply (no next links, no tokens) and are ignored. The wire names come from
``connectors/bromcom/mapping.py``, shared with the connector; every GUESS there is a guess here too
(most column names, the code and type values, the date filter column, the fault texts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ncc_transfer.connectors.bromcom import mapping as B
from ncc_transfer.connectors.http import SOAP11, SOAP12, SOAP_ENVELOPE_NS, parse_soap
from ncc_transfer.simulator.core import TRANSIENT, FaultHandling, Simulator
from ncc_transfer.simulator.credentials import demo_secret_names, same, secrets_of
from ncc_transfer.simulator.records import flag_given, is_iso_date, open_since, periods_night
from ncc_transfer.simulator.source import SourceSchool

ROUTE = "bromcom"
# error-body: a SOAP timeout Fault, transient; XML bodies; no links; credentials in the body
FAULT_HANDLING = FaultHandling(truncated="not well-formed XML", error_body=TRANSIENT, expire_token=False)
LONDON = ZoneInfo("Europe/London")
UNKNOWN_STUDENT_IDS = 1_000_000_000  # StudentIDs for records whose pupil has no Students row
SIM_SUBCODES = {"X": "X01"}  # the simulated MIS records statutory X as local sub-code X01
GENDER_OUT = {"M": "Male", "F": "Female"}
TYPE_OUT = {"SUSP": "Suspension", "PERM": "Permanent", "LNCH": "Lunchtime"}
CONTENT_TYPES = {SOAP11: "text/xml; charset=utf-8", SOAP12: "application/soap+xml; charset=utf-8"}
FAULT_CODES = {SOAP11: {"client": "soap:Client", "server": "soap:Server"},
               SOAP12: {"client": "soap:Sender", "server": "soap:Receiver"}}
UNABLE = "Server was unable to process request. ---> "  # how ASMX wraps an exception's message
# Fault texts [GUESS: Bromcom's wording is not public].
BAD_LOGIN = UNABLE + "Invalid username or password for this SchoolID."
NOT_GRANTED = UNABLE + "Access denied: the Third Party user has no permission to read this entity."
UNKNOWN_ENTITY = UNABLE + "The entity does not exist."
BAD_FILTER = UNABLE + "Incorrect syntax in the entity filter."
TIMEOUT = UNABLE + ("Timeout expired. The timeout period elapsed prior to completion of the operation or the "
                    "server is not responding.")
OPERATIONS = (B.FIND_ENTITIES, B.GET_ENTITY_DATA)
STUDENTS, ATTENDANCES, EXCLUSIONS = (B.ENTITIES[t][0] for t in ("pupils", "attendance", "exclusions"))
COLUMNS = {  # entity -> its columns, in DataSet order
    STUDENTS: [B.STUDENT_ID] + [c for c, _ in B.STUDENT_COLUMNS.values()],
    ATTENDANCES: [B.ATTENDANCE_ID] + [c for c, _ in B.ATTENDANCE_COLUMNS.values()],
    EXCLUSIONS: [B.EXCLUSION_ID] + [c for c, _ in B.EXCLUSION_COLUMNS.values()],
    # the cohort entities (mapping.COHORT_ENTITIES; columns GUESS)
    B.COHORT_ENTITIES["sen_provision"][0]: [c for c, _ in B.SEN_COLUMNS.values()],
    B.COHORT_ENTITIES["looked_after"][0]: [c for c, _ in B.IN_CARE_COLUMNS.values()],
}
FILTER = re.compile(r"^\s*(\w+)\s*>=\s*'(\d{8})'\s+AND\s+(\w+)\s*<\s*'(\d{8})'\s*$", re.IGNORECASE)


@dataclass
class BromcomSchool:
    school_id: str
    username: str
    password: str
    source: SourceSchool
    entities: list[str] = field(default_factory=lambda: list(COLUMNS))  # granted to the Third Party user


class Fault(Exception):
    """A SOAP Fault to answer with (HTTP 500, as ASMX)."""

    def __init__(self, text: str, kind: str = "server") -> None:
        super().__init__(text)
        self.text, self.kind = text, kind


# ------------------------------------------------------------------------------------------ rendering


def dotnet_date(value: str | None) -> str | None:
    """An ISO date as a .NET DataSet DateTime (local midnight with its UTC offset,
    ``2025-09-01T00:00:00+01:00``); anything else as supplied."""
    if not is_iso_date(value):
        return value
    try:
        offset = datetime.combine(date.fromisoformat(value), datetime.min.time(), LONDON).strftime("%z")
    except ValueError:
        return value
    return f"{value}T00:00:00{offset[:3]}:{offset[3:]}"


def tables(school: SourceSchool) -> dict[str, list[dict]]:
    """Every entity of one school as rows ``{column: text}`` (NULLs left out); attendance rows also carry
    ``_day`` (the ISO date the filter compares)."""
    student_ids = {p.key: str(p.mis_id) for p in school.pupils}
    unknown: dict[str, str] = {}

    def student(pupil_key: str | None, upn: Any) -> str:
        """The StudentID; a record whose pupil the MIS has no row for gets an id no pupil has."""
        if pupil_key in student_ids:
            return student_ids[pupil_key]
        return unknown.setdefault(str(upn), str(UNKNOWN_STUDENT_IDS + len(unknown)))

    def columns(values: dict[str, Any], mapping: dict[str, tuple[str, str]]) -> dict[str, Any]:
        out = {}
        for canonical, (column, _) in mapping.items():
            value = values.get(canonical)
            out[column] = dotnet_date(value) if column in B.DATE_COLUMNS else value
        return out

    rendered: dict[str, list[dict]] = {entity: [] for entity in COLUMNS}
    for pupil in school.pupils:
        row = {B.STUDENT_ID: str(pupil.mis_id), **columns(pupil.row, B.STUDENT_COLUMNS)}
        sex = B.STUDENT_COLUMNS["sex"][0]
        row[sex] = GENDER_OUT.get(row[sex], row[sex])
        rendered[STUDENTS].append(row)
    for mark in school.marks:
        values = {"student": student(mark.pupil_key, mark.upn), "date": mark.date, "session": mark.session,
                  "code": SIM_SUBCODES.get(mark.code, mark.code) if mark.code else mark.code}
        rendered[ATTENDANCES].append({B.ATTENDANCE_ID: str(len(rendered[ATTENDANCES]) + 1),
                                      **columns(values, B.ATTENDANCE_COLUMNS), "_day": mark.date})
    for exclusion in school.exclusions:
        values = {**exclusion.row, "student": student(exclusion.pupil_key, exclusion.row.get("upn"))}
        values["category"] = TYPE_OUT.get(values.get("category"), values.get("category"))
        rendered[EXCLUSIONS].append({B.EXCLUSION_ID: str(len(rendered[EXCLUSIONS]) + 1),
                                     **columns(values, B.EXCLUSION_COLUMNS)})
    _cohorts(school, rendered)
    return rendered


def _cohorts(school: SourceSchool, rendered: dict[str, list[dict]]) -> None:
    """SENStudents: a row for each pupil with a SEN provision other than N (as supplied). StudentsInCare: the
    source holds a flag, not episodes, so a looked-after pupil gets one open episode from about a year
    before the school's latest mark (any night from then on reads it back as looked after)."""
    sen, care = (B.COHORT_ENTITIES[c][0] for c in ("sen_provision", "looked_after"))
    since = open_since(periods_night(school))
    for pupil in school.pupils:
        code = pupil.row.get("sen_provision")
        if code is not None and code.strip().upper() != B.NO_SEN:
            rendered[sen].append({B.STUDENT_ID: str(pupil.mis_id), B.SEN_COLUMNS["sen_provision"][0]: code})
        if flag_given(pupil.row.get("looked_after")):
            rendered[care].append({B.STUDENT_ID: str(pupil.mis_id),
                                   B.IN_CARE_COLUMNS["start_date"][0]: dotnet_date(since.isoformat())})


def select(rows: list[dict], entity: str, entity_filter: str) -> list[dict]:
    """The rows an EntityFilter selects: only the forms the connector sends; anything else is a Fault."""
    if not entity_filter.strip():
        return rows
    match = FILTER.match(entity_filter)
    date_column = B.ATTENDANCE_COLUMNS["date"][0]
    if not match or match.group(1) != match.group(3) or entity != ATTENDANCES or match.group(1) != date_column:
        raise Fault(BAD_FILTER)
    try:
        start, stop = (datetime.strptime(match.group(n), B.FILTER_DATE_FORMAT).date().isoformat() for n in (2, 4))
    except ValueError:
        raise Fault(UNABLE + "Conversion failed when converting date and/or time from character string.") from None
    # A mark whose date cannot be compared is returned by every window rather than hidden (the connector
    # keys marks by AttendanceID).
    return [r for r in rows if not is_iso_date(r.get("_day")) or start <= r["_day"] < stop]


def _schema(columns: list[str]) -> etree._Element:
    xs, msdata = B.XS_NS, B.MSDATA_NS
    schema = etree.Element(f"{{{xs}}}schema", nsmap={None: "", "xs": xs, "msdata": msdata}, id=B.DATASET_NAME)
    dataset = etree.SubElement(schema, f"{{{xs}}}element", name=B.DATASET_NAME)
    dataset.set(f"{{{msdata}}}IsDataSet", "true")
    dataset.set(f"{{{msdata}}}UseCurrentLocale", "true")
    choice = etree.SubElement(etree.SubElement(dataset, f"{{{xs}}}complexType"), f"{{{xs}}}choice",
                              minOccurs="0", maxOccurs="unbounded")
    table = etree.SubElement(choice, f"{{{xs}}}element", name=B.TABLE_NAME)
    sequence = etree.SubElement(etree.SubElement(table, f"{{{xs}}}complexType"), f"{{{xs}}}sequence")
    for column in columns:
        kind = "xs:int" if column in B.INTEGER_COLUMNS else "xs:dateTime" if column in B.DATE_COLUMNS else "xs:string"
        etree.SubElement(sequence, f"{{{xs}}}element", name=column, type=kind, minOccurs="0")
    return schema


def dataset_response(operation: str, columns: list[str], rows: list[dict]) -> etree._Element:
    """``<{op}Response><{op}Result><xs:schema/><diffgr:diffgram><NewDataSet><Table>...`` as .NET writes it."""
    ns = B.NAMESPACE
    response = etree.Element(f"{{{ns}}}{operation}Response", nsmap={None: ns})
    result = etree.SubElement(response, f"{{{ns}}}{B.result_name(operation)}")
    result.append(_schema(columns))
    diffgram = etree.SubElement(result, f"{{{B.DIFFGRAM_NS}}}diffgram",
                                nsmap={"msdata": B.MSDATA_NS, "diffgr": B.DIFFGRAM_NS})
    if rows:
        dataset = etree.SubElement(diffgram, B.DATASET_NAME, nsmap={None: ""})  # xmlns="" as .NET writes
        for n, row in enumerate(rows):
            table = etree.SubElement(dataset, B.TABLE_NAME)
            table.set(f"{{{B.DIFFGRAM_NS}}}id", f"{B.TABLE_NAME}{n + 1}")
            table.set(f"{{{B.MSDATA_NS}}}rowOrder", str(n))
            for column in columns:
                if row.get(column) is not None:
                    etree.SubElement(table, column).text = row[column]
    return response


def envelope(version: str, content: etree._Element) -> bytes:
    ns = SOAP_ENVELOPE_NS[version]
    # (ASMX also declares xmlns:xsd here; left out so that the inline schema keeps its own xs: prefix, which
    # its type="xs:..." attribute values refer to.)
    root = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap": ns, "xsi": "http://www.w3.org/2001/XMLSchema-instance"})
    etree.SubElement(root, f"{{{ns}}}Body").append(content)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def fault_response(version: str, fault: Fault) -> Response:
    ns = SOAP_ENVELOPE_NS[version]
    element = etree.Element(f"{{{ns}}}Fault")
    code = FAULT_CODES[version][fault.kind]
    if version == SOAP11:
        etree.SubElement(element, "faultcode").text = code
        etree.SubElement(element, "faultstring").text = fault.text
        etree.SubElement(element, "detail")
    else:
        etree.SubElement(etree.SubElement(element, f"{{{ns}}}Code"), f"{{{ns}}}Value").text = code
        text = etree.SubElement(etree.SubElement(element, f"{{{ns}}}Reason"), f"{{{ns}}}Text")
        text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        text.text = fault.text
        etree.SubElement(element, f"{{{ns}}}Detail")
    return Response(envelope(version, element), status_code=500, media_type=CONTENT_TYPES[version])


# ------------------------------------------------------------------------------------------ requests


@dataclass
class Call:
    version: str
    operation: str
    params: dict[str, str]

    @property
    def label(self) -> str:
        entity = self.params.get(B.ENTITY_NAME_PARAM)
        return f"{self.operation} {entity}" if entity else self.operation


def parse_call(body: bytes, headers: Any) -> Call:
    """The operation and parameters of a request envelope; a client Fault when it is not one ASMX takes."""
    try:
        root, version = parse_soap(body)
    except (etree.XMLSyntaxError, ValueError):
        raise Fault("Server was unable to read request. ---> There is an error in XML document.", "client") from None
    ctype = (headers.get("content-type") or "").lower()
    if not ctype.startswith(CONTENT_TYPES[version].split(";")[0]):
        raise Fault("Unsupported content type for this SOAP version.", "client")
    ns = SOAP_ENVELOPE_NS[version]
    operation = next(iter(root.find(f"{{{ns}}}Body")), None)
    name = etree.QName(operation).localname if operation is not None else ""
    if operation is None or etree.QName(operation).namespace != B.NAMESPACE or name not in OPERATIONS:
        raise Fault("Server did not recognize the request element.", "client")
    if version == SOAP11 and (headers.get("soapaction") or "").strip('"') != B.action(name):
        raise Fault("Server did not recognize the value of HTTP Header SOAPAction.", "client")
    params = {etree.QName(child).localname: child.text or "" for child in operation if isinstance(child.tag, str)}
    return Call(version, name, params)


def answer(sim: Simulator, call: Call, fault: str | None) -> Response:
    """The response to one parsed call (``error-body``: a server-side timeout Fault)."""
    school_field, user_field, password_field = B.CREDENTIAL_FIELDS
    school: BromcomSchool | None = sim.school(ROUTE, call.params.get(school_field, ""))
    if school is None or not (same(call.params.get(user_field, ""), school.username)
                              and same(call.params.get(password_field, ""), school.password)):
        raise Fault(BAD_LOGIN)
    if fault == "error-body":
        raise Fault(TIMEOUT)
    if call.operation == B.FIND_ENTITIES:
        rows = [{B.ENTITY_NAME_COLUMN: entity} for entity in school.entities]
        return _ok(call, dataset_response(call.operation, [B.ENTITY_NAME_COLUMN], rows))
    entity = call.params.get(B.ENTITY_NAME_PARAM, "")
    if entity not in school.entities:
        raise Fault(NOT_GRANTED)
    if entity not in COLUMNS:
        raise Fault(UNKNOWN_ENTITY)
    entity_filter = call.params.get(B.ENTITY_FILTER_PARAM, "")

    def body(rendered: dict[str, list[dict]]) -> bytes:  # one per school revision and filter
        rows = select(rendered[entity], entity, entity_filter)
        return envelope(call.version, dataset_response(call.operation, COLUMNS[entity], rows))

    query = (call.version, entity, entity_filter)
    return Response(sim.selection(ROUTE, school.school_id, school.source, tables, query, body),
                    media_type=CONTENT_TYPES[call.version])


def _ok(call: Call, content: etree._Element) -> Response:
    return Response(envelope(call.version, content), media_type=CONTENT_TYPES[call.version])


def routes(sim: Simulator) -> list[Route]:
    async def service(request: Request) -> Response:
        body = await request.body()
        call: Call | None = None
        problem: Fault | None = None
        try:
            call = parse_call(body, request.headers)
        except Fault as exc:
            problem = exc
        school_id = call.params.get(B.CREDENTIAL_FIELDS[0], "") if call else ""
        version = call.version if call else (SOAP12 if b"2003/05/soap-envelope" in body[:2000] else SOAP11)

        def render(fault: str | None) -> Response:
            try:
                if problem is not None:
                    raise problem
                return answer(sim, call, fault)
            except Fault as exc:
                return fault_response(version, exc)

        return await sim.serve(ROUTE, school_id, call.label if call else "invalid request", render)

    return [Route(f"/{B.SERVICE_PATH}", service, methods=["POST"])]


def register(sim: Simulator, school, source: SourceSchool, env) -> str:
    """Serve a registry school (``mis: bromcom``) from ``source``; its Third Party user's credentials are
    read from ``env`` by the names in ``user_env`` / ``password_env``."""
    school_id = str(school.source["school_id"])
    sim.add(ROUTE, school_id, BromcomSchool(school_id, *secrets_of(school, env, "user_env", "password_env"), source))
    return school_id


def demo_settings(laestab: str, base_url: str) -> tuple[dict, list[str]]:
    """Registry settings of a demo school on this route, and the names of its secret variables."""
    names = demo_secret_names(ROUTE, laestab)
    return ({"school_id": str(int(laestab[3:]) + 10000), **names, "base_url": base_url, "rate_per_second": 0},
            list(names.values()))
