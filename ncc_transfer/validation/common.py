"""Shared helpers for the rule groups: reading raw text, normalising, dates, locations, issue rows."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from ncc_transfer.canonical import issue_weights
from ncc_transfer.config import issue_examples_per_rule
from ncc_transfer.validation.rules import ERROR, rule

ISSUE_COLUMNS = ["upn", "dataset", "record", "location", "field", "value", "rule", "severity", "message",
                 "similar_records"]

SESSIONS = ("AM", "PM")
# Dates outside this range are treated as not real (placeholders such as 0001-01-01 or 1900-01-01
# are common in MIS exports, and datetime64[ns] cannot hold years before 1678 anyway).
EARLIEST_YEAR, LATEST_YEAR = 1901, 2099
# Every year a datetime64[ns] can hold in full: for a field (date of birth) that has its own rule
# for dates that are real but implausible, so 1900-01-01 is reported as implausible, not as unreal.
CALENDAR_YEARS = (1678, 2261)

_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")
_UK_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


# ---------------------------------------------------------------- reading raw text

def text_column(raw: pd.DataFrame, name: str) -> pd.Series:
    """A raw column as object text (str or None); a column the frame lacks is all None."""
    if name not in raw.columns:
        return pd.Series(None, index=raw.index, dtype=object)
    values = raw[name].astype(object)
    return values.where(values.notna(), None)


def raw_column(raw: pd.DataFrame, name: str) -> np.ndarray:
    """A raw column's values as they are (object array, no copy when possible); a column the frame
    lacks is all None. Missing values may be None or NaN: ``coded`` reads both as missing."""
    if name not in raw.columns:
        return np.full(len(raw), None, dtype=object)
    return raw[name].to_numpy(dtype=object)


def map_unique(values: pd.Series, func: Callable[[str], object]) -> pd.Series:
    """Apply ``func`` once per distinct non-null value and spread the results back (object dtype).

    Register columns (codes, sessions, dates, UPNs) have few distinct values, so this is far faster
    than a per-row ``.str`` chain on a million marks. Nulls map to None.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=object)
    mapped[:-1] = [func(u) for u in uniques]
    mapped[-1] = None
    return pd.Series(mapped[codes], index=values.index, dtype=object)


def per_value(values: pd.Series, test: Callable[[str], bool]) -> pd.Series:
    """``test`` of each distinct non-null value, once per value, spread back (False where null)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.fromiter((bool(test(u)) for u in uniques), dtype=bool, count=len(uniques))
    return pd.Series(np.append(table, False)[codes], index=values.index)


@dataclass
class Coded:
    """A column as integer codes into its distinct values: ``uniques`` (object) ends with one extra
    ``None`` entry, where the code -1 of a missing value points, so ``table[codes]`` works for any
    per-value table built by ``table`` (one entry per unique, the last for a missing value)."""

    codes: np.ndarray
    uniques: np.ndarray

    def table(self, func: Callable[[str], object], missing: object) -> np.ndarray:
        """``func`` of each distinct value, and ``missing`` for a missing value (object array)."""
        out = np.empty(len(self.uniques), dtype=object)
        out[:-1] = [func(u) for u in self.uniques[:-1]]
        out[-1] = missing
        return out

    def take(self, rows: np.ndarray) -> "Coded":
        return Coded(self.codes[rows], self.uniques)


def coded(values: pd.Series) -> Coded:
    """Factorise a text column (nulls get code -1)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.empty(len(uniques) + 1, dtype=object)
    table[:-1] = np.asarray(uniques, dtype=object)
    table[-1] = None
    return Coded(codes.astype(np.intp, copy=False), table)


def _strip_or_none(value: str) -> str | None:
    text = value.strip()
    return text or None


def upper_or_none(value: str) -> str | None:
    text = value.strip().upper()
    return text or None


def stripped(values: pd.Series) -> pd.Series:
    """Stripped text; blank (empty or only spaces) becomes None."""
    return map_unique(values, _strip_or_none)


def upper(values: pd.Series) -> pd.Series:
    """Stripped, upper-cased text; blank becomes None."""
    return map_unique(values, upper_or_none)


