"""The ``ncc-transfer`` command (README, "Command line").

``run``  the nightly job for the registry's schools, recorded in the Dagster instance.
         Exit 0 when every school loaded, 1 when any failed (the others still load), 2 on a usage
         or registry error.
``demo`` builds a synthetic LA under $NCC_HOME (schools on every MIS route, the vendor ones served by
         the built-in simulator, which it starts), runs the nightly job once, prints a summary.
``simulator`` serves the registry's vendor-route schools in each vendor's API shape, alone (for the
         Dagster UI on a demo home, or for people building connectors).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

EXIT_OK, EXIT_SCHOOL_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_NIGHT_FAILED = 1  # the night could not run or stopped: warehouse unusable, disk full, another night running
EXIT_INTERRUPTED = 130  # SIGTERM or SIGINT: the run is marked failed
LOCAL_DAGSTER_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"
# The command line prints one line per school; the full event log is in the Dagster instance.
QUIET_LOGGERS = {"console": {"config": {"log_level": "CRITICAL"}}}


class UsageError(Exception):
    """A problem with the command line or the registry: exit 2, nothing loaded."""


@dataclass
class NightResult:
    lines: list[str]
    run_ids: list[str]
    failed: int
    loaded: int
    skipped: int
    seconds: float
    stopped: str | None = None  # why the whole night stopped early (warehouse lost, disk full)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from .config import ncc_home
    from .demo.routes import load_demo_secrets
    from .files_at_rest import protect_process

    previous_umask = protect_process()  # files 0o600, folders 0o700 (files_at_rest)
    load_demo_secrets(ncc_home())  # a demo home's synthetic vendor credentials (never a production home)
    from .night_guard import NightBusy
    from .warehouse import DiskFull, WarehouseUnavailable

    try:
        return args.handler(args)
    except UsageError as exc:
        print(f"ncc-transfer: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (WarehouseUnavailable, DiskFull, NightBusy) as exc:  # one line, no traceback (docs/hardening.md)
        print(f"ncc-transfer: {exc}", file=sys.stderr)
        return EXIT_NIGHT_FAILED
    finally:
        os.umask(previous_umask)  # the process ends here; a caller embedding main (tests) gets its own back


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ncc-transfer", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the nightly job for the registry's schools")
    run.add_argument("--school", action="append", default=[], metavar="KEY",
                     help="only this school partition (<laestab>-<mis>); repeatable")
    run.add_argument("--as-of", type=_iso_date, default=None, metavar="YYYY-MM-DD",
                     help="the date the night's checks are made for (default today)")
    run.add_argument("--replay", action="store_true",
                     help="load from the encrypted raw archive of the --as-of night instead of the schools' routes")
    run.add_argument("--full-refresh", action="store_true",
                     help="vendor routes that fetch only changes fetch everything tonight")
    run.set_defaults(handler=_cmd_run)

    demo = commands.add_parser("demo", help="build a synthetic LA under $NCC_HOME and run the nightly job on it")
    demo.add_argument("--seed", type=int, default=2026)
    demo.add_argument("--schools", type=int, default=12, help="number of schools (default 12)")
    demo.add_argument("--as-of", type=_iso_date, default=None, metavar="YYYY-MM-DD")
    demo.add_argument("--force", action="store_true", help="replace a registry that is not a demo one")
    demo.add_argument("--pupils-scale", type=float, default=1.0, help=argparse.SUPPRESS)  # tests: smaller schools
    demo.add_argument("--files-only", action="store_true", help="every school on the files route (no simulator)")
    demo.add_argument("--port", type=int, default=None,
                      help=f"the simulator's port (default $NCC_SIMULATOR_PORT or 8765; a free one if taken)")
    demo.set_defaults(handler=_cmd_demo)

    simulator = commands.add_parser("simulator", help="serve the registry's vendor-route schools in each "
                                                      "vendor's API shape (Ctrl-C stops it)")
    simulator.add_argument("--host", default="127.0.0.1")
    simulator.add_argument("--port", type=int, default=None, help="default $NCC_SIMULATOR_PORT or 8765")
    simulator.set_defaults(handler=_cmd_simulator)

    report = commands.add_parser("report", help="regenerate a school's validation report and print its path")
    report.add_argument("--school", required=True, metavar="KEY", help="the school partition (<laestab>-<mis>)")
    report.add_argument("--as-of", type=_iso_date, default=None, metavar="YYYY-MM-DD")
    report.add_argument("--email", action="store_true", help="also email it to the school's contact (if set up)")
    report.set_defaults(handler=_cmd_report)

    export = commands.add_parser("export", help="write pseudonymised views for analysts (NCC_PSEUDONYM_KEY)")
    export.add_argument("--out", required=True, type=Path, metavar="DIR")
    export.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    export.add_argument("--as-of", type=_iso_date, default=None, metavar="YYYY-MM-DD",
                        help="only view rows computed for this night (default: what the views hold now)")
    export.add_argument("--k", type=int, default=5, metavar="K",
                        help="k-anonymity of the pupils table: each combination of school, sex, NC year, birth and "
                             "postcode values covers at least K pupils (default 5; see README.txt/manifest.json)")
    export.set_defaults(handler=_cmd_export)

    purge = commands.add_parser("purge", help="delete what the retention schedule says is past its date")
    purge.add_argument("--dry-run", action="store_true", help="show what would be deleted; delete nothing")
    purge.add_argument("--as-of", type=_iso_date, default=None, metavar="YYYY-MM-DD")
    purge.set_defaults(handler=_cmd_purge)

    check = commands.add_parser("check-registry", help="validate the schools registry and list its schools")
    check.set_defaults(handler=_cmd_check_registry)
    return parser


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in the form YYYY-MM-DD") from None


def _load_registry():
    from .config import ncc_home, schools_file
    from .registry import RegistryError, load_registry

    try:
        return load_registry(schools_file(), home=ncc_home())
    except RegistryError as exc:
        raise UsageError(f"registry error: {exc}") from None


def _cmd_check_registry(args: argparse.Namespace) -> int:
    registry = _load_registry()
    print(f"{registry.path}: {registry.la_name} ({registry.la_code}), {len(registry.schools)} schools, "
          f"{len(registry.active_schools)} active")
    inferred = _inferred_final_years() if any(s.final_year is None for s in registry.schools) else {}
    for school in registry.schools:
        if school.final_year is not None:
            final = f"final year {school.final_year} (registry)"
        elif inferred is None:
            final = "final year: inferred when data is loaded"
        elif school.key in inferred:
            final = f"final year {inferred[school.key]} (inferred from the roll)"
        else:
            final = "final year: not known (no NC year 1-14 on its roll yet)"
        print(f"  {school.key:<20} {'active  ' if school.active else 'inactive'} {school.name} - {final}")
    return EXIT_OK


def _inferred_final_years() -> dict[str, int] | None:
    """Final year groups inferred from the warehouse's rolls; None when there is no warehouse to read
    (not created yet, or it cannot be opened now: check-registry never fails for that)."""
    from .config import warehouse_url
    from .views import inferred_final_years
    from .warehouse import open_warehouse

    url = warehouse_url()
    if url.startswith("duckdb:///") and not Path(url[len("duckdb:///"):]).exists():
        return None
    try:
        warehouse = open_warehouse(url)
        try:
            return inferred_final_years(warehouse, date.today())
        finally:
            warehouse.close()
    except Exception:  # noqa: BLE001 - locked, unreachable or unreadable: say inference waits for data
        return None


def _cmd_report(args: argparse.Namespace) -> int:
    from .config import ncc_home, warehouse_url
    from .feedback import school_report, send_now
    from .warehouse import open_warehouse

    registry = _load_registry()
    school = registry.by_key().get(args.school)
    if school is None:
        raise UsageError(f"no school with key {args.school} in {registry.path} (see `ncc-transfer check-registry`)")
    warehouse = open_warehouse(warehouse_url())
    try:
        report = school_report(warehouse, school, la_name=registry.la_name, as_of=args.as_of or date.today(),
                               home=ncc_home())
        if args.email:
            print(send_now(warehouse, school, report, la_name=registry.la_name), file=sys.stderr)
    finally:
        warehouse.close()
    print(report.html_path)
    print(report.csv_path)
    return EXIT_OK


def _cmd_purge(args: argparse.Namespace) -> int:
    from .config import ncc_home, warehouse_url
    from .retention import RetentionConfigError, execute_purge, load_retention
    from .warehouse import open_warehouse

    try:
        config = load_retention()
    except RetentionConfigError as exc:
        raise UsageError(str(exc)) from None
    from .night_guard import night_lock

    with night_lock(ncc_home()):  # not while a night writes (and a night not while a purge deletes)
        instance = dagster_instance()
        warehouse = open_warehouse(warehouse_url())
        try:
            result = execute_purge(config, warehouse=warehouse, home=ncc_home(), instance=instance,
                                   as_of=args.as_of or date.today(), dry_run=args.dry_run, raise_on_failure=False)
        finally:
            warehouse.close()
    print(("Would delete (dry run, nothing deleted):" if args.dry_run else "Deleted:") + f" {result.total:,} in all")
    for line in result.lines():
        print("  " + line)
    return EXIT_OK if not result.failures else EXIT_SCHOOL_FAILED


def _cmd_export(args: argparse.Namespace) -> int:
    from .config import warehouse_url
    from .pseudonymise import PseudonymKeyError, export_views, pseudonym_key_from_env
    from .warehouse import open_warehouse

    if args.k < 1:
        raise UsageError(f"--k must be a whole number of at least 1, not {args.k}")
    try:
        key = pseudonym_key_from_env()
    except PseudonymKeyError as exc:
        raise UsageError(str(exc)) from None
    warehouse = open_warehouse(warehouse_url())
    try:
        written = export_views(warehouse, args.out, key=key, fmt=args.format, as_of=args.as_of, k=args.k)
    finally:
        warehouse.close()
    for name, path in written.items():
        print(f"{name:<28} {path}")
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    registry = _load_registry()
    known = registry.by_key()
    unknown = [k for k in args.school if k not in known]
    if unknown:
        raise UsageError(f"no school with key {', '.join(unknown)} in {registry.path} (see `ncc-transfer check-registry`)")
    if args.replay and args.as_of is None:
        raise UsageError("--replay needs --as-of: the night whose archived extracts to load again")
    from .config import ncc_home, warehouse_url
    from .night_guard import NightInterrupted, fail_orphaned_runs, fail_own_runs, night_lock, signals_interrupt
    from .warehouse import check_warehouse

    with signals_interrupt(), night_lock(ncc_home()):
        check_warehouse(warehouse_url())  # before Dagster is even imported: seconds, not minutes
        instance = dagster_instance()
        for run_id in fail_orphaned_runs(instance):
            print(f"ncc-transfer: marked run {run_id} failed: the process running it had ended", file=sys.stderr)
        try:
            result = run_night(registry, schools=args.school, as_of=args.as_of, replay=args.replay,
                               full_refresh=args.full_refresh, warehouse_checked=True)
        except NightInterrupted as exc:
            failed = fail_own_runs(instance, why=f"stopped by {exc.describe()}")
            print(f"ncc-transfer: stopped by {exc.describe()}; schools loaded before it stay loaded, the school "
                  f"being written was rolled back; run(s) marked failed: {', '.join(failed) or 'see the Dagster UI'}",
                  file=sys.stderr)
            return EXIT_INTERRUPTED
    for line in result.lines:
        print(line)
    print(f"{result.loaded} loaded, {result.failed} failed, {result.skipped} skipped in {result.seconds:.1f} s "
          f"(Dagster run {', '.join(result.run_ids) or 'none'})")
    if result.stopped:
        print(f"ncc-transfer: the night stopped: {result.stopped}", file=sys.stderr)
        return EXIT_NIGHT_FAILED
    return EXIT_SCHOOL_FAILED if result.failed else EXIT_OK


def dagster_instance():
    """The Dagster instance at $DAGSTER_HOME; without one, a persistent instance under $NCC_HOME."""
    import dagster as dg

    from .config import ncc_home
    from .files_at_rest import tighten_homes

    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(ncc_home() / "dagster_home")
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    tighten_homes()  # DAGSTER_HOME may have just been set or made
    settings = home / "dagster.yaml"
    if not settings.exists():  # the embedded default: the repository's dagster.yaml (SQLite storage)
        settings.write_text(LOCAL_DAGSTER_YAML.read_text(encoding="utf-8") if LOCAL_DAGSTER_YAML.exists()
                            else "telemetry:\n  enabled: false\n", encoding="utf-8")
    return dg.DagsterInstance.get()


def run_night(registry, schools: list[str] | None = None, as_of: date | None = None,
              replay: bool = False, full_refresh: bool = False, warehouse_checked: bool = False) -> NightResult:
    """Run the nightly job in this process (one Dagster run per batch) and collect each school's outcome.

    The warehouse is checked first (unless the caller just did): unreachable, no run is created."""
    from .config import warehouse_url
    from .config import schools_per_run
    from .defs.operations.nightly import night_batches, range_tags
    from .defs.schools.partitions import school_partitions, sync_partitions
    from .definitions import defs
    from .night_guard import NightInterrupted, process_tags
    from .warehouse import DiskFull, WarehouseUnavailable, check_warehouse, open_warehouse

    from .timing import section

    started = time.perf_counter()
    if not warehouse_checked:
        check_warehouse(warehouse_url())  # unreachable: stop now, before any run is created
    with section("dagster_setup"):
        instance = dagster_instance()
        sync_partitions(instance, registry)
    keys = list(instance.get_dynamic_partitions(school_partitions.name))
    by_key = registry.by_key()
    wanted = [k for k in keys if k in set(schools)] if schools else keys
    if schools:
        batches = _contiguous_ranges(keys, [k for k in wanted if by_key[k].active])
    else:
        batches = night_batches(keys, registry, schools_per_run())
    definitions = defs()
    night = {"as_of": as_of.isoformat() if as_of else None}
    run_config = {"ops": {"school_extract": {"config": {**night, "replay": replay, "full_refresh": full_refresh}}},
                  "loggers": QUIET_LOGGERS}

    def execute(job_name: str, config: dict, tags: dict | None = None):
        with section("dagster_runs"):  # run creation (planned events), the steps, run events
            result = definitions.resolve_job_def(job_name).execute_in_process(
                instance=instance, tags={**(tags or {}), **process_tags()}, run_config=config, raise_on_error=False)
        if _interrupted(result):
            raise NightInterrupted()
        return result

    # Per batch, the schools' step then their reports; after the last, the LA-wide assets over every
    # school's latest load (docs/asset_graph.md).
    run_ids, stopped = [], None
    for first, last in batches:
        result = execute("nightly", run_config, range_tags(first, last))
        run_ids.append(result.run_id)
        stopped = _night_stopped(result)
        if stopped:
            break  # the warehouse or the disk: the next batch would stop the same way
        execute("school_reports", {"ops": {"school_report": {"config": night}}, "loggers": QUIET_LOGGERS},
                range_tags(first, last))
    if batches and not stopped:
        execute("la_wide", {"ops": {"la_views": {"config": night}, "validation_overview": {"config": night}},
                            "loggers": QUIET_LOGGERS})

    try:
        warehouse = open_warehouse(warehouse_url())
        try:
            outcomes = _outcomes_for_runs(warehouse, run_ids)
        finally:
            warehouse.close()
    except (WarehouseUnavailable, DiskFull):
        if not stopped:
            raise
        outcomes = {}  # the warehouse that stopped the night cannot say more
    lines, failed, loaded, skipped = [], 0, 0, 0
    for key in wanted:
        school = by_key[key]
        if not school.active:
            lines.append(f"{key:<20} skipped  inactive in the registry (active: false)")
            skipped += 1
            continue
        outcome = outcomes.get(key)
        if outcome is None:
            lines.append(f"{key:<20} FAILED   no result recorded: the run stopped early (see the run in the Dagster UI)")
            failed += 1
        elif outcome["outcome"] == "loaded":
            detail = json.loads(outcome["detail"])
            rows = detail.get("rows", {})
            lines.append(f"{key:<20} loaded   {rows.get('pupils', 0):,} pupils, {rows.get('attendance', 0):,} attendance, "
                         f"{rows.get('exclusions', 0):,} exclusions; {detail.get('errors', 0)} errors, "
                         f"{detail.get('warnings', 0)} warnings")
            loaded += 1
        else:
            lines.append(f"{key:<20} FAILED   {outcome['message']}")
            failed += 1
    return NightResult(lines, run_ids, failed, loaded, skipped, time.perf_counter() - started, stopped)


def _step_failures(result):
    return [event.step_failure_data for event in result.all_events if event.is_step_failure]


def _interrupted(result) -> bool:
    """Did Dagster stop the step for SIGTERM/SIGINT (its ``DagsterExecutionInterruptedError``)?"""
    return any(getattr(data.error_source, "name", "") == "INTERRUPT" for data in _step_failures(result))


def _night_stopped(result) -> str | None:
    """The step's reason for stopping the whole night (``NIGHT_STOPPED`` metadata), if it did."""
    from .defs.schools.assets import NIGHT_STOPPED

    for data in _step_failures(result):
        entry = (data.user_failure_data.metadata or {}).get(NIGHT_STOPPED) if data.user_failure_data else None
        if entry is not None:
            return str(getattr(entry, "value", entry))
    return None


