"""The warehouse: where the LA's data lands.

One interface, ``Warehouse``, two backends picked by ``NCC_WAREHOUSE_URL``'s scheme
(``open_warehouse``): an embedded DuckDB file (``duckdb.DuckDBWarehouse``) and PostgreSQL
(``postgres.PostgresWarehouse``). What they share, a school's write as one transaction and the
tables, is written once in ``base.SqlWarehouse``; each backend has only its connection, SQL dialect
and bulk load. Importing this package does not import the PostgreSQL driver or Arrow's CSV writer.
"""

from __future__ import annotations

from pathlib import Path

from .base import (
    AUDIT_COLUMNS,
    SQL_TYPES,
    DiskFull,
    SqlWarehouse,
    Warehouse,
    WarehouseUnavailable,
    is_disk_full,
    table_ddl,
    warehouse_table,
)
from .duckdb import DuckDBWarehouse

__all__ = ["AUDIT_COLUMNS", "SQL_TYPES", "DiskFull", "DuckDBWarehouse", "PostgresWarehouse", "SqlWarehouse",
           "Warehouse", "WarehouseUnavailable", "check_warehouse", "is_disk_full", "open_warehouse", "table_ddl",
           "warehouse_table"]


def __getattr__(name: str):
    if name == "PostgresWarehouse":  # imported on first use (psycopg, pyarrow.csv)
        from .postgres import PostgresWarehouse

        return PostgresWarehouse
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
        from .postgres import PostgresWarehouse

        return PostgresWarehouse(url)
    raise ValueError(f"NCC_WAREHOUSE_URL must start with duckdb:/// or postgresql:// (got scheme {url.split(':', 1)[0]!r})")
