"""The RM Integris route: a GUESSED direct API (what little is known: ``mapping.py``).

No public Integris API documentation exists. **Prefer the Wonde or Groupcall route for Integris
schools** until RM supplies partner docs; ``mapping.py`` says what to ask for and holds every
path, parameter and field name (all GUESS), so a real payload corrects this route there.

Registry settings: ``source: {school_id: "...", client_id_env: "INTEGRIS_CLIENT_9262001",
client_secret_env: "INTEGRIS_SECRET_9262001", base_url: "https://..."}``; ``base_url`` is required (no
default is known); optional ``token_url`` (default ``<base_url>/oauth/token``, a GUESS).

Guessed shape (read by ``connectors/lists_api.py``): OAuth2 client credentials (one re-authentication
on a 401); JSON under ``/api/v1/schools/{school_id}``: ``/students?includeLeavers=true``,
``/attendance?fromDate=&toDate=``, ``/exclusions``; page numbers up to ``totalPages`` in the body. No
error-in-a-200 shape is known. No change list is known, so every night is a full fetch of the
academic year to date.
"""

from __future__ import annotations

from typing import Any, Iterator

from ncc_transfer.connectors.base import RouteSettings
from ncc_transfer.connectors.http import OAuth2ClientCredentials, VendorSession, page_count
from ncc_transfer.connectors.integris import mapping as M
from ncc_transfer.connectors.lists_api import ListsApiConnector

ROUTE = "integris"


class IntegrisConnector(ListsApiConnector):
    route = ROUTE
    mapping = M
    default_base_url = None  # no public Integris API host is known: base_url is required

    def auth(self, settings: RouteSettings) -> OAuth2ClientCredentials:
        settings.require("school_id")
        token_url = settings.get("token_url") or settings.base_url + M.TOKEN_PATH
        return OAuth2ClientCredentials(token_url, settings.secret("client_id_env"),
                                       settings.secret("client_secret_env"), M.SCOPE,
                                       name=settings.credential_name("client_id_env"))

    def pages(self, session: VendorSession, path: str, table: str, params: dict[str, Any]) -> Iterator[dict]:
        return page_count(session, path, params, items_key=M.ITEMS_KEY, total_pages_key=M.TOTAL_PAGES_KEY,
                          page_param=M.PAGE_PARAM, size_param=M.SIZE_PARAM, page_size=M.PAGE_SIZES[table],
                          first_page=M.FIRST_PAGE)


__all__ = ["IntegrisConnector"]
