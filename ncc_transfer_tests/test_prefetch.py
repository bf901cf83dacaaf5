"""Preparing schools ahead in a worker process (``ncc_transfer.prefetch``): same results as preparing
them in this process, one worker per night, and a worker failure never loses a school."""

from __future__ import annotations

import os
import sys

import pandas as pd
import pytest

from ncc_transfer import prefetch
from ncc_transfer.canonical import TABLES
from ncc_transfer.prefetch import prepared_in_order

from .conftest import DEMO_AS_OF, ncc_env

TIMESTAMPS = ("extracted_at", "first_seen", "last_seen")  # when it ran: differs between two preparations


def _prepare_all(home, **env):
    from ncc_transfer.cli import _load_registry

    with ncc_env(home, **env):
        schools = list(_load_registry().active_schools)
        return schools, list(prepared_in_order(schools, home=home, as_of=DEMO_AS_OF, min_schools=2,
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


@pytest.mark.parametrize("broken", ["send", "exits"])
def test_a_failing_worker_only_loses_the_overlap(small_la, monkeypatch, broken):
    if broken == "send":
        def refuse(self, *task):
            raise OSError("broken pipe")
        monkeypatch.setattr(prefetch._Worker, "send", refuse)
    else:  # starts, says it is ready, then dies before answering
        monkeypatch.setattr(prefetch._Worker, "command", [
            sys.executable, "-c",
            "import pickle, sys; pickle.dump(('ready', None), sys.stdout.buffer); sys.stdout.flush(); sys.stdin.read(1)"])
    home, _ = small_la
    schools, prepared = _prepare_all(home)
    assert [p.outcome.school_key for p in prepared] == [s.key for s in schools]
    assert all(p.outcome.message is None and p.tables is not None for p in prepared)  # ready to load
    assert {p.pid for p in prepared} == {os.getpid()}
