"""The Pupil Asset route: a GUESSED direct API (what little is known: ``mapping.py``).

Pupil Asset has no public API documentation. **Prefer the Wonde or Groupcall route for Pupil Asset
schools** until Pupil Asset supplies partner docs; ``mapping.py`` says what to ask for and
holds every path, parameter and field name (all GUESS), so a real payload corrects this route there.

Registry settings: ``source: {school_id: "1234", api_key_env: "PUPIL_ASSET_KEY_9262001"}``, optional
``base_url`` (default ``https://secure.pupilasset.com``). The API key is read from the environment
variable named by ``api_key_env`` and sent in an ``X-API-Key`` header [GUESS].

Guessed shape (read by ``connectors/lists_api.py``): JSON under ``/api/v1/schools/{school_id}``;
``/pupils?status=all`` (on roll and leavers), ``/attendance/sessions?from=&to=`` (session marks:
doubly a guess, the documented data area is attendance summaries), ``/exclusions``; page numbers until
a short page; errors as ``{"success": false, "error": "..."}`` with HTTP 200, detected here after
``get_json``. No change list is known, so every night is a full fetch of the academic year to date.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping
from urllib.parse import urlsplit

from ncc_transfer.connectors.base import RouteSettings
from ncc_transfer.connectors.http import ApiKeyHeader, VendorError, VendorSession, short_page
from ncc_transfer.connectors.lists_api import ListsApiConnector
from ncc_transfer.connectors.pupil_asset import mapping as M

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


class PupilAssetConnector(ListsApiConnector):
    route = ROUTE
    mapping = M
    default_base_url = M.DEFAULT_BASE_URL

    def auth(self, settings: RouteSettings) -> ApiKeyHeader:
        settings.require("school_id")
        return ApiKeyHeader(M.API_KEY_HEADER, settings.secret("api_key_env"),
                            name=settings.credential_name("api_key_env"))

    def pages(self, session: VendorSession, path: str, table: str, params: dict[str, Any]) -> Iterator[dict]:
        return short_page(CheckedSession(session), path, params,  # type: ignore[arg-type]
                          items_key=M.ITEMS_KEY, page_size=M.PAGE_SIZES[table], page_param=M.PAGE_PARAM,
                          size_param=M.SIZE_PARAM, first_page=M.FIRST_PAGE)


__all__ = ["CheckedSession", "PupilAssetConnector", "check_success"]
