"""A vendor's records held column by column, keyed by the vendor's record id (``Records``), and the
builder a connector fills one record at a time (``RecordsBuilder``).

A school's marks are almost all of what a vendor route fetches (a secondary school's year is some
400,000 of them). Held as a Python dict per mark they cost about 800 bytes each; here each column is
an Arrow array (https://arrow.apache.org/docs/python/data.html), every column but the id
dictionary-encoded (a school's marks repeat a few hundred pupils, dates and codes), so a mark costs
its id's text and a few small integers. The builder keeps a record as a tuple of its values and
turns every few thousand into an Arrow batch as they come, so no more than that many are alive as
Python objects at once.

Records keep the semantics of the dict they replace: a record id seen twice keeps its first place and
its last values (a vendor's pages can overlap), and ``updated`` is ``dict.update``.

Values are text or None, as the connectors' mapping functions give them (``base.text``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

ID_KEY = "_id"  # the vendor's record id (the key incremental extraction merges on)
CHUNK = 4096  # records per Arrow batch while building (the records alive as Python tuples at once)
TEXT = pa.dictionary(pa.int32(), pa.string())


class Records:
    """Rows keyed by vendor record id, column by column (an Arrow table: ``ID_KEY`` and one column
    per field)."""

    def __init__(self, table: pa.Table | None = None) -> None:
        if table is None:
            table = pa.table({ID_KEY: pa.array([], pa.string())})
        self.table = _normalised(table)

    @classmethod
    def from_rows(cls, rows: Mapping[str, Mapping[str, str | None]]) -> Records:
        """Records from rows keyed by id (a small table, a test)."""
        return records_from(rows.items())

    def __len__(self) -> int:
        return self.table.num_rows

    @property
    def fields(self) -> list[str]:
        return [name for name in self.table.column_names if name != ID_KEY]

    def text(self, name: str) -> pa.ChunkedArray:
        """A field as plain Arrow text (all null when no record has it)."""
        if name not in self.table.column_names:
            return pa.chunked_array([pa.nulls(len(self), pa.string())])
        return pc.cast(self.table[name], pa.string())

    def objects(self, name: str) -> np.ndarray:
        """A field as an object array of ``str``/None (a value repeated over records is one object)."""
        if name not in self.table.column_names:
            return np.full(len(self), None, dtype=object)
        if name == ID_KEY:
            return np.array(self.table[name].to_pylist(), dtype=object)
        return _decoded(self.table[name])

    def mapped(self, name: str, func: Callable[[str], object]) -> np.ndarray:
        """``func`` of a field's value for every record (None where it has none), called once per
        distinct value (of each few thousand records)."""
        if name not in self.table.column_names:
            return np.full(len(self), None, dtype=object)
        return _decoded(self.table[name], func)

    def ids(self) -> list[str]:
        return self.table[ID_KEY].to_pylist()

    def rows(self) -> dict[str, dict[str, str | None]]:
        """As the dict of rows it replaces (small tables, tests): every field in every row, None where a
        record has no value."""
        return {row.pop(ID_KEY): row for row in self.table.to_pylist()}

    def where(self, keep: pa.ChunkedArray | pa.Array) -> Records:
        """The records where ``keep`` is true."""
        return Records(self.table.filter(keep))

    def updated(self, newer: Records) -> Records:
        """``dict.update``: ``newer``'s records replace these with the same id, the others are added."""
        return Records(_first_place_last_values(pa.concat_tables([self.table, newer.table], promote_options="default")))


