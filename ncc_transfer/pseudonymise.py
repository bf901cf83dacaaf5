"""Pseudonymised exports for analysts: the statutory views and a reduced pupils table.

What changes (also written, without any data, to ``README.txt`` beside the files):

* ``upn`` becomes ``pupil_id`` = HMAC-SHA256(key, normalised UPN) as hex, first 32 characters
  (128 bits). The UPN is normalised (spaces removed, upper case) first, so the same pupil gets the
  same ``pupil_id`` at every school, every night and in every export made with the same key.
  ``former_upn`` becomes ``former_pupil_id`` the same way, so a pupil's earlier UPN still links.
* Names (surname, forename, middle names, preferred names) and address lines (``address_line1``,
  ``town``) are not exported at all (they are never even read from the warehouse).
* ``dob`` becomes ``dob_month`` ('YYYY-MM') and ``birth_cohort`` (academic year of birth, '2015/16');
  ``postcode`` becomes ``postcode_sector`` ('NR1 2'), ``postcode_district`` ('NR1') and
  ``postcode_area`` ('NR'); anything not shaped like a UK postcode becomes empty.
* The pupils table is then made k-anonymous (``k_anonymity``: default k = 5): each row's date of
  birth and postcode, then sex, are coarsened along a fixed ladder until every combination of school,
  NC year, sex, birth and postcode values covers at least k pupils; only the rows of a year group
  with fewer than k pupils at its school are dropped. The views
  carry no date of birth, sex or postcode; their one derived field, ``age_at_31_august`` (which the
  birth cohort gives), is blanked where the pupils table withholds that pupil's birth cohort.
  ``manifest.json`` reports k, the smallest class achieved and the rows at each level.
* The cohort fields (``canonical.COHORT_COLUMNS``: SEN provision, FSM eligible and ever 6, looked after,
  child in need, child protection plan) are kept as they are, as cohort flags: the analysis is about
  them, so they are neither dropped nor hashed, and they are not quasi-identifiers (``k_anonymity``).
* Rows are ordered by school and ``pupil_id``, never by UPN.

The key comes from ``NCC_PSEUDONYM_KEY`` (at least 32 bytes; ``pseudonym_key_from_env``). Whoever
holds the key and a list of UPNs can recompute ids, so the key stays with the LA's data team and never
goes to the analysts. The output is still personal data (pseudonymised, not anonymised): files are
written 0600 in a folder created 0700.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import tempfile
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from .canonical import COHORT_COLUMNS, VIEW_COLUMNS, column_type
from .config import secret
from .k_anonymity import DEFAULT_K, KAnonymityReport, check_k, hierarchy_columns, k_anonymise
from .k_anonymity import dob_month as dob_month  # re-exported: the reductions live in k_anonymity
from .k_anonymity import postcode_sector as postcode_sector

KEY_ENV = "NCC_PSEUDONYM_KEY"
MIN_KEY_BYTES = 32
ID_LENGTH = 32
FORMATS = ("parquet", "csv")

# The pupils table as exported: column -> kind. Direct identifiers are absent by construction.
PUPIL_EXPORT_COLUMNS: dict[str, str] = {
    "school_key": "text", "laestab": "text", "pupil_id": "text", "former_pupil_id": "text", "sex": "text",
    "nc_year": "text", "enrol_status": "text", "dob_month": "text", "birth_cohort": "text", "entry_date": "date",
    "leaving_date": "date", "postcode_sector": "text", "postcode_district": "text", "postcode_area": "text",
    "extracted_at": "timestamp",
    # Kept as cohort flags (the module docstring): text (sen_provision) or bool, as in the warehouse.
    **{c: column_type("pupils", c) for c in COHORT_COLUMNS},
}
# What is read from the warehouse's pupils table to make it (no names, no address lines).
_PUPIL_SOURCE_COLUMNS = ["school_key", "laestab", "upn", "former_upn", "sex", "nc_year", "enrol_status", "dob",
                         "entry_date", "leaving_date", "postcode", "extracted_at", *COHORT_COLUMNS]
DROPPED_PUPIL_COLUMNS = ["surname", "forename", "middle_names", "preferred_surname", "preferred_forename",
                         "address_line1", "town"]

_ARROW_TYPES = {"text": pa.string(), "date": pa.date32(), "int": pa.int64(), "float": pa.float64(),
                "bool": pa.bool_(), "timestamp": pa.timestamp("us")}


class PseudonymKeyError(ValueError):
    """The pseudonymisation key is missing or too short (the message never shows it)."""


def pseudonym_key_from_env() -> bytes:
    """The key in ``NCC_PSEUDONYM_KEY`` (UTF-8 bytes, surrounding whitespace removed), at least 32 bytes."""
    value = secret(KEY_ENV)
    if not value:
        raise PseudonymKeyError(
            f"{KEY_ENV} is not set: set it to a secret of at least {MIN_KEY_BYTES} bytes, e.g. the output of "
            f"`python -c \"import secrets; print(secrets.token_urlsafe(48))\"`, and keep it: the same key gives "
            f"the same pupil_id in every export")
    key = value.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise PseudonymKeyError(f"{KEY_ENV} is shorter than {MIN_KEY_BYTES} bytes: use a longer random secret")
    return key


def _check_key(key: bytes) -> None:
    if not isinstance(key, (bytes, bytearray)) or len(key) < MIN_KEY_BYTES:
        raise PseudonymKeyError(f"the pseudonymisation key must be at least {MIN_KEY_BYTES} bytes")


def key_fingerprint(key: bytes) -> str:
    """8 hex characters naming the key (exports with the same fingerprint have linkable pupil_ids)."""
    return hashlib.sha256(b"ncc-transfer pseudonym key id\x00" + bytes(key)).hexdigest()[:8]


def normalise_upn(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = re.sub(r"\s+", "", str(value)).upper()
    return text or None


def pupil_id(key: bytes, upn: Any) -> str | None:
    """HMAC-SHA256(key, normalised UPN), hex, first 32 characters; None for no UPN."""
    normalised = normalise_upn(upn)
    if normalised is None:
        return None
    return hmac.new(bytes(key), normalised.encode("utf-8"), hashlib.sha256).hexdigest()[:ID_LENGTH]


def _ids(key: bytes, values: pd.Series) -> list[str | None]:
    cache: dict[Any, str | None] = {}
    out = []
    for value in values.astype(object):
        if value not in cache:
            cache[value] = pupil_id(key, value)
        out.append(cache[value])
    return out


def pseudonymised_pupils(warehouse, key: bytes, k: int = DEFAULT_K) -> tuple[pd.DataFrame, KAnonymityReport]:
    """The warehouse's pupils, pseudonymised and k-anonymous (columns ``PUPIL_EXPORT_COLUMNS``)."""
    _check_key(key)
    # Sorted first: where k-anonymity must pick rows, it picks in pupil_id order (a keyed hash).
    released, report = k_anonymise(_ordered(_pupils_full_detail(warehouse, key)), k)
    return _ordered(released), report


