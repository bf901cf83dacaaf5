"""Exclusion categories and reason codes.

Sources: the NPD exclusions items (https://find-npd-data.education.gov.uk/en/categories/eb648230-75ea-45be-8d14-829d44e5c1e3);
the DfE exclusion statistics methodology (https://explore-education-statistics.service.gov.uk/methodology/pupil-exclusion-statistics-methodology);
ScholarPack, "Record a Suspension or Exclusion" (up to three reasons since 2020/21,
https://support.scholarpack.com/hc/en-gb/articles/6555352972061-Record-a-Suspension-or-Exclusion).

Categories: ``PERM`` permanent exclusion, ``SUSP`` suspension (the census's older ``FIXD``
"fixed period" is read as ``SUSP``), ``LNCH`` lunchtime suspension.

Reasons: one table with a ``list`` column saying where each code comes from: ``2020/21`` (the
list in use since 2020/21), ``legacy`` (``OT`` other, withdrawn in 2020/21 but still found in
older records) and ``expanded`` (the newer CBDS list; effective year unverified). A code appears
once, under the first list that has it.
"""

from __future__ import annotations

import pandas as pd

CATEGORIES: dict[str, str] = {
    "PERM": "Permanent exclusion",
    "SUSP": "Suspension",
    "LNCH": "Lunchtime suspension",
}
CATEGORY_ALIASES: dict[str, str] = {"FIXD": "SUSP"}

_REASONS: list[tuple[str, str, str]] = [
    ("PP", "2020/21", "Physical assault against a pupil"),
    ("PA", "2020/21", "Physical assault against an adult"),
    ("VP", "2020/21", "Verbal abuse/threatening behaviour against a pupil"),
    ("VA", "2020/21", "Verbal abuse/threatening behaviour against an adult"),
    ("OW", "2020/21", "Use or threat of use of an offensive weapon or prohibited item"),
    ("BU", "2020/21", "Bullying"),
    ("RA", "2020/21", "Racist abuse"),
    ("LG", "2020/21", "Abuse against sexual orientation and gender identity"),
    ("DS", "2020/21", "Abuse relating to disability"),
    ("SM", "2020/21", "Sexual misconduct"),
    ("DA", "2020/21", "Drug and alcohol related"),
    ("DM", "2020/21", "Damage"),
    ("TH", "2020/21", "Theft"),
    ("MT", "2020/21", "Inappropriate use of social media or online technology"),
    ("PH", "2020/21", "Wilful and repeated transgression of protective measures in place to protect public health"),
    ("PD", "2020/21", "Persistent disruptive behaviour"),
    ("OT", "legacy", "Other"),
    ("BW", "expanded", "Found to have brought a weapon or prohibited item into school"),
    ("TB", "expanded", "Cyber-bullying or threatening behaviour online"),
    ("SB", "expanded", "Harmful sexual behaviour"),
    ("MB", "expanded", "Misogynistic behaviour"),
    ("AB", "expanded", "Misandry behaviour"),
    ("DR", "expanded", "Drug related"),
    ("AR", "expanded", "Alcohol related"),
    ("SR", "expanded", "Smoking related"),
    ("VR", "expanded", "Vape related"),
    ("LD", "expanded", "Persistent disruptive behaviour - low level disruption"),
    ("CB", "expanded", "Persistent disruptive behaviour - challenging behaviour"),
    ("DB", "expanded", "Persistent or general disruptive behaviour"),
    ("MP", "expanded", "Use of mobile phone"),
    ("OS", "expanded", "Misbehaviour outside of school"),
]

CATEGORY_CODES: frozenset[str] = frozenset(CATEGORIES)
REASON_CODES: frozenset[str] = frozenset(code for code, _, _ in _REASONS)


def category_table() -> pd.DataFrame:
    """Columns: code, meaning, alias_of (None for the canonical codes; FIXD -> SUSP)."""
    rows = [{"code": c, "meaning": m, "alias_of": None} for c, m in CATEGORIES.items()]
    rows += [{"code": a, "meaning": CATEGORIES[c], "alias_of": c} for a, c in CATEGORY_ALIASES.items()]
    return pd.DataFrame(rows)


def reason_table() -> pd.DataFrame:
    """Columns: code, label, list ('2020/21', 'legacy' or 'expanded')."""
    return pd.DataFrame(_REASONS, columns=["code", "list", "label"])[["code", "label", "list"]]


def normalise_category(categories: pd.Series) -> pd.Series:
    """Upper-case and strip, and read FIXD as SUSP (vectorised; unknown values pass through)."""
    text = categories.astype(object).where(categories.notna(), None)
    cleaned = text.map(lambda v: v.strip().upper() if isinstance(v, str) else v)
    return cleaned.replace(CATEGORY_ALIASES)
