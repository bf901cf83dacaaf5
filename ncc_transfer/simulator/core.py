"""The simulator's shared state and fault injection; the vendor profiles render the wire shapes.

Every vendor request goes through ``Simulator.serve``: it logs the request, takes the school's next
injected fault (one per request, in order) and applies the faults every vendor shares. The profile's
``render(fault)`` builds the response and applies the faults only it can (a next link to a foreign host,
its own error-in-a-200 body); ``serve`` then cuts the body short for ``truncated``.

Faults:

====================  ==================================================================================
``429``               429 with ``Retry-After: 1``
``429-no-retry-after`` 429 without ``Retry-After`` (the client backs off by itself)
``503`` / ``502``     5xx with ``Retry-After: 1``; a burst is several in a row
``500``               500 without ``Retry-After``
``html``              a maintenance page with status 200
``slow``              the response is delayed by ``slow_seconds`` (a read timeout shorter than that fails)
``truncated``         the body is cut off half way
``foreign``           the next-page link points to another host (next-link vendors)
``error-body``        a 200 whose body is the vendor's error shape (XoD ``ExceptionMessage``, GraphQL
                      ``errors``, Arbor ``response.errors``, a SOAP Fault)
``expire-token``      the school's issued tokens are revoked before this request (token vendors): 401
====================  ==================================================================================

How a route meets the faults whose handling depends on its vendor is declared by its profile as
``FAULT_HANDLING`` (a ``FaultHandling``); the route contract test holds every route to it.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, NamedTuple

from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, JSONResponse, Response

STATUS_FAULTS = {"429": (429, True), "429-no-retry-after": (429, False), "503": (503, True), "502": (502, True),
                 "500": (500, False)}
FAULTS = (*STATUS_FAULTS, "html", "slow", "truncated", "foreign", "error-body", "expire-token")
MAINTENANCE_PAGE = ("<!DOCTYPE html><html><head><title>Down for maintenance</title></head>"
                    "<body><h1>We'll be back soon</h1></body></html>")


RETRIED, REFUSED, TRANSIENT, IGNORED = "retried", "refused", "transient", "ignored"


@dataclass(frozen=True)
class FaultHandling:
    """How a route meets the faults whose handling depends on its vendor (a profile's ``FAULT_HANDLING``).

    ``lead``: faults that pass harmlessly on the requests a fetch makes before its first data request
    when the simulator counts them under the school (a token request), to aim the next fault at data.
    ``truncated``: how the connector describes a cut-off body. ``error_body``: ``retried`` (a plain 500),
    ``refused`` (an error inside a 200: not retried, not transient) or ``transient`` (an error the
    vendor marks as a server fault). ``foreign``: ``refused`` when the vendor pages with links, else
    ``ignored``. ``expire_token``: the route holds a token that can expire (it re-authenticates once).
    """

    lead: tuple[str, ...] = ()
    truncated: str = "not valid JSON"
    error_body: str = REFUSED
    foreign: str = IGNORED
    expire_token: bool = True


class Hit(NamedTuple):
    """One request the simulator answered."""

    school_id: str
    endpoint: str
    status: int
    route: str = ""


@dataclass
class IssuedToken:
    route: str
    school_id: str
    expires_at: float


class RenderCache(OrderedDict):
    """The simulator's renderings, per query and school revision: only the ``limit`` most recently
    used are kept. A rendering is rebuilt identical from its school's revision, so dropping one costs
    only time, while keeping every school's would hold the whole LA's payloads in memory."""

    def __init__(self, limit: int = 12) -> None:
        super().__init__()
        self.limit = limit
        self._lock = threading.Lock()  # renderings are built in worker threads (``Simulator._serve``)

    def get(self, key, default=None):
        with self._lock:
            if key not in self:
                return default
            self.move_to_end(key)
            return self[key]

    def __setitem__(self, key, value) -> None:
        with self._lock:
            super().__setitem__(key, value)
            self.move_to_end(key)
            while len(self) > self.limit:
                self.popitem(last=False)


@dataclass
class Simulator:
    """Schools per route (``schools[route][vendor school id]``), pending faults, issued tokens, a log."""

    schools: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: dict[tuple[str, str], deque] = field(default_factory=dict)
    log: list[Hit] = field(default_factory=list)
    tokens: dict[str, IssuedToken] = field(default_factory=dict, repr=False)
    slow_seconds: float = 2.0
    token_ttl_seconds: float = 3600.0
    cache: RenderCache = field(default_factory=RenderCache, repr=False)  # renderings, per query and revision

    # --------------------------------------------------------------------------------- setting up
    def add(self, route: str, school_id: str, school: Any) -> None:
        """Serve ``school`` (a profile's record, holding its ``SourceSchool`` as ``source``) as ``school_id``.

        Renderings are cached per school and revision of its source, so replacing a school's source with
        another drops them all (the new one's revisions start again); registering the same source again
        (new credentials, say) keeps them."""
        previous = self.schools.setdefault(route, {}).get(school_id)
        self.schools[route][school_id] = school
        if previous is not None and getattr(previous, "source", None) is not getattr(school, "source", None):
            self.cache.clear()

    def school(self, route: str, school_id: str) -> Any | None:
        return self.schools.get(route, {}).get(school_id)

    def school_where(self, route: str, test: Callable[[Any], bool]) -> Any | None:
        """The first school of ``route`` that ``test`` accepts (a school known by its credentials), or None."""
        return next((school for school in self.schools.get(route, {}).values() if test(school)), None)

    def inject(self, school_id: str, faults: Iterable[str], route: str = "wonde") -> None:
        faults = list(faults)
        unknown = [f for f in faults if f not in FAULTS]
        if unknown:
            raise ValueError(f"unknown fault(s) {unknown}; known: {', '.join(FAULTS)}")
        self.faults.setdefault((route, school_id), deque()).extend(faults)

    def clear(self) -> None:
        self.faults.clear()
        self.log.clear()
        self.tokens.clear()

    def requests_to(self, school_id: str, route: str | None = None) -> list[Hit]:
        return [h for h in self.log if h.school_id == school_id and (route is None or h.route == route)]

    def statuses(self, school_id: str, route: str | None = None) -> list[int]:
        return [h.status for h in self.requests_to(school_id, route)]

    # ----------------------------------------------------------------------------------- tokens
    def issue_token(self, route: str, school_id: str, ttl: float | None = None) -> tuple[str, float]:
        """A new opaque token for the school; returns (token, lifetime in seconds)."""
        ttl = self.token_ttl_seconds if ttl is None else ttl
        token = secrets.token_urlsafe(24)
        self.tokens[token] = IssuedToken(route, school_id, time.time() + ttl)
        return token, ttl

    def token_school(self, route: str, token: str) -> str | None:
        """The school a live token was issued for, or None (unknown, expired or revoked)."""
        for known, issued in self.tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                if issued.route == route and issued.expires_at > time.time():
                    return issued.school_id
                return None
        return None

    def revoke(self, route: str, school_id: str) -> None:
        for token in [t for t, i in self.tokens.items() if i.route == route and i.school_id == school_id]:
            del self.tokens[token]

    # -------------------------------------------------------------------------------- renderings
    def cached(self, key: tuple, build: Callable[[], Any]) -> Any:
        """``build()``, kept in the render cache under ``key`` (a key should end in what it depends on)."""
        value = self.cache.get(key)
        if value is None:
            value = self.cache[key] = build()
        return value

    def rendering(self, route: str, school_id: str, source: Any, render: Callable[[Any], Any]) -> Any:
        """``render(source)``: a school's records in the vendor's shape, built once per school revision."""
        return self.cached((route, school_id, source.revision), lambda: render(source))

    def selection(self, route: str, school_id: str, source: Any, render: Callable[[Any], Any], query: tuple,
                  select: Callable[[Any], Any]) -> Any:
        """``select(rendering)`` for one query: built once per query and school revision, and reused by
        every page of it."""
        return self.cached((route, school_id, source.revision, *query),
                           lambda: select(self.rendering(route, school_id, source, render)))

    # ---------------------------------------------------------------------------------- serving
    def next_fault(self, route: str, school_id: str) -> str | None:
        pending = self.faults.get((route, school_id))
        return pending.popleft() if pending else None

    async def serve(self, route: str, school_id: str, endpoint: str,
                    render: Callable[[str | None], Response]) -> Response:
        """Answer one request for ``school_id`` through ``render``, with the school's next fault applied."""
        response = await self._serve(route, school_id, render)
        self.log.append(Hit(school_id, endpoint, response.status_code, route))
        return response

    async def _serve(self, route: str, school_id: str, render: Callable[[str | None], Response]) -> Response:
        fault = self.next_fault(route, school_id)
        if fault in STATUS_FAULTS:
            status, retry_after = STATUS_FAULTS[fault]
            headers = {"Retry-After": "1"} if retry_after else {}
            return JSONResponse({"error": "unavailable", "status": status}, status_code=status, headers=headers)
        if fault == "html":
            return HTMLResponse(MAINTENANCE_PAGE, status_code=200)
        if fault == "slow":
            await asyncio.sleep(self.slow_seconds)
        if fault == "expire-token":
            self.revoke(route, school_id)
        # In a worker thread: a school's first page renders all its records (seconds for a large
        # school), and the event loop keeps answering the other schools' requests meanwhile, as a
        # vendor's servers would.
        response = await run_in_threadpool(render, fault)
        if fault == "truncated" and response.status_code == 200:
            body = bytes(response.body)
            return Response(body[: len(body) // 2], status_code=200, media_type=response.media_type)
        return response
