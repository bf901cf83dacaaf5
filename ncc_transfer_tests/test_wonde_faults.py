"""Every simulator fault against the Wonde route, over real HTTP on loopback, and the vendor-route raw
archive (replay without calling the vendor).

What is retried succeeds with the exact number of requests; what is not fails that school alone, with a
message naming the school, the route, the endpoint and the status, and never the token or pupil data.
"""

from __future__ import annotations

import time

import pytest

from ncc_transfer.canonical import TABLES
from ncc_transfer.connectors.base import VendorRouteError
from ncc_transfer.connectors.wonde.connector import WondeConnector
from ncc_transfer.pipeline import LOADED, TransientExtractError, process_school
from ncc_transfer.warehouse import DuckDBWarehouse
from ncc_transfer_tests.conftest import ncc_env
from ncc_transfer_tests.vendor_support import AS_OF, assert_same_as_files, build_vendor_la

TOKEN = "wonde-faults-secret-token-42"
ARCHIVE_KEY = "Zm9yLXRlc3RzLW9ubHktbm90LWEtcmVhbC1rZXkhISE="


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    la, stop = build_vendor_la(tmp_path_factory.mktemp("wonde_faults"), schools=2)
    la.secrets["WONDE_FAULT_TOKEN"] = TOKEN
    yield la
    stop()


@pytest.fixture()
def school(la, monkeypatch):
    monkeypatch.setenv("WONDE_FAULT_TOKEN", TOKEN)
    la.sim.clear()
    la.sim.slow_seconds = 1.0
    served, _ = la.serve("wonde", la.files_schools[1], school_id="A200", token_env="WONDE_FAULT_TOKEN",
                         backoff_factor=0.01)
    return served


def _first_hits(la, n):
    return la.sim.statuses("A200")[:n]


@pytest.mark.parametrize("faults, statuses", [
    (["429"], [429, 200]),
    (["429-no-retry-after"], [429, 200]),
    (["503", "502", "500"], [503, 502, 500, 200]),  # a 5xx burst within the retry budget
])
def test_retried_faults_succeed_with_the_exact_requests(la, school, faults, statuses):
    la.sim.inject("A200", faults)
    raw = WondeConnector().fetch(school, as_of=AS_OF)
    assert _first_hits(la, len(statuses)) == statuses
    assert la.sim.statuses("A200").count(200) == len(la.sim.log) - len(faults)
    assert_same_as_files(raw.tables, la, la.files_schools[1])


@pytest.mark.parametrize("fault, problem", [
    ("truncated", "not valid JSON"),
    ("html", "HTML page"),
])
def test_unreadable_pages_are_transient(la, school, fault, problem):
    la.sim.inject("A200", [fault])
    with pytest.raises(TransientExtractError, match=problem) as caught:
        WondeConnector().fetch(school, as_of=AS_OF)
    message = str(caught.value)
    assert school.key in message and "wonde" in message and "/students" in message and "HTTP 200" in message
    la.assert_clean(message, school)
    assert la.sim.statuses("A200") == [200]  # not retried by the adapter: the night's retry policy decides


def test_slow_response_times_out_as_transient(la, school):
    slow = school.__class__(**{**school.__dict__, "source": {**school.source, "read_timeout": 0.3, "max_retries": 0}})
    la.sim.inject("A200", ["slow"])
    with pytest.raises(TransientExtractError, match="timed out") as caught:
        WondeConnector().fetch(slow, as_of=AS_OF)
    assert "/students" in str(caught.value)
    la.assert_clean(str(caught.value), school)
    deadline = time.monotonic() + 5  # the server finishes the abandoned response later: let it, before the next test
    while la.sim.statuses("A200") != [200] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert la.sim.statuses("A200") == [200]


def test_error_body_500_is_retried_then_reported(la, school):
    la.sim.inject("A200", ["error-body"] * 5)  # the first request and all four retries
    with pytest.raises(TransientExtractError, match="HTTP 500") as caught:
        WondeConnector().fetch(school, as_of=AS_OF)
    assert la.sim.statuses("A200") == [500] * 5
    la.assert_clean(str(caught.value), school)


def test_next_link_to_a_foreign_host_is_refused(la, school):
    la.sim.inject("A200", ["foreign"])
    with pytest.raises(VendorRouteError, match="another host") as caught:
        WondeConnector().fetch(school, as_of=AS_OF)
    assert school.key in str(caught.value) and "/students" in str(caught.value)
    assert not any(h.endpoint.startswith("http") for h in la.sim.log)  # the foreign URL was never requested
    la.assert_clean(str(caught.value), school)


def test_a_failing_school_keeps_its_last_good_load_and_touches_no_other(la, school, tmp_path):
    other, _ = la.serve("wonde", la.files_schools[0], school_id="A201", token_env="WONDE_FAULT_TOKEN",
                        backoff_factor=0.01, max_retries=1)
    school_one_retry = school.__class__(**{**school.__dict__, "source": {**school.source, "max_retries": 1}})
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    try:
        for s in (school_one_retry, other):
            assert process_school(s, home=la.home, warehouse=warehouse, as_of=AS_OF).status == LOADED
        counts = {s.key: {t: warehouse.count_where(t, "school_key = ?", [s.key]) for t in TABLES}
                  for s in (school_one_retry, other)}
        la.sim.inject("A200", ["503", "503"])
        failed = process_school(school_one_retry, home=la.home, warehouse=warehouse, as_of=AS_OF)
        loaded = process_school(other, home=la.home, warehouse=warehouse, as_of=AS_OF)
        assert failed.status == "failed" and failed.transient and loaded.status == LOADED
        assert "HTTP 503" in failed.message and "/students" in failed.message
        la.assert_clean(failed.message, school)
        assert {s.key: {t: warehouse.count_where(t, "school_key = ?", [s.key]) for t in TABLES}
                for s in (school_one_retry, other)} == counts
    finally:
        warehouse.close()


def test_vendor_extract_is_archived_and_replays_without_the_vendor(la, school, tmp_path):
    from ncc_transfer.archive import archived_nights

    home = tmp_path / "home"
    home.mkdir()
    with ncc_env(home, NCC_ARCHIVE_KEY=ARCHIVE_KEY, WONDE_FAULT_TOKEN=TOKEN):
        warehouse = DuckDBWarehouse(home / "w.duckdb")
        try:
            first = process_school(school, home=home, warehouse=warehouse, as_of=AS_OF)
            assert first.status == LOADED and first.archived
            assert archived_nights(home, school.key) == [AS_OF]
            assert first.fetch == {"kind": "full", "reason": "no previous extract"}
            before = {t: warehouse.read(f"SELECT * FROM {t} WHERE school_key = ?", [school.key]) for t in TABLES}
            la.sim.log.clear()
            la.sim.inject("A200", ["500"] * 10)  # the vendor is down: the replay must not need it
            replayed = process_school(school, home=home, warehouse=warehouse, as_of=AS_OF, replay=True)
            assert replayed.status == LOADED, replayed.message
            assert la.sim.log == []
            for t in TABLES:
                after = warehouse.read(f"SELECT * FROM {t} WHERE school_key = ?", [school.key])
                assert len(after) == len(before[t])
        finally:
            warehouse.close()
    la.sim.clear()
