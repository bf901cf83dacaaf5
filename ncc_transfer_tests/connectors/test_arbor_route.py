"""The Arbor route end to end over real HTTP on loopback (issue #4): GraphQL reads, the REST changelog
for incremental nights, HTTP Basic, and the faults an Arbor host can show.

The simulator renders each school's landing folder in Arbor's shape (``connectors/arbor/simulator.py``); the
connector reads it back through the shared HTTP layer, and the canonical tables must equal the files
route's for the same school.

What every route must do (tables identical to the files route's, the night through ``process_school``,
secrets not set or refused, the shared simulator faults) is tested for every route in
``test_route_contract.py``; this module keeps what only this route does.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ncc_transfer.cohorts import flag_text, flag_value
from ncc_transfer.connectors.arbor import mapping as A
from ncc_transfer.connectors.arbor.connector import ArborConnector, split_datetime, statutory_code
from ncc_transfer.connectors.base import VendorRouteError
from ncc_transfer.connectors.incremental import StateStore
from ncc_transfer.pipeline import TransientExtractError
from ncc_transfer.registry import RegistryError
from ncc_transfer.connectors.arbor.graphql_server import execute
from ncc_transfer.connectors.arbor.simulator import MARK_NAME, datetime_out, demo_settings
from ncc_transfer_tests.connectors.vendor_support import (AS_OF, amend_rename_delete, assert_incremental_equals_full,
                                               recent_school_day, route_registry, running_vendor_la)

EARLY = date(2025, 9, 12)  # fault tests fetch the first school days only (a quick fetch)
GRAPHQL = "graphql/query"
CHANGELOG = "rest-v2/students/changelog"


def _user_env(school) -> str:
    return f"ARBOR_USER_{school.laestab}"


def _password_env(school) -> str:
    return f"ARBOR_PASSWORD_{school.laestab}"


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    yield from running_vendor_la(tmp_path_factory.mktemp("arbor_la"), secrets=lambda n, school: {
        _user_env(school): f"partner-app-user-{n}-{school.laestab}",
        _password_env(school): f"arbor-secret-password-{n}-{school.laestab}"})


@pytest.fixture()
def arbor(la, monkeypatch):
    """The LA with credentials in the environment, a clean fault queue and log, and no extract state."""
    la.with_secrets(monkeypatch)
    monkeypatch.delenv("NCC_FULL_REFRESH", raising=False)
    la.sim.slow_seconds = 2.0
    store = StateStore(la.home / "state")
    for key in store.keys():
        store.delete(key)
    return la


def serve(la, index: int = 0, **settings):
    """Serve the LA's school ``index`` on the Arbor route; returns (registry School, SourceSchool)."""
    school = la.files_schools[index]
    return la.serve("arbor", school, user_env=_user_env(school), password_env=_password_env(school),
                    backoff_factor=0.01, **settings)


def statuses(la, school) -> list[int]:
    return la.sim.statuses(school.laestab, "arbor")


# ------------------------------------------------------------------------------------------ interface


def test_registry_validates_arbor_settings():
    host = "https://school.uk.arbor.sc"
    with pytest.raises(RegistryError, match=r"source\.base_url: missing"):
        route_registry("arbor", {"user_env": "ARBOR_USER", "password_env": "ARBOR_PASSWORD"})
    with pytest.raises(RegistryError, match=r"source\.password_env: missing"):
        route_registry("arbor", {"base_url": host, "user_env": "ARBOR_USER"})
    with pytest.raises(RegistryError, match=r"source\.user_env: must be the NAME of an environment variable"):
        route_registry("arbor", {"base_url": host, "user_env": "not a name!", "password_env": "P"})
    route_registry("arbor", {"base_url": host, "user_env": "ARBOR_USER", "password_env": "ARBOR_PW",
                             "application_id": "uk_swd_137264"})


def test_wire_helpers_round_trip():
    for day, session in (("2025-09-04", "AM"), ("2025-09-04", "PM"), ("2025-09-04", None), ("04/09/2025", "AM"),
                         ("not a date", None)):
        assert split_datetime(datetime_out(day, session)) == (day, session)
    assert split_datetime("2025-09-04 12:45:00") == ("2025-09-04", "PM")
    assert split_datetime("2025-09-04") == ("2025-09-04", None) and split_datetime(None) == (None, None)
    for symbol in ("/", "\\", "L", "X", "#", "C1", "-", "Z9"):  # unknown symbols pass through both ways
        assert statutory_code(MARK_NAME.get(symbol, symbol)) == symbol


