"""Shared fixtures. The expensive one, a materialised demo LA, is built once per test session."""

from __future__ import annotations

import functools
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterator

import pytest

from ncc_transfer.config import restored_environment

# The nightly step waits NCC_RETRY_DELAY_SECONDS before a retry (read when the definitions load):
# a tenth of a second in tests (what is tested is which schools are retried, not the wait), minutes in production.
os.environ.setdefault("NCC_RETRY_DELAY_SECONDS", "0.1")

# Secrets the shared demo night runs with, so the privacy test can prove none of them leaks.
DEMO_SECRETS = {
    "NCC_ARCHIVE_KEY": "Zm9yLXRlc3RzLW9ubHktbm90LWEtcmVhbC1rZXkhISE=",
    "NCC_PSEUDONYM_KEY": "pseudonym-key-for-tests-only-0123456789",
    "NCC_SMTP_PASSWORD": "smtp-password-for-tests-only",
    "PGPASSWORD": "pg-password-for-tests-only",
}
DEMO_AS_OF = date(2026, 3, 20)  # a Friday in spring term: both code sets' years, half-terms behind it
DEMO_SCHOOLS = 6

DEFAULT_TEST_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_SKIP_REASON = (
    "PostgreSQL not reachable at $NCC_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test): "
    "start PostgreSQL or set NCC_TEST_POSTGRES_URL to run these tests"
)


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "postgres: needs a PostgreSQL server at $NCC_TEST_POSTGRES_URL; skipped when it is not reachable")


@functools.lru_cache(maxsize=1)
def _postgres_problem(url: str) -> str | None:
    """Why PostgreSQL at ``url`` cannot be used (None: it can). Asked once per session."""
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3) as con:
            con.execute("SELECT 1")
    except Exception as exc:  # not installed, refused, auth, no such database: all mean "skip"
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test PostgreSQL server's URL (``NCC_TEST_POSTGRES_URL``); skips the test when it is unreachable.

    With ``NCC_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) an unreachable server fails the test instead.
    """
    url = os.environ.get("NCC_TEST_POSTGRES_URL") or DEFAULT_TEST_POSTGRES_URL
    problem = _postgres_problem(url)
    if problem:
        skip_unless_required("NCC_REQUIRE_POSTGRES", f"{POSTGRES_SKIP_REASON} [{problem}]")
    return url


def skip_unless_required(variable: str, problem: str) -> None:
    """Skip the test, saying ``problem``; but fail it when ``variable`` is set (``.ci/run`` sets
    NCC_REQUIRE_POSTGRES and NCC_REQUIRE_CHROMIUM), so a missing service never hides in CI as a skip."""
    if os.environ.get(variable, "") not in ("", "0"):
        pytest.fail(f"{variable} is set but {problem}", pytrace=False)
    pytest.skip(problem)


@pytest.fixture(scope="session")
def daemon_night(tmp_path_factory):
    """The night under the real daemon on PostgreSQL (``defs/daemon_night.py``), started once per session;
    None when PostgreSQL is unreachable (the test asks ``postgres_url`` first: it skips or fails there)."""
    url = os.environ.get("NCC_TEST_POSTGRES_URL") or DEFAULT_TEST_POSTGRES_URL
    if _postgres_problem(url):
        yield None
        return
    from ncc_transfer_tests.defs.daemon_night import DaemonNight

    night = DaemonNight(tmp_path_factory.mktemp("daemon_night"), url)
    try:
        yield night.start()
    finally:
        night.close()


@pytest.fixture(scope="session", autouse=True)
def _daemon_night_starts_first(request):
    """When the daemon test is selected, its night starts with the session: it is mostly the daemon waiting
    (a minute boundary, a 60 s sensor, a 30 s backfill loop), which then overlaps the other tests."""
    if any("daemon_night" in getattr(item, "fixturenames", ()) for item in request.session.items):
        request.getfixturevalue("daemon_night")


def pytest_collection_modifyitems(session, config, items) -> None:
    """The tests that read the session's daemon night go last, when it has long finished."""
    items.sort(key=lambda item: "daemon_night" in getattr(item, "fixturenames", ()))


@pytest.fixture()
def duck(tmp_path):
    """A DuckDB warehouse in a fresh file."""
    from ncc_transfer.warehouse import DuckDBWarehouse

    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    yield warehouse
    warehouse.close()


@pytest.fixture()
def pg(postgres_url):
    """A PostgreSQL warehouse in a fresh, uniquely named schema, dropped afterwards."""
    import uuid

    import psycopg

    from ncc_transfer.warehouse_postgres import PostgresWarehouse

    schema = f"ncc_test_{uuid.uuid4().hex[:12]}"
    warehouse = PostgresWarehouse(f"{postgres_url}{'&' if '?' in postgres_url else '?'}schema={schema}")
    try:
        yield warehouse
    finally:
        warehouse.close()
        with psycopg.connect(postgres_url, autocommit=True) as con:
            con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request):
    """Each test on both warehouse backends: ``duck``, then ``pg`` (marked ``postgres``; skipped if unreachable)."""
    return request.getfixturevalue("duck" if request.param == "duckdb" else "pg")


@contextmanager
def ncc_env(home: Path, **extra: str) -> Iterator[None]:
    """Point NCC_HOME, the warehouse and DAGSTER_HOME at ``home`` for the duration."""
    values = {
        "NCC_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster_home"),
        "NCC_WAREHOUSE_URL": f"duckdb:///{home / 'warehouse.duckdb'}",
        **extra,
    }
    cleared = ("NCC_SCHOOLS_FILE", "NCC_SCHOOLS_PER_RUN", "NCC_TERM_DATES_FILE")
    (home / "dagster_home").mkdir(parents=True, exist_ok=True)
    with restored_environment(*values, *cleared):
        for key in cleared:
            os.environ.pop(key, None)
        os.environ.update(values)
        yield


@dataclass
class DemoNight:
    home: Path
    demo: object  # ncc_transfer.demo.generator.DemoLA
    result: object  # ncc_transfer.cli.NightResult

    @contextmanager
    def env(self) -> Iterator[None]:
        with ncc_env(self.home, **DEMO_SECRETS):
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
    with ncc_env(home, **DEMO_SECRETS):
        demo = build_demo_la(home, seed=2026, schools=DEMO_SCHOOLS, as_of=DEMO_AS_OF)
        result = run_night(_load_registry(), as_of=DEMO_AS_OF)
    return DemoNight(home, demo, result)


@pytest.fixture()
def small_la(tmp_path):
    """A fresh, writable demo LA of 3 schools (not yet run) for tests that change files.

    Its schools are at a tenth of full size (0.1; it was 0.3): some forty tests run one night or more on
    it, and none checks anything that depends on how many pupils a school has (what they need from the
    data, a CSV school, a CTF school, exclusions, a 10-day absence, a school with issues, they assert,
    so a smaller LA without it would fail, not pass emptily)."""
    from ncc_transfer.demo.generator import build_demo_la

    home = tmp_path / "la"
    with ncc_env(home):
        demo = build_demo_la(home, seed=7, schools=3, as_of=DEMO_AS_OF, pupils_scale=0.1)
        yield home, demo


@pytest.fixture()
def smtp_server():
    """A real SMTP server on loopback (aiosmtpd): yields (host, port, received messages)."""
    import socket
    from email import message_from_bytes, policy

    from aiosmtpd.controller import Controller

    received = []

    class Collect:
        async def handle_DATA(self, server, session, envelope):
            received.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield "127.0.0.1", port, received
    finally:
        controller.stop()
