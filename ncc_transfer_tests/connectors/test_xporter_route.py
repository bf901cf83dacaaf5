"""The Groupcall Xporter on Demand route (``mis: xporter``) end to end over real HTTP on loopback.

The simulator renders a small demo LA's landing folders in XoD's shape (STS token, ``Idaas`` header,
named arrays with ``__pagination__`` whose ``NextPage`` is stale on the last page, errors as a 200 with
``ExceptionMessage``, changesets); the connector reads them back through the shared HTTP layer. The key
property: the same school gives identical canonical tables through XoD and the files route, on a full
night and on an incremental one.

What every route must do (tables identical to the files route's, the night through ``process_school``,
secrets not set or refused, the shared simulator faults) is tested for every route in
``test_route_contract.py``; this module keeps what only this route does.
"""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
import requests

from ncc_transfer.connectors.xporter import mapping as X
from ncc_transfer.connectors.base import VendorRouteError
from ncc_transfer.connectors.http import TokenEndpoint
from ncc_transfer.connectors.incremental import StateStore
from ncc_transfer.connectors.xporter.connector import XporterConnector, nc_year_of
from ncc_transfer.pipeline import TransientExtractError
from ncc_transfer.registry import RegistryError
from ncc_transfer.connectors.xporter.simulator import STS_PATH, STS_ROUTE, address_parts, year_group
from ncc_transfer_tests.connectors.vendor_support import (AS_OF, amend_rename_delete, assert_incremental_equals_full,
                                               assert_same_as_files, assert_same_tables, canonical, recent_school_day,
                                               route_registry, running_vendor_la)

SECRET = "xod-school-secret-7f3a9c21"
SECRET_ENV = "XOD_SCHOOL_SECRET"
RELYING_PARTY = "ncc-transfer.example.gov.uk"
ROUTE = "xporter"


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    yield from running_vendor_la(tmp_path_factory.mktemp("xporter_la"), secrets={SECRET_ENV: SECRET})


