"""Session marks for the whole roll: absence spells, half days and lateness, then whole-school and
year-group events (reception staggered start, trips, sport, work experience, study leave).
"""

from __future__ import annotations

from datetime import date

import numpy as np

from .. import codes as K
from .context import _School
from .params import (
    AM_CODE,
    AUTH_MIX,
    I_,
    N_,
    O_,
    PHASE_PARAMS,
    PM_CODE,
    SPELL_CODES,
    SPELL_LEN,
    UNAUTH_MIX,
    WEEKDAY_FACTOR,
    X_,
)


def _absence(s: _School) -> None:
    """Whole-day absence spells (a per-pupil Markov chain), then half-days and lateness."""
    rng, roster, days = s.rng, s.roster, s.days
    n, n_sd = s.W.shape[0], s.n_sd
    groups = roster["group"].to_numpy()
    median = np.array([PHASE_PARAMS[g]["median"] for g in groups])
    sigma = np.array([PHASE_PARAMS[g]["sigma"] for g in groups])
    severe = rng.random(n) < np.array([PHASE_PARAMS[g]["severe"] for g in groups])
    r = np.clip(median * np.exp(sigma * rng.standard_normal(n)), 0.0, 0.42)
    r = np.where(severe, rng.uniform(0.5, 0.85, n), r)
    u = np.array([PHASE_PARAMS[g]["unauth"] for g in groups]) + 0.15 * (r > 0.12) + 0.08 * rng.standard_normal(n)
    u = np.clip(u, 0.02, 0.85)
    mix = np.column_stack([(1 - u)[:, None] * AUTH_MIX[None, :], u[:, None] * UNAUTH_MIX[None, :]])
    need = r / ((1 - r) * 0.45)
    length = np.maximum(SPELL_LEN[None, :], need[:, None])
    start_p = r / ((1 - r) * (mix * length).sum(axis=1))
    exit_p = 1.0 / length
    weekday = days.weekday[days.sd]
    month = np.array([days.sd_date(j).month for j in range(n_sd)])
    season = np.where(np.isin(month, (12, 1, 2)), 1.15, np.where(month == 9, 0.8, 1.0))
    factor = WEEKDAY_FACTOR[weekday] * season
    cum = np.cumsum(mix, axis=1)
    U = rng.random((n, n_sd), dtype=np.float32)
    V = rng.random((n, n_sd), dtype=np.float32)
    state = np.zeros(n, dtype=np.int64)  # 0 present, k > 0 spell code k - 1
    out = np.zeros((n, n_sd), dtype=np.int64)
    rows = np.arange(n)
    for j in range(n_sd):
        absent = state > 0
        keep = absent & (U[:, j] >= exit_p[rows, np.maximum(state - 1, 0)])
        start = ~absent & (U[:, j] < start_p * factor[j])
        pick = (V[:, j][:, None] > cum).sum(axis=1) + 1
        state = np.where(keep, state, np.where(start, np.minimum(pick, 6), 0))
        out[:, j] = state
    absent = out > 0
    code = SPELL_CODES[np.maximum(out - 1, 0)]
    W = s.W
    W[:, :, 0] = np.where(absent, code, W[:, :, 0])
    W[:, :, 1] = np.where(absent, code, W[:, :, 1])
    # Half days: some illness days are one session; medical appointments are one session.
    half = absent & (code == I_) & (rng.random((n, n_sd)) < 0.12)
    pm_back = rng.random((n, n_sd)) < 0.5
    W[:, :, 1] = np.where(half & pm_back, PM_CODE, W[:, :, 1])
    W[:, :, 0] = np.where(half & ~pm_back, AM_CODE, W[:, :, 0])
    present_am = W[:, :, 0] == AM_CODE
    present_pm = W[:, :, 1] == PM_CODE
    late = np.clip(0.012 * np.exp(0.8 * rng.standard_normal(n)), 0, 0.2)
    roll = rng.random((n, n_sd, 3), dtype=np.float32)
    W[:, :, 0] = np.where(present_am & (roll[:, :, 0] < late[:, None]), K.IDX["L"], W[:, :, 0])
    W[:, :, 0] = np.where(present_am & (roll[:, :, 1] < late[:, None] * 0.2), K.IDX["U"], W[:, :, 0])
    W[:, :, 0] = np.where(present_am & (roll[:, :, 2] < 0.002), K.IDX["M"], W[:, :, 0])
    W[:, :, 1] = np.where(present_pm & (roll[:, :, 2] > 0.997), K.IDX["M"], W[:, :, 1])


def _events(s: _School) -> None:
    """Whole-school and year-group events: reception staggered start, trips, sport, work experience."""
    rng, roster, plan, days = s.rng, s.roster, s.plan, s.days
    n_sd, W = s.n_sd, s.W
    nc = roster["nc"].to_numpy()
    ctx = s.ctx
    if plan.reception_staggered and (nc == 0).any():
        rec = np.flatnonzero(nc == 0)
        first = s.first_sd()
        for j in range(min(5, n_sd)):
            rows = rec[(first[rec] <= j) & (W[rec, j, 1] == PM_CODE)]
            W[rows, j, 1] = X_
        for row in rec[:1]:
            ctx.add("reception_not_required", plan.laestab, s.upn(int(row)))
    if n_sd >= 8:
        for _ in range(2 + len(roster) // 300):
            y = plan.years[int(rng.integers(0, len(plan.years)))]
            j = int(rng.integers(2, n_sd - 3))
            rows = np.flatnonzero((nc == y) & (W[:, j, 0] == AM_CODE) & (W[:, j, 1] == PM_CODE))
            W[rows, j] = K.IDX["V"]
    sec = np.flatnonzero(nc >= 7)
    if sec.shape[0] and n_sd >= 8:
        for _ in range(2 + sec.shape[0] // 400):
            j = int(rng.integers(1, n_sd - 1))
            rows = rng.choice(sec, size=min(12, sec.shape[0]), replace=False)
            rows = rows[W[rows, j, 1] == PM_CODE]
            W[rows, j, 1] = K.IDX["P"]
        row = s.take(tuple(range(9, 12)))
        if row is not None:
            fridays = [j for j in range(n_sd) if days.weekday[days.sd[j]] == 4][-6:]
            for j in fridays:
                W[row, j] = K.IDX["B"]
            ctx.add("off_site_activity", plan.laestab, s.upn(row))
        year = ctx.cal.year + 1
        for lo, hi, y, code, share in (
            (date(year, 7, 1), date(year, 7, 9), 10, "W", 0.7),
            (date(year, 5, 11), date(year, 6, 19), 11, "S", 0.2),
        ):
            js = [j for j in range(n_sd) if lo <= days.sd_date(j) <= hi]
            rows = np.flatnonzero(nc == y)
            if not js or not rows.shape[0]:
                continue
            chosen = rows[rng.random(rows.shape[0]) < share]
            for j in js:
                if code == "S":
                    chosen_j = rows[rng.random(rows.shape[0]) < share]
                else:
                    chosen_j = chosen
                ok = chosen_j[(W[chosen_j, j, 0] == AM_CODE) | (W[chosen_j, j, 0] == K.IDX["L"])]
                W[ok, j] = K.IDX[code]
    # Reasons not yet established for the most recent absences.
    for j in range(max(0, n_sd - 2), n_sd):
        for half in (0, 1):
            cells = np.isin(W[:, j, half], (I_, O_)) & (rng.random(W.shape[0]) < 0.5)
            W[cells, j, half] = N_
