"""Shared scaffolding for the vendor-route tests: a small synthetic LA, the simulator serving it over real
HTTP on loopback, and the comparisons every route makes with the files route.

A route's test module builds one ``VendorLA`` per module (``running_vendor_la`` below), serves a school
with ``la.serve(route, school, **settings)`` or, with the demo settings of the route's simulator profile,
``la.serve_demo(route, monkeypatch, n)`` (each a fresh ``SourceSchool`` from the school's landing folder,
so a test may change it), and fetches it through the connector with the returned registry ``School``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from datetime import date, datetime
from pathlib import Path
from secrets import token_urlsafe
from typing import Any, Callable, Iterator, Mapping

import pandas as pd

from ncc_transfer.canonical import COHORT_COLUMNS, TABLES
from ncc_transfer.connectors.routes import ROUTES
from ncc_transfer.demo.generator import build_demo_la
from ncc_transfer.files_route import read_school_folder
from ncc_transfer.pipeline import process_school
from ncc_transfer.registry import Registry, School, load_registry, parse_registry
from ncc_transfer.simulator import Network, Simulator, SourceSchool, create_app, load_source, run_in_thread
from ncc_transfer.simulator.app import profile
from ncc_transfer.validation import validate_extract
from ncc_transfer.warehouse import DuckDBWarehouse

AS_OF = date(2026, 3, 20)  # a Friday in spring term
EXTRACTED_AT = datetime(2026, 3, 20, 2, 0)


@dataclasses.dataclass
class Served:
    """A school served on a vendor route."""

    school: School  # the registry School on the route
    vendor_id: str  # the id the simulator serves it under (its log and fault queue)
    route: str
    source: SourceSchool  # what the simulated MIS holds (a test may change it)

    def statuses(self, la: "VendorLA") -> list[int]:
        return la.sim.statuses(self.vendor_id, self.route)

    def endpoints(self, la: "VendorLA") -> list[str]:
        return [hit.endpoint for hit in la.sim.requests_to(self.vendor_id, self.route)]

    def inject(self, la: "VendorLA", faults: list[str]) -> None:
        la.sim.inject(self.vendor_id, faults, route=self.route)


@dataclasses.dataclass
class VendorLA:
    home: Path
    files_schools: list[School]  # the demo LA's schools, on the files route
    sim: Simulator
    root: str  # the simulator's base URL; a route is served under root + "/<route>"
    secrets: dict[str, str] = dataclasses.field(default_factory=dict)  # env var name -> value
    sources: dict[str, SourceSchool] = dataclasses.field(default_factory=dict, repr=False)  # laestab -> records

    def serve(self, route: str, school: School, **source: Any) -> tuple[School, Any]:
        """Serve ``school``'s landing folder on ``route`` with registry ``source`` settings (base_url is
        filled in); returns (the registry School on that route, its SourceSchool to change)."""
        served = self._register(route, school, source)
        return served.school, served.source

    def serve_demo(self, route: str, monkeypatch, n: int = 0, **extra: Any) -> Served:
        """School ``n`` served afresh on ``route`` with the demo settings of the route's simulator profile
        (fast retries, then ``extra``), its secrets (made up once per LA) in the environment and the
        simulator's faults, log and tokens cleared."""
        school = self.files_schools[n]
        settings, names = profile(route).demo_settings(school.laestab, f"{self.root}/{route}")
        for name in names:
            self.secrets.setdefault(name, token_urlsafe(12))
        self.with_secrets(monkeypatch)
        return self._register(route, school, {**settings, "backoff_factor": 0.01, **extra})

    def _register(self, route: str, school: School, source: dict[str, Any]) -> Served:
        settings = {"base_url": f"{self.root}/{route}", "rate_per_second": 0, **source}
        vendor_school = dataclasses.replace(school, mis=route, source=settings)
        data = self.source(school)
        env = {**os.environ, **self.secrets}
        vendor_id = profile(route).register(self.sim, vendor_school, data, env)
        return Served(vendor_school, vendor_id, route, data)

    def source(self, school: School) -> SourceSchool:
        """The school's records as the simulator serves them, read from its landing folder once and again
        only after a test changed them (every change bumps ``revision``): the simulator then keeps its
        renderings of them from one test to the next."""
        data = self.sources.get(school.laestab)
        if data is None or data.revision:
            data = self.sources[school.laestab] = load_source(self.folder(school), school.laestab)
        return data

    def with_secrets(self, monkeypatch) -> "VendorLA":
        """The LA with every secret in the environment and the simulator's faults, log and tokens cleared
        (a route module's per-test fixture)."""
        for name, value in self.secrets.items():
            monkeypatch.setenv(name, value)
        self.sim.clear()
        return self

    def folder(self, school: School) -> Path:
        """The school's landing folder (the data every route serves), whatever route ``school`` is on."""
        return self.home / "landing" / school.laestab

    def pupil_texts(self, school: School) -> set[str]:
        """The pupil identifiers in the school's landing folder (read again whenever a file in it changed)."""
        folder = self.folder(school)
        stamps = tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*") if p.is_file()))
        return _pupil_texts(folder, school.laestab, stamps)

    def assert_clean(self, message: str, school: School) -> None:
        """No secret and no pupil identifier in a message meant for logs and the UI."""
        assert not any(secret in message for secret in self.secrets.values()), "a secret leaked into a message"
        leaked = {t for t in self.pupil_texts(school) if re.search(rf"\b{re.escape(t)}\b", message)}
        assert not leaked, "pupil data leaked into a message"


