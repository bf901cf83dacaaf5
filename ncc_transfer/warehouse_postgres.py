"""The PostgreSQL backend, now ``ncc_transfer.warehouse.postgres``: this name is kept for callers."""

from .warehouse.postgres import PG_TYPES, PostgresWarehouse, qmark_to_psycopg

__all__ = ["PG_TYPES", "PostgresWarehouse", "qmark_to_psycopg"]
