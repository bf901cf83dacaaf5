"""The simulator's network (``simulator.network.Network``) over real HTTP on loopback: every answer
waits the latency, and a route's rate is enforced per credential with 429 and Retry-After."""

from __future__ import annotations

import time

import requests
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ncc_transfer.simulator import Network, route_rates, run_in_thread


def _ok(request):
    return PlainTextResponse("ok")


APP = Starlette(routes=[Route("/wonde/students", _ok), Route("/xporter/students", _ok)])


def test_latency_and_a_rate_per_credential():
    network = Network(APP, latency_seconds=0.05, rates={"wonde": 2.0})
    base, stop = run_in_thread(network)
    try:
        def get(path: str, token: str) -> requests.Response:
            return requests.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=5)

        started = time.perf_counter()
        first = get("/wonde/students", "a")
        assert first.status_code == 200 and time.perf_counter() - started >= 0.05  # the latency
        # The bucket holds one second of requests (2): the second passes, the third, at once, does not.
        assert get("/wonde/students", "a").status_code == 200
        refused = get("/wonde/students", "a")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
        assert get("/wonde/students", "b").status_code == 200  # another credential: its own allowance
        assert get("/xporter/students", "a").status_code == 200  # a route without a rate here
        time.sleep(1.0)  # a second later, two requests' worth again
        assert get("/wonde/students", "a").status_code == 200
    finally:
        stop()
    assert network.requests == {"wonde": 5, "xporter": 1}
    assert network.refused == {"wonde": 1}
    assert network.by_credential["wonde", "Bearer a"] == 4 and network.by_credential["wonde", "Bearer b"] == 1


def test_route_rates_are_each_routes_spec():
    rates = route_rates()
    assert rates["sims"] == 5.0  # SIMS 8 V3: "a default throttle of 5 calls per second per technical integrator"
    assert rates["arbor"] == 2.0
    assert "files" not in rates


def test_the_connector_limit_is_the_routes_rate():
    from ncc_transfer.connectors.arbor.connector import ArborConnector
    from ncc_transfer.connectors.wonde.connector import WondeConnector

    assert ArborConnector().options["rate_per_second"] == 2.0
    assert WondeConnector().options["rate_per_second"] == 5.0
    assert WondeConnector(rate_per_second=1.0).options["rate_per_second"] == 1.0
