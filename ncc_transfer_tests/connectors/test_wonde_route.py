"""The Wonde route's own checks (issue #4, first vertical slice).

The tables-identical-to-the-files-route check, the night through ``process_school``, the secrets and
the shared simulator faults run for every route in ``test_route_contract.py``; incremental extraction
is in ``test_wonde_incremental.py``; a failing school in the night and the raw archive in
``test_wonde_faults.py``.
"""

from __future__ import annotations

import pytest

from ncc_transfer.registry import RegistryError
from ncc_transfer_tests.connectors.vendor_support import route_registry


def test_registry_requires_wonde_settings(tmp_path):
    with pytest.raises(RegistryError, match=r"source\.token_env: missing"):
        route_registry("wonde", {"school_id": "A1"}, tmp_path)
