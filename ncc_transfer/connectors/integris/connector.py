"""The RM Integris route: a GUESSED direct API (what little is known: ``mapping.py``).

No public Integris API documentation exists. **Prefer the Wonde or Groupcall route for Integris
schools** until RM supplies partner docs; ``mapping.py`` says what to ask for and holds every
path, parameter and field name (all GUESS), so a real payload corrects this route there.

Registry settings: ``source: {school_id: "...", client_id_env: "INTEGRIS_CLIENT_9262001",
client_secret_env: "INTEGRIS_SECRET_9262001", base_url: "https://..."}``; ``base_url`` is required (no
default is known); optional ``token_url`` (default ``<base_url>/oauth/token``, a GUESS).

Guessed shape: OAuth2 client credentials (one re-authentication on a 401); JSON under
``/api/v1/schools/{school_id}``: ``/students?includeLeavers=true``, ``/attendance?fromDate=&toDate=``,
``/exclusions``; page numbers up to ``totalPages`` in the body. No error-in-a-200 shape is known. No
change list is known, so every night is a full fetch of the academic year to date.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Iterator

from ncc_transfer.connectors.integris import mapping as M
from ncc_transfer.rules.calendar import academic_year_start
from ncc_transfer.connectors.base import (
    STUDENT_KEY, Capabilities, RouteSettings, Snapshot, VendorConnector, local_to_statutory, mapped_row,
    rows_by_id, text
)
from ncc_transfer.connectors.http import OAuth2ClientCredentials, VendorSession, page_count

ROUTE = "integris"


def student_row(student: dict) -> dict[str, str | None]:
    """One Integris student -> one raw pupils row (canonical column names, text as supplied)."""
    return mapped_row(student, M.STUDENT_FIELDS, M.DATE_COLUMNS)


def statutory_code(code: str | None) -> str | None:
    """The school's attendance code (maybe a local sub-code) -> the statutory code."""
    return local_to_statutory(code, M.LOCAL_SUBCODES)


def mark_row(mark: dict) -> dict[str, str | None]:
    row = mapped_row(mark, M.MARK_FIELDS, ("date",))
    row["code"] = statutory_code(row["code"])
    row[STUDENT_KEY] = text(mark.get(M.MARK_STUDENT))
    return row


def exclusion_row(record: dict) -> dict[str, str | None]:
    row = mapped_row(record, M.EXCLUSION_FIELDS, M.DATE_COLUMNS)
    if row["category"] is not None:
        row["category"] = M.EXCLUSION_TYPE.get(row["category"].strip().upper(), row["category"])
    row[STUDENT_KEY] = text(record.get(M.EXCLUSION_STUDENT))
    return row


class IntegrisConnector(VendorConnector):
    route = ROUTE
    capabilities = Capabilities(changed_since=False, deletions=False, leavers=True)
    default_base_url = None  # no public Integris API host is known: base_url is required

    def auth(self, settings: RouteSettings) -> OAuth2ClientCredentials:
        settings.require("school_id")
        token_url = settings.get("token_url") or settings.base_url + M.TOKEN_PATH
        return OAuth2ClientCredentials(token_url, settings.secret("client_id_env"),
                                       settings.secret("client_secret_env"), M.SCOPE,
                                       name=settings.credential_name("client_id_env"))

    def _paths(self, settings: RouteSettings) -> dict[str, str]:
        prefix = M.API_PREFIX.format(school_id=settings.require("school_id"))
        return {name: prefix + path for name, (path, _) in M.ENDPOINTS.items()}

    def sources(self, settings: RouteSettings) -> dict[str, str]:
        paths = self._paths(settings)
        return {"pupils": paths["students"], "attendance": paths["attendance"], "exclusions": paths["exclusions"]}

    def _pages(self, session: VendorSession, settings: RouteSettings, endpoint: str,
               **params: Any) -> Iterator[dict]:
        return page_count(session, self._paths(settings)[endpoint], params, items_key=M.ITEMS_KEY,
                          total_pages_key=M.TOTAL_PAGES_KEY, page_param=M.PAGE_PARAM, size_param=M.SIZE_PARAM,
                          page_size=M.PAGE_SIZES[endpoint], first_page=M.FIRST_PAGE)

    def _rows(self, session: VendorSession, settings: RouteSettings, endpoint: str, id_field: str,
              to_row, **params: Any) -> dict[str, dict]:
        return rows_by_id(self._pages(session, settings, endpoint, **params), id_field, to_row, endpoint)

    def snapshot(self, session: VendorSession, settings: RouteSettings, *, as_of: date) -> Snapshot:
        leavers, include = M.LEAVERS_PARAM
        first, last = M.ATTENDANCE_RANGE_PARAMS
        dates = {first: academic_year_start(as_of).isoformat(), last: as_of.isoformat()}
        return Snapshot(
            pupils=self._rows(session, settings, "students", M.STUDENT_ID, student_row, **{leavers: include}),
            attendance=self._rows(session, settings, "attendance", M.MARK_ID, mark_row, **dates),
            exclusions=self._rows(session, settings, "exclusions", M.EXCLUSION_ID, exclusion_row),
            sources=self.sources(settings))


__all__ = ["IntegrisConnector", "exclusion_row", "mark_row", "statutory_code", "student_row"]
