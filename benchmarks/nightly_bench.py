"""The nightly job at county scale, against the shortest plain script doing the same work (issue 8).

For each ``--scale`` (1.0 = Norfolk: 420 schools, ~116,000 pupils), in a fresh temporary NCC_HOME:

1. generate a synthetic LA with the demo generator (timed on its own; not part of the night);
2. run the real nightly path, ``run_night(registry, as_of=...)`` (Dagster runs, in this process), and
   measure wall and CPU time (this process + children), peak RSS, and the processes started
   (descendants of this process seen by polling /proc every 50 ms, plus this process itself);
3. sum each school's ``audit_log`` ``stage_seconds`` (extract, archive, validate, load, views);
   ``overhead`` = wall - the sum: LA views, reports, Dagster and everything else;
4. run a BASELINE on the same files: ``read_school_folder`` for every school (parse), minimal pandas
   casts (cast), one bulk insert per table into a fresh DuckDB file (load), and a plain-SQL absence
   summary and 10-day list (views); no Dagster, no checks;
5. report marks per second and the pipeline/baseline ratio per stage and overall.

Prints a table per scale (and, with several scales, how each stage grows: time ratio / marks ratio),
and writes JSON with ``--out``.

    uv run python benchmarks/nightly_bench.py --scale 0.1 --scale 0.5 --scale 1 --out bench.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NORFOLK_SCHOOLS = 420
NORFOLK_PUPILS = 116_000
DEFAULT_AS_OF = date(2026, 7, 17)  # last day of the summer term: a full academic year of marks
# Mean school size per phase at pupils_scale 1 (the generator's SIZE distributions after clipping,
# by Monte Carlo); used with the generator's phase mix to pick pupils_scale for a target roll.
MEAN_SIZE = {"primary": 217.4, "secondary": 900.1, "all-through": 902.0, "special": 105.8}
STAGES = ("extract", "validate", "load", "views")  # pipeline stages compared with the baseline
BASELINE_OF = {"extract": "parse", "validate": "cast", "load": "load", "views": "views"}
ENV_KEYS = ("NCC_HOME", "DAGSTER_HOME", "NCC_WAREHOUSE_URL", "NCC_ARCHIVE_KEY", "NCC_SCHOOLS_FILE")


# ------------------------------------------------------------------------------------ measuring
def _rusage() -> dict:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"cpu": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
            "children_maxrss_mb": kids.ru_maxrss / 1024}


def _reset_peak_rss() -> bool:
    """Reset this process's high-water mark (Linux: write 5 to /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ProcessCounter:
    """Distinct descendants of this process, found by polling /proc (short-lived ones < 50 ms may be missed)."""

    def __init__(self, interval: float = 0.05):
        self.interval, self.root = interval, os.getpid()
        self.seen: dict[tuple[int, str], str] = {}  # (pid, start time) -> command name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> "ProcessCounter":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._poll()

    def _poll(self) -> None:
        parent: dict[int, int] = {}
        info: dict[int, tuple[str, str]] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2:].split()
            pid = int(entry.name)
            parent[pid] = int(fields[1])
            info[pid] = (name, fields[19])  # comm, starttime
        for pid in parent:
            ancestor, hops = parent.get(pid), 0
            while ancestor and ancestor != self.root and hops < 64:
                ancestor, hops = parent.get(ancestor), hops + 1
            if ancestor == self.root and pid != self.root:
                name, started = info[pid]
                self.seen[(pid, started)] = name

    @property
    def python_children(self) -> int:
        return sum(1 for name in self.seen.values() if "python" in name.lower() or "dagster" in name.lower())


def _timed(fn):
    wall, use = time.perf_counter(), _rusage()
    value = fn()
    return value, time.perf_counter() - wall, _rusage()["cpu"] - use["cpu"]


# ------------------------------------------------------------------------------------ the LA
def pupils_scale_for(scale: float) -> tuple[int, float]:
    """(schools, pupils_scale) so that the generated LA has ~116,000 * scale pupils."""
    from ncc_transfer.demo.generator import _phase_counts

    schools = max(1, round(NORFOLK_SCHOOLS * scale))
    expected = sum(count * MEAN_SIZE[phase] for phase, count in _phase_counts(schools).items())
    return schools, NORFOLK_PUPILS * scale / expected


