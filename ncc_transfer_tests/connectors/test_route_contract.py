"""The route contract: every vendor route in the route registry passes the same tests, over real HTTP on
loopback from the simulator (docs/adding_a_route.md).

1. The route's connector, settings and demo settings agree with the route registry; a secret whose
   variable is not set, or that the vendor refuses, fails the school at once, naming the registry field
   and never the value.
2. The same synthetic school gives identical canonical tables through the route and the files route
   (every pupil record, leavers too, reaching validation with its values as supplied), and the night
   (``pipeline.process_school``) loads them and keeps them through an outage.
3. Each shared fault the simulator can inject (``simulator.core.FAULTS``) is handled the same way on
   every route: 429 (with and without Retry-After) and a 503 burst are retried to the same tables; a
   persistent 503, a slow answer, a truncated body and an HTML maintenance page fail the school as
   temporary (``TransientExtractError``); an error body, a next link to another host and an expired
   token are handled as the route's vendor does: its simulator profile says how, as ``FAULT_HANDLING``
   (a ``simulator.core.FaultHandling``).

Route-specific behaviour (incremental extraction, token endpoints, vendor quirks) is tested in
``test_<route>_route.py``.
"""

from __future__ import annotations

import dataclasses
import time

import pandas as pd
import pytest

from ncc_transfer.canonical import TABLES
from ncc_transfer.connectors.base import Connector
from ncc_transfer.connectors.routes import ROUTES, connector_for, setting_problems, simulator_profile, simulator_routes
from ncc_transfer.extract import TransientExtractError, VendorRouteError
from ncc_transfer.pipeline import LOADED, process_school
from ncc_transfer.simulator.core import IGNORED, REFUSED, RETRIED, TRANSIENT, FaultHandling
from ncc_transfer.warehouse import DuckDBWarehouse
from ncc_transfer_tests.connectors.vendor_support import (AS_OF, Served, assert_same_as_files, build_vendor_la, canonical,
                                               night_with_wrong_secrets)

ROUTES_UNDER_CONTRACT = simulator_routes()
SCHOOL = 1  # the demo LA's second school: a secondary, large enough for every list to have a next page


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    # Schools at pupils_scale 0.2 (the default is 0.3): the school is fetched in full some fifty times, and
    # what is checked holds whatever its size; at 0.2 (220 pupils, 53,000 marks) every list that has more
    # than one page at 0.3 still has (Wonde's students: 2; attendance: 7 to 54 pages by route).
    la, stop = build_vendor_la(tmp_path_factory.mktemp("route_contract"), schools=2, pupils_scale=0.2)
    la.sim.slow_seconds = 1.0
    yield la
    stop()


def serve(la, route: str, monkeypatch, **extra) -> Served:
    """The LA's school served afresh on ``route`` with its demo settings (fast retries, ``extra``)."""
    return la.serve_demo(route, monkeypatch, SCHOOL, **extra)


def fetch(served: Served):
    return connector_for(served.route).fetch(served.school, as_of=AS_OF)


def handling(route: str) -> FaultHandling:
    """How ``route`` meets the faults whose handling depends on its vendor: its profile's ``FAULT_HANDLING``."""
    declared = getattr(simulator_profile(route), "FAULT_HANDLING", None)
    if not isinstance(declared, FaultHandling):
        pytest.fail(f"connectors/{route}/simulator.py has no FAULT_HANDLING: say there, as a "
                    f"simulator.core.FaultHandling, how the route meets the faults whose handling depends on "
                    f"its vendor (docs/adding_a_route.md)", pytrace=False)
    return declared


def inject(la, served: Served, faults: list[str]) -> None:
    served.inject(la, [*handling(served.route).lead, *faults])


def test_every_vendor_route_has_a_simulator_profile():
    assert set(ROUTES_UNDER_CONTRACT) == {r for r, spec in ROUTES.items() if not spec.reads_folder}


@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_the_profile_says_how_the_route_meets_the_faults_that_depend_on_its_vendor(route):
    declared = handling(route)
    assert declared.error_body in (RETRIED, REFUSED, TRANSIENT) and declared.foreign in (REFUSED, IGNORED)