def _pupils_full_detail(warehouse, key: bytes) -> pd.DataFrame:
    """The pupils with ids replaced and names and addresses gone, before k-anonymity."""
    select = ", ".join(f'"{c}"' for c in _PUPIL_SOURCE_COLUMNS)
    rows = warehouse.read(f"SELECT {select} FROM pupils")
    out = pd.DataFrame(index=rows.index)
    out["school_key"], out["laestab"] = rows["school_key"], rows["laestab"]
    out["pupil_id"] = _ids(key, rows["upn"])
    out["former_pupil_id"] = _ids(key, rows["former_upn"])
    for column in ("sex", "nc_year", "enrol_status"):
        out[column] = rows[column]
    out["entry_date"], out["leaving_date"] = rows["entry_date"], rows["leaving_date"]
    out["extracted_at"] = rows["extracted_at"]
    for column in COHORT_COLUMNS:
        out[column] = rows[column]
    out = pd.concat([out, hierarchy_columns(rows["dob"], rows["postcode"])], axis=1)
    return out[list(PUPIL_EXPORT_COLUMNS)]


def pseudonymised_view(warehouse, view: str, key: bytes, as_of: date | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """One statutory view with ``upn`` replaced by ``pupil_id``; returns (frame, column kinds)."""
    _check_key(key)
    columns = VIEW_COLUMNS[view]
    select = ", ".join(f'"{c}"' for c in columns)
    sql, params = f'SELECT {select} FROM "{view}"', []
    if as_of is not None:
        sql, params = sql + " WHERE as_of = ?", [as_of]
    rows = warehouse.read(sql, params)
    kinds: dict[str, str] = {}
    out = pd.DataFrame(index=rows.index)
    for column, kind in columns.items():
        if column == "upn":
            out["pupil_id"], kinds["pupil_id"] = _ids(key, rows["upn"]), "text"
        else:
            out[column], kinds[column] = rows[column], kind
    return _ordered(out), kinds


def withhold_view_ages(view: pd.DataFrame, pupils: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``view`` with ``age_at_31_august`` blanked where the exported pupils table withholds the pupil's
    birth cohort (the age follows from it) or does not hold the pupil; returns (frame, ages blanked).

    ``pupils`` is the k-anonymous pupils table (``school_key``, ``pupil_id``, ``birth_cohort``).
    """
    if "age_at_31_august" not in view.columns or not len(view):
        return view, 0
    with_cohort = pupils.loc[pupils["birth_cohort"].notna(), ["school_key", "pupil_id"]]
    released = pd.MultiIndex.from_frame(with_cohort.astype(object))
    keys = pd.MultiIndex.from_frame(view[["school_key", "pupil_id"]].astype(object))
    withheld = ~keys.isin(released) & view["age_at_31_august"].notna().to_numpy()
    out = view.copy()
    out["age_at_31_august"] = out["age_at_31_august"].astype(object)
    out.loc[withheld, "age_at_31_august"] = None
    return out, int(withheld.sum())


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """Sorted by school then pupil_id (never by UPN, whose order would carry information)."""
    by = [c for c in ("school_key", "pupil_id") if c in frame.columns]
    if by and len(frame):
        frame = frame.sort_values(by, kind="stable", na_position="last")
    return frame.reset_index(drop=True)


def _arrow_table(frame: pd.DataFrame, kinds: dict[str, str]) -> pa.Table:
    arrays, fields = [], []
    for column, kind in kinds.items():
        values = frame[column]
        if kind == "text":
            data = [None if (v is None or (not isinstance(v, str) and pd.isna(v))) else str(v)
                    for v in values.astype(object)]
            array = pa.array(data, type=pa.string())
        elif kind == "date":
            stamps = pd.to_datetime(values.astype(object), errors="coerce")
            array = pa.array([None if pd.isna(v) else v.date() for v in stamps], type=pa.date32())
        elif kind == "timestamp":
            stamps = pd.to_datetime(values.astype(object), errors="coerce")
            array = pa.array([None if pd.isna(v) else v.to_pydatetime() for v in stamps], type=pa.timestamp("us"))
        elif kind == "int":
            array = pa.array(pd.to_numeric(values, errors="coerce").astype("Int64"), type=pa.int64(), from_pandas=True)
        elif kind == "float":
            array = pa.array(pd.to_numeric(values, errors="coerce").astype("float64"), type=pa.float64(),
                             from_pandas=True)
        elif kind == "bool":
            array = pa.array([None if (v is None or pd.isna(v)) else bool(v) for v in values.astype(object)],
                             type=pa.bool_())
        else:  # pragma: no cover - kinds come from canonical.VIEW_COLUMNS
            raise ValueError(f"unknown column kind {kind!r}")
        arrays.append(array)
        fields.append(pa.field(column, _ARROW_TYPES[kind]))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _write_private(path: Path, write) -> None:
    """Write through ``write(handle)`` to a 0600 temporary file beside ``path``, then move it into place."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp: 0600
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_table(table: pa.Table, path: Path, fmt: str) -> None:
    if fmt == "parquet":
        _write_private(path, lambda handle: pq.write_table(table, handle, compression="zstd"))
    else:
        _write_private(path, lambda handle: pa_csv.write_csv(table, handle))


def export_views(warehouse, out_dir: Path, *, key: bytes, fmt: Literal["parquet", "csv"] = "parquet",
                 as_of: date | None = None, k: int = DEFAULT_K) -> dict[str, Path]:
    """Write every statutory view and the pseudonymised pupils table to ``out_dir``; returns name -> path.

    ``as_of`` keeps only view rows computed for that date (default: every row the views hold, which
    is each school's latest night). The pupils table is the warehouse's current one, made k-anonymous
    (``k``, default 5). ``README.txt`` (key ``"README"``) describes the transformations and
    ``manifest.json`` (key ``"manifest"``) reports k and what the generalisation did; neither holds data.
    """
    _check_key(key)
    check_k(k)
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    out_dir = Path(out_dir)
    if not out_dir.exists():
        out_dir.mkdir(mode=0o700, parents=True)
        os.chmod(out_dir, 0o700)
    written: dict[str, Path] = {}
    described: list[tuple[str, int, list[str]]] = []

    pupils, report = pseudonymised_pupils(warehouse, key, k)
    tables: list[tuple[str, pd.DataFrame, dict[str, str]]] = [("pupils", pupils, PUPIL_EXPORT_COLUMNS)]
    ages_withheld: dict[str, int] = {}
    for view in VIEW_COLUMNS:
        frame, kinds = pseudonymised_view(warehouse, view, key, as_of)
        if "age_at_31_august" in frame.columns:
            frame, ages_withheld[view] = withhold_view_ages(frame, pupils)
        tables.append((view, frame, kinds))
    for name, frame, kinds in tables:
        path = out_dir / f"{name}.{fmt}"
        _write_table(_arrow_table(frame, kinds), path, fmt)
        written[name] = path
        described.append((path.name, len(frame), list(kinds)))

    manifest = out_dir / "manifest.json"
    manifest_text = json.dumps(_manifest(report, ages_withheld, described, fmt, as_of, key_fingerprint(key)), indent=2)
    _write_private(manifest, lambda handle: handle.write((manifest_text + "\n").encode("utf-8")))
    written["manifest"] = manifest

    readme = out_dir / "README.txt"
    text = _readme(described, fmt, as_of, key_fingerprint(key), report)
    _write_private(readme, lambda handle: handle.write(text.encode("utf-8")))
    written["README"] = readme
    return written


def _manifest(report: KAnonymityReport, ages_withheld: dict[str, int], files: list[tuple[str, int, list[str]]],
              fmt: str, as_of: date | None, fingerprint: str) -> dict[str, Any]:
    """The export's manifest: counts and settings only, never a value from the data."""
    return {
        "made": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "format": fmt,
        "views_as_of": as_of.isoformat() if as_of else None,
        "key_id": fingerprint,
        "k_anonymity": {**report.as_dict(), "view_ages_withheld": ages_withheld},
        "files": {name: {"rows": rows, "columns": columns} for name, rows, columns in files},
    }


def _readme(files: list[tuple[str, int, list[str]]], fmt: str, as_of: date | None, fingerprint: str,
            report: KAnonymityReport) -> str:
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    views_as_of = as_of.isoformat() if as_of else "each school's latest night"
    lines = [
        "ncc-transfer pseudonymised export",
        "=================================",
        "",
        f"Made: {made}. Format: {fmt}. Views as of: {views_as_of}.",
        f"Key id: {fingerprint} (exports with the same key id use the same pupil_id for the same pupil).",
        "",
        "This is PSEUDONYMISED personal data, not anonymous data (UK GDPR). Keep it on LA systems, share it",
        "only under the LA's data-sharing agreement, do not try to re-identify anyone, do not combine it",
        "with lists of names or UPNs, and delete it when the analysis is finished.",
        "",
        "What was changed",
        "----------------",
        "* upn -> pupil_id: HMAC-SHA256 of the UPN (spaces removed, upper case) with the LA's secret key",
        "  (NCC_PSEUDONYM_KEY), hex, first 32 characters. The same pupil has the same pupil_id at every",
        "  school, every night and in every file here: join the files on pupil_id (and school_key for",
        "  one enrolment).",
        "* former_upn -> former_pupil_id, the same way.",
        "* Names (surname, forename, middle_names, preferred_surname, preferred_forename) and address",
        "  lines (address_line1, town): removed.",
        "* dob -> dob_month (YYYY-MM) and birth_cohort (academic year of birth, September to August,",
        "  e.g. '2015/16').",
        "* postcode -> postcode_sector (outward code and first digit of the inward code, e.g. 'NR1 2'),",
        "  postcode_district ('NR1') and postcode_area ('NR'); empty when the postcode was not a valid",
        "  UK postcode.",
        f"* k-anonymity, k = {report.k}: in pupils, every combination of school_key, sex, nc_year, the",
        "  birth columns and the postcode columns covers at least k pupils. Where a finer value would",
        "  single out fewer than k pupils it is left empty and only the coarser ones are given (month,",
        "  then cohort; sector, then district, then area, then none). Pupils still under k are left out",
        f"  of pupils ({report.suppressed_rows} rows). An empty value means unknown or withheld.",
        f"  Smallest class: {report.min_class_size}. Rows per level: see manifest.json.",
        "* absence_summary.age_at_31_august is empty where pupils withholds that pupil's birth_cohort.",
        "* Cohort fields, kept as they are: sen_provision (N no SEN, K SEN support, E EHC plan),",
        "  fsm_eligible, fsm_ever6, looked_after, child_in_need, child_protection_plan (true/false).",
        "  Empty means the school's MIS did not supply it, never 'no'. They are special-category-adjacent:",
        "  publish only aggregates, under the LA's own disclosure-control rules.",
        "* Everything else is as loaded in the LA's warehouse. Rows are sorted by school_key and",
        "  pupil_id.",
        "",
        "Files (name: rows; columns)",
        "---------------------------",
    ]
    for name, rows, columns in files:
        lines.append(f"* {name}: {rows} rows; {', '.join(columns)}")
    return "\n".join(lines) + "\n"
