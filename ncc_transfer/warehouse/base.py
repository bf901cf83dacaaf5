"""What every warehouse backend shares: the tables, the errors, and a school's write as one sequence.

``SqlWarehouse`` holds the backend-independent logic once: the tables and their columns
(``table_ddl``, created if missing, columns a newer contract adds added in place: contracts only
grow) and the steps of a school's transaction (``replace_school``: replace its rows in every table,
merge its validation issues with their history, record tonight's roll, replace its views). A
backend (``duckdb.DuckDBWarehouse``, ``postgres.PostgresWarehouse``) supplies only its connection
and transaction, its SQL types, how it bulk-loads a frame and reads rows back, and the upsert of the
roll (the one statement whose SQL differs).

The rule every backend keeps: a school's rows are replaced in ONE transaction (delete its rows,
insert the new ones, for every table at once), so a re-run is idempotent and a failure leaves the
previous load untouched.
"""

from __future__ import annotations

import errno
import json
import sys
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any, Protocol

import pandas as pd

from ..canonical import (
    CANONICAL_COLUMNS,
    ROLL_HISTORY_COLUMNS,
    STORED_ISSUE_COLUMNS,
    TABLES,
    VIEW_COLUMNS,
    column_type,
)
from ..issue_history import merge_issue_history
from ..timing import section

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
    duckdb = sys.modules.get("duckdb")  # a DuckDB error can only come from an imported duckdb
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if getattr(exc, "sqlstate", None) == "53100":
            return True
        if duckdb is not None and isinstance(exc, duckdb.Error) and any(text in str(exc) for text in _DISK_FULL_TEXT):
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

    def blank_where(self, table: str, columns: list[str], condition: str, params: list[Any] | None = None) -> int:
        """Set ``columns`` to null in the table's rows matching ``condition`` in ONE transaction; returns how
        many rows changed. ``condition`` and ``params`` as for ``delete_where``. Used by the retention purge
        (a leaver's cohort fields)."""

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


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


