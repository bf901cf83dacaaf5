"""The shared HTTP layer every MIS connector uses.

* ``make_session`` builds a ``VendorSession``: a ``requests.Session`` whose adapter carries urllib3's
  ``Retry`` (429/5xx with backoff, ``Retry-After`` honoured; no hand-rolled retry loop), connect and read
  timeouts on every request, TLS verification that cannot be switched off, redirects followed only within
  the same origin, and an optional token-bucket rate limit shared by every session using one credential.
* Auth strategies: ``StaticBearer``, ``Basic``, ``ApiKeyHeader``, ``TokenEndpoint`` and
  ``OAuth2ClientCredentials``. The last two fetch a token, cache it until it expires and re-authenticate
  once on a 401. Secrets are handed in by the caller (resolved from environment variable *names*) and
  never appear in a repr, a log line or an exception.
* Pagination strategies, as generators of items: ``next_link`` (next URL in the body, pinned to the first
  request's origin), ``page_count`` (page numbers up to a total in the body), ``odata`` ($top/$skip) and
  ``short_page`` (page numbers until a page comes back short).
* ``check_body`` finds errors inside a 200: HTML maintenance pages, XoD ``ExceptionMessage``, GraphQL
  ``errors``, an OData ``{"error": {"code", "message"}}`` object (SIMS V3), and bodies that are not JSON
  (a truncated page).
* SOAP (Bromcom's ASMX service): ``SoapBodyCredentials`` (credentials inside every SOAP body, none in a
  header) and ``soap_call`` (one SOAP 1.1/1.2 call: HTML pages, truncated bodies and SOAP Faults become
  ``VendorError``s naming the faultcode only; XML parsed with a parser that resolves no entities and
  touches no network).

Every failure is a ``VendorError`` naming the route, method, URL path and status, never a body, a query
string or a secret.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping, Sequence
from urllib.parse import urljoin, urlsplit

import requests
from lxml import etree
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError
from urllib3.util.retry import Retry

RETRY_STATUSES = (429, 500, 502, 503, 504)
TOKEN_REFRESH_MARGIN_SECONDS = 60.0
MAX_PAGES = 100_000  # a guard against a vendor that never stops paging
_SHORT_CODE = re.compile(r"^[A-Za-z0-9_.:-]{1,60}$")


# --------------------------------------------------------------------------------------------- errors


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


def _path_of(url: str) -> str:
    """The URL path alone: no query string (it may carry an API key), no credentials."""
    return urlsplit(url).path or "/"


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme, 0)
    return scheme, (parts.hostname or "").lower(), port


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
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                wait = (1.0 - self._tokens) / self.rate
            time.sleep(wait)


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


# --------------------------------------------------------------------------------------------- auth


class AuthStrategy:
    """Adds credentials to a request. ``name`` is the credential's (non-secret) name, e.g. the env var."""

    name: str | None = None
    refreshable = False  # True when a 401 is worth one re-authentication

    def apply(self, headers: Any, session: "VendorSession") -> Any:
        raise NotImplementedError

    def invalidate(self, used: Any) -> None:  # pragma: no cover - only refreshable strategies use it
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, secret=<redacted>)"


class StaticBearer(AuthStrategy):
    def __init__(self, token: str, *, scheme: str = "Bearer", name: str | None = None) -> None:
        self._token = token
        self.scheme = scheme
        self.name = name

    def apply(self, headers: Any, session: "VendorSession") -> Any:
        headers["Authorization"] = f"{self.scheme} {self._token}"
        return None


class Basic(AuthStrategy):
    def __init__(self, user: str, password: str, *, name: str | None = None) -> None:
        self._user = user
        self._password = password
        self.name = name

    def apply(self, headers: Any, session: "VendorSession") -> Any:
        headers["Authorization"] = requests.auth._basic_auth_str(self._user, self._password)
        return None


class ApiKeyHeader(AuthStrategy):
    def __init__(self, header: str, key: str, *, name: str | None = None) -> None:
        self.header = header
        self._key = key
        self.name = name

    def apply(self, headers: Any, session: "VendorSession") -> Any:
        headers[self.header] = self._key
        return None

    def __repr__(self) -> str:
        return f"ApiKeyHeader(header={self.header!r}, name={self.name!r}, key=<redacted>)"


