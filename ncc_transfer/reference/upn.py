"""Unique Pupil Number: format and check letter (domain.md §6; DfE UPN guidance, CIN rule 1510).

A UPN is 13 characters: a check letter, the 3-digit LA number of the issuing school, its 4-digit
establishment number, 2 digits for the year of issue and a 3-digit serial. Temporary UPNs end in a
letter instead of the last serial digit. The check letter is the weighted sum (weights 2..13 on
characters 2..13, a letter in position 13 counting as its index in the 23-letter alphabet) mod 23.
"""

from __future__ import annotations

import re

import pandas as pd

CHECK_ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ"  # 23 letters: no I, O or S
UPN_PATTERN = re.compile(r"^[ABCDEFGHJKLMNPQRTUVWXYZ]\d{11}[0-9ABCDEFGHJKLMNPQRTUVWXYZ]$")


def check_letter(body: str) -> str:
    """The check letter for the 12 characters after it (positions 2 to 13)."""
    if len(body) != 12 or not body[:11].isdigit():
        raise ValueError("a UPN body is 11 digits followed by a digit or letter")
    total = 0
    for weight, char in enumerate(body.upper(), start=2):
        total += weight * (int(char) if char.isdigit() else CHECK_ALPHABET.index(char))
    return CHECK_ALPHABET[total % 23]


def is_well_formed(upn: str) -> bool:
    """13 characters in the UPN shape (any check letter)."""
    return bool(UPN_PATTERN.match(upn))


def is_valid(upn: str) -> bool:
    """Well formed and the check letter matches."""
    return is_well_formed(upn) and check_letter(upn[1:]) == upn[0]


def is_temporary(upn: str) -> bool:
    """Temporary UPNs end in a letter."""
    return is_well_formed(upn) and upn[12].isalpha()


def make_upn(la: str, estab: str, year: int, serial: int) -> str:
    """Build a permanent UPN with its check letter (used by the demo generator and tests)."""
    body = f"{int(la):03d}{int(estab):04d}{year % 100:02d}{serial:03d}"
    return check_letter(body) + body


def well_formed_mask(upns: pd.Series) -> pd.Series:
    """Vectorised is_well_formed over text (null counts as not well formed)."""
    return upns.fillna("").astype(str).str.match(UPN_PATTERN.pattern)


def valid_check_letter_mask(upns: pd.Series) -> pd.Series:
    """Vectorised: True where a well-formed UPN's check letter matches. Not-well-formed -> False."""
    text = upns.fillna("").astype(str)
    formed = text.str.match(UPN_PATTERN.pattern)
    result = pd.Series(False, index=upns.index)
    if formed.any():
        good = text[formed]
        chars = good.str.slice(1, 13)
        total = pd.Series(0, index=good.index)
        for position in range(12):
            char = chars.str.get(position)
            digit_value = pd.to_numeric(char, errors="coerce")
            letter_value = char.map(CHECK_ALPHABET.find).astype(float)
            total = total + (position + 2) * digit_value.fillna(letter_value).astype(int)
        expected = (total % 23).map(lambda i: CHECK_ALPHABET[i])
        result.loc[formed] = (good.str.get(0) == expected).to_numpy(dtype=bool)
    return result
