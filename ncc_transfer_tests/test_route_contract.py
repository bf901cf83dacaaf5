"""The route contract: every vendor route in the route registry passes the same tests, over real HTTP on
loopback from the simulator (docs/adding_a_route.md).

1. The same synthetic school gives identical canonical tables through the route and the files route.
2. Each shared fault the simulator can inject (``simulator.core.FAULTS``) is handled the same way on
   every route: 429 (with and without Retry-After) and a 503 burst are retried to the same tables; a
   persistent 503, a slow answer, a truncated body and an HTML maintenance page fail the school as
   temporary (``TransientExtractError``); an error body, a next link to another host and an expired
   token are handled as the route's vendor does (``CONTRACT`` below says which applies to which route).

Route-specific behaviour (incremental extraction, token endpoints, vendor quirks) is tested in
``test_<route>_route.py``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import pytest

from ncc_transfer.connectors.routes import ROUTES, connector_for, simulator_profile, simulator_routes
from ncc_transfer.extract import TransientExtractError, VendorRouteError
from ncc_transfer_tests.vendor_support import AS_OF, assert_same_as_files, build_vendor_la

RETRIED, REFUSED, TRANSIENT, IGNORED = "retried", "refused", "transient", "ignored"


@dataclass(frozen=True)
class Contract:
    """How a route meets the faults whose handling depends on its vendor.

    ``lead``: faults that pass harmlessly on the requests a fetch makes before its first data request
    when the simulator counts them under the school (a token request), to aim the next fault at data.
    ``truncated``: how a cut-off body is described. ``error_body``: ``retried`` (a plain 500),
    ``refused`` (an error inside a 200: not retried, not transient) or ``transient`` (an error the
    vendor marks as a server fault). ``foreign``: ``refused`` when the vendor pages with links, else
    ``ignored``. ``expire_token``: the route holds a token that can expire (re-authenticates once).
    """

    lead: tuple[str, ...] = ()
    truncated: str = "not valid JSON"
    error_body: str = REFUSED
    foreign: str = IGNORED
    expire_token: bool = True


CONTRACT = {
    "wonde": Contract(error_body=RETRIED, foreign=REFUSED, expire_token=False),
    "xporter": Contract(),
    "arbor": Contract(expire_token=False),
    "bromcom": Contract(truncated="not well-formed XML", error_body=TRANSIENT, expire_token=False),
    "sims": Contract(),
    "scholarpack": Contract(error_body=RETRIED, foreign=REFUSED),
    "pupil_asset": Contract(expire_token=False),
    "integris": Contract(lead=("expire-token",), error_body=RETRIED),
}
ROUTES_UNDER_CONTRACT = simulator_routes()
SCHOOL = 1  # the demo LA's second school: a secondary, large enough for every list to have a next page


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    la, stop = build_vendor_la(tmp_path_factory.mktemp("route_contract"), schools=2)
    la.sim.slow_seconds = 1.0
    yield la
    stop()


@dataclass
class Served:
    school: object  # the registry School on the route
    vendor_id: str
    route: str

    def statuses(self, la) -> list[int]:
        return la.sim.statuses(self.vendor_id, self.route)


def serve(la, route: str, monkeypatch, **extra) -> Served:
    """The LA's school served afresh on ``route`` with its demo settings (fast retries, ``extra``)."""
    la.sim.clear()
    school = la.files_schools[SCHOOL]
    settings, names = simulator_profile(route).demo_settings(school.laestab, f"{la.root}/{route}")
    for name in names:
        la.secrets.setdefault(name, secrets.token_urlsafe(12))
        monkeypatch.setenv(name, la.secrets[name])
    served, _ = la.serve(route, school, **{**settings, "backoff_factor": 0.01, **extra})
    (vendor_id,) = la.sim.schools[route]
    return Served(served, vendor_id, route)


def fetch(served: Served):
    return connector_for(served.route).fetch(served.school, as_of=AS_OF)


def inject(la, served: Served, faults: list[str]) -> None:
    la.sim.inject(served.vendor_id, [*CONTRACT[served.route].lead, *faults], route=served.route)


def test_every_vendor_route_has_a_contract_and_a_simulator_profile():
    assert set(ROUTES_UNDER_CONTRACT) == {r for r, spec in ROUTES.items() if not spec.reads_folder} == set(CONTRACT)


