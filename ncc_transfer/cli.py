"""The ``ncc-transfer`` command (README, "Command line"; ``ncc-transfer --help`` gives the commands,
exit codes and main environment variables).

``run``  the nightly job for the registry's schools, recorded in the Dagster instance.
         Exit 0 when every school loaded, 1 when any failed (the others still load), 2 on a usage
         or registry error.
``demo`` builds a synthetic LA under $NCC_HOME (schools on every MIS route, the vendor ones served by
         the built-in simulator, which it starts), runs the nightly job once, prints a summary.
``simulator`` serves the registry's vendor-route schools in each vendor's API shape, alone (for the
         Dagster UI on a demo home, or for people building connectors).
``pack`` writes a school's termly attendance targeting support pack, the LA page, or all of them (docs/targeting_pack.md);
         ``reference-refresh`` rebuilds the national attendance figures from a downloaded DfE file.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import date
from pathlib import Path

from .night import NightResult, dagster_instance, outcomes_for_runs, run_night

EXIT_OK, EXIT_SCHOOL_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_NIGHT_FAILED = 1  # the night could not run or stopped: warehouse unusable, disk full, another night running
EXIT_INTERRUPTED = 130  # SIGTERM or SIGINT: the run is marked failed

# The tests and the benchmark import the night runner from here too (``NightResult``, and
# ``outcomes_for_runs`` by its name from before ``night`` held it).
_outcomes_for_runs = outcomes_for_runs


class UsageError(Exception):
    """A problem with the command line or the registry: exit 2, nothing loaded."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from .night_guard import StopSignalInCleanup

    for handler in logging.getLogger().handlers:
        handler.addFilter(StopSignalInCleanup())
    from .config import load_env_file, ncc_home
    from .files_at_rest import protect_process

    previous_umask = protect_process()  # files 0o600, folders 0o700 (files_at_rest)
    load_env_file(ncc_home())  # a demo home's synthetic vendor credentials (never a production home)
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


DESCRIPTION = """\
Collect school MIS data for the local authority, one school at a time: the nightly job
(run through Dagster and recorded in its instance), a synthetic demo LA, the vendor simulator,
and the school reports, attendance targeting packs, analyst export, retention purge and registry
check around them."""

EPILOG = f"""\
exit codes:
  {EXIT_OK}    done: every school loaded (run), or the command did what it was asked
  {EXIT_SCHOOL_FAILED}    run: at least one school failed (a failed school keeps its previous load;
       the rest of the night goes on), or the night could not run or stopped
       (warehouse unusable, disk full, another night running); purge: something
       could not be deleted
  {EXIT_USAGE}    usage or registry error: nothing was loaded (`check-registry` says what is wrong)
  {EXIT_INTERRUPTED}  stopped by SIGTERM or SIGINT: its Dagster run is marked failed

environment:
  NCC_HOME           the data folder: registry, landing files, raw archive, reports,
                     embedded warehouse (default ./.ncc_transfer)
  NCC_SCHOOLS_FILE   the schools registry (default $NCC_HOME/schools.yaml)
  NCC_WAREHOUSE_URL  duckdb:///<path> or postgresql://user@host:port/db
                     (default duckdb:///$NCC_HOME/warehouse.duckdb)
  DAGSTER_HOME       Dagster's instance folder: runs, events, schedules
                     (default $NCC_HOME/dagster_home)
  Every other setting: docs/configuration.md.

`ncc-transfer <command> --help` describes a command."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ncc-transfer", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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
    simulator.add_argument("--latency-ms", type=float, default=0.0, help="every answer waits this long, as a remote API")
    simulator.add_argument("--vendor-rate-limits", action="store_true",
                           help="answer 429 over each route's request rate (RouteSpec.rate_per_second), per credential")
    simulator.add_argument("--cache", type=int, default=None,
                           help="renderings kept (a school's records in the vendor's shape, per query; default 12): "
                                "schools fetched at once each need theirs")
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

    pack = commands.add_parser("pack", help="write a school's termly targeting support pack and print its folder")
    which = pack.add_mutually_exclusive_group(required=True)
    which.add_argument("--school", metavar="KEY", help="the school partition (<laestab>-<mis>)")
    which.add_argument("--la", action="store_true", help="the LA page across schools (counts only) instead")
    which.add_argument("--all", action="store_true", dest="all_packs",
                       help="every active school's pack and the LA page (the warehouse read once)")
    pack.add_argument("--as-of", type=_iso_date, default=None, metavar="YYYY-MM-DD",
                      help="the date the pack is for (default today)")
    pack.set_defaults(handler=_cmd_pack)

    refresh = commands.add_parser("reference-refresh",
                                  help="rebuild the national attendance figures from a downloaded DfE file")
    refresh.add_argument("--from", dest="source", required=True, type=Path, metavar="CSV",
                         help="the DfE's year-to-date file (EES_ytd_data.csv, 'Pupil attendance in schools')")
    refresh.add_argument("--source-url", default=None, metavar="URL",
                         help="where the file was downloaded from (default the publication's page)")
    refresh.add_argument("--published", type=_iso_date, default=None, metavar="YYYY-MM-DD",
                         help="the release date (default the file's modification date)")
    refresh.add_argument("--out", type=Path, default=None, metavar="CSV",
                         help="the file to rebuild (default the package's national_attendance.csv)")
    refresh.set_defaults(handler=_cmd_reference_refresh)

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
    print(_term_dates_line())
    return EXIT_OK


def _checked_term_dates():
    """The LA's term dates (None without the file); a file that cannot be used is a usage error, in one
    line naming the file, line and field (``check-registry`` and ``pack``; the nightly load never reads it)."""
    from .rules.term_dates import TermDatesError
    from .term_dates import load_term_dates

    try:
        return load_term_dates()
    except TermDatesError as exc:
        raise UsageError(f"{exc} (docs/targeting_pack.md, \"The LA's term dates\")") from None


def _term_dates_line() -> str:
    """What check-registry says of the LA's term dates file (optional)."""
    from .config import term_dates_file

    dates = _checked_term_dates()
    if dates is None:
        return f"term dates: none ({term_dates_file()} absent): breaks and terms are read from the data"
    years = ", ".join(f"{y}/{(y + 1) % 100:02d}" for y in sorted(dates.years()))
    return f"term dates: {dates.source}: {years} ({len(dates.halves)} half terms)"


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


