"""Names of pupils with a validation issue, as the school supplied them, handed from the school step
to the school's report in the same process.

A rejected record never reaches the warehouse, so its pupil's name exists only in the extract; the
nightly run (one process, Dagster's in-process executor) hands it over here. A report materialised
on its own, in another run, names the pupils the warehouse holds and shows the others by UPN.
"""

from __future__ import annotations

import pandas as pd

_NAMES: dict[str, pd.DataFrame] = {}


def keep(school_key: str, names: pd.DataFrame | None, issues: pd.DataFrame | None) -> None:
    """Keep the names of the pupils ``issues`` are about (a few rows, not the roll)."""
    if names is None or issues is None or "upn" not in issues.columns or not len(names):
        _NAMES.pop(school_key, None)
        return
    _NAMES[school_key] = names[names["upn"].isin(set(issues["upn"].dropna()))].reset_index(drop=True)


def take(school_key: str) -> pd.DataFrame | None:
    """The names kept for the school (once), or None."""
    return _NAMES.pop(school_key, None)
