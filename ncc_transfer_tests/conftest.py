"""Shared fixtures. The expensive one, a materialised demo LA, is built once per test session."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterator

import pytest

DEMO_AS_OF = date(2026, 3, 20)  # a Friday in spring term: both code sets' years, half-terms behind it
DEMO_SCHOOLS = 6


@contextmanager
def ncc_env(home: Path, **extra: str) -> Iterator[None]:
    """Point NCC_HOME, the warehouse and DAGSTER_HOME at ``home`` for the duration."""
    values = {
        "NCC_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster_home"),
        "NCC_WAREHOUSE_URL": f"duckdb:///{home / 'warehouse.duckdb'}",
        **extra,
    }
    cleared = ("NCC_SCHOOLS_FILE", "NCC_SCHOOLS_PER_RUN")
    saved = {k: os.environ.get(k) for k in (*values, *cleared)}
    (home / "dagster_home").mkdir(parents=True, exist_ok=True)
    for key in cleared:
        os.environ.pop(key, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass
class DemoNight:
    home: Path
    demo: object  # ncc_transfer.demo.generator.DemoLA
    result: object  # ncc_transfer.cli.NightResult

    @contextmanager
    def env(self) -> Iterator[None]:
        with ncc_env(self.home):
            yield

    def warehouse(self):
        from ncc_transfer.warehouse import DuckDBWarehouse

        return DuckDBWarehouse(self.home / "warehouse.duckdb")


@pytest.fixture(scope="session")
def demo_night(tmp_path_factory) -> DemoNight:
    """A demo LA built and loaded once by the real nightly job (read-only for tests)."""
    from ncc_transfer.cli import _load_registry, run_night
    from ncc_transfer.demo.generator import build_demo_la

    home = tmp_path_factory.mktemp("demo_la")
    with ncc_env(home):
        demo = build_demo_la(home, seed=2026, schools=DEMO_SCHOOLS, as_of=DEMO_AS_OF)
        result = run_night(_load_registry(), as_of=DEMO_AS_OF)
    return DemoNight(home, demo, result)


@pytest.fixture()
def small_la(tmp_path):
    """A fresh, writable demo LA of 3 schools (not yet run) for tests that change files."""
    from ncc_transfer.demo.generator import build_demo_la

    home = tmp_path / "la"
    with ncc_env(home):
        demo = build_demo_la(home, seed=7, schools=3, as_of=DEMO_AS_OF, pupils_scale=0.3)
        yield home, demo
