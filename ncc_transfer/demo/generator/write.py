"""Writing one school's landing folder: the full session matrix over calendar days, then the CTF or CSV
extract and ``exclusions.csv`` (file times set from the extract time).
"""

from __future__ import annotations

import os
from datetime import timezone
from pathlib import Path

import numpy as np

from .. import codes as K
from ..writers import write_csv_extract, write_ctf, write_exclusions
from .context import _School


def _write(s: _School) -> None:
    ctx, plan, days = s.ctx, s.plan, s.days
    folder = ctx.home / plan.folder
    folder.mkdir(parents=True, exist_ok=True)
    n = len(s.roster)
    # Full session matrix over calendar days: '#' on non-school days on roll, NONE off roll.
    S = np.full((n, days.n_days, 2), K.NONE, dtype=np.uint8)
    day = np.arange(days.n_days)[None, :]
    on_roll = (day >= s.w_start[:, None]) & (day <= s.w_end[:, None])
    S[on_roll] = K.IDX["#"]
    if days.n_sd:
        sd_on = on_roll[:, days.sd]
        block = S[:, days.sd, :]
        block[sd_on] = s.W[sd_on]
        S[:, days.sd, :] = block
    mtime = ctx.extract_time.replace(minute=(plan.index * 7) % 60).replace(tzinfo=timezone.utc).timestamp()
    written: list[Path] = []
    if plan.fmt == "csv":
        written += write_csv_extract(folder, s.roster, S, s.w_start, s.w_end, days, s.ghost_rows)
    else:
        written.append(write_ctf(folder, plan, s.roster, S, s.w_start, s.w_end, days, ctx))
    written.append(write_exclusions(folder, s.exclusions))
    for path in written:
        os.utime(path, (mtime, mtime))