class RecordsBuilder:
    """Collects a connector's records one by one (``add``) and gives them as ``Records`` (``build``).

    A record is kept as a tuple of its values in the order of the fields seen so far (one list
    append each), and every ``CHUNK`` records are turned column by column into an Arrow batch. A
    field first seen on a later record starts a new batch; the batches before it have none of it."""

    def __init__(self) -> None:
        self._fields: tuple[str, ...] = ()
        self._known: set[str] = set()
        self._rows: list[tuple] = []
        self._batches: list[pa.Table] = []

    def add(self, record_id: str, row: Mapping[str, str | None]) -> None:
        if not self._known.issuperset(row):  # a field not seen before
            self._flush()
            self._fields += tuple(field for field in row if field not in self._known)
            self._known.update(row)
        self._rows.append((record_id, *[row.get(field) for field in self._fields]))
        if len(self._rows) >= CHUNK:
            self._flush()

    def build(self) -> Records:
        self._flush()
        if not self._batches:
            return Records()
        return Records(_first_place_last_values(pa.concat_tables(self._batches, promote_options="default")))

    def _flush(self) -> None:
        if not self._rows:
            return
        ids, *columns = zip(*self._rows)
        arrays = {ID_KEY: pa.array(ids, pa.string())}
        arrays.update((name, pa.array(values, pa.string()).dictionary_encode())
                      for name, values in zip(self._fields, columns))
        self._batches.append(pa.table(arrays))
        self._rows = []


def records_from(pairs: Iterable[tuple[str, Mapping[str, str | None]]]) -> Records:
    """Records from ``(record id, row)`` pairs, built as they come."""
    builder = RecordsBuilder()
    for record_id, row in pairs:
        builder.add(record_id, row)
    return builder.build()


def _normalised(table: pa.Table) -> pa.Table:
    """Ids as text, every other column dictionary-encoded text (a mirror read from Parquet is plain text)."""
    columns = {}
    for name in table.column_names:
        column = table[name]
        if name == ID_KEY:
            columns[name] = column if column.type == pa.string() else pc.cast(column, pa.string())
        elif column.type != TEXT:
            columns[name] = pc.cast(column, pa.string()).dictionary_encode()
        else:
            columns[name] = column
    return pa.table(columns) if columns else table


def _decoded(column: pa.ChunkedArray, func: Callable[[str], object] | None = None) -> np.ndarray:
    """A dictionary column as an object array, chunk by chunk: each distinct value of a chunk is one
    object (``func`` of it, when given), null is None."""
    out = np.empty(len(column), dtype=object)
    at = 0
    for chunk in column.chunks:
        values = chunk.dictionary.to_pylist()
        lookup = np.empty(len(values) + 1, dtype=object)  # not np.array(values): a value is a str, never split
        lookup[:len(values)] = values if func is None else [func(value) for value in values]
        indices = chunk.indices
        codes = indices.fill_null(len(values)) if indices.null_count else indices
        out[at:at + len(chunk)] = lookup[codes.to_numpy(zero_copy_only=False)]
        at += len(chunk)
    return out


def _first_place_last_values(table: pa.Table) -> pa.Table:
    """One record per id, as a dict fed the records in order keeps them: at the place of the id's
    first record, with the values of its last."""
    if not _has_repeats(table[ID_KEY]):
        return table
    ids = pd.Series(table[ID_KEY].to_pylist(), dtype=object)
    winners = np.flatnonzero(~ids.duplicated(keep="last").to_numpy())  # each id's last record
    place = pd.Series(np.arange(ids.nunique()), index=ids.drop_duplicates(keep="first").to_numpy())
    order = np.argsort(place.loc[ids.iloc[winners].to_numpy()].to_numpy(), kind="stable")
    return table.take(pa.array(winners[order]))


def _has_repeats(ids: pa.ChunkedArray) -> bool:
    """Whether an id occurs twice. Compared by their hashes, sorted (16 bytes a record; a hash table
    or a sorted copy of the ids would cost more than the records), then, where two hashes are
    equal, by the ids themselves."""
    hashes = np.empty(len(ids), dtype=np.int64)
    at = 0
    for chunk in ids.chunks:
        for start in range(0, len(chunk), CHUNK):
            part = chunk.slice(start, CHUNK).to_pylist()
            hashes[at:at + len(part)] = [hash(value) for value in part]
            at += len(part)
    order = np.argsort(hashes, kind="stable")
    hashes = hashes[order]
    same = np.flatnonzero(hashes[1:] == hashes[:-1])
    if not len(same):
        return False
    pairs = ids.take(pa.array(np.concatenate([order[same], order[same + 1]]))).to_pylist()
    return any(a == b for a, b in zip(pairs[:len(same)], pairs[len(same):]))


__all__ = ["ID_KEY", "Records", "RecordsBuilder", "records_from"]
