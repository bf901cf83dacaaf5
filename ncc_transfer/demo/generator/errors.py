"""The deliberate data errors: which kinds go to which schools, and planting them in one school's roster,
marks and exclusions (each listed in the manifest with the value as written).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from ncc_transfer.reference.upn import CHECK_ALPHABET

from .. import codes as K
from .context import SchoolPlan, _Ctx, _School
from .exclusions import _exclusion_row
from .params import AM_CODE, LA_CODE


ERROR_KINDS: list[tuple[str, str, str]] = [  # (kind, dataset, field)
    ("dob_not_a_date", "pupils", "dob"),
    ("dob_implausible_for_nc_year", "pupils", "dob"),
    ("dob_in_future", "pupils", "dob"),
    ("postcode_missing", "pupils", "postcode"),
    ("postcode_malformed", "pupils", "postcode"),
    ("name_whitespace", "pupils", "surname"),
    ("name_bad_character", "pupils", "surname"),
    ("upn_wrong_check_letter", "pupils", "upn"),
    ("upn_malformed", "pupils", "upn"),
    ("sex_invalid", "pupils", "sex"),
    ("sex_missing", "pupils", "sex"),
    ("enrol_status_unknown", "pupils", "enrol_status"),
    ("attendance_code_unknown", "attendance", "code"),
    ("marks_before_entry", "attendance", "date"),
    ("attendance_unknown_pupil", "attendance", "upn"),
    ("exclusion_category_unknown", "exclusions", "category"),
    ("suspension_no_sessions", "exclusions", "sessions"),
    ("exclusion_end_before_start", "exclusions", "end_date"),
]
CSV_ONLY_KINDS = {"attendance_unknown_pupil"}


def _plan_errors(ctx: _Ctx) -> None:
    """A few of each error kind, spread over three schools (one per format); the rest stay clean."""
    active = [p for p in ctx.plans if p.active]
    chosen: list[SchoolPlan] = []
    for fmt in ("ctf25", "ctf23", "csv"):
        candidates = [p for p in active if p.fmt == fmt]
        if candidates:
            chosen.append(candidates[min(1, len(candidates) - 1)])
    if not chosen:
        return
    csv_schools = [p for p in chosen if p.fmt == "csv"]
    for k, (kind, _, _) in enumerate(ERROR_KINDS):
        if kind in CSV_ONLY_KINDS:
            hosts = (csv_schools * 2)[:2]
        elif kind == "attendance_code_unknown":
            hosts = chosen
        else:
            hosts = [chosen[k % len(chosen)], chosen[(k + 1) % len(chosen)]]
        for host in hosts:
            host.error_kinds.append(kind)


def _inject_errors(s: _School) -> None:
    ctx, plan, roster, days = s.ctx, s.plan, s.roster, s.days
    rng = np.random.default_rng([ctx.seed, 5000 + plan.index])
    if not plan.active:
        return
    for kind in plan.error_kinds:
        dataset, fld = next((d, f) for k, d, f in ERROR_KINDS if k == kind)
        row = s.take(tuple(y for y in plan.years if y >= 1) or plan.years)
        if row is None:
            ctx.skipped.append(f"error:{kind}@{plan.laestab}")
            continue
        upn = s.upn(row)
        value: str | None = None
        if kind == "dob_not_a_date":
            value = f"{pd.Timestamp(roster.at[row, 'dob']).year}-02-30" if rng.random() < 0.5 else f"{pd.Timestamp(roster.at[row, 'dob']).year}-04-31"
        elif kind == "dob_implausible_for_nc_year":
            value = (pd.Timestamp(roster.at[row, "dob"]) - pd.DateOffset(years=4)).date().isoformat()
        elif kind == "dob_in_future":
            value = (ctx.as_of + timedelta(days=int(rng.integers(30, 400)))).isoformat()
        elif kind == "postcode_missing":
            value = ""
        elif kind == "postcode_malformed":
            value = "NR25 66Z" if rng.random() < 0.5 else "NRX 4AB"
        elif kind == "name_whitespace":
            surname = roster.at[row, "surname"]
            value = [f" {surname}", f"{surname} ", surname.replace(" ", "  ") if " " in surname else f"{surname[:2]}  {surname[2:]}"][int(rng.integers(0, 3))]
        elif kind == "name_bad_character":
            surname = roster.at[row, "surname"]
            value = (surname[:2] + "@" + surname[3:]) if len(surname) >= 4 else surname + "#"
        elif kind == "upn_wrong_check_letter":
            value = CHECK_ALPHABET[(CHECK_ALPHABET.index(upn[0]) + 1 + int(rng.integers(0, 21))) % 23] + upn[1:]
        elif kind == "upn_malformed":
            value = upn[1:] if rng.random() < 0.5 else upn[:6] + "O" + upn[7:]
        elif kind == "sex_invalid":
            value = "X"
        elif kind == "sex_missing":
            value = ""
        elif kind == "enrol_status_unknown":
            value = "Q" if rng.random() < 0.5 else "Z"
        if dataset == "pupils":
            roster.at[row, "dob_text" if fld == "dob" else fld] = value
            if kind.startswith("upn_"):
                _retag_exclusions(s, upn, value)
                upn = value
        elif kind == "attendance_code_unknown" and days.n_sd:
            value = "7" if plan.fmt == "ctf23" or ctx.code_set != "2024" else "H"
            cand = np.flatnonzero((s.W[row, :, 0] == AM_CODE) & (np.arange(days.n_sd) >= s.first_sd()[row]))
            if cand.shape[0]:
                s.W[row, int(cand[int(rng.integers(0, cand.shape[0]))]), 0] = K.IDX[value]
        elif kind == "marks_before_entry" and days.n_sd >= 12:
            j_entry = days.n_sd // 2
            roster.at[row, "entry"] = np.datetime64(days.sd_date(j_entry), "D")
            s.w_start[row] = days.sd[j_entry - 5]
            value = days.sd_date(j_entry - 5).isoformat()
        elif kind == "attendance_unknown_pupil" and days.n_sd:
            s.used[row] = False  # not this pupil: a UPN that is on no roll
            upn = str(ctx.upns.allocate(np.array([int(LA_CODE)]), np.array([plan.estab]), np.array([ctx.cal.year - 3]))[0])
            for j in range(max(0, days.n_sd - 5), days.n_sd):
                when = days.sd_date(j).isoformat()
                s.ghost_rows += [(upn, when, "AM", "/"), (upn, when, "PM", "\\")]
            value = upn
        elif kind == "exclusion_category_unknown":
            value = "TEMP" if rng.random() < 0.5 else "EXCL"
            j = int(rng.integers(0, max(days.n_sd, 1)))
            s.exclusions.append(_exclusion_row(upn, value, "PD", days.sd_date(j) if days.n_sd else days.start, "AM", "2",
                                               (days.sd_date(j) if days.n_sd else days.start).isoformat()))
        elif kind == "suspension_no_sessions":
            j = int(rng.integers(0, max(days.n_sd, 1)))
            when = days.sd_date(j) if days.n_sd else days.start
            s.exclusions.append(_exclusion_row(upn, "SUSP", "VA", when, "AM", "", when.isoformat()))
        elif kind == "exclusion_end_before_start":
            j = int(rng.integers(0, max(days.n_sd, 1)))
            when = days.sd_date(j) if days.n_sd else days.start
            value = (when - timedelta(days=3)).isoformat()
            s.exclusions.append(_exclusion_row(upn, "SUSP", "PD", when, "AM", "4", value))
        else:
            ctx.skipped.append(f"error:{kind}@{plan.laestab}")
            continue
        ctx.errors.append({"laestab": plan.laestab, "dataset": dataset, "upn": upn or None, "field": fld, "kind": kind,
                           "value": value})


def _retag_exclusions(s: _School, old: str, new: str) -> None:
    for e in s.exclusions:
        if e["upn"] == old:
            e["upn"] = new
