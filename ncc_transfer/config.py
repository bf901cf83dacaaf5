"""Configuration from the environment (design §3.3). Read at call time, never at import time."""

from __future__ import annotations

import os
from pathlib import Path


def ncc_home() -> Path:
    """The data folder: registry, landing files, raw archive, reports, embedded warehouse."""
    return Path(os.environ.get("NCC_HOME", "./.ncc_transfer")).expanduser().absolute()


def schools_file() -> Path:
    """The schools registry."""
    configured = os.environ.get("NCC_SCHOOLS_FILE")
    return Path(configured).expanduser().absolute() if configured else ncc_home() / "schools.yaml"


def warehouse_url() -> str:
    """`duckdb:///<path>` or `postgresql://user@host:port/db`."""
    return os.environ.get("NCC_WAREHOUSE_URL") or f"duckdb:///{ncc_home() / 'warehouse.duckdb'}"