def test_simulated_graphql_rejects_unknown_fields_as_graphql_does():
    answer = execute("{ Student(page_size: 1) { id shoeSize } }", None, lambda entity, filters: [])
    assert "data" not in answer and "shoeSize" in answer["errors"][0]["message"]
    query = A.query(A.STUDENT_ENTITY, {A.PAGE_SIZE_ARG: 2, A.PAGE_NUM_ARG: 0}, A.student_paths())
    assert execute(query, None, lambda entity, filters: []) == {"data": {A.STUDENT_ENTITY: []}}


# ------------------------------------------------------------------------------------------ the data


COHORTS = ("sen_provision", "fsm_eligible", "fsm_ever6", "looked_after", "child_protection_plan")


def _cohorts_by_upn(pupils) -> dict[str, tuple]:
    return {row["upn"]: tuple(row[c] for c in COHORTS) for _, row in pupils.iterrows() if row["upn"]}


def _source_cohorts(source) -> dict[str, tuple]:
    """The landing folder's cohort values as the route gives them (flags as true/false text). A column the
    folder supplies for no pupil (a CTF has no child protection element) is null: the simulated school
    does not keep that entity. A value not supplied for one pupil is N/false: Arbor has no record to give
    for it, and a pupil with no record has no SEN, is not in care..."""
    kept = {c for c in COHORTS if any((p.row.get(c) or "").strip() for p in source.pupils)}

    def value(pupil, column: str):
        if column not in kept:
            return None
        if column == "sen_provision":
            return pupil.row.get(column) or A.NO_SEN
        return flag_text(flag_value(pupil.row.get(column)) or False)

    return {p.upn: tuple(value(p, c) for c in COHORTS) for p in source.pupils if p.upn}


def test_cohort_entities_give_the_landing_folder_values_and_a_refused_one_leaves_its_columns_null(arbor):
    la = arbor
    school, source = serve(la, 0)
    pupils = ArborConnector().fetch(school, as_of=EARLY).tables["pupils"]
    assert _cohorts_by_upn(pupils) == _source_cohorts(source)
    assert {"K", "N"} <= set(pupils["sen_provision"]) and "true" in set(pupils["fsm_ever6"])
    assert pupils["child_in_need"].isna().all()  # no Arbor entity for it

    served = la.sim.school("arbor", school.laestab)
    served.refused_entities = {A.SEN_ENTITY, A.FSM_ENTITY}
    try:
        pupils = ArborConnector().fetch(school, as_of=EARLY).tables["pupils"]
    finally:
        served.refused_entities = set()
    assert all(pupils[c].isna().all() for c in ("sen_provision", "fsm_eligible", "fsm_ever6"))
    assert pupils["looked_after"].notna().all() and pupils["upn"].notna().any()
    queried = {h.endpoint for h in la.sim.requests_to(school.laestab, "arbor")}
    assert queried == {GRAPHQL}


def test_an_incremental_night_reads_the_cohort_entities_afresh_for_every_pupil(arbor, tmp_path):
    """The changelog lists Student changes only: the cohort entities are read in full on every night, so a
    pupil the changelog does not name still gets tonight's values."""
    la = arbor
    school, source = serve(la, 0)
    store = StateStore(tmp_path / "state")
    served = la.sim.school("arbor", school.laestab)
    served.refused_entities = set(A.COHORT_ENTITIES)
    try:
        first = ArborConnector().fetch(school, as_of=NIGHT - timedelta(days=1), state=store).tables["pupils"]
    finally:
        served.refused_entities = set()
    assert all(first[c].isna().all() for c in COHORTS)
    connector = ArborConnector()
    second = connector.fetch(school, as_of=NIGHT, state=store).tables["pupils"]
    assert connector.last_fetch["kind"] == "incremental" and connector.last_fetch["pupils_changed"] == 0
    assert _cohorts_by_upn(second) == _source_cohorts(source)


# ------------------------------------------------------------------------------------------ faults


def test_persistent_5xx_on_graphql_names_the_endpoint(arbor):
    la = arbor
    school, _ = serve(la, 0, max_retries=1)
    la.sim.inject(school.laestab, ["502"] * 2, route="arbor")
    with pytest.raises(TransientExtractError) as caught:
        ArborConnector().fetch(school, as_of=EARLY)
    message = str(caught.value)
    assert school.key in message and "POST /arbor/graphql/query" in message and "HTTP 502" in message
    la.assert_clean(message, school)


# ------------------------------------------------------------------------------------------ incremental


NIGHT = date(2025, 10, 8)  # the incremental test's second night (a short year to date: a quicker test)


