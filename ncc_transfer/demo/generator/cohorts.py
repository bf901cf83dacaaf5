"""The demo pupils' cohorts (``ncc_transfer.cohorts``) at roughly national rates, drawn from their own random
stream so every other generated value stays as it was.

Rates (England, state-funded schools, 2024/25, rounded): SEN support 13.6% and EHC plan 4.8% (DfE "Special
educational needs in England"); eligible for free school meals 25% (DfE "Schools, pupils and their
characteristics"); ever 6 about 30%; looked after about 0.7%, children in need about 3%, child
protection plan about 0.5% (DfE "Children looked after in England", "Characteristics of children in
need"). The demo is synthetic: the rates only make the termly pack look like a real LA's.

FSM history is written as periods (start, end or None) chosen at least ``STABLE_DAYS`` away from the
as-of date, so the flags are the same on the night and a month either side (the simulator reads a CTF
without a night, on the day the file was made).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from ncc_transfer.cohorts import fsm_flags

SEN_SUPPORT, EHC_PLAN = 0.136, 0.048
FSM_NOW, FSM_EVER6 = 0.25, 0.30  # ever 6 includes the eligible now
FSM_LONG_AGO = 0.02  # eligible once, more than six years ago
LOOKED_AFTER, CHILD_IN_NEED, CHILD_PROTECTION_PLAN = 0.007, 0.03, 0.005
STABLE_DAYS = 45
STREAM = 5000  # the cohorts' random stream is [seed, STREAM + school index]


def _day(as_of: date, days_before: int) -> date:
    return as_of - timedelta(days=int(days_before))


def _fsm_periods(rng: np.random.Generator, n: int, as_of: date) -> list[list[tuple[date, date | None]]]:
    """Each pupil's FSM eligibility periods, oldest first."""
    u = rng.random(n)
    starts = rng.integers(STABLE_DAYS, 5 * 365, n)
    gaps = rng.integers(STABLE_DAYS, 5 * 365, n)
    periods: list[list[tuple[date, date | None]]] = []
    for i in range(n):
        if u[i] < FSM_NOW:  # eligible now; some after an earlier period
            start = _day(as_of, starts[i])
            earlier = [(_day(as_of, starts[i] + 400), _day(as_of, starts[i] + 200))] if u[i] < 0.04 else []
            periods.append(earlier + [(start, None)])
        elif u[i] < FSM_EVER6:  # ended within the last six years
            end = _day(as_of, min(gaps[i], 6 * 365 - STABLE_DAYS))
            periods.append([(end - timedelta(days=300), end)])
        elif u[i] < FSM_EVER6 + FSM_LONG_AGO:  # ended more than six years ago
            end = _day(as_of, 6 * 365 + STABLE_DAYS + int(gaps[i]) % 300)
            periods.append([(end - timedelta(days=200), end)])
        else:
            periods.append([])
    return periods


def with_cohorts(roster: pd.DataFrame, seed: int, school_index: int, as_of: date) -> pd.DataFrame:
    """The roster with ``sen_provision`` (N/K/E), ``sen_started`` (date the current provision began),
    ``fsm_periods``, ``fsm_eligible``, ``fsm_ever6``, ``looked_after``, ``child_in_need`` and
    ``child_protection_plan``."""
    rng = np.random.default_rng([seed, STREAM + school_index])
    n = len(roster)
    u = rng.random(n)
    sen = np.where(u < EHC_PLAN, "E", np.where(u < EHC_PLAN + SEN_SUPPORT, "K", "N")).astype(object)
    sen_started = [_day(as_of, d) for d in rng.integers(STABLE_DAYS, 4 * 365, n)]
    periods = _fsm_periods(rng, n, as_of)
    flags = [fsm_flags(p, as_of) for p in periods]
    cpp = rng.random(n) < CHILD_PROTECTION_PLAN
    out = roster.copy()
    out["sen_provision"] = sen
    out["sen_started"] = sen_started
    out["fsm_periods"] = periods
    out["fsm_eligible"] = [f[0] for f in flags]
    out["fsm_ever6"] = [f[1] for f in flags]
    out["looked_after"] = rng.random(n) < LOOKED_AFTER
    out["child_protection_plan"] = cpp
    out["child_in_need"] = cpp | (rng.random(n) < CHILD_IN_NEED)  # a child protection plan is a child in need
    return out
