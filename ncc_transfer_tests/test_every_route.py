"""The same synthetic school through every MIS route and the files route: identical canonical tables.

Each vendor route's connector reads the school over real HTTP on loopback from the simulator, which
serves the school's landing folder in that vendor's API shape; the files route reads the folder itself.
"""

from __future__ import annotations

import secrets

import pytest

from ncc_transfer.connectors.routes import ROUTES, connector_for
from ncc_transfer.simulator.app import available_profiles, profile
from ncc_transfer_tests.vendor_support import AS_OF, assert_same_as_files, build_vendor_la


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    la, stop = build_vendor_la(tmp_path_factory.mktemp("every_route"), schools=2)
    yield la
    stop()


def test_every_vendor_route_has_a_simulator_profile():
    assert set(available_profiles()) == {r for r, spec in ROUTES.items() if not spec.reads_folder}


@pytest.mark.parametrize("route", available_profiles())
def test_route_gives_the_files_route_tables(la, route, monkeypatch):
    school = la.files_schools[0]
    settings, names = profile(route).demo_settings(school.laestab, f"{la.root}/{route}")
    for name in names:
        la.secrets[name] = secrets.token_urlsafe(12)
        monkeypatch.setenv(name, la.secrets[name])
    served, _ = la.serve(route, school, **settings)
    raw = connector_for(route).fetch(served, as_of=AS_OF)
    assert_same_as_files(raw.tables, la, school)
    assert la.sim.requests_to(next(iter(la.sim.schools[route])), route)  # it really went over HTTP
