"""A vendor fault in the night, through the Wonde route over real HTTP on loopback: a failing school keeps
its last good load and touches no other; and the vendor-route raw archive (replay without calling the
vendor). Each simulator fault against every route is in ``test_route_contract.py``.
"""

from __future__ import annotations


import pytest

from ncc_transfer.canonical import TABLES
from ncc_transfer.pipeline import LOADED, process_school
from ncc_transfer.warehouse import DuckDBWarehouse
from ncc_transfer_tests.conftest import ncc_env
from ncc_transfer_tests.connectors.vendor_support import AS_OF, running_vendor_la

TOKEN = "wonde-faults-secret-token-42"
ARCHIVE_KEY = "Zm9yLXRlc3RzLW9ubHktbm90LWEtcmVhbC1rZXkhISE="


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    yield from running_vendor_la(tmp_path_factory.mktemp("wonde_faults"), schools=2,
                                 secrets={"WONDE_FAULT_TOKEN": TOKEN})


@pytest.fixture()
def school(la, monkeypatch):
    la.with_secrets(monkeypatch)
    la.sim.slow_seconds = 1.0
    served, _ = la.serve("wonde", la.files_schools[1], school_id="A200", token_env="WONDE_FAULT_TOKEN",
                         backoff_factor=0.01)
    return served


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
