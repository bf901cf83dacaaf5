"""Pandera models of the canonical tables: the structural contract a school's load must meet.

Structural problems (a required column missing, a column of the wrong type, a null key, duplicate
keys) make a school's load unusable as a whole, so they are *blocking*: the school's previous load
stays in the warehouse. Record-level problems are not here; they are rules in ``validation`` and
become rows of ``validation_issues``.

Problem descriptions never include a value from the data (they end up in Dagster metadata and
logs); the offending records themselves are written to ``validation_issues`` in the warehouse.
"""

from __future__ import annotations

import functools

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from .canonical import CANONICAL_COLUMNS, KEY_COLUMNS, RAW_COLUMNS, REQUIRED_COLUMNS

DATE = "datetime64[ns]"
TEXT = {"storage": "pyarrow"}  # canonical.TEXT_DTYPE


class _PupilRecords(pa.DataFrameModel):
    """What every canonical table starts with: the school and the pupil a record is about. Each table has
    exactly its canonical columns, in order, and no two records with the same key."""

    school_key: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT)
    laestab: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT)
    upn: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT)

    class Config:
        strict = True
        ordered = True


class Pupils(_PupilRecords):
    former_upn: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT, nullable=True)
    surname: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT)
    forename: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT)
    middle_names: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT, nullable=True)
    preferred_surname: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT, nullable=True)
    preferred_forename: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT, nullable=True)
    dob: Series[DATE]
    sex: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT, nullable=True)
    nc_year: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT, nullable=True)
    enrol_status: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT, nullable=True)
    entry_date: Series[DATE] = pa.Field(nullable=True)
    leaving_date: Series[DATE] = pa.Field(nullable=True)
    address_line1: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT, nullable=True)
    town: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT, nullable=True)
    postcode: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT, nullable=True)
    extracted_at: Series[DATE]
    # Cohort fields (ncc_transfer.cohorts): null = not supplied.
    sen_provision: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT, nullable=True, isin=["N", "K", "E"])
    fsm_eligible: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    fsm_ever6: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    looked_after: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    child_in_need: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    child_protection_plan: Series[pd.BooleanDtype] = pa.Field(nullable=True)

    class Config:
        unique = KEY_COLUMNS["pupils"]


class Attendance(_PupilRecords):
    date: Series[DATE]
    session: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT, isin=["AM", "PM"])
    code: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT)

    class Config:
        unique = KEY_COLUMNS["attendance"]


class Exclusions(_PupilRecords):
    category: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT, isin=["PERM", "SUSP", "LNCH"])
    reason: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT, nullable=True)
    reason_2: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT, nullable=True)
    reason_3: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT, nullable=True)
    start_date: Series[DATE]
    start_session: Series[pd.StringDtype] = pa.Field(dtype_kwargs=TEXT, nullable=True)
    sessions: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)
    end_date: Series[DATE] = pa.Field(nullable=True)

    class Config:
        unique = KEY_COLUMNS["exclusions"]


CANONICAL_MODELS: dict[str, type[pa.DataFrameModel]] = {
    "pupils": Pupils,
    "attendance": Attendance,
    "exclusions": Exclusions,
}

assert all(list(m.to_schema().columns) == CANONICAL_COLUMNS[t] for t, m in CANONICAL_MODELS.items())


@functools.lru_cache(maxsize=None)
def raw_schema(table: str) -> pa.DataFrameSchema:
    """What a route must deliver: the required columns present (as text), other columns optional."""
    return pa.DataFrameSchema(
        {c: pa.Column(None, nullable=True, required=c in REQUIRED_COLUMNS[table]) for c in RAW_COLUMNS[table]},
        strict=False,
        name=f"raw {table}",
    )


def structural_problems(schema: pa.DataFrameSchema | type[pa.DataFrameModel], frame: pd.DataFrame) -> list[str]:
    """Run a Pandera schema lazily and describe each failed check without quoting any value."""
    schema = _schema_for(schema, frame)
    try:
        schema.validate(frame, lazy=True, inplace=True)  # the models never coerce: no copy needed
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        problems = []
        missing = cases[cases["check"] == "column_in_dataframe"]
        problems += [f"required column missing: {name}" for name in missing["failure_case"].astype(str)]
        duplicates = cases[cases["check"] == "multiple_fields_uniqueness"]
        if len(duplicates):
            key = ", ".join(dict.fromkeys(duplicates["column"].astype(str)))
            records = duplicates["index"].nunique()
            problems.append(f"{records} records share a key ({key}) with another record")
        rest = cases[~cases["check"].isin(["column_in_dataframe", "multiple_fields_uniqueness"])]
        for (column, check), group in rest.groupby(["column", "check"], dropna=False, sort=True):
            problems.append(_describe_failure(column, str(check), len(group)))
        return sorted(set(problems))
    return []


def _schema_for(schema: pa.DataFrameSchema | type[pa.DataFrameModel], frame: pd.DataFrame) -> pa.DataFrameSchema:
    """A model's schema, without its column type checks when the frame has exactly the model's columns
    in the model's types: those checks would all pass (Pandera checks a text column element by
    element, milliseconds per column and school). Otherwise the full schema."""
    if not (isinstance(schema, type) and issubclass(schema, pa.DataFrameModel)):
        return schema
    full, untyped, types = _model_schemas(schema)
    if list(frame.columns) == list(types) and all(frame[c].dtype == t for c, t in types.items()):
        return untyped
    return full


@functools.lru_cache(maxsize=None)
def _model_schemas(model: type[pa.DataFrameModel]) -> tuple[pa.DataFrameSchema, pa.DataFrameSchema, dict]:
    """(the model's schema, the same without column types, column -> pandas type)."""
    full = model.to_schema()
    untyped = full.update_columns({column: {"dtype": None} for column in full.columns})
    return full, untyped, {column: spec.dtype.type for column, spec in full.columns.items()}


def _describe_failure(column: object, check: str, count: int) -> str:
    column_text = f"column '{column}'" if isinstance(column, str) and column else "the table"
    if check == "column_in_schema":
        return f"unexpected column: {column}"
    if check.startswith("dtype("):
        return f"{column_text} has the wrong type (expected {check[6:-1]})"
    if check == "not_nullable":
        return f"{column_text} has {count} empty value(s) where a value is required"
    if check in ("field_uniqueness", "unique"):
        return f"{count} records share a value of {column_text} with another record"
    if check == "column_ordering":
        return "columns are not in canonical order"
    return f"{column_text} failed {check} for {count} record(s)"
