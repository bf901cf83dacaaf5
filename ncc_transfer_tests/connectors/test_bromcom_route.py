"""The Bromcom route end to end over real HTTP on loopback: SOAP (ASMX) Read-Only Data Service, .NET DataSet
responses, credentials in every SOAP body, attendance read in date windows of at most 30 days.

The key property: the same school gives identical canonical tables through Bromcom and the files route.
Fault tests fetch an early night (one attendance window) so each costs four requests:
findEntitiesBySchoolID, Students, Attendances, StudentExclusions.

What every route must do (tables identical to the files route's, the night through ``process_school``,
secrets not set or refused, the shared simulator faults) is tested for every route in
``test_route_contract.py``; this module keeps what only this route does.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest
import requests

from ncc_transfer.connectors.bromcom import mapping as B
from ncc_transfer.connectors.base import VendorRouteError, date_spans, date_text
from ncc_transfer.connectors.bromcom.connector import BromcomConnector, dataset_rows, student_row
from ncc_transfer.connectors.http import (
    SOAP11,
    SoapBodyCredentials,
    VendorError,
    make_session,
    parse_soap,
    soap_call,
    soap_envelope,
    soap_headers,
)
from ncc_transfer.pipeline import TransientExtractError
from ncc_transfer.registry import RegistryError
from ncc_transfer.rules.calendar import academic_year_start
from ncc_transfer.connectors.bromcom import simulator as sim_bromcom
from ncc_transfer.warehouse import DuckDBWarehouse
from ncc_transfer_tests.connectors.vendor_support import AS_OF, night_with_wrong_secrets, route_registry, running_vendor_la

ROUTE = "bromcom"
EARLY = date(2025, 9, 12)  # a night with a single attendance window
ALL_OK = [200, 200, 200, 200]  # findEntities, Students, Attendances, StudentExclusions
SERVICE = f"/{ROUTE}/{B.SERVICE_PATH}"


def _user_env(n: int) -> str:
    return f"BROMCOM_USER_{n}"


def _password_env(n: int) -> str:
    return f"BROMCOM_PASSWORD_{n}"


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    for la in running_vendor_la(tmp_path_factory.mktemp("bromcom_la"), secrets=lambda n, _: {
            _user_env(n): f"tp-user-{n}",
            _password_env(n): f"bromcom-secret-pw-{n}<&'\">"}):  # markup characters: escaped, not broken
        # serve each school once; tests change the registry settings, not the served data
        la.served = [la.serve(ROUTE, school, school_id=str(4000 + n), user_env=_user_env(n),
                              password_env=_password_env(n), backoff_factor=0.01)[0]
                     for n, school in enumerate(la.files_schools)]
        yield la


@pytest.fixture()
def bromcom(la, monkeypatch):
    return la.with_secrets(monkeypatch)


def _with(school, **settings):
    return dataclasses.replace(school, source={**school.source, **settings})


def _statuses(la, school) -> list[int]:
    return la.sim.statuses(school.source["school_id"], ROUTE)


def _inject(la, school, faults) -> None:
    la.sim.inject(school.source["school_id"], faults, route=ROUTE)


# --------------------------------------------------------------------------------- interface, settings


def test_registry_validates_bromcom_settings(tmp_path):
    good = {"school_id": 12345, "user_env": "BROMCOM_USER", "password_env": "BROMCOM_PASSWORD"}
    assert route_registry(ROUTE, good, tmp_path).school("9262001-bromcom").source["school_id"] == 12345
    assert route_registry(ROUTE, {**good, "base_url": "https://bromcom.scomis.org/Nucleus/WebServices/ThirdParty"},
                          tmp_path)
    with pytest.raises(RegistryError, match=r"source\.password_env: missing"):
        route_registry(ROUTE, {"school_id": 12345, "user_env": "BROMCOM_USER"}, tmp_path)
    with pytest.raises(RegistryError, match=r"source\.school_id: missing"):
        route_registry(ROUTE, {"user_env": "BROMCOM_USER", "password_env": "BROMCOM_PASSWORD"}, tmp_path)
    with pytest.raises(RegistryError, match=r"source\.password_env: must be the NAME of an environment variable"):
        route_registry(ROUTE, {**good, "password_env": "hunter2 is my password"}, tmp_path)


def test_school_id_must_be_a_whole_number(bromcom):
    la = bromcom
    school = _with(la.served[0], school_id="BRM-12")
    with pytest.raises(VendorRouteError, match=r"source\.school_id must be the Bromcom SchoolID"):
        BromcomConnector().fetch(school, as_of=EARLY)
    assert la.sim.log == []


def test_default_base_url_is_bromcom_cloud(bromcom):
    school = bromcom.served[0]
    default = dataclasses.replace(school, source={k: v for k, v in school.source.items() if k != "base_url"})
    settings = BromcomConnector().settings(default)
    assert settings.base_url == "https://cloudmis.bromcom.com/Nucleus/WebServices/ThirdParty"
    assert BromcomConnector().settings(school).http["retry_statuses"] == (429, 502, 503, 504)  # not 500


# ------------------------------------------------------------------------------------------ the data


def test_local_subcode_x01_on_the_wire_is_statutory_x(bromcom):
    la = bromcom
    school = next(s for s in la.served if any(m.code == "X" for m in la.sim.school(ROUTE, s.source["school_id"])
                                              .source.marks))
    wire = sim_bromcom.tables(la.sim.school(ROUTE, school.source["school_id"]).source)["Attendances"]
    codes = {row.get("AttendanceCode") for row in wire}
    assert "X01" in codes and "X" not in codes
    raw = BromcomConnector().fetch(school, as_of=AS_OF)
    assert "X" in set(raw.tables["attendance"]["code"]) and "X01" not in set(raw.tables["attendance"]["code"])


def test_attendance_windows_are_at_most_30_days_and_cover_the_year():
    start, end = academic_year_start(AS_OF), AS_OF
    windows = date_spans(start, end, B.ATTENDANCE_CHUNK_DAYS)
    assert windows[0][0] == start and windows[-1][1] == end + timedelta(days=1)
    assert all(0 < (stop - first).days <= 30 for first, stop in windows)
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:]))  # contiguous, no overlap
    assert date_spans(date(2025, 9, 1), date(2025, 9, 1), 30) == [(date(2025, 9, 1), date(2025, 9, 2))]
    assert B.date_range_filter("AttendanceDate", date(2025, 9, 1), date(2025, 10, 1)) == \
        "AttendanceDate >= '20250901' AND AttendanceDate < '20251001'"


def test_dotnet_dates_with_an_offset_are_local_dates():
    assert sim_bromcom.dotnet_date("2025-09-01") == "2025-09-01T00:00:00+01:00"  # BST
    assert sim_bromcom.dotnet_date("2026-01-05") == "2026-01-05T00:00:00+00:00"  # GMT
    assert sim_bromcom.dotnet_date("05/01/2026") == "05/01/2026"  # not a date: as supplied
    for value, expected in (("2025-09-01T00:00:00+01:00", "2025-09-01"), ("2026-01-05T00:00:00+00:00", "2026-01-05"),
                            ("2026-01-05T00:00:00.0000000+00:00", "2026-01-05"), ("2026-01-05T00:00:00Z", "2026-01-05"),
                            ("2026-01-05T00:00:00", "2026-01-05")):
        assert date_text(value) == expected


def test_dataset_missing_element_is_null_and_empty_element_is_empty_text():
    rows = [{"StudentID": "7", "UPN": "", "LastName": "O'Brien & Sons <x>", "DOB": "2015-06-01T00:00:00+01:00",
             "Gender": "Female"}]
    body = sim_bromcom.envelope("1.2", sim_bromcom.dataset_response(B.GET_ENTITY_DATA, sim_bromcom.COLUMNS["Students"],
                                                                    rows))
    root, version = parse_soap(body)
    assert version == "1.2"
    got = dataset_rows(root[0][0])
    assert got == [{"StudentID": "7", "UPN": "", "LastName": "O'Brien & Sons <x>", "DOB": "2015-06-01T00:00:00+01:00",
                    "Gender": "Female"}]
    pupil = student_row(got[0])
    assert pupil["upn"] == "" and pupil["forename"] is None and pupil["dob"] == "2015-06-01" and pupil["sex"] == "F"
    empty = sim_bromcom.envelope("1.2", sim_bromcom.dataset_response(B.GET_ENTITY_DATA, ["StudentID"], []))
    assert dataset_rows(parse_soap(empty)[0][0][0]) == []


# ---------------------------------------------------------------------------------------------- faults


def test_500_without_a_fault_is_transient_and_not_retried(bromcom):
    la = bromcom
    school = la.served[0]
    _inject(la, school, ["500"])
    with pytest.raises(TransientExtractError, match="server error without a SOAP Fault") as caught:
        BromcomConnector().fetch(school, as_of=EARLY)
    assert "HTTP 500" in str(caught.value) and SERVICE in str(caught.value)
    assert _statuses(la, school) == [500]


def test_error_body_soap_fault_is_named_by_its_code_and_transient(bromcom):
    la = bromcom
    school = la.served[0]
    _inject(la, school, ["error-body"])
    with pytest.raises(TransientExtractError) as caught:
        BromcomConnector().fetch(school, as_of=EARLY)
    message = str(caught.value)
    assert "SOAP Fault soap:Receiver (server fault)" in message and "HTTP 500" in message
    assert school.key in message and B.FIND_ENTITIES in message and SERVICE in message
    assert "Timeout expired" not in message  # the fault text is never repeated
    assert _statuses(la, school) == [500]  # a Fault on a 500 is not retried in the adapter
    la.assert_clean(message, school)


def test_wrong_password_fails_clearly_not_transient_one_request(bromcom, monkeypatch, tmp_path):
    la = bromcom
    school = la.served[2]
    message = night_with_wrong_secrets(la, school, monkeypatch, tmp_path, _password_env(2))
    assert "SOAP Fault soap:Receiver (authentication refused" in message
    assert "HTTP 500" in message and SERVICE in message
    assert _statuses(la, school) == [500]  # not retried: a wrong password is not sent again


def test_entity_not_granted_is_named_before_any_data_is_read(bromcom):
    la = bromcom
    school = la.served[0]
    served = la.sim.school(ROUTE, school.source["school_id"])
    served.entities = ["Students", "Attendances"]
    try:
        with pytest.raises(VendorRouteError, match=r"read access to StudentExclusions .*Third Party Access") as caught:
            BromcomConnector().fetch(school, as_of=EARLY)
        assert "HTTP 200" in str(caught.value) and school.key in str(caught.value)
        assert _statuses(la, school) == [200]
    finally:
        served.entities = list(sim_bromcom.COLUMNS)


def test_cohort_entities_not_granted_leave_their_columns_null(bromcom):
    la = bromcom
    school = la.served[0]
    served = la.sim.school(ROUTE, school.source["school_id"])
    served.entities = ["Students", "Attendances", "StudentExclusions"]
    try:
        pupils = BromcomConnector().fetch(school, as_of=EARLY).tables["pupils"]
    finally:
        served.entities = list(sim_bromcom.COLUMNS)
    assert pupils["upn"].notna().any()
    assert pupils["sen_provision"].isna().all() and pupils["looked_after"].isna().all()


# ----------------------------------------------------------------------------- the simulator's SOAP service


def _session(la, school, **kw):
    return make_session(school.source["base_url"], None, route=ROUTE, backoff_factor=0.01,
                        retry_statuses=(429, 502, 503, 504), **kw)


def _credentials(la, n: int, school) -> SoapBodyCredentials:
    return SoapBodyCredentials(la.secrets[_user_env(n)], la.secrets[_password_env(n)], school.source["school_id"],
                               namespace=B.NAMESPACE, fields=B.CREDENTIAL_FIELDS)


def test_soap_11_with_soapaction_is_served_too(bromcom):
    la = bromcom
    school = la.served[0]
    operation = _credentials(la, 0, school).operation(B.GET_ENTITY_DATA, [(B.ENTITY_NAME_PARAM, "Students"),
                                                                           (B.ENTITY_FILTER_PARAM, "")])
    with _session(la, school) as session:
        response = soap_call(session, B.SERVICE_PATH, B.action(B.GET_ENTITY_DATA), operation, version=SOAP11)
    assert len(dataset_rows(response)) == len(la.sim.school(ROUTE, school.source["school_id"]).source.pupils)


def test_wrong_soapaction_is_a_client_fault(bromcom):
    la = bromcom
    school = la.served[0]
    operation = _credentials(la, 0, school).operation(B.FIND_ENTITIES)
    headers = {**soap_headers(B.action(B.FIND_ENTITIES), SOAP11), "SOAPAction": '"http://tempuri.org/somethingElse"'}
    response = requests.post(f"{school.source['base_url']}/{B.SERVICE_PATH}", data=soap_envelope(operation, SOAP11),
                             headers=headers, timeout=10)
    assert response.status_code == 500 and b"soap:Client" in response.content


@pytest.mark.parametrize("entity, entity_filter, problem", [
    ("Attendances", "1=1; DROP TABLE Attendances", "the entity or its filter was rejected"),
    ("Attendances", "AttendanceDate >= '20251301' AND AttendanceDate < '20251401'", "the entity or its filter was"),
    ("Students", "AttendanceDate >= '20250901' AND AttendanceDate < '20251001'", "the entity or its filter was"),
    ("Staff", "", "permission refused"),
])
def test_filters_and_entities_the_service_refuses_are_not_transient(bromcom, entity, entity_filter, problem):
    la = bromcom
    school = la.served[0]
    operation = _credentials(la, 0, school).operation(B.GET_ENTITY_DATA, [(B.ENTITY_NAME_PARAM, entity),
                                                                           (B.ENTITY_FILTER_PARAM, entity_filter)])
    with _session(la, school) as session, pytest.raises(VendorError, match=problem) as caught:
        soap_call(session, B.SERVICE_PATH, B.action(B.GET_ENTITY_DATA), operation, label=f"get {entity}")
    assert caught.value.transient is False and caught.value.status == 500
    assert _statuses(la, school) == [500]


# ------------------------------------------------------------------------------------ the night's retries


def test_a_refused_password_is_not_resent_when_another_school_makes_the_step_retry(bromcom, monkeypatch, tmp_path):
    """School A's Bromcom service is down (HTTP 503 on every attempt: temporary, so the step retries
    twice); school B's Bromcom password is refused (permanent). The retries fetch A again, never B: one
    refused request all night."""
    import dagster as dg
    import yaml

    from ncc_transfer.cli import _load_registry, run_night
    from ncc_transfer_tests.conftest import ncc_env

    la = bromcom
    flaky, refused = _with(la.served[0], max_retries=0), la.served[2]
    _inject(la, flaky, ["503"] * 3)  # one request per attempt (no HTTP retries): the first try and two step retries
    before = len(_statuses(la, flaky))  # the module's simulator has served this school for earlier tests
    home = tmp_path / "night"
    registry = {"local_authority": {"code": "926", "name": "Test"}, "schools": [
        {"laestab": flaky.laestab, "name": "Service down", "mis": ROUTE, "source": dict(flaky.source)},
        {"laestab": refused.laestab, "name": "Refused password", "mis": ROUTE, "source": dict(refused.source)},
    ]}
    home.mkdir(parents=True, exist_ok=True)
    (home / "schools.yaml").write_text(yaml.safe_dump(registry))
    monkeypatch.setenv(_password_env(2), "not-the-right-password-123")

    with ncc_env(home):
        result = run_night(_load_registry(), as_of=AS_OF)
        retries = dg.DagsterInstance.get().get_records_for_run(
            result.run_ids[0], of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY).records
    assert result.failed == 2 and len(retries) == 2  # A's temporary fault: the step's two retries
    assert _statuses(la, flaky)[before:].count(503) == 3  # fetched again on each of the three attempts
    assert _statuses(la, refused) == [500]  # B's password was sent once, not on each retry

    warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
    try:
        audit = warehouse.read("SELECT school_key, outcome, count(*) AS n FROM audit_log WHERE run_id = ? "
                               "GROUP BY school_key, outcome", [result.run_ids[0]])
    finally:
        warehouse.close()
    attempts = {(r.school_key, r.outcome): r.n for r in audit.itertuples()}
    assert attempts == {(flaky.key, "failed"): 3, (refused.key, "failed"): 1}  # B's failure stays recorded
    line = next(line for line in result.lines if line.startswith(refused.key))
    assert "authentication refused" in line