def build_vendor_la(home: Path, schools: int = 3, network: Mapping[str, Any] | None = None,
                    pupils_scale: float = 0.3) -> tuple[VendorLA, Any]:
    """A demo LA of ``schools`` schools (small ones by default) and a running simulator (behind
    ``Network(**network)`` when given: a latency, rates per route); returns (la, stop)."""
    demo = build_demo_la(home, seed=7, schools=schools, as_of=AS_OF, pupils_scale=pupils_scale)
    registry = load_registry(demo.registry_path)
    sim = Simulator()
    app = create_app(sim)
    root, stop = run_in_thread(Network(app, **network) if network else app)
    return VendorLA(home, list(registry.active_schools), sim, root), stop


SchoolSecrets = Callable[[int, School], Mapping[str, str]]


def running_vendor_la(home: Path, schools: int = 3, secrets: Mapping[str, str] | SchoolSecrets | None = None
                      ) -> Iterator[VendorLA]:
    """A route test module's LA (``yield from`` it in a module fixture): ``build_vendor_la`` with
    ``secrets`` kept for ``with_secrets`` (variable -> value, or ``secrets(n, school)`` for each school
    ``n``), its simulator stopped afterwards."""
    la, stop = build_vendor_la(home, schools)
    try:
        for n, school in enumerate(la.files_schools):
            la.secrets.update(secrets(n, school) if callable(secrets) else secrets or {})
        yield la
    finally:
        stop()


def route_registry(route: str, source: dict, folder: Path = Path(".")) -> Registry:
    """A registry of one school on ``route`` with ``source`` settings, parsed (``RegistryError``: refused)."""
    document = {"local_authority": {"code": "926", "name": "Test"},
                "schools": [{"laestab": "9262001", "name": "A School", "mis": route, "source": source}]}
    return parse_registry(document, folder / "schools.yaml")


