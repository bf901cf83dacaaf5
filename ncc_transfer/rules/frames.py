"""Frame helpers shared by the rules: input columns, pupil keys and typed view rows."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ncc_transfer.canonical import TEXT_DTYPE, VIEW_COLUMNS, as_datetimes


def input_frame(source: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The named columns, text as stripped Arrow strings and dates as datetime64[ns] (object or Arrow in)."""
    out = pd.DataFrame(index=source.index)
    for column in columns:
        values = source[column] if column in source.columns else pd.Series(None, index=source.index, dtype=object)
        if column.endswith("_date") or column in ("first_seen", "last_seen", "dob"):
            out[column] = as_datetimes(values).astype("datetime64[ns]").dt.normalize()
        else:
            out[column] = values.astype(TEXT_DTYPE).str.strip()
    return out.reset_index(drop=True)


def sorted_codes(keys: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(keys, sort=True)`` for non-negative integer keys below ``space``: (code of each
    key, the distinct keys sorted). Without hashing or sorting when the key space is small next to
    the keys (as for (pupil, day) keys of a year's marks): a table of which keys occur."""
    keys = np.asarray(keys, dtype=np.int64)
    if space > 4 * len(keys) + (1 << 20):
        codes, uniques = pd.factorize(keys, sort=True)
        return codes.astype(np.int64), np.asarray(uniques, dtype=np.int64)
    occurs = np.zeros(space, dtype=bool)
    occurs[keys] = True
    return (np.cumsum(occurs, dtype=np.int64) - 1)[keys], np.flatnonzero(occurs)


def pupil_keys(frame: pd.DataFrame) -> pd.Series:
    """One string per row identifying the enrolment (school_key, upn)."""
    return frame["school_key"].astype(object).astype(str) + "\x1f" + frame["upn"].astype(object).astype(str)


def view_frame(view: str, rows: pd.DataFrame | None, as_of, *, sort_by: Iterable[str],
               nullable_ints: Iterable[str] = ()) -> pd.DataFrame:
    """``rows`` sorted by ``sort_by`` (stable; none when empty) and cut to ``VIEW_COLUMNS[view]``, in order,
    with the view's types.

    text -> ``TEXT_DTYPE``; int -> int64 (Int64 for ``nullable_ints``); float -> float64; bool -> bool
    (null -> False); date -> datetime64[ns]. ``as_of`` is filled in here. No rows (or ``None``) gives an
    empty frame with the same columns and types; a column missing from ``rows`` is null.
    """
    columns = VIEW_COLUMNS[view]
    nullable = frozenset(nullable_ints)
    if rows is None or not len(rows):
        rows = pd.DataFrame({c: [] for c in columns if c != "as_of"})
    sort_by = list(sort_by)
    if sort_by:
        rows = rows.sort_values(sort_by, kind="stable")
    rows = rows.reset_index(drop=True)
    stamp = pd.Timestamp(as_of).normalize()
    data = {}  # column -> array of the view's type; the frame is built once (no column-by-column inserts)
    for column, kind in columns.items():
        if column == "as_of":
            data[column] = np.full(len(rows), stamp.to_datetime64(), dtype="datetime64[ns]")
            continue
        values = rows[column] if column in rows.columns else pd.Series([None] * len(rows), dtype=object)
        if kind == "text" and values.dtype == TEXT_DTYPE:  # already canonical text: nothing to convert
            data[column] = values.array
        elif kind == "text":
            data[column] = values.astype(object).where(values.notna(), None).astype(TEXT_DTYPE).array
        elif kind == "int":
            data[column] = values.astype("Int64" if column in nullable else "int64").array
        elif kind == "float":
            data[column] = values.astype("float64").array
        elif kind == "bool" and values.dtype == bool:
            data[column] = values.to_numpy()
        elif kind == "bool":
            data[column] = values.astype("boolean").fillna(False).astype(bool).to_numpy()
        elif kind == "date":
            data[column] = as_datetimes(values).astype("datetime64[ns]").array
        else:  # pragma: no cover - VIEW_COLUMNS only uses the kinds above
            raise ValueError(f"unknown column kind {kind!r}")
    return pd.DataFrame(data, index=pd.RangeIndex(len(rows)), columns=list(columns))
