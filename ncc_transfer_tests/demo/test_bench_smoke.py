"""Smoke test of the nightly benchmark (benchmarks/nightly_bench.py): the report's shape, not its times."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "nightly_bench.py"


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
    # Every school sent a CTF (the default), so the independent minimal script ran on the same files:
    # it keeps every mark of the CTFs but the closure marks, as the plain baseline does.
    minimal = result["minimal"]
    assert result["formats"] == ["ctf25"] and minimal["wall_s"] > 0 and minimal["cpu_s"] > 0
    assert minimal["marks"] == baseline["marks"] and set(minimal["stages_s"]) == {"parse", "expand", "load", "views"}
    assert ratios["night_over_minimal"] == pipeline["wall_s"] / minimal["wall_s"]


def test_nightly_bench_runs_a_vendor_route_through_the_simulator(tmp_path, monkeypatch):
    for name in ("NCC_HOME", "DAGSTER_HOME", "NCC_WAREHOUSE_URL"):  # the bench sets them for its LA
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "bench.json"
    _bench_module().main(["--scale", "0.005", "--route", "arbor", "--out", str(out),
                          "--workdir", str(tmp_path / "work")])

    (result,) = json.loads(out.read_text())["results"]
    pipeline, counters = result["pipeline"], result["route_counters"]
    assert result["route"] == "arbor" and result["schools"] == 2
    assert pipeline["schools_loaded"] == 2 and pipeline["schools_failed"] == 0
    assert counters["route"] == "arbor" and counters["requests"] > 2 and counters["requests_per_s_of_night"] > 0
    # Over HTTP as from the files, less what validation keeps out (the baseline checks nothing).
    assert 0.9 * result["baseline"]["marks"] < pipeline["marks"] <= result["baseline"]["marks"]


def test_nightly_bench_plays_a_real_network_for_a_vendor_route(tmp_path, monkeypatch):
    """--latency-ms: every answer waits, each route's rate is enforced, and the night is set against its floor."""
    for name in ("NCC_HOME", "DAGSTER_HOME", "NCC_WAREHOUSE_URL"):
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "bench.json"
    _bench_module().main(["--scale", "0.005", "--route", "wonde", "--latency-ms", "10", "--as-of", "2025-09-19", "--out", str(out),
                          "--workdir", str(tmp_path / "work")])

    (result,) = json.loads(out.read_text())["results"]
    counters = result["route_counters"]
    assert result["pipeline"]["schools_loaded"] == 2
    assert counters["latency_ms"] == 10 and counters["rate_per_second"] == 5.0 and counters["fetches_at_once"] >= 1
    # Each request takes the rate's interval (1/5 s, longer than the 10 ms latency); one fetch at once.
    assert counters["seconds_per_request"] == 0.2 and counters["credentials"] == 2
    assert counters["floor_by_all_s"] == pytest.approx(
        counters["requests_over_the_network"] * 0.2 / counters["fetches_at_once"])
    assert counters["floor_s"] == max(counters["floor_by_all_s"], counters["floor_by_longest_s"])
    assert counters["night_over_floor"] >= 1.0  # no night beats its floor


def test_events_bench_times_one_event_per_storage(capsys):
    spec = importlib.util.spec_from_file_location("events_bench", BENCH.parent / "events_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--events", "3"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    for storage in ("sqlite", "consolidated"):
        assert float(lines[storage].split()[1]) > 0 and lines[storage].endswith("ms per event")
    assert any(k.startswith("postgres") for k in lines)  # timed, or "skipped" without a server
