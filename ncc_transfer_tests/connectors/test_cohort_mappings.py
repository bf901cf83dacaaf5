"""Each route's cohort-field mapping (ncc_transfer.cohorts; docs/routes.md, "Cohort fields by route"): the vendor
record as the route's mapping says the vendor sends it, to the raw pupils row, and what each route declares."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from ncc_transfer.cohorts import flag_text, flag_value
from ncc_transfer.canonical import COHORT_COLUMNS
from ncc_transfer.connectors.routes import ROUTES
from ncc_transfer.connectors.arbor import mapping as arbor_mapping
from ncc_transfer.connectors.arbor.connector import cohort_values as arbor_cohort_values
from ncc_transfer.connectors.arbor.connector import with_cohorts as arbor_with_cohorts
from ncc_transfer.connectors.bromcom.connector import looked_after as bromcom_looked_after
from ncc_transfer.connectors.bromcom.connector import sen_provision as bromcom_sen_provision
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
    assert set(ROUTES["wonde"].cohort_fields) == set(ROUTES["arbor"].cohort_fields) == {
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


ARBOR_NIGHT = date(2026, 3, 20)  # a Friday; six years before it: 2020-03-20


def _assigned(student, start, end=None, **more):
    """An Arbor cohort record as mapping.py says it comes (student.id, startDate, endDate, ...)."""
    record = {"id": f"{student}-{start}", "student": {"id": student}, "startDate": start, "endDate": end}
    return {**record, **more}


def test_arbor_sen_status_assignment_covering_the_night():
    sen = lambda code: {"senStatus": {"code": code}}
    records = [_assigned("1", "2024-09-02", None, **sen("K")),  # open: K
               _assigned("2", "2023-09-01", None, **sen("K")),  # two cover the night: the later start wins
               _assigned("2", "2025-11-03", None, **sen("E")),
               _assigned("3", "2024-09-02", "2026-03-19", **sen("K")),  # ended the day before: no SEN
               _assigned("4", "2026-03-20", None, **sen("E")),  # starts on the night: counted
               _assigned("5", "last year", None, **sen("K")),  # a date that cannot be read: not supplied
               _assigned("6", "2026-03-21", None, **sen("K")),  # starts the day after: no SEN
               {"id": "x", "student": None, "startDate": "2024-09-02", "senStatus": {"code": "E"}}]  # nobody's
    assert arbor_cohort_values(arbor_mapping.SEN_ENTITY, records, ARBOR_NIGHT) == {
        "sen_provision": {"1": "K", "2": "E", "4": "E", "5": None}}
    pupils = {sid: {"upn": f"A{sid}"} for sid in ("1", "3", "5", "6", "9")}
    rows = arbor_with_cohorts(pupils, arbor_cohort_values(arbor_mapping.SEN_ENTITY, records, ARBOR_NIGHT))
    # no assignment covering the night (or none at all): N; an unreadable date: null
    assert {sid: row["sen_provision"] for sid, row in rows.items()} == {"1": "K", "3": "N", "5": None, "6": "N", "9": "N"}


def test_arbor_fsm_eligibility_records_on_the_night():
    def fsm(person, start, end=None, code="FREE_SCHOOL_MEALS"):
        return {"id": f"{person}-{start}", "person": {"id": person}, "startDate": start, "endDate": end,
                "eligibility": {"code": code}}

    records = [fsm("1", "2025-01-06"),  # open: eligible, ever 6
               fsm("2", "2024-09-02", "2026-03-19"),  # ended the day before the night: ever 6 only
               fsm("3", "2019-09-02", "2020-03-20"),  # ended exactly six years before: still ever 6
               fsm("4", "2019-09-02", "2020-03-19"),  # ended six years and a day before: neither
               fsm("5", "2025-01-06", code="EARLY_YEARS_PUPIL_PREMIUM"),  # another eligibility: not FSM
               fsm("6", "2025-09-01 00:00:00", code=" fsm "),  # a datetime, the code's case and spaces
               fsm("7", "2025-13-01")]  # a date that cannot be read: not supplied
    values = arbor_cohort_values(arbor_mapping.FSM_ENTITY, records, ARBOR_NIGHT)
    pupils = {str(n): {} for n in range(1, 9)}
    rows = arbor_with_cohorts(pupils, values)
    assert {sid: (row["fsm_eligible"], row["fsm_ever6"]) for sid, row in rows.items()} == {
        "1": ("true", "true"), "2": ("false", "true"), "3": ("false", "true"), "4": ("false", "false"),
        "5": ("false", "false"), "6": ("true", "true"), "7": (None, None), "8": ("false", "false")}


def test_arbor_in_care_and_child_protection_assignments_covering_the_night():
    counts = lambda value: {"inCareStatus": None if value is None else {"countsAsInCareStatus": value}}
    in_care = [_assigned("1", "2025-01-06", None, **counts(True)),  # open
               _assigned("2", "2024-01-01", "2026-03-19", **counts(True)),  # ended the day before
               _assigned("3", "2025-01-06", None, **counts(False)),  # a status that does not count as in care
               _assigned("4", "2025-01-06", None, **counts(None))]  # no status object: counted
    protection = [_assigned("1", "2026-03-20"),  # starts on the night
                  _assigned("2", "2025-10-01", "2026-03-20"),  # ends on the night: still covers it
                  _assigned("3", "2025-10-01", "2026-03-19")]  # ended the day before
    values = {**arbor_cohort_values(arbor_mapping.IN_CARE_ENTITY, in_care, ARBOR_NIGHT),
              **arbor_cohort_values(arbor_mapping.CHILD_PROTECTION_ENTITY, protection, ARBOR_NIGHT)}
    rows = arbor_with_cohorts({str(n): {} for n in range(1, 6)}, values)
    assert {sid: row["looked_after"] for sid, row in rows.items()} == {
        "1": "true", "2": "false", "3": "false", "4": "true", "5": "false"}
    assert {sid: row["child_protection_plan"] for sid, row in rows.items()} == {
        "1": "true", "2": "true", "3": "false", "4": "false", "5": "false"}


def test_arbor_entity_not_read_leaves_its_columns_null_and_child_in_need_is_not_carried():
    values = {**arbor_cohort_values(arbor_mapping.SEN_ENTITY, [], ARBOR_NIGHT),
              "fsm_eligible": None, "fsm_ever6": None}  # EligibilityRecord refused
    rows = arbor_with_cohorts({"1": {"upn": "A1"}}, values)
    assert rows == {"1": {"upn": "A1", "sen_provision": "N", "fsm_eligible": None, "fsm_ever6": None}}
    assert "child_in_need" not in ROUTES["arbor"].cohort_fields
    assert set(arbor_mapping.COHORT_ENTITIES) == {"SenStatusAssignment", "EligibilityRecord",
                                                  "InCareStatusAssignment", "ChildProtectionStatusAssignment"}


@pytest.mark.parametrize("supplied, sent", [("Y", True), ("n", False), ("true", True), ("0", False), (None, None),
                                            ("maybe", "maybe")])
def test_simulators_send_flags_as_json_booleans_and_odd_values_as_supplied(supplied, sent):
    assert flag_out(supplied) == sent