def sorted_frame(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.drop(columns=["school_key", "extracted_at"], errors="ignore")
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def canonical(raw_tables: dict[str, pd.DataFrame], laestab: str, as_of: date = AS_OF) -> dict[str, pd.DataFrame]:
    return validate_extract(raw_tables, school_key="same", laestab=laestab, extracted_at=EXTRACTED_AT,
                            as_of=as_of).tables


def assert_same_tables(left: dict[str, pd.DataFrame], right: dict[str, pd.DataFrame], what: str) -> None:
    for table in TABLES:
        pd.testing.assert_frame_equal(sorted_frame(left[table]), sorted_frame(right[table]), obj=f"{what} {table}")


@functools.lru_cache(maxsize=16)
def _pupil_texts(folder: Path, laestab: str, stamps: tuple) -> frozenset[str]:
    """``VendorLA.pupil_texts``, read once per folder and state of its files (``stamps``): every message
    check of a module reads the same landing folder, which takes a fifth of a second a read."""
    raw = read_school_folder(folder, laestab).tables["pupils"]
    return frozenset(v for c in ("upn", "surname", "forename") for v in raw[c].dropna() if len(v) > 3)


@functools.lru_cache(maxsize=8)
def files_route_tables(folder: Path, laestab: str) -> dict[str, pd.DataFrame]:
    """The canonical tables the files route gives for a landing folder (read once per folder: the
    tests never change a landing folder; the simulator serves a copy they may change)."""
    return canonical(read_school_folder(folder, laestab).tables, laestab)


def carried_only(tables: dict[str, pd.DataFrame], route: str) -> dict[str, pd.DataFrame]:
    """``tables`` with the cohort columns ``route`` does not carry (``RouteSpec.cohort_fields``) null."""
    pupils = tables["pupils"].copy()
    for column in COHORT_COLUMNS:
        if column not in ROUTES[route].cohort_fields:
            pupils[column] = pd.Series(pd.NA, index=pupils.index, dtype=pupils[column].dtype)
    return {**tables, "pupils": pupils}


def assert_same_as_files(raw_tables: dict[str, pd.DataFrame], la: VendorLA, school: School, route: str) -> None:
    """The route's extract gives exactly the canonical tables the files route gives for the same school,
    except the cohort fields the route does not carry, which must be null on it."""
    expected = carried_only(files_route_tables(la.folder(school), school.laestab), route)
    assert len(expected["pupils"]) > 0 and len(expected["attendance"]) > 0
    assert_same_tables(canonical(raw_tables, school.laestab), expected, school.key)


def night_with_wrong_secrets(la: VendorLA, school: School, monkeypatch, folder: Path, *variables: str,
                             as_of: date = AS_OF) -> str:
    """The night (``process_school``) of ``school`` with a wrong value in each secret variable: the school
    fails, not as a temporary fault, with a message naming it and showing no secret (nor the wrong
    values); returns the message."""
    wrong = {name: f"not-the-right-{name.lower()}-9Qz4" for name in variables}
    for name, value in wrong.items():
        monkeypatch.setenv(name, value)
    warehouse = DuckDBWarehouse(folder / "w.duckdb")
    try:
        outcome = process_school(school, home=la.home, warehouse=warehouse, as_of=as_of)
    finally:
        warehouse.close()
    assert outcome.status == "failed" and not outcome.transient, outcome.message
    assert school.key in outcome.message and not any(value in outcome.message for value in wrong.values())
    la.assert_clean(outcome.message, school)
    return outcome.message


# ------------------------------------------------------------------------------ incremental nights


def mark_rows(table: pd.DataFrame, upn: str, day: str, session: str) -> pd.DataFrame:
    """The rows of an attendance table for one pupil's session."""
    return table[(table["upn"] == upn) & (pd.to_datetime(table["date"]) == pd.Timestamp(day))
                 & (table["session"] == session)]


def recent_school_day(source, back: int, night: date = AS_OF, skip_codes: tuple[str, ...] = ()) -> str:
    """The school day ``back`` school days before ``night`` (0: the latest) with marks in ``source``."""
    days = sorted({m.date for m in source.marks if m.date and m.date <= night.isoformat() and m.code not in skip_codes},
                  reverse=True)
    return days[back]


def amend_rename_delete(source, day: str):
    """The school amends a mark on ``day``, renames a pupil and deletes another (entered in error);
    returns (the amended mark, its new code, the renamed pupil, the deleted pupil)."""
    marked = next(m for m in source.marks if m.date == day and m.pupil_key)
    new_code = "G" if marked.code != "G" else "O"
    source.change_mark(marked.upn, marked.date, marked.session, new_code)
    renamed = next(p for p in source.pupils if p.upn and p.upn != marked.upn and not p.is_leaver)
    source.change_pupil(renamed.upn, surname="Renamed-Surname")
    deleted = next(p for p in source.pupils if p.upn and p.upn not in (marked.upn, renamed.upn) and not p.is_leaver)
    source.delete_pupil(deleted.upn)
    return marked, new_code, renamed, deleted


def assert_incremental_equals_full(la: VendorLA, connector_type: type, school: School, second: Any, *, marked: Any,
                                   new_code: str, deleted: Any, as_of: date = AS_OF) -> Any:
    """The incremental night ``second`` gives the canonical tables of a fresh full fetch of the changed
    school, with its changes in (the amended mark's ``new_code``, the surname ``amend_rename_delete``
    gives, the ``deleted`` pupil gone); returns the full fetch (the log holds only its requests)."""
    la.sim.log.clear()
    full = connector_type().fetch(school, as_of=as_of)  # no state: a full fetch
    got = canonical(second.tables, school.laestab, as_of)
    assert_same_tables(got, canonical(full.tables, school.laestab, as_of), school.key)
    assert list(mark_rows(got["attendance"], marked.upn, marked.date, marked.session)["code"]) == [new_code]
    assert "Renamed-Surname" in set(got["pupils"]["surname"])
    assert deleted.upn not in set(got["pupils"]["upn"]) and deleted.upn not in set(got["attendance"]["upn"])
    return full