@pytest.fixture()
def xla(la, monkeypatch):
    """The LA with the school secret in the environment, no pending faults and no extract state."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    la.sim.clear()
    la.sim.slow_seconds = 2.0
    shutil.rmtree(la.home / "state", ignore_errors=True)
    return la


def serve(la, n: int = 0, **source):
    """School ``n`` on the xporter route: (registry School, its SourceSchool, its estab)."""
    settings = {"relying_party": RELYING_PARTY, "secret_env": SECRET_ENV, "backoff_factor": 0.01,
                "sts_url": f"{la.root}/xporter{STS_PATH}", **source}
    school, data = la.serve(ROUTE, la.files_schools[n], **settings)
    return school, data, str(settings.get("estab", school.laestab))


def data_hits(la, estab: str) -> list:
    return la.sim.requests_to(estab, ROUTE)


def sts_hits(la, estab: str) -> list:
    return la.sim.requests_to(estab, STS_ROUTE)


_BASELINE: dict[str, int] = {}


def baseline_requests(la, school, estab: str) -> int:
    """Data requests of one clean full fetch of the school (measured once per module)."""
    if estab not in _BASELINE:
        la.sim.log.clear()
        XporterConnector().fetch(school, as_of=AS_OF)
        _BASELINE[estab] = len(data_hits(la, estab))
        la.sim.clear()
    return _BASELINE[estab]


# ------------------------------------------------------------------------------ interface, registry


def test_registry_validates_xporter_settings(tmp_path):
    good = {"relying_party": RELYING_PARTY, "secret_env": "XOD_SECRET_9262001"}
    school = route_registry(ROUTE, good, tmp_path).school("9262001-xporter")
    assert school.source == good
    route_registry(ROUTE, {**good, "estab": "9262001", "sts_url": "https://login.groupcall.com/idaas/sts/STS/GetToken",
                           "base_url": "https://xporter.groupcall.com"}, tmp_path)
    with pytest.raises(RegistryError, match=r"source\.secret_env: missing"):
        route_registry(ROUTE, {"relying_party": RELYING_PARTY}, tmp_path)
    with pytest.raises(RegistryError, match=r"source\.relying_party: missing"):
        route_registry(ROUTE, {"secret_env": "XOD_SECRET"}, tmp_path)
    with pytest.raises(RegistryError, match=r"source\.secret_env: must be the NAME of an environment variable"):
        route_registry(ROUTE, {**good, "secret_env": "s3cr3t value!"}, tmp_path)
    with pytest.raises(RegistryError, match=r"source\.sts_url: must use https"):
        route_registry(ROUTE, {**good, "sts_url": "http://login.example.com/idaas/sts/STS/GetToken"}, tmp_path)
    with pytest.raises(RegistryError, match=r"source\.token_env: not a setting of the xporter route"):
        route_registry(ROUTE, {**good, "token_env": "X"}, tmp_path)


def test_year_group_and_address_round_trip_exactly():
    for nc in ("R", "1", "4", "11", "N2", "X", "Year 5", " 7", "", "Reception", None):
        assert nc_year_of(year_group(nc)) == nc
    assert nc_year_of("Year  4") == "4" and nc_year_of("Year  N2") == "N2"  # as recorded
    from ncc_transfer.connectors.xporter.connector import address_line1

    for line in ("129 Gurney Road", "12A High Street", "Flat 3, The Mill", "7  Double  Space", "", None, "42"):
        assert address_line1(address_parts(line)) == (line or None)
    assert address_parts("129 Gurney Road")[X.ADDRESS_HOUSE_NO] == "129"


# ---------------------------------------------------------------------------------- the full fetch


def test_sts_called_once_for_the_whole_fetch_and_idaas_scheme_used(xla):
    la = xla
    school, _, estab = serve(la, 0)
    connector = XporterConnector()
    settings = connector.settings(school)
    auth = connector.auth(settings)
    assert isinstance(auth, TokenEndpoint) and auth.scheme == "Idaas"
    assert SECRET not in repr(auth)
    XporterConnector().fetch(school, as_of=AS_OF)
    assert len(sts_hits(la, estab)) == 1  # one token, cached for every data call
    assert len(data_hits(la, estab)) >= 4 and all(h.status == 200 for h in data_hits(la, estab))

    # The simulator takes the token only under the Idaas scheme.
    with connector.session(settings, auth) as session:
        token = auth.token(session)
    url = f"{settings.base_url}/api/v1/School/{estab}/AttendanceCodes"
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code == 401
    assert requests.get(url, headers={"Authorization": f"Idaas {token}"}, timeout=5).status_code == 200


def test_estab_setting_overrides_the_laestab(xla):
    la = xla
    school, _, estab = serve(la, 2, estab="3281101")
    raw = XporterConnector().fetch(school, as_of=AS_OF)
    assert estab == "3281101" and len(data_hits(la, "3281101")) > 0
    assert_same_as_files(raw.tables, la, la.files_schools[2], "xporter")


# ---------------------------------------------------------------------------------------- faults


def test_sts_5xx_burst_is_retried(xla):
    la = xla
    school, _, estab = serve(la, 0)
    la.sim.inject(estab, ["500", "500"], route=STS_ROUTE)
    XporterConnector().fetch(school, as_of=AS_OF)
    assert [h.status for h in sts_hits(la, estab)] == [500, 500, 200]


def test_persistent_sts_outage_is_transient(xla):
    la = xla
    school, _, estab = serve(la, 0, max_retries=1)
    la.sim.inject(estab, ["500", "500"], route=STS_ROUTE)
    with pytest.raises(TransientExtractError, match=r"token endpoint refused") as caught:
        XporterConnector().fetch(school, as_of=AS_OF)
    message = str(caught.value)
    assert school.key in message and STS_PATH in message and "HTTP 500" in message
    assert data_hits(la, estab) == []
    la.assert_clean(message, school)


@pytest.mark.parametrize("route, path", [(ROUTE, "/Students"), (STS_ROUTE, STS_PATH)], ids=["data", "sts"])
def test_error_in_a_200_body_fails_not_transient(xla, route, path):
    la = xla
    school, _, estab = serve(la, 0)
    la.sim.inject(estab, ["error-body"], route=route)
    with pytest.raises(VendorRouteError, match=r"ExceptionMessage") as caught:
        XporterConnector().fetch(school, as_of=AS_OF)
    message = str(caught.value)
    assert school.key in message and path in message and "HTTP 200" in message
    assert "Something went wrong" not in message  # the vendor's text is not repeated
    la.assert_clean(message, school)


def test_expired_token_re_authenticates_exactly_once(xla):
    la = xla
    school, _, estab = serve(la, 0)
    clean = baseline_requests(la, school, estab)
    la.sim.inject(estab, ["expire-token"], route=ROUTE)  # revoked just before the first data request
    raw = XporterConnector().fetch(school, as_of=AS_OF)
    assert len(raw.tables["pupils"]) == len(la.sim.school(ROUTE, estab).source.pupils)
    assert len(sts_hits(la, estab)) == 2  # exactly one extra STS call
    statuses = [h.status for h in data_hits(la, estab)]
    assert statuses[:2] == [401, 200] and statuses.count(401) == 1 and len(statuses) == clean + 1


def test_estab_must_be_a_laestab(xla):
    la = xla
    school, _, _ = serve(la, 0, estab="../../TokenDetails")
    with pytest.raises(VendorRouteError, match=r"source\.estab must be the school's 7-digit LAESTAB"):
        XporterConnector().fetch(school, as_of=AS_OF)
    assert la.sim.log == []


# ----------------------------------------------------------------------------------- incremental


def test_second_night_is_incremental_and_equals_a_full_fetch(xla, tmp_path):
    la = xla
    school, source, estab = serve(la, 0)
    store = StateStore(tmp_path / "state")
    connector = XporterConnector()
    first = connector.fetch(school, as_of=AS_OF - timedelta(days=1), state=store)
    assert connector.last_fetch["kind"] == "full" and len(first.tables["attendance"]) > 0
    assert store.load(school.key).snapshot.watermark[X.WATERMARK_KEY]

    # The school amends a mark 3 school days ago, renames a pupil and deletes another (entered in error).
    marked, new_code, renamed, deleted = amend_rename_delete(source, recent_school_day(source, 3))

    la.sim.log.clear()
    second = connector.fetch(school, as_of=AS_OF, state=store)
    assert connector.last_fetch["kind"] == "incremental"
    assert connector.last_fetch["pupils_changed"] == 1 and connector.last_fetch["pupils_deleted"] == 1
    students = [h.endpoint for h in data_hits(la, estab) if h.endpoint == "Students"]
    assert len(students) == 2  # the changeset, plus Students/{id} for the changed row (listed by Id only)
    incremental_requests = len(data_hits(la, estab))
    assert_incremental_equals_full(la, XporterConnector, school, second, marked=marked, new_code=new_code,
                                   deleted=deleted)
    assert len(data_hits(la, estab)) > incremental_requests
    # The watermark moved on: a third night with no change lists no pupil.
    connector.fetch(school, as_of=AS_OF, state=store)
    assert connector.last_fetch["kind"] == "incremental" and connector.last_fetch["pupils_changed"] == 0


def test_unknown_changeset_token_still_equals_a_full_fetch(xla, tmp_path):
    """A changeset the vendor no longer knows lists every row as changed (by Id): the connector reads
    them in one listing and the night still equals a full fetch."""
    la = xla
    school, source, estab = serve(la, 0)
    store = StateStore(tmp_path / "state")
    connector = XporterConnector()
    connector.fetch(school, as_of=AS_OF - timedelta(days=1), state=store)
    la.sim.school(ROUTE, estab).changesets.clear()
    source.change_pupil(next(p for p in source.pupils if p.upn).upn, forename="Changed-Forename")
    la.sim.log.clear()
    second = connector.fetch(school, as_of=AS_OF, state=store)
    assert connector.last_fetch["kind"] == "incremental"
    assert connector.last_fetch["pupils_changed"] == len(source.pupils)
    assert len([h for h in data_hits(la, estab) if h.endpoint == "Students"]) == 2  # changeset + one listing
    full = XporterConnector().fetch(school, as_of=AS_OF)
    assert_same_tables(canonical(second.tables, school.laestab), canonical(full.tables, school.laestab), school.key)


def test_changed_rows_with_full_records_are_used_as_they_are(xla):
    """Should XoD send changed rows in full (the recording shows only ``Id``), no re-read is made."""
    la = xla
    school, source, estab = serve(la, 2)
    la.sim.school(ROUTE, estab).changed_rows_full = True
    connector = XporterConnector()
    settings = connector.settings(school)
    with connector.session(settings, connector.auth(settings)) as session:
        first = connector.snapshot(session, settings, as_of=AS_OF)
        renamed = next(p for p in source.pupils if p.upn)
        source.change_pupil(renamed.upn, forename="Renamed-Forename")
        gone = next(p for p in source.pupils if p.upn and p is not renamed)
        source.delete_pupil(gone.upn)
        la.sim.log.clear()
        changes = connector.changed_pupils(session, settings, since=first.watermark, as_of=AS_OF)
    assert [h.endpoint for h in data_hits(la, estab)] == ["Students"]
    assert changes.deleted == {str(gone.mis_id)}
    assert {k: v["forename"] for k, v in changes.upserts.items()} == {str(renamed.mis_id): "Renamed-Forename"}
    assert changes.upserts[str(renamed.mis_id)]["upn"] == renamed.upn
    assert changes.watermark[X.WATERMARK_KEY] != first.watermark[X.WATERMARK_KEY]
