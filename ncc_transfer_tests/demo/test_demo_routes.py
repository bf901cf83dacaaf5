"""`ncc-transfer demo` places schools on every MIS route and serves them from the built-in simulator;
`ncc-transfer simulator` serves a registry's vendor schools alone.

Every vendor-route school's warehouse tables must equal what the files route gives for its landing
folder: the same data, through the vendor's API shape, over real HTTP on loopback.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from ncc_transfer.canonical import TABLES
from ncc_transfer.connectors.routes import connector_for
from ncc_transfer.simulator.app import available_profiles
from ncc_transfer_tests.conftest import DEMO_AS_OF, ncc_env
from ncc_transfer_tests.connectors.vendor_support import canonical, carried_only, sorted_frame


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    from ncc_transfer.cli import main

    home = tmp_path_factory.mktemp("demo_routes")
    routes = available_profiles()
    port = _free_port()
    # Schools at a tenth of full size (was 0.3): every check here (each route's tables equal the files
    # route's, which routes fetch changes only, the audit's outcomes) holds row for row whatever the size,
    # and this LA is loaded three times (the demo's night, then two more).
    with ncc_env(home):
        code = main(["demo", "--schools", str(len(routes) + 1), "--pupils-scale", "0.1",
                     "--as-of", DEMO_AS_OF.isoformat(), "--port", str(port)])
    return home, code, port


def test_demo_puts_a_school_on_every_route_and_loads_them_all(demo_home):
    from ncc_transfer.files_route import read_school_folder
    from ncc_transfer.registry import load_registry
    from ncc_transfer.warehouse import DuckDBWarehouse

    home, code, _ = demo_home
    assert code == 0
    registry = load_registry(home / "schools.yaml")
    routes = {s.mis for s in registry.active_schools}
    assert routes == {"files", *available_profiles()}
    assert (home / "demo_secrets.env").stat().st_mode & 0o777 == 0o600
    secrets = dict(line.split("=", 1) for line in (home / "demo_secrets.env").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert not any(value in (home / "schools.yaml").read_text() for value in secrets.values())

    warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
    try:
        audit = warehouse.read("SELECT school_key, route, outcome FROM audit_log WHERE event = 'extraction'")
        assert set(audit["outcome"]) == {"loaded"} and set(audit["route"]) == routes
        for school in registry.active_schools:
            if school.mis == "files":
                continue
            expected = carried_only(canonical(read_school_folder(home / "landing" / school.laestab,
                                                                 school.laestab).tables, school.laestab), school.mis)
            for table in TABLES:
                got = warehouse.read(f"SELECT * FROM {table} WHERE school_key = ?", [school.key])
                columns = [c for c in expected[table].columns if c not in ("school_key", "extracted_at")]
                assert len(got) == len(expected[table]), f"{school.key} {table}"
                left = sorted_frame(got[columns].astype(object).where(got[columns].notna(), None))
                right = sorted_frame(expected[table][columns].astype(object).where(expected[table][columns].notna(), None))
                assert left.astype(str).equals(right.astype(str)), f"{school.key} {table} differs from the files route"
    finally:
        warehouse.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_simulator_command_serves_the_registry_schools(demo_home):
    home, _, _ = demo_home
    port = _free_port()
    env = {**os.environ, "NCC_HOME": str(home), "NCC_SIMULATOR_PORT": str(port)}
    env.pop("NCC_SCHOOLS_FILE", None)
    process = subprocess.Popen([sys.executable, "-m", "ncc_transfer.cli", "simulator"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        index = None
        while time.monotonic() < deadline and index is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    index = json.load(response)
            except OSError:
                assert process.poll() is None, process.stdout.read()
                time.sleep(0.2)
        assert index is not None, "the simulator did not answer"
        assert {r for r, schools in index["routes"].items() if schools} == set(available_profiles())
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_next_nights_are_incremental_and_a_full_refresh_can_be_asked_for(demo_home):
    """Through the real nightly job: routes that can list changes fetch only changes the next night
    (the audit log says so), and `run --full-refresh` makes them fetch everything."""
    from ncc_transfer.cli import main
    from ncc_transfer.registry import load_registry
    from ncc_transfer.simulator import create_app, run_in_thread, simulator_for_registry
    from ncc_transfer.warehouse import DuckDBWarehouse

    home, _, port = demo_home
    with ncc_env(home):
        from ncc_transfer.demo.routes import load_demo_secrets

        load_demo_secrets(home)
        sim = simulator_for_registry(load_registry(home / "schools.yaml"), home, os.environ)
        _, stop = run_in_thread(create_app(sim), port=port)  # where the registry says the vendors are
        try:
            assert main(["run", "--as-of", "2026-03-23"]) == 0
            assert main(["run", "--as-of", "2026-03-24", "--full-refresh"]) == 0
        finally:
            stop()
    warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
    try:
        audit = warehouse.read("SELECT route, detail FROM audit_log WHERE event = 'extraction' AND outcome = 'loaded'")
    finally:
        warehouse.close()
    kinds = {}
    for route, detail in zip(audit["route"], audit["detail"]):
        detail = json.loads(detail) if isinstance(detail, str) else detail
        if detail.get("as_of") in ("2026-03-23", "2026-03-24") and "fetch" in detail:
            kinds[(route, detail["as_of"])] = detail["fetch"]["kind"]
    incremental_routes = {r for r in available_profiles() if connector_for(r).capabilities.changed_since}
    assert {"wonde", "xporter", "arbor", "sims"} <= incremental_routes
    for route in incremental_routes:
        assert kinds[(route, "2026-03-23")] == "incremental", route
        assert kinds[(route, "2026-03-24")] == "full", route
    for route in set(available_profiles()) - incremental_routes:
        assert kinds[(route, "2026-03-23")] == "full", route