@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_connector_and_demo_settings_agree_with_the_registry(route):
    connector = connector_for(route)
    assert isinstance(connector, Connector) and connector.route == route
    assert connector.capabilities.leavers
    settings, names = simulator_profile(route).demo_settings("9262001", f"http://127.0.0.1:8765/{route}")
    assert setting_problems(route, settings) == []
    assert sorted(names) == sorted(settings[s] for s in ROUTES[route].secrets if s in settings)


@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_a_secret_variable_not_set_names_its_registry_field(la, route, monkeypatch):
    served = serve(la, route, monkeypatch)
    secrets_named = [s for s in ROUTES[route].secrets if s in served.school.source]
    assert secrets_named
    for setting in secrets_named:
        with monkeypatch.context() as unset:
            unset.delenv(served.school.source[setting])
            with pytest.raises(VendorRouteError, match=rf"the environment variable named in source\.{setting} is not set"):
                fetch(served)
    assert la.sim.log == []  # nothing was sent


@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_a_refused_secret_fails_the_school_at_once_and_never_shows_it(la, route, monkeypatch, tmp_path):
    served = serve(la, route, monkeypatch)
    variables = [served.school.source[s] for s in ROUTES[route].secrets if s in served.school.source]
    message = night_with_wrong_secrets(la, served.school, monkeypatch, tmp_path, *variables)
    assert route in message
    assert len(served.statuses(la)) <= 1  # a refused credential is not sent again


_FILES_COUNTS: dict[str, dict[str, int]] = {}


def files_route_counts(la, school) -> dict[str, int]:
    """The rows of each canonical table the files route gives for ``school``'s landing folder: read once
    for the module (no contract test changes a landing folder; the simulator serves a copy)."""
    if school.key not in _FILES_COUNTS:
        tables = canonical(connector_for("files", home=la.home).fetch(school, as_of=AS_OF).tables, school.laestab)
        _FILES_COUNTS[school.key] = {t: len(tables[t]) for t in TABLES}
    return _FILES_COUNTS[school.key]


@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_the_night_loads_the_route_and_keeps_the_load_through_an_outage(la, route, monkeypatch, tmp_path):
    served = serve(la, route, monkeypatch, max_retries=1)
    school = la.files_schools[SCHOOL]
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    try:
        outcome = process_school(served.school, home=la.home, warehouse=warehouse, as_of=AS_OF)
        assert outcome.status == LOADED, outcome.message
        loaded = {t: warehouse.count_where(t, "school_key = ?", [served.school.key]) for t in TABLES}
        assert loaded == files_route_counts(la, school)
        served = serve(la, route, monkeypatch, max_retries=1)
        inject(la, served, ["503", "503"])  # the first request and its retry
        outcome = process_school(served.school, home=la.home, warehouse=warehouse, as_of=AS_OF)
        assert outcome.status == "failed" and outcome.transient
        assert served.school.key in outcome.message and "HTTP 503" in outcome.message
        assert {t: warehouse.count_where(t, "school_key = ?", [served.school.key]) for t in TABLES} == loaded
    finally:
        warehouse.close()


@dataclasses.dataclass(frozen=True)
class CleanFetch:
    """A fault-free fetch of the school on a route: what it gave, the statuses of its requests, and the
    records the simulator served it from."""

    raw: dict[str, pd.DataFrame]
    statuses: tuple[int, ...]
    pupils: tuple

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: frame.copy() for name, frame in self.raw.items()}  # a test may change its copy


_CLEAN: dict[str, CleanFetch] = {}


def clean_fetch(la, route: str, monkeypatch) -> CleanFetch:
    """The fault-free fetch of the school on ``route``, made once per route for the module: the same
    school served afresh with the same settings gives the same requests and tables every time, and three
    tests read it (the tables, the pupil records, the number of requests)."""
    if route not in _CLEAN:
        served = serve(la, route, monkeypatch)
        raw = fetch(served)
        _CLEAN[route] = CleanFetch({name: frame.copy() for name, frame in raw.tables.items()},
                                   tuple(served.statuses(la)), tuple(served.source.pupils))
    return _CLEAN[route]


