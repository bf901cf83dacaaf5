"""The Wonde route end to end over real HTTP on loopback (issue #4, first vertical slice).

A small demo LA's landing folders are rendered into Wonde's API shape by the simulator (Starlette,
served by uvicorn in a thread); the Wonde connector reads them back through the shared HTTP layer.
The key property: the same school gives identical canonical tables through Wonde and the files route.

The tables-identical-to-the-files-route check and the shared simulator faults run for every route in
``test_route_contract.py``; this module keeps what only this route does.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ncc_transfer.canonical import TABLES
from ncc_transfer.connectors.base import Connector, VendorRouteError
from ncc_transfer.connectors.wonde.connector import WondeConnector
from ncc_transfer.demo.generator import build_demo_la
from ncc_transfer.files_route import read_school_folder
from ncc_transfer.pipeline import LOADED, process_school
from ncc_transfer.registry import RegistryError, School, load_registry, parse_registry
from ncc_transfer.simulator import Simulator, create_app, load_source, run_in_thread
from ncc_transfer.connectors.wonde.simulator import school_from_source
from ncc_transfer.validation import validate_extract
from ncc_transfer.warehouse import DuckDBWarehouse

AS_OF = date(2026, 3, 20)
EXTRACTED_AT = datetime(2026, 3, 20, 2, 0)


@dataclasses.dataclass
class WondeLA:
    home: Path
    registry_path: Path
    files_schools: list[School]
    sim: Simulator
    base_url: str
    tokens: dict[str, str]  # wonde school id -> token

    def wonde_id(self, school: School) -> str:
        return f"A{school.laestab}000"

    def token_env(self, school: School) -> str:
        return f"WONDE_TOKEN_{school.laestab}"

    def as_wonde(self, school: School, **extra) -> School:
        source = {"school_id": self.wonde_id(school), "token_env": self.token_env(school),
                  "base_url": self.base_url, "rate_per_second": 0, **extra}
        return dataclasses.replace(school, mis="wonde", source=source)

    def pupil_texts(self, school: School) -> set[str]:
        raw = read_school_folder(self.home / "landing" / school.laestab, school.laestab).tables["pupils"]
        return {v for c in ("upn", "surname", "forename") for v in raw[c].dropna() if len(v) > 3}


@pytest.fixture(scope="module")
def wonde_la(tmp_path_factory):
    home = tmp_path_factory.mktemp("wonde_la")
    demo = build_demo_la(home, seed=7, schools=3, as_of=AS_OF, pupils_scale=0.3)
    registry = load_registry(demo.registry_path)
    schools = list(registry.active_schools)
    la = WondeLA(home, demo.registry_path, schools, Simulator({}), "", {})
    for n, school in enumerate(schools):
        token = f"wonde-secret-token-{n}-{school.laestab}"
        la.tokens[la.wonde_id(school)] = token
        la.sim.add("wonde", la.wonde_id(school), school_from_source(
            load_source(school.landing_folder(home), school.laestab), school_id=la.wonde_id(school), token=token))
    root, stop = run_in_thread(create_app(la.sim))
    la.base_url = root + "/wonde"
    yield la
    stop()


@pytest.fixture()
def tokens(wonde_la, monkeypatch):
    for school in wonde_la.files_schools:
        monkeypatch.setenv(wonde_la.token_env(school), wonde_la.tokens[wonde_la.wonde_id(school)])
    wonde_la.sim.clear()
    return wonde_la


def _canonical(raw_tables, school: School) -> dict[str, pd.DataFrame]:
    return validate_extract(raw_tables, school_key="same", laestab=school.laestab, extracted_at=EXTRACTED_AT,
                            as_of=AS_OF).tables


def _registry_with_wonde(la: WondeLA, school: School, tmp_path: Path, **extra) -> School:
    """Rewrite the demo registry so ``school`` is on the Wonde route, and load it as the pipeline would."""
    document = yaml.safe_load(la.registry_path.read_text())
    for entry in document["schools"]:
        if entry["laestab"] == school.laestab:
            entry["mis"] = "wonde"
            entry["source"] = dict(la.as_wonde(school, **extra).source)
    path = tmp_path / "schools.yaml"
    path.write_text(yaml.safe_dump(document))
    return load_registry(path).school(f"{school.laestab}-wonde")


def _assert_clean(message: str, la: WondeLA, school: School) -> None:
    assert not any(token in message for token in la.tokens.values()), "a token leaked into a message"
    leaked = {text for text in la.pupil_texts(school) if re.search(rf"\b{re.escape(text)}\b", message)}
    assert not leaked, "pupil data leaked into a message"


# ------------------------------------------------------------------------------------------- tests


def test_connector_satisfies_the_interface():
    connector = WondeConnector()
    assert isinstance(connector, Connector)
    assert connector.route == "wonde" and connector.capabilities.changed_since is True


def test_registry_requires_wonde_settings(tmp_path):
    document = {"local_authority": {"code": "926", "name": "Test"},
                "schools": [{"laestab": "9262001", "name": "A School", "mis": "wonde", "source": {"school_id": "A1"}}]}
    with pytest.raises(RegistryError, match=r"source\.token_env: missing"):
        parse_registry(document, tmp_path / "schools.yaml")


def test_process_school_loads_through_wonde(tokens, tmp_path):
    la = tokens
    school = _registry_with_wonde(la, la.files_schools[0], tmp_path)
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    try:
        outcome = process_school(school, home=la.home, warehouse=warehouse, as_of=AS_OF)
        assert outcome.status == LOADED, outcome.message
        files_raw = read_school_folder(la.files_schools[0].landing_folder(la.home), school.laestab)
        expected = _canonical(files_raw.tables, school)
        for table in TABLES:
            assert warehouse.count_where(table, "school_key = ?", [school.key]) == len(expected[table])
        assert outcome.sources["pupils"].startswith("/v1.0/schools/")
    finally:
        warehouse.close()


def test_wrong_token_fails_clearly_and_not_transient(tokens, monkeypatch, tmp_path):
    la = tokens
    school = _registry_with_wonde(la, la.files_schools[2], tmp_path)
    monkeypatch.setenv(la.token_env(school), "not-the-right-token-123")
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    try:
        outcome = process_school(school, home=la.home, warehouse=warehouse, as_of=AS_OF)
        assert outcome.status == "failed" and not outcome.transient
        assert "unauthorised" in outcome.message and "HTTP 401" in outcome.message
        assert school.key in outcome.message and "/students" in outcome.message
        assert "not-the-right-token-123" not in outcome.message
        _assert_clean(outcome.message, la, school)
        issues = warehouse.read("SELECT rule, severity, message FROM validation_issues WHERE school_key = ?",
                                [school.key])
        assert list(issues["rule"]) == ["file_unreadable"] and "not-the-right-token" not in issues["message"].iloc[0]
    finally:
        warehouse.close()
    # one request: a 401 is not retried
    assert la.sim.statuses(la.wonde_id(school)) == [401]


def test_missing_token_variable_names_the_registry_field(tokens, monkeypatch):
    la = tokens
    school = la.as_wonde(la.files_schools[0])
    monkeypatch.delenv(la.token_env(school))
    with pytest.raises(VendorRouteError, match=r"the environment variable named in source\.token_env is not set"):
        WondeConnector().fetch(school, as_of=AS_OF)
