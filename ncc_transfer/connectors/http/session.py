"""The session every vendor call goes through: ``make_session`` builds a ``VendorSession``.

* Retries live in the transport adapter as urllib3's ``Retry`` (429/5xx with exponential backoff,
  ``Retry-After`` honoured; https://urllib3.readthedocs.io/en/stable/reference/urllib3.util.html), mounted
  with requests' ``HTTPAdapter(max_retries=...)``
  (https://requests.readthedocs.io/en/latest/user/advanced/#transport-adapters): no hand-rolled retry loop.
* Connect and read timeouts on every request (requests sends none by default:
  https://requests.readthedocs.io/en/latest/user/advanced/#timeouts).
* TLS certificate verification that cannot be switched off.
* Redirects followed only within the first request's origin (RFC 6454): any header may hold a credential.
* An optional token bucket rate limit shared by every session using one credential.
* A 401 re-authenticates once with a refreshable strategy (a cached token may have been revoked early;
  RFC 6750 §3.1 ``invalid_token``).
* ``check_body`` finds errors inside a 200: HTML maintenance pages, XoD ``ExceptionMessage``, GraphQL
  ``errors`` (https://spec.graphql.org/October2021/#sec-Errors), an OData ``{"error": {"code", "message"}}``
  object (OData JSON Format v4.01 §21, SIMS V3), and bodies that are not JSON (a truncated page).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError
from urllib3.util.retry import Retry

from .errors import RETRY_STATUSES, VendorError, _origin, _path_of, _short_code, status_problem, unreachable

if TYPE_CHECKING:
    from .auth import AuthStrategy


# --------------------------------------------------------------------------------------- rate limit


class TokenBucket:
    """A thread-safe token bucket: ``rate`` requests a second, bursts of up to ``capacity``."""

    def __init__(self, rate: float, capacity: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Take a token, waiting for one."""
        while (wait := self.take()) > 0:
            time.sleep(wait)

    def take(self) -> float:
        """Take a token if there is one (0.0); else take none and return the seconds until there is."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate


_BUCKETS: dict[str, TokenBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def bucket_for(credential: str, rate: float) -> TokenBucket:
    """The one bucket for a credential name; a later, stricter rate tightens it."""
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(credential)
        if bucket is None:
            bucket = _BUCKETS[credential] = TokenBucket(rate)
        elif rate < bucket.rate:
            bucket.rate = float(rate)
        return bucket


class _AuthHook(requests.auth.AuthBase):
    """Bridges a strategy to requests; remembers which token it used (for the 401 re-auth)."""

    def __init__(self, strategy: AuthStrategy, session: "VendorSession") -> None:
        self.strategy = strategy
        self.session = session
        self.used: Any = None

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self.used = self.strategy.apply(request.headers, self.session)
        return request


class _NoAuth(requests.auth.AuthBase):
    """Explicitly no credentials (and no ~/.netrc lookup)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


# ------------------------------------------------------------------------------------------ session


