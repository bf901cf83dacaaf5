"""Smoke test of the nightly benchmark (benchmarks/nightly_bench.py): the report's shape, not its times."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "nightly_bench.py"


def _bench_module():
    spec = importlib.util.spec_from_file_location("nightly_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_nightly_bench_reports_every_stage_at_tiny_scale(tmp_path):
    out = tmp_path / "bench.json"
    _bench_module().main(["--scale", "0.01", "--out", str(out), "--workdir", str(tmp_path / "work")])

    report = json.loads(out.read_text())
    (result,) = report["results"]
    pipeline, baseline, ratios = result["pipeline"], result["baseline"], result["ratios"]
    assert result["schools"] == 4
    assert pipeline["schools_loaded"] == 4 and pipeline["schools_failed"] == 0
    assert set(pipeline["stages_s"]) >= {"extract", "archive", "validate", "load", "views", "overhead"}
    assert set(baseline["stages_s"]) == {"parse", "cast", "load", "views"}
    assert set(ratios) >= {"extract", "validate", "load", "views", "overall", "cpu"}
    assert all(ratios[k] is not None and ratios[k] > 0 for k in ("extract", "validate", "load", "overall"))
    assert pipeline["processes"] > 0 and pipeline["dagster_runs"] >= 1
    assert pipeline["marks"] > 0 and baseline["marks"] > 0
    assert pipeline["marks_per_s"] > 0 and baseline["marks_per_s"] > 0
    assert pipeline["peak_rss_mb"] > 0 and pipeline["wall_s"] > 0 and pipeline["cpu_s"] > 0
    assert baseline["view_rows"]["absence_summary"] > 0
    assert report["growth"] == []