def blank(values: pd.Series) -> pd.Series:
    """True where the value is missing, empty or only spaces."""
    return stripped(values).isna()


def as_bool(mask: pd.Series) -> pd.Series:
    """A mask as plain bool, missing counting as False."""
    if mask.dtype == bool:
        return mask
    return mask.astype("boolean").fillna(False).astype(bool)


def as_value(values: pd.Series) -> pd.Series:
    """The offending value as text for an issue row ('' for a missing value)."""
    return values.astype(object).where(values.notna(), "")


# ---------------------------------------------------------------- dates

def parse_date(text: str, years: tuple[int, int] = (EARLIEST_YEAR, LATEST_YEAR)) -> date | None:
    """A date from YYYY-MM-DD (optionally with a time part) or DD/MM/YYYY; None if not a real date
    or its year is outside ``years`` (inclusive)."""
    text = text.strip()
    match = _ISO_DATE.fullmatch(text)
    if match:
        year, month, day = (int(g) for g in match.groups())
    else:
        match = _UK_DATE.fullmatch(text)
        if not match:
            return None
        day, month, year = (int(g) for g in match.groups())
    if not years[0] <= year <= years[1]:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _parse_uniques(uniques, years: tuple[int, int] = (EARLIEST_YEAR, LATEST_YEAR)) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct text, plus one last entry for a missing value: (datetime64[ns] or NaT, not a date)."""
    parsed = np.full(len(uniques) + 1, np.datetime64("NaT"), dtype="datetime64[ns]")
    bad = np.zeros(len(uniques) + 1, dtype=bool)
    for i, text in enumerate(uniques):
        if not str(text).strip():
            continue
        day = parse_date(str(text), years)
        if day is None:
            bad[i] = True
        else:
            parsed[i] = np.datetime64(day, "ns")
    return parsed, bad


def parse_date_table(uniques: np.ndarray) -> np.ndarray:
    """``Coded.uniques`` of a date column -> datetime64[ns] per entry (NaT where blank, missing or bad)."""
    return _parse_uniques(uniques[:-1])[0]


def parse_dates(values: pd.Series, years: tuple[int, int] = (EARLIEST_YEAR, LATEST_YEAR)
                ) -> tuple[pd.Series, pd.Series]:
    """(datetime64[ns] dates with NaT where blank or bad, True where a non-blank value is not a date
    with a year in ``years``)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed, bad = _parse_uniques(uniques, years)
    return (pd.Series(parsed[codes], index=values.index, dtype="datetime64[ns]"),
            pd.Series(bad[codes], index=values.index, dtype=bool))


def iso(day) -> str:
    """A date or timestamp as YYYY-MM-DD ('' for NaT/None)."""
    return "" if day is None or pd.isna(day) else pd.Timestamp(day).strftime("%Y-%m-%d")


def long_date(day) -> str:
    """19 August 2024."""
    stamp = pd.Timestamp(day)
    return f"{stamp.day} {stamp.strftime('%B %Y')}"


# ---------------------------------------------------------------- locations

def location(source: object, line: object) -> str:
    """'pupils.csv line 14' for a numeric line (a text, or a vendor record's number), 'ctf.xml pupil 7'
    when the line is a position text."""
    parts = []
    if isinstance(source, str) and source:
        parts.append(source)
    if isinstance(line, (int, np.integer)) and not isinstance(line, bool):
        line = str(line)
    if isinstance(line, str) and line:
        parts.append(f"line {line}" if line.isdigit() else line)
    return " ".join(parts)


class Locations:
    """Where each raw row is ('pupils.csv line 14'), built only for the rows asked for: a file of a
    million flagged rows needs the locations of the few examples kept, not a million strings."""

    def __init__(self, raw: pd.DataFrame) -> None:
        self.sources, self.lines = text_column(raw, "_source"), text_column(raw, "_line")

    def take(self, rows: np.ndarray) -> pd.Series:
        """The locations of the rows at positions ``rows``."""
        sources, lines = self.sources.iloc[rows], self.lines.iloc[rows]
        return pd.Series([location(s, l) for s, l in zip(sources, lines)], index=sources.index, dtype=object)