class Combined(AuthStrategy):
    """Several strategies at once, e.g. SIMS: OAuth2 bearer plus an APIM subscription-key header."""

    def __init__(self, *parts: AuthStrategy, name: str | None = None) -> None:
        self.parts = parts
        self.name = name or next((p.name for p in parts if p.name), None)
        self.refreshable = any(p.refreshable for p in parts)

    def apply(self, headers: Any, session: "VendorSession") -> Any:
        return [p.apply(headers, session) for p in self.parts]

    def invalidate(self, used: Any) -> None:
        for part, token in zip(self.parts, used or []):
            if part.refreshable:
                part.invalidate(token)

    def __repr__(self) -> str:
        return f"Combined({', '.join(repr(p) for p in self.parts)})"


class TokenEndpoint(AuthStrategy):
    """POST credentials to a token endpoint; cache the token until it expires; re-auth once on a 401.

    ``body`` is a dict, or a callable returning one (so the secret can be read at fetch time). The token
    is read from ``token_field``; the expiry from ``expiry_field``, either seconds from now (a number,
    as OAuth2 ``expires_in``) or an ISO timestamp (XoD ``expires``). No expiry: cached until a 401.
    """

    refreshable = True

    def __init__(
        self,
        url: str,
        body: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
        expiry_field: str | None = "expires",
        *,
        token_field: str = "token",
        scheme: str = "Bearer",
        form: bool = False,
        name: str | None = None,
    ) -> None:
        self.url = url
        self._body = body
        self.expiry_field = expiry_field
        self.token_field = token_field
        self.scheme = scheme
        self.form = form
        self.name = name
        self._token: str | None = None
        self._expires_at: float | None = None  # time.time() seconds
        self._lock = threading.Lock()
        self.fetches = 0

    def __repr__(self) -> str:
        state = "cached" if self._token else "none"
        return f"{type(self).__name__}(url={_path_of(self.url)!r}, name={self.name!r}, token=<{state}>)"

    def _fresh(self) -> bool:
        if self._token is None:
            return False
        if self._expires_at is None:
            return True
        return time.time() < self._expires_at - TOKEN_REFRESH_MARGIN_SECONDS

    def token(self, session: "VendorSession") -> str:
        with self._lock:
            if not self._fresh():
                self._fetch(session)
            assert self._token is not None
            return self._token

    def apply(self, headers: Any, session: "VendorSession") -> Any:
        token = self.token(session)
        headers["Authorization"] = f"{self.scheme} {token}"
        return token

    def invalidate(self, used: Any) -> None:
        with self._lock:
            if used is None or used == self._token:  # another thread may have refreshed already
                self._token = None
                self._expires_at = None

    def _payload(self) -> dict[str, Any]:
        body = self._body() if callable(self._body) else self._body
        return dict(body)

    def _fetch(self, session: "VendorSession") -> None:
        payload = self._payload()
        kwargs = {"data": payload} if self.form else {"json": payload}
        response = session.send_unauthenticated("POST", self.url, **kwargs)
        where = {"method": "POST", "path": _path_of(self.url)}
        if response.status_code != 200:
            transient = response.status_code in RETRY_STATUSES
            raise VendorError(
                session.route, "token endpoint refused", response.status_code, transient, **where
            )
        data = check_body(response, session.route)
        token = data.get(self.token_field) if isinstance(data, dict) else None
        if not token or not isinstance(token, str):
            raise VendorError(session.route, f"token endpoint gave no {self.token_field!r}", 200, **where)
        self._token = token
        self._expires_at = self._parse_expiry(data.get(self.expiry_field) if self.expiry_field else None)
        self.fetches += 1

    @staticmethod
    def _parse_expiry(value: Any) -> float | None:
        if value is None or value == "":
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return time.time() + float(value)
        if isinstance(value, str):
            try:
                return time.time() + float(value)
            except ValueError:
                pass
            try:
                stamp = datetime.fromisoformat(value)
            except ValueError:
                return None  # unknown shape: cache until a 401
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=timezone.utc)
            return stamp.timestamp()
        return None