# ------------------------------------------------------------------------------------ pipeline
def run_pipeline(as_of: date) -> dict:
    from ncc_transfer.cli import run_night
    from ncc_transfer.config import schools_file, warehouse_url
    from ncc_transfer.registry import load_registry
    from ncc_transfer.warehouse import open_warehouse

    registry = load_registry(schools_file())
    _reset_peak_rss()
    before = _rusage()
    with ProcessCounter() as procs:
        result, wall, cpu = _timed(lambda: run_night(registry, as_of=as_of))
    peak = max(_peak_rss_mb(), _rusage()["children_maxrss_mb"])

    warehouse = open_warehouse(warehouse_url())
    try:
        marks = int(warehouse.read("SELECT count(*) AS n FROM attendance")["n"].iloc[0])
        pupils = int(warehouse.read("SELECT count(*) AS n FROM pupils")["n"].iloc[0])
        placeholders = ", ".join("?" for _ in result.run_ids)
        details = warehouse.read(f"SELECT detail FROM audit_log WHERE event = 'extraction' "
                                 f"AND run_id IN ({placeholders})", result.run_ids)["detail"] if result.run_ids else []
    finally:
        warehouse.close()
    stages = {"extract": 0.0, "archive": 0.0, "validate": 0.0, "load": 0.0, "views": 0.0}
    for detail in details:
        for stage, seconds in (json.loads(detail).get("stage_seconds") or {}).items():
            stages[stage] = stages.get(stage, 0.0) + float(seconds)
    stages["overhead"] = max(0.0, wall - sum(stages.values()))
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak,
            "processes": 1 + len(procs.seen), "child_processes": len(procs.seen),
            "python_child_processes": procs.python_children,
            "child_process_names": sorted(procs.seen.values()), "dagster_runs": len(result.run_ids),
            "schools_loaded": result.loaded, "schools_failed": result.failed, "marks": marks, "pupils": pupils,
            "stages_s": stages, "cpu_before_s": before["cpu"]}


