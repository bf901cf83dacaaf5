"""Unique, valid UPNs for the synthetic pupils (vectorised; check letter as ``reference.upn``).
"""

from __future__ import annotations

import numpy as np

from ncc_transfer.reference.upn import CHECK_ALPHABET, check_letter


class _UpnAllocator:
    """Hands out unique, valid UPNs: serials counted per (LA, issuing estab, year of issue)."""

    def __init__(self) -> None:
        self.next: dict[int, int] = {}

    def allocate(self, la: np.ndarray, estab: np.ndarray, yy: np.ndarray) -> np.ndarray:
        la, estab, yy = (np.asarray(a, dtype=np.int64) for a in (la, estab, yy))
        n = la.shape[0]
        serial = np.zeros(n, dtype=np.int64)
        key = la * 1_000_000 + estab * 100 + yy
        order = np.argsort(key, kind="stable")
        uniq, first, counts = np.unique(key[order], return_index=True, return_counts=True)
        for u, s, c in zip(uniq.tolist(), first.tolist(), counts.tolist()):
            base = self.next.get(u, 1)
            if base + c > 1000:  # a full year of serials: move on to the next issue year (rare)
                raise RuntimeError("UPN serials exhausted for one issuer and year")
            serial[order[s : s + c]] = base + np.arange(c)
            self.next[u] = base + c
        return upn_strings(la, estab, yy, serial)

    def temporary(self, la: int, estab: int, yy: int, rng: np.random.Generator) -> str:
        key = -(la * 1_000_000 + estab * 100 + yy)
        serial = self.next.get(key, 1)
        self.next[key] = serial + 1
        body = f"{la:03d}{estab:04d}{yy % 100:02d}{serial % 100:02d}{CHECK_ALPHABET[int(rng.integers(0, 23))]}"
        return check_letter(body) + body


def upn_strings(la: np.ndarray, estab: np.ndarray, yy: np.ndarray, serial: np.ndarray) -> np.ndarray:
    """Vectorised `make_upn` (same check letter; verified against it in the tests)."""
    body = (
        np.asarray(la, dtype=np.int64) * 10**9
        + np.asarray(estab, dtype=np.int64) * 10**5
        + (np.asarray(yy, dtype=np.int64) % 100) * 10**3
        + np.asarray(serial, dtype=np.int64)
    )
    digits = (body[:, None] // (10 ** np.arange(11, -1, -1, dtype=np.int64))) % 10
    total = (digits * np.arange(2, 14)).sum(axis=1) % 23
    letters = np.array(list(CHECK_ALPHABET))[total]
    return np.char.add(letters, np.char.zfill(body.astype(str), 12)).astype(object)
