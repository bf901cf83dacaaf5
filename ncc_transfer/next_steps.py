"""What an operator does next about a school that failed: each failure message ends with one of these.

A failure message (the command line's line for the school, its audit row, the Dagster run's log and
the step's failure) says what went wrong and then, after "Next:", what to do about it. The school is
named by whoever prints the message (its key, ``<laestab>-<route>``, and its name); the route is in
the key. Nothing here quotes data: registry paths, hosts, ports and commands only.

On a demo home (one with ``demo_manifest.json``) the vendor routes are served by the built-in
simulator, so a vendor host that cannot be reached is, almost always, the simulator not running on
the port the registry points at: the next step is the exact command that starts it there.
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

DEMO_MANIFEST = "demo_manifest.json"
HOME_VARIABLE = "NCC_HOME"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

TEMPORARY = ("nothing, if it clears: the step tries the school again (NCC_RETRY_DELAY_SECONDS apart) and the "
             "next night does; if it persists, check the vendor's service status")
ROUTE_SETTINGS = ("fix the school's source settings in the registry or the secret its *_env setting names "
                  "(`ncc-transfer check-registry` checks the registry), then run the school again")
SCHOOL_FILES = ("the school's validation report tells it what is wrong with its extract; once it sends a "
                "readable one, run the school again")
STRUCTURE = ("the school's validation report lists the missing columns or duplicate keys for it to fix in its "
             "MIS; once it sends a corrected extract, run the school again")
UNEXPECTED = ("a defect or a fault of this server, not the school's: see the step's log in the Dagster UI (the "
              "run's event log) and report it; run the school again once fixed")
ANOTHER_SCHOOL = ("ask the school to check that its MIS exports this school's data, to this school's folder (its "
                  "validation report says so), then run the school again")
NOT_IN_REGISTRY = ("add the school back to the registry to load it; otherwise school_registry_sensor removes its "
                   "partition at its next tick (every minute while the daemon runs)")


def is_demo_home(home: Path | str | None) -> bool:
    return home is not None and (Path(home) / DEMO_MANIFEST).is_file()


def simulator_command(home: Path | str, port: int | None) -> str:
    """The command that starts the built-in simulator for ``home``'s registry on ``port``."""
    command = f"{HOME_VARIABLE}={shlex.quote(str(home))} uv run ncc-transfer simulator"
    return f"{command} --port {port}" if port else command


def simulator_port(sources: Iterable[dict]) -> int | None:
    """The port the registry's vendor schools expect the simulator on: the port of their loopback
    ``base_url`` settings (the most common one, if they differ); None when none has one."""
    ports = Counter()
    for source in sources:
        parts = urlsplit(str((source or {}).get("base_url") or ""))
        if parts.hostname in LOOPBACK:
            try:
                port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
            except ValueError:  # not a port: check-registry says so
                continue
            if port:
                ports[port] += 1
    return ports.most_common(1)[0][0] if ports else None


def rerun(key: str) -> str:
    return f"`ncc-transfer run --school {key}`, or re-execute the run from the Dagster UI"


def unreachable(key: str, host: str, port: int, how: str, home: Path | str | None) -> str:
    """The next step for a vendor host that could not be connected to (``how``: refused, dns, timeout,
    network)."""
    if is_demo_home(home) and host in LOOPBACK:
        return (f"start the vendor simulator where this demo's registry points: {simulator_command(home, port)} "
                f"(leave it running), then run the school again: {rerun(key)}")
    if how == "dns":
        where = f"check the host name in source.base_url for {key} in the registry, and this server's DNS"
    elif how == "refused":
        where = (f"check that {host}:{port} is the vendor's API address (source.base_url for {key} in the registry) "
                 "and that the service there is up")
    else:
        where = (f"check that this server can reach {host}:{port} (firewall, proxy, network) and that it is the "
                 f"vendor's API address (source.base_url for {key} in the registry)")
    return f"{where}; the step tries the school again, and so does the next night"
