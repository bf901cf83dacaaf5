"""Every MIS route: its connector class and the registry ``source`` settings it needs (README, "MIS routes").

Kept free of heavy imports: the registry validates settings from here, and the pipeline imports a
route's connector only when a school on that route is extracted. Settings ending in ``_env`` hold the
NAME of an environment variable that holds a secret, never the secret itself; a name must look like one
(:data:`ENV_NAME`, the POSIX portable form of an environment variable name written in upper case: POSIX.1-2017,
Base Definitions, section 8.1 "Environment Variable Definition"). Lower case is refused because a
secret (a token, a password) almost always has some, and the problems reported here never quote a
setting's value: a secret written in the wrong place must not then be printed.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class RouteSpec:
    connector: str | None  # "module:Class" under ncc_transfer.connectors (None: the files route)
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()


# Settings every vendor route accepts: the HTTP layer's tunables and the incremental-extraction knobs.
COMMON_VENDOR_SETTINGS = ("base_url", "rate_per_second", "max_retries", "backoff_factor", "connect_timeout",
                          "read_timeout", "full_refresh_days", "lookback_school_days")

ROUTES: dict[str, RouteSpec] = {
    "files": RouteSpec(None, ("path",)),
    "wonde": RouteSpec("wonde:WondeConnector", ("school_id", "token_env")),
    "xporter": RouteSpec("xporter:XporterConnector", ("relying_party", "secret_env"), ("estab", "sts_url")),
    "arbor": RouteSpec("arbor:ArborConnector", ("base_url", "user_env", "password_env"), ("application_id",)),
    "bromcom": RouteSpec("bromcom:BromcomConnector", ("school_id", "user_env", "password_env")),
    "sims": RouteSpec("sims:SimsConnector", ("organisation_id", "client_id_env", "client_secret_env",
                                             "subscription_key_env"), ("token_url",)),
    "scholarpack": RouteSpec("scholarpack:ScholarPackConnector", ("client_id_env", "client_secret_env",
                                                                   "refresh_token_env"), ("token_url",)),
    "pupil_asset": RouteSpec("pupil_asset:PupilAssetConnector", ("school_id", "api_key_env")),
    "integris": RouteSpec("integris:IntegrisConnector", ("base_url", "school_id", "client_id_env",
                                                         "client_secret_env"), ("token_url",)),
}
MIS_ROUTES = tuple(ROUTES)
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def allowed_settings(route: str) -> set[str]:
    spec = ROUTES[route]
    common = set(COMMON_VENDOR_SETTINGS) if spec.connector else set()
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
    if spec.connector is None:
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
    spec = ROUTES.get(route)
    if spec is None or spec.connector is None:
        raise KeyError(route)
    module, _, name = spec.connector.partition(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), name)(**options)
