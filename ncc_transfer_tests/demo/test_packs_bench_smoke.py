"""Smoke test of the targeting packs benchmark (benchmarks/packs_bench.py): the report's shape, not its times."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "packs_bench.py"


def test_packs_bench_times_every_school_at_tiny_scale(tmp_path):
    spec = importlib.util.spec_from_file_location("packs_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "packs.json"
    module.main(["--scale", "0.01", "--sample", "1", "--out", str(out), "--workdir", str(tmp_path / "work")])

    (result,) = json.loads(out.read_text())
    assert result["schools"] == 4 and result["packs_written"] == 4 and result["failed"] == 0
    assert result["setup"]["loaded"] == 4 and not result["setup"]["reused"]
    assert result["all_wall_s"] > 0 and result["one_by_one_per_school_s"] > 0
    assert (tmp_path / "work" / "scale_0.01" / "packs" / "la").is_dir()
