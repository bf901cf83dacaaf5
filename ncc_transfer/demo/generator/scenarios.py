"""The statutory cases planted in one school's marks: ten-day runs, sickness, the 20-day G/N/O rule,
exact absence rates, part-time timetables, exclusions, CME candidates and the pupils on two rolls.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from .. import codes as K
from .. import names as N
from .context import _Days, _School
from .exclusions import _exclusion_row
from .params import AM_CODE, D_, E_, G_, I_, KK, N_, O_, PM_CODE


def _scenario_row(s: _School, name: str, years: tuple[int, ...] = tuple(range(1, 12))) -> int | None:
    row = s.take(years)
    if row is None:
        s.ctx.skipped.append(f"{name}@{s.plan.laestab}")
    return row


def _scenarios(s: _School) -> None:
    ctx, plan, days, n_sd, W, rng = s.ctx, s.plan, s.days, s.n_sd, s.W, s.rng
    school_years = tuple(y for y in plan.years if y >= 1)
    sec_years = tuple(y for y in plan.years if y >= 7) or school_years

    def run(name: str, row: int, first: int, length: int, codes: list[int], scenario: str | None = None) -> None:
        last = first + length - 1
        for k, j in enumerate(range(first, last + 1)):
            W[row, j] = codes[k % len(codes)] if len(codes) < length else codes[k]
        s.present(row, first - 1)
        s.present(row, last + 1)
        s.protected.append((row, max(first - 1, 0), min(last + 1, n_sd - 1)))
        ctx.add(scenario or name, plan.laestab, s.upn(row))

    for name in plan.tasks:
        if name == "ten_day_ongoing" and n_sd >= 14:
            row = _scenario_row(s, name, sec_years)
            if row is not None:
                run(name, row, n_sd - 12, 12, [O_] * 7 + [N_] * 5)
        elif name == "gno_20" and n_sd >= 24:
            row = _scenario_row(s, name, sec_years)
            if row is not None:
                run(name, row, n_sd - 22, 22, [G_] * 10 + [O_] * 8 + [N_] * 4)
        elif name == "ten_day_across_half_term":
            target = None
            for hol in reversed(ctx.cal.holidays):
                j_after = days.sd_index_on_or_after(hol.end + timedelta(days=1))
                if hol.end < ctx.last_day and j_after >= 7 and n_sd - j_after >= 7 and "half-term" in hol.name:
                    target = j_after
                    break
            if target is None:
                ctx.skipped.append(f"{name}@{plan.laestab}")
                continue
            row = _scenario_row(s, name, school_years)
            if row is not None:
                run(name, row, target - 5, 11, [O_, O_, G_, G_, G_, G_, G_, O_, O_, O_, O_])
        elif name == "ten_day_exact" and n_sd >= 14:
            row = _scenario_row(s, name, school_years)
            if row is not None:
                run(name, row, _clear_start(days, 10, n_sd // 3 - 5), 10, [O_])
        elif name == "nine_day_near_miss" and n_sd >= 13:
            row = _scenario_row(s, name, school_years)
            if row is not None:
                run(name, row, _clear_start(days, 9, n_sd // 2 - 4), 9, [O_])
        elif name == "sickness_15" and n_sd >= 18:
            row = _scenario_row(s, name, school_years)
            if row is not None:
                run(name, row, _clear_start(days, 15, n_sd // 4 - 7), 15, [I_])
        elif name.startswith("rate_") and n_sd >= 10:
            row = _scenario_row(s, name, school_years)
            if row is not None:
                _exact_rate(s, row, name)
        elif name == "part_time_timetable" and n_sd >= 5:
            row = _scenario_row(s, name, school_years)
            if row is not None:
                first = max(0, n_sd - 20)
                W[row, first:, 0] = AM_CODE
                W[row, first:, 1] = K.IDX["C2"]
                s.protected.append((row, first, n_sd - 1))
                ctx.add(name, plan.laestab, s.upn(row))
        elif name == "la_provision" and n_sd >= 5:
            row = _scenario_row(s, name, sec_years)
            if row is not None:
                js = [j for j in range(max(0, n_sd - 30), n_sd) if days.weekday[days.sd[j]] in (0, 1, 2)]
                W[row, js] = KK
                ctx.add(name, plan.laestab, s.upn(row))
        elif name == "performance_leave" and n_sd >= 5:
            row = _scenario_row(s, name, school_years)
            if row is not None:
                december = [j for j in range(n_sd) if days.sd_date(j).month == 12][:2] or [n_sd // 2]
                W[row, december] = K.IDX["C1"]
                ctx.add(name, plan.laestab, s.upn(row))
        elif name == "interview_leave" and n_sd >= 5:
            for _ in range(3):
                row = _scenario_row(s, name, (11,) if 11 in plan.years else sec_years)
                if row is not None:
                    W[row, int(rng.integers(0, n_sd)), 0] = K.IDX["J1"]
                    ctx.add(name, plan.laestab, s.upn(row))
        elif name == "mobile_child" and n_sd >= 10:
            row = _scenario_row(s, name, school_years)
            if row is not None:
                first = int(rng.integers(1, n_sd - 6))
                s.set_days(row, first, first + 4, K.IDX["T"])
                ctx.add(name, plan.laestab, s.upn(row))
        elif name == "no_mark":
            rows = s.pool(plan.years, plain=False)[:8]
            W[rows, n_sd - 1, 1] = K.IDX["-"]
            s.used[rows] = True
            for row in rows:
                ctx.add(name, plan.laestab, s.upn(int(row)))
        elif name == "cme_candidate" and n_sd >= 30:
            row = _scenario_row(s, name, school_years)
            if row is not None:
                back = 12 if "cme_candidates" not in ctx.scenarios else 25
                j_leave = n_sd - back
                s.roster.at[row, "leaving"] = np.datetime64(days.sd_date(j_leave), "D")
                s.roster.at[row, "leaving_reason"] = N.LEAVING_REASON_UNKNOWN if back == 12 else "Moved out of area"
                s.w_end[row] = days.sd[j_leave]
                s.set_days(row, j_leave - 3, j_leave, O_)
                s.present(row, j_leave - 4)
                ctx.add("cme_candidates", plan.laestab, s.upn(row))
        elif name == "permanent_exclusion" and n_sd >= 12:
            row = _scenario_row(s, name, tuple(y for y in (9, 10, 8) if y in plan.years) or sec_years)
            if row is not None:
                j0 = n_sd - 20 if n_sd >= 26 else n_sd // 2
                s.set_days(row, j0, min(j0 + 4, n_sd - 1), E_)
                if j0 + 5 < n_sd:
                    s.set_days(row, j0 + 5, n_sd - 1, KK)
                s.protected.append((row, j0, n_sd - 1))
                s.exclusions.append(_exclusion_row(s.upn(row), "PERM", "PA", days.sd_date(j0), "AM", "", ""))
                ctx.add("permanent_exclusion", plan.laestab, s.upn(row))
                ctx.expected["exclusion_periods_over_5_days"].append(
                    {"laestab": plan.laestab, "upn": s.upn(row), "category": "PERM", "start_date": days.sd_date(j0).isoformat(),
                     "sixth_day": days.sd_date(j0 + 5).isoformat() if j0 + 5 < n_sd else None, "responsible": "local_authority"}
                )
        elif name.startswith("back_to_back_suspensions") and n_sd >= 12:
            pm = name.endswith("_pm")
            want = 1 if pm else 2  # Tuesday (PM start) or Wednesday: the pair spans a weekend
            cands = [j for j in range(max(1, n_sd // 2 - 10), n_sd - 6) if days.weekday[days.sd[j]] == want]
            row = _scenario_row(s, name, sec_years)
            if row is None or not cands:
                continue
            j0 = cands[0]
            first = s.cover(j0, pm, 5 if pm else 6)
            second = s.cover(j0 + 3, False, 6)
            for j, half in first + second:
                W[row, j, half] = E_
            if pm:
                W[row, j0, 0] = AM_CODE
            s.present(row, j0 - 1)
            s.present(row, j0 + 6)
            s.protected.append((row, j0 - 1, j0 + 6))
            for cells, start_pm, reason in ((first, pm, "PD"), (second, False, "VA")):
                s.exclusions.append(_exclusion_row(
                    s.upn(row), "SUSP", reason, days.sd_date(cells[0][0]), "PM" if start_pm else "AM",
                    str(len(cells)), days.sd_date(cells[-1][0]).isoformat()))
            ctx.add("back_to_back_suspensions", plan.laestab, s.upn(row))
            ctx.expected["exclusion_periods_over_5_days"].append(
                {"laestab": plan.laestab, "upn": s.upn(row), "category": "SUSP", "start_date": days.sd_date(j0).isoformat(),
                 "school_days": 6, "sixth_day": days.sd_date(j0 + 5).isoformat(), "responsible": "school"}
            )
        elif name == "lunchtime_exclusion" and n_sd >= 3:
            row = _scenario_row(s, name, school_years)
            if row is not None:
                j = int(rng.integers(0, n_sd))
                s.exclusions.append(_exclusion_row(s.upn(row), "LNCH", "PD", days.sd_date(j), "", "1", days.sd_date(j).isoformat()))
                ctx.add(name, plan.laestab, s.upn(row))
        else:
            ctx.skipped.append(f"{name}@{plan.laestab}")

    # Pupils on two rolls.
    for row in np.flatnonzero((s.roster["shared"] != "").to_numpy()):
        row = int(row)
        tag = s.roster.at[row, "shared"]
        ctx.add(tag, plan.laestab, s.upn(row))
        spec = next(x for x in plan.shared if x["core"]["upn"] == s.upn(row))
        if tag == "dual_registration":
            js = [j for j in range(n_sd) if days.weekday[days.sd[j]] in spec["dual_days"]]
            W[row, js] = D_
        elif tag == "moved_between_schools" and spec["leaving"] is not None:
            j_leave = days.sd_index_on_or_after(spec["leaving"])
            s.set_days(row, max(j_leave - 2, 0), min(j_leave, n_sd - 1), AM_CODE, PM_CODE)


def _clear_start(days: _Days, length: int, around: int) -> int:
    """A start (school-day index) near `around` for a run of `length` school days that, with one school
    day either side, has no holiday or closure inside (so each scenario tests one thing)."""
    gap = np.diff(days.sd) > 3
    for start in sorted(range(1, days.n_sd - length), key=lambda j: (abs(j - around), j)):
        if not gap[start - 1 : start + length].any():
            return start
    return min(max(1, around), days.n_sd - length - 1)


def _exact_rate(s: _School, row: int, name: str) -> None:
    """Marks giving an absence rate of exactly 10%, one session under 10%, or exactly 50%."""
    days, W = s.days, s.W
    n_sd = s.n_sd
    k = 0
    if name != "rate_exactly_50":
        k = next(k for k in range(5) if (n_sd - k) % 5 == 0)
        if k:
            s.roster.at[row, "entry"] = np.datetime64(days.sd_date(k), "D")
            s.w_start[row] = days.sd[k]
    m = n_sd - k
    possible = 2 * m
    W[row, k:, 0] = AM_CODE
    W[row, k:, 1] = PM_CODE
    if name == "rate_exactly_50":
        absent = possible // 2
    else:
        absent = possible // 10 - (1 if name == "rate_just_below_10" else 0)
    whole, half = divmod(absent, 2)
    if name == "rate_exactly_50":
        js = list(range(k, n_sd, 2))[:whole]
        spare = [j for j in range(k + 1, n_sd, 2)]
    else:
        js = sorted({k + int(i * m / max(whole, 1)) for i in range(whole)})
        spare = [j for j in range(k, n_sd) if j not in set(js)]
    codes = [I_, I_, O_, I_, K.IDX["M"], I_, G_]
    for i, j in enumerate(js):
        W[row, j] = codes[i % len(codes)]
    if half:
        W[row, spare[len(spare) // 2], 0] = I_
    s.protected.append((row, 0, n_sd - 1))
    s.ctx.add(name, s.plan.laestab, s.upn(row))
    s.ctx.expected["rates"].append(
        {"laestab": s.plan.laestab, "upn": s.upn(row), "scenario": name, "possible_sessions": possible,
         "absence_sessions": absent, "absence_rate": absent / possible}
    )