# ------------------------------------------------------------------------------------ baseline
def run_baseline(home: Path, as_of: date) -> dict:
    """The shortest plain script: parse, cast, bulk load into DuckDB, absence summary + 10-day list in SQL."""
    import duckdb
    import pandas as pd

    from ncc_transfer.files_route.folder import read_school_folder
    from ncc_transfer.reference.attendance_codes import CATEGORIES_2024
    from ncc_transfer.registry import load_registry
    from ncc_transfer.rules.calendar import academic_year_start

    registry = load_registry(home / "schools.yaml")
    schools = [s for s in registry.active_schools if s.mis == "files"]
    _reset_peak_rss()
    times: dict[str, float] = {}
    cpus: dict[str, float] = {}

    def parse():
        frames = {"pupils": [], "attendance": [], "exclusions": []}
        for school in schools:
            raw = read_school_folder(school.landing_folder(home), school.laestab)
            for table, frame in raw.tables.items():
                frames[table].append(frame.assign(school_key=school.key))
        return {t: pd.concat(f, ignore_index=True) for t, f in frames.items() if f}

    def cast(raw):
        att = raw["attendance"]
        out = {"attendance": pd.DataFrame({
            "school_key": att["school_key"], "upn": att["upn"],
            "date": pd.to_datetime(att["date"], format="ISO8601", errors="coerce"),
            "session": att["session"], "code": att["code"]}).dropna(subset=["date"])}
        pup = raw["pupils"]
        out["pupils"] = pd.DataFrame({"school_key": pup["school_key"], "upn": pup["upn"],
                                      "dob": pd.to_datetime(pup["dob"], format="ISO8601", errors="coerce")})
        if "exclusions" in raw:
            exc = raw["exclusions"]
            out["exclusions"] = pd.DataFrame({
                "school_key": exc["school_key"], "upn": exc["upn"], "category": exc["category"],
                "start_date": pd.to_datetime(exc["start_date"], format="ISO8601", errors="coerce"),
                "sessions": pd.to_numeric(exc["sessions"], errors="coerce")})
        return out

    path = home / "baseline.duckdb"
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))

    def load(tables):
        for name, frame in tables.items():
            con.register("frame", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
            con.unregister("frame")

    codes = pd.DataFrame({"code": list(CATEGORIES_2024), "category": list(CATEGORIES_2024.values())})

    def views():
        con.register("codes_frame", codes)
        con.execute("CREATE OR REPLACE TABLE codes AS SELECT * FROM codes_frame")
        start = academic_year_start(as_of)
        con.execute("""
            CREATE OR REPLACE TABLE absence_summary AS
            SELECT a.school_key, a.upn,
                   count(*) FILTER (WHERE c.category IN ('present','aea','authorised','unauthorised')) AS possible,
                   count(*) FILTER (WHERE c.category = 'authorised') AS authorised,
                   count(*) FILTER (WHERE c.category = 'unauthorised') AS unauthorised,
                   (authorised + unauthorised) >= 0.1 * possible AND possible > 0 AS persistent_absence
            FROM attendance a LEFT JOIN codes c USING (code)
            WHERE a.date BETWEEN ? AND ?
            GROUP BY ALL""", [start, as_of])
        con.execute("""
            CREATE OR REPLACE TABLE ten_day_absence AS
            WITH days AS (
                SELECT a.school_key, a.upn, a.date,
                       bool_and(a.code IN ('G','N','O','U')) FILTER (WHERE c.category IN
                           ('present','aea','authorised','unauthorised')) AS unexplained,
                       bool_or(a.code = 'D') AS dual
                FROM attendance a LEFT JOIN codes c USING (code)
                WHERE a.date BETWEEN ? AND ?
                GROUP BY ALL),
            counted AS (SELECT *, coalesce(unexplained AND NOT dual, false) AS extends FROM days
                        WHERE unexplained IS NOT NULL OR dual),
            islands AS (
                SELECT *, row_number() OVER (PARTITION BY school_key, upn ORDER BY date)
                        - row_number() OVER (PARTITION BY school_key, upn, extends ORDER BY date) AS grp
                FROM counted)
            SELECT school_key, upn, min(date) AS first_day, max(date) AS last_day, count(*) AS school_days
            FROM islands WHERE extends GROUP BY school_key, upn, grp HAVING count(*) >= 10""", [start, as_of])
        return {v: con.execute(f"SELECT count(*) FROM {v}").fetchone()[0] for v in ("absence_summary", "ten_day_absence")}

    try:
        raw, times["parse"], cpus["parse"] = _timed(parse)
        tables, times["cast"], cpus["cast"] = _timed(lambda: cast(raw))
        del raw
        _, times["load"], cpus["load"] = _timed(lambda: load(tables))
        marks = len(tables["attendance"])
        del tables
        rows, times["views"], cpus["views"] = _timed(views)
    finally:
        con.close()
    return {"wall_s": sum(times.values()), "cpu_s": sum(cpus.values()), "stages_s": times, "stages_cpu_s": cpus,
            "peak_rss_mb": _peak_rss_mb(), "marks": marks, "view_rows": rows}


# ------------------------------------------------------------------------------------ one scale
def bench_scale(scale: float, as_of: date, seed: int, workdir: Path) -> dict:
    from ncc_transfer.demo.generator import build_demo_la

    home = workdir / f"scale_{scale:g}"
    home.mkdir(parents=True, exist_ok=True)
    os.environ["NCC_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    os.environ["NCC_WAREHOUSE_URL"] = f"duckdb:///{home / 'warehouse.duckdb'}"
    os.environ.pop("NCC_ARCHIVE_KEY", None)
    os.environ.pop("NCC_SCHOOLS_FILE", None)

    schools, pupils_scale = pupils_scale_for(scale)
    demo, gen_wall, gen_cpu = _timed(lambda: build_demo_la(home, seed=seed, schools=schools, as_of=as_of,
                                                           pupils_scale=pupils_scale))
    pipeline = run_pipeline(as_of)
    pipeline.pop("cpu_before_s")
    baseline = run_baseline(home, as_of)

    ratios = {stage: _ratio(pipeline["stages_s"][stage], baseline["stages_s"][BASELINE_OF[stage]]) for stage in STAGES}
    ratios["overall"] = _ratio(pipeline["wall_s"], baseline["wall_s"])
    ratios["cpu"] = _ratio(pipeline["cpu_s"], baseline["cpu_s"])
    pipeline["marks_per_s"] = pipeline["marks"] / pipeline["wall_s"] if pipeline["wall_s"] else None
    baseline["marks_per_s"] = baseline["marks"] / baseline["wall_s"] if baseline["wall_s"] else None
    return {"scale": scale, "schools": schools, "pupils_scale": round(pupils_scale, 4), "as_of": as_of.isoformat(),
            "generate": {"wall_s": gen_wall, "cpu_s": gen_cpu, "seconds_reported": demo.elapsed_seconds},
            "pipeline": pipeline, "baseline": baseline, "ratios": ratios}


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def growth(results: list[dict]) -> list[dict]:
    """Between consecutive scales: (time ratio) / (marks ratio) per stage; 1 = linear, < 1 better."""
    out = []
    ordered = sorted(results, key=lambda r: r["pipeline"]["marks"])
    for small, big in zip(ordered, ordered[1:]):
        marks_ratio = _ratio(big["pipeline"]["marks"], small["pipeline"]["marks"])
        row: dict = {"from_scale": small["scale"], "to_scale": big["scale"], "marks_ratio": marks_ratio, "stages": {}}
        pairs = [(f"pipeline.{s}", small["pipeline"]["stages_s"][s], big["pipeline"]["stages_s"][s])
                 for s in (*STAGES, "overhead")]
        pairs += [("pipeline.wall", small["pipeline"]["wall_s"], big["pipeline"]["wall_s"])]
        pairs += [(f"baseline.{s}", small["baseline"]["stages_s"][s], big["baseline"]["stages_s"][s])
                  for s in ("parse", "cast", "load", "views")]
        for name, t_small, t_big in pairs:
            time_ratio = _ratio(t_big, t_small)
            row["stages"][name] = {"time_ratio": time_ratio,
                                   "per_mark": time_ratio / marks_ratio if time_ratio and marks_ratio else None}
        out.append(row)
    return out


# ------------------------------------------------------------------------------------ report
def _f(value, fmt="{:.2f}") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)


def print_table(r: dict) -> None:
    p, b, ratio = r["pipeline"], r["baseline"], r["ratios"]
    print(f"\nscale {r['scale']:g}: {r['schools']} schools, {p['pupils']:,} pupils, {p['marks']:,} marks, "
          f"as of {r['as_of']} (generated in {r['generate']['wall_s']:.1f} s)")
    print(f"  {'stage':<10} {'pipeline s':>11} {'baseline s':>11} {'ratio':>7}")
    for stage in STAGES:
        print(f"  {stage:<10} {p['stages_s'][stage]:>11.2f} {b['stages_s'][BASELINE_OF[stage]]:>11.2f} "
              f"{_f(ratio[stage]):>7}   (baseline: {BASELINE_OF[stage]})")
    print(f"  {'archive':<10} {p['stages_s']['archive']:>11.2f}")
    print(f"  {'overhead':<10} {p['stages_s']['overhead']:>11.2f}   (LA views, reports, Dagster)")
    print(f"  {'wall':<10} {p['wall_s']:>11.2f} {b['wall_s']:>11.2f} {_f(ratio['overall']):>7}")
    print(f"  {'cpu':<10} {p['cpu_s']:>11.2f} {b['cpu_s']:>11.2f} {_f(ratio['cpu']):>7}")
    print(f"  marks/s    {_f(p['marks_per_s'], '{:,.0f}'):>11} {_f(b['marks_per_s'], '{:,.0f}'):>11}")
    print(f"  peak RSS   {p['peak_rss_mb']:>9.0f}MB {b['peak_rss_mb']:>9.0f}MB")
    print(f"  processes: {p['processes']} (this one + {p['child_processes']} children, "
          f"{p['python_child_processes']} Python); Dagster runs: {p['dagster_runs']}; "
          f"schools loaded {p['schools_loaded']}, failed {p['schools_failed']}")


def print_growth(rows: list[dict]) -> None:
    for row in rows:
        print(f"\ngrowth {row['from_scale']:g} -> {row['to_scale']:g}: marks x{_f(row['marks_ratio'])}; "
              f"time ratio / marks ratio (1 = linear):")
        for name, g in row["stages"].items():
            print(f"  {name:<20} time x{_f(g['time_ratio']):>7}  per mark {_f(g['per_mark']):>6}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, action="append", required=True,
                        help="1.0 = Norfolk (420 schools, ~116,000 pupils); repeatable")
    parser.add_argument("--as-of", type=date.fromisoformat, default=DEFAULT_AS_OF)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--workdir", type=Path, help="keep the generated LAs here (default: a temporary folder)")
    args = parser.parse_args(argv)

    saved = {key: os.environ.get(key) for key in ENV_KEYS}
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="ncc_bench_") as scratch:
            workdir = args.workdir or Path(scratch)
            for scale in args.scale:
                result = bench_scale(scale, args.as_of, args.seed, workdir)
                print_table(result)
                results.append(result)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    report = {"as_of": args.as_of.isoformat(), "machine": {"cpus": os.cpu_count()}, "results": results,
              "growth": growth(results)}
    if len(results) > 1:
        print_growth(report["growth"])
    if args.out:
        args.out.write_text(json.dumps(report, indent=2, default=str))
        print(f"\nwrote {args.out}")
    return report


if __name__ == "__main__":
    main()
