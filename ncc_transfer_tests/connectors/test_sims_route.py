"""The SIMS 8 / SIMS Primary V3 OData route end to end over real HTTP on loopback (issue #4).

A small demo LA's landing folders are served by the simulator's SIMS profile (an STS issuing client-
credentials tokens, and an API Manager gateway checking the subscription key, the bearer token and the
Organisation_ID header); the SIMS connector reads them back through the shared HTTP layer. The key
property: the same school gives identical canonical tables through SIMS and the files route, on a full
fetch and on an incremental night (``SIMS.Changes``).

The ``foreign`` fault does not apply: the connector pages with ``$top``/``$skip`` and never follows a
link from the body, and the simulator renders no ``@odata.nextLink``.

What every route must do (tables identical to the files route's, the night through ``process_school``,
secrets not set or refused, the shared simulator faults) is tested for every route in
``test_route_contract.py``; this module keeps what only this route does.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import requests

from ncc_transfer.connectors.sims import mapping as S
from ncc_transfer.connectors.base import VendorRouteError, date_spans
from ncc_transfer.connectors.incremental import StateStore
from ncc_transfer.connectors.sims.connector import CHUNK_DAYS, SimsConnector, event_start, exclusion_row
from ncc_transfer.registry import RegistryError
from ncc_transfer.connectors.sims.simulator import sts_key
from ncc_transfer_tests.connectors.vendor_support import (AS_OF, assert_incremental_equals_full, canonical,
                                               night_with_wrong_secrets, recent_school_day, route_registry,
                                               running_vendor_la)

CLIENT_ID = "ncc-la-sims-integrator-7f3a"
CLIENT_SECRET = "sims-client-secret-never-to-be-seen"
SUBSCRIPTION_KEY = "apim-subscription-key-never-to-be-seen"
ENV = {"SIMS_CLIENT_ID": CLIENT_ID, "SIMS_CLIENT_SECRET": CLIENT_SECRET, "SIMS_SUBSCRIPTION_KEY": SUBSCRIPTION_KEY}
EARLY = date(2025, 9, 19)  # three weeks into the year: a full fetch with few marks, for the fault tests


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    yield from running_vendor_la(tmp_path_factory.mktemp("sims_la"), secrets=ENV)


@pytest.fixture()
def env(la, monkeypatch):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    la.sim.clear()
    la.sim.slow_seconds = 2.0
    return la


def organisation(school) -> str:
    return f"org-{school.laestab}"


def serve(la, n: int = 0, **extra):
    """Serve the LA's ``n``-th school on the SIMS route; returns (registry School, SourceSchool)."""
    school = la.files_schools[n]
    return la.serve("sims", school, organisation_id=organisation(school), client_id_env="SIMS_CLIENT_ID",
                    client_secret_env="SIMS_CLIENT_SECRET", subscription_key_env="SIMS_SUBSCRIPTION_KEY",
                    token_url=f"{la.root}/sims/connect/token", backoff_factor=0.01, **extra)


def data_statuses(la, school) -> list[int]:
    return la.sim.statuses(school.source["organisation_id"], "sims")


def sts_statuses(la) -> list[int]:
    return la.sim.statuses(sts_key(CLIENT_ID), "sims")


# ------------------------------------------------------------------------------------ interface, registry


def _registry(tmp_path, **source):
    return route_registry("sims", source, tmp_path)


def test_registry_validates_sims_settings(tmp_path):
    good = {"organisation_id": "org-1", "client_id_env": "SIMS_CLIENT_ID", "client_secret_env": "SIMS_CLIENT_SECRET",
            "subscription_key_env": "SIMS_SUBSCRIPTION_KEY"}
    assert _registry(tmp_path, **good).school("9262001-sims").source["organisation_id"] == "org-1"
    assert _registry(tmp_path, **good, token_url="https://sts.example.org/connect/token",
                     base_url="https://gateway.example.org/ssli01")
    without_key = {k: v for k, v in good.items() if k != "subscription_key_env"}
    with pytest.raises(RegistryError, match=r"source\.subscription_key_env: missing"):
        _registry(tmp_path, **without_key)
    with pytest.raises(RegistryError, match=r"source\.client_secret_env: must be the NAME"):
        _registry(tmp_path, **{**good, "client_secret_env": "s3cr3t value!"})
    with pytest.raises(RegistryError, match=r"source\.token_url: must use https"):
        _registry(tmp_path, **good, token_url="http://sts.example.org/connect/token")


# ---------------------------------------------------------------------------------- pure helpers


