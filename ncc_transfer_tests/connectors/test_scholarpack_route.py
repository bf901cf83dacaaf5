"""The ScholarPack route end to end over real HTTP on loopback (issue #4).

A small demo LA's landing folders are rendered in ScholarPack's API shape by the simulator; the connector
reads them back through the shared HTTP layer with the OAuth2 refresh-token grant. The simulator's token
endpoint rotates the refresh token on every use, so the tests also prove the newest token is kept per
school and used the next night, and what happens when a kept or configured token is dead.

What every route must do (tables identical to the files route's, the night through ``process_school``,
secrets not set or refused, the shared simulator faults) is tested for every route in
``test_route_contract.py``; this module keeps what only this route does.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from ncc_transfer.connectors.base import VendorRouteError
from ncc_transfer.connectors.http import VendorError
from ncc_transfer.connectors.incremental import StateStore
from ncc_transfer.connectors.scholarpack.connector import TOKEN_FILE_SUFFIX, RefreshTokenFile, ScholarPackConnector
from ncc_transfer.registry import RegistryError, School
from ncc_transfer.connectors.scholarpack import simulator as sim_sp
from ncc_transfer_tests.connectors.vendor_support import AS_OF, night_with_wrong_secrets, route_registry, running_vendor_la

ROUTE = "scholarpack"
SCHOOL = School(laestab="9262001", name="A School", mis=ROUTE, source={})


def _names(n: int) -> dict[str, str]:
    return {"client_id_env": f"SP_CLIENT_ID_{n}", "client_secret_env": f"SP_CLIENT_SECRET_{n}",
            "refresh_token_env": f"SP_REFRESH_TOKEN_{n}"}


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    values = ("ncc-la-app-{n}", "sp-client-secret-{n}-Qx7Lm2", "sp-onboarding-refresh-{n}-Zr93Kp")
    yield from running_vendor_la(tmp_path_factory.mktemp("scholarpack_la"), secrets=lambda n, _: {
        name: value.format(n=n) for name, value in zip(_names(n).values(), values)})


@pytest.fixture()
def env(la, monkeypatch):
    la.with_secrets(monkeypatch)
    la.sim.slow_seconds = 2.0
    for kept in (la.home / "state").glob(f"*{TOKEN_FILE_SUFFIX}"):  # each test starts from onboarding
        kept.unlink()
    return la


def serve(la, n: int = 0, **settings):
    """School ``n`` served on the ScholarPack route: (registry School, its SourceSchool, simulator id)."""
    vendor, source = la.serve(ROUTE, la.files_schools[n], base_url=f"{la.root}/{ROUTE}/api/v1",
                              backoff_factor=0.01, **_names(n), **settings)
    return vendor, source, vendor.laestab


def token_hits(la, sid: str) -> list[int]:
    return la.sim.statuses(sim_sp.token_key(sid), ROUTE)


def assert_no_token(la, sid: str, message: str) -> None:
    school = la.sim.school(ROUTE, sid)
    for token in (school.refresh_token, *school.spent, *school.access):
        assert token not in message, "a token leaked into a message"


# ------------------------------------------------------------------------------------- interface


@pytest.mark.parametrize("source, expected", [
    ({"client_id_env": "A", "client_secret_env": "B"}, r"source\.refresh_token_env: missing"),
    ({"client_id_env": "A", "client_secret_env": "B", "refresh_token_env": "def50200a1b2-c3d4"},
     r"source\.refresh_token_env: must be the NAME of an environment variable"),
    ({"client_id_env": "A", "client_secret_env": "B", "refresh_token_env": "C",
      "token_url": "http://scholarpack.example/oauth2/token/"}, r"source\.token_url: must use https"),
])
def test_registry_validates_scholarpack_settings(tmp_path, source, expected):
    with pytest.raises(RegistryError, match=expected):
        route_registry(ROUTE, source, tmp_path)


def test_token_url_sits_beside_the_api_unless_set():
    def url(**source):
        school = dataclasses.replace(SCHOOL, source={**_names(0), **source})
        connector = ScholarPackConnector()
        return connector.token_url(connector.settings(school))

    assert url() == "https://services.scholarpack.co.uk/oauth2/token/"
    sandbox = "https://sandbox.scholarpack.co.uk"
    assert url(base_url=f"{sandbox}/api/v1/") == f"{sandbox}/oauth2/token/"
    assert url(base_url="https://proxy.example/sp", token_url="https://proxy.example/t") == "https://proxy.example/t"
    with pytest.raises(VendorError, match="source.token_url is needed"):
        url(base_url="https://proxy.example/sp")


# ------------------------------------------------------------------------------------------ data


# ---------------------------------------------------------------------------------- refresh tokens


def test_second_night_uses_the_rotated_refresh_token(env, tmp_path):
    la = env
    school, _, sid = serve(la)
    store = StateStore(tmp_path / "state")
    ScholarPackConnector().fetch(school, as_of=AS_OF - timedelta(days=1), state=store)
    kept = RefreshTokenFile(store.root, school.key)
    first = kept.read()
    assert first == sim_sp.live_refresh_token(la.sim, sid) and first != la.secrets["SP_REFRESH_TOKEN_0"]
    assert kept.path.stat().st_mode & 0o777 == 0o600

    ScholarPackConnector().fetch(school, as_of=AS_OF, state=store)  # the environment's token is dead by now
    assert token_hits(la, sid) == [200, 200]  # one grant a night, no refusal
    assert kept.read() == sim_sp.live_refresh_token(la.sim, sid) != first


def test_stale_environment_token_without_state_asks_for_reauthorisation(env, tmp_path):
    la = env
    school, _, sid = serve(la)
    ScholarPackConnector().fetch(school, as_of=AS_OF, state=StateStore(tmp_path / "state"))  # rotates
    la.sim.log.clear()
    with pytest.raises(VendorRouteError) as caught:
        ScholarPackConnector().fetch(school, as_of=AS_OF)  # no state: only the (now spent) onboarding token
    message = str(caught.value)
    assert "invalid_grant" in message and "HTTP 400" in message and "/oauth2/token/" in message
    assert "SP_REFRESH_TOKEN_0" in message and "authorise the app in ScholarPack again" in message
    assert school.key in message and ROUTE in message
    assert token_hits(la, sid) == [400] and la.sim.statuses(sid) == []
    la.assert_clean(message, school)
    assert_no_token(la, sid, message)


def test_refused_kept_token_falls_back_to_a_reauthorised_environment_token(env, tmp_path, monkeypatch):
    la = env
    school, _, sid = serve(la)
    store = StateStore(tmp_path / "state")
    ScholarPackConnector().fetch(school, as_of=AS_OF - timedelta(days=1), state=store)
    # A school admin authorises the app again; the LA puts the new token in the environment.
    monkeypatch.setenv("SP_REFRESH_TOKEN_0", sim_sp.reauthorise(la.sim, sid))
    la.sim.log.clear()
    raw = ScholarPackConnector().fetch(school, as_of=AS_OF, state=store)
    assert len(raw.tables["pupils"]) > 0
    assert token_hits(la, sid) == [400, 200]  # the kept token once, then the environment's
    assert RefreshTokenFile(store.root, school.key).read() == sim_sp.live_refresh_token(la.sim, sid)


def test_both_tokens_refused_fails_without_retrying(env, tmp_path):
    la = env
    school, _, sid = serve(la)
    store = StateStore(tmp_path / "state")
    ScholarPackConnector().fetch(school, as_of=AS_OF - timedelta(days=1), state=store)
    sim_sp.reauthorise(la.sim, sid)  # ... but nobody updated the environment
    la.sim.log.clear()
    with pytest.raises(VendorRouteError) as caught:
        ScholarPackConnector().fetch(school, as_of=AS_OF, state=store)
    message = str(caught.value)
    assert "kept refresh token and the one in environment variable SP_REFRESH_TOKEN_0 were refused" in message
    assert token_hits(la, sid) == [400, 400] and la.sim.statuses(sid) == []  # each token once, no retry
    la.assert_clean(message, school)
    assert_no_token(la, sid, message)


def test_a_token_that_cannot_be_kept_fails_loudly(env, tmp_path):
    la = env
    school, _, sid = serve(la)
    blocked = tmp_path / "state"
    blocked.write_text("not a folder")  # the state folder cannot be created
    with pytest.raises(VendorRouteError, match="could not keep the new refresh token") as caught:
        ScholarPackConnector().fetch(school, as_of=AS_OF, state=StateStore(blocked))
    assert_no_token(la, sid, str(caught.value))
    assert la.sim.statuses(sid) == []  # no data is read with a token that will be lost


def test_expired_access_token_one_reauthentication_then_success(env, tmp_path):
    la = env
    school, _, sid = serve(la)
    store = StateStore(tmp_path / "state")
    la.sim.inject(sid, ["expire-token"], route=ROUTE)
    raw = ScholarPackConnector().fetch(school, as_of=AS_OF, state=store)
    assert len(raw.tables["attendance"]) > 0
    assert token_hits(la, sid) == [200, 200]  # the first grant and exactly one more
    statuses = la.sim.statuses(sid)
    assert statuses[:2] == [401, 200] and statuses.count(401) == 1
    assert RefreshTokenFile(store.root, school.key).read() == sim_sp.live_refresh_token(la.sim, sid)


def test_wrong_client_secret_fails_clearly_and_not_transient(env, tmp_path, monkeypatch):
    la = env
    school, _, sid = serve(la)
    message = night_with_wrong_secrets(la, school, monkeypatch, tmp_path, "SP_CLIENT_SECRET_0")
    assert "invalid_client" in message and "HTTP 401" in message and "/oauth2/token/" in message
    assert token_hits(la, sid) == [401] and la.sim.statuses(sid) == []  # one request, no retry


# ------------------------------------------------------------------------------------------ faults


def test_token_endpoint_503_is_retried(env, tmp_path):
    la = env
    school, _, sid = serve(la)
    la.sim.inject(sim_sp.token_key(sid), ["503"], route=ROUTE)
    ScholarPackConnector().fetch(school, as_of=AS_OF, state=StateStore(tmp_path / "state"))
    assert token_hits(la, sid) == [503, 200]




# ---------------------------------------------------------------------------------- cohort endpoints


def test_cohort_endpoints_give_sen_and_looked_after_and_a_missing_scope_leaves_them_null(env, tmp_path):
    la = env
    school, source, sid = serve(la)
    store = StateStore(tmp_path / "state")  # the rotated refresh token is kept for the second fetch
    pupils = ScholarPackConnector().fetch(school, as_of=AS_OF, state=store).tables["pupils"]
    by_upn = pupils.set_index("upn")
    for pupil in source.pupils:
        assert by_upn.loc[pupil.upn, "sen_provision"] == pupil.row.get("sen_provision")
    assert set(pupils["looked_after"].dropna()) <= {"true", "false"} and pupils["looked_after"].notna().any()

    served = la.sim.school(ROUTE, sid)
    served.scopes = tuple(s for s in served.scopes if s not in ("sen:read", "lac:read"))  # authorised before
    try:
        pupils = ScholarPackConnector().fetch(school, as_of=AS_OF, state=store).tables["pupils"]
    finally:
        served.scopes = sim_sp.S.SCOPES
    assert pupils["sen_provision"].isna().all() and pupils["looked_after"].isna().all()
    assert pupils["upn"].notna().any()