class OAuth2ClientCredentials(TokenEndpoint):
    """OAuth2 client credentials grant, credentials in the form body (RFC 6749 §4.4)."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        *,
        name: str | None = None,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = scope

        def body() -> dict[str, str]:
            form = {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._client_secret,
            }
            if self.scope:
                form["scope"] = self.scope
            return form

        super().__init__(
            token_url, body, "expires_in", token_field="access_token", form=True, name=name or client_id
        )


class OAuth2RefreshToken(TokenEndpoint):
    """OAuth2 refresh-token grant (RFC 6749 §6), client credentials in the form body (ScholarPack).

    ``refresh_tokens`` are the candidates in order of preference (e.g. the newest one kept in the state
    folder, then the one an admin put in the environment at onboarding); a candidate the server refuses
    with ``invalid_grant`` is dropped for the next one, once each. After a success the token in use is
    the only candidate. A server that rotates refresh tokens answers with a new ``refresh_token``: it
    replaces the one used and is handed to ``persist`` straight away (the old one is dead by then), as
    is a candidate that worked but differs from ``persisted`` (what ``persist`` last saved).

    When every candidate is refused the error is not transient and its problem is ``refused_hint``
    (e.g. which variable needs a newly authorised token); it never includes a token.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_tokens: Sequence[str],
        *,
        persist: Callable[[str], None] | None = None,
        persisted: str | None = None,
        refused_hint: str = "the refresh token was refused; the app must be authorised again",
        name: str | None = None,
    ) -> None:
        super().__init__(token_url, {}, "expires_in", token_field="access_token", form=True,
                         name=name or client_id)
        self.client_id = client_id
        self._client_secret = client_secret
        self._candidates = list(dict.fromkeys(t for t in refresh_tokens if t))  # unique, in order
        if not self._candidates:
            raise ValueError("a refresh token is required")
        self._persist = persist
        self._persisted = persisted
        self.refused_hint = refused_hint

    def _payload(self) -> dict[str, Any]:
        return {"grant_type": "refresh_token", "refresh_token": self._candidates[0],
                "client_id": self.client_id, "client_secret": self._client_secret}

    @staticmethod
    def _error_code(response: requests.Response) -> str | None:
        """The OAuth2 ``error`` of a refusal (RFC 6749 §5.2), if it is a short code."""
        try:
            data = response.json()
        except ValueError:
            return None
        return _short_code(data.get("error")) if isinstance(data, dict) else None

    def _fetch(self, session: "VendorSession") -> None:
        where = {"method": "POST", "path": _path_of(self.url)}
        while True:
            response = session.send_unauthenticated("POST", self.url, data=self._payload(), retry_reads=False)
            if response.status_code == 200:
                break
            code = self._error_code(response)
            response.close()
            if response.status_code in (400, 401) and code == "invalid_grant":
                self._candidates.pop(0)
                if self._candidates:
                    continue  # once per candidate: the next one in order of preference
                raise VendorError(session.route, f"refresh token refused (invalid_grant): {self.refused_hint}",
                                  response.status_code, False, **where)
            transient = response.status_code in RETRY_STATUSES
            problem = "token endpoint refused" + (f" ({code})" if code else "")
            raise VendorError(session.route, problem, response.status_code, transient, **where)
        data = check_body(response, session.route)
        token = data.get("access_token") if isinstance(data, dict) else None
        if not token or not isinstance(token, str):
            raise VendorError(session.route, "token endpoint gave no 'access_token'", 200, **where)
        rotated = data.get("refresh_token")
        self._candidates = [rotated if isinstance(rotated, str) and rotated else self._candidates[0]]
        self._token = token
        self._expires_at = self._parse_expiry(data.get("expires_in"))
        self.fetches += 1
        if self._persist is not None and self._candidates[0] != self._persisted:
            try:
                self._persist(self._candidates[0])
            except OSError as exc:
                raise VendorError(session.route, f"could not keep the new refresh token ({type(exc).__name__}); "
                                  "the one used is spent: check the state folder", None, False, **where) from None
            self._persisted = self._candidates[0]


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

    def __init__(
        self,
        base_url: str,
        auth: AuthStrategy | None,
        *,
        route: str,
        timeout: tuple[float, float],
        retry: Retry,
        bucket: TokenBucket | None,
    ) -> None:
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
            problem = f"timed out ({type(exc).__name__})"
        except requests.exceptions.RetryError:
            problem = "gave up after retries"
        except requests.exceptions.SSLError:
            problem = "TLS verification failed"
        except requests.exceptions.ConnectionError as exc:
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            if isinstance(reason, (ReadTimeoutError, ConnectTimeoutError)):
                problem = f"timed out ({type(reason).__name__})"
            else:
                problem = f"connection failed ({type(reason or exc).__name__})"
        except requests.exceptions.RequestException as exc:
            problem = f"request failed ({type(exc).__name__})"
        # ``from None``: requests' own messages carry the full URL, query string included.
        raise VendorError(self.route, problem, None, True, method=method.upper(), path=_path_of(url)) from None

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
            raise VendorError(
                self.route,
                "refused a redirect to another host (credentials would leak)",
                response.status_code,
                False,
                method=(response.request.method or "").upper(),
                path=_path_of(response.request.url or ""),
            )

    def fetch(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """A request whose non-2xx status becomes a ``VendorError``; the body is not checked."""
        response = self.request(method, url, **kwargs)
        status = response.status_code
        if 200 <= status < 300:
            return response
        where = {"method": method.upper(), "path": _path_of(response.url or self.url_for(url))}
        response.close()
        if status in RETRY_STATUSES:
            problem = f"gave up after {self.retry.total} retries"
            raise VendorError(self.route, problem, status, True, **where)
        if status == 401:
            problem = (
                "unauthorised after one re-authentication"
                if getattr(response, "reauthenticated", False)
                else "unauthorised"
            )
            raise VendorError(self.route, problem, status, False, **where)
        if status == 403:
            raise VendorError(self.route, "forbidden", status, False, **where)
        raise VendorError(self.route, "unexpected status", status, False, **where)

    def get_json(self, url: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """GET, raise on a bad status, and return the JSON body after ``check_body``."""
        return check_body(self.fetch("GET", url, params=params, **kwargs), self.route)

    def post_json(self, url: str, **kwargs: Any) -> Any:
        return check_body(self.fetch("POST", url, **kwargs), self.route)


def make_session(
    base_url: str,
    auth: AuthStrategy | None,
    *,
    connect_timeout: float = 10,
    read_timeout: float = 60,
    max_retries: int = 4,
    backoff_factor: float = 1.0,
    rate_per_second: float | None = None,
    credential: str | None = None,
    route: str | None = None,
    retry_statuses: tuple[int, ...] = RETRY_STATUSES,
) -> VendorSession:
    """A ``VendorSession`` for one vendor base URL and credential.

    ``credential`` names the rate-limit bucket (default: the auth strategy's ``name``, else this session
    alone); every session with the same name shares one bucket. ``route`` names the MIS route in errors.
    """
    if connect_timeout is None or read_timeout is None:
        raise ValueError("timeouts are required")
    retry = Retry(
        total=max_retries,
        backoff_factor=backoff_factor,
        status_forcelist=tuple(retry_statuses),
        allowed_methods=frozenset({"GET", "POST"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    bucket = None
    if rate_per_second:
        key = credential or (auth.name if auth is not None else None)
        bucket = bucket_for(key, rate_per_second) if key else TokenBucket(rate_per_second)
    return VendorSession(
        base_url,
        auth,
        route=route or (urlsplit(base_url).hostname or "vendor"),
        timeout=(connect_timeout, read_timeout),
        retry=retry,
        bucket=bucket,
    )


# -------------------------------------------------------------------------------------- body checks


def _short_code(value: Any) -> str | None:
    return value if isinstance(value, str) and _SHORT_CODE.match(value) else None


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


# --------------------------------------------------------------------------------------- pagination


def dig(data: Any, key: str | None) -> Any:
    """``data`` at a dotted path (``"meta.pagination.next"``); list indexes allowed; None if absent."""
    if key is None:
        return data
    if "." not in key and isinstance(data, dict):  # the common case, on every field of every record
        return data.get(key)
    for part in key.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _items(session: VendorSession, data: Any, items_key: str | None, url: str) -> list:
    items = dig(data, items_key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise VendorError(session.route, f"{items_key!r} is not a list", 200, method="GET", path=_path_of(url))
    return items


def next_link(
    session: VendorSession,
    url: str,
    params: Mapping[str, Any] | None = None,
    *,
    items_key: str | None,
    next_key: str,
    page_size: int | None = None,
) -> Iterator[Any]:
    """Follow a next-page URL in the body (absolute or relative) until it is empty.

    A next URL on another scheme, host or port than the first request is refused: the credentials
    would go with it. ``page_size`` also stops on a short page.
    """
    current = session.url_for(url)
    origin = _origin(current)
    seen = {current}
    query: Mapping[str, Any] | None = params
    for _ in range(MAX_PAGES):
        data = session.get_json(current, params=query)
        items = _items(session, data, items_key, current)
        yield from items
        nxt = dig(data, next_key)
        if not nxt or not isinstance(nxt, str):
            return
        if page_size is not None and len(items) < page_size:
            return
        following = urljoin(current, nxt)
        if _origin(following) != origin:
            raise VendorError(
                session.route,
                "refused a next-page link to another host (credentials would leak)",
                200,
                False,
                method="GET",
                path=_path_of(current),
            )
        if following in seen:
            raise VendorError(session.route, "next-page link loops", 200, False, method="GET", path=_path_of(current))
        seen.add(following)
        current, query = following, None  # the next link carries its own query
    raise VendorError(session.route, f"more than {MAX_PAGES} pages", None, False, method="GET", path=_path_of(url))


def page_count(
    session: VendorSession,
    url: str,
    params: Mapping[str, Any] | None = None,
    *,
    items_key: str | None,
    total_pages_key: str,
    page_param: str = "page",
    size_param: str | None = "pageSize",
    page_size: int | None = None,
    first_page: int = 1,
) -> Iterator[Any]:
    """Page numbers from ``first_page`` up to the page count the body reports (e.g. XoD ``PageCount``)."""
    page = first_page
    for _ in range(MAX_PAGES):
        query = dict(params or {})
        query[page_param] = page
        if size_param and page_size:
            query[size_param] = page_size
        data = session.get_json(url, params=query)
        items = _items(session, data, items_key, url)
        yield from items
        total = dig(data, total_pages_key)
        try:
            last = int(total) + first_page - 1
        except (TypeError, ValueError):
            return  # no count: a single page
        if page >= last or not items:
            return
        page += 1
    raise VendorError(session.route, f"more than {MAX_PAGES} pages", None, False, method="GET", path=_path_of(url))


def short_page(
    session: VendorSession,
    url: str,
    params: Mapping[str, Any] | None = None,
    *,
    items_key: str | None,
    page_size: int,
    page_param: str = "page",
    size_param: str = "per_page",
    first_page: int = 1,
) -> Iterator[Any]:
    """Page numbers until a page has fewer than ``page_size`` items (no count or link in the body)."""
    if page_size <= 0:
        raise ValueError("page_size must be positive")
    page = first_page
    for _ in range(MAX_PAGES):
        query = dict(params or {})
        query[page_param] = page
        query[size_param] = page_size
        items = _items(session, session.get_json(url, params=query), items_key, url)
        yield from items
        if len(items) < page_size:
            return
        page += 1
    raise VendorError(session.route, f"more than {MAX_PAGES} pages", None, False, method="GET", path=_path_of(url))


def odata(
    session: VendorSession,
    url: str,
    params: Mapping[str, Any] | None = None,
    *,
    page_size: int,
    items_key: str = "value",
) -> Iterator[Any]:
    """OData v4 ``$top``/``$skip`` until a short page."""
    if page_size <= 0:
        raise ValueError("page_size must be positive")
    skip = 0
    for _ in range(MAX_PAGES):
        query = dict(params or {})
        query["$top"] = page_size
        query["$skip"] = skip
        data = session.get_json(url, params=query)
        items = _items(session, data, items_key, url)
        yield from items
        if len(items) < page_size:
            if isinstance(data, dict) and data.get("@odata.nextLink"):  # a server cap below $top: data would be lost
                raise VendorError(session.route, f"the server pages below $top={page_size} (@odata.nextLink on a "
                                  f"short page): lower the page size", 200, False, method="GET", path=_path_of(url))
            return
        skip += page_size
    raise VendorError(session.route, f"more than {MAX_PAGES} pages", None, False, method="GET", path=_path_of(url))


# --------------------------------------------------------------------------------------------- SOAP


SOAP11, SOAP12 = "1.1", "1.2"
SOAP_ENVELOPE_NS = {SOAP11: "http://schemas.xmlsoap.org/soap/envelope/",
                    SOAP12: "http://www.w3.org/2003/05/soap-envelope"}
# Fault texts that no retry will fix [GUESS: Bromcom's wording is not published; ASMX wraps every
# exception as "Server was unable to process request. ---> <message>" with a Server/Receiver faultcode].
_AUTH_FAULT = re.compile(r"log ?in|password|user ?name|credential|authenticat|unauthori[sz]|not authori[sz]ed", re.I)
_PERMISSION_FAULT = re.compile(r"permission|access (is )?denied|not (allowed|permitted)|forbidden", re.I)
_QUERY_FAULT = re.compile(r"syntax|invalid column|invalid object name|conversion failed|entity .*not (found|exist)",
                          re.I)
_CALLER_FAULT_CODES = {"Client", "Sender", "VersionMismatch", "MustUnderstand", "DataEncodingUnknown"}


class SoapBodyCredentials(AuthStrategy):
    """Credentials that travel inside every SOAP body (Bromcom's Read-Only Data Service), never in a header.

    ``operation(name, params)`` builds the operation element for an envelope: the school id first, the
    call's own parameters in order, then the username and password (ASMX reads parameters in the WSDL's
    sequence order). Every value is set as element text with lxml, so it is XML-escaped; no untrusted
    value is ever formatted into markup.
    """

    def __init__(self, username: str, password: str, school_id: str | int, *, namespace: str = "http://tempuri.org/",
                 fields: tuple[str, str, str] = ("schoolID", "username", "password"), name: str | None = None) -> None:
        self._username = username
        self._password = password
        self.school_id = str(school_id)
        self.namespace = namespace
        self.fields = fields
        self.name = name

    def apply(self, headers: Any, session: "VendorSession") -> Any:
        return None  # nothing in the headers: the credentials are in the body

    def operation(self, name: str, params: list[tuple[str, str | None]] | tuple = ()) -> etree._Element:
        """``<name xmlns=namespace><schoolID/>params...<username/><password/></name>``."""
        school_field, user_field, password_field = self.fields
        element = etree.Element(f"{{{self.namespace}}}{name}", nsmap={None: self.namespace})
        values = [(school_field, self.school_id), *params, (user_field, self._username),
                  (password_field, self._password)]
        for field_name, value in values:
            child = etree.SubElement(element, f"{{{self.namespace}}}{field_name}")
            try:
                child.text = "" if value is None else str(value)
            except ValueError:  # a control character lxml refuses; the value itself is never shown
                raise ValueError(f"SOAP parameter {field_name} holds characters XML cannot carry") from None
        return element

    def __repr__(self) -> str:
        return f"SoapBodyCredentials(name={self.name!r}, school_id={self.school_id!r}, secret=<redacted>)"


def soap_envelope(operation: etree._Element, version: str = SOAP12) -> bytes:
    """An envelope around one operation element, as UTF-8 bytes with an XML declaration."""
    ns = SOAP_ENVELOPE_NS[version]
    envelope = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap": ns})
    etree.SubElement(envelope, f"{{{ns}}}Body").append(operation)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def soap_headers(action: str, version: str = SOAP12) -> dict[str, str]:
    """SOAP 1.1: ``text/xml`` and a ``SOAPAction`` header; SOAP 1.2: the action inside the content type."""
    if version == SOAP11:
        return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
    return {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'}


def safe_xml_parser() -> etree.XMLParser:
    """A parser for untrusted XML: no entity resolution, no DTD loading, no network, libxml2's size limits."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def parse_soap(data: bytes) -> tuple[etree._Element, str]:
    """The envelope's root and SOAP version; ``etree.XMLSyntaxError`` when not well-formed, ``ValueError``
    when it holds a DTD or is not a SOAP envelope."""
    root = etree.fromstring(data, safe_xml_parser())
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or any(True for _ in root.iter(etree.Entity)):
        raise ValueError("a DTD or entity in a SOAP message")
    for version, ns in SOAP_ENVELOPE_NS.items():
        if root.tag == f"{{{ns}}}Envelope" and root.find(f"{{{ns}}}Body") is not None:
            return root, version
    raise ValueError("not a SOAP envelope")


def soap_fault(root: etree._Element, version: str) -> tuple[str, str] | None:
    """(faultcode, fault text) of a Fault in the envelope's Body, or None. The code is e.g. ``soap:Server``
    (1.1) or ``soap:Receiver`` (1.2)."""
    ns = SOAP_ENVELOPE_NS[version]
    fault = root.find(f"{{{ns}}}Body/{{{ns}}}Fault")
    if fault is None:
        return None
    if version == SOAP11:
        code, reason = fault.findtext("faultcode"), fault.findtext("faultstring")
    else:
        code = fault.findtext(f"{{{ns}}}Code/{{{ns}}}Value")
        reason = " ".join(t.text or "" for t in fault.iterfind(f"{{{ns}}}Reason/{{{ns}}}Text"))
    return (code or "").strip(), reason or ""


def classify_fault(code: str, reason: str) -> tuple[str, bool]:
    """(what kind of fault, transient?) from a Fault's code and text; the text is read, never repeated.

    Authentication, permission and query faults, and faults blaming the caller (Client/Sender), are not
    transient: a retry sends the same request. Any other server fault (an exception inside the service,
    e.g. a database timeout) is transient: tomorrow, or the run's retry, may succeed. [GUESS: ASMX gives
    both a Server/Receiver code; the text decides.]
    """
    if _AUTH_FAULT.search(reason):
        return "authentication refused: check the Third Party user's username and password", False
    if _PERMISSION_FAULT.search(reason):
        return "permission refused: the school must grant the Third Party user read access", False
    if _QUERY_FAULT.search(reason):
        return "the entity or its filter was rejected", False
    if code.rpartition(":")[2] in _CALLER_FAULT_CODES:
        return "request rejected", False
    return "server fault", True


def soap_call(session: VendorSession, path: str, action: str, operation: etree._Element, *,
              version: str = SOAP12, label: str | None = None) -> etree._Element:
    """POST one SOAP call and return the Body's first element (the operation's response element).

    Retries (429/5xx as the session's ``Retry`` allows) happen in the adapter. Then: an HTML page ->
    transient; a body that is not well-formed XML (a truncated response) -> transient; a SOAP Fault (ASMX
    answers every fault with HTTP 500) -> ``classify_fault``, named by its faultcode only; a 500 without a
    Fault -> transient. ``label`` (e.g. the operation and entity) prefixes the problem; the message never
    holds the body, the fault text or a credential.
    """
    prefix = f"{label}: " if label else ""
    response = session.request("POST", path, data=soap_envelope(operation, version),
                               headers=soap_headers(action, version))
    status = response.status_code
    where = {"method": "POST", "path": _path_of(response.url or session.url_for(path))}

    def error(problem: str, transient: bool) -> VendorError:
        return VendorError(session.route, prefix + problem, status, transient, **where)

    try:
        if "text/html" in (response.headers.get("Content-Type") or "").lower():
            raise error("HTML page instead of a SOAP response (maintenance page?)", True)
        if status in (200, 500):
            try:
                root, got = parse_soap(response.content)
            except etree.XMLSyntaxError:
                if status == 200:
                    raise error("body is not well-formed XML (truncated response?)", True) from None
                root = None
            except ValueError as exc:
                if status == 200:
                    raise error(f"unexpected response ({exc})", False) from None
                root = None
            fault = soap_fault(root, got) if root is not None else None
            if fault is not None:
                kind, transient = classify_fault(*fault)
                raise error(f"SOAP Fault {_short_code(fault[0]) or '(no code)'} ({kind})", transient)
            if status == 200:
                body = root.find(f"{{{SOAP_ENVELOPE_NS[got]}}}Body")
                answer = next(iter(body), None)
                if answer is None:
                    raise error("empty SOAP Body", False)
                return answer
        if status in session.retry.status_forcelist:
            raise error(f"gave up after {session.retry.total} retries", True)
        if status == 500:
            raise error("server error without a SOAP Fault", True)
        if status == 401:
            raise error("unauthorised", False)
        if status == 403:
            raise error("forbidden", False)
        raise error("unexpected status", False)
    finally:
        response.close()