def test_event_start_is_read_in_london_time_and_spans_stay_within_the_limit():
    assert event_start("2025-09-04T07:50:00Z") == ("2025-09-04", 8)  # BST: 08:50 local, AM
    assert event_start("2026-01-05T13:20:00Z") == ("2026-01-05", 13)  # GMT
    assert event_start("2025-10-25T23:30:00Z") == ("2025-10-26", 0)  # BST: already the next day
    assert event_start("2025-09-04T08:50:00") == ("2025-09-04", 8)  # no zone: local time
    assert event_start("2025-02-30T00:00:00Z") == ("2025-02-30", None)  # passed on for validation
    assert event_start(None) == (None, None)
    chunks = date_spans(date(2025, 9, 1), AS_OF, CHUNK_DAYS)
    assert chunks[0][0] == date(2025, 9, 1) and chunks[-1][1] == AS_OF + timedelta(days=1)
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
    assert all((last - first).days < S.MAX_SPAN_DAYS for first, last in chunks)  # an hour spare for DST
    assert exclusion_row({"Category": "FIXD", "Reasons": ["PD", None, "VA"], "Sessions": 4})["reason_3"] == "VA"


# -------------------------------------------------------------------------------------------- data


def test_bearer_token_and_subscription_key_are_both_sent_and_never_shown(env):
    la = env
    school, _ = serve(la, 0)
    connector = SimsConnector()
    settings = connector.settings(school)
    auth = connector.auth(settings)
    seen: list[dict] = []
    with connector.session(settings, auth) as session:
        session.hooks["response"].append(lambda r, *a, **k: seen.append(dict(r.request.headers)))
        learners = list(connector._pages(session, "learners"))
        assert learners and all(S.ID in r for r in learners)
        text = f"{session!r} {auth!r}"
    data = [h for h in seen if "Authorization" in h]
    assert data and all(h["Authorization"].startswith("Bearer ") and len(h["Authorization"]) > 20 for h in data)
    assert all(h[S.SUBSCRIPTION_KEY_HEADER] == SUBSCRIPTION_KEY for h in data)
    assert all(h[S.ORGANISATION_HEADER] == organisation(school) for h in data)
    assert SUBSCRIPTION_KEY not in text and CLIENT_SECRET not in text and CLIENT_ID not in text
    assert sts_statuses(la) == [200] and set(data_statuses(la, school)) == {200}


def _token(la) -> str:
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "scope": S.TOKEN_SCOPE}
    reply = requests.post(f"{la.root}/sims/connect/token", data=form, timeout=10)
    assert reply.status_code == 200 and reply.json()["token_type"] == "Bearer" and reply.json()["expires_in"] > 0
    return reply.json()["access_token"]


def test_simulator_gateway_and_odata_rules(env):
    """The simulated gateway needs both credentials and rejects what the docs say SIMS rejects."""
    la = env
    school, _ = serve(la, 0)
    url = f"{la.root}/sims/Attendance/V3/AttendanceRecords"
    token = _token(la)
    full = {"Authorization": f"Bearer {token}", S.SUBSCRIPTION_KEY_HEADER: SUBSCRIPTION_KEY,
            S.ORGANISATION_HEADER: organisation(school)}
    span = "AttendableEventStart ge 2025-09-01T00:00:00Z and AttendableEventStart lt 2025-10-01T00:00:00Z"

    def get(headers, **params):
        return requests.get(url, headers=headers, params=params, timeout=10)

    no_key = get({k: v for k, v in full.items() if k != S.SUBSCRIPTION_KEY_HEADER}, **{"$filter": span})
    assert no_key.status_code == 401 and "missing subscription key" in no_key.json()["message"]
    no_token = get({k: v for k, v in full.items() if k != "Authorization"}, **{"$filter": span})
    assert no_token.status_code == 401 and "Access token" in no_token.json()["message"]
    ok = get(full, **{"$filter": span, "$top": 5})
    assert ok.status_code == 200 and len(ok.json()["value"]) == 5 and "@odata.context" in ok.json()
    bare = get(full, **{"$filter": "AttendableEventStart ge 2025-09-01 and AttendableEventStart lt 2025-10-01"})
    assert bare.status_code == 400 and "error" in bare.json()
    too_long = get(full, **{"$filter": span.replace("2025-10-01", "2026-01-01")})
    assert too_long.status_code == 400
    assert get(full, **{"$filter": span, "$top": S.MAX_TOP + 1}).status_code == 400


# ------------------------------------------------------------------------------------------- faults


def _clean_data_requests(la, school) -> int:
    la.sim.clear()
    SimsConnector().fetch(school, as_of=EARLY)
    count = len(data_statuses(la, school))
    la.sim.clear()
    return count