@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_same_canonical_tables_as_the_files_route(la, route, monkeypatch):
    served = serve(la, route, monkeypatch)
    raw = fetch(served)
    assert_same_as_files(raw.tables, la, la.files_schools[SCHOOL])
    assert served.statuses(la) and set(served.statuses(la)) == {200}  # it really went over HTTP


@pytest.mark.parametrize("faults", [["429"], ["429-no-retry-after"], ["503", "503"]], ids="+".join)
@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_throttling_and_5xx_bursts_are_retried_to_the_same_tables(la, route, faults, monkeypatch):
    first = serve(la, route, monkeypatch)
    fetch(first)
    clean = len(first.statuses(la))
    served = serve(la, route, monkeypatch)  # afresh: a route may rotate its credentials on each fetch
    inject(la, served, faults)
    raw = fetch(served)
    lead = len(CONTRACT[route].lead)
    assert served.statuses(la)[lead:lead + len(faults) + 1] == [int(f[:3]) for f in faults] + [200]
    assert len(served.statuses(la)) == clean + len(faults)  # each fault cost exactly one extra request
    assert_same_as_files(raw.tables, la, la.files_schools[SCHOOL])


@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_persistent_503_is_transient_and_names_school_route_and_status(la, route, monkeypatch):
    served = serve(la, route, monkeypatch, max_retries=2)
    inject(la, served, ["503"] * 3)  # the first request and both retries
    with pytest.raises(TransientExtractError, match="HTTP 503") as caught:
        fetch(served)
    assert served.school.key in str(caught.value) and route in str(caught.value)
    assert served.statuses(la)[-3:] == [503, 503, 503]
    la.assert_clean(str(caught.value), served.school)


@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_slow_answer_times_out_as_transient(la, route, monkeypatch):
    served = serve(la, route, monkeypatch, read_timeout=0.3, max_retries=0)
    inject(la, served, ["slow"])
    with pytest.raises(TransientExtractError, match="timed out") as caught:
        fetch(served)
    assert served.school.key in str(caught.value)
    la.assert_clean(str(caught.value), served.school)
    lead = len(CONTRACT[route].lead)
    deadline = time.monotonic() + 5  # the server finishes the abandoned answer later: let it, before the next test
    while len(served.statuses(la)) <= lead and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.parametrize("fault", ["truncated", "html"])
@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_truncated_body_and_maintenance_page_are_transient(la, route, fault, monkeypatch):
    served = serve(la, route, monkeypatch)
    inject(la, served, [fault])
    problem = CONTRACT[route].truncated if fault == "truncated" else "HTML page"
    with pytest.raises(TransientExtractError, match=problem) as caught:
        fetch(served)
    assert served.school.key in str(caught.value) and route in str(caught.value)
    assert served.statuses(la)[-1] == 200  # not retried by the HTTP layer: the night's retry policy decides
    la.assert_clean(str(caught.value), served.school)


@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_error_body_is_handled_as_the_vendor_means_it(la, route, monkeypatch):
    served = serve(la, route, monkeypatch)
    inject(la, served, ["error-body"])
    expected = CONTRACT[route].error_body
    if expected == RETRIED:
        assert_same_as_files(fetch(served).tables, la, la.files_schools[SCHOOL])
        assert served.statuses(la).count(500) == 1
        return
    with pytest.raises(VendorRouteError if expected == REFUSED else TransientExtractError) as caught:
        fetch(served)
    assert len(served.statuses(la)) == len(CONTRACT[route].lead) + 1  # not retried
    assert served.school.key in str(caught.value) and route in str(caught.value)
    la.assert_clean(str(caught.value), served.school)


@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_next_link_to_another_host_is_never_followed(la, route, monkeypatch):
    served = serve(la, route, monkeypatch)
    inject(la, served, ["foreign"])
    if CONTRACT[route].foreign == IGNORED:
        assert_same_as_files(fetch(served).tables, la, la.files_schools[SCHOOL])
    else:
        with pytest.raises(VendorRouteError, match="another host") as caught:
            fetch(served)
        assert served.school.key in str(caught.value)
        la.assert_clean(str(caught.value), served.school)
    assert not any(hit.endpoint.startswith("http") for hit in la.sim.log)  # the foreign URL was never requested


@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_expired_token_is_renewed_once_or_does_not_apply(la, route, monkeypatch):
    served = serve(la, route, monkeypatch)
    inject(la, served, ["expire-token"])
    raw = fetch(served)
    assert served.statuses(la).count(401) == (1 if CONTRACT[route].expire_token else 0)
    assert_same_as_files(raw.tables, la, la.files_schools[SCHOOL])
