"""What a vendor school's fetch holds per mark: its records column by column (``connectors.records``),
not a Python dict per record (about 800 bytes a mark before).

Each route's connector fetches one school of some 106,000 marks from the simulator over loopback, in a
fresh process so nothing else is counted. Its peak is measured twice, since two allocators hold it:
``tracemalloc`` sees Python's objects and NumPy's arrays (the raw extract), Arrow's own memory pool
the columns (``pyarrow.default_memory_pool().max_memory()``). The two peaks added are an upper bound
on the fetch's peak, and that bound stays within 150 bytes a mark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ncc_transfer_tests.connectors.vendor_support import AS_OF, build_vendor_la

LIMIT = 150  # bytes a mark
ROUTES = ("wonde", "xporter", "arbor")

FETCH = """
import json, pickle, sys, tracemalloc
from datetime import date
import pyarrow as pa
from ncc_transfer.connectors.routes import connector_for
school = pickle.loads(bytes.fromhex(sys.argv[1]))
connector = connector_for(school.mis)
tracemalloc.start()
raw = connector.fetch(school, as_of=date.fromisoformat(sys.argv[2]))
print(json.dumps({"marks": len(raw.tables["attendance"]), "python": tracemalloc.get_traced_memory()[1],
                  "arrow": pa.default_memory_pool().max_memory()}))
"""


@pytest.fixture(scope="module")
def la(tmp_path_factory):
    la, stop = build_vendor_la(tmp_path_factory.mktemp("fetch_memory"), schools=1, pupils_scale=1.5)
    yield la
    stop()


@pytest.mark.parametrize("route", ROUTES)
def test_a_fetched_mark_costs_at_most_150_bytes(la, route, monkeypatch):
    import pickle

    served = la.serve_demo(route, monkeypatch)
    result = subprocess.run([sys.executable, "-c", FETCH, pickle.dumps(served.school).hex(), AS_OF.isoformat()],
                            capture_output=True, text=True, env={**os.environ, **la.secrets}, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    measured = json.loads(result.stdout)
    assert measured["marks"] > 100_000  # a school large enough that one page in flight is a small part
    per_mark = (measured["python"] + measured["arrow"]) / measured["marks"]
    assert per_mark <= LIMIT, f"{route}: {per_mark:.0f} bytes a mark ({measured})"
