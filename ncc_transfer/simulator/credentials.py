"""The credentials of the simulated vendors: what a request offers, and what a registered school holds.

A request's credentials are compared with a school's in constant time (``same``). A school's secrets are
read at registration from the environment variables its registry entry names (``secrets_of``), as the
connector reads them; a demo school's variables are named after its route and settings
(``demo_secret_names``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any, Mapping
from urllib.parse import parse_qs

from starlette.requests import Request

from ..connectors.routes import ROUTES


def same(offered: str, secret: str) -> bool:
    """Whether a credential a request offers is the school's (compared in constant time)."""
    return hmac.compare_digest(offered.encode(), secret.encode())


def bearer(headers: Any, scheme: str = "Bearer") -> str:
    """The token of an ``Authorization: <scheme> <token>`` header, or ''."""
    value = headers.get("authorization", "")
    prefix = scheme + " "
    return value[len(prefix):] if value.startswith(prefix) else ""


def basic(headers: Any) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic ...`` header (RFC 7617), or None."""
    value = headers.get("authorization", "")
    if not value.startswith("Basic "):
        return None
    try:
        user, sep, password = base64.b64decode(value[6:], validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


async def form(request: Request, *, keep_blank_values: bool = False) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (a token request), parsed without python-multipart
    (not a dependency); the first value of each field."""
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=keep_blank_values).items()}


def secrets_of(school: Any, env: Mapping[str, str], *settings: str) -> list[str]:
    """The secrets of a registry school: the values in ``env`` of the variables its ``settings`` name."""
    return [env[school.source[setting]] for setting in settings]


def demo_secret_names(route: str, laestab: str) -> dict[str, str]:
    """The environment variables of a demo school's secrets, by setting (``token_env`` of a wonde school:
    ``DEMO_WONDE_TOKEN_<laestab>``): one for each ``*_env`` setting of the route's ``SPEC``."""
    return {setting: f"DEMO_{route.upper()}_{setting.removesuffix('_env').upper()}_{laestab}"
            for setting in ROUTES[route].secrets}
