"""Each route's cohort-field mapping (ncc_transfer.cohorts; docs/routes.md, "Cohort fields by route"): the vendor
record as the route's mapping says the vendor sends it, to the raw pupils row, and what each route declares."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from ncc_transfer.cohorts import flag_text, flag_value, sen_provision_text
from ncc_transfer.canonical import COHORT_COLUMNS
from ncc_transfer.connectors.routes import ROUTES
from ncc_transfer.connectors.arbor import mapping as arbor_mapping
from ncc_transfer.connectors.arbor.connector import cohort_values as arbor_cohort_values
from ncc_transfer.connectors.arbor.connector import with_cohorts as arbor_with_cohorts
from ncc_transfer.connectors.bromcom.connector import looked_after as bromcom_looked_after
from ncc_transfer.connectors.bromcom.connector import sen_provision as bromcom_sen_provision
from ncc_transfer.connectors.integris import mapping as integris_mapping
from ncc_transfer.connectors.integris.connector import IntegrisConnector
from ncc_transfer.connectors.integris.simulator import value_out as integris_out
from ncc_transfer.connectors.pupil_asset import mapping as pupil_asset_mapping
from ncc_transfer.connectors.pupil_asset.connector import PupilAssetConnector
from ncc_transfer.connectors.pupil_asset.simulator import value_out as pupil_asset_out
from ncc_transfer.connectors.sims import mapping as sims_mapping
from ncc_transfer.connectors.sims.connector import pupil_row as sims_row
from ncc_transfer.connectors.sims.simulator import _sen_status as sims_sen_status
from ncc_transfer.connectors.wonde.connector import cohort_flags as wonde_cohort_flags
from ncc_transfer.connectors.wonde.connector import cohort_periods as wonde_periods
from ncc_transfer.connectors.wonde.connector import flags_on as wonde_flags_on
from ncc_transfer.connectors.wonde.connector import periods_from_text as wonde_periods_from_text
from ncc_transfer.connectors.wonde.connector import periods_text as wonde_periods_text
from ncc_transfer.connectors.wonde.connector import student_row as wonde_row
from ncc_transfer.connectors.wonde.simulator import date_ranges as wonde_date_ranges
from ncc_transfer.connectors.xporter.connector import student_row as xporter_row
from ncc_transfer.simulator.records import flag_out
from ncc_transfer_tests.validation.test_validation import PUPIL, run

FLAGS = ("fsm_eligible", "fsm_ever6", "looked_after", "child_in_need", "child_protection_plan")


def test_every_route_declares_only_cohort_columns_and_the_files_route_all_of_them():
    for route, spec in ROUTES.items():
        assert set(spec.cohort_fields) <= set(COHORT_COLUMNS), route
    assert ROUTES["files"].cohort_fields == tuple(COHORT_COLUMNS)
    assert set(ROUTES["xporter"].cohort_fields) == {"sen_provision", "fsm_eligible", "fsm_ever6", "looked_after"}
    assert set(ROUTES["scholarpack"].cohort_fields) == set(ROUTES["bromcom"].cohort_fields) == {
        "sen_provision", "looked_after"}
    assert set(ROUTES["wonde"].cohort_fields) == set(ROUTES["arbor"].cohort_fields) == {
        "sen_provision", "fsm_eligible", "fsm_ever6", "looked_after", "child_protection_plan"}
    assert set(ROUTES["sims"].cohort_fields) == set(ROUTES["integris"].cohort_fields) == {
        "sen_provision", "fsm_eligible", "looked_after"}
    assert set(ROUTES["pupil_asset"].cohort_fields) == {"sen_provision", "fsm_eligible", "fsm_ever6", "looked_after"}


@pytest.mark.parametrize("route, fields", [("sims", sims_mapping.PUPIL_FIELDS),
                                           ("pupil_asset", pupil_asset_mapping.PUPIL_FIELDS),
                                           ("integris", integris_mapping.PUPIL_FIELDS)])
def test_a_route_declares_exactly_the_cohort_fields_its_mapping_reads(route, fields):
    assert set(ROUTES[route].cohort_fields) == set(fields) & set(COHORT_COLUMNS)


def validated(*rows: dict):
    """The route's raw cohort values through validation, each on a valid pupil: (the canonical cohort columns,
    null as None; the cohort warnings as (rule, value))."""
    upns = [PUPIL["upn"], "P926200115002"]
    result = run(pupils=[{**PUPIL, "upn": upns[n], **{c: row.get(c) for c in COHORT_COLUMNS}}
                         for n, row in enumerate(rows)])
    found = result.issues[result.issues["rule"].str.endswith("_invalid")]
    pupils = result.tables["pupils"].set_index("upn").loc[upns[:len(rows)], COHORT_COLUMNS].astype(object)
    return pupils.where(pupils.notna(), None), sorted(zip(found["rule"], found["value"]))


def _sen_status(description):
    return {"Description": description, "ExternalID": "S1", "Type": "Learner.Lookup.SENStatus"}


def test_sims_learner_characteristics():
    learner = {"ExternalID": "L1", "LegalSurname": "Smith"}
    row = sims_row(learner, {"characteristics": {"ExternalID": "C1", "Learner": {"ExternalID": "L1"},
                                                 "SENStatus": _sen_status("SEN Support"), "FSMEligible": True,
                                                 "InCare": False}})
    assert [row[c] for c in COHORT_COLUMNS] == ["K", "true", None, "false", None, None]
    for description, code in (("Education, Health and Care Plan", "E"), ("No Special Educational Need", "N"),
                              ("E", "E"), ("S", "S")):  # a code, legacy too, as it is: validation normalises S
        record = {"characteristics": {"SENStatus": _sen_status(description)}}
        assert sims_row(learner, record)["sen_provision"] == code
    # no LearnerCharacteristics record, a null reference or a field missing from the record: not supplied
    assert [sims_row(learner, {})[c] for c in COHORT_COLUMNS] == [None] * 6
    assert sims_row(learner, {"characteristics": {"SENStatus": None}})["sen_provision"] is None
    assert sims_row(learner, {"characteristics": {"SENStatus": _sen_status("K")}})["fsm_eligible"] is None
    # a value that is not a code, a label or a flag goes on as supplied: validation warns and loads it as null
    odd = sims_row(learner, {"characteristics": {"SENStatus": _sen_status("Under assessment"),
                                                 "FSMEligible": "sometimes", "InCare": True}})
    assert [odd[c] for c in ("sen_provision", "fsm_eligible", "looked_after")] == ["Under assessment", "sometimes",
                                                                                    "true"]
    pupils, warnings = validated(row, odd)
    assert pupils["sen_provision"].tolist() == ["K", None] and pupils["fsm_eligible"].tolist() == [True, None]
    assert pupils["looked_after"].tolist() == [False, True]
    assert warnings == [("fsm_eligible_invalid", "sometimes"), ("sen_provision_invalid", "Under assessment")]


def test_sims_simulator_sen_status_reference_reads_back():
    assert sims_sen_status("9262001", None) is None
    for code in ("N", "K", "E", "S"):
        reference = sims_sen_status("9262001", code)
        assert reference["Type"] == sims_mapping.SEN_STATUS_TYPE and reference["ExternalID"]
        assert sims_row({"ExternalID": "L1"}, {"characteristics": {"SENStatus": reference}})["sen_provision"] == code


def test_one_label_map_for_every_route_that_sends_labels():
    for labels in (sims_mapping.SEN_STATUS_LABELS, pupil_asset_mapping.SEN_STATUS_LABELS):
        assert {code: sen_provision_text(label) for code, label in labels.items()} == {c: c for c in labels}
    assert [sen_provision_text(v) for v in (" sen  support ", "EHCP", "Statement", "K", "x", "", None)] == [
        "K", "E", "S", "K", "x", "", None]


def test_pupil_asset_pupil_cohort_fields_and_sen_labels():
    connector = PupilAssetConnector()
    row = connector.pupil_row({"id": 1, "gender": "Female", "sen_status": "EHC Plan", "fsm": True,
                               "fsm_ever_6": False})
    assert [row.get(c) for c in COHORT_COLUMNS] == ["E", "true", "false", None, None, None]  # looked_after missing
    assert "child_in_need" not in row  # not carried: null in the frame
    labels = {"No SEN": "N", " sen support ": "K", "EHC PLAN": "E", "K": "K", "s": "s", "": ""}
    for label, code in labels.items():  # labels whatever their case (cohorts.sen_provision_text); codes pass
        assert connector.pupil_row({"sen_status": label})["sen_provision"] == code, label
    odd = connector.pupil_row({"sen_status": "Statement pending", "fsm": "yes", "looked_after": "unknown"})
    assert [odd[c] for c in ("sen_provision", "fsm_eligible", "looked_after")] == ["Statement pending", "yes",
                                                                                    "unknown"]
    pupils, warnings = validated(row, odd)
    assert pupils["sen_provision"].tolist() == ["E", None] and pupils["fsm_eligible"].tolist() == [True, True]
    assert pupils["fsm_ever6"].tolist() == [False, None] and pupils["looked_after"].isna().all()
    assert warnings == [("looked_after_invalid", "unknown"), ("sen_provision_invalid", "Statement pending")]


def test_pupil_asset_simulator_writes_labels_and_booleans_the_connector_reads_back():
    assert [pupil_asset_out("sen_provision", c) for c in ("N", "K", "E", "S", None, "X")] == [
        "No SEN", "SEN Support", "EHC Plan", "S", None, "X"]
    assert [pupil_asset_out("fsm_ever6", v) for v in ("Y", "0", None, "maybe")] == [True, False, None, "maybe"]
    connector = PupilAssetConnector()
    for code in ("N", "K", "E"):
        assert connector.pupil_row({"sen_status": pupil_asset_out("sen_provision", code)})["sen_provision"] == code


def test_integris_student_cohort_fields_as_y_n():
    connector = IntegrisConnector()
    row = connector.pupil_row({"studentId": "STU1", "senStatus": "N", "fsmEligible": "Y", "inCare": "N"})
    assert [row.get(c) for c in COHORT_COLUMNS] == ["N", "Y", None, "N", None, None]  # as supplied: read Y/N later
    missing = connector.pupil_row({"studentId": "STU2", "fsmEligible": None})
    assert [missing.get(c) for c in COHORT_COLUMNS] == [None] * 6
    odd = connector.pupil_row({"studentId": "STU3", "senStatus": "Q", "fsmEligible": "U", "inCare": "y"})
    label = connector.pupil_row({"studentId": "STU4", "senStatus": "SEN Support"})  # a label: the one label map
    assert label["sen_provision"] == "K"
    pupils, warnings = validated(row, odd)
    assert pupils["sen_provision"].tolist() == ["N", None] and pupils["fsm_eligible"].tolist() == [True, None]
    assert pupils["looked_after"].tolist() == [False, True] and pupils["fsm_ever6"].isna().all()
    assert warnings == [("fsm_eligible_invalid", "U"), ("sen_provision_invalid", "Q")]
    sent = [integris_out("looked_after", v) for v in ("true", "N", "1", None, "maybe")]
    assert sent == ["Y", "N", "Y", None, "maybe"]
    assert integris_out("sen_provision", "K") == "K"


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


def test_the_docs_table_says_null_exactly_where_a_route_carries_nothing():
    """docs/routes.md, "Cohort fields by route": a vendor route's row is null in exactly the columns its SPEC
    does not declare."""
    text = (Path(__file__).parents[2] / "docs" / "routes.md").read_text()
    section = text[text.index("## Cohort fields by route"):].split("\n## ")[0]
    header = next(line for line in section.splitlines() if line.startswith("| route |"))
    columns = [c.strip(" `") for c in header.strip("|").split("|")][1:]
    assert columns == COHORT_COLUMNS
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and cells[0].strip("`") in ROUTES and cells[0].count("`") == 2:
            rows[cells[0].strip("`")] = cells[1:]
    assert set(rows) == set(ROUTES) - {"files"}
    for route, cells in rows.items():
        assert [c for c, cell in zip(COHORT_COLUMNS, cells) if cell != "null"] == \
            [c for c in COHORT_COLUMNS if c in ROUTES[route].cohort_fields], route
