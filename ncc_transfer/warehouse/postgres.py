"""The warehouse in PostgreSQL (``NCC_WAREHOUSE_URL=postgresql://user@host:port/db[?schema=ncc]``).

Behaves like ``DuckDBWarehouse`` (same tables, column order, results and pandas types from ``read``)
so the pipeline, the views and the tests do not care which one they get. The shared sequence (a
school's write, the tables) is ``base.SqlWarehouse``; here only what differs:

* tables live in one schema (``?schema=``, default ``public``) and are created if missing; columns a
  newer contract adds are added in place (contracts only grow). DDL runs only when something is
  missing, under an advisory lock, so a role without DDL rights can load a prepared schema;
* a school's rows are replaced in ONE transaction (delete its rows, ``COPY`` the new ones in, for
  every table, its issues and its roll), serialised per school by an advisory lock, so two runs for
  the same school cannot interleave; readers see the previous load until the commit;
* rows are bulk-loaded with ``COPY ... FROM STDIN (FORMAT csv)``: each frame is converted to Arrow
  in the column's SQL type and streamed as CSV (nulls unquoted and empty, text always quoted);
* ``read`` takes the codebase's one placeholder convention, ``?`` (qmark), and translates it to
  psycopg's ``%s`` outside string literals, quoted identifiers, comments and dollar quotes;
* the password (in the URL or ``PGPASSWORD``/``.pgpass``) never appears in ``url``, ``describe()``
  or ``repr``.

One connection per warehouse object, opened on first use (so a forked worker never inherits one)
and re-opened if the server dropped it.

``reclaim_space`` (after each retention purge) runs ``VACUUM FULL`` on every warehouse table. Plain
``VACUUM`` only marks dead rows' space as reusable: their bytes stay in the table's files until
overwritten. ``VACUUM FULL`` writes a new copy of the table with only its live rows and removes the
old files, under an ACCESS EXCLUSIVE lock (readers wait; the purge runs at 04:30, after the night)
and with room for the copy needed on disk (https://www.postgresql.org/docs/current/sql-vacuum.html,
https://www.postgresql.org/docs/current/routine-vacuuming.html#VACUUM-FOR-SPACE-RECOVERY). Every
table, not only those the purge deleted from: each night replaces every loaded school's rows, and
those old versions must go too. A table whose file was not replaced (``pg_class.relfilenode``
unchanged: PostgreSQL skips, with only a warning, a table the role may not vacuum) is an error.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Iterator, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ..canonical import VIEW_COLUMNS
from .base import SqlWarehouse, WarehouseUnavailable, ident as _ident, table_ddl, warehouse_table

# The warehouse's SQL types (DuckDB spelling, ``warehouse.SQL_TYPES``) in PostgreSQL and in Arrow.
PG_TYPES = {"VARCHAR": "text", "DATE": "date", "INTEGER": "integer", "TIMESTAMP": "timestamp",
            "DOUBLE": "double precision", "BOOLEAN": "boolean"}
ARROW_TYPES = {"VARCHAR": pa.string(), "DATE": pa.date32(), "INTEGER": pa.int32(), "TIMESTAMP": pa.timestamp("us"),
               "DOUBLE": pa.float64(), "BOOLEAN": pa.bool_()}

# Indexes on the keys officers (and the per-school replace) query by. (unique, columns)
INDEXES: dict[str, list[tuple[bool, tuple[str, ...]]]] = {
    "pupils": [(False, ("school_key",)), (False, ("upn",))],
    "attendance": [(False, ("school_key", "date")), (False, ("upn",))],
    "exclusions": [(False, ("school_key",)), (False, ("upn",))],
    "validation_issues": [(False, ("school_key",)), (False, ("upn",))],
    "roll_history": [(True, ("school_key", "upn")), (False, ("upn",))],
    "audit_log": [(False, ("school_key",)), (False, ("run_id",))],
    **{view: [(False, ("school_key",)), (False, ("upn",))] for view in VIEW_COLUMNS},
}

ROLL_COLUMNS = {"school_key": "VARCHAR", "laestab": "VARCHAR", "upn": "VARCHAR", "entry_date": "DATE",
                "leaving_date": "DATE", "seen_on": "DATE", "dob": "DATE", "nc_year": "VARCHAR"}
COPY_CHUNK_ROWS = 50_000
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class PostgresWarehouse(SqlWarehouse):
    """A schema in a PostgreSQL database. Many writers (one transaction per school); many readers."""

    def __init__(self, url: str):
        self._conninfo, self.schema, self.url = _parse_url(url)
        self._con = None  # psycopg.Connection, opened on first use
        self._ready = False  # tables checked on this object's first connection

    def __repr__(self) -> str:
        return f"PostgresWarehouse({self.url!r})"

    # -- connection -------------------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        if self._con is None or self._con.closed or self._con.broken:
            import psycopg

            self.close()
            try:
                con = psycopg.connect(self._conninfo, autocommit=True, application_name="ncc-transfer")
            except psycopg.OperationalError as exc:
                raise WarehouseUnavailable(self._unavailable(exc)) from None
            try:
                if not self._ready:
                    self._create_tables(con)
                    self._ready = True
                con.execute(f"SET search_path TO {_ident(self.schema)}")
            except BaseException:
                con.close()
                raise
            self._con = con
        yield self._con

    def _unavailable(self, exc: Exception) -> str:
        """One line for a failed connection: where, and whether the server refused the login. The
        driver's text is not repeated (it can quote the connection string)."""
        parts = urlsplit(self.url)
        where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        text = str(exc).lower()
        if "authentication" in text or "password" in text or "role" in text:
            return f"warehouse refused the login: {parts.username or '(default user)'}@{where}"
        if "database" in text and "does not exist" in text:
            return f"warehouse database missing: {where}{parts.path}"
        return f"warehouse unreachable: {where}"

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    @contextmanager
    def _transaction(self, lock: str | None = None) -> Iterator[Any]:
        """One transaction (rolled back on any error); ``lock`` serialises writers of the same thing."""
        with self._connect() as con, con.transaction(), con.cursor() as cur:
            if lock is not None:
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))", [self.schema, lock])
            yield cur

    def _create_tables(self, con) -> None:
        q = _ident(self.schema)
        with con.transaction(), con.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s), hashtext('ncc_transfer ddl'))", [self.schema])
            cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [self.schema])
            if cur.fetchone() is None:  # (CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even if it exists)
                cur.execute(f"CREATE SCHEMA {q}")
            super()._create_tables(cur)
            cur.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s", [self.schema])
            indexes = {row[0] for row in cur.fetchall()}
            for table, wanted in INDEXES.items():
                for unique, columns in wanted:
                    name = f"{table}_{'_'.join(columns)}_{'key' if unique else 'idx'}"
                    if name not in indexes:
                        cur.execute(f"CREATE {'UNIQUE ' if unique else ''}INDEX {_ident(name)} ON {q}.{_ident(table)} "
                                    f"({', '.join(_ident(c) for c in columns)})")

    def _existing_columns(self, cur) -> dict[str, set[str]]:
        cur.execute("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s",
                    [self.schema])
        existing: dict[str, set[str]] = {}
        for table, column in cur.fetchall():
            existing.setdefault(table, set()).add(column)
        return existing

    def _sql_type(self, sql_type: str) -> str:
        return PG_TYPES[sql_type]

    # -- writing ----------------------------------------------------------------------------------

    def _execute(self, cur, sql: str, params: Sequence[Any] | None = None) -> None:
        _execute(cur, sql, params)

    def _select(self, cur, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        return _query_frame(cur, sql, params)

    def delete_where(self, table: str, condition: str, params: Sequence[Any] | None = None) -> int:
        """Delete the rows matching ``condition`` (``?`` placeholders) in one transaction; how many went."""
        with self._transaction() as cur:
            return self._changed(cur, f"DELETE FROM {self._table(warehouse_table(table))} WHERE {condition}", params)

    def _changed(self, cur, sql: str, params: Sequence[Any] | None) -> int:
        _execute(cur, sql, params)
        return int(cur.rowcount)

    def _insert(self, cur, table: str, frame: pd.DataFrame) -> None:
        if len(frame):
            types = table_ddl()[table]
            _copy_frame(cur, self._table(table), frame, {c: types[c] for c in frame.columns})

    def _record_roll(self, cur, roll: pd.DataFrame) -> None:
        body = ", ".join(f"{_ident(c)} {PG_TYPES[t]}" for c, t in ROLL_COLUMNS.items())
        cur.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS ncc_tonight_roll ({body}) ON COMMIT DELETE ROWS")
        cur.execute("DELETE FROM pg_temp.ncc_tonight_roll")
        _copy_frame(cur, "pg_temp.ncc_tonight_roll", roll[list(ROLL_COLUMNS)], ROLL_COLUMNS)
        # DISTINCT ON: one row per pupil (ON CONFLICT cannot update a row twice); the roll has unique UPNs.
        cur.execute(
            f"INSERT INTO {self._table('roll_history')} "
            "(school_key, laestab, upn, entry_date, leaving_date, first_seen, last_seen, dob, nc_year) "
            "SELECT DISTINCT ON (school_key, upn) school_key, laestab, upn, entry_date, leaving_date, seen_on, seen_on, "
            "dob, nc_year FROM pg_temp.ncc_tonight_roll ORDER BY school_key, upn "
            "ON CONFLICT (school_key, upn) DO UPDATE SET last_seen = excluded.last_seen, "
            "entry_date = coalesce(excluded.entry_date, roll_history.entry_date), leaving_date = excluded.leaving_date, "
            "dob = coalesce(excluded.dob, roll_history.dob), nc_year = coalesce(excluded.nc_year, roll_history.nc_year)")

    # -- reading ----------------------------------------------------------------------------------

    def read(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Rows of a query with ``?`` placeholders, in the pandas types DuckDB's ``.df()`` gives."""
        with self._connect() as con, con.cursor() as cur:
            return _query_frame(cur, sql, params)

    def describe(self) -> str:
        return self.url

    def reclaim_space(self) -> None:
        """``VACUUM FULL`` every warehouse table (outside a transaction: the connection autocommits)."""
        with self._connect() as con:
            for table in table_ddl():
                before = self.relfilenode(table)
                con.execute(f"VACUUM FULL {self._table(table)}")
                if self.relfilenode(table) == before:
                    raise RuntimeError(f"VACUUM FULL did not rewrite {table}: may this role vacuum it (owner)?")

    def relfilenode(self, table: str) -> int:
        """The number of the file holding the table's rows now (a rewrite gives it a new one)."""
        frame = self.read("SELECT relfilenode FROM pg_class WHERE oid = to_regclass(?)", [self._table(table)])
        return int(frame["relfilenode"].iloc[0])

    def _table(self, table: str) -> str:
        return f"{_ident(self.schema)}.{_ident(table)}"


# -- placeholders ---------------------------------------------------------------------------------

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def qmark_to_psycopg(sql: str) -> str:
    """``?`` placeholders to psycopg's ``%s`` (and a literal ``%`` to ``%%``).

    A ``?`` inside a string literal (``'...'``, ``E'...'``), a quoted identifier, a comment or a
    dollar-quoted string is text, not a placeholder. (PostgreSQL's jsonb ``?`` operators cannot be
    written in warehouse SQL: use ``jsonb_exists()`` and friends.)
    """
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            backslashes = ch == "'" and i > 0 and sql[i - 1] in "eE" and (i < 2 or not _word_char(sql[i - 2]))
            j = i + 1
            while j < n:
                if backslashes and sql[j] == "\\":
                    j += 2
                elif sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                    else:
                        break
                else:
                    j += 1
            end = min(j + 1, n)
        elif sql.startswith("--", i):
            newline = sql.find("\n", i)
            end = n if newline < 0 else newline + 1
        elif sql.startswith("/*", i):  # block comments nest in PostgreSQL
            depth, j = 1, i + 2
            while j < n and depth:
                if sql.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif sql.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            end = j
        elif ch == "$" and (i == 0 or not (_word_char(sql[i - 1]) or sql[i - 1] == "$")) and _DOLLAR_TAG.match(sql, i):
            tag = _DOLLAR_TAG.match(sql, i).group(0)
            close = sql.find(tag, i + len(tag))
            end = n if close < 0 else close + len(tag)
        elif ch == "?":
            out.append("%s")
            i += 1
            continue
        else:
            end = i + 1
        out.append(sql[i:end].replace("%", "%%"))
        i = end
    return "".join(out)


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


# -- rows in and out ------------------------------------------------------------------------------

def _execute(cur, sql: str, params: Sequence[Any] | None) -> None:
    """Run SQL written with ``?`` placeholders (no parameters: the SQL as it is, ``%`` included)."""
    if params:
        cur.execute(qmark_to_psycopg(sql), list(params))
    else:
        cur.execute(sql)


def _query_frame(cur, sql: str, params: Sequence[Any] | None) -> pd.DataFrame:
    _execute(cur, sql, params)
    if cur.description is None:
        return pd.DataFrame()
    rows = cur.fetchall()
    names = [d.name for d in cur.description]
    columns = list(zip(*rows)) if rows else [()] * len(names)
    frame = pd.DataFrame({i: _column(values, d.type_code)
                          for i, (values, d) in enumerate(zip(columns, cur.description))},
                         index=pd.RangeIndex(len(rows)))
    frame.columns = names
    return frame


_TEXT_OIDS = {25, 1043, 1042, 19, 18}  # text, varchar, bpchar, name, char
_INT_OIDS = {21: ("int16", "Int16"), 23: ("int32", "Int32"), 20: ("int64", "Int64")}


def _column(values: tuple, oid: int):
    """One result column in the pandas type DuckDB's ``.df()`` gives for the same SQL type."""
    if oid in (1082, 1114):  # date, timestamp -> datetime64[us] (NULL -> NaT)
        return np.array(values, dtype="datetime64[us]")
    if oid == 1184:  # timestamptz
        return pd.to_datetime(pd.Series(values, dtype=object), utc=True).astype("datetime64[us, UTC]")
    if oid in _INT_OIDS:  # plain integers; nullable Int* only when there are nulls
        plain, nullable = _INT_OIDS[oid]
        return pd.array(values, dtype=nullable) if None in values else np.array(values, dtype=plain)
    if oid in (700, 701):
        return np.array(values, dtype="float32" if oid == 700 else "float64")
    if oid == 1700:  # numeric: DuckDB gives decimals as float64
        return np.array([np.nan if v is None else float(v) for v in values], dtype="float64")
    if oid == 16:
        return pd.array(values, dtype="boolean") if None in values else np.array(values, dtype=bool)
    out = np.empty(len(values), dtype=object)  # text and anything else: Python objects
    out[:] = values
    return out


def _copy_frame(cur, target: str, frame: pd.DataFrame, types: dict[str, str]) -> None:
    """Bulk-load a frame's rows with COPY, each column converted to its SQL type first."""
    arrays = [_arrow_column(frame[column], types[column]) for column in frame.columns]
    table = pa.Table.from_arrays(arrays, names=list(frame.columns))
    columns = ", ".join(_ident(c) for c in frame.columns)
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    with cur.copy(f"COPY {target} ({columns}) FROM STDIN (FORMAT csv)") as copy:
        for batch in table.to_batches(max_chunksize=COPY_CHUNK_ROWS):
            sink = pa.BufferOutputStream()
            pacsv.write_csv(batch, sink, options)
            copy.write(memoryview(sink.getvalue()))


def _arrow_column(series: pd.Series, sql_type: str) -> pa.Array:
    """A pandas column as Arrow in the SQL column's type (as DuckDB casts it on INSERT)."""
    target = ARROW_TYPES[sql_type]
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    try:
        array = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        if sql_type != "VARCHAR":
            raise
        array = pa.array([None if _is_missing(v) else str(v) for v in series], type=pa.string())
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), target)
    if sql_type == "TIMESTAMP" and pa.types.is_timestamp(array.type):
        # keep the unit (nanoseconds are rounded to microseconds by the server, as DuckDB does);
        # an aware time is stored as its UTC wall time
        return array.cast(pa.timestamp(array.type.unit)) if array.type.tz else array
    if sql_type == "VARCHAR" and (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return array
    # timestamp -> date drops the time of day (DuckDB's TIMESTAMP -> DATE cast); everything else is a checked cast
    return array.cast(target, safe=not (sql_type == "DATE" and pa.types.is_timestamp(array.type)))


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# -- URL ------------------------------------------------------------------------------------------

def _parse_url(url: str) -> tuple[str, str, str]:
    """(libpq URL without our ``schema`` parameter, schema, the URL to show people: no password)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"a PostgreSQL warehouse URL starts with postgresql:// (got scheme {parts.scheme!r})")
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), "") or "public"
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"schema {schema!r} in NCC_WAREHOUSE_URL: use letters, digits and _ (at most 63)")
    libpq_query = [(k, v) for k, v in query if k != "schema"]
    if not any(k == "connect_timeout" for k, _ in libpq_query):
        libpq_query.append(("connect_timeout", "10"))
    conninfo = urlunsplit(parts._replace(query=urlencode(libpq_query)))
    userinfo, at, hosts = parts.netloc.rpartition("@")
    shown_netloc = f"{userinfo.split(':', 1)[0]}@{hosts}" if at else hosts
    shown_query = [(k, v) for k, v in query if k != "password"]
    shown = urlunsplit(parts._replace(netloc=shown_netloc, query=urlencode(shown_query)))
    return conninfo, schema, shown

