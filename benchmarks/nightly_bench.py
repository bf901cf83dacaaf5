"""The nightly job at county scale, against the shortest plain script doing the same work (issue 8).

For each ``--scale`` (1.0 = Norfolk: 420 schools, ~116,000 pupils), in a fresh temporary NCC_HOME:

1. generate a synthetic LA with the demo generator (timed on its own; not part of the night);
2. import the pipeline (Dagster and all) and load the definitions (timed on its own as ``imports``: a fixed cost per process)
   and create the Dagster instance's storage (``instance_setup``: once per server, not per night);
3. run the real nightly path, ``run_night(registry, as_of=...)`` (Dagster runs, in this process), and
   measure wall and CPU time (this process + children, the worker included), peak RSS (the largest of
   this process and its children), and the processes started
   (descendants of this process, polled from /proc every 100 ms, plus this process itself);
4. per stage: sum each school's ``audit_log`` ``stage_seconds`` (extract, archive, validate, load,
   views; wall and CPU, wherever they ran: the next schools are prepared in a process or thread pool
   while this one is written, see ``ncc_transfer.prefetch``; a school's views are written in its load's
   transaction, and that write, timed as the ``views_write`` section, counts in views, not load);
   ``overhead`` = the ``ncc_transfer.timing``
   sections the baseline has no counterpart for (Dagster events logged per school, school reports,
   the LA overview, the LA-wide views, Dagster setup) and ``dagster_machinery`` = the Dagster runs'
   time outside the step (run creation with its planned events, run and step events);
   ``overlap`` = stages + overhead - wall, the time saved by preparing schools in the worker;
5. run a BASELINE on the same files: the same parse + load + views with no Dagster and no checks,
   school by school like the pipeline: ``read_school_folder`` (parse), pandas casts of every
   contract column, dropping marks with no date and closure marks (``#``, which the pipeline drops
   too) (cast), an append to one DuckDB table per dataset (load); then, once, in plain SQL
   (views): the absence summary (with age and the DfE-comparable flag from the pupils), the 10-day
   list and the two trigger runs (sickness 15 days, G/N/O 20 days). Not in the baseline: the
   sixth-day exclusion view, the ``ongoing`` flag and the LA-wide views (children missing education,
   pupil movements): they are counted in the pipeline's ``overhead`` (``la_views``);
6. run the INDEPENDENT MINIMAL SCRIPT, ``minimal_baseline.py`` (a copy, unchanged, of the project's
   measuring stick, written without any of the project's code: lxml over every CTF, the marks
   unnested in DuckDB, the absence summary and 10-day list in SQL), as its own process on the same
   files, and report ``night / minimal`` (wall and CPU), its peak memory, the night's processes and
   Dagster events per school. It reads CTFs only, so by default every school of the generated LA
   sends a CTF (``--formats ctf25``); with a mix (``--formats ctf25,csv,ctf25,ctf23``, the demo's) it
   is not run;
7. report marks per second and the pipeline/baseline ratio per stage and overall.

Prints a table per scale (and, with several scales, how each stage grows: time ratio / marks ratio),
and writes JSON with ``--out``. ``--profile FILE`` writes a cProfile of the pipeline's night (the
timings are then those of the profiled run). ``--route`` chooses how schools deliver their data:
``files`` (default), or a vendor route served by the built-in simulator over HTTP on loopback
(``prepare_route``): the report then adds the requests the simulator answered, per second of night;
with ``--latency-ms N`` the simulator plays a real network (each answer waits N ms, each route's request
rate per credential is enforced with 429s) and the night is set against its floor (each credential's
requests, one after another, at the latency or the rate's interval, whichever is longer: their total
over the fetches at once, or the longest credential, whichever is larger).

    uv run python benchmarks/nightly_bench.py --scale 0.1 --scale 0.5 --scale 1 --out bench.json
    uv run python benchmarks/nightly_bench.py --scale 0.1 --route wonde --latency-ms 80
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
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
SECTIONS = ("dagster_setup", "dagster_events", "school_reports", "overview", "la_views")
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
    """Distinct descendants of this process, found by polling /proc/<pid>/task/*/children.

    Cheap (a few small files per poll, not a scan of /proc); processes living less than the
    interval may be missed."""

    outside: set[int] = set()  # children that are not the night's (the vendor simulator's process)

    def __init__(self, interval: float = 0.1):
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

    @staticmethod
    def _children(pid: int) -> list[int]:
        kids: list[int] = []
        try:
            for task in os.scandir(f"/proc/{pid}/task"):
                kids += [int(k) for k in Path(task.path, "children").read_text().split()]
        except OSError:
            pass
        return kids

    def _poll(self) -> None:
        todo = self._children(self.root)
        while todo:
            pid = todo.pop()
            if pid in self.outside:
                continue
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            started = stat[stat.rindex(")") + 2:].split()[19]
            self.seen[(pid, started)] = name
            todo += self._children(pid)

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


def prepare_route(home: Path, route: str, latency_ms: float = 0.0):
    """Make the generated LA's schools deliver their data by ``route``; returns a ``stop()`` callable
    that returns the route's counters for the report.

    ``files``: the demo writes every school's landing folder and registry; nothing to do. A vendor
    route (``wonde``, ``xporter``, ...): the built-in simulator serves every active school's landing
    folder in that vendor's API shape over HTTP on loopback, and the registry is rewritten so that
    every active school uses the route (synthetic credentials in the environment, no rate limit: as
    for the demo). The night then fetches each school over HTTP; ``stop()`` shuts the simulator and
    returns the requests it answered. The baseline still parses the landing folders, so the extract
    ratio is what the HTTP route costs over reading files.

    With ``latency_ms``, the simulator plays a real network (``ncc-transfer simulator --latency-ms N
    --vendor-rate-limits``, in its own process: a vendor's work is not the night's, and it must not
    take the night's interpreter): every answer waits that long and each route's request rate per
    credential (``RouteSpec.rate_per_second``) is enforced with 429s; the schools then keep their
    connector's rate limit (not 0), and ``stop()`` also returns the night's floor: each credential's
    requests take the latency or the rate's interval each, whichever is longer, one after another;
    the night cannot end sooner than the total of that over the fetches running at once, nor than its
    longest credential. Without a latency the simulator runs in a thread of this process.
    """
    if route == "files":
        return lambda: {}
    import dataclasses

    import yaml

    from ncc_transfer.demo.routes import demo_settings
    from ncc_transfer.registry import load_registry
    from ncc_transfer.prefetch import FetchLimits
    from ncc_transfer.simulator import Simulator, create_app, route_rates, run_in_thread
    from ncc_transfer.simulator.app import register_school

    registry_path = home / "schools.yaml"
    document = yaml.safe_load(registry_path.read_text(encoding="utf-8"))
    limits = FetchLimits.from_env()
    # The simulator keeps its recent renderings (a school's records in the vendor's shape, and each
    # query's selection of them); schools fetched at once each need theirs, or every page is rebuilt.
    renderings = 4 * (limits.threads + 1)
    sim = None
    if latency_ms:
        port = _free_port()
        root = f"http://127.0.0.1:{port}"
    else:
        sim = Simulator()
        sim.cache.limit = max(sim.cache.limit, renderings)
        root, stop = run_in_thread(create_app(sim))
    by_laestab = {school.laestab: school for school in load_registry(registry_path).active_schools}
    for entry in document["schools"]:
        school = by_laestab.get(str(entry["laestab"]))
        if school is None:
            continue
        settings, secrets = demo_settings(route, school.laestab, root)
        if latency_ms:
            settings.pop("rate_per_second", None)  # the connector's own limit, under the vendor's
        for name, value in secrets.items():
            os.environ.setdefault(name, value)
        entry["mis"], entry["source"] = route, settings
        if sim is not None:
            register_school(sim, dataclasses.replace(school, mis=route, source=settings), home, os.environ)
    registry_path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    if sim is not None:
        def finish() -> dict:
            stop()
            return {"route": route, "requests": len(sim.log), "latency_ms": latency_ms,
                    "requests_by_endpoint": dict(Counter(hit.endpoint for hit in sim.log).most_common(12))}
        return finish

    vendor = subprocess.Popen([sys.executable, "-m", "ncc_transfer.cli", "simulator", "--port", str(port),
                               "--latency-ms", f"{latency_ms:g}", "--vendor-rate-limits", "--cache", str(renderings)],
                              env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ProcessCounter.outside.add(vendor.pid)
    _wait_for(root, vendor)
    rates = route_rates()

    def finish_network() -> dict:
        counts = _counts(root)
        cpu = _cpu_seconds(vendor.pid)
        vendor.terminate()
        vendor.wait(timeout=30)
        # A credential's requests follow one another (a fetch pages through one endpoint after
        # another), each taking the latency or the rate's interval, whichever is longer; with
        # ``at_once`` fetches running together the night cannot end sooner than their total over
        # ``at_once``, nor than its longest credential.
        at_once = max(1, limits.cap(route))
        each = max(latency_ms / 1000, 1 / rates[route] if rates.get(route) else 0.0)
        per_credential = [n * each for n in counts["per_credential"].get(route, [])]
        by_all = sum(per_credential) / at_once
        by_longest = max(per_credential, default=0.0)
        requests = counts["requests"].get(route, 0)
        return {"route": route, "requests": requests, "latency_ms": latency_ms, "simulator_cpu_s": cpu,
                "requests_over_the_network": requests, "refused_429": counts["refused"].get(route, 0),
                "fetches_at_once": at_once, "rate_per_second": rates.get(route), "credentials": len(per_credential),
                "seconds_per_request": each, "floor_s": max(by_all, by_longest),
                "floor_by_all_s": by_all, "floor_by_longest_s": by_longest}

    return finish_network


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _counts(root: str) -> dict:
    import urllib.request

    from ncc_transfer.simulator.network import COUNTS_PATH

    with urllib.request.urlopen(root + COUNTS_PATH, timeout=30) as answer:
        return json.loads(answer.read())


def _wait_for(root: str, vendor: subprocess.Popen, timeout: float = 600) -> None:
    """Until the simulator's process answers (it reads every school's landing folder first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if vendor.poll() is not None:
            raise RuntimeError(f"the simulator exited: {vendor.stderr.read().decode(errors='replace')[-2000:]}")
        try:
            _counts(root)
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("the simulator did not answer in time")


def _cpu_seconds(pid: int) -> float:
    """A running process's user and system CPU seconds (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------------ pipeline
def import_pipeline() -> float:
    """Import what the night uses (Dagster included) and load the code location (the definitions), as
    a Dagster code server or run worker does once when it starts; returns the seconds it took."""
    started = time.perf_counter()
    import matplotlib.figure  # noqa: F401 - the LA overview's chart (imported when first drawn)

    import ncc_transfer.cli  # noqa: F401
    import ncc_transfer.definitions

    if callable(getattr(ncc_transfer.definitions, "defs", None)):  # older checkouts: loaded at import
        ncc_transfer.definitions.defs()
    return time.perf_counter() - started


def create_instance() -> float:
    """Create the Dagster instance's storage (a one-off on a new server); returns the seconds it took."""
    from ncc_transfer.cli import dagster_instance

    started = time.perf_counter()
    dagster_instance()
    return time.perf_counter() - started


class _NoTiming:  # an older checkout without ncc_transfer.timing: no sections to report
    @staticmethod
    def reset() -> None:
        pass

    @staticmethod
    def totals() -> dict:
        return {}


def run_pipeline(as_of: date, profile: Path | None = None) -> dict:
    try:
        from ncc_transfer import timing
    except ImportError:
        timing = _NoTiming()
    from ncc_transfer.cli import dagster_instance, run_night
    from ncc_transfer.config import schools_file, warehouse_url
    from ncc_transfer.registry import load_registry
    from ncc_transfer.warehouse import open_warehouse

    registry = load_registry(schools_file())
    timing.reset()
    _reset_peak_rss()
    before = _rusage()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    with ProcessCounter() as procs:
        result, wall, cpu = _timed(lambda: run_night(registry, as_of=as_of))
    if profiler:
        profiler.disable()
        profiler.dump_stats(str(profile))
    peak_here, peak_children = _peak_rss_mb(), _rusage()["children_maxrss_mb"]
    peak = max(peak_here, peak_children)
    sections = timing.totals()

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
    stages_cpu = dict.fromkeys(stages, 0.0)
    for detail in details:
        recorded = dict(json.loads(detail).get("stage_seconds") or {})
        for stage, seconds in (recorded.pop("cpu", None) or {}).items():
            stages_cpu[stage] = stages_cpu.get(stage, 0.0) + float(seconds)
        for stage, seconds in recorded.items():
            stages[stage] = stages.get(stage, 0.0) + float(seconds)
    # A school's views are written in its load's transaction: that write is timed apart
    # (``views_write``) and counted in views, not load, to compare with the baseline's views.
    written = sections.get("views_write", {})
    for totals, kind in ((stages, "wall_s"), (stages_cpu, "cpu_s")):
        totals["load"] -= written.get(kind, 0.0)
        totals["views"] += written.get(kind, 0.0)
    overhead = {name: sections.get(name, {}).get("wall_s", 0.0) for name in SECTIONS}
    runs, step = (sections.get(name, {}).get("wall_s", 0.0) for name in ("dagster_runs", "step"))
    # Run creation (planned events), run and step events: the runs' time outside their steps' own work
    # (the school step, the reports, the overview, the LA-wide views, each listed above).
    in_steps = step + sum(overhead[name] for name in ("school_reports", "overview", "la_views"))
    overhead["dagster_machinery"] = max(0.0, runs - in_steps)
    if not sections:  # an older checkout without ncc_transfer.timing: what the stages leave of the wall
        overhead = {"unattributed": max(0.0, wall - sum(stages.values()))}
    stages["overhead"] = sum(overhead.values())
    # The per-school stages of the next schools run in a pool while this one is written
    # (``ncc_transfer.prefetch``): the night's wall is less than the sum of its parts by the overlap.
    stages["overlap"] = max(0.0, sum(stages.values()) - wall)

    instance = dagster_instance()
    events: Counter = Counter()
    for run_id in result.run_ids:
        events.update(str(e.dagster_event.event_type_value) if e.dagster_event else "log"
                      for e in instance.all_logs(run_id))
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak, "peak_rss_this_process_mb": peak_here,
            "peak_rss_children_mb": peak_children,
            "processes": 1 + len(procs.seen), "child_processes": len(procs.seen),
            "python_child_processes": procs.python_children,
            "child_process_names": sorted(procs.seen.values()), "dagster_runs": len(result.run_ids),
            "dagster_events": dict(events.most_common()),
            "schools_loaded": result.loaded, "schools_failed": result.failed, "marks": marks, "pupils": pupils,
            "stages_s": stages, "stages_cpu_s": stages_cpu, "overhead_s": overhead, "sections": sections,
            "cpu_before_s": before["cpu"]}


# ------------------------------------------------------------------------------------ baseline
def run_baseline(home: Path, as_of: date) -> dict:
    """The shortest plain script: per school parse, cast, append to DuckDB; then the views in SQL."""
    import duckdb
    import pandas as pd

    from ncc_transfer.canonical import DATE_COLUMNS, INTEGER_COLUMNS, RAW_COLUMNS
    from ncc_transfer.files_route.folder import read_school_folder
    from ncc_transfer.reference.attendance_codes import CATEGORIES_2024
    from ncc_transfer.registry import load_registry
    from ncc_transfer.rules.calendar import academic_year_start

    registry = load_registry(home / "schools.yaml")
    schools = list(registry.active_schools)  # every school, from its landing folder, whatever its route
    _reset_peak_rss()
    times = dict.fromkeys(("parse", "cast", "load", "views"), 0.0)
    cpus = dict(times)

    def cast(raw: dict, school) -> dict:
        out = {}
        for table, frame in raw.items():
            typed = {"school_key": school.key, "laestab": school.laestab}
            for column in RAW_COLUMNS[table]:
                values = frame[column] if column in frame.columns else None
                if column in DATE_COLUMNS[table]:
                    values = pd.to_datetime(values, format="ISO8601", errors="coerce")
                elif column in INTEGER_COLUMNS[table]:
                    values = pd.to_numeric(values, errors="coerce")
                typed[column] = values
            out[table] = pd.DataFrame(typed, index=frame.index)
        attendance = out["attendance"]
        out["attendance"] = attendance[attendance["date"].notna() & (attendance["code"] != "#")]  # "#": closed
        return out

    path = home / "baseline.duckdb"
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    for table, columns in RAW_COLUMNS.items():
        types = {c: "DATE" if c in DATE_COLUMNS[table] else "DOUBLE" if c in INTEGER_COLUMNS[table] else "VARCHAR"
                 for c in columns}
        con.execute(f"CREATE TABLE {table} (school_key VARCHAR, laestab VARCHAR, "
                    + ", ".join(f"{c} {t}" for c, t in types.items()) + ")")

    def load(tables: dict) -> None:
        for name, frame in tables.items():
            con.register("frame", frame)
            con.execute(f"INSERT INTO {name} SELECT * FROM frame")
            con.unregister("frame")

    codes = pd.DataFrame({"code": list(CATEGORIES_2024), "category": list(CATEGORIES_2024.values())})

    def runs_sql(table: str, codes_in: tuple[str, ...], min_days: int, label: str = "") -> str:
        in_set = ", ".join(f"'{c}'" for c in codes_in)
        return f"""
            CREATE OR REPLACE TABLE {table} AS
            WITH days AS (
                SELECT a.school_key, a.upn, a.date,
                       bool_and(a.code IN ({in_set})) FILTER (WHERE c.category IN
                           ('present','aea','authorised','unauthorised')) AS in_set,
                       bool_or(a.code = 'D') AS dual
                FROM attendance a LEFT JOIN codes c USING (code)
                WHERE a.date BETWEEN $start AND $as_of
                GROUP BY ALL),
            counted AS (SELECT *, coalesce(in_set AND NOT dual, false) AS extends FROM days
                        WHERE in_set IS NOT NULL OR dual),
            islands AS (
                SELECT *, row_number() OVER (PARTITION BY school_key, upn ORDER BY date)
                        - row_number() OVER (PARTITION BY school_key, upn, extends ORDER BY date) AS grp
                FROM counted)
            SELECT school_key, upn, {label} min(date) AS first_day, max(date) AS last_day, count(*) AS school_days
            FROM islands WHERE extends GROUP BY ALL HAVING count(*) >= {min_days}"""

    def views():
        con.register("codes_frame", codes)
        con.execute("CREATE OR REPLACE TABLE codes AS SELECT * FROM codes_frame")
        start = academic_year_start(as_of)
        params = {"start": start, "as_of": as_of}
        con.execute("""
            CREATE OR REPLACE TABLE absence_summary AS
            WITH counts AS (
                SELECT a.school_key, a.upn,
                       count(*) FILTER (WHERE c.category IN ('present','aea','authorised','unauthorised')) AS possible,
                       count(*) FILTER (WHERE c.category = 'authorised') AS authorised,
                       count(*) FILTER (WHERE c.category = 'unauthorised') AS unauthorised
                FROM attendance a LEFT JOIN codes c USING (code)
                WHERE a.date BETWEEN $start AND $as_of
                GROUP BY ALL)
            SELECT counts.*, (authorised + unauthorised) / possible AS absence_rate,
                   (authorised + unauthorised) * 10 >= possible AS persistent_absence,
                   (authorised + unauthorised) * 2 >= possible AS severe_absence,
                   year($start) - year(p.dob) - (month(p.dob) > 8)::INTEGER AS age_at_31_august,
                   coalesce(age_at_31_august BETWEEN 5 AND 15 AND p.enrol_status IN ('C', 'M'), false) AS dfe_comparable
            FROM counts LEFT JOIN pupils p USING (school_key, upn)
            WHERE possible > 0""", params)
        con.execute(runs_sql("ten_day_absence", ("G", "N", "O", "U"), 10), params)
        con.execute(runs_sql("sickness_runs", ("I",), 15, "'sickness_15' AS trigger,"), params)
        con.execute(runs_sql("gno_runs", ("G", "N", "O"), 20, "'gno_20' AS trigger,"), params)
        con.execute("CREATE OR REPLACE TABLE absence_triggers AS "
                    "SELECT * FROM sickness_runs UNION ALL SELECT * FROM gno_runs")
        return {v: con.execute(f"SELECT count(*) FROM {v}").fetchall()[0][0]
                for v in ("absence_summary", "ten_day_absence", "absence_triggers")}

    def step(stage: str, fn):
        value, wall, cpu = _timed(fn)
        times[stage] += wall
        cpus[stage] += cpu
        return value

    try:
        for school in schools:
            raw = step("parse", lambda: read_school_folder(home / "landing" / school.laestab, school.laestab).tables)
            tables = step("cast", lambda: cast(raw, school))
            step("load", lambda: load(tables))
        marks = con.execute("SELECT count(*) FROM attendance").fetchall()[0][0]
        rows = step("views", views)
    finally:
        con.close()
    return {"wall_s": sum(times.values()), "cpu_s": sum(cpus.values()), "stages_s": times, "stages_cpu_s": cpus,
            "peak_rss_mb": _peak_rss_mb(), "marks": marks, "view_rows": rows}


# ------------------------------------------------------------------------------------ minimal script
MINIMAL_SCRIPT = Path(__file__).with_name("minimal_baseline.py")


def run_minimal(home: Path, as_of: date) -> dict:
    """The independent measuring stick (``minimal_baseline.py``, no code of ours): lxml over every CTF
    under ``landing/``, the marks unnested in DuckDB, the absence summary and 10-day list in SQL. Run
    as its own process on the same files; its wall and CPU from ``os.wait4``."""
    out = home / "minimal.duckdb"
    started = time.perf_counter()
    # Run as __main__ by a two-line wrapper that then prints the script's own peak memory (VmHWM, of
    # the process image after exec: ``ru_maxrss`` would count this big process's pages at the fork).
    wrapper = ("import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__'); "
               "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].strip())")
    proc = subprocess.Popen([sys.executable, "-c", wrapper, str(MINIMAL_SCRIPT), str(home), str(out), as_of.isoformat()],
                            stdout=subprocess.PIPE, text=True)
    printed = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.stdout.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{MINIMAL_SCRIPT.name} failed (exit {os.waitstatus_to_exitcode(status)})")
    stages = {name: float(seconds) for name, seconds in re.findall(r"(parse|expand|load|views) ([0-9.]+)s", printed)}
    marks = re.search(r"marks (\d+)", printed)
    peak = re.search(r"VmHWM:\s+(\d+) kB", printed)
    out.unlink(missing_ok=True)
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": int(peak.group(1)) / 1024 if peak else None,
            "stages_s": stages, "marks": int(marks.group(1)) if marks else None, "printed": printed.strip()}


# ------------------------------------------------------------------------------------ one scale
def bench_scale(scale: float, as_of: date, seed: int, workdir: Path, route: str = "files",
                profile: Path | None = None, formats: tuple[str, ...] = ("ctf25",), latency_ms: float = 0.0) -> dict:
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
                                                           pupils_scale=pupils_scale, formats=formats))
    imports = import_pipeline()
    instance_setup = create_instance()
    stop_route = prepare_route(home, route, latency_ms)
    try:
        pipeline = run_pipeline(as_of, profile)
    finally:
        route_counters = stop_route()
    if route_counters.get("requests"):
        route_counters["requests_per_s_of_night"] = route_counters["requests"] / pipeline["wall_s"]
    if route_counters.get("floor_s"):
        route_counters["night_over_floor"] = pipeline["wall_s"] / route_counters["floor_s"]
    pipeline.pop("cpu_before_s")
    baseline = run_baseline(home, as_of)
    # The independent script reads CTFs only: its ratio means something when every school sent one.
    minimal = run_minimal(home, as_of) if set(formats) <= {"ctf25", "ctf23"} else None

    ratios = {stage: _ratio(pipeline["stages_s"][stage], baseline["stages_s"][BASELINE_OF[stage]]) for stage in STAGES}
    ratios["overall"] = _ratio(pipeline["wall_s"], baseline["wall_s"])
    ratios["cpu"] = _ratio(pipeline["cpu_s"], baseline["cpu_s"])
    ratios["night_over_minimal"] = _ratio(pipeline["wall_s"], minimal["wall_s"]) if minimal else None
    ratios["night_over_minimal_cpu"] = _ratio(pipeline["cpu_s"], minimal["cpu_s"]) if minimal else None
    for who in (pipeline, baseline):
        who["marks_per_s"] = who["marks"] / who["wall_s"] if who["wall_s"] else None
    pipeline["marks_per_s_by_stage"] = {s: _ratio(pipeline["marks"], pipeline["stages_s"][s]) for s in STAGES}
    baseline["marks_per_s_by_stage"] = {s: _ratio(baseline["marks"], baseline["stages_s"][s]) for s in baseline["stages_s"]}
    return {"scale": scale, "schools": schools, "pupils_scale": round(pupils_scale, 4), "as_of": as_of.isoformat(),
            "route": route, "formats": list(formats), "route_counters": route_counters, "imports_s": imports,
            "instance_setup_s": instance_setup,
            "generate": {"wall_s": gen_wall, "cpu_s": gen_cpu, "seconds_reported": demo.elapsed_seconds},
            "pipeline": pipeline, "baseline": baseline, "minimal": minimal, "ratios": ratios}


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
        pairs += [(f"overhead.{s}", small["pipeline"]["overhead_s"][s], big["pipeline"]["overhead_s"][s])
                  for s in small["pipeline"]["overhead_s"]]
        pairs += [("pipeline.wall", small["pipeline"]["wall_s"], big["pipeline"]["wall_s"])]
        pairs += [(f"baseline.{s}", small["baseline"]["stages_s"][s], big["baseline"]["stages_s"][s])
                  for s in ("parse", "cast", "load", "views")]
        pairs += [("baseline.wall", small["baseline"]["wall_s"], big["baseline"]["wall_s"])]
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
          f"as of {r['as_of']}, route {r['route']} (generated in {r['generate']['wall_s']:.1f} s; "
          f"imports {r['imports_s']:.1f} s and a new Dagster instance {r['instance_setup_s']:.1f} s, not in the night)")
    print(f"  {'stage':<18} {'pipeline s':>10} {'cpu s':>7} {'marks/s':>10} {'baseline s':>10} {'cpu s':>7} "
          f"{'marks/s':>10} {'ratio':>6}")
    for stage in STAGES:
        other = BASELINE_OF[stage]
        print(f"  {stage:<18} {p['stages_s'][stage]:>10.2f} {p['stages_cpu_s'].get(stage, 0):>7.2f} "
              f"{_f(p['marks_per_s_by_stage'][stage], '{:,.0f}'):>10} {b['stages_s'][other]:>10.2f} "
              f"{b['stages_cpu_s'][other]:>7.2f} {_f(b['marks_per_s_by_stage'][other], '{:,.0f}'):>10} "
              f"{_f(ratio[stage]):>6}   (baseline: {other})")
    print(f"  {'archive':<18} {p['stages_s']['archive']:>10.2f} {p['stages_cpu_s'].get('archive', 0):>7.2f}")
    print(f"  {'overhead':<18} {p['stages_s']['overhead']:>10.2f}   (what the baseline does not do:)")
    for name, seconds in p["overhead_s"].items():
        print(f"    {name:<16} {seconds:>10.2f}")
    print(f"  {'- overlap':<18} {p['stages_s']['overlap']:>10.2f}   (next school prepared in the worker meanwhile)")
    print(f"  {'wall':<18} {p['wall_s']:>10.2f} {'':>7} {_f(p['marks_per_s'], '{:,.0f}'):>10} {b['wall_s']:>10.2f} "
          f"{'':>7} {_f(b['marks_per_s'], '{:,.0f}'):>10} {_f(ratio['overall']):>6}")
    print(f"  {'cpu':<18} {p['cpu_s']:>10.2f} {'':>7} {'':>10} {b['cpu_s']:>10.2f} {'':>7} {'':>10} "
          f"{_f(ratio['cpu']):>6}")
    print(f"  peak RSS   {p['peak_rss_mb']:>9.0f}MB {b['peak_rss_mb']:>9.0f}MB")
    print(f"  processes: {p['processes']} (this one + {p['child_processes']} children, "
          f"{p['python_child_processes']} Python); Dagster runs: {p['dagster_runs']}, events: "
          f"{sum(p['dagster_events'].values()):,}; schools loaded {p['schools_loaded']}, failed {p['schools_failed']}")
    m = r.get("minimal")
    if m:
        events = sum(p["dagster_events"].values())
        print(f"  independent minimal script ({MINIMAL_SCRIPT.name}, CTFs only): {m['wall_s']:.2f} s wall, "
              f"{m['cpu_s']:.2f} s CPU, {m['peak_rss_mb']:.0f} MB, {m['marks']:,} marks")
        print(f"  NIGHT / MINIMAL: {_f(ratio['night_over_minimal'])} (wall), {_f(ratio['night_over_minimal_cpu'])} "
              f"(CPU); peak RSS {p['peak_rss_mb']:.0f} / {m['peak_rss_mb']:.0f} MB; {p['processes']} processes; "
              f"{events / max(1, r['schools']):.1f} Dagster events per school")
    counters = r.get("route_counters") or {}
    if counters.get("requests"):
        print(f"  {counters['route']} simulator: {counters['requests']:,} requests answered, "
              f"{counters['requests_per_s_of_night']:,.1f} per second of night"
              + (f"; in its own process, {counters['simulator_cpu_s']:.1f} s CPU (not the night's)"
                 if "simulator_cpu_s" in counters else ""))
    if counters.get("floor_s"):
        print(f"  network: {counters['latency_ms']:g} ms per answer, {counters['rate_per_second'] or 0:g} requests/s "
              f"per credential ({counters['credentials']} credentials), {counters['fetches_at_once']} fetch(es) at "
              f"once, {counters['refused_429']} answered 429; floor {counters['floor_s']:.1f} s (all "
              f"{counters['floor_by_all_s']:.1f} s, longest credential {counters['floor_by_longest_s']:.1f} s); "
              f"NIGHT / FLOOR: {counters['night_over_floor']:.2f}")


def print_growth(rows: list[dict]) -> None:
    for row in rows:
        print(f"\ngrowth {row['from_scale']:g} -> {row['to_scale']:g}: marks x{_f(row['marks_ratio'])}; "
              f"time ratio / marks ratio (1 = linear):")
        for name, g in row["stages"].items():
            print(f"  {name:<28} time x{_f(g['time_ratio']):>7}  per mark {_f(g['per_mark']):>6}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, action="append", required=True,
                        help="1.0 = Norfolk (420 schools, ~116,000 pupils); repeatable")
    parser.add_argument("--as-of", type=date.fromisoformat, default=DEFAULT_AS_OF)
    parser.add_argument("--seed", type=int, default=2026)
    from ncc_transfer.simulator.app import available_profiles

    parser.add_argument("--route", choices=["files", *available_profiles()], default="files",
                        help="how the schools deliver their data (a vendor route: through the simulator)")
    parser.add_argument("--formats", default="ctf25",
                        help="the schools' file formats, comma-separated, taken in turn (ctf25, ctf23, csv; "
                             "default ctf25: every school sends a CTF, which the independent minimal script "
                             "needs; ctf25,csv,ctf25,ctf23 is the demo's mix, compared with the plain baseline only)")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="a vendor route over a real network: every answer waits this long, and each route's "
                             "request rate per credential is enforced (429); reports the night against its floor")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the pipeline's night here (last scale)")
    parser.add_argument("--workdir", type=Path, help="keep the generated LAs here (default: a temporary folder)")
    args = parser.parse_args(argv)

    from ncc_transfer.config import restored_environment

    results = []
    with restored_environment(*ENV_KEYS), tempfile.TemporaryDirectory(prefix="ncc_bench_") as scratch:
        workdir = args.workdir or Path(scratch)
        for scale in args.scale:
            result = bench_scale(scale, args.as_of, args.seed, workdir, args.route, args.profile,
                                 tuple(f.strip() for f in args.formats.split(",") if f.strip()), args.latency_ms)
            print_table(result)
            results.append(result)
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
