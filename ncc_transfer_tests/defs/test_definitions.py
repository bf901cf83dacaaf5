"""The code location loads, through the Python API and the two command lines operators use."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from ncc_transfer.definitions import defs

REPO = Path(__file__).resolve().parents[2]


def test_definitions_hold_the_nightly_pipeline():
    definitions = defs()
    keys = {key.to_user_string() for key in definitions.resolve_all_asset_keys()}
    assert {"pupils", "attendance", "exclusions", "validation_issues"} <= keys
    checks = {(k.asset_key.to_user_string(), k.name) for k in definitions.resolve_asset_graph().asset_check_keys}
    assert {(t, c) for t in ("pupils", "attendance", "exclusions") for c in ("structure", "records")} <= checks
    assert definitions.resolve_job_def("nightly")
    assert definitions.resolve_schedule_def("nightly_schedule")
    assert definitions.resolve_sensor_def("school_registry_sensor")
    spec = next(s for s in definitions.resolve_all_asset_specs() if s.key == dg.AssetKey("pupils"))
    assert isinstance(spec.partitions_def, dg.DynamicPartitionsDefinition)


def _cli(*args: str) -> subprocess.CompletedProcess:
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    return subprocess.run([str(bin_dir / args[0]), *args[1:]], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


def test_dg_check_defs_loads_the_project():
    done = _cli("dg", "check", "defs")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All definitions loaded successfully" in done.stdout + done.stderr


def test_workspace_yaml_loads():
    done = _cli("dagster", "definitions", "validate", "-w", "workspace.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
