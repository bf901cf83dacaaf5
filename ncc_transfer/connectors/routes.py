"""The one registry of routes: name -> ``RouteSpec`` (connector class, the registry ``source`` settings it
needs and accepts, simulator profile); README, "MIS routes"; docs/adding_a_route.md.

The schools registry (``ncc_transfer/registry.py``) validates settings from here, the simulator mounts
the profiles listed here, and the demo puts one school on each route with a profile. Kept free of heavy
imports: a route's package ``__init__`` only declares its ``SPEC``; its connector and simulator profile
are imported when first used.

Settings ending in ``_env`` hold the NAME of an environment variable that holds a secret, never the
secret itself; a name must look like one (:data:`ENV_NAME`, the POSIX portable form of an environment
variable name written in upper case: POSIX.1-2017, Base Definitions, section 8.1 "Environment Variable
Definition"). Lower case is refused because a
secret (a token, a password) almost always has some, and the problems reported here never quote a
setting's value: a secret written in the wrong place must not then be printed.
"""

from __future__ import annotations

import re
from importlib import import_module
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

from .spec import RouteSpec

# Settings every vendor route accepts: the HTTP layer's tunables and the incremental-extraction knobs.
COMMON_VENDOR_SETTINGS = ("base_url", "rate_per_second", "max_retries", "backoff_factor", "connect_timeout",
                          "read_timeout", "full_refresh_days", "lookback_school_days")

# Every route, by the name of its package under ncc_transfer/connectors/ (a registry's ``mis``), in the
# order the demo assigns them. Adding a route: a new package, and a line with its name here
# (docs/adding_a_route.md).
ROUTE_NAMES = (
    "files",
    "wonde",
    "xporter",
    "arbor",
    "bromcom",
    "sims",
    "scholarpack",
    "pupil_asset",
    "integris",
)

ROUTES: dict[str, RouteSpec] = {name: import_module(f"{__package__}.{name}").SPEC for name in ROUTE_NAMES}
MIS_ROUTES = tuple(ROUTES)
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def allowed_settings(route: str) -> set[str]:
    spec = ROUTES[route]
    common = set() if spec.reads_folder else set(COMMON_VENDOR_SETTINGS)
    return set(spec.required) | set(spec.optional) | common


def setting_problems(route: str, source: dict) -> list[str]:
    """What is wrong with a school's ``source`` settings for ``route`` (empty when nothing is).

    Each problem names the setting, never its value (a value may be a secret written in the wrong place)."""
    spec = ROUTES.get(route)
    if spec is None:
        return []
    problems = []
    for setting in spec.required:
        if not str(source.get(setting, "") or "").strip():
            problems.append(f"source.{setting}: missing (required for mis: {route})")
    if spec.reads_folder:
        if ".." in Path(str(source.get("path", ""))).parts:
            problems.append("source.path: must not contain '..' (name the school's folder directly)")
        return problems
    for setting in sorted(set(source) - allowed_settings(route)):
        problems.append(f"source.{setting}: not a setting of the {route} route "
                        f"(known: {', '.join(sorted(allowed_settings(route)))})")
    for setting, value in source.items():
        if setting.endswith("_env") and value not in (None, "") and not ENV_NAME.match(str(value)):
            problems.append(f"source.{setting}: must be the NAME of an environment variable (uppercase letters, "
                            f"digits and underscores, not starting with a digit) holding the secret, never the secret")
    for setting in ("base_url", "sts_url", "token_url"):
        value = source.get(setting)
        if value in (None, ""):
            continue
        parts = urlsplit(str(value))
        if parts.scheme not in ("https", "http") or not parts.hostname:
            problems.append(f"source.{setting}: not an http(s) URL")
        elif parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            problems.append(f"source.{setting}: must use https (plain http is allowed only on loopback, "
                            f"for the simulator)")
        elif parts.query or parts.username or parts.password:
            problems.append(f"source.{setting}: must not carry a query string or credentials")
    return problems


def connector_for(route: str, **options):
    """A connector instance for ``route`` (imported on first use)."""
    module, name = ROUTES[route].connector_path
    return getattr(import_module(module), name)(**options)


def simulator_routes() -> list[str]:
    """The routes with a simulator profile, in the registry's order."""
    return [route for route, spec in ROUTES.items() if spec.simulator]


def simulator_profile(route: str) -> ModuleType:
    """The simulator profile of ``route`` (KeyError: no such route, or one without a profile)."""
    module = ROUTES[route].simulator_module
    if module is None:
        raise KeyError(route)
    return import_module(module)
