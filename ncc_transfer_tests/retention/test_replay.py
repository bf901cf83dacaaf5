"""Replay: a night's archived raw extract reloads the school exactly as that night, with no route call."""

from __future__ import annotations

import pandas as pd

from ncc_transfer.canonical import TABLES
from ncc_transfer_tests.conftest import DEMO_AS_OF, ncc_env

KEY = "q2bbz5ZbXlH1lzQnYJk6rZ8nS0Cq3z2l3o5A9Q4v0dE="  # 32 bytes, urlsafe base64 (test only)


def _tables(warehouse):
    return {t: warehouse.read(f'SELECT * {"EXCLUDE (extracted_at) " if t == "pupils" else ""}FROM "{t}" ORDER BY ALL')
            for t in TABLES}


def test_replay_reproduces_the_load_from_the_archive(small_la):
    from ncc_transfer.archive import archived_nights
    from ncc_transfer.cli import _load_registry, main, run_night
    from ncc_transfer.warehouse import DuckDBWarehouse

    home, demo = small_la
    with ncc_env(home, NCC_ARCHIVE_KEY=KEY):
        registry = _load_registry()
        first = run_night(registry, as_of=DEMO_AS_OF)
        assert first.failed == 0
        for school in registry.active_schools:
            assert archived_nights(home, school.key) == [DEMO_AS_OF]
            archive_folder = home / "archive" / school.key / DEMO_AS_OF.isoformat()
            assert oct(archive_folder.stat().st_mode & 0o777) == "0o700"
        warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
        before = _tables(warehouse)
        warehouse.close()

        # The landing folders are gone (or changed): the replay does not look at them.
        for school in registry.active_schools:
            for path in school.landing_folder(home).iterdir():
                path.write_bytes(b"overwritten since")
        assert main(["run", "--as-of", DEMO_AS_OF.isoformat(), "--replay"]) == 0

        warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
        after = _tables(warehouse)
        replays = warehouse.read("SELECT count(*) AS n FROM audit_log WHERE event = 'replay' AND outcome = 'loaded'")
        warehouse.close()
    for table in TABLES:
        pd.testing.assert_frame_equal(before[table], after[table])
    assert replays["n"].iloc[0] == len(registry.active_schools)


def test_replay_without_an_archive_fails_that_school_clearly(small_la, capsys):
    from ncc_transfer.cli import main

    home, demo = small_la
    with ncc_env(home, NCC_ARCHIVE_KEY=KEY):
        assert main(["run", "--as-of", "2026-01-05", "--replay"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "2026-01-05" in out


def test_replay_needs_a_night(capsys, tmp_path):
    from ncc_transfer.cli import main

    (tmp_path / "schools.yaml").write_text('local_authority: {code: "926", name: T}\nschools:\n'
                                           '  - {laestab: "9262001", name: X, mis: files, source: {path: x}}\n')
    with ncc_env(tmp_path):
        assert main(["run", "--replay"]) == 2
    assert "--replay needs --as-of" in capsys.readouterr().err
