"""Incremental extraction through Wonde (``updated_after`` + ``/deletions``), over real HTTP on loopback.

After a full first night, the school changes a register mark, a pupil's name, and deletes a pupil; the
second night fetches only changed pupils and a look-back window of marks, and its canonical tables equal
a fresh full fetch of the changed school.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from ncc_transfer.connectors.incremental import StateStore
from ncc_transfer.connectors.wonde.connector import WondeConnector
from ncc_transfer_tests.connectors.vendor_support import (AS_OF, amend_rename_delete, assert_incremental_equals_full, canonical,
                                               mark_rows, recent_school_day, running_vendor_la)

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
