"""The warehouse: where the LA's data lands.

One interface, ``Warehouse``, with the embedded DuckDB backend here; the PostgreSQL backend
(``warehouse_postgres``) plugs in behind the same methods (``open_warehouse`` picks by URL scheme). The rule every backend keeps:
a school's rows are replaced in ONE transaction (delete its rows, insert the new ones, for every
table at once), so a re-run is idempotent and a failure leaves the previous load untouched.

Deleted rows stay in the DuckDB file as bytes: DuckDB reuses the freed blocks but neither
``CHECKPOINT`` nor ``VACUUM`` erases them ("Reclaiming Space",
https://duckdb.org/docs/2.0/operations_manual/footprint_of_duckdb/reclaiming_space.html). So
``reclaim_space`` (run by the retention purge) compacts the file the way that page recommends:
``COPY FROM DATABASE`` into a fresh file (https://duckdb.org/docs/2.0/sql/statements/copy.html),
which then replaces the old one. The file is made 0o600 when opened and when replaced.
"""

from __future__ import annotations

import errno
import json
import os
import re
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator, Protocol

import duckdb
import pandas as pd

from .canonical import (
    CANONICAL_COLUMNS,
    ROLL_HISTORY_COLUMNS,
    STORED_ISSUE_COLUMNS,
    TABLES,
    VIEW_COLUMNS,
    column_type,
)
from .files_at_rest import PRIVATE_FILE_MODE, make_private
from .issue_history import merge_issue_history
from .timing import section

SQL_TYPES = {"text": "VARCHAR", "date": "DATE", "int": "INTEGER", "timestamp": "TIMESTAMP", "float": "DOUBLE",
             "bool": "BOOLEAN"}

AUDIT_COLUMNS = {
    "logged_at": "TIMESTAMP",
    "event": "VARCHAR",  # extraction | ...
    "school_key": "VARCHAR",
    "route": "VARCHAR",
    "run_id": "VARCHAR",
    "outcome": "VARCHAR",  # loaded | failed | skipped
    "detail": "VARCHAR",  # JSON: counts only, never pupil data
    "message": "VARCHAR",  # plain English, never pupil data
}



class WarehouseUnavailable(Exception):
    """The warehouse cannot be used at all tonight (unreachable, login refused, file locked): the night
    stops with this one-line message, and no step retry is attempted (a retry minutes later would meet
    the same fault). Messages name host and port or the file, never a password."""


class DiskFull(Exception):
    """The disk under the warehouse (or $NCC_HOME) is full: every school after this one would fail the
    same way, so the night stops with ``disk full: <where>``."""


# What the disk-full error says on each layer: the OS (strerror(ENOSPC), also inside DuckDB's IO and
# Transaction errors) and PostgreSQL (SQLSTATE 53100 disk_full, psycopg.errors.DiskFull).
_DISK_FULL_TEXT = ("No space left on device", "Disk quota exceeded", "could not extend file")


