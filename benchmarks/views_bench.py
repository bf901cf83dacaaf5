"""How long the statutory views take, measured the way the nightly job computes them.

Two sources of data:

* ``--warehouse PATH``: an existing DuckDB warehouse (e.g. the demo's, after ``ncc-transfer demo``);
* ``--pupils N``: a synthetic LA of N pupils with a full year of session marks, generated here with
  numpy straight into canonical tables and loaded into a temporary DuckDB warehouse.

Then, for every school, ``refresh_school_views`` (read the school's rows back, compute its four views,
replace them) and once ``refresh_la_views`` (CME and movements over the LA), as the nightly step
does. Prints wall and CPU time per stage and the peak resident memory of this process.

    uv run python benchmarks/views_bench.py --warehouse .ncc_transfer/warehouse.duckdb --as-of 2026-11-29
    uv run python benchmarks/views_bench.py --pupils 100000 --schools 400 --as-of 2026-07-17
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ncc_transfer.canonical import coerce_types  # noqa: E402
from ncc_transfer.reference.upn import make_upn  # noqa: E402
from ncc_transfer.rules.calendar import academic_year_start  # noqa: E402
from ncc_transfer.views import refresh_la_views, refresh_school_views  # noqa: E402
from ncc_transfer.warehouse import DuckDBWarehouse  # noqa: E402

ABSENCE_CODES = np.array(["I", "I", "I", "M", "O", "G", "N", "U", "C", "R"])


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def school_days_between(start: date, end: date) -> np.ndarray:
    """Weekdays from start to end, less a half-term week in each term and the Christmas/Easter breaks."""
    days = np.arange(np.datetime64(start), np.datetime64(end) + 1, dtype="datetime64[D]")
    days = days[np.is_busday(days)]
    year = start.year
    breaks = [(date(year, 10, 27), date(year, 10, 31)), (date(year, 12, 22), date(year + 1, 1, 2)),
              (date(year + 1, 2, 16), date(year + 1, 2, 20)), (date(year + 1, 3, 30), date(year + 1, 4, 10)),
              (date(year + 1, 5, 25), date(year + 1, 5, 29))]
    for first, last in breaks:
        days = days[(days < np.datetime64(first)) | (days > np.datetime64(last))]
    return days


def synthetic_school(rng: np.random.Generator, number: int, pupils: int, days: np.ndarray, as_of: date):
    laestab = f"926{2000 + number:04d}"
    key = f"{laestab}-files"
    upns = [make_upn("926", laestab[3:], 20 + number % 6, serial) for serial in range(pupils)]
    dob = pd.Timestamp(as_of) - pd.to_timedelta(rng.integers(5 * 365, 16 * 365, pupils), unit="D")
    pupil_frame = pd.DataFrame({
        "school_key": key, "laestab": laestab, "upn": upns, "surname": "Synthetic", "forename": "Pupil",
        "dob": dob, "sex": rng.choice(["M", "F"], pupils), "nc_year": "5", "enrol_status": "C",
        "entry_date": pd.Timestamp(academic_year_start(as_of)) - pd.Timedelta(days=400),
        "extracted_at": pd.Timestamp(as_of),
    })
    leavers = rng.random(pupils) < 0.02
    pupil_frame.loc[leavers, "leaving_date"] = pd.Timestamp(as_of) - pd.to_timedelta(
        rng.integers(1, 120, leavers.sum()), unit="D")
    propensity = rng.beta(0.8, 12, pupils)  # mean ~6% absence, long tail (persistent absentees)
    sessions = len(days) * 2
    absent = rng.random((pupils, sessions)) < propensity[:, None]
    codes = np.where(np.arange(sessions) % 2 == 0, "/", "\\")[None, :].repeat(pupils, axis=0).astype(object)
    codes[absent] = ABSENCE_CODES[rng.integers(0, len(ABSENCE_CODES), absent.sum())]
    attendance = pd.DataFrame({
        "school_key": key, "laestab": laestab,
        "upn": np.repeat(np.array(upns, dtype=object), sessions),
        "date": np.tile(np.repeat(days, 2), pupils).astype("datetime64[ns]"),
        "session": np.tile(np.array(["AM", "PM"], dtype=object), pupils * len(days)),
        "code": codes.ravel(),
    })
    suspended = rng.choice(pupils, max(1, pupils // 60), replace=False)
    exclusions = pd.DataFrame({
        "school_key": key, "laestab": laestab, "upn": np.array(upns, dtype=object)[suspended],
        "category": "SUSP", "reason": "PD", "start_date": days[rng.integers(0, len(days), len(suspended))].astype("datetime64[ns]"),
        "start_session": "AM", "sessions": rng.integers(1, 14, len(suspended)),
    })
    return key, {"pupils": coerce_types("pupils", pupil_frame), "attendance": coerce_types("attendance", attendance),
                 "exclusions": coerce_types("exclusions", exclusions)}


def load_synthetic(warehouse: DuckDBWarehouse, pupils: int, schools: int, as_of: date, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    days = school_days_between(academic_year_start(as_of) + timedelta(days=2), as_of)
    sizes = rng.multinomial(pupils, np.full(schools, 1 / schools))
    empty_issues = coerce_issues()
    marks = 0
    started = time.perf_counter()
    for number, size in enumerate(sizes):
        key, tables = synthetic_school(rng, number, int(size), days, as_of)
        roll = tables["pupils"][["school_key", "laestab", "upn", "entry_date", "leaving_date"]].astype(
            {"upn": object, "school_key": object, "laestab": object}).assign(seen_on=pd.Timestamp(as_of))
        warehouse.replace_school(key, tables, empty_issues, roll=roll)
        marks += len(tables["attendance"])
    return {"schools": schools, "pupils": pupils, "school_days": len(days), "marks": marks,
            "load_seconds": round(time.perf_counter() - started, 1)}


def coerce_issues() -> pd.DataFrame:
    from ncc_transfer.canonical import VALIDATION_ISSUE_COLUMNS

    return pd.DataFrame({c: pd.Series(dtype=object) for c in VALIDATION_ISSUE_COLUMNS})


def time_views(warehouse: DuckDBWarehouse, as_of: date) -> dict:
    keys = list(warehouse.read("SELECT DISTINCT school_key FROM pupils ORDER BY 1")["school_key"])
    wall, cpu = time.perf_counter(), time.process_time()
    for key in keys:
        refresh_school_views(warehouse, key, as_of)
    school_wall, school_cpu = time.perf_counter() - wall, time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    la = refresh_la_views(warehouse, as_of)
    la_wall, la_cpu = time.perf_counter() - wall, time.process_time() - cpu
    rows = {view: int(warehouse.read(f'SELECT count(*) AS n FROM "{view}"')["n"].iloc[0])
            for view in ("absence_summary", "ten_day_absence", "absence_triggers", "exclusion_provision")}
    rows.update({view: len(frame) for view, frame in la.items()})
    return {"schools": len(keys), "school_views_wall_s": round(school_wall, 2), "school_views_cpu_s": round(school_cpu, 2),
            "la_views_wall_s": round(la_wall, 2), "la_views_cpu_s": round(la_cpu, 2),
            "all_views_wall_s": round(school_wall + la_wall, 2), "view_rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--warehouse", type=Path, help="an existing DuckDB warehouse")
    source.add_argument("--pupils", type=int, help="generate a synthetic LA of this many pupils")
    parser.add_argument("--schools", type=int, default=400)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    result: dict = {"as_of": args.as_of.isoformat()}
    with tempfile.TemporaryDirectory() as scratch:
        if args.warehouse:
            warehouse = DuckDBWarehouse(args.warehouse)
            result["source"] = str(args.warehouse)
        else:
            warehouse = DuckDBWarehouse(Path(scratch) / "bench.duckdb")
            result["source"] = "synthetic"
            result["generated"] = load_synthetic(warehouse, args.pupils, args.schools, args.as_of, args.seed)
        result["views"] = time_views(warehouse, args.as_of)
        warehouse.close()
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
