"""One school from roster to files: the order of the steps (and so of the random draws) is fixed here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import codes as K
from .cohorts import with_cohorts
from .context import SchoolPlan, _Ctx, _School
from .errors import _inject_errors
from .exclusions import _random_exclusions
from .marks import _absence, _events
from .params import AM_CODE, PM_CODE
from .roster import _roster
from .scenarios import _scenarios
from .truth import _break_unintended_runs, _ground_truth
from .write import _write


def _build_school(ctx: _Ctx, plan: SchoolPlan) -> None:
    rng = np.random.default_rng([ctx.seed, 1000 + plan.index])
    roster = with_cohorts(_roster(ctx, plan, rng), ctx.seed, plan.index, ctx.as_of)
    days = plan.days
    n = len(roster)
    t64 = np.datetime64(days.start)
    entries = roster["entry"].to_numpy(dtype="datetime64[D]")
    leavings = roster["leaving"].to_numpy(dtype="datetime64[D]")
    w_start = np.maximum((entries - t64).astype(np.int64), 0)
    w_end = np.where(np.isnat(leavings), days.n_days - 1, np.minimum((leavings - t64).astype(np.int64), days.n_days - 1))
    W = np.empty((n, days.n_sd, 2), dtype=np.uint8)
    W[:, :, 0] = AM_CODE
    W[:, :, 1] = PM_CODE
    s = _School(ctx, plan, rng, roster, W, w_start.astype(np.int64), w_end.astype(np.int64), np.zeros(n, dtype=bool))
    s.used[(roster["shared"] != "").to_numpy()] = True
    if days.n_sd:
        _absence(s)
        _events(s)
        _scenarios(s)
        _random_exclusions(s)
        _break_unintended_runs(s)
    s.W = code_lut(ctx, plan)[s.W]
    roster["dob_text"] = pd.to_datetime(roster["dob"]).dt.strftime("%Y-%m-%d").astype(object)
    _inject_errors(s)
    _ground_truth(s)
    _write(s)
    plan.pupils = n


def code_lut(ctx: _Ctx, plan: SchoolPlan) -> np.ndarray:
    lut = K.code_set_lut(ctx.code_set)
    if plan.fmt == "ctf23" or (plan.fmt == "ctf25" and (plan.ctf_version or 0) < 24):
        lut = K.single_char_lut()[lut]
    return lut