def is_disk_full(exc: BaseException | None) -> bool:
    """Is ``exc`` (or an exception it was raised from) a disk-full error?

    ``OSError`` with ``errno.ENOSPC``/``EDQUOT``; psycopg's ``DiskFull`` (SQLSTATE 53100, see
    https://www.postgresql.org/docs/current/errcodes-appendix.html); a DuckDB error whose text carries
    the OS's "No space left on device" (DuckDB raises ``IOException`` or, at commit,
    ``TransactionException`` with it)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if getattr(exc, "sqlstate", None) == "53100":
            return True
        if isinstance(exc, duckdb.Error) and any(text in str(exc) for text in _DISK_FULL_TEXT):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def table_ddl() -> dict[str, dict[str, str]]:
    """Column name -> SQL type for every table the warehouse owns."""
    tables = {t: {c: SQL_TYPES[column_type(t, c)] for c in CANONICAL_COLUMNS[t]} for t in TABLES}
    tables["validation_issues"] = {c: SQL_TYPES[column_type("validation_issues", c)] for c in STORED_ISSUE_COLUMNS}
    tables["audit_log"] = dict(AUDIT_COLUMNS)
    tables["roll_history"] = {c: SQL_TYPES[k] for c, k in ROLL_HISTORY_COLUMNS.items()}
    for view, columns in VIEW_COLUMNS.items():
        tables[view] = {c: SQL_TYPES[k] for c, k in columns.items()}
    return tables


def warehouse_table(table: str) -> str:
    """``table`` if the warehouse owns a table of that name (guards SQL built from a table name)."""
    if table not in table_ddl():
        raise ValueError(f"{table!r} is not a warehouse table")
    return table


class Warehouse(Protocol):
    url: str

    def replace_school(self, school_key: str, tables: dict[str, pd.DataFrame], issues: pd.DataFrame,
                       roll: pd.DataFrame | None = None, night: date | None = None,
                       views: dict[str, pd.DataFrame] | None = None) -> None:
        """Replace the school's rows in the given tables and merge its validation issues, atomically.

        Issues are merged with the school's stored ones by ``issue_history.merge_issue_history``
        (new / persisting / fixed) for the night ``night`` (default today).

        ``roll`` (school_key, laestab, upn, entry_date, leaving_date, seen_on) records who was on
        tonight's extract in ``roll_history`` in the same transaction. ``views`` (view name -> the
        school's rows, computed from ``tables``) replace the school's view rows in it too, so its
        rows and views never disagree, even after a crash.
        """

    def replace_views(self, views: dict[str, pd.DataFrame], school_key: str | None = None) -> None:
        """Replace view rows atomically: the school's rows, or (school_key None) the whole views."""

    def school_rows(self, table: str, school_key: str) -> pd.DataFrame:
        """One school's rows of a table, with canonical pandas types."""

    def replace_issues(self, school_key: str, issues: pd.DataFrame, night: date | None = None,
                       checked_datasets: set[str] | None = None) -> None:
        """Merge only the school's validation issues (its data stays as last loaded).

        Stored issues of datasets outside ``checked_datasets`` are kept as they were.
        """

    def append_audit(self, rows: list[dict[str, Any]]) -> None: ...

    def delete_where(self, table: str, condition: str, params: list[Any] | None = None) -> int:
        """Delete the table's rows matching ``condition`` in ONE transaction; returns how many went.

        ``condition`` is SQL written by the code (never text from a user or a file), standard SQL
        that runs on both backends, with ``?`` placeholders for every value; ``table`` must be one of
        the warehouse's tables. Used by the retention purge (``retention``).
        """

    def count_where(self, table: str, condition: str, params: list[Any] | None = None) -> int:
        """How many of the table's rows match ``condition`` (what ``delete_where`` would delete)."""

    def read(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Rows of a query. Placeholders are ``?`` (qmark) on every backend: the one convention the
        codebase uses (PostgreSQL translates them). Write standard SQL that runs on DuckDB and
        PostgreSQL alike (no ``GROUP BY ALL``, ``EXCLUDE``, ``ORDER BY ALL``)."""

    def describe(self) -> str:
        """Where the data is, for people (no secrets)."""

    def reclaim_space(self) -> None:
        """Rewrite the storage so the bytes of deleted and replaced rows are gone from the files
        (DuckDB: the file compacted into a fresh one; PostgreSQL: ``VACUUM FULL`` of every table).
        Needs the warehouse to itself: raises if another connection has it open for writing."""

    def close(self) -> None:
        """Release connections (the DuckDB file lock)."""


class DuckDBWarehouse:
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

    @staticmethod
    def _create_tables(con: duckdb.DuckDBPyConnection) -> None:
        for table, columns in table_ddl().items():
            body = ", ".join(f'"{c}" {t}' for c, t in columns.items())
            con.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({body})')
            existing = {row[0] for row in con.execute(f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}'").fetchall()}
            for column, sql_type in columns.items():  # contracts only grow: add new columns in place
                if column not in existing:
                    con.execute(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {sql_type}')

    def replace_school(self, school_key: str, tables: dict[str, pd.DataFrame], issues: pd.DataFrame,
                       roll: pd.DataFrame | None = None, night: date | None = None,
                       views: dict[str, pd.DataFrame] | None = None) -> None:
        with self._transaction() as con:
            for table, frame in tables.items():
                self._replace(con, table, school_key, frame[CANONICAL_COLUMNS[table]])
            self._replace_issues(con, school_key, issues, night, None)
            if roll is not None:
                self._record_roll(con, roll)
            with section("views_write"):  # part of the load, timed apart for the benchmark
                self._replace_views(con, views or {}, school_key)

    def replace_views(self, views: dict[str, pd.DataFrame], school_key: str | None = None) -> None:
        with self._transaction() as con:
            self._replace_views(con, views, school_key)

    @classmethod
    def _replace_views(cls, con: duckdb.DuckDBPyConnection, views: dict[str, pd.DataFrame],
                       school_key: str | None) -> None:
        for view, frame in views.items():
            frame = frame[list(VIEW_COLUMNS[view])]
            if school_key is None:
                con.execute(f'DELETE FROM "{view}"')
                cls._insert(con, view, frame)
            else:
                cls._replace(con, view, school_key, frame)

    def school_rows(self, table: str, school_key: str) -> pd.DataFrame:
        frame = self.read(f'SELECT * FROM "{table}" WHERE school_key = ?', [school_key])
        return _with_canonical_types(table, frame)

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    @staticmethod
    def _record_roll(con: duckdb.DuckDBPyConnection, roll: pd.DataFrame) -> None:
        """Upsert tonight's roll: new pupils get first_seen, everyone on it gets last_seen."""
        roll = _with_optional_roll_columns(roll)
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

    def replace_issues(self, school_key: str, issues: pd.DataFrame, night: date | None = None,
                       checked_datasets: set[str] | None = None) -> None:
        with self._transaction() as con:
            self._replace_issues(con, school_key, issues, night, checked_datasets)

    @classmethod
    def _replace(cls, con: duckdb.DuckDBPyConnection, table: str, school_key: str, frame: pd.DataFrame) -> None:
        con.execute(f'DELETE FROM "{table}" WHERE school_key = ?', [school_key])
        cls._insert(con, table, frame)

    @staticmethod
    def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
        if len(frame):
            con.register("incoming", frame)
            try:
                con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM incoming')
            finally:
                con.unregister("incoming")

    def _replace_issues(self, con: duckdb.DuckDBPyConnection, school_key: str, issues: pd.DataFrame,
                        night: date | None, checked_datasets: set[str] | None) -> None:
        previous = con.execute("SELECT * FROM validation_issues WHERE school_key = ?", [school_key]).df()
        merged = merge_issue_history(previous, issues, night=night or date.today(), seen_at=_seen_at(issues),
                                     checked_datasets=checked_datasets)
        self._replace(con, "validation_issues", school_key, merged)

    def append_audit(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        frame = pd.DataFrame([{c: _audit_value(row.get(c)) for c in AUDIT_COLUMNS} for row in rows])
        with self._connect() as con:
            con.register("incoming", frame)
            con.execute('INSERT INTO audit_log BY NAME SELECT * FROM incoming')

    def read(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        with self._connect() as con:
            return con.execute(sql, params or []).df()

    def delete_where(self, table: str, condition: str, params: list[Any] | None = None) -> int:
        warehouse_table(table)
        with self._transaction() as con:
            return int(con.execute(f'DELETE FROM "{table}" WHERE {condition}', params or []).fetchone()[0])

    def count_where(self, table: str, condition: str, params: list[Any] | None = None) -> int:
        warehouse_table(table)
        with self._connect() as con:
            return int(con.execute(f'SELECT count(*) FROM "{table}" WHERE {condition}', params or []).fetchone()[0])

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


def _seen_at(issues: pd.DataFrame) -> datetime:
    """When tonight's findings were made (their extraction time), for ``last_seen``."""
    stamps = pd.to_datetime(issues["last_seen"]).dropna() if len(issues) else pd.Series(dtype="datetime64[ns]")
    return stamps.max().to_pydatetime() if len(stamps) else datetime.now()


def _with_canonical_types(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows read back from SQL, in the types the rules expect (dates as datetime64[ns], text as Arrow)."""
    if table in CANONICAL_COLUMNS:
        from .canonical import coerce_types

        return coerce_types(table, frame)
    return frame


def _with_optional_roll_columns(roll: pd.DataFrame) -> pd.DataFrame:
    """The roll with ``dob`` (datetime64) and ``nc_year`` (text) columns, null where the caller gave none."""
    roll = roll.copy()
    if "dob" not in roll.columns:
        roll["dob"] = pd.Series(pd.NaT, index=roll.index, dtype="datetime64[ns]")
    if "nc_year" not in roll.columns:
        roll["nc_year"] = pd.Series(None, index=roll.index, dtype=object)
    roll["dob"] = pd.to_datetime(roll["dob"], errors="coerce")
    roll["nc_year"] = roll["nc_year"].astype(object).where(roll["nc_year"].notna(), None)
    return roll


def _audit_value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return value


def check_warehouse(url: str) -> None:
    """Open the warehouse and ask it one trivial question; raises ``WarehouseUnavailable`` (or
    ``DiskFull``) at once if that is not possible. Run before a night creates any Dagster run."""
    warehouse = open_warehouse(url)
    try:
        warehouse.read("SELECT 1 AS ok")
    finally:
        warehouse.close()


def open_warehouse(url: str) -> Warehouse:
    """The warehouse for a ``NCC_WAREHOUSE_URL``."""
    if url.startswith("duckdb:///"):
        return DuckDBWarehouse(Path(url[len("duckdb:///"):]))
    if url.startswith(("postgresql://", "postgres://")):
        from .warehouse_postgres import PostgresWarehouse

        return PostgresWarehouse(url)
    raise ValueError(f"NCC_WAREHOUSE_URL must start with duckdb:/// or postgresql:// (got scheme {url.split(':', 1)[0]!r})")
