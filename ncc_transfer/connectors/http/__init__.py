"""The shared HTTP layer every MIS connector uses, as small parts driven by one session and one loop.

* ``errors``: ``VendorError`` and what is temporary (429/5xx, RFC 6585 §4, RFC 9110 §15.6) and what is not.
* ``session``: ``make_session`` / ``VendorSession`` (urllib3 ``Retry``, timeouts, TLS always on, same-origin
  redirects, a token bucket per credential) and ``check_body`` (errors dressed as a 200).
* ``auth``: the auth strategies (bearer RFC 6750, Basic RFC 7617, API key header, OAuth2 client credentials
  and refresh-token grants RFC 6749, a vendor token endpoint).
* ``paginators``: one class per paging style and the one loop, ``paginate``, that drives them.
* ``soap``: SOAP 1.1/1.2 envelopes, body credentials and Fault classification (Bromcom).

Connectors import from here (``from .http import ...``); the names below are the package's public face.
"""

from __future__ import annotations

from .auth import (
    TOKEN_REFRESH_MARGIN_SECONDS,
    ApiKeyHeader,
    AuthStrategy,
    Basic,
    Combined,
    HeaderAuth,
    OAuth2ClientCredentials,
    OAuth2RefreshToken,
    StaticBearer,
    TokenEndpoint,
)
from .errors import RETRY_STATUSES, VendorError, _origin, _path_of, is_transient_status, status_problem
from .paginators import (
    MAX_PAGES,
    NextLinkPaginator,
    ODataPaginator,
    PageCountPaginator,
    PageRequest,
    Paginator,
    PagingError,
    ShortPagePaginator,
    dig,
    next_link,
    odata,
    page_count,
    paginate,
    short_page,
)
from .session import TokenBucket, VendorSession, bucket_for, check_body, make_session
from .soap import (
    SOAP11,
    SOAP12,
    SOAP_ENVELOPE_NS,
    SoapBodyCredentials,
    classify_fault,
    parse_soap,
    safe_xml_parser,
    soap_call,
    soap_envelope,
    soap_fault,
    soap_headers,
)

__all__ = [
    "TOKEN_REFRESH_MARGIN_SECONDS", "ApiKeyHeader", "AuthStrategy", "Basic", "Combined", "HeaderAuth",
    "OAuth2ClientCredentials", "OAuth2RefreshToken", "StaticBearer", "TokenEndpoint",
    "RETRY_STATUSES", "VendorError", "_origin", "_path_of", "is_transient_status", "status_problem",
    "MAX_PAGES", "NextLinkPaginator", "ODataPaginator", "PageCountPaginator", "PageRequest", "Paginator",
    "PagingError", "ShortPagePaginator", "dig", "next_link", "odata", "page_count", "paginate", "short_page",
    "TokenBucket", "VendorSession", "bucket_for", "check_body", "make_session",
    "SOAP11", "SOAP12", "SOAP_ENVELOPE_NS", "SoapBodyCredentials", "classify_fault", "parse_soap",
    "safe_xml_parser", "soap_call", "soap_envelope", "soap_fault", "soap_headers",
]
