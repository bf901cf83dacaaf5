"""Targeting support packs at county scale: every active school's pack and the LA page, timed.

For each ``--scale`` (1.0 = Norfolk: 420 schools, ~116,000 pupils; the same synthetic LA as
``nightly_bench.py``), in a fresh NCC_HOME (or ``--workdir``, kept and reused when it already holds a
loaded LA): generate the LA with the demo generator, load one night into DuckDB with the real nightly
path (``run_night``; neither is timed here), then time

* ``one_by_one``: ``targeting.write_pack`` for the first ``--sample`` schools, each alone as
  ``ncc-transfer pack --school`` builds it (the warehouse read and the LA's phase figures computed again
  per school), extrapolated to every school (mean per school x schools);
* ``all``: ``targeting.write_all_packs`` (``ncc-transfer pack --all``): every active school's pack and
  the LA page, the warehouse read once and the LA-wide figures computed once, packs written in a
  process pool of ``--workers`` (default: the CPUs).

Both for the night's date (the stored ``absence_summary``) and, with ``--other-date``, another date (the
summary computed again from the marks).

    uv run python benchmarks/packs_bench.py --scale 0.1
    uv run python benchmarks/packs_bench.py --scale 1 --sample 3 --workdir /tmp/packs_norfolk
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.nightly_bench import DEFAULT_AS_OF, ENV_KEYS, pupils_scale_for  # noqa: E402


def load_la(home: Path, scale: float, as_of: date, seed: int) -> dict:
    """Generate the LA and load one night (skipped when ``home`` already holds a loaded warehouse)."""
    os.environ["NCC_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    os.environ["NCC_WAREHOUSE_URL"] = f"duckdb:///{home / 'warehouse.duckdb'}"
    os.environ.pop("NCC_ARCHIVE_KEY", None)
    os.environ.pop("NCC_SCHOOLS_FILE", None)
    if (home / "warehouse.duckdb").exists() and (home / "loaded").exists():
        return {"reused": True}
    from ncc_transfer.cli import run_night
    from ncc_transfer.config import schools_file
    from ncc_transfer.demo.generator import build_demo_la
    from ncc_transfer.registry import load_registry

    home.mkdir(parents=True, exist_ok=True)
    schools, pupils_scale = pupils_scale_for(scale)
    started = time.perf_counter()
    build_demo_la(home, seed=seed, schools=schools, as_of=as_of, pupils_scale=pupils_scale, formats=("ctf25",))
    generated = time.perf_counter() - started
    result = run_night(load_registry(schools_file()), as_of=as_of)
    (home / "loaded").write_text(as_of.isoformat())
    return {"reused": False, "generate_s": generated, "night_s": time.perf_counter() - started - generated,
            "loaded": result.loaded, "failed": result.failed}


def time_packs(home: Path, as_of: date, sample: int, workers: int | None) -> dict:
    from ncc_transfer.config import schools_file, warehouse_url
    from ncc_transfer.registry import load_registry
    from ncc_transfer.targeting import write_pack
    from ncc_transfer.targeting_all import write_all_packs
    from ncc_transfer.warehouse import open_warehouse

    registry = load_registry(schools_file())
    schools = registry.active_schools
    warehouse = open_warehouse(warehouse_url())
    try:
        started = time.perf_counter()
        for school in schools[:sample]:
            write_pack(warehouse, registry, school, as_of=as_of, home=home)
        per_school = (time.perf_counter() - started) / max(1, min(sample, len(schools)))
        started, cpu = time.perf_counter(), time.process_time()
        written = write_all_packs(warehouse, registry, as_of=as_of, home=home, workers=workers)
        wall = time.perf_counter() - started
    finally:
        warehouse.close()
    return {"as_of": as_of.isoformat(), "schools": len(schools), "one_by_one_per_school_s": per_school,
            "one_by_one_all_s_extrapolated": per_school * len(schools), "all_wall_s": wall,
            "all_cpu_this_process_s": time.process_time() - cpu, "packs_written": len(written.packs),
            "failed": len(written.failed), "all_per_school_s": wall / max(1, len(schools))}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, action="append", required=True,
                        help="1.0 = Norfolk (420 schools, ~116,000 pupils); repeatable")
    parser.add_argument("--as-of", type=date.fromisoformat, default=DEFAULT_AS_OF,
                        help="the night loaded, and the packs' date (the stored views' date)")
    parser.add_argument("--other-date", type=date.fromisoformat, default=None,
                        help="also time packs for this date (the year's summary computed from the marks)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--sample", type=int, default=5, help="schools timed one by one (extrapolated)")
    parser.add_argument("--workers", type=int, default=None, help="pack-writing processes (default: the CPUs)")
    parser.add_argument("--workdir", type=Path, help="keep (and reuse) the generated LAs here")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)

    from ncc_transfer.config import restored_environment

    results = []
    with restored_environment(*ENV_KEYS), tempfile.TemporaryDirectory(prefix="ncc_packs_") as scratch:
        workdir = args.workdir or Path(scratch)
        for scale in args.scale:
            home = workdir / f"scale_{scale:g}"
            setup = load_la(home, scale, args.as_of, args.seed)
            for when in [args.as_of, *([args.other_date] if args.other_date else [])]:
                result = {"scale": scale, "cpus": os.cpu_count(), "setup": setup,
                          **time_packs(home, when, args.sample, args.workers)}
                print(json.dumps(result, indent=2))
                results.append(result)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