def _cmd_pack(args: argparse.Namespace) -> int:
    from .config import ncc_home, warehouse_url
    from .targeting import write_la, write_pack
    from .warehouse import open_warehouse

    registry = _load_registry()
    _checked_term_dates()  # the LA's term dates give the packs' terms: a file that cannot be used stops here
    if args.all_packs:
        return _pack_all(registry, args.as_of or date.today())
    if args.la:
        warehouse = open_warehouse(warehouse_url())
        try:
            page = write_la(warehouse, registry, as_of=args.as_of or date.today(), home=ncc_home())
        finally:
            warehouse.close()
        print(page.files[0])
        return EXIT_OK
    school = registry.by_key().get(args.school)
    if school is None:
        raise UsageError(f"no school with key {args.school} in {registry.path} (see `ncc-transfer check-registry`)")
    warehouse = open_warehouse(warehouse_url())
    try:
        pack = write_pack(warehouse, registry, school, as_of=args.as_of or date.today(), home=ncc_home())
    finally:
        warehouse.close()
    print(pack.folder)
    for path in pack.files:
        print(f"  {path.name}")
    return EXIT_OK


def _pack_all(registry, as_of: date) -> int:
    from collections import Counter

    from .config import ncc_home, warehouse_url
    from .targeting import packs_root
    from .targeting_all import write_all_packs
    from .warehouse import open_warehouse

    from .reports.pack_email import maybe_send_pack_notice, pack_email_enabled

    warehouse = open_warehouse(warehouse_url())
    try:
        written = write_all_packs(warehouse, registry, as_of=as_of, home=ncc_home())
        if pack_email_enabled():
            schools = registry.by_key()
            sent = Counter(maybe_send_pack_notice(warehouse, schools[key], pack, la_name=registry.la_name, as_of=as_of)
                           for key, pack in written.packs.items())
            print("pack notices: " + ", ".join(f"{what} {n}" for what, n in sorted(sent.items())), file=sys.stderr)
    finally:
        warehouse.close()
    print(written.la_page.files[0])
    print(f"{len(written.packs)} school packs under {packs_root(ncc_home())}")
    for key, error in sorted(written.failed.items()):
        print(f"ncc-transfer: {key}: the targeting pack could not be written ({error})", file=sys.stderr)
    return EXIT_SCHOOL_FAILED if written.failed else EXIT_OK


def _cmd_reference_refresh(args: argparse.Namespace) -> int:
    from .reference import national_attendance as national

    if not args.source.is_file():
        raise UsageError(f"{args.source}: no such file")
    try:
        figures = national.refresh(args.source, out=args.out or national.SHIPPED,
                                   source_url=args.source_url or national.PUBLICATION_URL,
                                   published=args.published.isoformat() if args.published else None)
    except (national.ReferenceFileError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{args.source}: {exc}") from None
    print(f"{args.out or national.SHIPPED}: {len(figures)} national figures for "
          + ", ".join(sorted({f.academic_year for f in figures})))
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
          f"({result.runs_text()})")
    if result.stopped:
        print(f"ncc-transfer: the night stopped: {result.stopped}", file=sys.stderr)
        return EXIT_NIGHT_FAILED
    return EXIT_SCHOOL_FAILED if result.failed else EXIT_OK


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
    packs = _demo_packs(registry, demo.as_of)
    print_demo_summary(demo, result, seconds=time.perf_counter() - started, packs=packs)
    return EXIT_OK if not result.failed else EXIT_SCHOOL_FAILED


def _demo_packs(registry, as_of: date):
    """Every loaded demo school's targeting pack and the LA page (``targeting_all``: the warehouse read once,
    the packs written in a process pool), as of the demo night."""
    from .config import ncc_home, warehouse_url
    from .targeting_all import write_all_packs
    from .warehouse import open_warehouse

    print(f"Writing the termly targeting packs for {len(registry.active_schools)} schools and the LA page ...")
    started = time.perf_counter()
    warehouse = open_warehouse(warehouse_url())
    try:
        written = write_all_packs(warehouse, registry, as_of=as_of, home=ncc_home())
    finally:
        warehouse.close()
    written.seconds = time.perf_counter() - started
    return written


def _simulator_port(port: int | None) -> int:
    from .config import simulator_port

    return port if port is not None else simulator_port()


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
    from .simulator import Network, create_app, route_rates, simulator_for_registry

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
    if args.cache:
        sim.cache.limit = args.cache
    port = _simulator_port(args.port)
    print(f"ncc-transfer simulator on http://{args.host}:{port}/<route> (Ctrl-C stops it)")
    for route, schools in sorted(sim.schools.items()):
        print(f"  /{route:<12} {len(schools)} school(s)")
    rates = route_rates() if args.vendor_rate_limits else {}
    if args.latency_ms or rates:
        print(f"  network: {args.latency_ms:g} ms per answer; rate limits: "
              + (", ".join(f"{route} {rate:g}/s" for route, rate in sorted(rates.items())) or "none"))
    app = Network(create_app(sim), latency_seconds=args.latency_ms / 1000, rates=rates)
    uvicorn.run(app, host=args.host, port=port, log_level="warning", access_log=False)
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
