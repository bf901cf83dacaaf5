"""The RM Integris route (a GUESSED API shape, ``connectors/integris/mapping.py``) end to end over real
HTTP on loopback: the same school gives identical canonical tables through the route and the files
route.

Every fetch starts with a token request, and the simulator serves it under the school, so a school's
first injected fault lands on it. ``ON_TOKEN`` is a fault that passes harmlessly there (an
``expire-token`` on the token request has no token yet to revoke), to aim the next fault at the first
data request.

What every route must do (tables identical to the files route's, the night through ``process_school``,
secrets not set or refused, the shared simulator faults) is tested for every route in
``test_route_contract.py``; this module keeps what only this route does.
"""

from __future__ import annotations

import pytest

from ncc_transfer.canonical import TABLES
from ncc_transfer.connectors.integris import mapping as M
from ncc_transfer.connectors.integris.connector import IntegrisConnector
from ncc_transfer.pipeline import LOADED, process_school
from ncc_transfer.registry import RegistryError, parse_registry
from ncc_transfer.simulator import load_source
from ncc_transfer.warehouse import DuckDBWarehouse
from ncc_transfer_tests.vendor_support import AS_OF, assert_same_as_files, build_vendor_la

ROUTE = "integris"
TOKEN = M.TOKEN_PATH.strip("/")
ON_TOKEN = "expire-token"


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    la, stop = build_vendor_la(tmp_path_factory.mktemp("integris_la"), schools=3)
    for n, _ in enumerate(la.files_schools):
        la.secrets[f"INTEGRIS_CLIENT_{n}"] = f"integris-client-{n}"
        la.secrets[f"INTEGRIS_SECRET_{n}"] = f"integris-client-secret-{n}-7d21e0"
    yield la
    stop()


@pytest.fixture()
def env(la, monkeypatch):
    return la.with_secrets(monkeypatch)


def serve(la, n: int = 0, **extra):
    """School ``n`` of the small LA served on the Integris route; returns (registry School, vendor id)."""
    school = la.files_schools[n]
    settings = {"school_id": f"IG{school.laestab}", "client_id_env": f"INTEGRIS_CLIENT_{n}",
                "client_secret_env": f"INTEGRIS_SECRET_{n}", "backoff_factor": 0.01, **extra}
    vendor_school, _ = la.serve(ROUTE, school, **settings)
    return vendor_school, settings["school_id"]


def school_source(la, n: int):
    """A fresh copy of school ``n``'s records as the simulated MIS holds them."""
    school = la.files_schools[n]
    return load_source(school.landing_folder(la.home), school.laestab)


def fetch(school):
    return IntegrisConnector().fetch(school, as_of=AS_OF)


def endpoints(la, vendor_id: str) -> list[str]:
    return [h.endpoint for h in la.sim.requests_to(vendor_id, ROUTE)]


def tokens_issued(la, vendor_id: str) -> int:
    return sum(1 for h in la.sim.requests_to(vendor_id, ROUTE) if h.endpoint == TOKEN and h.status == 200)


def registry(source: dict) -> dict:
    return {"local_authority": {"code": "926", "name": "Test"},
            "schools": [{"laestab": "9262001", "name": "A School", "mis": ROUTE, "source": source}]}


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
        parse_registry(registry(source), tmp_path / "schools.yaml")


def test_registry_accepts_good_settings(tmp_path):
    parse_registry(registry(GOOD), tmp_path / "schools.yaml")


def test_mapping_helpers():
    connector = IntegrisConnector()
    assert connector.statutory_code("X01") == "X" and connector.statutory_code("g01") == "G"
    assert connector.statutory_code("Y1") == "Y1" and connector.statutory_code(None) is None
    row = connector.pupil_row({"upn": "A123", "dateOfBirth": "2015-09-05T00:00:00", "address": {"postcode": "NR1 1AA"}})
    assert row["upn"] == "A123" and row["dob"] == "2015-09-05" and row["postcode"] == "NR1 1AA"
    assert row["surname"] is None


# ---------------------------------------------------------------------------------- the round trip


def test_leavers_included_and_values_passed_through(env):
    """Leavers come with ``includeLeavers=true``; odd values (sex X, none) reach validation as supplied."""
    la = env
    school, _ = serve(la, 2)
    raw = fetch(school).tables["pupils"]
    source = school_source(la, 2)
    assert len(raw) == len(source.pupils)
    leavers = sum(1 for p in source.pupils if p.is_leaver)
    assert leavers > 0 and raw["leaving_date"].notna().sum() == leavers
    assert sorted(raw["sex"].fillna("")) == sorted((p.row.get("sex") or "") for p in source.pupils)


def test_token_url_setting_is_used(env):
    la = env
    school, vendor_id = serve(la, 2, token_url=f"{la.root}/{ROUTE}{M.TOKEN_PATH}")
    assert len(fetch(school).tables["pupils"]) > 0
    assert endpoints(la, vendor_id)[0] == TOKEN


# --------------------------------------------------------------------------------------- faults


@pytest.mark.parametrize("faults, path", [(["503"] * 3, M.TOKEN_PATH),
                                          ([ON_TOKEN] + ["503"] * 3, "/students")])
def test_persistent_5xx_is_transient_and_previous_load_kept(env, tmp_path, faults, path):
    la = env
    school, vendor_id = serve(la, 0, max_retries=2)
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    try:
        assert process_school(school, home=la.home, warehouse=warehouse, as_of=AS_OF).status == LOADED
        before = {t: warehouse.count_where(t, "school_key = ?", [school.key]) for t in TABLES}
        la.sim.log.clear()
        la.sim.inject(vendor_id, faults, route=ROUTE)  # the request and both retries
        outcome = process_school(school, home=la.home, warehouse=warehouse, as_of=AS_OF)
        assert outcome.status == "failed" and outcome.transient
        for part in (school.key, ROUTE, "HTTP 503", path):
            assert part in outcome.message
        assert la.sim.statuses(vendor_id, ROUTE)[-3:] == [503, 503, 503]
        assert {t: warehouse.count_where(t, "school_key = ?", [school.key]) for t in TABLES} == before
        la.assert_clean(outcome.message, school)
    finally:
        warehouse.close()


def test_expired_token_reauthenticates_exactly_once(env):
    la = env
    school, vendor_id = serve(la, 2)
    la.sim.inject(vendor_id, [ON_TOKEN, "expire-token"], route=ROUTE)
    raw = fetch(school)
    assert endpoints(la, vendor_id)[:4] == [TOKEN, "students", TOKEN, "students"]
    assert la.sim.statuses(vendor_id, ROUTE)[:4] == [200, 401, 200, 200]
    assert tokens_issued(la, vendor_id) == 2 and la.sim.statuses(vendor_id, ROUTE).count(401) == 1
    assert_same_as_files(raw.tables, la, la.files_schools[2])


