"""What one Dagster event costs on each event-log storage (issue 8: where a night's overhead goes).

A night logs ~25 Dagster events per school (9 "planned" at run creation, then per school 9
materialisations and 7 check evaluations). This times ``--events`` asset materialisations with a
partition, stored one at a time as a run stores them, on:

* ``sqlite``: Dagster's default (the embedded default here): a file per run plus an index file;
* ``consolidated``: ``ConsolidatedSqliteEventLogStorage`` (one SQLite file);
* ``postgres``: dagster-postgres (production), in a scratch database on ``--pg`` (skipped if unreachable).

    uv run python benchmarks/events_bench.py --events 400
    uv run python benchmarks/events_bench.py --events 200 --profile   # where one storage's time goes
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

QUIET = "telemetry:\n  enabled: false\n"
CONSOLIDATED = QUIET + """event_log_storage:
  module: dagster._core.storage.event_log
  class: ConsolidatedSqliteEventLogStorage
  config:
    base_dir: {home}/history
"""
POSTGRES = QUIET + """storage:
  postgres:
    postgres_db:
      hostname: {host}
      port: {port}
      username: {user}
      password: ''
      db_name: {db}
      scheme: postgresql+psycopg2
"""


def scratch_database(host: str, port: int, user: str) -> str | None:
    """A new empty database for the run (None if PostgreSQL is not reachable)."""
    import psycopg

    name = f"ncc_events_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True,
                             connect_timeout=3) as con:
            con.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        return None
    return name


def per_event_ms(settings: str, events: int, profile: bool = False) -> float:
    import dagster as dg

    home = tempfile.mkdtemp(prefix="ncc-events-bench-")
    Path(home, "dagster.yaml").write_text(settings.format(home=home), encoding="utf-8")
    instance = dg.DagsterInstance.from_config(home)
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="pupils", partition="warm-up"))
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    for n in range(events):
        instance.report_runless_asset_event(dg.AssetMaterialization(
            asset_key="pupils", partition=f"school-{n % 50}", metadata={"dagster/row_count": n}))
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(18)
    return (time.perf_counter() - started) / events * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--pg", default="127.0.0.1:5432", help="host:port of a PostgreSQL (user postgres, trust)")
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the default storage")
    args = parser.parse_args(argv)
    host, _, port = args.pg.partition(":")
    storages = {"sqlite": QUIET, "consolidated": CONSOLIDATED}
    db = scratch_database(host, int(port or 5432), args.pg_user)
    if db:
        storages["postgres"] = POSTGRES.replace("{host}", host).replace("{port}", port or "5432").replace(
            "{user}", args.pg_user).replace("{db}", db)
    else:
        print(f"postgres: skipped (no server at {args.pg})")
    try:
        for name, settings in storages.items():
            ms = per_event_ms(settings, args.events, args.profile and name == "sqlite")
            print(f"{name:<13} {ms:6.2f} ms per event")
    finally:
        if db:
            import psycopg

            with psycopg.connect(host=host, port=int(port or 5432), user=args.pg_user, dbname="postgres",
                                 autocommit=True) as con:
                con.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