def test_second_night_is_incremental_and_equals_a_full_fetch(arbor, tmp_path):
    la = arbor
    school, source = serve(la, 0)
    store = StateStore(tmp_path / "state")
    connector = ArborConnector()
    connector.fetch(school, as_of=NIGHT - timedelta(days=1), state=store)
    assert connector.last_fetch["kind"] == "full"
    assert store.load(school.key).snapshot.watermark == {A.WATERMARK_KEY: 0}

    # The school amends a mark 3 school days ago, renames a pupil and deletes another (entered in error).
    marked, new_code, renamed, deleted = amend_rename_delete(source, recent_school_day(source, 3, NIGHT, ("#",)))

    la.sim.log.clear()
    second = connector.fetch(school, as_of=NIGHT, state=store)
    assert connector.last_fetch["kind"] == "incremental"
    assert connector.last_fetch["pupils_changed"] == 1 and connector.last_fetch["pupils_deleted"] == 1
    assert la.sim.log[0].endpoint == CHANGELOG
    assert store.load(school.key).snapshot.watermark == {A.WATERMARK_KEY: source.revision}
    marks_read = connector.last_fetch["marks_read"]

    full = assert_incremental_equals_full(la, ArborConnector, school, second, marked=marked, new_code=new_code,
                                          deleted=deleted, as_of=NIGHT)
    assert 0 < marks_read < len(full.tables["attendance"]) / 2  # only the look-back window was re-read

    # A third night with nothing changed: an empty changelog, the watermark kept.
    connector.fetch(school, as_of=NIGHT + timedelta(days=1), state=store)
    assert connector.last_fetch["kind"] == "incremental" and connector.last_fetch["pupils_changed"] == 0
    assert store.load(school.key).snapshot.watermark == {A.WATERMARK_KEY: source.revision}


def _changed_after_a_full_night(la, tmp_path, index: int = 2):
    school, source = serve(la, index)
    store = StateStore(tmp_path / "state")
    ArborConnector().fetch(school, as_of=EARLY, state=store)
    pupil = next(p for p in source.pupils if p.upn and not p.is_leaver)
    source.change_pupil(pupil.upn, forename="Changed-Forename")
    la.sim.log.clear()
    return school, store


def test_changelog_href_on_a_foreign_host_is_refused(arbor, tmp_path):
    la = arbor
    school, store = _changed_after_a_full_night(la, tmp_path)
    la.sim.inject(school.laestab, ["foreign"], route="arbor")
    with pytest.raises(VendorRouteError, match="refused a changelog href on another host") as caught:
        ArborConnector().fetch(school, as_of=EARLY + timedelta(days=3), state=store)
    assert school.key in str(caught.value) and "/rest-v2/students/changelog" in str(caught.value)
    la.assert_clean(str(caught.value), school)
    assert [h.endpoint for h in la.sim.requests_to(school.laestab, "arbor")] == [CHANGELOG]  # nothing followed


def test_changelog_error_in_body_overrides_the_200(arbor, tmp_path):
    la = arbor
    school, store = _changed_after_a_full_night(la, tmp_path)
    la.sim.inject(school.laestab, ["error-body"], route="arbor")
    with pytest.raises(TransientExtractError, match=r"Arbor error in body \(response.code 500\)") as caught:
        ArborConnector().fetch(school, as_of=EARLY + timedelta(days=3), state=store)
    assert "HTTP 500" in str(caught.value) and "/rest-v2/students/changelog" in str(caught.value)
    la.assert_clean(str(caught.value), school)


def test_a_page_num_base_mismatch_is_refused_not_duplicated(arbor):
    """page_num may be 0- or 1-based. Against a 1-based host that reads page 0 as page 1, the second
    page repeats the first: the connector refuses it instead of loading every mark twice."""
    la = arbor
    school, _ = serve(la, 0)
    la.sim.school("arbor", school.laestab).first_page_num = 1
    with pytest.raises(VendorRouteError, match=r"GraphQL page 1 of AttendanceRecord repeats records"):
        ArborConnector().fetch(school, as_of=AS_OF)


def test_demo_settings_serve_a_school(arbor, monkeypatch):
    la = arbor
    files_school = la.files_schools[2]
    settings, names = demo_settings(files_school.laestab, f"{la.root}/arbor")
    assert set(names) == {settings["user_env"], settings["password_env"]}
    for name in names:
        la.secrets[name] = f"demo-secret-{name.lower()}"
        monkeypatch.setenv(name, la.secrets[name])
    school, _ = la.serve("arbor", files_school, **settings)
    raw = ArborConnector().fetch(school, as_of=EARLY)
    assert len(raw.tables["pupils"]) > 0 and set(statuses(la, school)) == {200}
