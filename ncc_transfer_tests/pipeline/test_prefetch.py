"""Preparing schools ahead in a process pool (``ncc_transfer.prefetch``): same results as preparing
them in this process, one pool per night, and a worker failure never loses a school."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from ncc_transfer import prefetch
from ncc_transfer.canonical import TABLES
from ncc_transfer.prefetch import prepared_as_ready

from ncc_transfer_tests.conftest import DEMO_AS_OF, ncc_env

TIMESTAMPS = ("extracted_at", "first_seen", "last_seen")  # when it ran: differs between two preparations


def _prepare_all(home, **env):
    from ncc_transfer.cli import _load_registry

    with ncc_env(home, **env):
        schools = list(_load_registry().active_schools)
        return schools, list(prepared_as_ready(schools, home=home, as_of=DEMO_AS_OF, min_schools=2,
                                               wait_for_worker=True))


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in TIMESTAMPS if c in frame.columns]).reset_index(drop=True)


def test_schools_prepared_in_the_worker_equal_those_prepared_here(small_la):
    home, _ = small_la
    schools, ahead = _prepare_all(home)
    _, here = _prepare_all(home, NCC_PREPARE_AHEAD="0")

    assert [p.outcome.school_key for p in ahead] == [s.key for s in schools]
    assert {p.pid for p in here} == {os.getpid()}
    assert any(p.pid != os.getpid() for p in ahead), "the worker prepared none"
    for a, b in zip(ahead, here):
        assert (a.outcome.status, a.outcome.rows, a.outcome.issues_by_rule, a.outcome.structural, a.outcome.sources) == (
            b.outcome.status, b.outcome.rows, b.outcome.issues_by_rule, b.outcome.structural, b.outcome.sources)
        for table in TABLES:
            pd.testing.assert_frame_equal(_comparable(a.tables[table]), _comparable(b.tables[table]))
        pd.testing.assert_frame_equal(_comparable(a.issues), _comparable(b.issues))
        assert a.views.keys() == b.views.keys()
        for view in a.views:
            pd.testing.assert_frame_equal(a.views[view], b.views[view])


def _worker_dies(*args, **kwargs):
    os._exit(3)  # a worker process killed mid-batch (out of memory, a crash in a library)


@pytest.mark.parametrize("broken", ["send", "exits"])
def test_a_failing_worker_only_loses_the_overlap(small_la, monkeypatch, broken):
    if broken == "send":  # the task cannot be sent to the worker (it cannot be pickled)
        monkeypatch.setattr(prefetch, "prepare_schools", lambda *args, **kwargs: None)
    else:  # the worker started, answered that it is ready, then dies on its first batch
        monkeypatch.setattr(prefetch, "prepare_schools", _worker_dies)
    home, _ = small_la
    schools, prepared = _prepare_all(home)
    assert [p.outcome.school_key for p in prepared] == [s.key for s in schools]
    assert all(p.outcome.message is None and p.tables is not None for p in prepared)  # ready to load
    assert {p.pid for p in prepared} == {os.getpid()}


def _prepared_without_views(home):
    from ncc_transfer.cli import _load_registry
    from ncc_transfer.pipeline import prepare_school

    with ncc_env(home):
        schools = list(_load_registry().active_schools)
        return [prepare_school(s, home=home, as_of=DEMO_AS_OF, views=False) for s in schools]


def test_views_of_a_batch_are_each_schools_own(small_la):
    from ncc_transfer.pipeline import add_views
    from ncc_transfer.views import compute_school_views

    home, _ = small_la
    batch = _prepared_without_views(home)
    assert len(batch) >= 3
    add_views(batch, DEMO_AS_OF)
    for prepared in batch:
        alone = compute_school_views(prepared.tables["pupils"], prepared.tables["attendance"],
                                     prepared.tables["exclusions"], DEMO_AS_OF)
        assert prepared.views.keys() == alone.keys()
        for view in alone:
            pd.testing.assert_frame_equal(prepared.views[view], alone[view])
        assert len(prepared.views["absence_summary"]) > 0
        assert prepared.outcome.stage_seconds["views"] > 0 and prepared.outcome.stage_cpu_seconds["views"] >= 0
    assert sum(len(p.views["ten_day_absence"]) for p in batch) > 0, "the demo LA has 10-day absences"


def test_a_school_whose_views_fail_in_a_batch_fails_alone(small_la, monkeypatch):
    from ncc_transfer import pipeline

    home, _ = small_la
    batch = _prepared_without_views(home)
    culprit = batch[1].outcome.school_key
    real = pipeline.compute_school_views

    def fails_on_culprit(pupils, attendance, exclusions, as_of):
        if (attendance["school_key"] == culprit).any():
            raise ValueError("a rule broke")
        return real(pupils, attendance, exclusions, as_of)

    monkeypatch.setattr(pipeline, "compute_school_views", fails_on_culprit)
    pipeline.add_views(batch, DEMO_AS_OF)
    assert batch[1].views is None and "ValueError while computing the statutory views" in batch[1].views_failure
    others = [p for p in batch if p.outcome.school_key != culprit]
    assert all(p.views is not None and p.views_failure is None for p in others)
    assert all(len(p.views["absence_summary"]) for p in others)


def test_views_that_cannot_be_computed_keep_the_previous_load_and_its_views(small_la, tmp_path, monkeypatch):
    """Rows and views are written in one transaction: a school whose views fail tonight keeps last
    night's rows and views together (they never disagree), and tonight's issues are still recorded."""
    from ncc_transfer import pipeline
    from ncc_transfer.canonical import SCHOOL_VIEWS
    from ncc_transfer.cli import _load_registry
    from ncc_transfer.warehouse import DuckDBWarehouse

    home, _ = small_la
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    try:
        with ncc_env(home):
            loaded = {s: pipeline.process_school(s, home=home, warehouse=warehouse, as_of=DEMO_AS_OF)
                      for s in _load_registry().active_schools}
            assert all(o.status == pipeline.LOADED for o in loaded.values())
            school = next(s for s, o in loaded.items() if o.errors + o.warnings)  # a school with issues
            key = school.key
            before = {t: warehouse.school_rows(t, key) for t in (*TABLES, *SCHOOL_VIEWS)}
            assert len(before["absence_summary"]) > 0
            warehouse.delete_where("validation_issues", "school_key = ?", [key])

            def broken(*args, **kwargs):
                raise ValueError("a rule broke")

            monkeypatch.setattr(pipeline, "compute_school_views", broken)
            monkeypatch.setattr(pipeline, "refresh_school_views", broken)
            second = pipeline.process_school(school, home=home, warehouse=warehouse, as_of=DEMO_AS_OF)
        assert second.status == pipeline.FAILED
        assert "ValueError while computing the statutory views" in second.message and "previous load kept" in second.message
        for table, frame in before.items():
            pd.testing.assert_frame_equal(_comparable(warehouse.school_rows(table, key)), _comparable(frame), obj=table)
        assert len(warehouse.school_rows("validation_issues", key)) > 0, "tonight's issues are recorded"
    finally:
        warehouse.close()


def test_vendor_schools_are_prepared_in_threads_and_handed_out_in_order(tmp_path, monkeypatch):
    """Vendor-route schools wait on the network: several are fetched at once in the thread pool
    (NCC_VENDOR_FETCH_THREADS), and still come out in the schools' order, whatever order they finish in."""
    import random
    import threading
    import time

    from ncc_transfer.pipeline import FAILED, PreparedSchool, SchoolOutcome
    from ncc_transfer.registry import School

    running, most, lock, threads = [0], [0], threading.Lock(), {}

    def fetch(school, *, home, as_of, views=True, replay=False, full_refresh=False):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(random.uniform(0.01, 0.05))  # waiting on the vendor
        with lock:
            running[0] -= 1
        threads[school.key] = threading.current_thread().name
        return PreparedSchool(SchoolOutcome(school.key, school.laestab, school.mis, FAILED), extracted_at=None)

    monkeypatch.setattr(prefetch, "prepare_school", fetch)
    monkeypatch.setenv("NCC_VENDOR_FETCH_THREADS", "3")
    schools = [School(f"9262{n:03d}", f"School {n}", "wonde") for n in range(12)]
    prepared = [p.outcome.school_key for p in prepared_as_ready(schools, home=tmp_path, as_of=DEMO_AS_OF)]
    assert sorted(prepared) == [s.key for s in schools]  # each once, in the order they were fetched
    assert 1 < most[0] <= 3
    assert sum(name.startswith("ncc-vendor-fetch") for name in threads.values()) >= len(schools) - 1

    monkeypatch.setenv("NCC_VENDOR_FETCH_THREADS", "0")  # one after another, here
    threads.clear()
    assert [p.outcome.school_key for p in prepared_as_ready(schools, home=tmp_path, as_of=DEMO_AS_OF)] == sorted(prepared)
    assert set(threads.values()) == {threading.current_thread().name}


