"""``VendorError`` and the rule for what is temporary and what is not.

A failed call is *transient* when a later attempt can succeed without anyone changing anything: HTTP 429
Too Many Requests (RFC 6585 §4) and the 5xx answers a busy or restarting server gives (500, 502, 503, 504;
RFC 9110 §15.6). 401 and 403 (RFC 9110 §15.5.2, §15.5.4) and any other 4xx are permanent: the same
request would be refused again. Connection failures and timeouts are transient.

A vendor host that cannot be connected to at all is ``VendorUnreachable``, saying how: it refused the
connection, its name did not resolve (DNS), or it did not accept the connection in time
(``unreachable``). urllib3 2 makes its ``NewConnectionError`` a subclass of ``ConnectTimeoutError``, so a
refused connection is told from a timeout by its cause, not by that class.

Every message names the route, method, URL path and status, never a body, a query string (it may carry
an API key) or a secret.
"""

from __future__ import annotations

import errno
import re
import socket
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


class VendorUnreachable(VendorError):
    """The vendor's host could not be connected to: ``how`` is "refused", "dns", "timeout" or "network".
    Transient (the host may be back later); ``host`` and ``port`` say where the request went."""

    def __init__(self, route: str, host: str, port: int, how: str, detail: str, *, method: str | None = None,
                 path: str | None = None) -> None:
        self.host, self.port, self.how, self.detail = host, port, how, detail
        super().__init__(route, f"vendor host unreachable: {host}:{port} {detail}", None, True, method=method, path=path)


def unreachable(route: str, exc: BaseException, url: str, *, connect_timeout: float | None = None,
                method: str | None = None) -> VendorUnreachable | None:
    """``VendorUnreachable`` when ``exc`` (from requests or urllib3) means no connection to the host
    could be made; None when a connection was made (a read timeout, a dropped answer) or for anything
    else. The host and port are the URL's, never its path's query or credentials."""
    reason = _connect_failure(exc)
    if reason is None:
        return None
    _, host, port = _origin(url)
    cause = reason.__cause__ or reason.__context__
    if _is_name_resolution(reason):
        how, detail = "dns", "could not be resolved (DNS lookup failed)"
    elif isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
        how, detail = "refused", "refused the connection"
    elif _is_connect_timeout(reason):
        within = f" within {connect_timeout:g} s" if connect_timeout else ""
        how, detail = "timeout", f"did not accept the connection{within} (timed out)"
    else:
        code = getattr(cause, "errno", None)
        name = errno.errorcode.get(code, type(cause or reason).__name__) if code else type(cause or reason).__name__
        how, detail = "network", f"could not be connected to ({name})"
    return VendorUnreachable(route, host, port, how, detail, method=method, path=_path_of(url))


def _connect_failure(exc: BaseException) -> BaseException | None:
    """The urllib3 error behind ``exc`` when it is a failure to connect (not a read timeout)."""
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

    seen = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    reason = getattr(seen, "reason", None) if isinstance(seen, MaxRetryError) else seen
    if isinstance(reason, (NewConnectionError, ConnectTimeoutError)):
        return reason
    return None


def _is_name_resolution(reason: BaseException) -> bool:
    from urllib3.exceptions import NameResolutionError

    return isinstance(reason, NameResolutionError) or isinstance(reason.__cause__, socket.gaierror)


def _is_connect_timeout(reason: BaseException) -> bool:
    from urllib3.exceptions import NewConnectionError

    return not isinstance(reason, NewConnectionError) or isinstance(reason.__cause__, TimeoutError)


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
