"""Static tables of the synthetic LA: the LA itself, the absence model, school sizes and formats, the
attendance-code indices the marks use, and the suspension mix.
"""

from __future__ import annotations

import numpy as np

from .. import codes as K
from .. import names as N


LA_CODE = "926"
LA_NAME = "Norfolk (demo)"
OTHER_LAS = (935, 873, 874, 882, 881, 202, 330, 886)  # Suffolk, Cambs, Peterborough, ... (UPNs issued elsewhere)

# Absence model per phase group: per-pupil propensity r = median * exp(sigma * z), plus a small
# group of severe absentees; `unauth` is the base share of absence spells that are unauthorised.
# Calibrated so that overall absence is ~5.5% primary, ~8.5% secondary, ~12% special and persistent
# absence ~13% / ~24% / ~32% (Norfolk 2024/25, DfE "Pupil attendance in schools"
# year to date, as in GitHub dfe-analytical-services/hackathon-2025-persistent-absence-explorer,
# data/attendance_data_dashboard/EES_ytd_data.csv).
PHASE_PARAMS = {
    "primary": {"median": 0.03, "sigma": 0.95, "severe": 0.006, "unauth": 0.13},
    "secondary": {"median": 0.042, "sigma": 1.05, "severe": 0.015, "unauth": 0.17},
    "special": {"median": 0.062, "sigma": 0.9, "severe": 0.015, "unauth": 0.13},
}
# Whole-day spell codes, their mean spell lengths (school days) and mixture weights.
SPELL_CODES = np.array([K.IDX[c] for c in ("I", "C", "M", "R", "O", "G")], dtype=np.uint8)
SPELL_LEN = np.array([1.8, 1.3, 1.0, 1.0, 1.6, 4.0])
AUTH_MIX = np.array([0.9, 0.05, 0.03, 0.02])
UNAUTH_MIX = np.array([0.75, 0.25])
WEEKDAY_FACTOR = np.array([1.1, 0.95, 0.88, 0.95, 1.15, 1.0, 1.0])

AM_CODE, PM_CODE = K.IDX["/"], K.IDX["\\"]
I_, O_, G_, N_, E_, KK, D_, X_ = (K.IDX[c] for c in ("I", "O", "G", "N", "E", "K", "D", "X"))


YEARS = {
    "primary": tuple(range(0, 7)),
    "secondary": tuple(range(7, 12)),
    "all-through": tuple(range(0, 12)),
    "special": tuple(range(0, 12)),
}
SIZE = {  # (mean, sd, low, high) at pupils_scale 1
    "primary": (200.0, 90.0, 60, 400),
    "secondary": (900.0, 170.0, 600, 1200),
    "all-through": (900.0, 130.0, 700, 1150),
    "special": (105.0, 30.0, 60, 180),
}
FORMAT_CYCLE = ("ctf25", "csv", "ctf25", "ctf23")


PRIM = ("primary", "all-through")
SEC = ("secondary", "all-through")


SUSP_SESSIONS = (np.array([1, 2, 3, 4, 5, 6]), np.array([0.1, 0.45, 0.07, 0.2, 0.05, 0.13]))
REASONS = (np.array([r for r, _ in N.SUSPENSION_REASONS]), np.array([w for _, w in N.SUSPENSION_REASONS], dtype=float))
