"""Ground truth computed from the marks as written: statutory runs (and breaking up the ones random
absence would create), per-school statistics, and the CME candidates by rule.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from .. import codes as K
from .context import _add_rates, _Ctx, _School
from .params import AM_CODE, G_, I_, N_, O_, PM_CODE


def _day_classes(s: _School, cat_lut: np.ndarray) -> tuple[np.ndarray, ...]:
    cat = cat_lut[s.W]
    possible = np.isin(cat, K.POSSIBLE_CATEGORIES) & s.inwin()[:, :, None]
    unauth = possible & (cat == K.UNAUTHORISED)
    day_possible = possible.any(axis=2)
    day_unauth = day_possible & ~(possible & ~unauth).any(axis=2)
    day_sick = day_possible & ~(possible & (s.W != I_)).any(axis=2)
    gno = np.isin(s.W, [G_, N_, O_])
    day_gno = day_possible & ~(possible & ~gno).any(axis=2)
    return day_possible, day_unauth, day_sick, day_gno


def _runs(day_possible: np.ndarray, flag: np.ndarray, minimum: int) -> list[tuple[int, int, int]]:
    """Runs of `flag` over the days with a possible session: (first sd, last sd, school days)."""
    js = np.flatnonzero(day_possible)
    f = flag[js].astype(np.int8)
    edges = np.diff(np.concatenate([[0], f, [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(js[a]), int(js[b - 1]), int(b - a)) for a, b in zip(starts, ends) if b - a >= minimum]


def _break_unintended_runs(s: _School) -> None:
    """Random spells must not create statutory runs: only the planted scenario pupils have them."""
    cat_lut = K.category_lut("2024")
    for flag_index, minimum, spacing, fill in ((1, 10, 6, (I_, I_)), (2, 15, 10, (AM_CODE, PM_CODE))):
        classes = _day_classes(s, cat_lut)
        day_possible, flag = classes[0], classes[flag_index]
        for row in np.flatnonzero(flag.sum(axis=1) >= minimum).tolist():
            for first, last, length in _runs(day_possible[row], flag[row], minimum):
                if any(r == row and a <= last and b >= first for r, a, b in s.protected):
                    continue
                js = np.flatnonzero(day_possible[row, first : last + 1] & flag[row, first : last + 1]) + first
                for k in range(spacing - 1, length, spacing):
                    s.W[row, js[k]] = fill


def _ground_truth(s: _School) -> None:
    ctx, plan, days, roster = s.ctx, s.plan, s.days, s.roster
    cat_lut = K.category_lut(ctx.code_set)
    n = len(roster)
    stats: dict = {}
    if days.n_sd:
        cat = cat_lut[s.W]
        inwin = s.inwin()[:, :, None]
        counts = {c: ((cat == c) & inwin).sum(axis=(1, 2)) for c in K.POSSIBLE_CATEGORIES}
    else:
        counts = {c: np.zeros(n, dtype=np.int64) for c in K.POSSIBLE_CATEGORIES}
    possible = sum(counts.values())
    absent = counts[K.AUTHORISED] + counts[K.UNAUTHORISED]
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(possible > 0, absent / np.maximum(possible, 1), 0.0)
    has = possible > 0
    groups = roster["group"].to_numpy()

    def block(mask: np.ndarray) -> dict:
        return {
            "enrolments": int(mask.sum()),
            "enrolments_with_possible": int((mask & has).sum()),
            "possible_sessions": int(possible[mask].sum()),
            "present_sessions": int(counts[K.PRESENT][mask].sum()),
            "aea_sessions": int(counts[K.AEA][mask].sum()),
            "authorised_sessions": int(counts[K.AUTHORISED][mask].sum()),
            "unauthorised_sessions": int(counts[K.UNAUTHORISED][mask].sum()),
            "persistent_absentees": int((mask & has & (rate >= 0.1)).sum()),
            "severe_absentees": int((mask & has & (rate >= 0.5)).sum()),
        }

    stats = block(np.ones(n, dtype=bool))
    stats["session_marks"] = int(sum(2 * (min(e, days.n_days - 1) - b + 1) for b, e in zip(s.w_start, s.w_end) if e >= b))
    stats["pupils"] = n
    stats["exclusions"] = len(s.exclusions)
    _add_rates(stats)
    stats["by_phase_group"] = {g: block(groups == g) for g in sorted(set(groups.tolist()))}
    plan.stats = stats

    upns = roster["upn"].to_numpy(dtype=object)
    if plan.active and days.n_sd:
        day_possible, day_unauth, day_sick, day_gno = _day_classes(s, cat_lut)
        last_school_day = days.n_sd - 1
        for key, flag, minimum in (("ten_day_absence", day_unauth, 10), ("sickness_15_days", day_sick, 15),
                                   ("gno_20_days", day_gno, 20)):
            for row in np.flatnonzero(flag.sum(axis=1) >= minimum).tolist():
                upn = upns[row]
                for first, last, length in _runs(day_possible[row], flag[row], minimum):
                    ctx.expected[key].append({
                        "laestab": plan.laestab, "upn": upn, "first_day": days.sd_date(first).isoformat(),
                        "last_day": days.sd_date(last).isoformat(), "school_days": length,
                        "ongoing": last == last_school_day,
                    })
    # Joiners and leavers this year (all of them), and enrolments for the CME ground truth.
    if not plan.active:
        return
    t_first = np.datetime64(days.sd_date(0) if days.n_sd else days.start, "D")
    entries = roster["entry"].to_numpy(dtype="datetime64[D]")
    leavings = roster["leaving"].to_numpy(dtype="datetime64[D]")
    shared = (roster["shared"] != "").to_numpy()
    for row in np.flatnonzero(entries > t_first).tolist():
        ctx.add("mid_year_joiners", plan.laestab, upns[row])
    for row in np.flatnonzero(~np.isnat(leavings) | shared).tolist():
        leaving = None if np.isnat(leavings[row]) else leavings[row].astype(date)
        if leaving is not None:
            ctx.add("leavers", plan.laestab, upns[row])
        ctx.enrolments.append({
            "upn": upns[row], "laestab": plan.laestab, "entry": entries[row].astype(date), "leaving": leaving,
            "reason": roster.at[row, "leaving_reason"] or None,
        })


def _finish_ground_truth(ctx: _Ctx) -> None:
    """CME candidates by the base rule (left a roll, on no other roll in the LA: docs/cme.md, "Who is a
    candidate", 1-2) over the active schools' enrolments."""
    cme = []
    for e in ctx.enrolments:
        if e["leaving"] is None or e["leaving"] >= ctx.as_of:
            continue
        elsewhere = any(
            o["upn"] == e["upn"] and o["laestab"] != e["laestab"] and o["entry"] <= ctx.as_of
            and (o["leaving"] is None or o["leaving"] >= ctx.as_of)
            for o in ctx.enrolments
        )
        if not elsewhere:
            cme.append({"laestab": e["laestab"], "upn": e["upn"], "leaving_date": e["leaving"].isoformat(),
                        "days_since_leaving": (ctx.as_of - e["leaving"]).days, "reason": e["reason"]})
    ctx.expected["cme_candidates_by_rule"] = sorted(cme, key=lambda c: (c["laestab"], c["upn"]))
    for key in ("ten_day_absence", "sickness_15_days", "gno_20_days", "exclusion_periods_over_5_days", "rates"):
        ctx.expected[key].sort(key=lambda r: (r["laestab"], r["upn"], r.get("first_day", r.get("start_date", ""))))
    ctx.expected["skipped_scenarios"] = sorted(set(ctx.skipped))
