"""Exclusion rows and the random suspensions (E marks on the excluded sessions).
"""

from __future__ import annotations

from datetime import date

import numpy as np

from .context import _School
from .params import E_, REASONS, SUSP_SESSIONS


def _exclusion_row(upn: str, category: str, reason: str, start: date, session: str, sessions: str, end: str,
                   reason_2: str = "", reason_3: str = "") -> dict:
    return {"upn": upn, "category": category, "reason": reason, "reason_2": reason_2, "reason_3": reason_3,
            "start_date": start.isoformat(), "start_session": session, "sessions": sessions, "end_date": end}


def _random_exclusions(s: _School) -> None:
    """Suspensions: ~1-3% of secondary-age pupils, a few primary; E marks on the excluded sessions."""
    rng, roster, days, W, n_sd = s.rng, s.roster, s.days, s.W, s.n_sd
    if n_sd < 6:
        return
    groups = roster["group"].to_numpy()
    share = {"primary": 0.003, "secondary": rng.uniform(0.012, 0.028), "special": 0.02}
    pool = s.pool(tuple(range(1, 12)), plain=False)
    pool = pool[(roster["enrol_status"].to_numpy()[pool] == "C")]
    chosen = pool[rng.random(pool.shape[0]) < np.array([share[g] for g in groups[pool]])]
    first_sd, last_sd = s.first_sd(), s.last_sd()
    weights = REASONS[1] / REASONS[1].sum()
    for row in chosen.tolist():
        lo, hi = int(first_sd[row]), int(last_sd[row]) - 3
        if hi - lo < 3:
            continue
        count = 1 + int(rng.random() < 0.22) + int(rng.random() < 0.05)
        starts = np.sort(rng.choice(np.arange(lo, hi + 1), size=min(count, hi - lo + 1), replace=False))
        starts = [int(j) for k, j in enumerate(starts) if k == 0 or j - starts[k - 1] >= 8]
        s.used[row] = True
        for j in starts:
            sessions = int(rng.choice(SUSP_SESSIONS[0], p=SUSP_SESSIONS[1]))
            pm = sessions % 2 == 1 and rng.random() < 0.5
            cells = s.cover(j, pm, sessions)
            for dj, half in cells:
                W[row, dj, half] = E_
            reason = str(rng.choice(REASONS[0], p=weights))
            reason_2 = str(rng.choice(REASONS[0], p=weights)) if rng.random() < 0.15 else ""
            if reason_2 == reason:
                reason_2 = ""
            s.exclusions.append(_exclusion_row(s.upn(row), "SUSP", reason, days.sd_date(j), "PM" if pm else "AM",
                                               str(len(cells)), days.sd_date(cells[-1][0]).isoformat(), reason_2))
            s.ctx.add("suspended", s.plan.laestab, s.upn(row))
