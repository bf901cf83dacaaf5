"""The simulator's renderings: kept while a school is served from the same records, dropped when its
records are read again (a new ``SourceSchool`` numbers its revisions from 0 again)."""

from __future__ import annotations

from types import SimpleNamespace

from ncc_transfer.simulator import Simulator, SourceSchool


def test_registering_the_same_records_again_keeps_the_renderings():
    sim, source = Simulator(), SourceSchool("9262001")
    sim.add("wonde", "A1", SimpleNamespace(source=source))
    sim.cache[("wonde", "A1", source.revision)] = "rendered"
    sim.add("wonde", "A1", SimpleNamespace(source=source))  # new credentials, the same records
    sim.add("wonde", "B2", SimpleNamespace(source=SourceSchool("9262002")))  # another school
    assert sim.cache.get(("wonde", "A1", 0)) == "rendered"


def test_records_read_again_drop_the_renderings():
    sim = Simulator()
    sim.add("wonde", "A1", SimpleNamespace(source=SourceSchool("9262001")))
    sim.cache[("wonde", "A1", 0)] = "rendered"
    sim.add("wonde", "A1", SimpleNamespace(source=SourceSchool("9262001")))  # e.g. the landing folder changed
    assert sim.cache.get(("wonde", "A1", 0)) is None
