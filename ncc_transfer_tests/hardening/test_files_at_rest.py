"""Pupil data at rest (docs/hardening.md, "Data at rest"): owner-only files whatever the umask, purged
and replaced rows gone from the warehouse's files, and ``latest.*`` reports purged by age."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from ncc_transfer.retention import NO_SCHOOL, default_retention, execute_purge, plan_purge
from ncc_transfer.warehouse import DuckDBWarehouse

from ncc_transfer_tests.conftest import ncc_env
from ncc_transfer_tests.retention.test_retention import AS_OF, A, B, build_warehouse, insert, pupil

ARCHIVE_KEY = "Zm9yLXRlc3RzLW9ubHktbm90LWEtcmVhbC1rZXkhISE="
PURGED_SURNAME = "Quillfeatherpurged"  # canaries: distinctive bytes to look for in the files
REPLACED_SURNAME = "Quillfeatherreplaced"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def too_open(paths: list[Path], root: Path) -> list[tuple[str, str]]:
    """Folders not 0o700 and files not 0o600 (sockets and symlinks are not data)."""
    found = []
    for path in paths:
        kind = os.lstat(path).st_mode
        if stat.S_ISSOCK(kind) or stat.S_ISLNK(kind):
            continue
        wanted = 0o700 if stat.S_ISDIR(kind) else 0o600
        if mode(path) != wanted:
            found.append((str(path.relative_to(root)), oct(mode(path))))
    return found


# -- owner-only files -------------------------------------------------------------------------------

def test_a_night_under_a_loose_umask_leaves_only_owner_only_files(small_la):
    """A real night through the command line, started with umask 022: everything it writes (warehouse,
    Dagster storage and compute logs, reports, archive) is 0o600 in 0o700 folders, and NCC_HOME and
    DAGSTER_HOME, made before under that umask, are made 0o700."""
    from ncc_transfer.cli import main

    home, _demo = small_la
    inputs = set(home.rglob("*"))  # the demo LA's registry and landing files, written before the night
    os.chmod(home, 0o755)
    os.chmod(home / "dagster_home", 0o755)
    previous = os.umask(0o022)
    try:
        with ncc_env(home, NCC_ARCHIVE_KEY=ARCHIVE_KEY):
            assert main(["run", "--as-of", "2026-03-20"]) == 0
    finally:
        os.umask(previous)

    written = sorted(set(home.rglob("*")) - inputs)
    assert too_open([home, home / "dagster_home", *written], home) == []
    names = {str(p.relative_to(home)) for p in written}
    assert "warehouse.duckdb" in names
    assert any(n.startswith("reports/") and n.endswith("latest.html") for n in names)
    assert any(n.startswith("archive/") and n.endswith(".enc") for n in names)
    assert {"dagster_home/history/runs.db", "dagster_home/schedules/schedules.db"} <= names  # Dagster's SQLite
    assert any(n.startswith("dagster_home/storage/") and "/compute_logs/" in n for n in names)


def test_the_code_location_sets_the_umask_at_import():
    """``dagster dev``, code servers and run workers import ``ncc_transfer.definitions``."""
    code = "import os; os.umask(0o022); import ncc_transfer.definitions; print(oct(os.umask(0o022)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0o77"


def test_homes_are_made_private_but_symlinks_are_not_followed(tmp_path, monkeypatch):
    from ncc_transfer.files_at_rest import tighten_homes

    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    for folder in (home, elsewhere):
        folder.mkdir()
        os.chmod(folder, 0o755)
    (home / "dagster").symlink_to(elsewhere, target_is_directory=True)
    monkeypatch.setenv("NCC_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    tighten_homes()
    assert mode(home) == 0o700
    assert mode(elsewhere) == 0o755  # a symlinked DAGSTER_HOME: its target is not ours to change


# -- purged and replaced rows gone from the warehouse's files ---------------------------------------

def file_bytes(path: Path) -> bytes:
    """The DuckDB file and its write-ahead log, as they are on disk."""
    wal = path.with_name(path.name + ".wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_purge_leaves_no_byte_of_purged_or_replaced_rows_in_the_duckdb_file(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    previous = os.umask(0o022)
    try:
        warehouse = DuckDBWarehouse(path)
        build_warehouse(warehouse)
        insert(warehouse, "pupils", [{**pupil(A, "P5", "2019-01-01"), "surname": PURGED_SURNAME},  # a leaver: goes
                                     {**pupil(B, "P5", None), "surname": REPLACED_SURNAME}])
        # a night replaces school B's row (what replace_school does: delete the school's rows, insert anew)
        warehouse.delete_where("pupils", "school_key = ? AND upn = ?", [B, pupil(B, "P5", None)["upn"]])
        insert(warehouse, "pupils", [{**pupil(B, "P5", None), "surname": "Renamed"}])
        warehouse.close()  # closing checkpoints the write-ahead log into the file
        assert REPLACED_SURNAME.encode() in file_bytes(path)  # the problem: DuckDB leaves them as bytes

        result = execute_purge(default_retention(), warehouse=warehouse, home=tmp_path / "home", as_of=AS_OF)
        assert not result.failures
        assert result.counts()["warehouse pupils"] == {A: 2}
        warehouse.close()
    finally:
        os.umask(previous)

    data = file_bytes(path)
    assert PURGED_SURNAME.encode() not in data and REPLACED_SURNAME.encode() not in data
    assert mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".warehouse", "warehouse"))) == [
        "warehouse.duckdb"]  # no copy or log left beside it
    again = DuckDBWarehouse(path)  # everything else is still there, and the warehouse still works
    try:
        surnames = set(again.read("SELECT surname FROM pupils")["surname"])
        assert "Renamed" in surnames and PURGED_SURNAME not in surnames and len(surnames) == 2
        assert len(again.read("SELECT * FROM audit_log WHERE event = 'purge'")) == len(result.items)
        again.append_audit([{"logged_at": datetime(2026, 3, 21), "event": "test", "outcome": "ok"}])
    finally:
        again.close()


def test_compaction_refuses_while_another_connection_has_the_file(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    first, second = DuckDBWarehouse(path), DuckDBWarehouse(path)
    try:
        build_warehouse(first)
        second.read("SELECT 1")  # holds the file open
        result = execute_purge(default_retention(), warehouse=first, home=tmp_path / "home", as_of=AS_OF,
                               raise_on_failure=False)
        assert list(result.failures) == ["warehouse storage"]
        assert "FAILED warehouse storage" in "\n".join(result.lines())
        assert second.count_where("pupils", "1 = 1") == 4  # the deletes stand; the file is the same one
    finally:
        first.close()
        second.close()
    assert not (tmp_path / ".warehouse.duckdb.compact").exists()


@pytest.mark.postgres
def test_purge_rewrites_every_postgres_table(pg, tmp_path):
    """VACUUM FULL does not set pg_stat_user_tables.last_vacuum; a rewritten table has a new file."""
    from ncc_transfer.warehouse import table_ddl

    build_warehouse(pg)
    before = {table: pg.relfilenode(table) for table in table_ddl()}
    result = execute_purge(default_retention(), warehouse=pg, home=tmp_path / "home", as_of=AS_OF)
    assert not result.failures and result.counts()["warehouse pupils"] == {A: 1}
    after = {table: pg.relfilenode(table) for table in table_ddl()}
    assert [t for t in table_ddl() if after[t] == before[t]] == []


# -- latest.* reports -------------------------------------------------------------------------------

def test_latest_reports_not_written_since_the_cut_off_are_purged_and_audited(tmp_path):
    home = tmp_path / "home"
    old = datetime.combine(AS_OF - timedelta(days=91), datetime.min.time()).timestamp()  # cut-off: 90 days
    on_cut_off = datetime.combine(AS_OF - timedelta(days=90), datetime.min.time()).timestamp()
    files = {"9261001/latest.html": old, "9261001/latest.csv": old,  # a school no longer loaded: go
             "9261002/latest.html": on_cut_off, "9261002/latest.csv": on_cut_off,  # stay
             "la/latest.html": old, "la/latest.png": old,  # go
             "9261001/latest.txt": old}  # not a report: stays
    for name, written in files.items():
        (home / "reports" / name).parent.mkdir(parents=True, exist_ok=True)
        (home / "reports" / name).write_text("Example, P1")
        os.utime(home / "reports" / name, (written, written))
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    try:
        plan = plan_purge(default_retention(), as_of=AS_OF, warehouse=warehouse, home=home)
        assert plan.item("reports", "files").by_school == {"9261001": 2, NO_SCHOOL: 2}
        execute_purge(plan, warehouse=warehouse)
        left = sorted(str(p.relative_to(home / "reports")) for p in (home / "reports").rglob("*") if p.is_file())
        assert left == ["9261001/latest.txt", "9261002/latest.csv", "9261002/latest.html"]
        detail = json.loads(warehouse.read("SELECT detail FROM audit_log WHERE event = 'purge' "
                                           "AND detail LIKE '%reports_days%'")["detail"].iloc[0])
        assert detail["by_school"] == {"9261001": 2, NO_SCHOOL: 2} and "latest.*" in detail["cutoff"]
    finally:
        warehouse.close()
