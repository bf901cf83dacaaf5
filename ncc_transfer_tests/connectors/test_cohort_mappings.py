"""Each route's cohort-field mapping (ncc_transfer.cohorts; docs/routes.md, "Cohort fields by route"): the vendor
record as the route's mapping says the vendor sends it, to the raw pupils row, and what each route declares."""

from __future__ import annotations

import pytest

from ncc_transfer.canonical import COHORT_COLUMNS
from ncc_transfer.connectors.routes import ROUTES
from ncc_transfer.connectors.wonde.connector import student_row as wonde_row
from ncc_transfer.connectors.xporter.connector import student_row as xporter_row
from ncc_transfer.simulator.records import flag_out


def test_every_route_declares_only_cohort_columns_and_the_files_route_all_of_them():
    for route, spec in ROUTES.items():
        assert set(spec.cohort_fields) <= set(COHORT_COLUMNS), route
    assert ROUTES["files"].cohort_fields == tuple(COHORT_COLUMNS)
    assert set(ROUTES["xporter"].cohort_fields) == set(ROUTES["wonde"].cohort_fields) == {
        "sen_provision", "fsm_eligible", "fsm_ever6", "looked_after"}


def test_xporter_student_cohort_fields():
    row = xporter_row({"Id": "3116", "SENProvision": "E", "FSMEligible": True, "FSMEver6": False, "InLeaCare": None})
    assert [row[c] for c in ("sen_provision", "fsm_eligible", "fsm_ever6", "looked_after")] == ["E", "true", "false", None]
    assert "child_in_need" not in row and "child_protection_plan" not in row  # not carried: null in the frame


def test_wonde_student_cohort_fields_from_extended_details():
    row = wonde_row({"id": "A1", "extended_details": {"data": {"sen_status": "K", "free_school_meals": False,
                                                                "free_school_meals_6": True, "in_lea_care": True}}})
    assert [row[c] for c in ("sen_provision", "fsm_eligible", "fsm_ever6", "looked_after")] == ["K", "false", "true", "true"]
    assert wonde_row({"id": "A2"})["fsm_eligible"] is None  # include missing: not supplied


@pytest.mark.parametrize("supplied, sent", [("Y", True), ("n", False), ("true", True), ("0", False), (None, None),
                                            ("maybe", "maybe")])
def test_simulators_send_flags_as_json_booleans_and_odd_values_as_supplied(supplied, sent):
    assert flag_out(supplied) == sent
