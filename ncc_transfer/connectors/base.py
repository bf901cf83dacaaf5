"""The connector interface every MIS route implements (issue #4, design §2).

A connector turns one school's registry entry into a ``RawExtract``: the same raw shape the files route
produces (all-text object columns with the canonical names of ``canonical.RAW_COLUMNS`` plus ``_source``
and ``_line``), so validation and everything after it is route-blind.

Failures: a temporary fault (5xx/429 after retries, timeout, maintenance page) raises
``pipeline.TransientExtractError``; anything a retry will not fix (bad token, forbidden, missing
setting or secret, an unexpected status) raises ``VendorRouteError``. Both messages name the school,
route, endpoint and status, never a token or pupil data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from typing import Protocol, runtime_checkable

from ..files_route.folder import RawExtract
from ..registry import School


class VendorRouteError(Exception):
    """The school's MIS route cannot be used as configured (credentials, permissions, settings)."""


@dataclass(frozen=True)
class Capabilities:
    changed_since: bool = False  # can fetch only what changed since a watermark
    deletions: bool = False  # reports deleted records
    leavers: bool = True  # lists pupils who have left


@runtime_checkable
class Connector(Protocol):
    route: str
    capabilities: Capabilities

    def fetch(self, school: School, *, as_of: date) -> RawExtract: ...


def secret_from_env(school: School, setting: str) -> str:
    """The secret held by the environment variable the registry names in ``source[setting]``."""
    name = str(school.source.get(setting, "") or "").strip()
    if not name:
        raise VendorRouteError(f"{school.key}: {school.mis}: source.{setting} is not set in the registry")
    value = os.environ.get(name, "")
    if not value:
        raise VendorRouteError(f"{school.key}: {school.mis}: environment variable {name} (source.{setting}) "
                               f"is not set")
    return value
