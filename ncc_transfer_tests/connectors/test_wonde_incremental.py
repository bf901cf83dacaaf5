"""Incremental extraction through Wonde (``updated_after`` + ``/deletions``), over real HTTP on loopback.

After a full first night, the school changes a register mark, a pupil's name, and deletes a pupil; the
second night fetches only changed pupils and a look-back window of marks, and its canonical tables equal
a fresh full fetch of the changed school.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta

import pandas as pd
import pyarrow.parquet as pq
import pytest

from ncc_transfer.connectors.incremental import StateStore, options_hash
from ncc_transfer.connectors.wonde.connector import PERIODS_KEY, WondeConnector
from ncc_transfer.connectors.wonde.simulator import RANGES_KEY
from ncc_transfer_tests.connectors.vendor_support import (AS_OF, amend_rename_delete, assert_incremental_equals_full,
                                                          assert_same_tables, canonical, mark_rows, recent_school_day,
                                                          running_vendor_la)

TOKEN = "wonde-incremental-secret-token-1"


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    yield from running_vendor_la(tmp_path_factory.mktemp("wonde_inc"), schools=2, secrets={"WONDE_INC_TOKEN": TOKEN})


@pytest.fixture()
def served(la, monkeypatch, tmp_path):
    la.with_secrets(monkeypatch)
    school, source = la.serve("wonde", la.files_schools[0], school_id="A100", token_env="WONDE_INC_TOKEN")
    return school, source, StateStore(tmp_path / "state")


def test_second_night_is_incremental_and_equals_a_full_fetch(la, served):
    school, source, store = served
    connector = WondeConnector()
    first = connector.fetch(school, as_of=AS_OF - timedelta(days=1), state=store)
    assert connector.last_fetch["kind"] == "full"
    assert len(first.tables["attendance"]) > 0 and store.load(school.key) is not None

    # The school amends a mark 3 school days ago, renames a pupil and deletes another (entered in error).
    marked, new_code, renamed, deleted = amend_rename_delete(source, recent_school_day(source, 3))

    la.sim.log.clear()
    second = connector.fetch(school, as_of=AS_OF, state=store)
    assert connector.last_fetch["kind"] == "incremental"
    assert connector.last_fetch["pupils_changed"] == 1 and connector.last_fetch["pupils_deleted"] == 1
    incremental_requests = len(la.sim.log)
    assert_incremental_equals_full(la, WondeConnector, school, second, marked=marked, new_code=new_code,
                                   deleted=deleted)
    assert len(la.sim.log) > incremental_requests


def test_amendment_older_than_the_lookback_waits_for_the_full_refresh(la, served):
    school, source, store = served
    connector = WondeConnector()
    connector.fetch(school, as_of=AS_OF - timedelta(days=1), state=store)
    day = recent_school_day(source, 15)
    old = next(m for m in source.marks if m.date == day and m.pupil_key)
    before, amended = old.code, "G" if old.code != "G" else "O"
    source.change_mark(old.upn, old.date, old.session, amended)

    second = connector.fetch(school, as_of=AS_OF, state=store)
    assert connector.last_fetch["kind"] == "incremental"
    got = canonical(second.tables, school.laestab)["attendance"]
    assert list(mark_rows(got, old.upn, old.date, old.session)["code"]) == [before]  # outside the 10-day window

    # A week after the first full fetch the periodic full refresh picks it up.
    third = connector.fetch(school, as_of=AS_OF - timedelta(days=1) + timedelta(days=7), state=store)
    assert connector.last_fetch["kind"] == "full" and "periodic" in connector.last_fetch["reason"]
    got = canonical(third.tables, school.laestab, as_of=AS_OF + timedelta(days=6))["attendance"]
    assert list(mark_rows(got, old.upn, old.date, old.session)["code"]) == [amended]


def test_state_files_are_private(la, served):
    school, _, store = served
    WondeConnector().fetch(school, as_of=AS_OF, state=store)
    folder = store.folder(school.key)
    assert folder.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in folder.iterdir())


# ------------------------------------------------------------------ cohort flags on incremental nights
#
# Wonde gives FSM, in care and child protection plan as date ranges; the flags are counted on the night's
# date. A pupil unchanged at Wonde is not re-read on an incremental night, so the mirror keeps the ranges
# (``PERIODS_KEY``) and every night counts every pupil's flags on its own date from them.

FULL_NIGHT = date(2026, 3, 10)  # a Tuesday: the full fetch
ELIGIBLE = {  # pupil A: FSM eligible until Thursday 19 March 2026; in care until the same day
    "fsm_date_ranges": [("2025-09-08", "2026-03-19")],
    "in_care_date_ranges": [("2024-01-08", "2026-03-19")],
    "child_protection_plan_date_ranges": [("2026-03-16", None)],  # a plan opened on Monday 16 March
}
EVER6 = {  # pupil B: FSM eligible until Monday 16 March 2020: ever 6 up to and including 16 March 2026
    "fsm_date_ranges": [("2018-09-03", "2020-03-16")],
    "in_care_date_ranges": [],
    "child_protection_plan_date_ranges": [],
}
# night -> {pupil: (fsm_eligible, fsm_ever6, looked_after, child_protection_plan)}, worked by hand:
# A, eligible: 2026-03-19 >= the night; ever 6: the period reaches into the six years before the night;
# B, ever 6: 2020-03-16 >= the night less six years (2020-03-16 on 16 March 2026, 2020-03-17 on the 17th).
EXPECTED = {
    date(2026, 3, 10): {"A": (True, True, True, False), "B": (False, True, False, False)},  # full
    date(2026, 3, 16): {"A": (True, True, True, True), "B": (False, True, False, False)},  # B's last ever-6 day
    date(2026, 3, 17): {"A": (True, True, True, True), "B": (False, False, False, False)},  # B leaves ever 6
    date(2026, 3, 20): {"A": (False, True, False, True), "B": (False, False, False, False)},  # A's FSM and care end
}
FLAGS = ("fsm_eligible", "fsm_ever6", "looked_after", "child_protection_plan")
LONG_AGO = datetime(2026, 3, 1, 9, 0)  # the ranges were entered before every night: no change at Wonde after


@pytest.fixture()
def ranged(la, monkeypatch, tmp_path):
    """School 0 on Wonde (a full refresh only every 30 days), two of its pupils given the ranges above."""
    la.with_secrets(monkeypatch)
    school, source = la.serve("wonde", la.files_schools[0], school_id="A100", token_env="WONDE_INC_TOKEN",
                              full_refresh_days=30)
    a, b = [p for p in source.pupils if p.upn and not p.is_leaver][:2]
    for pupil, ranges in ((a, ELIGIBLE), (b, EVER6)):
        source.change_pupil(pupil.upn, at=LONG_AGO, **{RANGES_KEY: ranges})
    return school, {"A": a.upn, "B": b.upn}, StateStore(tmp_path / "state")


def flags_of(extract, laestab: str, night: date, upn: str) -> tuple:
    pupils = canonical(extract.tables, laestab, night)["pupils"]
    row = pupils[pupils["upn"] == upn]
    assert len(row) == 1
    return tuple(None if pd.isna(v) else bool(v) for v in row[list(FLAGS)].iloc[0])


def test_unchanged_pupils_flags_are_counted_on_each_incremental_night(la, ranged):
    school, upns, store = ranged
    connector = WondeConnector()
    for night, expected in EXPECTED.items():
        extract = connector.fetch(school, as_of=night, state=store)
        assert connector.last_fetch["kind"] == ("full" if night == FULL_NIGHT else "incremental"), night
        if night != FULL_NIGHT:
            assert connector.last_fetch["pupils_changed"] == 0, night  # nobody re-read: all from the mirror
        for pupil, flags in expected.items():
            assert flags_of(extract, school.laestab, night, upns[pupil]) == flags, (night, pupil)
        # the ranges stay out of the raw extract (and so of the archive and the warehouse)
        assert PERIODS_KEY not in extract.tables["pupils"].columns
    # ... and the last incremental night equals a full fetch of that night (every pupil, every flag)
    full = WondeConnector().fetch(school, as_of=date(2026, 3, 20))
    assert_same_tables(canonical(extract.tables, school.laestab, date(2026, 3, 20)),
                       canonical(full.tables, school.laestab, date(2026, 3, 20)), school.key)


def test_the_mirror_keeps_the_ranges_privately_and_nothing_logs_them(la, ranged, caplog):
    school, upns, store = ranged
    connector = WondeConnector()
    caplog.set_level(logging.DEBUG)
    connector.fetch(school, as_of=FULL_NIGHT, state=store)
    connector.fetch(school, as_of=date(2026, 3, 20), state=store)
    folder = store.folder(school.key)
    pupils = pq.read_table(folder / "pupils.parquet").to_pylist()
    kept = {row["upn"]: json.loads(row[PERIODS_KEY]) for row in pupils}
    assert kept[upns["A"]] == {"fsm": [["2025-09-08", "2026-03-19"]], "looked_after": [["2024-01-08", "2026-03-19"]],
                               "child_protection_plan": [["2026-03-16", None]]}
    assert kept[upns["B"]] == {"fsm": [["2018-09-03", "2020-03-16"]], "looked_after": [], "child_protection_plan": []}
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in folder.iterdir())  # with the rest of the mirror
    said = " ".join(r.getMessage() for r in caplog.records) + json.dumps(connector.last_fetch)
    assert not any(day in said for day in ("2025-09-08", "2026-03-19", "2018-09-03", "2020-03-16", "2024-01-08"))
    assert PERIODS_KEY not in said
    assert store.delete(school.key) and not folder.exists()  # the purge deletes it with the mirror


def _as_old_code_wrote_it(store: StateStore, school, *, old_options: bool) -> None:
    """The mirror as the code before the ranges were kept wrote it: pupil rows without ``PERIODS_KEY``
    (their flags those of the night they were read), and, with ``old_options``, mapping version 2."""
    mirror = store.load(school.key)
    for row in mirror.snapshot.pupils.values():
        del row[PERIODS_KEY]
    if old_options:
        old = WondeConnector()
        old.mapping_version = 2
        mirror.options = options_hash(old, old.settings(school))
    store.save(school.key, mirror)


@pytest.mark.parametrize("old_options, reason", [(True, "route settings or mapping changed"),
                                                 (False, "the extract state predates a field the route keeps")])
def test_a_mirror_from_before_the_ranges_were_kept_is_rebuilt_by_one_full_fetch(la, ranged, old_options, reason):
    school, upns, store = ranged
    connector = WondeConnector()
    connector.fetch(school, as_of=FULL_NIGHT, state=store)
    _as_old_code_wrote_it(store, school, old_options=old_options)
    assert PERIODS_KEY not in pq.read_table(store.folder(school.key) / "pupils.parquet").column_names

    night = date(2026, 3, 17)
    extract = connector.fetch(school, as_of=night, state=store)  # would be incremental with a current mirror
    assert connector.last_fetch == {"kind": "full", "reason": reason}
    assert flags_of(extract, school.laestab, night, upns["B"]) == EXPECTED[night]["B"]
    assert PERIODS_KEY in pq.read_table(store.folder(school.key) / "pupils.parquet").column_names

    night = date(2026, 3, 20)
    extract = connector.fetch(school, as_of=night, state=store)  # the upgraded mirror: incremental again
    assert connector.last_fetch["kind"] == "incremental"
    assert [flags_of(extract, school.laestab, night, upns[p]) for p in "AB"] == [EXPECTED[night][p] for p in "AB"]
