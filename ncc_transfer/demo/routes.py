"""The demo LA on every MIS route: which schools go through which vendor, with what registry settings
and which (synthetic) secrets.

Every school's data is its landing folder; a school on a vendor route is served from that folder by the
built-in simulator in that vendor's API shape, so each route carries real data end to end. The secrets
are generated per build and written to ``$NCC_HOME/demo_secrets.env`` (0600): the registry names the
environment variables, never the values, exactly as in production. ``load_demo_secrets`` puts them in
the environment of the demo, ``ncc-transfer run`` / ``simulator`` on a demo home, and the Dagster UI.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Iterable

from ncc_transfer.config import DEMO_SECRETS_FILE, load_env_file, read_env_file

from ..connectors.routes import simulator_profile, simulator_routes

SECRETS_FILE = DEMO_SECRETS_FILE


def vendor_routes() -> list[str]:
    """The vendor routes with a simulator profile, in the route registry's order."""
    return simulator_routes()


def assign_routes(laestabs: Iterable[str], routes: list[str]) -> dict[str, str]:
    """One school per vendor route, in order; the rest stay on the files route."""
    return {laestab: route for laestab, route in zip(laestabs, routes)}


def demo_settings(route: str, laestab: str, simulator_url: str) -> tuple[dict, dict[str, str]]:
    """(registry ``source`` settings, {environment variable: secret}) for a demo school on ``route``."""
    settings, names = simulator_profile(route).demo_settings(laestab, f"{simulator_url.rstrip('/')}/{route}")
    return settings, {name: secrets.token_urlsafe(18) for name in names}


def write_secrets(home: Path, values: dict[str, str]) -> Path:
    path = Path(home) / SECRETS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("# Synthetic credentials of the demo LA's simulated MIS vendors (not real secrets).\n")
        handle.write("# `ncc-transfer` loads this file on a demo home; for `dagster dev`, it is loaded too.\n")
        for name, value in sorted(values.items()):
            handle.write(f"{name}={value}\n")
    os.chmod(path, 0o600)
    return path


def read_secrets(home: Path) -> dict[str, str]:
    return read_env_file(Path(home) / SECRETS_FILE)


def load_demo_secrets(home: Path) -> int:
    """Put a demo home's simulated-vendor secrets in the environment (never overriding a set variable).

    Only for a demo home (one with ``demo_manifest.json``): a production NCC_HOME is never touched."""
    return load_env_file(home)
