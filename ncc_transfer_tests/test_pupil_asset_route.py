"""The Pupil Asset route (a GUESSED API shape, ``connectors/pupil_asset/mapping.py``) end to end over real
HTTP on loopback: the same school gives identical canonical tables through the route and the files
route.

What every route must do (tables identical to the files route's, the night through ``process_school``,
secrets not set or refused, the shared simulator faults) is tested for every route in
``test_route_contract.py``; this module keeps what only this route does.
"""

from __future__ import annotations

import pytest

from ncc_transfer.connectors.http import VendorError
from ncc_transfer.connectors.pupil_asset.connector import PupilAssetConnector, check_success
from ncc_transfer.registry import RegistryError, parse_registry
from ncc_transfer.simulator import load_source
from ncc_transfer_tests.vendor_support import AS_OF, build_vendor_la

ROUTE = "pupil_asset"


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    la, stop = build_vendor_la(tmp_path_factory.mktemp("pupil_asset_la"), schools=3)
    for n, _ in enumerate(la.files_schools):
        la.secrets[f"PUPIL_ASSET_KEY_{n}"] = f"pupil-asset-secret-key-{n}-0f3a9c"
    yield la
    stop()


@pytest.fixture()
def env(la, monkeypatch):
    return la.with_secrets(monkeypatch)


def serve(la, n: int = 0, **extra):
    """School ``n`` of the small LA served on the Pupil Asset route; returns (registry School, vendor id)."""
    school = la.files_schools[n]
    settings = {"school_id": f"PA{school.laestab}", "api_key_env": f"PUPIL_ASSET_KEY_{n}", "backoff_factor": 0.01,
                **extra}
    vendor_school, _ = la.serve(ROUTE, school, **settings)
    return vendor_school, settings["school_id"]


def school_source(la, n: int):
    """A fresh copy of school ``n``'s records as the simulated MIS holds them."""
    school = la.files_schools[n]
    return load_source(school.landing_folder(la.home), school.laestab)


def fetch(school):
    return PupilAssetConnector().fetch(school, as_of=AS_OF)


def registry(source: dict) -> dict:
    return {"local_authority": {"code": "926", "name": "Test"},
            "schools": [{"laestab": "9262001", "name": "A School", "mis": ROUTE, "source": source}]}


# ------------------------------------------------------------------------------------ the contract


@pytest.mark.parametrize("source, problem", [
    ({"school_id": "1"}, r"source\.api_key_env: missing"),
    ({"api_key_env": "PA_KEY"}, r"source\.school_id: missing"),
    ({"school_id": "1", "api_key_env": "sk live 123!"}, r"source\.api_key_env: must be the NAME"),
    ({"school_id": "1", "api_key_env": "PA_KEY", "base_url": "http://pupilasset.example"}, r"must use https"),
    ({"school_id": "1", "api_key_env": "PA_KEY", "token_env": "X"}, r"source\.token_env: not a setting"),
])
def test_registry_validates_settings(tmp_path, source, problem):
    with pytest.raises(RegistryError, match=problem):
        parse_registry(registry(source), tmp_path / "schools.yaml")


def test_registry_accepts_the_default_base_url(tmp_path):
    school = parse_registry(registry({"school_id": "1", "api_key_env": "PA_KEY"}), tmp_path / "s.yaml").school(
        f"9262001-{ROUTE}")
    assert PupilAssetConnector().settings(school).base_url == "https://secure.pupilasset.com"


def test_local_subcodes_map_to_statutory_codes():
    statutory_code = PupilAssetConnector().statutory_code
    assert statutory_code("X01") == "X" and statutory_code("i01") == "I"
    assert statutory_code("C1") == "C1" and statutory_code("/") == "/" and statutory_code(None) is None


def test_exclusion_types_map_to_categories_whatever_their_case():
    row = PupilAssetConnector().exclusion_row({"type": " Fixed ", "pupil_id": 7, "start_date": "2026-01-05"})
    assert (row["category"], row["_student"], row["start_date"]) == ("SUSP", "7", "2026-01-05")
    assert PupilAssetConnector().exclusion_row({"type": "detention"})["category"] == "detention"


def test_error_body_check_names_the_endpoint_only():
    with pytest.raises(VendorError, match=r"success: false.*/api/v1/schools/1/pupils") as caught:
        check_success({"success": False, "error": "Pupil Jane Smith not found"}, ROUTE,
                      "https://secure.pupilasset.com/api/v1/schools/1/pupils?page=2")
    assert "Jane" not in str(caught.value) and "page=2" not in str(caught.value)
    assert not caught.value.transient
    check_success({"success": True, "data": []}, ROUTE, "https://x/api")  # no error


# ---------------------------------------------------------------------------------- the round trip


def test_leavers_included_and_values_passed_through(env):
    """Leavers come with ``status=all``; odd values (sex X, none) reach validation as supplied."""
    la = env
    school, _ = serve(la, 2)
    raw = fetch(school).tables["pupils"]
    source = school_source(la, 2)
    assert len(raw) == len(source.pupils)
    leavers = sum(1 for p in source.pupils if p.is_leaver)
    assert leavers > 0 and raw["leaving_date"].notna().sum() == leavers
    assert sorted(raw["sex"].fillna("")) == sorted((p.row.get("sex") or "") for p in source.pupils)
    assert {"X", ""} <= set(raw["sex"].fillna(""))


# --------------------------------------------------------------------------------------- faults


