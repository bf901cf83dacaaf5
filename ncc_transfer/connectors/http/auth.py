"""Auth strategies: each adds one vendor's credentials to a request (``apply``) and, when it holds a
token that can expire, drops it on a 401 so the session re-authenticates once (``invalidate``).

* ``StaticBearer``: a fixed token in ``Authorization: Bearer ...`` (RFC 6750 §2.1; Wonde).
* ``Basic``: user and password, HTTP Basic (RFC 7617; Arbor).
* ``ApiKeyHeader``: a key in a named header (Pupil Asset; SIMS' Azure API Management
  ``Ocp-Apim-Subscription-Key``).
* ``Combined``: several at once (SIMS: OAuth2 bearer plus the subscription key).
* ``TokenEndpoint``: POST credentials to a token endpoint and cache the token until it expires (Groupcall
  Xporter on Demand's STS token endpoint).
* ``OAuth2ClientCredentials``: the client credentials grant (RFC 6749 §4.4), client credentials in the
  form body (RFC 6749 §2.3.1; RM Integris, SIMS).
* ``OAuth2RefreshToken``: the refresh-token grant (RFC 6749 §6), with rotation (RFC 6749 §10.4; ScholarPack).

Secrets are handed in by the caller (resolved from environment variable *names*) and never appear in a
repr, a log line or an exception. Bromcom's credentials travel inside the SOAP body: ``soap.SoapBodyCredentials``.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import requests

from .errors import VendorError, _path_of, _short_code, is_transient_status
from .session import check_body

if TYPE_CHECKING:
    from .session import VendorSession

TOKEN_REFRESH_MARGIN_SECONDS = 60.0


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


class HeaderAuth(AuthStrategy):
    """One header whose value is the secret: the shape of bearer, Basic and API key auth."""

    def __init__(self, header: str, value: str, *, name: str | None = None) -> None:
        self.header = header
        self._value = value
        self.name = name

    def _header_value(self) -> str:
        return self._value

    def apply(self, headers: Any, session: "VendorSession") -> Any:
        headers[self.header] = self._header_value()
        return None


class StaticBearer(HeaderAuth):
    """``Authorization: Bearer <token>`` (RFC 6750 §2.1); another ``scheme`` where a vendor wants one."""

    def __init__(self, token: str, *, scheme: str = "Bearer", name: str | None = None) -> None:
        super().__init__("Authorization", f"{scheme} {token}", name=name)
        self.scheme = scheme


class Basic(HeaderAuth):
    """``Authorization: Basic <base64(user:password)>`` (RFC 7617), built at each request."""

    def __init__(self, user: str, password: str, *, name: str | None = None) -> None:
        super().__init__("Authorization", "", name=name)
        self._user, self._password = user, password

    def _header_value(self) -> str:
        return requests.auth._basic_auth_str(self._user, self._password)


class ApiKeyHeader(HeaderAuth):
    """A key in a header of the vendor's naming (e.g. ``Ocp-Apim-Subscription-Key``)."""

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

    def __init__(self, url: str, body: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
                 expiry_field: str | None = "expires", *, token_field: str = "token", scheme: str = "Bearer",
                 form: bool = False, name: str | None = None) -> None:
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
        where = {"method": "POST", "path": _path_of(self.url)}
        data = check_body(self._post(session, where), session.route)
        token = data.get(self.token_field) if isinstance(data, dict) else None
        if not token or not isinstance(token, str):
            raise VendorError(session.route, f"token endpoint gave no {self.token_field!r}", 200, **where)
        self._token = token
        self._expires_at = self._parse_expiry(data.get(self.expiry_field) if self.expiry_field else None)
        self.fetches += 1
        self._accepted(data, session, where)

    def _post(self, session: "VendorSession", where: dict[str, str]) -> requests.Response:
        """The token endpoint's 200; any other status is a ``VendorError``."""
        payload = self._payload()
        response = session.send_unauthenticated("POST", self.url, **({"data": payload} if self.form else
                                                                      {"json": payload}))
        status = response.status_code
        if status != 200:
            raise VendorError(session.route, "token endpoint refused", status, is_transient_status(status), **where)
        return response

    def _accepted(self, data: dict[str, Any], session: "VendorSession", where: dict[str, str]) -> None:
        """Hook for what else a token answer carries (a rotated refresh token)."""

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

    def __init__(self, token_url: str, client_id: str, client_secret: str, scope: str | None = None, *,
                 name: str | None = None) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = scope

        def body() -> dict[str, str]:
            form = {"grant_type": "client_credentials", "client_id": self.client_id,
                    "client_secret": self._client_secret}
            return {**form, "scope": self.scope} if self.scope else form

        super().__init__(token_url, body, "expires_in", token_field="access_token", form=True, name=name or client_id)


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

    def __init__(self, token_url: str, client_id: str, client_secret: str, refresh_tokens: Sequence[str], *,
                 persist: Callable[[str], None] | None = None, persisted: str | None = None,
                 refused_hint: str = "the refresh token was refused; the app must be authorised again",
                 name: str | None = None) -> None:
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

    def _post(self, session: "VendorSession", where: dict[str, str]) -> requests.Response:
        while True:
            response = session.send_unauthenticated("POST", self.url, data=self._payload(), retry_reads=False)
            status = response.status_code
            if status == 200:
                return response
            code = self._error_code(response)
            response.close()
            if status in (400, 401) and code == "invalid_grant":
                self._candidates.pop(0)
                if self._candidates:
                    continue  # once per candidate: the next one in order of preference
                raise VendorError(session.route, f"refresh token refused (invalid_grant): {self.refused_hint}",
                                  status, False, **where)
            problem = "token endpoint refused" + (f" ({code})" if code else "")
            raise VendorError(session.route, problem, status, is_transient_status(status), **where)

    def _accepted(self, data: dict[str, Any], session: "VendorSession", where: dict[str, str]) -> None:
        """Keep the refresh token that worked, or the rotated one the answer carries, and persist it."""
        rotated = data.get("refresh_token")
        self._candidates = [rotated if isinstance(rotated, str) and rotated else self._candidates[0]]
        if self._persist is not None and self._candidates[0] != self._persisted:
            try:
                self._persist(self._candidates[0])
            except OSError as exc:
                raise VendorError(session.route, f"could not keep the new refresh token ({type(exc).__name__}); "
                                  "the one used is spent: check the state folder", None, False, **where) from None
            self._persisted = self._candidates[0]
