"""Control characters in raw text: found, reported and taken out before any rule or backend sees them.

A control character (C0, U+0000-U+001F, tab and line breaks included; DEL, U+007F; C1, U+0080-U+009F)
has no place in any field of the pupils, attendance or exclusions extracts: names, identifiers, codes,
dates and address lines are single-line printable text (the DfE's Common Basic Data Set lists the
characters a name may hold; none of the others is free text). They arrive from copy-and-paste into an
MIS, or a corrupted export, and PostgreSQL cannot store NUL in a text column at all ("invalid byte
sequence ... 0x00": https://www.postgresql.org/docs/current/datatype-character.html), so one NUL in a
surname would otherwise fail the school's whole load every night on that backend.

What is done, per field:

* ``upn`` (all three extracts): the character is replaced by its visible escape (``\\x00``), so the UPN
  rules reject the record (``upn_malformed``; for a mark or an exclusion, ``upn_not_in_pupils``) and
  their message shows where the character was. A pupil's identifier is matched across extracts,
  nights and schools (the roll history, the CME rule): it is never guessed at.
* every other field: the character is removed (a tab, line feed, vertical tab, form feed or carriage
  return becomes a space, since it separates words), the record is loaded, and the school gets a
  warning, ``control_character``, naming the field and the character as an escape (``\\x0b``), never
  the character itself. One issue per pupil, field and value (a mark's code with a NUL on every mark
  is one issue per pupil).

The file name (``_source``) is escaped too, without an issue; ``_line`` is written by the readers
(line numbers, element positions) and not searched. Only each column's distinct values are searched
(a few milliseconds per column for a large school's year of marks, 760,000 of them).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..canonical import RAW_COLUMNS
from .common import ISSUE_COLUMNS, empty_issues, locations, text_column, upper

CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")
WORD_SEPARATORS = re.compile(r"[\t\n\x0b\x0c\r]")
ESCAPED_FIELDS = ("upn",)  # identifiers: escaped so the record is rejected, never repaired
RULE, SEVERITY = "control_character", "warning"


def escape_control_characters(text: str) -> str:
    """``'Smith\\x00'`` (with a real NUL) -> ``'Smith\\\\x00'`` (backslash, x, two hex digits)."""
    return CONTROL_CHARACTER.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def remove_control_characters(text: str) -> str:
    """Word separators (tab, line breaks) become a space; every other control character goes."""
    return CONTROL_CHARACTER.sub("", WORD_SEPARATORS.sub(" ", text))


def _characters(text: str) -> str:
    """The distinct control characters in ``text``, as escapes: ``\\x00, \\x0b``."""
    return ", ".join(escape_control_characters(c) for c in dict.fromkeys(CONTROL_CHARACTER.findall(text)))


def _flagged(values: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """(codes, distinct values) of a column when any value holds a control character; else None.

    The distinct values are first gathered in a set (about half the time of factorising: a string
    keeps its hash) and searched as one text, the character class matching within a value only;
    the column is factorised only when one holds a character, which is rare."""
    distinct = "".join(value for value in set(values.to_numpy()) if isinstance(value, str))
    if CONTROL_CHARACTER.search(distinct) is None:
        return None
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)


def _replaced(codes: np.ndarray, uniques: np.ndarray, func) -> np.ndarray:
    table = np.empty(len(uniques) + 1, dtype=object)
    table[:-1] = [func(u) if isinstance(u, str) else u for u in uniques]
    table[-1] = None
    return table[codes]


def _message(field: str, characters: str, count: int) -> str:
    label = field.replace("_", " ").replace("line1", "line 1").capitalize()
    records = "" if count == 1 else f" (in {count} records)"
    return (f"{label} holds a control character ({characters}){records}: an invisible character that cannot be "
            f"typed, usually pasted in or left by an export. It was removed and the record loaded — retype the "
            f"{label.lower()} in your MIS")


def _issues(dataset: str, raw: pd.DataFrame, field: str, rows: np.ndarray, upns: pd.Series) -> pd.DataFrame:
    """One warning per (UPN, field, value) among ``rows`` (positions of the values with a character)."""
    values = text_column(raw, field).iloc[rows]
    found = pd.DataFrame({"upn": upns.iloc[rows].to_numpy(), "value": values.map(escape_control_characters).to_numpy(),
                          "raw": values.to_numpy(), "location": locations(raw).take(rows).to_numpy()})
    groups = found.groupby(["upn", "value"], dropna=False, sort=False)
    first = groups.first().reset_index()
    first["count"] = groups.size().to_numpy()
    return pd.DataFrame({
        "upn": first["upn"].astype(object).where(first["upn"].notna(), None),
        "dataset": dataset, "record": "", "location": first["location"], "field": field, "value": first["value"],
        "rule": RULE, "severity": SEVERITY,
        "message": [_message(field, _characters(raw_text), count)
                    for raw_text, count in zip(first["raw"], first["count"])],
    }, columns=ISSUE_COLUMNS)


def scrub_control_characters(raw: pd.DataFrame, dataset: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the raw frame with no control character left, its ``control_character`` issues). The frame is
    returned as it is, not copied, when it holds none."""
    changed: dict[str, np.ndarray] = {}
    parts = []
    upns = None
    for field in [c for c in RAW_COLUMNS[dataset] + ["_source"] if c in raw.columns]:
        flagged = _flagged(raw[field])
        if flagged is None:
            continue
        codes, uniques = flagged
        escaped = field in ESCAPED_FIELDS or field == "_source"
        changed[field] = _replaced(codes, uniques, escape_control_characters if escaped else remove_control_characters)
        if escaped:
            continue
        has_character = _replaced(codes, uniques, lambda u: CONTROL_CHARACTER.search(u) is not None)
        with_character = np.flatnonzero(has_character.astype(bool))  # a missing value (None) has none
        if upns is None:  # the UPN as the rules will see it (escaped if it holds a control character)
            upns = upper(pd.Series(changed.get("upn", text_column(raw, "upn").to_numpy()), index=raw.index))
        parts.append(_issues(dataset, raw, field, with_character, upns))
    if not changed:
        return raw, empty_issues()
    clean = raw.copy(deep=False)
    for field, values in changed.items():
        clean[field] = values
    return clean, (pd.concat(parts, ignore_index=True) if parts else empty_issues())
