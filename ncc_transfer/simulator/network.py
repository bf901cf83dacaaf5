"""A network in front of the simulator: a latency on every answer and each vendor's rate limit.

On loopback the simulator answers in microseconds, while a vendor's API answers in tens to hundreds of
milliseconds and refuses requests over its rate limit. ``Network`` is an ASGI middleware
(https://www.starlette.io/middleware/#pure-asgi-middleware) that makes the simulator behave like
that, so that tests and the benchmark can play a real night:

* ``latency_seconds``: every request waits this long before it is answered (``asyncio.sleep``: the
  server keeps answering other requests meanwhile, as a remote API does).
* ``rates``: requests per second allowed per credential, by route (the first segment of the path:
  ``/wonde/...``). A credential is what the request authenticates with (its ``Authorization``
  header; a request without one counts against its route's anonymous allowance). Over the rate, the
  answer is ``429 Too Many Requests`` with ``Retry-After`` (whole seconds, RFC 9110 section 10.2.3),
  as the vendors answer; the connectors' own limiter (``connectors.http.session``) is meant to keep
  under it.

The counting is a token bucket per (route, credential) holding at most one second of requests (the
connectors' own ``TokenBucket``, without the wait).
``Network.requests`` counts the requests seen and ``Network.refused`` those answered 429, per route;
``Network.by_credential`` the requests per (route, credential). ``GET /_network`` answers the same
counts as JSON (``counts()``: a credential's requests without the credential), for a simulator
running in another process (``ncc-transfer simulator``, the benchmark's).
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from dataclasses import dataclass, field

from starlette.responses import JSONResponse

from ..connectors.http.session import TokenBucket

COUNTS_PATH = "/_network"


@dataclass
class Network:
    """Wrap the simulator's ASGI ``app`` with a latency and per-credential rate limits."""

    app: object
    latency_seconds: float = 0.0
    rates: dict[str, float] = field(default_factory=dict)
    requests: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)
    by_credential: Counter = field(default_factory=Counter)  # (route, credential) -> requests
    _buckets: dict[tuple[str, str], TokenBucket] = field(default_factory=dict, repr=False)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == COUNTS_PATH:
            await JSONResponse(self.counts())(scope, receive, send)
            return
        route = scope["path"].strip("/").split("/", 1)[0]
        credential = _credential(scope)
        self.requests[route] += 1
        self.by_credential[route, credential] += 1
        if self.latency_seconds:
            await asyncio.sleep(self.latency_seconds)
        rate = self.rates.get(route)
        if rate:
            bucket = self._buckets.setdefault((route, credential), TokenBucket(rate, capacity=rate))
            wait = bucket.take()
            if wait:
                self.refused[route] += 1
                response = JSONResponse({"error": "rate limit exceeded"}, status_code=429,
                                        headers={"Retry-After": str(max(1, math.ceil(wait)))})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


    def counts(self) -> dict:
        """The counters, JSON-ready: per route the requests, the refused ones, and each credential's
        requests (not the credential: it is a secret)."""
        per_credential: dict[str, list[int]] = {}
        for (route, _), count in sorted(self.by_credential.items()):
            per_credential.setdefault(route, []).append(count)
        return {"requests": dict(self.requests), "refused": dict(self.refused), "per_credential": per_credential}


def route_rates() -> dict[str, float]:
    """Each vendor route's request rate per credential, ``RouteSpec.rate_per_second`` (the vendor's
    published figure where there is one, SIMS's; the project's working figure elsewhere)."""
    from ..connectors.routes import ROUTES

    return {name: spec.rate_per_second for name, spec in ROUTES.items() if spec.rate_per_second}


def _credential(scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return value.decode("latin-1")
    return ""