def test_a_route_at_its_cap_waits_while_other_routes_are_fetched(tmp_path, monkeypatch):
    """A per-route cap (``FetchLimits.per_route``) bounds one route's schools fetching at once, not the
    others': with four threads and Wonde capped at 1, Arbor's schools still overlap, and every school
    still comes out, once."""
    import random
    import threading
    import time
    from collections import Counter

    from ncc_transfer.pipeline import FAILED, PreparedSchool, SchoolOutcome
    from ncc_transfer.prefetch import FetchLimits
    from ncc_transfer.registry import School

    running, most, lock = Counter(), Counter(), threading.Lock()

    def fetch(school, *, home, as_of, views=True, replay=False, full_refresh=False):
        with lock:
            running[school.mis] += 1
            most[school.mis] = max(most[school.mis], running[school.mis])
        time.sleep(random.uniform(0.01, 0.04))  # waiting on the vendor
        with lock:
            running[school.mis] -= 1
        return PreparedSchool(SchoolOutcome(school.key, school.laestab, school.mis, FAILED), extracted_at=None)

    monkeypatch.setattr(prefetch, "prepare_school", fetch)
    # Runs of each route, so a route's next schools are waiting to be handed out together.
    schools = [School(f"9262{n:03d}", f"School {n}", "wonde" if n // 4 % 2 else "arbor") for n in range(16)]

    def night(limits):
        most.clear()
        prepared = prepared_as_ready(schools, home=tmp_path, as_of=DEMO_AS_OF, limits=limits)
        assert sorted(p.outcome.school_key for p in prepared) == [s.key for s in schools]
        return dict(most)

    assert night(FetchLimits(threads=4))["wonde"] > 1  # without a cap, Wonde's schools overlap
    capped = night(FetchLimits(threads=4, per_route={"wonde": 1}))
    assert capped["wonde"] == 1 and capped["arbor"] > 1


def test_the_vendor_never_has_more_requests_at_once_than_its_cap(tmp_path, monkeypatch):
    """Over real HTTP: two Wonde schools fetched on two threads reach the simulator together; with
    Wonde capped at 1 (the ``route_concurrency`` resource over NCC_ROUTE_CONCURRENCY), the simulator
    never has two Wonde requests in hand at once."""
    import asyncio

    from ncc_transfer.defs.resources import RouteConcurrency
    from ncc_transfer_tests.connectors.vendor_support import AS_OF, build_vendor_la

    # A tenth-scale LA (the default is 0.3): the cap is about requests in flight, not their size; each
    # school's fetch is still a dozen or more pages, so uncapped the two schools' requests overlap.
    la, stop = build_vendor_la(tmp_path / "la", schools=2, pupils_scale=0.1)
    try:
        la.secrets["WONDE_CAP_TOKEN"] = "wonde-cap-secret-token-7"
        la.with_secrets(monkeypatch)
        schools = [la.serve("wonde", school, school_id=f"C30{n}", token_env="WONDE_CAP_TOKEN")[0]
                   for n, school in enumerate(la.files_schools)]
        in_hand, most = [0], [0]
        serve = la.sim._serve

        async def counted(route, school_id, render):  # the simulator's one event loop: no lock needed
            in_hand[0] += 1
            most[0] = max(most[0], in_hand[0])
            try:
                await asyncio.sleep(0.01)  # the vendor takes its time, so requests in flight overlap
                return await serve(route, school_id, render)
            finally:
                in_hand[0] -= 1

        monkeypatch.setattr(la.sim, "_serve", counted)

        def night() -> int:
            most[0] = 0
            prepared = list(prepared_as_ready(schools, home=la.home, as_of=AS_OF, views=False, full_refresh=True,
                                              limits=RouteConcurrency().limits()))
            assert all(p.tables is not None and p.outcome.message is None for p in prepared)  # ready to load
            return most[0]

        monkeypatch.setenv("NCC_VENDOR_FETCH_THREADS", "2")
        monkeypatch.delenv("NCC_ROUTE_CONCURRENCY", raising=False)
        assert night() > 1
        monkeypatch.setenv("NCC_ROUTE_CONCURRENCY", "wonde=1")
        assert night() == 1
    finally:
        stop()


def test_schools_fetched_at_once_over_a_network_keep_their_own_tables_and_failures(tmp_path, monkeypatch):
    """Over real HTTP with a 20 ms network and Wonde's rate enforced per credential: four schools
    fetched three at a time give each school exactly the tables it gives alone, one after another,
    and a vendor fault on one school (500s beyond its retries) fails that school only, both ways."""
    from ncc_transfer_tests.connectors.vendor_support import AS_OF, build_vendor_la, sorted_frame

    # A tenth-scale LA (the default is 0.3): what is compared is each school's tables fetched alone and
    # beside the others, whatever their size; each school is still many pages, so the fetches interleave.
    la, stop = build_vendor_la(tmp_path / "la", schools=4, pupils_scale=0.1,
                               network={"latency_seconds": 0.02, "rates": {"wonde": 20.0}})
    try:
        served = [la.serve_demo("wonde", monkeypatch, n) for n in range(4)]
        schools, broken = [s.school for s in served], served[2]

        def night(threads: str) -> dict:
            monkeypatch.setenv("NCC_VENDOR_FETCH_THREADS", threads)
            la.sim.inject(broken.vendor_id, ["500"] * 5, route="wonde")  # the first try and its 4 retries
            prepared = prepared_as_ready(schools, home=la.home, as_of=AS_OF, views=False, full_refresh=True)
            return {p.outcome.school_key: p for p in prepared}

        alone, together = night("0"), night("3")
        for key in (s.key for s in schools):
            if key == broken.school.key:
                for prepared in (alone[key], together[key]):
                    assert prepared.tables is None and prepared.outcome.transient and "500" in prepared.outcome.message
                continue
            assert alone[key].outcome.message is None and together[key].outcome.message is None
            for table, frame in alone[key].tables.items():
                pd.testing.assert_frame_equal(sorted_frame(together[key].tables[table]), sorted_frame(frame))
    finally:
        stop()


def test_route_concurrency_fields_fall_back_to_their_variables(monkeypatch):
    from ncc_transfer.defs.resources import RouteConcurrency
    from ncc_transfer.prefetch import FetchLimits

    monkeypatch.delenv("NCC_VENDOR_FETCH_THREADS", raising=False)
    monkeypatch.delenv("NCC_ROUTE_CONCURRENCY", raising=False)
    assert RouteConcurrency().limits() == FetchLimits(threads=4, per_route={})
    monkeypatch.setenv("NCC_VENDOR_FETCH_THREADS", "4")
    monkeypatch.setenv("NCC_ROUTE_CONCURRENCY", "wonde=1, arbor=2")
    assert RouteConcurrency().limits() == FetchLimits(threads=4, per_route={"wonde": 1, "arbor": 2})
    assert RouteConcurrency(vendor_fetch_threads=2, per_route={"xporter": 1}).limits() == \
        FetchLimits(threads=2, per_route={"xporter": 1})

    for value, problem in [("wonde", "route=number pairs"), ("wonde=two", "route=number pairs"),
                           ("wonde=0", "wonde must be 1 or more"), ("files=1", "'files' is not a vendor route"),
                           ("wnode=1", "'wnode' is not a vendor route")]:
        monkeypatch.setenv("NCC_ROUTE_CONCURRENCY", value)
        with pytest.raises(ValueError, match=problem):
            RouteConcurrency().limits()


def test_a_school_fetched_first_is_written_first_whatever_its_place(tmp_path, monkeypatch):
    """Vendor schools come out as their fetches finish, not in the schools' order: the first school
    (a large one, or a slow vendor: 0.6 s here) holds up none of the five after it (0.01 s each),
    which come out before it, and the threads never sit idle behind it."""
    import threading
    import time

    from ncc_transfer.pipeline import FAILED, PreparedSchool, SchoolOutcome
    from ncc_transfer.prefetch import FetchLimits
    from ncc_transfer.registry import School

    schools = [School(f"9262{n:03d}", f"School {n}", "wonde") for n in range(6)]
    started: dict[str, float] = {}
    lock = threading.Lock()

    def fetch(school, *, home, as_of, views=True, replay=False, full_refresh=False):
        with lock:
            started[school.key] = time.perf_counter()
        time.sleep(0.6 if school is schools[0] else 0.01)
        return PreparedSchool(SchoolOutcome(school.key, school.laestab, school.mis, FAILED), extracted_at=None)

    monkeypatch.setattr(prefetch, "prepare_school", fetch)
    begin = time.perf_counter()
    order = [p.outcome.school_key for p in prepared_as_ready(schools, home=tmp_path, as_of=DEMO_AS_OF,
                                                             limits=FetchLimits(threads=2))]
    assert order[-1] == schools[0].key and sorted(order[:-1]) == [s.key for s in schools[1:]]
    # With two threads, the other five were fetched one after another on the second thread while the
    # first school's took 0.6 s: every one of them started before it finished.
    assert max(started.values()) - begin < 0.5


def test_the_largest_vendor_schools_are_fetched_first(tmp_path, monkeypatch):
    """Schools of unknown size first (in the schools' order), then the largest by their last load's
    marks: a fetch is its requests one after another, so a large school started last would run on
    alone after the others."""
    from ncc_transfer.pipeline import FAILED, PreparedSchool, SchoolOutcome
    from ncc_transfer.prefetch import FetchLimits, largest_first
    from ncc_transfer.registry import School

    schools = [School(f"9262{n:03d}", f"School {n}", "wonde") for n in range(5)]
    sizes = {schools[0].key: 20_000, schools[1].key: 390_000, schools[3].key: 70_000}  # 2 and 4: no load yet
    expected = [schools[n].key for n in (2, 4, 1, 3, 0)]
    assert [s.key for _, s in largest_first(list(enumerate(schools)), sizes)] == expected

    started = []

    def fetch(school, *, home, as_of, views=True, replay=False, full_refresh=False):
        started.append(school.key)
        return PreparedSchool(SchoolOutcome(school.key, school.laestab, school.mis, FAILED), extracted_at=None)

    monkeypatch.setattr(prefetch, "prepare_school", fetch)
    list(prepared_as_ready(schools, home=tmp_path, as_of=DEMO_AS_OF, limits=FetchLimits(threads=1), sizes=sizes))
    assert started == expected


def test_last_marks_reads_each_schools_last_load(tmp_path):
    """The sizes come from the audit log: the last loaded extraction of each school in the fortnight
    before the night (2026-03-20: rows from 2026-03-06 on)."""
    from datetime import date, datetime

    from ncc_transfer.defs.schools.assets import last_marks
    from ncc_transfer.warehouse import DuckDBWarehouse

    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    try:
        def row(at, key, outcome, marks):
            return {"logged_at": at, "event": "extraction", "school_key": key, "route": "wonde", "outcome": outcome,
                    "detail": {"rows": {"pupils": 10, "attendance": marks, "exclusions": 0}}}

        warehouse.append_audit([
            row(datetime(2026, 3, 5, 2), "9262001-wonde", "loaded", 999),  # before the fortnight
            row(datetime(2026, 3, 18, 2), "9262001-wonde", "loaded", 1200),
            row(datetime(2026, 3, 19, 2), "9262001-wonde", "loaded", 1300),  # the last: kept
            row(datetime(2026, 3, 19, 2), "9262002-wonde", "failed", 0),  # not a load
            row(datetime(2026, 3, 10, 2), "9262003-wonde", "loaded", 40),
        ])
        assert last_marks(warehouse, date(2026, 3, 20)) == {"9262001-wonde": 1300, "9262003-wonde": 40}
    finally:
        warehouse.close()


def test_faults_under_a_network_stay_with_their_school_and_hold_up_no_other(tmp_path, monkeypatch):
    """Over real HTTP (a 20 ms network, each route's rate enforced per credential), four schools on
    two vendors fetched three at a time, as one night: a slow vendor (its first three answers 1.5 s
    late), a 429 then an expired token then a 503 (Xporter: the connector waits, gets a new token and
    retries), a vendor failing beyond its retries, and a clean school. Each school that recovers gives
    exactly the tables it gives alone with no fault; the failing one fails alone; and the slow one,
    first in the schools' order, comes out after the schools fetched beside it."""
    from ncc_transfer_tests.connectors.vendor_support import AS_OF, build_vendor_la, sorted_frame

    # A tenth-scale LA (the default is 0.3): the faults land on the first requests of each school and
    # the tables are compared whatever their size; smaller schools beside the slow one (4.5 s of delays)
    # finish sooner, so its coming out after them stands out further.
    la, stop = build_vendor_la(tmp_path / "la", schools=4, pupils_scale=0.1, network={
        "latency_seconds": 0.02, "rates": {"wonde": 20.0, "xporter": 20.0}})
    try:
        la.sim.slow_seconds = 1.5
        slow, recovering, broken, clean = (la.serve_demo("wonde", monkeypatch, 0), la.serve_demo("xporter", monkeypatch, 1),
                                           la.serve_demo("wonde", monkeypatch, 2), la.serve_demo("wonde", monkeypatch, 3))
        schools = [s.school for s in (slow, recovering, broken, clean)]

        def night(threads: str, faults: bool) -> list:
            monkeypatch.setenv("NCC_VENDOR_FETCH_THREADS", threads)
            if faults:
                slow.inject(la, ["slow"] * 3)
                recovering.inject(la, ["429", "expire-token", "503"])
                broken.inject(la, ["500"] * 5)  # the first try and its 4 retries
            return list(prepared_as_ready(schools, home=la.home, as_of=AS_OF, views=False, full_refresh=True))

        alone = {p.outcome.school_key: p for p in night("0", faults=False)}
        together = night("3", faults=True)
        order = [p.outcome.school_key for p in together]
        # First in the schools' order, the slow school comes out after the two fetched beside it.
        assert order.index(slow.school.key) > max(order.index(recovering.school.key), order.index(broken.school.key))
        for prepared in together:
            key = prepared.outcome.school_key
            if key == broken.school.key:
                assert prepared.tables is None and prepared.outcome.transient and "500" in prepared.outcome.message
                continue
            assert prepared.outcome.message is None, prepared.outcome.message
            for table, frame in alone[key].tables.items():
                pd.testing.assert_frame_equal(sorted_frame(prepared.tables[table]), sorted_frame(frame))
        assert {429, 503} <= set(recovering.statuses(la))  # the faults were met, not skipped
    finally:
        stop()
