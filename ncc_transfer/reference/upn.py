"""Unique Pupil Number: format, check letter and LA number.

Sources: the DfE's "Unique pupil numbers (UPN)" guidance
(https://www.gov.uk/government/publications/unique-pupil-numbers) and the DfE's Children in Need census
validation rules 1510 (check letter), 1530 (LA code), 1540 and 1550 (characters 5-13), as also applied
by the DfE's Multiplication Tables Check service (https://github.com/DFEAGILEDEVOPS/MTC,
``admin/services/upn.service.js``).

A UPN is 13 characters: a check letter, the 3-digit LA number of the issuing school, its 4-digit
establishment number, 2 digits for the year of issue and a 3-digit serial. Temporary UPNs end in a
letter instead of the last serial digit. The check letter is the weighted sum (weights 2..13 on
characters 2..13, a letter in position 13 counting as its index in the 23-letter alphabet) mod 23.
Characters 2-4 must be a recognised LA number (``ncc_transfer.reference.la_codes``), for temporary
UPNs too: a school making a temporary UPN puts its own LA number there.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ncc_transfer.reference.la_codes import LA_CODES

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


def la_code(upn: str) -> str:
    """Characters 2-4: the LA number of the school that issued the UPN."""
    return upn[1:4]


def has_recognised_la_code(upn: str) -> bool:
    """Well formed and characters 2-4 are a recognised LA number (any check letter)."""
    return is_well_formed(upn) and upn[1:4] in LA_CODES


def is_temporary(upn: str) -> bool:
    """Temporary UPNs end in a letter."""
    return is_well_formed(upn) and upn[12].isalpha()


def make_upn(la: str, estab: str, year: int, serial: int) -> str:
    """Build a permanent UPN with its check letter (used by the demo generator and tests)."""
    body = f"{int(la):03d}{int(estab):04d}{year % 100:02d}{serial:03d}"
    return check_letter(body) + body


def _per_value(upns: pd.Series, test) -> pd.Series:
    """``test`` of each distinct non-null text (once per value), False for null; a bool Series like ``upns``."""
    codes, uniques = pd.factorize(upns, use_na_sentinel=True)
    table = np.array([bool(test(str(u))) for u in uniques] + [False], dtype=bool)
    return pd.Series(table[codes], index=upns.index)


def well_formed_mask(upns: pd.Series) -> pd.Series:
    """Vectorised is_well_formed over text (null counts as not well formed)."""
    return _per_value(upns, is_well_formed)


def _check_letter_matches(upn: str) -> bool:
    """Well formed and the check letter matches; characters 2-13 read as ASCII digit, or a letter's
    index in the check alphabet (any other character, a non-ASCII digit the pattern lets through, -1)."""
    if not UPN_PATTERN.match(upn):
        return False
    total = sum(weight * (int(char) if char in "0123456789" else CHECK_ALPHABET.find(char))
                for weight, char in enumerate(upn[1:13], start=2))
    return CHECK_ALPHABET[total % 23] == upn[0]


def valid_check_letter_mask(upns: pd.Series) -> pd.Series:
    """Vectorised: True where a well-formed UPN's check letter matches. Not-well-formed -> False."""
    codes, uniques = pd.factorize(upns, use_na_sentinel=True)
    table = np.append(_check_letters_match([str(u) for u in uniques]), False)
    return pd.Series(table[codes], index=upns.index)


# Each ASCII character's value in the check sum: a digit its value, a check-alphabet letter its index.
_CHAR_VALUE = np.full(128, -1, dtype=np.int64)
_CHAR_VALUE[np.frombuffer(b"0123456789", dtype=np.uint8)] = np.arange(10)
_CHAR_VALUE[np.frombuffer(CHECK_ALPHABET.encode(), dtype=np.uint8)] = np.arange(23)
_ALPHABET_BYTES = np.frombuffer(CHECK_ALPHABET.encode(), dtype=np.uint8)


def _check_letters_match(upns: list[str]) -> np.ndarray:
    """``_check_letter_matches`` of each text, the sums done by numpy for the ASCII ones (one per pupil
    in a file of distinct UPNs: a Python loop per character costs seconds at 100,000s of pupils)."""
    formed = np.fromiter((bool(UPN_PATTERN.match(u)) for u in upns), dtype=bool, count=len(upns))
    ascii_ = formed & np.fromiter((u.isascii() for u in upns), dtype=bool, count=len(upns))
    out = np.zeros(len(upns), dtype=bool)
    rows = np.flatnonzero(ascii_)
    if len(rows):
        chars = np.frombuffer("".join(upns[i] for i in rows).encode("ascii"), dtype=np.uint8).reshape(-1, 13)
        total = (_CHAR_VALUE[chars[:, 1:]] * np.arange(2, 14)).sum(axis=1) % 23
        out[rows] = _ALPHABET_BYTES[total] == chars[:, 0]
    for i in np.flatnonzero(formed & ~ascii_):
        out[i] = _check_letter_matches(upns[i])
    return out


def recognised_la_code_mask(upns: pd.Series) -> pd.Series:
    """Vectorised: True where a well-formed UPN's characters 2-4 are a recognised LA number.
    Not-well-formed or null -> False."""
    return _per_value(upns, has_recognised_la_code)