def test_odata_error_in_a_200_is_detected_and_not_transient(env):
    la = env
    school, _ = serve(la, 2)
    la.sim.inject(organisation(school), ["error-body"], route="sims")
    with pytest.raises(VendorRouteError, match="OData error in body, code InternalServerError") as caught:
        SimsConnector().fetch(school, as_of=EARLY)
    assert "HTTP 200" in str(caught.value) and "/Learner/V3/LearnerPersonals" in str(caught.value)
    assert data_statuses(la, school) == [200]  # not retried
    la.assert_clean(str(caught.value), school)


def test_expired_token_is_renewed_once_then_success(env):
    la = env
    school, _ = serve(la, 2)
    clean = _clean_data_requests(la, school)
    la.sim.inject(organisation(school), ["expire-token"], route="sims")
    raw = SimsConnector().fetch(school, as_of=EARLY)
    assert len(raw.tables["pupils"]) > 0
    assert data_statuses(la, school) == [401] + [200] * clean
    assert sts_statuses(la) == [200, 200]  # exactly one re-authentication


def test_wrong_client_secret_fails_at_the_sts_without_retry(env, monkeypatch):
    la = env
    school, _ = serve(la, 2)
    monkeypatch.setenv("SIMS_CLIENT_SECRET", "not-the-right-secret-123")
    with pytest.raises(VendorRouteError, match="token endpoint refused") as caught:
        SimsConnector().fetch(school, as_of=EARLY)
    message = str(caught.value)
    assert "HTTP 400" in message and "/sims/connect/token" in message and school.key in message
    assert "not-the-right-secret-123" not in message
    assert sts_statuses(la) == [400] and data_statuses(la, school) == []
    la.assert_clean(message, school)


def test_wrong_subscription_key_is_401_not_transient(env, monkeypatch, tmp_path):
    """APIM answers 401; the shared layer cannot tell a bad key from an expired token, so it renews the
    token once (two data requests, two token requests) and then fails, not retried further."""
    la = env
    school, _ = serve(la, 2)
    message = night_with_wrong_secrets(la, school, monkeypatch, tmp_path, "SIMS_SUBSCRIPTION_KEY", as_of=EARLY)
    assert "unauthorised" in message and "HTTP 401" in message and "/Learner/V3/LearnerPersonals" in message
    assert data_statuses(la, school) == [401, 401] and sts_statuses(la) == [200, 200]


# -------------------------------------------------------------------------------------- incremental


def test_second_night_is_incremental_and_equals_a_full_fetch(env, tmp_path):
    la = env
    school, source = serve(la, 0)
    store = StateStore(tmp_path / "state")
    connector = SimsConnector()
    first = connector.fetch(school, as_of=AS_OF - timedelta(days=1), state=store)
    assert connector.last_fetch["kind"] == "full" and len(first.tables["attendance"]) > 0

    # The school amends a mark 3 school days ago, renames a pupil, removes another's address (a change
    # with no address record: the connector reads that domain in full) and deletes a third pupil.
    day = recent_school_day(source, 3)
    marked = next(m for m in source.marks if m.date == day and m.pupil_key)
    new_code = "G" if marked.code != "G" else "O"
    source.change_mark(marked.upn, marked.date, marked.session, new_code)
    pupils = [p for p in source.pupils if p.upn and p.upn != marked.upn and not p.is_leaver]
    renamed, moved, deleted = pupils[0], pupils[1], pupils[2]
    source.change_pupil(renamed.upn, surname="Renamed-Surname")
    source.change_pupil(moved.upn, address_line1=None, town=None, postcode=None)
    source.delete_pupil(deleted.upn)

    la.sim.log.clear()
    second = connector.fetch(school, as_of=AS_OF, state=store)
    assert connector.last_fetch["kind"] == "incremental"
    assert connector.last_fetch["pupils_changed"] == 2 and connector.last_fetch["pupils_deleted"] == 1
    endpoints = [h.endpoint for h in la.sim.log]
    assert sum("SIMS.Changes(startDate=" in e for e in endpoints) == len(S.LEARNER_DOMAINS)
    assert "Learner/V3/LearnerAddresses" in endpoints and "Learner/V3/LearnerPersonals" not in endpoints
    incremental_requests = len(la.sim.log)
    assert_incremental_equals_full(la, SimsConnector, school, second, marked=marked, new_code=new_code,
                                   deleted=deleted)
    assert len(la.sim.log) > incremental_requests
    pupils = canonical(second.tables, school.laestab)["pupils"]
    moved_row = pupils[pupils["upn"] == moved.upn]
    assert len(moved_row) == 1 and moved_row["postcode"].isna().all()