def _contiguous_ranges(keys: list[str], wanted: list[str]) -> list[tuple[str, str]]:
    """Split the wanted keys into ranges of neighbours in partition order."""
    chosen = set(wanted)
    ranges, first, last = [], None, None
    for key in keys:
        if key in chosen:
            first = first or key
            last = key
        elif first is not None:
            ranges.append((first, last))
            first = last = None
    if first is not None:
        ranges.append((first, last))
    return ranges


def _outcomes_for_runs(warehouse, run_ids: list[str]) -> dict[str, dict]:
    if not run_ids:
        return {}
    placeholders = ", ".join("?" for _ in run_ids)
    rows = warehouse.read(
        f"SELECT school_key, outcome, detail, message FROM audit_log WHERE event IN ('extraction', 'replay') "
        f"AND run_id IN ({placeholders}) ORDER BY logged_at", run_ids)
    return {row["school_key"]: row for row in rows.to_dict("records")}


def _cmd_demo(args: argparse.Namespace) -> int:
    import shutil

    from .config import ncc_home
    from .demo.generator import build_demo_la
    from .demo.routes import load_demo_secrets
    from .summary import print_demo_summary

    started = time.perf_counter()
    home = ncc_home()
    registry_file = home / "schools.yaml"
    if registry_file.exists() and not (home / "demo_manifest.json").exists() and not args.force:
        raise UsageError(f"{registry_file} exists and is not a demo registry; use another NCC_HOME or --force")
    os.environ.pop("NCC_SCHOOLS_FILE", None)
    stop = None
    simulator_url = None
    if not args.files_only:
        from .simulator import Simulator, create_app

        sim = Simulator()
        simulator_url, stop = _start_simulator(create_app(sim), "127.0.0.1", args.port, fallback=True)
    try:
        print(f"Building the demo LA in {home} ...")
        shutil.rmtree(home / "state", ignore_errors=True)  # extract state of an earlier demo LA
        demo = build_demo_la(home, seed=args.seed, schools=args.schools, as_of=args.as_of,
                             pupils_scale=args.pupils_scale, simulator_url=simulator_url)
        load_demo_secrets(home)
        registry = _load_registry()
        if stop is not None:
            from .connectors.routes import ROUTES
            from .simulator import register_school

            for school in registry.active_schools:
                if ROUTES[school.mis].simulator:
                    register_school(sim, school, home, os.environ)
            routes = sorted({s.mis for s in registry.active_schools})
            print(f"Simulator serving {len(sim.schools)} vendor routes at {simulator_url} "
                  f"(schools on: {', '.join(routes)})")
        print(f"Running the nightly job for {len(registry.active_schools)} active schools ...")
        result = run_night(registry, as_of=demo.as_of)
    finally:
        if stop is not None:
            stop()
    for line in result.lines:
        print("  " + line)
    print_demo_summary(demo, result, seconds=time.perf_counter() - started)
    return EXIT_OK if not result.failed else EXIT_SCHOOL_FAILED


