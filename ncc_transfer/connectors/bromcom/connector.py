"""The Bromcom route: one school's pupils (on roll, leavers and future), session attendance for the academic
year to date, and exclusions, through Bromcom's SOAP Read-Only Data Service
(https://docs.bromcom.com/knowledge-base/partner-api-integration/).

Registry settings: ``source: {school_id: 12345, user_env: "BROMCOM_USER_9262001", password_env:
"BROMCOM_PASSWORD_9262001"}`` plus optional ``base_url`` (default
``https://cloudmis.bromcom.com/Nucleus/WebServices/ThirdParty``; regional hosts and Scomis override it).
``school_id`` is Bromcom's SchoolID (a whole number); the ``*_env`` settings name the environment variables
holding the school's Third Party system user's username and password. Every wire name is in
``mapping.py`` with its confidence (DOC/3P/GUESS): most column names are GUESSes.

How a night goes: ``findEntitiesBySchoolID`` first (one cheap call that proves the credentials and says
which entities the school has ticked, so a missing permission is named up front), then
``getEntityDataBySchoolID`` for ``Students`` (the whole table: no paging exists), ``Attendances`` in date
windows of at most 30 days filtered in SQL, and ``StudentExclusions``. There is no change list
(``capabilities.changed_since=False``): the framework reads the academic year in full every night.

Retries: ASMX answers every SOAP Fault with HTTP 500, wrong credentials included. Retrying a 500 in the
adapter would resend a wrong password ``max_retries`` times (and might lock the Third Party user out),
so this route's adapter retries only 429/502/503/504 (gateways and load balancers); a 500 is read once
and its Fault classified by ``http.soap_call``: authentication, permission and query faults fail at once
(not transient); any other server fault, or a 500 without a Fault, is transient (the nightly run's
retry policy tries the school again later).

Faults that do not apply to this route: ``foreign`` (no next-page links) and ``expire-token`` (no
tokens: the credentials travel in every body).
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlsplit

from lxml import etree

from ncc_transfer import cohorts
from ncc_transfer.connectors.bromcom import mapping as B
from ncc_transfer.rules.calendar import academic_year_start
from ncc_transfer.connectors.base import (
    STUDENT_KEY, Records, RecordsBuilder, RouteSettings, Snapshot, VendorConnector, VendorRouteError, date_spans,
    date_text, mapped_code, vendor_day
)
from ncc_transfer.connectors.http import SoapBodyCredentials, VendorError, VendorSession, soap_call

ROUTE = "bromcom"
RETRY_STATUSES = (429, 502, 503, 504)  # not 500: see the module docstring
_SCHOOL_ID = re.compile(r"^\d{1,10}$")


# ------------------------------------------------------------------------------------------- values


def dataset_rows(response: etree._Element) -> list[dict[str, str]] | None:
    """The rows of the .NET DataSet in an operation's response element: ``{column: text}`` per
    ``diffgr:diffgram/NewDataSet/Table``; an empty element is ``""``, a missing one is absent (NULL).
    None when the response holds no diffgram (not a DataSet)."""
    diffgram = response.find(f".//{{{B.DIFFGRAM_NS}}}diffgram")
    if diffgram is None:
        return None
    return [{child.tag: child.text or "" for child in table if isinstance(child.tag, str) and "}" not in child.tag}
            for table in diffgram.iterfind(f"{B.DATASET_NAME}/{B.TABLE_NAME}")]


def _value(row: dict[str, str], column: str) -> str | None:
    value = row.get(column)
    return date_text(value) if column in B.DATE_COLUMNS else value


def student_row(row: dict[str, str]) -> dict[str, str | None]:
    """One Students row -> one raw pupils row (canonical column names, text values as supplied)."""
    pupil = {canonical: _value(row, column) for canonical, (column, _) in B.STUDENT_COLUMNS.items()}
    pupil["sex"] = mapped_code(pupil["sex"], B.GENDER)
    return pupil


def sen_provision(rows: list[dict[str, str]]) -> dict[str, str | None]:
    """SENStudents rows -> the SEN provision code by StudentID (the last row of a pupil wins)."""
    student, column = (B.SEN_COLUMNS[c][0] for c in ("student", "sen_provision"))
    return {row[student]: row.get(column) or None for row in rows if row.get(student)}


def looked_after(rows: list[dict[str, str]], as_of: date) -> dict[str, str | None]:
    """StudentsInCare rows (care episodes) -> ``true``/``false`` by StudentID on ``as_of``; a pupil with an
    episode whose dates cannot be read is None (not supplied); a pupil with no episode is not listed."""
    student, first, last = (B.IN_CARE_COLUMNS[c][0] for c in ("student", "start_date", "end_date"))
    episodes = cohorts.periods_by_pupil(rows, lambda row: row.get(student),
                                        lambda row: (vendor_day(row.get(first)), vendor_day(row.get(last))))
    return cohorts.covering_flags(episodes, as_of)


def statutory_code(mis_code: str | None) -> str | None:
    """A Bromcom attendance mark (maybe a local sub-code such as X01) -> the statutory code."""
    return mapped_code(mis_code, B.LOCAL_SUBCODES)


def mark_row(row: dict[str, str]) -> dict[str, str | None]:
    mark = {canonical: _value(row, column) for canonical, (column, _) in B.ATTENDANCE_COLUMNS.items()}
    mark[STUDENT_KEY] = mark.pop("student")
    mark["code"] = statutory_code(mark["code"])
    return mark


def exclusion_row(row: dict[str, str]) -> dict[str, str | None]:
    exclusion = {canonical: _value(row, column) for canonical, (column, _) in B.EXCLUSION_COLUMNS.items()}
    exclusion[STUDENT_KEY] = exclusion.pop("student")
    exclusion["category"] = mapped_code(exclusion["category"], B.EXCLUSION_TYPE)
    return exclusion


# ---------------------------------------------------------------------------------------- connector


class BromcomConnector(VendorConnector):
    route = ROUTE
    default_base_url = B.DEFAULT_BASE_URL
    defaults = {**VendorConnector.defaults, "retry_statuses": RETRY_STATUSES}

    def auth(self, settings: RouteSettings) -> SoapBodyCredentials:
        school_id = settings.require("school_id")
        if not _SCHOOL_ID.match(school_id):
            raise VendorRouteError(f"{settings.school.key}: {self.route}: source.school_id must be the Bromcom "
                                   f"SchoolID, a whole number")
        return SoapBodyCredentials(settings.secret("user_env"), settings.secret("password_env"), school_id,
                                   namespace=B.NAMESPACE, fields=B.CREDENTIAL_FIELDS,
                                   name=settings.credential_name("user_env"))

    def sources(self, settings: RouteSettings) -> dict[str, str]:
        sources = {table: f"{B.SERVICE_PATH} {entity}" for table, (entity, _) in B.ENTITIES.items()}
        sources["pupils"] += "".join(f" + {entity}" for entity, _ in B.COHORT_ENTITIES.values())
        return sources

    # ------------------------------------------------------------------------------------- calls
    def _call(self, session: VendorSession, operation: str, params: list[tuple[str, str]], label: str) -> list[dict]:
        """One operation's DataSet rows (``VendorError`` when the call fails or holds no DataSet)."""
        credentials: SoapBodyCredentials = session.strategy  # type: ignore[assignment]
        try:
            element = credentials.operation(operation, params)
        except ValueError as exc:  # a secret XML cannot carry; the message holds no value
            raise VendorError(self.route, f"{label}: {exc}", None, False) from None
        response = soap_call(session, B.SERVICE_PATH, B.action(operation), element, version=B.SOAP_VERSION,
                             label=label)
        rows = dataset_rows(response) if response.tag == f"{{{B.NAMESPACE}}}{operation}Response" else None
        if rows is None:
            raise VendorError(self.route, f"{label}: the response holds no DataSet", 200, False, method="POST",
                              path=_url_path(session, B.SERVICE_PATH))
        return rows

    def _entity(self, session: VendorSession, table: str, entity_filter: str = "") -> list[dict]:
        entity = B.ENTITIES[table][0]
        return self._call(session, B.GET_ENTITY_DATA, [(B.ENTITY_NAME_PARAM, entity),
                                                       (B.ENTITY_FILTER_PARAM, entity_filter)],
                          f"{B.GET_ENTITY_DATA} {entity}")

    def check_permissions(self, session: VendorSession) -> set[str]:
        """Every entity the route needs must be among those the school granted the Third Party user; returns
        the granted entity names (lower case), which say which optional cohort entities can be read."""
        rows = self._call(session, B.FIND_ENTITIES, [], B.FIND_ENTITIES)
        granted = {(row.get(B.ENTITY_NAME_COLUMN) or "").strip().lower() for row in rows}
        missing = [entity for entity, _ in B.ENTITIES.values() if entity.lower() not in granted]
        if missing:
            raise VendorError(self.route, f"{B.FIND_ENTITIES}: the school has not granted the Third Party user "
                              f"read access to {', '.join(missing)} (Bromcom: Setup > Third Party Access "
                              f"Permissions & Logs)", 200, False, method="POST",
                              path=_url_path(session, B.SERVICE_PATH))
        return granted

    def _cohort_rows(self, session: VendorSession, entity: str) -> list[dict]:
        return self._call(session, B.GET_ENTITY_DATA, [(B.ENTITY_NAME_PARAM, entity), (B.ENTITY_FILTER_PARAM, "")],
                          f"{B.GET_ENTITY_DATA} {entity}")

    # ---------------------------------------------------------------------------------- datasets
    def pupils(self, session: VendorSession, settings: RouteSettings, *, as_of: date | None = None,
               granted: set[str] = frozenset()) -> dict[str, dict]:
        """The Students rows, with the cohort columns from the cohort entities the school granted (a column
        whose entity is not granted, or without a night for the care episodes, stays null)."""
        source = self.sources(settings)["pupils"]
        pupils = {row.get(B.STUDENT_ID) or f"row:{n}": {**student_row(row), "_source": source}
                  for n, row in enumerate(self._entity(session, "pupils"))}
        sen_entity, care_entity = (B.COHORT_ENTITIES[c][0] for c in ("sen_provision", "looked_after"))
        if sen_entity.lower() in granted:
            codes = sen_provision(self._cohort_rows(session, sen_entity))
            for key, row in pupils.items():
                row["sen_provision"] = codes.get(key, B.NO_SEN)
        if care_entity.lower() in granted and as_of is not None:
            flags = looked_after(self._cohort_rows(session, care_entity), as_of)
            for key, row in pupils.items():
                row["looked_after"] = flags.get(key, cohorts.FALSE_TEXT)
        return pupils

    def marks(self, session: VendorSession, settings: RouteSettings, *, start: date, end: date) -> Records:
        source = self.sources(settings)["attendance"]
        column = B.ATTENDANCE_COLUMNS["date"][0]
        marks = RecordsBuilder()
        for first, stop in date_spans(start, end, B.ATTENDANCE_CHUNK_DAYS):
            for row in self._entity(session, "attendance", B.date_range_filter(column, first, stop)):
                mark = {**mark_row(row), "_source": source}
                key = row.get(B.ATTENDANCE_ID) or f"{mark[STUDENT_KEY]}|{mark['date']}|{mark['session']}"
                marks.add(key, mark)
        return marks.build()

    def exclusions(self, session: VendorSession, settings: RouteSettings, *, as_of: date) -> dict[str, dict]:
        source = self.sources(settings)["exclusions"]
        return {row.get(B.EXCLUSION_ID) or f"row:{n}": {**exclusion_row(row), "_source": source}
                for n, row in enumerate(self._entity(session, "exclusions"))}

    def snapshot(self, session: VendorSession, settings: RouteSettings, *, as_of: date) -> Snapshot:
        granted = self.check_permissions(session)
        return Snapshot(pupils=self.pupils(session, settings, as_of=as_of, granted=granted),
                        attendance=self.marks(session, settings, start=academic_year_start(as_of), end=as_of),
                        exclusions=self.exclusions(session, settings, as_of=as_of),
                        sources=self.sources(settings))


def _url_path(session: VendorSession, path: str) -> str:
    """The URL path of a service path (for error messages: no host, no query)."""
    return urlsplit(session.url_for(path)).path or "/"


__all__ = ["BromcomConnector", "dataset_rows", "looked_after", "sen_provision", "statutory_code", "student_row"]
