"""The Pupil Asset route (a GUESSED API shape, ``connectors/pupil_asset/mapping.py``): its settings, its
code maps and its error-in-a-200.

What every route must do (tables identical to the files route's, leavers and odd values passed
through, the night through ``process_school``, secrets not set or refused, the shared simulator faults)
is tested for every route, over real HTTP on loopback, in ``test_route_contract.py``; this module keeps
what only this route does.
"""

from __future__ import annotations

import pytest

from ncc_transfer.connectors.http import VendorError
from ncc_transfer.connectors.pupil_asset.connector import PupilAssetConnector, check_success
from ncc_transfer.registry import RegistryError
from ncc_transfer_tests.connectors.vendor_support import route_registry

ROUTE = "pupil_asset"


# ------------------------------------------------------------------------------- settings, mapping


@pytest.mark.parametrize("source, problem", [
    ({"school_id": "1"}, r"source\.api_key_env: missing"),
    ({"api_key_env": "PA_KEY"}, r"source\.school_id: missing"),
    ({"school_id": "1", "api_key_env": "sk live 123!"}, r"source\.api_key_env: must be the NAME"),
    ({"school_id": "1", "api_key_env": "PA_KEY", "base_url": "http://pupilasset.example"}, r"must use https"),
    ({"school_id": "1", "api_key_env": "PA_KEY", "token_env": "X"}, r"source\.token_env: not a setting"),
])
def test_registry_validates_settings(tmp_path, source, problem):
    with pytest.raises(RegistryError, match=problem):
        route_registry(ROUTE, source, tmp_path)


def test_registry_accepts_the_default_base_url(tmp_path):
    school = route_registry(ROUTE, {"school_id": "1", "api_key_env": "PA_KEY"}, tmp_path).school(f"9262001-{ROUTE}")
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
