"""The RM Integris route (a GUESSED API shape, ``connectors/integris/mapping.py``) end to end over real
HTTP on loopback: the same school gives identical canonical tables through the route and the files
route.

Every fetch starts with a token request, and the simulator serves it under the school, so a school's
first injected fault lands on it. ``ON_TOKEN`` is a fault that passes harmlessly there (an
``expire-token`` on the token request has no token yet to revoke), to aim the next fault at the first
data request.

What every route must do (tables identical to the files route's, leavers and odd values passed
through, the night through ``process_school``, secrets not set or refused, the shared simulator faults)
is tested for every route in ``test_route_contract.py``; this module keeps what only this route does.
"""

from __future__ import annotations

import pytest

from ncc_transfer.canonical import TABLES
from ncc_transfer.connectors.integris import mapping as M
from ncc_transfer.connectors.integris.connector import IntegrisConnector
from ncc_transfer.pipeline import LOADED, process_school
from ncc_transfer.registry import RegistryError
from ncc_transfer.warehouse import DuckDBWarehouse
from ncc_transfer_tests.connectors.vendor_support import AS_OF, assert_same_as_files, route_registry, running_vendor_la

ROUTE = "integris"
TOKEN = M.TOKEN_PATH.strip("/")
ON_TOKEN = "expire-token"


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    yield from running_vendor_la(tmp_path_factory.mktemp("integris_la"))


def fetch(served):
    return IntegrisConnector().fetch(served.school, as_of=AS_OF)


def tokens_issued(la, served) -> int:
    return sum(1 for e, s in zip(served.endpoints(la), served.statuses(la)) if e == TOKEN and s == 200)


GOOD = {"school_id": "1", "client_id_env": "IG_ID", "client_secret_env": "IG_SECRET",
        "base_url": "https://integris.example"}


# ------------------------------------------------------------------------------------ the contract


@pytest.mark.parametrize("change, problem", [
    ({"base_url": None}, r"source\.base_url: missing"),  # no public Integris host is known
    ({"client_secret_env": None}, r"source\.client_secret_env: missing"),
    ({"school_id": None}, r"source\.school_id: missing"),
    ({"client_id_env": "my client id"}, r"source\.client_id_env: must be the NAME"),
    ({"token_url": "http://integris.example/oauth/token"}, r"source\.token_url: must use https"),
    ({"api_key_env": "X"}, r"source\.api_key_env: not a setting"),
])
def test_registry_validates_settings(tmp_path, change, problem):
    source = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(RegistryError, match=problem):
        route_registry(ROUTE, source, tmp_path)


def test_registry_accepts_good_settings(tmp_path):
    route_registry(ROUTE, GOOD, tmp_path)


def test_mapping_helpers():
    connector = IntegrisConnector()
    assert connector.statutory_code("X01") == "X" and connector.statutory_code("g01") == "G"
    assert connector.statutory_code("Y1") == "Y1" and connector.statutory_code(None) is None
    row = connector.pupil_row({"upn": "A123", "dateOfBirth": "2015-09-05T00:00:00", "address": {"postcode": "NR1 1AA"}})
    assert row["upn"] == "A123" and row["dob"] == "2015-09-05" and row["postcode"] == "NR1 1AA"
    assert row["surname"] is None


# ---------------------------------------------------------------------------------- the round trip


def test_token_url_setting_is_used(la, monkeypatch):
    served = la.serve_demo(ROUTE, monkeypatch, 2, token_url=f"{la.root}/{ROUTE}{M.TOKEN_PATH}")
    assert len(fetch(served).tables["pupils"]) > 0
    assert served.endpoints(la)[0] == TOKEN


# --------------------------------------------------------------------------------------- faults


@pytest.mark.parametrize("faults, path", [(["503"] * 3, M.TOKEN_PATH),
                                          ([ON_TOKEN] + ["503"] * 3, "/students")])
def test_persistent_5xx_is_transient_and_previous_load_kept(la, monkeypatch, tmp_path, faults, path):
    served = la.serve_demo(ROUTE, monkeypatch, 0, max_retries=2)
    school = served.school
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    try:
        assert process_school(school, home=la.home, warehouse=warehouse, as_of=AS_OF).status == LOADED
        before = {t: warehouse.count_where(t, "school_key = ?", [school.key]) for t in TABLES}
        la.sim.log.clear()
        served.inject(la, faults)  # the request and both retries
        outcome = process_school(school, home=la.home, warehouse=warehouse, as_of=AS_OF)
        assert outcome.status == "failed" and outcome.transient
        for part in (school.key, ROUTE, "HTTP 503", path):
            assert part in outcome.message
        assert served.statuses(la)[-3:] == [503, 503, 503]
        assert {t: warehouse.count_where(t, "school_key = ?", [school.key]) for t in TABLES} == before
        la.assert_clean(outcome.message, school)
    finally:
        warehouse.close()


def test_expired_token_reauthenticates_exactly_once(la, monkeypatch):
    served = la.serve_demo(ROUTE, monkeypatch, 2)
    served.inject(la, [ON_TOKEN, "expire-token"])
    raw = fetch(served)
    assert served.endpoints(la)[:4] == [TOKEN, "students", TOKEN, "students"]
    assert served.statuses(la)[:4] == [200, 401, 200, 200]
    assert tokens_issued(la, served) == 2 and served.statuses(la).count(401) == 1
    assert_same_as_files(raw.tables, la, la.files_schools[2], "integris")


