"""The warehouse in an embedded DuckDB file (``NCC_WAREHOUSE_URL=duckdb:///path/to/file.duckdb``).

The shared sequence is ``base.SqlWarehouse``; here only the connection (one per object, the file's
single-writer lock), the transaction, the bulk load (a registered pandas frame,
``INSERT ... BY NAME``) and the roll's upsert.

Deleted rows stay in the DuckDB file as bytes: DuckDB reuses the freed blocks but neither
``CHECKPOINT`` nor ``VACUUM`` erases them ("Reclaiming Space",
https://duckdb.org/docs/2.0/operations_manual/footprint_of_duckdb/reclaiming_space.html). So
``reclaim_space`` (run by the retention purge) compacts the file the way that page recommends:
``COPY FROM DATABASE`` into a fresh file (https://duckdb.org/docs/2.0/sql/statements/copy.html),
which then replaces the old one. The file is made 0o600 when opened and when replaced.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import duckdb
import pandas as pd

from ..files_at_rest import PRIVATE_FILE_MODE, make_private
from .base import DiskFull, SqlWarehouse, WarehouseUnavailable, is_disk_full, warehouse_table


class DuckDBWarehouse(SqlWarehouse):
    """A DuckDB file. Single writer: while one process has it open, others cannot write to it.

    The connection is opened on first use and kept until ``close()`` (a run opens it once, not once
    per school: opening a DuckDB file costs tens of milliseconds).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.url = f"duckdb:///{self.path}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con: duckdb.DuckDBPyConnection | None = None
        with self._connect() as con:
            self._create_tables(con)

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._con is None:
            try:
                self._con = duckdb.connect(str(self.path))
            except duckdb.IOException as exc:
                if is_disk_full(exc):
                    raise DiskFull(f"disk full: {self.path}") from None
                # e.g. 'Could not set lock on file ...: Conflicting lock is held in ... (PID 123)'
                holder = re.search(r"\(PID (\d+)\)", str(exc))
                raise WarehouseUnavailable(f"warehouse locked: {self.path} is open in another process"
                                           + (f" (pid {holder.group(1)})" if holder else "")) from None
            make_private(self.path, PRIVATE_FILE_MODE)  # a file made under a looser umask, by an older version
        yield self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    @contextmanager
    def _transaction(self, lock: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        # ``lock`` is not needed: one process writes the file at a time (its lock)
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def _existing_columns(self, con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
        existing: dict[str, set[str]] = {}
        for table, column in con.execute("SELECT table_name, column_name FROM information_schema.columns "
                                         "WHERE table_catalog = current_database() "
                                         "AND table_schema = current_schema()").fetchall():
            existing.setdefault(table, set()).add(column)
        return existing

    def _execute(self, con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> None:
        con.execute(sql, params or [])

    def _select(self, con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        return con.execute(sql, params or []).df()

    def _insert(self, con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
        if len(frame):
            con.register("incoming", frame)
            try:
                con.execute(f"INSERT INTO {self._table(table)} BY NAME SELECT * FROM incoming")
            finally:
                con.unregister("incoming")

    def _record_roll(self, con: duckdb.DuckDBPyConnection, roll: pd.DataFrame) -> None:
        con.register("tonight", roll)
        try:
            con.execute(
                "UPDATE roll_history AS h SET last_seen = t.seen_on, "
                "entry_date = coalesce(t.entry_date, h.entry_date), leaving_date = t.leaving_date, "
                "dob = coalesce(t.dob, h.dob), nc_year = coalesce(t.nc_year, h.nc_year) "
                "FROM tonight AS t WHERE h.school_key = t.school_key AND h.upn = t.upn")
            con.execute(
                "INSERT INTO roll_history (school_key, laestab, upn, entry_date, leaving_date, first_seen, last_seen, "
                "dob, nc_year) SELECT t.school_key, t.laestab, t.upn, t.entry_date, t.leaving_date, "
                "t.seen_on, t.seen_on, t.dob, t.nc_year FROM tonight AS t WHERE NOT EXISTS "
                "(SELECT 1 FROM roll_history AS h WHERE h.school_key = t.school_key AND h.upn = t.upn)")
        finally:
            con.unregister("tonight")

    def read(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        with self._connect() as con:
            return con.execute(sql, params or []).df()

    def delete_where(self, table: str, condition: str, params: list[Any] | None = None) -> int:
        with self._transaction() as con:
            return self._changed(con, f"DELETE FROM {self._table(warehouse_table(table))} WHERE {condition}", params)

    def _changed(self, con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None) -> int:
        return int(con.execute(sql, params or []).fetchone()[0])  # DuckDB answers a DELETE/UPDATE with its count

    def describe(self) -> str:
        return str(self.path)

    def reclaim_space(self) -> None:
        """Copy the live tables into a fresh file and move it over this one (then no byte of a
        deleted or replaced row is left in ``path``; the file system's freed blocks are another matter:
        see docs/hardening.md).

        This object's connection is closed first (closing checkpoints the ``.wal`` into the file). The
        copy is made through a READ_ONLY connection: DuckDB refuses one while any other connection
        in this process has the file open with its default settings, and while another process has it
        open for writing; and it keeps writers out until the fresh file is in place.
        """
        self.close()
        fresh = self.path.with_name(f".{self.path.name}.compact")
        _remove(fresh, _wal(fresh))
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            if _wal(self.path).exists():  # left by a writer that did not close: it would not match the copy
                raise RuntimeError(f"{_wal(self.path).name} is still there: the warehouse was not closed cleanly")
            catalog = con.execute("SELECT current_database()").fetchone()[0]
            con.execute(f"ATTACH {_sql_text(str(fresh))} AS compacted (READ_WRITE)")
            con.execute(f'COPY FROM DATABASE "{catalog}" TO compacted')
            con.execute("CHECKPOINT compacted")
            con.execute("DETACH compacted")
            os.chmod(fresh, PRIVATE_FILE_MODE)
            os.replace(fresh, self.path)
            _sync_folder(self.path.parent)
        except BaseException:
            _remove(fresh, _wal(fresh))
            raise
        finally:
            con.close()


def _wal(path: Path) -> Path:
    """DuckDB's write-ahead log beside a database file."""
    return path.with_name(path.name + ".wal")


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _sql_text(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