def locations(raw: pd.DataFrame) -> Locations:
    return Locations(raw)


# ---------------------------------------------------------------- issues

def empty_issues() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in ISSUE_COLUMNS})


@dataclass
class Findings:
    """Collects the issues of one dataset checked row by row (pupils, exclusions) and the error mask.

    ``upn`` and ``record`` are the per-row identity columns; ``where`` the rows' locations. Per rule,
    the first ``keep`` flagged rows (file order) become issue rows, with their messages; the others are
    only counted, into ``similar_records`` on the last row kept (``config.issue_examples_per_rule``).
    """

    dataset: str
    upn: pd.Series
    record: pd.Series
    where: Locations
    keep: int = field(default_factory=issue_examples_per_rule)
    parts: list[pd.DataFrame] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rejected = pd.Series(False, index=self.upn.index)

    def add(self, rule_name: str, mask: pd.Series, value: pd.Series,
            message: Callable[[str], str] | pd.Series) -> None:
        """Report the rows where ``mask`` holds. ``message`` maps the offending value (text) to the
        message, or is a Series of ready messages for (at least) the flagged rows."""
        mask = as_bool(mask)
        flagged = int(mask.sum())
        if not flagged:
            return
        entry = rule(self.dataset, rule_name)
        if entry.severity == ERROR:
            self.rejected |= mask
        rows = np.flatnonzero(mask.to_numpy())[:self.keep]
        index = mask.index[rows]
        values = as_value(value.loc[index])
        messages = [message(v) for v in values] if callable(message) else list(message.loc[index])
        similar = pd.Series(pd.NA, index=index, dtype="Int64")
        if flagged > len(rows):
            similar.iloc[-1] = flagged - len(rows)
        self.parts.append(pd.DataFrame({
            "upn": self.upn.loc[index].astype(object),
            "dataset": self.dataset,
            "record": self.record.loc[index].astype(object),
            "location": self.where.take(rows),
            "field": entry.field,
            "value": values,
            "rule": entry.rule,
            "severity": entry.severity,
            "message": messages,
            "similar_records": similar,
        }, index=index))

    def issues(self) -> pd.DataFrame:
        if not self.parts:
            return empty_issues()
        frame = pd.concat(self.parts)
        # One row's issues together, in file order; rule order within a row as the checks run.
        frame["_row"] = frame.index
        frame["_order"] = range(len(frame))
        frame = frame.sort_values(["_row", "_order"], kind="stable")
        frame["upn"] = frame["upn"].where(frame["upn"].notna(), None)
        return frame[ISSUE_COLUMNS].reset_index(drop=True)


def cap_issues(issues: pd.DataFrame, keep: int) -> pd.DataFrame:
    """At most ``keep`` rows per (dataset, rule), the first in order; what is dropped is added, with its
    own ``similar_records``, to the ``similar_records`` of the group's last row kept: counts stay exact."""
    if issues.empty:
        return issues
    groups = [issues["dataset"].astype(object).fillna(""), issues["rule"].astype(object).fillna("")]
    kept = issues.groupby(groups, sort=False).cumcount().to_numpy() < keep
    if kept.all():
        return issues
    out = issues.copy()
    similar = out["similar_records"] if "similar_records" in out else pd.Series(pd.NA, index=out.index)
    out["similar_records"] = pd.to_numeric(similar, errors="coerce").astype("Int64")
    weights = issue_weights(out)
    dropped = weights[~kept].groupby([g[~kept] for g in groups], sort=False).sum()
    last_kept = out[kept].groupby([g[kept] for g in groups], sort=False).tail(1)
    for row, dataset, rule_name in zip(last_kept.index, groups[0][last_kept.index], groups[1][last_kept.index]):
        extra = int(dropped.get((dataset, rule_name), 0))
        if extra:
            before = out.loc[row, "similar_records"]
            out.loc[row, "similar_records"] = (0 if pd.isna(before) else int(before)) + extra
    return out[kept]


def quoted(value: str) -> str:
    return f"'{value}'"
