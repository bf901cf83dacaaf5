"""Each route's cohort-field mapping (ncc_transfer.cohorts; docs/routes.md, "Cohort fields by route"): the vendor
record as the route's mapping says the vendor sends it, to the raw pupils row, and what each route declares."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from ncc_transfer.cohorts import flag_text, flag_value
from ncc_transfer.canonical import COHORT_COLUMNS
from ncc_transfer.connectors.routes import ROUTES
from ncc_transfer.connectors.bromcom.connector import looked_after as bromcom_looked_after
from ncc_transfer.connectors.bromcom.connector import sen_provision as bromcom_sen_provision
from ncc_transfer.connectors.wonde.connector import cohort_flags as wonde_cohort_flags
from ncc_transfer.connectors.wonde.connector import cohort_periods as wonde_periods
from ncc_transfer.connectors.wonde.connector import flags_on as wonde_flags_on
from ncc_transfer.connectors.wonde.connector import periods_from_text as wonde_periods_from_text
from ncc_transfer.connectors.wonde.connector import periods_text as wonde_periods_text
from ncc_transfer.connectors.wonde.connector import student_row as wonde_row
from ncc_transfer.connectors.wonde.simulator import date_ranges as wonde_date_ranges
from ncc_transfer.connectors.xporter.connector import student_row as xporter_row
from ncc_transfer.simulator.records import flag_out


def test_every_route_declares_only_cohort_columns_and_the_files_route_all_of_them():
    for route, spec in ROUTES.items():
        assert set(spec.cohort_fields) <= set(COHORT_COLUMNS), route
    assert ROUTES["files"].cohort_fields == tuple(COHORT_COLUMNS)
    assert set(ROUTES["xporter"].cohort_fields) == {"sen_provision", "fsm_eligible", "fsm_ever6", "looked_after"}
    assert set(ROUTES["scholarpack"].cohort_fields) == set(ROUTES["bromcom"].cohort_fields) == {
        "sen_provision", "looked_after"}
    assert set(ROUTES["wonde"].cohort_fields) == {
        "sen_provision", "fsm_eligible", "fsm_ever6", "looked_after", "child_protection_plan"}


def test_xporter_student_cohort_fields():
    row = xporter_row({"Id": "3116", "SENProvision": "E", "FSMEligible": True, "FSMEver6": False, "InLeaCare": None})
    assert [row[c] for c in ("sen_provision", "fsm_eligible", "fsm_ever6", "looked_after")] == ["E", "true", "false", None]
    assert "child_in_need" not in row and "child_protection_plan" not in row  # not carried: null in the frame


def _ranges(*spans):
    return {"data": [{"start_date": s, "end_date": e} for s, e in spans]}


def test_wonde_student_cohort_fields_from_extended_details_and_date_ranges():
    night = date(2026, 3, 20)
    row = wonde_row({"id": "A1", "extended_details": {"data": {"sen_status": "K"}},
                     "fsm_date_ranges": _ranges(("2019-09-01", "2022-07-31")),  # ended within six years
                     "in_care_date_ranges": _ranges(({"date": "2025-01-06 00:00:00.000000"}, None)),
                     "child_protection_plan_date_ranges": _ranges(("2024-01-01", "2026-03-19"))}, night)
    assert [row[c] for c in ("sen_provision", "fsm_eligible", "fsm_ever6", "looked_after", "child_protection_plan")] \
        == ["K", "false", "true", "true", "false"]
    eligible = wonde_row({"id": "A2", "fsm_date_ranges": _ranges(("2026-03-20", None)),
                          "in_care_date_ranges": _ranges()}, night)
    assert [eligible[c] for c in ("fsm_eligible", "fsm_ever6", "looked_after")] == ["true", "true", "false"]
    assert eligible["child_protection_plan"] is None  # include missing: not supplied
    assert wonde_row({"id": "A3"}, night)["fsm_eligible"] is None
    assert wonde_row({"id": "A4", "fsm_date_ranges": _ranges(("soon", None))}, night)["fsm_ever6"] is None
    assert wonde_row({"id": "A5", "fsm_date_ranges": _ranges(("2026-03-20", None))})["fsm_eligible"] is None  # no night


def test_wonde_ranges_kept_as_text_give_the_same_flags_as_the_student():
    """The mirror keeps a pupil's ranges as text (PERIODS_KEY); read back they give the flags the student does."""
    night = date(2026, 3, 20)
    students = [{"id": "A1", "fsm_date_ranges": _ranges(("2019-09-01", "2022-07-31")),
                 "in_care_date_ranges": _ranges(({"date": "2025-01-06 00:00:00.000000"}, None)),
                 "child_protection_plan_date_ranges": _ranges(("2024-01-01", "2026-03-19"))},
                {"id": "A2", "fsm_date_ranges": _ranges(("2026-03-20", None)), "in_care_date_ranges": _ranges()},
                {"id": "A3"}, {"id": "A4", "fsm_date_ranges": _ranges(("soon", None))}]
    for student in students:
        kept = wonde_periods_text(wonde_periods(student))
        assert wonde_periods_from_text(kept) == wonde_periods(student)
        for day in (night, night - timedelta(days=400), night + timedelta(days=3000)):
            assert wonde_flags_on(wonde_periods_from_text(kept), day) == wonde_cohort_flags(student, day)
    assert wonde_periods_text(wonde_periods(students[1])) == \
        '{"child_protection_plan":null,"fsm":[["2026-03-20",null]],"looked_after":[]}'
    for unreadable in (None, "", "not json", "[1]"):  # every flag not supplied
        assert set(wonde_flags_on(wonde_periods_from_text(unreadable), night).values()) == {None}


def test_wonde_simulator_ranges_give_the_flags_back_on_nearby_nights():
    night = date(2026, 3, 20)
    for eligible, ever6 in (("Y", "Y"), ("N", "Y"), ("N", "N")):
        student = {"id": "A1", **wonde_date_ranges({"fsm_eligible": eligible, "fsm_ever6": ever6,
                                                    "looked_after": "true", "child_protection_plan": "0"}, night)}
        for day in (night, night + timedelta(days=30), night - timedelta(days=200)):
            row = wonde_row(json.loads(json.dumps(student)), day)
            assert [row["fsm_eligible"], row["fsm_ever6"]] == [flag_text(flag_value(eligible)), flag_text(flag_value(ever6))]
            assert (row["looked_after"], row["child_protection_plan"]) == ("true", "false")
    assert wonde_date_ranges({"fsm_eligible": None, "fsm_ever6": "Y", "looked_after": "maybe"}, night) == {}


def test_bromcom_sen_students_and_care_episodes():
    assert bromcom_sen_provision([{"StudentID": "1", "SENStatus": "K"}, {"StudentID": "2", "SENStatus": ""},
                                  {"SENStatus": "E"}]) == {"1": "K", "2": None}
    episodes = [{"StudentID": "1", "InCareStartDate": "2025-01-06T00:00:00+00:00"},  # open
                {"StudentID": "2", "InCareStartDate": "2024-01-01T00:00:00+00:00",
                 "InCareEndDate": "2026-03-19T00:00:00+00:00"},  # ended the day before
                {"StudentID": "3", "InCareStartDate": "last year"}]
    assert bromcom_looked_after(episodes, date(2026, 3, 20)) == {"1": "true", "2": "false", "3": None}


@pytest.mark.parametrize("supplied, sent", [("Y", True), ("n", False), ("true", True), ("0", False), (None, None),
                                            ("maybe", "maybe")])
def test_simulators_send_flags_as_json_booleans_and_odd_values_as_supplied(supplied, sent):
    assert flag_out(supplied) == sent