class SqlWarehouse:
    """The backend-independent half of a warehouse (see the module's docstring). ``cur`` is what the
    backend's ``_transaction`` yields (a DuckDB connection, a psycopg cursor)."""

    url: str

    # -- what a backend supplies --------------------------------------------------------------------

    def _transaction(self, lock: str | None = None) -> AbstractContextManager[Any]:
        """One transaction, rolled back on any error; ``lock`` names what concurrent writers serialise on."""
        raise NotImplementedError

    def _execute(self, cur, sql: str, params: list[Any] | None = None) -> None:
        """Run SQL written with ``?`` placeholders."""
        raise NotImplementedError

    def _select(self, cur, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Rows of a query (``?`` placeholders) inside the transaction."""
        raise NotImplementedError

    def _insert(self, cur, table: str, frame: pd.DataFrame) -> None:
        """Bulk-load a frame's rows (columns by name) into ``table``."""
        raise NotImplementedError

    def _record_roll(self, cur, roll: pd.DataFrame) -> None:
        """Upsert tonight's roll (all of ``ROLL_HISTORY``'s inputs, ``with_optional_roll_columns``):
        new pupils get first_seen, everyone on it gets last_seen."""
        raise NotImplementedError

    def _existing_columns(self, cur) -> dict[str, set[str]]:
        """Table name -> its columns, for the tables of this warehouse that exist."""
        raise NotImplementedError

    def _sql_type(self, sql_type: str) -> str:
        """A ``SQL_TYPES`` type in the backend's spelling."""
        return sql_type

    def _table(self, table: str) -> str:
        """The table's name in SQL (quoted, qualified if the backend needs it)."""
        return ident(table)

    def read(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        raise NotImplementedError

    # -- the shared sequence ------------------------------------------------------------------------

    def _create_tables(self, cur) -> None:
        """Create the missing tables; add in place the columns a newer contract added."""
        existing = self._existing_columns(cur)
        for table, columns in table_ddl().items():
            if table not in existing:
                body = ", ".join(f"{ident(c)} {self._sql_type(t)}" for c, t in columns.items())
                self._execute(cur, f"CREATE TABLE {self._table(table)} ({body})")
                continue
            for column, sql_type in columns.items():
                if column not in existing[table]:
                    self._execute(cur, f"ALTER TABLE {self._table(table)} ADD COLUMN {ident(column)} "
                                       f"{self._sql_type(sql_type)}")

    def replace_school(self, school_key: str, tables: dict[str, pd.DataFrame], issues: pd.DataFrame,
                       roll: pd.DataFrame | None = None, night: date | None = None,
                       views: dict[str, pd.DataFrame] | None = None) -> None:
        with self._transaction(lock=f"school {school_key}") as cur:
            for table, frame in tables.items():
                self._replace(cur, table, school_key, frame[CANONICAL_COLUMNS[table]])
            self._replace_issues(cur, school_key, issues, night, None)
            if roll is not None:
                self._record_roll(cur, with_optional_roll_columns(roll))
            with section("views_write"):  # part of the load, timed apart for the benchmark
                self._replace_views(cur, views or {}, school_key)

    def replace_views(self, views: dict[str, pd.DataFrame], school_key: str | None = None) -> None:
        with self._transaction(lock=f"school {school_key}" if school_key is not None else "la views") as cur:
            self._replace_views(cur, views, school_key)

    def replace_issues(self, school_key: str, issues: pd.DataFrame, night: date | None = None,
                       checked_datasets: set[str] | None = None) -> None:
        with self._transaction(lock=f"school {school_key}") as cur:
            self._replace_issues(cur, school_key, issues, night, checked_datasets)

    def append_audit(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        frame = pd.DataFrame([{c: audit_value(row.get(c)) for c in AUDIT_COLUMNS} for row in rows])
        with self._transaction() as cur:
            self._insert(cur, "audit_log", frame)

    def school_rows(self, table: str, school_key: str) -> pd.DataFrame:
        frame = self.read(f"SELECT * FROM {ident(table)} WHERE school_key = ?", [school_key])
        return with_canonical_types(table, frame)

    def blank_where(self, table: str, columns: list[str], condition: str, params: list[Any] | None = None) -> int:
        columns = [c for c in columns if c in table_ddl()[warehouse_table(table)]]
        assignments = ", ".join(f"{ident(c)} = NULL" for c in columns)
        with self._transaction() as cur:
            return self._changed(cur, f"UPDATE {self._table(table)} SET {assignments} WHERE {condition}", params)

    def _changed(self, cur, sql: str, params: list[Any] | None) -> int:
        """Run an UPDATE or DELETE (``?`` placeholders); how many rows it changed."""
        raise NotImplementedError

    def count_where(self, table: str, condition: str, params: list[Any] | None = None) -> int:
        frame = self.read(f"SELECT count(*) AS n FROM {self._table(warehouse_table(table))} WHERE {condition}", params)
        return int(frame["n"].iloc[0])

    def _replace_views(self, cur, views: dict[str, pd.DataFrame], school_key: str | None) -> None:
        for view, frame in views.items():
            frame = frame[list(VIEW_COLUMNS[view])]
            if school_key is None:
                self._execute(cur, f"DELETE FROM {self._table(view)}")
                self._insert(cur, view, frame)
            else:
                self._replace(cur, view, school_key, frame)

    def _replace(self, cur, table: str, school_key: str, frame: pd.DataFrame) -> None:
        self._execute(cur, f"DELETE FROM {self._table(table)} WHERE school_key = ?", [school_key])
        self._insert(cur, table, frame)

    def _replace_issues(self, cur, school_key: str, issues: pd.DataFrame, night: date | None,
                        checked_datasets: set[str] | None) -> None:
        previous = self._select(cur, f"SELECT * FROM {self._table('validation_issues')} WHERE school_key = ?",
                                [school_key])
        merged = merge_issue_history(previous, issues, night=night or date.today(), seen_at=seen_at(issues),
                                     checked_datasets=checked_datasets)
        self._replace(cur, "validation_issues", school_key, merged)


def seen_at(issues: pd.DataFrame) -> datetime:
    """When tonight's findings were made (their extraction time), for ``last_seen``."""
    stamps = pd.to_datetime(issues["last_seen"]).dropna() if len(issues) else pd.Series(dtype="datetime64[ns]")
    return stamps.max().to_pydatetime() if len(stamps) else datetime.now()


def with_canonical_types(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows read back from SQL, in the types the rules expect (dates as datetime64[ns], text as Arrow)."""
    if table in CANONICAL_COLUMNS:
        from ..canonical import coerce_types

        return coerce_types(table, frame)
    return frame


def with_optional_roll_columns(roll: pd.DataFrame) -> pd.DataFrame:
    """The roll with ``dob`` (datetime64) and ``nc_year`` (text) columns, null where the caller gave none."""
    roll = roll.copy()
    if "dob" not in roll.columns:
        roll["dob"] = pd.Series(pd.NaT, index=roll.index, dtype="datetime64[ns]")
    if "nc_year" not in roll.columns:
        roll["nc_year"] = pd.Series(None, index=roll.index, dtype=object)
    roll["dob"] = pd.to_datetime(roll["dob"], errors="coerce")
    roll["nc_year"] = roll["nc_year"].astype(object).where(roll["nc_year"].notna(), None)
    return roll


def audit_value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return value