def _simulator_port(port: int | None) -> int:
    from .demo.routes import DEFAULT_SIMULATOR_PORT

    return port if port is not None else int(os.environ.get("NCC_SIMULATOR_PORT") or DEFAULT_SIMULATOR_PORT)


def _start_simulator(app, host: str, port: int | None, *, fallback: bool):
    """Serve ``app`` in a thread on ``port`` (or, with ``fallback``, a free port if it is taken)."""
    from .simulator import run_in_thread

    try:
        return run_in_thread(app, host, _simulator_port(port))
    except RuntimeError:
        if not fallback:
            raise UsageError(f"the simulator could not listen on {host}:{_simulator_port(port)} (in use?)") from None
        return run_in_thread(app, host, 0)


def _cmd_simulator(args: argparse.Namespace) -> int:
    import uvicorn

    from .config import ncc_home
    from .connectors.routes import ROUTES
    from .simulator import create_app, simulator_for_registry

    registry = _load_registry()
    home = ncc_home()
    try:
        sim = simulator_for_registry(registry, home, os.environ)
    except KeyError:  # the key is a variable's name, as written in the registry: not quoted
        unset = [f"{school.key}: source.{setting}" for school in registry.active_schools
                 for setting, name in sorted(school.source.items())
                 if setting in ROUTES[school.mis].secrets and str(name) not in os.environ]
        raise UsageError("a secret the registry names is not set in the environment: the variable named in "
                         + ("; ".join(unset) or "a source.*_env setting") + " is not set") from None
    port = _simulator_port(args.port)
    print(f"ncc-transfer simulator on http://{args.host}:{port}/<route> (Ctrl-C stops it)")
    for route, schools in sorted(sim.schools.items()):
        print(f"  /{route:<12} {len(schools)} school(s)")
    uvicorn.run(create_app(sim), host=args.host, port=port, log_level="warning", access_log=False)
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