@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_same_canonical_tables_as_the_files_route(la, route, monkeypatch):
    clean = clean_fetch(la, route, monkeypatch)
    assert_same_as_files(clean.tables(), la, la.files_schools[SCHOOL], route)
    assert clean.statuses and set(clean.statuses) == {200}  # it really went over HTTP


@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_leavers_come_with_the_pupils_and_odd_values_pass_through(la, route, monkeypatch):
    """Every pupil record reaches validation, leavers too, with odd values (sex X, none) as supplied."""
    clean = clean_fetch(la, route, monkeypatch)
    raw = clean.tables()["pupils"]
    pupils = clean.pupils
    assert len(raw) == len(pupils)
    leavers = sum(1 for p in pupils if p.is_leaver)
    assert leavers > 0 and raw["leaving_date"].notna().sum() == leavers
    assert sorted(raw["sex"].fillna("")) == sorted((p.row.get("sex") or "") for p in pupils)
    assert {"X", ""} <= set(raw["sex"].fillna(""))


def clean_requests(la, route: str, monkeypatch) -> int:
    """How many requests a fault-free fetch of the school makes on ``route`` (the same every time)."""
    return len(clean_fetch(la, route, monkeypatch).statuses)


@pytest.mark.parametrize("faults", [["429"], ["429-no-retry-after"], ["503", "503"]], ids="+".join)
@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_throttling_and_5xx_bursts_are_retried_to_the_same_tables(la, route, faults, monkeypatch):
    clean = clean_requests(la, route, monkeypatch)
    served = serve(la, route, monkeypatch)  # afresh: a route may rotate its credentials on each fetch
    inject(la, served, faults)
    raw = fetch(served)
    lead = len(handling(route).lead)
    assert served.statuses(la)[lead:lead + len(faults) + 1] == [int(f[:3]) for f in faults] + [200]
    assert len(served.statuses(la)) == clean + len(faults)  # each fault cost exactly one extra request
    assert_same_as_files(raw.tables, la, la.files_schools[SCHOOL], route)


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
    lead = len(handling(route).lead)
    deadline = time.monotonic() + 5  # the server finishes the abandoned answer later: let it, before the next test
    while len(served.statuses(la)) <= lead and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.parametrize("fault", ["truncated", "html"])
@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_truncated_body_and_maintenance_page_are_transient(la, route, fault, monkeypatch):
    served = serve(la, route, monkeypatch)
    inject(la, served, [fault])
    problem = handling(route).truncated if fault == "truncated" else "HTML page"
    with pytest.raises(TransientExtractError, match=problem) as caught:
        fetch(served)
    assert served.school.key in str(caught.value) and route in str(caught.value)
    assert served.statuses(la)[-1] == 200  # not retried by the HTTP layer: the night's retry policy decides
    la.assert_clean(str(caught.value), served.school)


@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_error_body_is_handled_as_the_vendor_means_it(la, route, monkeypatch):
    served = serve(la, route, monkeypatch)
    inject(la, served, ["error-body"])
    expected = handling(route).error_body
    if expected == RETRIED:
        assert_same_as_files(fetch(served).tables, la, la.files_schools[SCHOOL], route)
        assert served.statuses(la).count(500) == 1
        return
    with pytest.raises(VendorRouteError if expected == REFUSED else TransientExtractError) as caught:
        fetch(served)
    assert len(served.statuses(la)) == len(handling(route).lead) + 1  # not retried
    assert served.school.key in str(caught.value) and route in str(caught.value)
    la.assert_clean(str(caught.value), served.school)


@pytest.mark.parametrize("route", ROUTES_UNDER_CONTRACT)
def test_next_link_to_another_host_is_never_followed(la, route, monkeypatch):
    served = serve(la, route, monkeypatch)
    inject(la, served, ["foreign"])
    if handling(route).foreign == IGNORED:
        assert_same_as_files(fetch(served).tables, la, la.files_schools[SCHOOL], route)
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
    assert served.statuses(la).count(401) == (1 if handling(route).expire_token else 0)
    assert_same_as_files(raw.tables, la, la.files_schools[SCHOOL], route)
