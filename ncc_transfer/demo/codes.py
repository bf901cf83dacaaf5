"""Attendance codes as the demo generator uses them (SI 2024/208 reg 10 and SI 2006/1751:
``ncc_transfer.reference.attendance_codes``).

Marks are held as small integers (indices into ``CODES``) in uint8 matrices; ``NONE`` means "no mark
written" (the pupil was not on roll that day). Categories drive the generator's own statistics and
the ground truth it writes to the manifest; they follow
``ncc_transfer.reference.attendance_codes``. Codes a validator must reject
(``H`` after 18 August 2024, the SIMS COVID code ``7``) are ``UNKNOWN`` and are treated as "no mark"
in the ground truth.
"""

from __future__ import annotations

import numpy as np

PRESENT, AEA, AUTHORISED, UNAUTHORISED, NOT_POSSIBLE, NO_MARK, UNKNOWN = 1, 2, 3, 4, 5, 6, 7
POSSIBLE_CATEGORIES = (PRESENT, AEA, AUTHORISED, UNAUTHORISED)

CODES: tuple[str, ...] = (
    "/", "\\", "L",  # present
    "K", "V", "P", "W", "B", "J",  # AEA (J pre-2024 only)
    "D",  # dual registered, not possible
    "J1", "C1", "C2", "M", "S", "C", "T", "R", "I", "E", "H", "F",  # authorised (H, F pre-2024 only)
    "X", "Q", "Y", "Y1", "Y2", "Y3", "Y4", "Y5", "Y6", "Y7", "Z", "#",  # not possible (Y pre-2024 only)
    "G", "N", "O", "U",  # unauthorised
    "-",  # no mark
    "7", "A",  # not codes at all
)
IDX: dict[str, int] = {c: i for i, c in enumerate(CODES)}
NONE = 255  # not on roll: nothing written

_2024 = {
    **dict.fromkeys(["/", "\\", "L"], PRESENT),
    **dict.fromkeys(["K", "V", "P", "W", "B"], AEA),
    **dict.fromkeys(["J1", "C1", "C2", "M", "S", "C", "T", "R", "I", "E"], AUTHORISED),
    **dict.fromkeys(["D", "X", "Q", "Y1", "Y2", "Y3", "Y4", "Y5", "Y6", "Y7", "Z", "#"], NOT_POSSIBLE),
    **dict.fromkeys(["G", "N", "O", "U"], UNAUTHORISED),
    "-": NO_MARK,
}
_PRE_2024 = {
    **dict.fromkeys(["/", "\\", "L"], PRESENT),
    **dict.fromkeys(["V", "P", "W", "B", "J"], AEA),
    **dict.fromkeys(["M", "S", "C", "T", "R", "I", "E", "H", "F"], AUTHORISED),
    **dict.fromkeys(["D", "X", "Y", "Z", "#"], NOT_POSSIBLE),
    **dict.fromkeys(["G", "N", "O", "U"], UNAUTHORISED),
    "-": NO_MARK,
}


def category_lut(code_set: str) -> np.ndarray:
    """Category per code index (length 256; NONE -> 0) for the '2024' or '2006' code set."""
    table = _2024 if code_set == "2024" else _PRE_2024
    lut = np.full(256, UNKNOWN, dtype=np.uint8)
    for code, i in IDX.items():
        lut[i] = table.get(code, UNKNOWN)
    lut[NONE] = 0
    return lut


def _lut(mapping: dict[str, str]) -> np.ndarray:
    lut = np.arange(256, dtype=np.uint8)
    for src, dst in mapping.items():
        lut[IDX[src]] = IDX[dst]
    return lut


def code_set_lut(code_set: str) -> np.ndarray:
    """Map the generator's 2024 codes to the code set in force (identity for '2024')."""
    if code_set == "2024":
        return _lut({})
    return _lut({"K": "B", "C1": "C", "C2": "C", "J1": "J", "Q": "Y", **{f"Y{k}": "Y" for k in range(1, 8)}})


def single_char_lut() -> np.ndarray:
    """Map codes an old (CTF 23, one character per session) exporter cannot write to the closest code
    it can: the two-character 2024 leave codes become C, and the 2024-only K (LA-arranged provision)
    becomes B (educated off site). Q and Y1-Y7 are never generated for such schools; if they were,
    they would be written as '#' (not a possible session either way)."""
    return _lut({"C1": "C", "C2": "C", "J1": "C", "K": "B", "Q": "#", **{f"Y{k}": "#" for k in range(1, 8)}})


def code_array() -> np.ndarray:
    """Code text per index as an object array (NONE -> '')."""
    arr = np.array([""] * 256, dtype=object)
    for code, i in IDX.items():
        arr[i] = code
    return arr