class VendorSession(requests.Session):
    """A requests session with retries, timeouts, TLS on, origin-pinned redirects and a rate limit."""

    def __init__(self, base_url: str, auth: AuthStrategy | None, *, route: str, timeout: tuple[float, float],
                 retry: Retry, bucket: TokenBucket | None) -> None:
        super().__init__()
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.strategy = auth
        self.route = route
        self.timeout = timeout
        self.retry = retry
        self.bucket = bucket
        adapter = HTTPAdapter(max_retries=retry)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        # For requests that must not be re-sent once the server may have acted on them (a rotating
        # refresh token is spent by the first attempt even if its answer is lost): no read retries.
        self._no_read_retry = HTTPAdapter(max_retries=retry.new(read=0))
        self._local = threading.local()

    # TLS verification is always on: the attribute cannot be set to anything falsy.
    @property
    def verify(self) -> Any:  # type: ignore[override]
        return self.__dict__.get("_verify", True)

    @verify.setter
    def verify(self, value: Any) -> None:
        if not value:
            raise ValueError("TLS verification cannot be turned off")
        self.__dict__["_verify"] = value

    def __repr__(self) -> str:
        return f"VendorSession(route={self.route!r}, base={_path_of(self.base_url)!r}, auth={self.strategy!r})"

    def url_for(self, url: str) -> str:
        """A connector's path, relative to the base URL even with a leading ``/`` (a vendor mounted
        under a path prefix, e.g. the simulator's ``/xporter``); absolute URLs are kept as they are."""
        if url.startswith("/") and not url.startswith("//"):
            url = url.lstrip("/")
        return urljoin(self.base_url, url)

    def from_host(self, href: str) -> str:
        """A link the vendor gave relative to its host (``/rest-v2/students/1``), made absolute."""
        return urljoin(self.base_url, href)

    def _prepare_kwargs(self, kwargs: dict[str, Any]) -> None:
        if kwargs.get("verify", True) is False:
            raise ValueError("TLS verification cannot be turned off")
        kwargs.pop("verify", None)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        kwargs.setdefault("allow_redirects", True)

    def _send(self, method: str, url: str, auth: requests.auth.AuthBase, kwargs: dict[str, Any]):
        if self.bucket is not None:
            self.bucket.acquire()
        try:
            return super().request(method, url, auth=auth, **kwargs)
        except VendorError:
            raise
        except requests.exceptions.Timeout as exc:
            self._raise_if_unreachable(exc, method, url, kwargs)
            problem = f"timed out ({type(exc).__name__})"
        except requests.exceptions.RetryError:
            problem = "gave up after retries"
        except requests.exceptions.SSLError:
            problem = "TLS verification failed"
        except requests.exceptions.ConnectionError as exc:
            self._raise_if_unreachable(exc, method, url, kwargs)
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            if isinstance(reason, (ReadTimeoutError, ConnectTimeoutError)):
                problem = f"timed out ({type(reason).__name__})"
            else:
                problem = f"connection failed ({type(reason or exc).__name__})"
        except requests.exceptions.RequestException as exc:
            problem = f"request failed ({type(exc).__name__})"
        # ``from None``: requests' own messages carry the full URL, query string included.
        raise VendorError(self.route, problem, None, True, method=method.upper(), path=_path_of(url)) from None

    def _raise_if_unreachable(self, exc: Exception, method: str, url: str, kwargs: dict[str, Any]) -> None:
        """No connection could be made to the host: ``VendorUnreachable``, saying how (``unreachable``)."""
        timeout = kwargs.get("timeout")
        lost = unreachable(self.route, exc, url, method=method.upper(),
                           connect_timeout=timeout[0] if isinstance(timeout, tuple) else timeout)
        if lost is not None:
            raise lost from None  # requests' own messages carry the full URL, query string included

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """One logical request: retries happen inside the adapter; one re-auth on 401."""
        url = self.url_for(url)
        kwargs.pop("auth", None)
        self._prepare_kwargs(kwargs)
        if self.strategy is None:
            return self._send(method, url, _NoAuth(), kwargs)
        hook = _AuthHook(self.strategy, self)
        response = self._send(method, url, hook, kwargs)
        if response.status_code == 401 and self.strategy.refreshable:
            response.close()
            self.strategy.invalidate(hook.used)
            hook = _AuthHook(self.strategy, self)
            response = self._send(method, url, hook, kwargs)
            response.reauthenticated = True  # type: ignore[attr-defined]
        return response

    def send_unauthenticated(self, method: str, url: str, *, retry_reads: bool = True,
                             **kwargs: Any) -> requests.Response:
        """For token endpoints: same retries, timeouts, TLS and rate limit; no credentials attached.

        ``retry_reads=False``: a request whose answer was lost (read timeout, dropped connection) is not
        sent again, for grants the server spends on first use (rotating refresh tokens)."""
        url = self.url_for(url)
        self._prepare_kwargs(kwargs)
        kwargs["allow_redirects"] = False
        self._local.no_read_retry = not retry_reads
        try:
            return self._send(method, url, _NoAuth(), kwargs)
        finally:
            self._local.no_read_retry = False

    def close(self) -> None:
        self._no_read_retry.close()
        super().close()

    def get_adapter(self, url: str):  # type: ignore[override]
        if getattr(self._local, "no_read_retry", False):
            return self._no_read_retry
        return super().get_adapter(url)

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """Redirects are followed only within the same origin: any header may hold a credential."""
        if _origin(prepared_request.url or "") != _origin(response.request.url or ""):
            raise VendorError(self.route, "refused a redirect to another host (credentials would leak)",
                              response.status_code, False, method=(response.request.method or "").upper(),
                              path=_path_of(response.request.url or ""))

    def fetch(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """A request whose non-2xx status becomes a ``VendorError``; the body is not checked."""
        response = self.request(method, url, **kwargs)
        status = response.status_code
        if 200 <= status < 300:
            return response
        where = {"method": method.upper(), "path": _path_of(response.url or self.url_for(url))}
        response.close()
        problem, transient = status_problem(status, retries=self.retry.total,
                                            reauthenticated=getattr(response, "reauthenticated", False))
        raise VendorError(self.route, problem, status, transient, **where)

    def get_json(self, url: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """GET, raise on a bad status, and return the JSON body after ``check_body``."""
        return check_body(self.fetch("GET", url, params=params, **kwargs), self.route)

    def post_json(self, url: str, **kwargs: Any) -> Any:
        return check_body(self.fetch("POST", url, **kwargs), self.route)


def make_session(base_url: str, auth: AuthStrategy | None, *, connect_timeout: float = 10, read_timeout: float = 60,
                 max_retries: int = 4, backoff_factor: float = 1.0, rate_per_second: float | None = None,
                 credential: str | None = None, route: str | None = None,
                 retry_statuses: tuple[int, ...] = RETRY_STATUSES) -> VendorSession:
    """A ``VendorSession`` for one vendor base URL and credential.

    ``credential`` names the rate-limit bucket (default: the auth strategy's ``name``, else this session
    alone); every session with the same name shares one bucket. ``route`` names the MIS route in errors.
    """
    if connect_timeout is None or read_timeout is None:
        raise ValueError("timeouts are required")
    retry = Retry(total=max_retries, backoff_factor=backoff_factor, status_forcelist=tuple(retry_statuses),
                  allowed_methods=frozenset({"GET", "POST"}), respect_retry_after_header=True, raise_on_status=False)
    bucket = None
    if rate_per_second:
        key = credential or (auth.name if auth is not None else None)
        bucket = bucket_for(key, rate_per_second) if key else TokenBucket(rate_per_second)
    return VendorSession(base_url, auth, route=route or (urlsplit(base_url).hostname or "vendor"),
                         timeout=(connect_timeout, read_timeout), retry=retry, bucket=bucket)


# -------------------------------------------------------------------------------------- body checks


def check_body(response: requests.Response, route: str = "vendor") -> Any:
    """The parsed JSON body, or a ``VendorError`` for an error dressed as a 200."""
    where = {"method": (response.request.method or "GET").upper() if response.request else None,
             "path": _path_of(response.url or "")}
    status = response.status_code
    ctype = (response.headers.get("Content-Type") or "").lower()
    if "text/html" in ctype:
        raise VendorError(route, "HTML page instead of data (maintenance page?)", status, True, **where)
    try:
        data = response.json()
    except ValueError:
        raise VendorError(route, "body is not valid JSON (truncated page?)", status, True, **where) from None
    if isinstance(data, dict):
        if data.get("ExceptionMessage"):
            code = _short_code(data.get("ExceptionType"))
            problem = "vendor error in body (ExceptionMessage)" + (f", type {code}" if code else "")
            raise VendorError(route, problem, status, False, **where)
        error = data.get("error")
        if isinstance(error, dict) and ("code" in error or "message" in error):
            code = _short_code(error.get("code"))  # an OData error object (SIMS V3); the message is not shown
            raise VendorError(route, "OData error in body" + (f", code {code}" if code else ""), status, False,
                              **where)
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            first = errors[0] if isinstance(errors[0], dict) else {}
            ext = first.get("extensions") if isinstance(first.get("extensions"), dict) else {}
            code = _short_code(ext.get("code")) or _short_code(first.get("code"))
            problem = f"GraphQL errors in body ({len(errors)})" + (f", code {code}" if code else "")
            raise VendorError(route, problem, status, False, **where)
    return data
