"""Pupil cohort fields (``canonical.COHORT_COLUMNS``; what they mean: ``ncc_transfer.cohorts``): the raw
text as supplied to the canonical values, and a warning for a value that cannot be read.

A value that is not a SEN provision code or a flag is a ``<field>_invalid`` warning naming the file,
line, field and value; the pupil is loaded with that field null ("not supplied"), never lost. A blank or
absent column is null without a finding: schools are not asked to send these fields.
"""

from __future__ import annotations

import pandas as pd

from ncc_transfer import cohorts
from ncc_transfer.canonical import COHORT_FLAG_COLUMNS
from ncc_transfer.validation.common import Findings, map_unique, per_value, quoted
from ncc_transfer.validation.rules import COHORT_LABELS

WHERE = {
    "sen_provision": "the pupil's SEN record",
    "fsm_eligible": "the pupil's free school meals record",
    "fsm_ever6": "the pupil's free school meals record",
    "looked_after": "the pupil's welfare (in care) record",
    "child_in_need": "the pupil's welfare record",
    "child_protection_plan": "the pupil's welfare record",
}


def _or_none(parse):
    def parsed(text: str):
        try:
            return parse(text)
        except ValueError:
            return None
    return parsed


def cohort_values(f: Findings, raw_text: dict[str, pd.Series]) -> dict[str, pd.Series]:
    """The canonical cohort columns (``sen_provision`` text, flags True/False/None as objects), adding a
    warning to ``f`` for each value that cannot be read."""
    values: dict[str, pd.Series] = {}
    raw = raw_text["sen_provision"]
    bad = per_value(raw, lambda v: v.strip().upper() not in cohorts.SEN_PROVISION_CODES and bool(v.strip()))
    f.add("sen_provision_invalid", bad, raw,
          lambda v: f"{COHORT_LABELS['sen_provision']} {quoted(v)} is not a DfE SEN provision code (N no special "
                    f"educational need, K SEN support, E EHC plan) — correct it in {WHERE['sen_provision']}; "
                    f"it was loaded as not supplied")
    values["sen_provision"] = map_unique(raw, _or_none(cohorts.sen_provision_code))
    for column in COHORT_FLAG_COLUMNS:
        raw = raw_text[column]
        bad = per_value(raw, lambda v: not cohorts.is_flag_text(v))
        f.add(f"{column}_invalid", bad, raw,
              lambda v, column=column: f"{COHORT_LABELS[column]} {quoted(v)} is not Y or N (true/false, 1/0 are read "
                                       f"too) — correct it in {WHERE[column]}; it was loaded as not supplied")
        values[column] = map_unique(raw, _or_none(cohorts.flag_value))
    return values
