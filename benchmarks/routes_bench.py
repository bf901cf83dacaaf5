"""The HTTP routes' throughput against the built-in simulator (issue 8).

For a synthetic LA at ``--scale`` (fraction of Norfolk's 420 schools; a full academic year of marks),
every school is served by the simulator on every vendor route (or those named with ``--route``) and
fetched by that route's connector, in this process, over real HTTP on loopback:

* the simulator alone: requests per second for one small page, by one client;
* per route: wall time, requests, requests/s, marks/s, and the time the same schools take through the
  files route (``read_school_folder``) in the same run, as a ratio.

Client and server share this process (and, on a 2-core machine, the CPU), so the figures are a lower
bound on what a real vendor's server allows; the connectors' default rate limit (5 requests/s per
credential) is switched off here, as it is for the demo.

    uv run python benchmarks/routes_bench.py --scale 0.02 --out routes.json
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_AS_OF = date(2026, 7, 17)
NORFOLK_SCHOOLS = 420


def simulator_requests_per_second(root: str, seconds: float = 3.0) -> float:
    """One client, one connection, the smallest page the Wonde profile serves (the attendance codes)."""
    import requests

    session = requests.Session()
    url = f"{root}/"
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        session.get(url, timeout=10).raise_for_status()
        count += 1
    return count / (time.perf_counter() - started)


def bench(scale: float, routes: list[str] | None, as_of: date) -> dict:
    import dataclasses
    import os

    from ncc_transfer.connectors.routes import connector_for
    from ncc_transfer.demo.generator import build_demo_la
    from ncc_transfer.files_route import read_school_folder
    from ncc_transfer.registry import load_registry
    from ncc_transfer.simulator import Simulator, create_app, load_source, run_in_thread
    from ncc_transfer.simulator.app import available_profiles, profile

    routes = routes or available_profiles()
    with tempfile.TemporaryDirectory(prefix="ncc-routes-bench-") as scratch:
        home = Path(scratch)
        schools = max(1, round(NORFOLK_SCHOOLS * scale))
        demo = build_demo_la(home, seed=2026, schools=schools, as_of=as_of)
        registry = load_registry(demo.registry_path)
        active = list(registry.active_schools)
        sim = Simulator()
        root, stop = run_in_thread(create_app(sim))
        try:
            result = {"scale": scale, "schools": len(active), "as_of": as_of.isoformat(),
                      "simulator_requests_per_second": round(simulator_requests_per_second(root), 1),
                      "routes": {}}
            started = time.perf_counter()
            marks = 0
            for school in active:
                marks += len(read_school_folder(home / "landing" / school.laestab, school.laestab).tables["attendance"])
            files_seconds = time.perf_counter() - started
            result["marks"] = marks
            result["files_route_seconds"] = round(files_seconds, 2)
            for route in routes:
                served = []
                for school in active:
                    settings, names = profile(route).demo_settings(school.laestab, f"{root}/{route}")
                    for name in names:
                        os.environ.setdefault(name, secrets.token_urlsafe(12))
                    vendor_school = dataclasses.replace(school, mis=route, source=settings)
                    profile(route).register(sim, vendor_school, load_source(home / "landing" / school.laestab,
                                                                            school.laestab), os.environ)
                    served.append(vendor_school)
                sim.log.clear()
                connector = connector_for(route)
                started = time.perf_counter()
                fetched = 0
                for vendor_school in served:
                    fetched += len(connector.fetch(vendor_school, as_of=as_of).tables["attendance"])
                seconds = time.perf_counter() - started
                requests_made = sum(1 for hit in sim.log if hit.route.startswith(route))
                result["routes"][route] = {
                    "seconds": round(seconds, 2), "requests": requests_made,
                    "requests_per_second": round(requests_made / seconds, 1),
                    "marks": fetched, "marks_per_second": round(fetched / seconds),
                    "ratio_to_files_route": round(seconds / files_seconds, 1)}
                sim.schools.pop(route, None)
                sim.cache.clear()
        finally:
            stop()
    return result


def table(result: dict) -> str:
    lines = [f"scale {result['scale']}: {result['schools']} schools, {result['marks']:,} marks; "
             f"simulator alone {result['simulator_requests_per_second']:,} requests/s (one client); "
             f"files route {result['files_route_seconds']} s",
             f"{'route':<12} {'seconds':>8} {'requests':>9} {'req/s':>8} {'marks/s':>10} {'x files':>8}"]
    for route, r in result["routes"].items():
        lines.append(f"{route:<12} {r['seconds']:>8} {r['requests']:>9,} {r['requests_per_second']:>8} "
                     f"{r['marks_per_second']:>10,} {r['ratio_to_files_route']:>8}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.02, help="fraction of Norfolk's 420 schools")
    parser.add_argument("--route", action="append", default=None, help="only this route (repeatable)")
    parser.add_argument("--as-of", type=date.fromisoformat, default=DEFAULT_AS_OF)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    result = bench(args.scale, args.route, args.as_of)
    print(table(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
