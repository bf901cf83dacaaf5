"""``VendorError`` and the rule for what is temporary and what is not.

A failed call is *transient* when a later attempt can succeed without anyone changing anything: HTTP 429
Too Many Requests (RFC 6585 §4) and the 5xx answers a busy or restarting server gives (500, 502, 503, 504;
RFC 9110 §15.6). 401 and 403 (RFC 9110 §15.5.2, §15.5.4) and any other 4xx are permanent: the same
request would be refused again. Connection failures and timeouts are transient.

Every message names the route, method, URL path and status, never a body, a query string (it may carry
an API key) or a secret.
"""

from __future__ import annotations

import re
from typing import Any, Iterable
from urllib.parse import urlsplit

RETRY_STATUSES = (429, 500, 502, 503, 504)
_SHORT_CODE = re.compile(r"^[A-Za-z0-9_.:-]{1,60}$")


class VendorError(Exception):
    """A failed call to a vendor. The message names route, method, URL path and status only."""

    def __init__(
        self,
        route: str,
        problem: str,
        status: int | None = None,
        transient: bool = False,
        *,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.route = route
        self.problem = problem
        self.status = status
        self.transient = transient
        self.method = method
        self.path = path
        where = " ".join(p for p in (method, path) if p)
        parts = [where] if where else []
        if status is not None:
            parts.append(f"HTTP {status}")
        suffix = f" [{', '.join(parts)}]" if parts else ""
        super().__init__(f"{route}: {problem}{suffix}")


def is_transient_status(status: int, retrying: Iterable[int] = RETRY_STATUSES) -> bool:
    """True for a status a later attempt may get past (429 and the 5xx a busy server gives)."""
    return status in retrying


def status_problem(status: int, *, retries: int | None, retrying: Iterable[int] = RETRY_STATUSES,
                   reauthenticated: bool = False) -> tuple[str, bool]:
    """(problem, transient?) for a non-2xx status the adapter's retries did not get past."""
    if is_transient_status(status, retrying):
        return f"gave up after {retries} retries", True
    if status == 401:
        return ("unauthorised after one re-authentication" if reauthenticated else "unauthorised"), False
    if status == 403:
        return "forbidden", False
    return "unexpected status", False


def _path_of(url: str) -> str:
    """The URL path alone: no query string (it may carry an API key), no credentials."""
    return urlsplit(url).path or "/"


def _origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port): the origin of RFC 6454 §4, the unit credentials may travel within."""
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme, 0)
    return scheme, (parts.hostname or "").lower(), port


def _short_code(value: Any) -> str | None:
    """``value`` when it is a short code (an error code, a fault code) fit to repeat in a message."""
    return value if isinstance(value, str) and _SHORT_CODE.match(value) else None
