"""Bounded cost per school: one night with a hostile ``pupils.csv``, then a clean night (docs/hardening.md).

The hostile file has ``--rows`` pupil records (default 1,000,000, about 100 MB, under the 256 MB file
limit), each valid but with a blank postcode, so every row raises the ``postcode_missing`` warning.
The clean file, the next school night (Monday), is ``--clean-rows`` of those pupils with their postcodes
filled in.

Each night runs in its own process (``run_night``, the real Dagster path, reports included) so its
peak RSS is its own; the script prints, per night, wall time, peak RSS (``resource.getrusage``:
the night's process and its children, e.g. the prefetch worker), the school's outcome,
``validation_issues`` rows stored, and the size of the school's report files.

    uv run python benchmarks/hostile_file_bench.py                               # default ceiling
    NCC_MAX_PUPILS=2000000 uv run python benchmarks/hostile_file_bench.py        # capped issue path
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

AS_OF = date(2026, 3, 20)
LA, ESTAB = 926, 4100
LAESTAB = f"{LA}{ESTAB}"
HEADER = "upn,surname,forename,dob,sex,enrol_status,nc_year,postcode\n"


def upns(n: int) -> np.ndarray:
    """``n`` distinct, well-formed permanent UPNs (check letter as the demo generator makes them)."""
    from ncc_transfer.demo.generator import upn_strings

    serial = np.arange(n, dtype=np.int64)
    # body: LA (3) + estab (4) + year (2) + serial (3); spread serials over years and establishments
    return upn_strings(np.full(n, LA), ESTAB + serial // 100_000, (serial // 1000) % 100, serial % 1000)


def write_pupils(path: Path, n: int, postcode: str) -> int:
    """Write ``n`` Year 5 pupils (born 2015-16, so the NC year matches); returns the file's size."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        all_upns = upns(n)
        for start in range(0, n, 100_000):
            out.write("".join(f"{u},Smith,Ann,2015-10-01,F,C,5,{postcode}\n" for u in all_upns[start:start + 100_000]))
    return path.stat().st_size


def setup(home: Path) -> Path:
    folder = home / "landing" / LAESTAB
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "attendance.csv").write_text("upn,date,session,code\n")
    (folder / "exclusions.csv").write_text("upn,category,start_date\n")
    (home / "schools.yaml").write_text(
        "local_authority: {code: '926', name: Bench County}\n"
        f"schools:\n  - {{laestab: '{LAESTAB}', name: Bench School, mis: files, source: {{path: landing/{LAESTAB}}}}}\n")
    (home / "dagster_home").mkdir(exist_ok=True)
    return folder


def night(home: Path, as_of: date) -> dict:
    """Run one night in this process; return its figures (called in a child process)."""
    from ncc_transfer import timing
    from ncc_transfer.cli import _load_registry, run_night
    from ncc_transfer.warehouse import DuckDBWarehouse

    started = time.perf_counter()
    result = run_night(_load_registry(), as_of=as_of)
    wall = time.perf_counter() - started
    peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
    stored = warehouse.read("SELECT status, count(*) AS n FROM validation_issues GROUP BY status ORDER BY status")
    audit = warehouse.read("SELECT detail FROM audit_log WHERE event = 'extraction' ORDER BY logged_at DESC LIMIT 1")
    stages = json.loads(audit["detail"].iloc[0]).get("stage_seconds", {}) if len(audit) else {}
    warehouse.close()
    reports = home / "reports" / LAESTAB
    sizes = {p.name: p.stat().st_size for p in sorted(reports.glob("*")) if p.is_file()} if reports.is_dir() else {}
    return {"wall_s": round(wall, 1), "peak_rss_mb": round(peak_kb / 1024), "loaded": result.loaded,
            "failed": result.failed, "lines": result.lines, "issues_stored": dict(zip(stored["status"], stored["n"].astype(int))),
            "report_bytes": sizes, "stage_seconds": {k: v for k, v in stages.items() if k != "cpu"},
            "sections_seconds": {name: round(t["wall_s"], 2) for name, t in timing.totals().items()}}


def run_child(home: Path, as_of: date) -> dict:
    env = {**os.environ, "NCC_HOME": str(home), "DAGSTER_HOME": str(home / "dagster_home"),
           "NCC_WAREHOUSE_URL": f"duckdb:///{home / 'warehouse.duckdb'}"}
    env.pop("NCC_SCHOOLS_FILE", None)
    out = subprocess.run([sys.executable, __file__, "--night", str(home), "--as-of", as_of.isoformat()], env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="hostile pupils.csv rows")
    parser.add_argument("--clean-rows", type=int, default=1_000, help="pupils in the fixed file")
    parser.add_argument("--postcode", default="", help="the big file's postcode: blank (default) flags every row; "
                        "a valid one ('NR1 1AA') makes the same file clean, to compare what the issues cost")
    parser.add_argument("--night", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--as-of", type=date.fromisoformat, default=AS_OF, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.night:
        print(json.dumps(night(args.night, args.as_of), default=str))
        return
    print(f"NCC_MAX_PUPILS={os.environ.get('NCC_MAX_PUPILS', '(default)')} "
          f"NCC_ISSUE_EXAMPLES_PER_RULE={os.environ.get('NCC_ISSUE_EXAMPLES_PER_RULE', '(default)')}")
    with tempfile.TemporaryDirectory(prefix="ncc-hostile-") as scratch:
        home = Path(scratch)
        folder = setup(home)
        size = write_pupils(folder / "pupils.csv", args.rows, postcode=args.postcode)
        print(f"hostile pupils.csv: {args.rows:,} rows, {size / 1e6:.1f} MB, postcode {args.postcode!r}")
        print("hostile night:", json.dumps(run_child(home, AS_OF), indent=1, default=str))
        write_pupils(folder / "pupils.csv", args.clean_rows, postcode="NR1 1AA")
        print(f"clean night ({args.clean_rows:,} pupils):", json.dumps(run_child(home, AS_OF + timedelta(days=3)), indent=1, default=str))


if __name__ == "__main__":
    main()
