"""The Pupil Asset route: a GUESSED direct API (what little is known: ``mapping.py``).

Pupil Asset has no public API documentation. **Prefer the Wonde or Groupcall route for Pupil Asset
schools** until Pupil Asset supplies partner docs; ``mapping.py`` says what to ask for and
holds every path, parameter and field name (all GUESS), so a real payload corrects this route there.

Registry settings: ``source: {school_id: "1234", api_key_env: "PUPIL_ASSET_KEY_9262001"}``, optional
``base_url`` (default ``https://secure.pupilasset.com``). The API key is read from the environment
variable named by ``api_key_env`` and sent in an ``X-API-Key`` header [GUESS].

Guessed shape: JSON under ``/api/v1/schools/{school_id}``; ``/pupils?status=all`` (on roll and
leavers), ``/attendance/sessions?from=&to=`` (session marks: doubly a guess, the documented data area
is attendance summaries), ``/exclusions``; page numbers until a short page; errors as
``{"success": false, "error": "..."}`` with HTTP 200, detected here after ``get_json``. No change list
is known, so every night is a full fetch of the academic year to date.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Iterator, Mapping
from urllib.parse import urlsplit

from ncc_transfer.connectors.pupil_asset import mapping as M
from ncc_transfer.rules.calendar import academic_year_start
from ncc_transfer.connectors.base import (
    STUDENT_KEY, Capabilities, RouteSettings, Snapshot, VendorConnector, local_to_statutory, mapped_row,
    rows_by_id, text
)
from ncc_transfer.connectors.http import ApiKeyHeader, VendorError, VendorSession, short_page

ROUTE = "pupil_asset"


def check_success(data: Any, route: str, url: str) -> None:
    """Pupil Asset's (guessed) error-in-a-200: ``{"success": false, "error": "..."}``. The vendor's error
    text is not repeated (it could name a pupil); the message names the endpoint only."""
    if isinstance(data, dict) and data.get(M.SUCCESS_KEY) is False:
        raise VendorError(route, "vendor error in body (success: false)", 200, False, method="GET",
                          path=urlsplit(url).path or "/")


class CheckedSession:
    """The session as ``http.short_page`` sees it, with the error-in-a-200 check after every ``get_json``."""

    def __init__(self, session: VendorSession) -> None:
        self.session = session
        self.route = session.route

    def get_json(self, url: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        data = self.session.get_json(url, params=params, **kwargs)
        check_success(data, self.route, self.session.url_for(url))
        return data


def pupil_row(pupil: dict) -> dict[str, str | None]:
    """One Pupil Asset pupil -> one raw pupils row (canonical column names, text as supplied)."""
    row = mapped_row(pupil, M.PUPIL_FIELDS, M.DATE_COLUMNS)
    if row["sex"] is not None:
        row["sex"] = M.GENDER.get(row["sex"], row["sex"])
    return row


def statutory_code(code: str | None) -> str | None:
    """The school's attendance code (maybe a local sub-code) -> the statutory code."""
    return local_to_statutory(code, M.LOCAL_SUBCODES)


def mark_row(mark: dict) -> dict[str, str | None]:
    row = mapped_row(mark, M.MARK_FIELDS, ("date",))
    row["code"] = statutory_code(row["code"])
    row[STUDENT_KEY] = text(mark.get(M.MARK_PUPIL))
    return row


def exclusion_row(record: dict) -> dict[str, str | None]:
    row = mapped_row(record, M.EXCLUSION_FIELDS, M.DATE_COLUMNS)
    if row["category"] is not None:
        row["category"] = M.EXCLUSION_TYPE.get(row["category"].strip().lower(), row["category"])
    row[STUDENT_KEY] = text(record.get(M.EXCLUSION_PUPIL))
    return row


class PupilAssetConnector(VendorConnector):
    route = ROUTE
    capabilities = Capabilities(changed_since=False, deletions=False, leavers=True)
    default_base_url = M.DEFAULT_BASE_URL

    def auth(self, settings: RouteSettings) -> ApiKeyHeader:
        settings.require("school_id")
        return ApiKeyHeader(M.API_KEY_HEADER, settings.secret("api_key_env"),
                            name=settings.credential_name("api_key_env"))

    def _paths(self, settings: RouteSettings) -> dict[str, str]:
        prefix = M.API_PREFIX.format(school_id=settings.require("school_id"))
        return {name: prefix + path for name, (path, _) in M.ENDPOINTS.items()}

    def sources(self, settings: RouteSettings) -> dict[str, str]:
        return self._paths(settings)

    def _pages(self, session: VendorSession, settings: RouteSettings, endpoint: str,
               **params: Any) -> Iterator[dict]:
        return short_page(CheckedSession(session), self._paths(settings)[endpoint], params,  # type: ignore[arg-type]
                          items_key=M.ITEMS_KEY, page_size=M.PAGE_SIZES[endpoint], page_param=M.PAGE_PARAM,
                          size_param=M.SIZE_PARAM, first_page=M.FIRST_PAGE)

    def _rows(self, session: VendorSession, settings: RouteSettings, endpoint: str, id_field: str,
              to_row, **params: Any) -> dict[str, dict]:
        return rows_by_id(self._pages(session, settings, endpoint, **params), id_field, to_row, endpoint)

    def snapshot(self, session: VendorSession, settings: RouteSettings, *, as_of: date) -> Snapshot:
        status, everyone = M.PUPIL_STATUS_PARAM
        first, last = M.ATTENDANCE_RANGE_PARAMS
        dates = {first: academic_year_start(as_of).isoformat(), last: as_of.isoformat()}
        return Snapshot(
            pupils=self._rows(session, settings, "pupils", M.PUPIL_ID, pupil_row, **{status: everyone}),
            attendance=self._rows(session, settings, "attendance", M.MARK_ID, mark_row, **dates),
            exclusions=self._rows(session, settings, "exclusions", M.EXCLUSION_ID, exclusion_row),
            sources=self.sources(settings))


__all__ = ["PupilAssetConnector", "check_success", "exclusion_row", "mark_row", "pupil_row", "statutory_code"]
